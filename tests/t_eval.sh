#!/bin/bash
# t_eval.sh: `zfviz eval` on a random LeNet: usage errors (exit 2, one line), a synthetic IDX
# dataset (raw and gzip, results identical for every batch size, fixed-batch models), an image
# folder with a corrupt file (reported and skipped), and, when Debian's Fashion-MNIST is installed,
# the accuracy line on fashion-mnist:test@500 plus the accuracy and confusion matrix on 1000 items
# compared with a PyTorch evaluation of the same ONNX weights (python parts skipped without torch).
set -u
BIN=${ZF_BIN:-build/zfviz}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
[ -x "$BIN" ] || { echo "FAIL: no zfviz binary at $BIN"; exit 1; }

"$BIN" export --arch lenet --seed 1 -o "$tmp/m.onnx" >/dev/null 2>"$tmp/err" || { echo "FAIL: export: $(cat "$tmp/err")"; exit 1; }
"$BIN" export --arch lenet --seed 4 -o "$tmp/m4.onnx" >/dev/null 2>"$tmp/err" || { echo "FAIL: export: $(cat "$tmp/err")"; exit 1; }

# --- bad usage: exit 2, nothing on stdout, one line on stderr containing the message -------------
usage_case() {
  local want=$1; shift
  "$BIN" eval "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines first
  lines=$(wc -l <"$tmp/err")
  first=$(head -n 1 "$tmp/err")
  if [ $rc -ne 2 ]; then bad "eval $* exited $rc, expected 2 (stderr: $first)"; return; fi
  [ -s "$tmp/out" ] && bad "eval $* wrote to stdout: $(head -n 1 "$tmp/out")"
  [ "$lines" -ne 1 ] && bad "eval $* printed $lines lines: $(cat "$tmp/err")"
  case $first in
    *"$want"*) echo "ok   exit 2: $first";;
    *) bad "eval $*: message '$first' lacks '$want'";;
  esac
}
usage_case "--data SPEC is required" "$tmp/m.onnx"
usage_case "missing MODEL" --data fashion-mnist
usage_case "fashion-mnist:val: unknown split 'val' (test or train)" "$tmp/m.onnx" --data fashion-mnist:val
usage_case "item count must be at least 1" "$tmp/m.onnx" --data fashion-mnist@0
usage_case "unknown dataset and no such directory" "$tmp/m.onnx" --data "$tmp/nope"
usage_case "unknown flag '--bogus'" "$tmp/m.onnx" --data fashion-mnist --bogus
usage_case "--batch expects an integer" "$tmp/m.onnx" --data fashion-mnist --batch 0
usage_case "--limit expects an integer" "$tmp/m.onnx" --data fashion-mnist --limit x
usage_case "--data needs a value" "$tmp/m.onnx" --data
usage_case "unexpected argument 'extra'" "$tmp/m.onnx" extra --data fashion-mnist
usage_case "--preprocess:" "$tmp/m.onnx" --data fashion-mnist --preprocess "mean=x"
usage_case "cannot open" "$tmp/m.onnx" --data "idx:$tmp/none.idx"
"$BIN" eval --help | grep -q "^usage: zfviz eval MODEL --data SPEC" || bad "eval --help lacks the usage line"
"$BIN" help | grep -q "^  eval " || bad "zfviz help does not list eval"

# --- a synthetic IDX dataset (perl is in every Debian install) ------------------------------------
perl -e 'print pack("C4N3", 0, 0, 8, 3, 37, 28, 28), pack("C*", map { ($_ * 7919 + int($_ / 784) * 101) % 256 } 0 .. 37 * 784 - 1)' >"$tmp/img.idx"
perl -e 'print pack("C4N", 0, 0, 8, 1, 37), pack("C*", map { ($_ * 3) % 10 } 0 .. 36)' >"$tmp/lab.idx"
perl -e 'print pack("C4N", 0, 0, 8, 1, 37), pack("C*", (1) x 36, 200)' >"$tmp/lab200.idx"
gzip -n -c "$tmp/img.idx" >"$tmp/img.idx.gz"
acc_re='^accuracy: [0-9]+\.[0-9]{2}% \([0-9]+/37\)$'
"$BIN" eval "$tmp/m4.onnx" --data "idx:$tmp/img.idx,$tmp/lab.idx" >"$tmp/ref.txt" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "eval on img.idx exited $rc: $(cat "$tmp/err")"
head -n 1 "$tmp/ref.txt" | grep -Eq "$acc_re" || bad "accuracy line: '$(head -n 1 "$tmp/ref.txt")'"
grep -q "^class  name" "$tmp/ref.txt" || bad "no per-class table"
grep -q "^confusion matrix (rows: true class, columns: predicted class)" "$tmp/ref.txt" || bad "no confusion matrix"
[ "$(grep -Ec '^ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+%$' "$tmp/ref.txt")" -eq 10 ] || bad "per-class table does not have 10 rows"
echo "ok   idx: $(head -n 1 "$tmp/ref.txt")"
# Identical results whatever the batch size (the last batch is padded), gzip or not, with --limit.
for args in "--batch 1" "--batch 5" "--batch 36" "--batch 37" "--batch 64 --threads 1"; do
  # shellcheck disable=SC2086
  "$BIN" eval "$tmp/m4.onnx" --data "idx:$tmp/img.idx.gz,$tmp/lab.idx" $args >"$tmp/out" 2>"$tmp/err" || bad "eval $args: $(cat "$tmp/err")"
  cmp -s "$tmp/ref.txt" "$tmp/out" || bad "eval $args differs from the default batch: $(diff "$tmp/ref.txt" "$tmp/out" | head -n 4)"
done
echo "ok   same output for batches 1, 5, 36, 37, 64 (gzip images)"
"$BIN" eval "$tmp/m4.onnx" --data "idx:$tmp/img.idx,$tmp/lab.idx@20" --limit 9 --batch 4 >"$tmp/out" 2>"$tmp/err"
head -n 1 "$tmp/out" | grep -Eq '^accuracy: [0-9.]+% \([0-9]+/9\)$' || bad "@20 --limit 9: '$(head -n 1 "$tmp/out")' $(cat "$tmp/err")"
usage_case "no labels to compare with" "$tmp/m.onnx" --data "idx:$tmp/img.idx"
perl -e 'print pack("C4N", 0, 0, 8, 1, 36), pack("C*", (1) x 36)' >"$tmp/lab36.idx"
usage_case "lab36.idx: 36 labels for the 37 images of" "$tmp/m.onnx" --data "idx:$tmp/img.idx,$tmp/lab36.idx"
"$BIN" eval "$tmp/m.onnx" --data "idx:$tmp/img.idx,$tmp/lab200.idx" >"$tmp/out" 2>"$tmp/err"
rc=$?
# A label above the model's classes: counted, never correct, shown in a wider matrix; warned about.
[ $rc -eq 0 ] || bad "labels up to 200: exit $rc: $(cat "$tmp/err")"
grep -q "the dataset has 201 classes, the model outputs 10" "$tmp/err" || bad "no class-count warning: $(cat "$tmp/err")"
grep -q "confusion matrix not printed: 201 classes" "$tmp/out" || bad "201-class matrix printed"

# --- an image folder with a corrupt file --------------------------------------------------------
mkdir -p "$tmp/folder/Bag" "$tmp/folder/Trouser" "$tmp/folder/.git"
pgm() { perl -e 'print "P5\n6 5\n255\n", pack("C*", map { ($_ * 37 + $ARGV[0]) % 256 } 0 .. 29)' "$2" >"$1"; }
pgm "$tmp/folder/Bag/a.pgm" 1
pgm "$tmp/folder/Bag/b.pgm" 2
pgm "$tmp/folder/Trouser/c.pgm" 3
pgm "$tmp/folder/.git/d.pgm" 4
printf 'not an image at all' >"$tmp/folder/Trouser/broken.png"
"$BIN" eval "$tmp/m.onnx" --data "$tmp/folder" --batch 2 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "folder: exit $rc: $(cat "$tmp/err")"
head -n 1 "$tmp/out" | grep -Eq '^accuracy: [0-9.]+% \([0-9]+/3\)$' || bad "folder accuracy line '$(head -n 1 "$tmp/out")'"
grep -q "^skipped: 1 unreadable image$" "$tmp/out" || bad "folder: no 'skipped' line"
grep -q "warning: .*Trouser/broken.png: .*(skipped)" "$tmp/err" || bad "folder: corrupt image not reported: $(cat "$tmp/err")"
# The folder names are the model's labels: matched by name (Bag = 8, Trouser = 1).
grep -q "matched to the model's labels by name" "$tmp/err" || bad "folder classes not matched by name: $(cat "$tmp/err")"
echo "ok   folder: $(head -n 1 "$tmp/out"); $(grep -c warning "$tmp/err") warning"
rm "$tmp/folder/Trouser/c.pgm" "$tmp/folder/Bag/"*.pgm
"$BIN" eval "$tmp/m.onnx" --data "folder:$tmp/folder" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "none of the 1 images could be read" "$tmp/err" || bad "folder of broken images: exit $rc: $(cat "$tmp/err")"

# --- Fashion-MNIST ------------------------------------------------------------------------------
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "SKIP Fashion-MNIST part: Debian package dataset-fashion-mnist not installed"
  [ $fail -eq 0 ] && exit 0 || exit 1
fi
"$BIN" eval "$tmp/m.onnx" --data fashion-mnist:test@500 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "fashion-mnist:test@500: exit $rc: $(cat "$tmp/err")"
line=$(head -n 1 "$tmp/out")
echo "$line" | grep -Eq '^accuracy: [0-9]+\.[0-9]{2}% \([0-9]+/500\)$' || bad "fashion-mnist accuracy line: '$line'"
grep -q "Ankle boot" "$tmp/out" || bad "class names missing from the table"
echo "ok   fashion-mnist:test@500 (random LeNet): $line"

have_torch=1
$PY -c 'import torch, onnx, numpy' 2>/dev/null || have_torch=0
if [ $have_torch -eq 0 ]; then
  echo "SKIP PyTorch comparison: /usr/bin/python3 lacks torch or onnx"
  [ $fail -eq 0 ] && exit 0 || exit 1
fi
# PyTorch evaluation of the same weights: the ONNX graph interpreted with torch.nn.functional.
cat >"$tmp/ref.py" <<'EOF'
import sys, gzip, numpy as np, onnx, torch, torch.nn.functional as F
from onnx import numpy_helper
model, split, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = onnx.load(model)
d = '/usr/share/datasets/fashion-mnist/'
im = gzip.open(d + split + '-images-idx3-ubyte.gz').read()
lb = gzip.open(d + split + '-labels-idx1-ubyte.gz').read()
x = torch.tensor(np.frombuffer(im, np.uint8, n * 784, 16).reshape(n, 1, 28, 28).astype(np.float32) / np.float32(255))
y = np.frombuffer(lb, np.uint8, n, 8).astype(np.int64)
v = {t.name: torch.tensor(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
v[m.graph.input[0].name] = x
for nd in m.graph.node:
    a = {t.name: onnx.helper.get_attribute_value(t) for t in nd.attribute}
    i = [v[k] for k in nd.input]
    if nd.op_type == 'Conv':
        p = a.get('pads', [0, 0, 0, 0]); assert p[0] == p[2] and p[1] == p[3]
        o = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, a.get('strides', 1), p[:2], a.get('dilations', 1), a.get('group', 1))
    elif nd.op_type == 'Relu': o = F.relu(i[0])
    elif nd.op_type == 'MaxPool': o = F.max_pool2d(i[0], a['kernel_shape'], a.get('strides', 1))
    elif nd.op_type == 'Flatten': o = i[0].flatten(a.get('axis', 1))
    elif nd.op_type == 'Gemm':
        assert a.get('transB', 0) == 1 and not a.get('transA', 0)
        o = F.linear(i[0], i[1], i[2])
    elif nd.op_type == 'Softmax': o = F.softmax(i[0], a.get('axis', -1))
    else: sys.exit('unsupported op ' + nd.op_type)
    v[nd.output[0]] = o
out = v[m.graph.output[0].name].numpy()
pred = out.argmax(1)
s = np.sort(out, 1)
print('accuracy: %.2f%% (%d/%d)' % (100.0 * (pred == y).sum() / n, (pred == y).sum(), n))
conf = np.zeros((10, 10), np.int64)
np.add.at(conf, (y, pred), 1)
for r in conf: print(' '.join(str(c) for c in r))
print('smallest top-2 margin %.3g' % (s[:, -1] - s[:, -2]).min(), file=sys.stderr)
EOF
# Seed 4 spreads its predictions over most classes; its smallest top-2 margin on these 1000 items
# is 4e-4, far above float rounding, so the arg max must agree exactly.
if ! $PY "$tmp/ref.py" "$tmp/m4.onnx" t10k 1000 >"$tmp/py.txt" 2>"$tmp/pyerr"; then
  bad "PyTorch reference failed: $(tail -n 3 "$tmp/pyerr")"
else
  "$BIN" eval "$tmp/m4.onnx" --data fashion-mnist@1000 --batch 48 >"$tmp/out" 2>"$tmp/err" || bad "eval m4: $(cat "$tmp/err")"
  # Our confusion matrix rows: the 10 counts after the row index.
  { head -n 1 "$tmp/out"; sed -n '/^confusion matrix/,$p' "$tmp/out" | sed -n '3,12p' | awk '{ s = $2; for (i = 3; i <= 11; i++) s = s " " $i; print s }'; } >"$tmp/zf.txt"
  if cmp -s "$tmp/py.txt" "$tmp/zf.txt"; then
    echo "ok   matches PyTorch on fashion-mnist@1000: $(head -n 1 "$tmp/zf.txt") ($(cat "$tmp/pyerr"))"
  else
    bad "differs from PyTorch (first mismatch below, PyTorch first):"
    diff "$tmp/py.txt" "$tmp/zf.txt" | head -n 6
  fi
fi
# A model with a fixed batch of 1 (and one of 4: padded last batch) gives the same numbers.
$PY - "$tmp/m4.onnx" "$tmp" <<'EOF'
import sys, onnx
for b in (1, 4):
    m = onnx.load(sys.argv[1])
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = b
    onnx.save(m, '%s/fixed%d.onnx' % (sys.argv[2], b))
EOF
"$BIN" eval "$tmp/m4.onnx" --data fashion-mnist@301 >"$tmp/ref.txt" 2>"$tmp/err" || bad "eval @301: $(cat "$tmp/err")"
for b in 1 4; do
  "$BIN" eval "$tmp/fixed$b.onnx" --data fashion-mnist@301 --batch 16 >"$tmp/out" 2>"$tmp/err" || bad "fixed batch $b: $(cat "$tmp/err")"
  cmp -s "$tmp/ref.txt" "$tmp/out" || bad "fixed batch $b differs: $(diff "$tmp/ref.txt" "$tmp/out" | head -n 4)"
  grep -q "fixed batch size of $b; --batch 16 ignored" "$tmp/err" || bad "fixed batch $b: no note about --batch: $(cat "$tmp/err")"
done
echo "ok   fixed-batch models (1 and 4) give the same results"
[ $fail -eq 0 ] && echo "all eval checks passed"
exit $fail
