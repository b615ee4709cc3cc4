#!/bin/bash
# The shipped models (assets/models/, trained by `zfviz train`) keep their documented accuracy:
# `zfviz eval MODEL --data fashion-mnist:test` over the 10,000 test images must be at or above the
# figure assets/models/README.md gives for it (lines "- default.onnx: 92.84% test accuracy ...").
# Skips (77) when the Fashion-MNIST package or a model file is missing.
set -u
cd "$(dirname "$0")/.." || exit 1
Z=${ZF_BIN:-build/zfviz}
readme=assets/models/README.md
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "skip: dataset-fashion-mnist is not installed"
  exit 77
fi
if [ ! -f "$readme" ] || [ ! -f assets/models/default.onnx ]; then
  echo "skip: assets/models/default.onnx or its README is missing"
  exit 77
fi
fail=0
for model in default.onnx lenet.onnx; do
  doc=$(sed -n "s/^- $model: \([0-9.]*\)% test accuracy.*/\1/p" "$readme" | head -n 1)
  if [ ! -f "assets/models/$model" ]; then
    echo "FAIL assets/models/$model is missing"
    fail=1
    continue
  fi
  if [ -z "$doc" ]; then
    echo "FAIL $readme gives no accuracy for $model (a line '- $model: NN.NN% test accuracy ...')"
    fail=1
    continue
  fi
  out=$("$Z" eval "assets/models/$model" --data fashion-mnist:test --batch 100 2>&1)
  got=$(echo "$out" | sed -n 's/^accuracy: \([0-9.]*\)% .*/\1/p')
  if [ -z "$got" ]; then
    echo "FAIL zfviz eval assets/models/$model:"
    echo "$out" | tail -n 5
    fail=1
  elif awk -v g="$got" -v d="$doc" 'BEGIN { exit !(g + 1e-9 >= d) }'; then
    echo "ok   $model: $got% (documented $doc%)"
  else
    echo "FAIL $model: accuracy $got%, below the documented $doc%"
    fail=1
  fi
done
exit $fail
