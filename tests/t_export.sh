#!/bin/bash
# t_export.sh: `zfviz export` writes every architecture as an ONNX model that the onnx package's
# checker accepts (full_check: strict shape inference), with the layer names, map sizes, output
# shape and metadata we promise; bad flags exit 2 with a one-line message (plus the "Try" hint).
# Exit 77 (skip) when /usr/bin/python3 has no onnx module, after the checks that need no python.
set -u
BIN=${ZF_BIN:-build/zfviz}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

[ -x "$BIN" ] || { echo "FAIL: no zfviz binary at $BIN"; exit 1; }

# --- bad usage: exit 2, stdout empty, first stderr line is the message, at most the hint after it --
usage_case() {
  local want=$1; shift
  "$BIN" export "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines first
  lines=$(wc -l <"$tmp/err")
  first=$(head -n 1 "$tmp/err")
  if [ $rc -ne 2 ]; then bad "export $* exited $rc, expected 2 (stderr: $first)"; return; fi
  [ -s "$tmp/out" ] && bad "export $* wrote to stdout: $(head -n 1 "$tmp/out")"
  if [ "$lines" -gt 2 ] || { [ "$lines" -eq 2 ] && ! sed -n 2p "$tmp/err" | grep -q "^Try 'zfviz export --help'"; }; then
    bad "export $* printed $lines lines: $(cat "$tmp/err")"
  fi
  case $first in
    *"$want"*) echo "ok   exit 2: $first";;
    *) bad "export $*: message '$first' lacks '$want'";;
  esac
  [ -e "$tmp/never.onnx" ] && bad "export $* created the output file"
}
usage_case "unknown architecture 'nope' (known: lenet, alexnet, zfnet, vgg16, googlenet, resnet50, densenet121" \
  --arch nope -o "$tmp/never.onnx"
usage_case "unknown flag '--bogus'" --arch zfnet --bogus -o "$tmp/never.onnx"
usage_case "--arch is required" -o "$tmp/never.onnx"
usage_case "-o MODEL.onnx is required" --arch zfnet
usage_case "--size expects H or HxW" --arch zfnet --size 0 -o "$tmp/never.onnx"
usage_case "--size expects H or HxW" --arch zfnet --size 224x -o "$tmp/never.onnx"
usage_case "--channels must be 1 or 3" --arch zfnet --channels 2 -o "$tmp/never.onnx"
usage_case "--width-mult expects a number" --arch zfnet --width-mult 0 -o "$tmp/never.onnx"
usage_case "--classes expects an integer" --arch zfnet --classes ten -o "$tmp/never.onnx"
usage_case "--seed expects an integer" --arch zfnet --seed -1 -o "$tmp/never.onnx"
usage_case "--seed needs a value" --arch zfnet -o "$tmp/never.onnx" --seed
usage_case "unexpected argument 'extra'" --arch zfnet extra -o "$tmp/never.onnx"
usage_case "zfnet: input 20x20 is too small: layer 'conv2'" --arch zfnet --size 20 -o "$tmp/never.onnx"
"$BIN" export --help | grep -q "^usage: zfviz export --arch NAME" || bad "export --help lacks the usage line"

# --- exports: the paper-size ZFNet, every architecture at reduced width, odd sizes ---------------
exp() {   # file, args...
  local f=$1; shift
  if ! "$BIN" export "$@" -o "$tmp/$f" >"$tmp/out" 2>"$tmp/err"; then
    bad "export $* failed: $(cat "$tmp/err")"
  fi
}
exp z.onnx --arch zfnet
for a in lenet alexnet zfnet vgg16 googlenet resnet50 densenet121; do
  exp "$a.onnx" --arch "$a" --width-mult 0.125
done
exp zfnet-gray.onnx --arch zfnet --channels 1 --classes 10 --size 160x256 --width-mult 0.0625
exp vgg16-odd.onnx --arch vgg16 --size=96x128 --classes=5 --width-mult=0.0625 --seed=9
exp z2.onnx --arch zfnet --width-mult 0.125
cmp -s "$tmp/zfnet.onnx" "$tmp/z2.onnx" || bad "same options, different files"
exp z3.onnx --arch zfnet --width-mult 0.125 --seed 2
cmp -s "$tmp/zfnet.onnx" "$tmp/z3.onnx" && bad "--seed 2 wrote the same file as seed 1"
[ $fail -eq 0 ] && echo "ok   exports written"

if ! "$PY" -c 'import onnx' 2>/dev/null; then
  [ $fail -eq 0 ] || exit 1
  echo "SKIP: $PY has no onnx module (Debian: python3-onnx); files were written but not checked"
  exit 77
fi

# --- the onnx package's view of them -------------------------------------------------------------
"$PY" - "$tmp" <<'EOF' || fail=1
import os, sys
import onnx
from onnx import shape_inference

tmp = sys.argv[1]
bad = 0

def fail(msg):
    global bad
    bad += 1
    print("FAIL:", msg)

def shapes(m):
    inf = shape_inference.infer_shapes(m, strict_mode=True)
    out = {}
    for vi in list(inf.graph.value_info) + list(inf.graph.output) + list(inf.graph.input):
        out[vi.name] = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    return out

# (file, arch, classes, input shape, {layer: (C, H, W)} checks)
cases = [
    ("z.onnx", "zfnet", 1000, ["N", 3, 224, 224],
     # Zeiler & Fergus 2014, Fig. 3
     {"conv1": [96, 110, 110], "pool1": [96, 55, 55], "norm1": [96, 55, 55], "conv2": [256, 26, 26],
      "pool2": [256, 13, 13], "conv3": [384, 13, 13], "conv4": [384, 13, 13], "conv5": [256, 13, 13],
      "pool5": [256, 6, 6], "flatten": [9216], "fc6": [4096], "fc7": [4096]}),
    ("lenet.onnx", "lenet", 10, ["N", 1, 28, 28], {"pool2": [8, 4, 4]}),
    ("alexnet.onnx", "alexnet", 1000, ["N", 3, 227, 227], {"conv1": [12, 55, 55], "pool5": [32, 6, 6]}),
    ("zfnet.onnx", "zfnet", 1000, ["N", 3, 224, 224], {"conv1": [12, 110, 110], "pool5": [32, 6, 6]}),
    ("vgg16.onnx", "vgg16", 1000, ["N", 3, 224, 224], {"pool5": [64, 7, 7]}),
    ("googlenet.onnx", "googlenet", 1000, ["N", 3, 224, 224], {"pool4": [104, 7, 7], "pool5": [128, 1, 1]}),
    ("resnet50.onnx", "resnet50", 1000, ["N", 3, 224, 224], {"res5c": [256, 7, 7]}),
    ("densenet121.onnx", "densenet121", 1000, ["N", 3, 224, 224], {"norm5": [128, 7, 7]}),
    ("zfnet-gray.onnx", "zfnet", 10, ["N", 1, 160, 256], {"pool5": [16, 4, 7]}),
    ("vgg16-odd.onnx", "vgg16", 5, ["N", 3, 96, 128], {"pool5": [32, 3, 4]}),
]
for f, arch, classes, inshape, layers in cases:
    path = os.path.join(tmp, f)
    try:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        s = shapes(m)
    except Exception as e:
        fail(f"{f}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        continue
    meta = {p.key: p.value for p in m.metadata_props}
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    if opset != [13]: fail(f"{f}: opset {opset}")
    if meta.get("zfviz.arch") != arch: fail(f"{f}: zfviz.arch {meta.get('zfviz.arch')}")
    labels = meta.get("zfviz.labels", "").split("\n")
    if len(labels) != classes: fail(f"{f}: {len(labels)} labels for {classes} classes")
    if [i.name for i in m.graph.input] != ["input"] or s.get("input") != inshape:
        fail(f"{f}: graph input {[i.name for i in m.graph.input]} shape {s.get('input')}, want {inshape}")
    if [o.name for o in m.graph.output] != ["prob"] or s.get("prob") != ["N", classes]:
        fail(f"{f}: output {[o.name for o in m.graph.output]} shape {s.get('prob')}, want ['N', {classes}]")
    for n in m.graph.node:
        if list(n.output) != [n.name]: fail(f"{f}: node {n.name} outputs {list(n.output)}")
    for layer, want in layers.items():
        got = s.get(layer)
        if got is None or got[1:] != want:
            fail(f"{f}: {layer} shape {got}, want [N] + {want}")
    if not bad: print(f"ok   {f}: checker + strict shape inference, {len(m.graph.node)} nodes")
gray = {p.key: p.value for p in onnx.load(os.path.join(tmp, "zfnet-gray.onnx")).metadata_props}
if gray.get("zfviz.labels", "").split("\n")[0] != "T-shirt/top" or gray.get("zfviz.preprocess") != "raw":
    fail("10-class gray model lacks the Fashion-MNIST labels or raw preprocessing")
sys.exit(1 if bad else 0)
EOF
[ $fail -eq 0 ] && echo "all export checks passed"
exit $fail
