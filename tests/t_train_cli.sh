#!/bin/bash
# zfviz train: usage errors (exit 2, one line), a small run on a Fashion-MNIST subset that writes the
# model and the chosen checkpoints with labels, preprocessing and the command in the metadata, that
# `zfviz eval` reads, and that the same command reproduces byte for byte.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${ZF_BIN:-build/zfviz}
T=$(mktemp -d /tmp/zf-t-train-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

usage_case() {
  local want=$1; shift
  "$BIN" train "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  local first
  first=$(head -n 1 "$T/err")
  if [ $rc -ne 2 ]; then bad "train $* exited $rc, expected 2 ($first)"; return; fi
  [ "$(wc -l <"$T/err")" -eq 1 ] || bad "train $*: $(wc -l <"$T/err") lines on stderr"
  case $first in
    *"$want"*) echo "ok   exit 2: $first";;
    *) bad "train $*: message '$first' lacks '$want'";;
  esac
}

"$BIN" train --help >"$T/out" 2>&1 || bad "train --help exited $?"
grep -q "usage: zfviz train" "$T/out" || bad "train --help has no usage line"
usage_case "--arch NAME or --init MODEL.onnx is required" --data fashion-mnist:train -o "$T/m.onnx"
usage_case "--data SPEC is required" --arch lenet -o "$T/m.onnx"
usage_case "-o MODEL.onnx is required" --arch lenet --data fashion-mnist:train
usage_case "unknown flag '--bogus'" --arch lenet --bogus
usage_case "--at needs --checkpoints DIR" --arch lenet --data fashion-mnist:train --at 1 -o "$T/m.onnx"
usage_case "--augment: unknown item 'spin'" --arch lenet --augment flip,spin
usage_case "--epochs expects an integer" --arch lenet --epochs 0
usage_case "--optimizer expects sgd or adam" --arch lenet --optimizer rmsprop
usage_case "--lr-drop expects numbers" --arch lenet --lr-drop 3,x
usage_case "--arch and --init exclude each other" --arch lenet --init m.onnx --data fashion-mnist:train -o "$T/m.onnx"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "skip: dataset-fashion-mnist is not installed (usage checks done)"
  [ $fails -eq 0 ] && exit 77
  exit 1
fi

"$BIN" train --arch nope --data fashion-mnist:train@64 -o "$T/m.onnx" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "unknown architecture 'nope'" "$T/err" && echo "ok   unknown architecture: exit 2" ||
  bad "unknown architecture: exit $rc, $(head -n 1 "$T/err")"

run() {
  "$BIN" train --arch lenet --width-mult 0.25 --data fashion-mnist:train@600 --val fashion-mnist:test@200 \
    --epochs 3 --batch 64 --lr-drop 2 --augment flip,shift=1 --threads 2 --checkpoints "$T/ck" --at 1,3 \
    -o "$T/m.onnx" >"$T/log" 2>"$T/err"
}
run || bad "training run exited $?: $(tail -n 2 "$T/err")"
cat "$T/log"
[ "$(grep -c '^epoch ' "$T/log")" -eq 3 ] || bad "expected 3 epoch lines"
grep -q "^epoch   2/3 .* lr 0.01 " "$T/log" || bad "epoch 2 should still run at lr 0.01"
grep -q "^epoch   3/3 .* lr 0.001 " "$T/log" || bad "epoch 3 should run at lr 0.001 (--lr-drop 2)"
grep -q "val loss .* acc" "$T/log" || bad "no validation figures"
[ -f "$T/ck/epoch-001.onnx" ] && [ -f "$T/ck/epoch-003.onnx" ] || bad "checkpoints 1 and 3 missing"
[ -e "$T/ck/epoch-002.onnx" ] && bad "checkpoint 2 written though --at 1,3"
"$BIN" eval "$T/m.onnx" --data fashion-mnist:test@200 >"$T/eval" 2>&1 || bad "eval of the trained model failed"
grep -q "^accuracy: " "$T/eval" && echo "ok   eval: $(head -n 1 "$T/eval")" || bad "eval printed no accuracy"
# The checkpoint of the last epoch holds the same weights as the model.
/usr/bin/python3 - "$T" <<'EOF' || bad "metadata / checkpoint check"
import sys, onnx
from onnx import numpy_helper as nh
t = sys.argv[1]
m = onnx.load(t + "/m.onnx")
meta = {p.key: p.value for p in m.metadata_props}
assert meta.get("zfviz.train", "").startswith("zfviz train --arch lenet"), meta.get("zfviz.train")
assert "Ankle boot" in meta.get("zfviz.labels", ""), "labels"
assert meta.get("zfviz.preprocess"), "preprocess"
assert meta.get("zfviz.train.epoch") == "3", meta.get("zfviz.train.epoch")
c = onnx.load(t + "/ck/epoch-003.onnx")
a = {i.name: nh.to_array(i) for i in m.graph.initializer}
b = {i.name: nh.to_array(i) for i in c.graph.initializer}
assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), "checkpoint 3 differs from the model"
e1 = {i.name: nh.to_array(i) for i in onnx.load(t + "/ck/epoch-001.onnx").graph.initializer}
assert any((e1[k] != a[k]).any() for k in a), "epoch 1 equals epoch 3"
print("ok   metadata (command, labels, preprocessing, epoch) and checkpoints")
EOF
cp "$T/m.onnx" "$T/first.onnx"
run || bad "second run exited $?"
cmp -s "$T/m.onnx" "$T/first.onnx" && echo "ok   same command, same model (byte for byte)" ||
  bad "the same command gave a different model"

# --init continues from a model: with learning rate 0 (and no renormalization) the weights stay
# exactly those of the checkpoint; with the recipe's rate the first epoch starts where the
# checkpoint left off (its loss below the fresh run's first epoch).
"$BIN" train --init "$T/ck/epoch-003.onnx" --data fashion-mnist:train@600 --epochs 1 --batch 64 --lr 0 --renorm 0 \
  --threads 2 -o "$T/same.onnx" >"$T/log0" 2>"$T/err" || bad "--init with --lr 0 exited $?: $(tail -n 1 "$T/err")"
"$BIN" train --init "$T/ck/epoch-003.onnx" --data fashion-mnist:train@600 --epochs 1 --batch 64 \
  --threads 2 -o "$T/cont.onnx" >"$T/log1" 2>"$T/err" || bad "--init exited $?: $(tail -n 1 "$T/err")"
/usr/bin/python3 - "$T" <<'EOF' || bad "--init checks"
import sys, re, onnx
from onnx import numpy_helper as nh
t = sys.argv[1]
w = lambda f: {i.name: nh.to_array(i) for i in onnx.load(f).graph.initializer}
a, b = w(t + "/ck/epoch-003.onnx"), w(t + "/same.onnx")
assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), "--init --lr 0 changed the weights"
loss = lambda f: float(re.search(r"^epoch +1/\d+ +loss ([0-9.]+)", open(f).read(), re.M).group(1))
fresh, cont = loss(t + "/log"), loss(t + "/log1")
assert cont < fresh, f"continued first-epoch loss {cont} not below the fresh run's {fresh}"
meta = {p.key: p.value for p in onnx.load(t + "/cont.onnx").metadata_props}
assert "--init" in meta.get("zfviz.train", ""), meta.get("zfviz.train")
print(f"ok   --init: lr 0 keeps the weights; continued loss {cont} < fresh {fresh}")
EOF
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all train CLI checks passed"
