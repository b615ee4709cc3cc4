#!/bin/bash
# The main job on the embedded default model (make demo). Writes into demo-out/ and prints paths.
# Usage: tools/demo.sh BUILD
set -e
BUILD=${1:-build}
Z=$BUILD/zfviz
out=demo-out
mkdir -p "$out"
model=assets/models/default.onnx
if [ ! -f "$model" ]; then
  # Until a trained default is shipped: the seed LeNet, exported by zfviz itself.
  model=$out/lenet-seed.onnx
  "$Z" export --arch lenet --seed 1 -o "$model"
  echo "zfviz demo: no trained default in assets/models yet; using the seed LeNet (random weights)"
fi
echo "== zfviz info $model"
"$Z" info "$model"
for img in assets/samples/*.png; do
  echo "== zfviz run $model $img --top 3"
  "$Z" run "$model" "$img" --top 3
done
"$Z" run "$model" assets/samples/9-ankle-boot-test0.png --dump "$out/activations" --top 1 >/dev/null
echo "zfviz demo: every recorded activation of one image: $out/activations/"
