#!/bin/sh
# Regenerates the committed PyTorch reference cases in tests/refs/<arch>/ (read by
# tests/test_torch_refs.c): the seven architectures at reduced width and input size, 10 classes.
#   tools/make_refs.sh            # needs /usr/bin/python3 with torch, torchvision, onnx
#   tools/make_refs.sh OUTDIR     # somewhere else (default tests/refs)
# Fixed seeds: rerunning with the same torch version rewrites the same files. Variety on purpose:
# alexnet is exported with opset 11 and a static batch (old Squeeze/Unsqueeze attribute forms);
# the others use opset 13 with a symbolic batch 'N'; lenet, zfnet and vgg16 run batch 2.
# Keep the whole folder under 4 MB (du -sh tests/refs).
set -e
cd "$(dirname "$0")/.."
out=${1:-tests/refs}
py=/usr/bin/python3
gen() { arch=$1; shift; $py tools/make_refs.py "$arch" --classes 10 "$@" -o "$out/$arch" | grep -v '^  skip'; }
gen lenet       --width-mult 0.25   --size 28 --batch 2
gen alexnet     --width-mult 0.0625 --fc-mult 0.03125 --size 99 --opset 11 --static-batch
gen zfnet       --width-mult 0.09375 --fc-mult 0.03125 --size 96
gen vgg16       --width-mult 0.0625 --fc-mult 0.015625 --size 32
gen googlenet   --width-mult 0.0625 --size 64 --sample 3
gen resnet50    --width-mult 0.0625 --size 40 --sample 2
gen densenet121 --width-mult 0.0625 --size 32 --sample 3
du -sh "$out"
