#!/bin/bash
# Regenerates the documentation pictures that show the trained default model, with the tool itself:
# docs/img/analyses (topk, evolve), docs/img/occlusion, docs/img/viewer, docs/img/default-*.png, and
# the top-k index the viewer reads (assets/models/default.topk). Run from the repository root after
# assets/models/default.onnx and its checkpoints change. Usage: tools/doc_pictures.sh [BUILD]
set -eu
Z=${1:-build}/zfviz
M=assets/models/default.onnx
[ -f "$M" ] || { echo "tools/doc_pictures.sh: $M is missing (train it first: assets/models/README.md)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sample=assets/samples/7-sneaker-test9.png

# Fig. 2: the top-9 of eight units of three layers over the 10,000 test images; the index the viewer
# reads (every layer with maps) next to the model.
"$Z" topk "$M" --data fashion-mnist:test --force -o assets/models/default.topk
"$Z" topk "$M" --data fashion-mnist:test --layer relu1 --layer relu2 --layer relu5 --units 0-7 -o "$tmp/topk"
cp "$tmp"/topk/topk-relu{1,2,5}.png docs/img/analyses/
# Fig. 4: evolution over the checkpoints.
"$Z" evolve assets/models/checkpoints/zf28/epoch-*.onnx --data fashion-mnist:test \
    --layer relu1 --layer relu2 --layer relu5 --top 6 -o docs/img/analyses/evolve.png >/dev/null
# Fig. 7: occlusion of one sample.
"$Z" occlude "$M" "$sample" -o "$tmp/occ" --quiet
cp "$tmp/occ/7-sneaker-test9.heatmap.png" docs/img/occlusion/sneaker.heatmap.png
cp "$tmp/occ/7-sneaker-test9.labels.png" docs/img/occlusion/sneaker.labels.png
# Deconvolution of the trained model: the strongest maps of relu1, relu2 and relu5 on the sample.
for l in relu1 relu2 relu5; do
  "$Z" deconv "$M" "$sample" --layer $l --top 8 --crop --zoom 8 -o docs/img/default-deconv-$l.png >/dev/null
done
# The viewer's screenshots.
"$Z" view --headless --size 800x500 --script tests/data/viewer/docs.script --screenshot-dir docs/img/viewer >/dev/null
echo "tools/doc_pictures.sh: pictures regenerated from $M"
