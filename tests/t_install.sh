#!/bin/bash
# make install PREFIX=tmp: the binary, both libraries, the headers and zfviz.pc land there, and a
# program written against <zfviz.h> compiles with pkg-config's flags and loads a model.
set -u
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
B=${ZF_BUILD:-build}
make --no-print-directory -s BUILD="$B" install PREFIX="$T/prefix" >"$T/log" 2>&1 || { cat "$T/log"; echo "FAIL: make install"; exit 1; }
for f in bin/zfviz lib/libzfviz.a lib/libzfviz-viz.a include/zfviz/zfviz.h include/zfviz/core/graph.h lib/pkgconfig/zfviz.pc; do
  [ -f "$T/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
cat >"$T/app.c" <<'C'
#include <zfviz.h>
#include <stdio.h>
int main(int argc, char **argv) {
    zf_error err = {0};
    zf_onnx_model om = {0};
    zf_build_opts bo = zf_build_defaults("lenet");
    if (zf_model_build(&om, "lenet", &bo, &err)) { printf("%s\n", err.msg); return 1; }
    zf_model m = {0};
    zf_load_opts o = zf_load_defaults();
    int rc = zf_model_from_onnx(&m, &om, "lenet", &o, &err);
    if (!rc) printf("nodes %d\n", m.n_nodes);
    else printf("%s\n", err.msg);
    zf_model_free(&m);
    zf_onnx_free(&om);
    return rc;
}
C
export PKG_CONFIG_PATH=$T/prefix/lib/pkgconfig
san=""
[ "${ZF_ASAN:-0}" = 1 ] && san="-fsanitize=address,undefined"   # make asan installs sanitized libraries
cc $san "$T/app.c" $(pkg-config --cflags --libs --static zfviz) -o "$T/app" || { echo "FAIL: compiling against the installed headers"; exit 1; }
# Every installed header compiles on its own (its own includes installed beside it).
for h in "$T"/prefix/include/zfviz/core/*.h "$T"/prefix/include/zfviz/core/ops/*.h; do
  printf '#include "%s"\n' "$h" | cc -std=c11 -fsyntax-only -x c - $(pkg-config --cflags zfviz) 2>"$T/herr" ||
    { cat "$T/herr"; echo "FAIL: installed header ${h#$T/prefix/} does not compile on its own"; exit 1; }
done
out=$("$T/app") || { echo "FAIL: app: $out"; exit 1; }
echo "$out" | grep -q '^nodes [0-9]' || { echo "FAIL: app printed '$out'"; exit 1; }
echo "install: ok ($out)"
