#!/bin/bash
# Full-size PyTorch cross-check: the seven architectures at their papers' widths and input sizes
# with 1000 classes (VGG-16: 138 M parameters, a 550 MB ONNX file), exported by torch.onnx and run
# through zfviz layer by layer by build/tests/test_torch_refs (max error / max |ref| <= 1e-4).
#   tests/t_torch_full.sh            # from tests/run.sh (ZF_BUILD names the build folder)
#   ZF_BUILD=build bash tests/t_torch_full.sh
# The cases go to $ZF_BUILD/torch-full/<arch> and are regenerated only when missing or older than
# tools/torch_models.py / tools/make_refs.py. Needs /usr/bin/python3 with torch, torchvision and onnx
# (Debian python3-torch, python3-torchvision, python3-onnx); skips (77) without them, or when
# ZF_SKIP_TORCH_FULL=1. About 1.5 GB of disk once generated.
# Generating all seven takes a few minutes on 2 cores (once per build folder); the check itself
# takes seconds.
cd "$(dirname "$0")/.." || exit 1
BUILD=${ZF_BUILD:-build}
PY=/usr/bin/python3
if [ "${ZF_SKIP_TORCH_FULL:-0}" = 1 ]; then
    echo "SKIP: ZF_SKIP_TORCH_FULL=1"
    exit 77
fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
    echo "SKIP: python3-torch not installed (needs $PY with torch, torchvision and onnx)"
    exit 77
fi
TEST=$BUILD/tests/test_torch_refs
if ! [ -x "$TEST" ]; then
    echo "FAIL: $TEST not built (make BUILD=$BUILD tests)"
    exit 1
fi
root=${ZF_TORCH_FULL_DIR:-$BUILD/torch-full}   # make asan shares the plain build's cases
mkdir -p "$root" || exit 1

# arch and its extra make_refs.py flags (paper sizes and widths are make_refs.py's defaults).
# AlexNet keeps the opset-11 static-batch export of the small cases. Every layer is written (VGG-16's
# 37 references are 85 MB; make_refs.py --sample K would thin them out if writing became the cost).
cases=(
    "lenet"
    "alexnet --opset 11 --static-batch"
    "zfnet"
    "vgg16"
    "googlenet"
    "resnet50"
    "densenet121"
)
dirs=()
t0=$(date +%s)
for c in "${cases[@]}"; do
    set -- $c
    arch=$1; shift
    dir=$root/$arch
    dirs+=("$dir")
    stamp=$dir/.complete
    if [ -f "$stamp" ] && [ "$stamp" -nt tools/torch_models.py ] && [ "$stamp" -nt tools/make_refs.py ] \
       && [ "$(cat "$stamp")" = "$*" ]; then
        echo "reuse $dir"
        continue
    fi
    rm -rf "$dir"
    t1=$(date +%s)
    "$PY" tools/make_refs.py "$arch" "$@" -o "$dir" 2>"$root/$arch.stderr" | grep -v '^  skip'
    if [ "${PIPESTATUS[0]}" -ne 0 ] || ! [ -f "$dir/input.pb" ]; then
        echo "FAIL: tools/make_refs.py $arch did not finish; stderr:"
        tail -n 20 "$root/$arch.stderr"
        exit 1
    fi
    echo "$*" >"$stamp"
    echo "generated $arch in $(( $(date +%s) - t1 )) s"
done
echo "generation: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
"$TEST" "${dirs[@]}"
rc=$?
echo "check: $(( $(date +%s) - t0 )) s"
exit $rc
