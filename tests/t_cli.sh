#!/bin/bash
# t_cli.sh: the zfviz command's contract: exit codes (0 ok, 1 runtime, 2 usage/bad input), one-line
# errors naming the file, --help on every subcommand, `run` top-K output, --dump/--save-output,
# `bench`'s single output line, and (when /usr/bin/python3 has torch/torchvision/onnx) the image
# preprocessing against torchvision's transforms and a conformance case's output.
# Needs ZF_BIN (tests/run.sh sets it); ZF_SHARED for the ONNX conformance cases (optional).
BIN=${ZF_BIN:-build/zfviz}
SHARED=${ZF_SHARED:-../shared}
if [ ! -x "$BIN" ]; then echo "skip: no zfviz binary at $BIN"; exit 77; fi
T=$(mktemp -d /tmp/zf-t-cli-XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE NEEDLE ARGS...: exit status CODE; stderr's first line starts with "zfviz" and contains
# NEEDLE; a file error (not a usage error) is exactly one line.
expect() {
  local code=$1 needle=$2; shift 2
  "$BIN" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  local first; first=$(head -n 1 "$T/err")
  if [ $rc -ne "$code" ]; then fail "zfviz $*: exit $rc, expected $code (stderr: $first)"; return; fi
  [ "$code" = 0 ] && return
  case $first in zfviz*) ;; *) fail "zfviz $*: error line does not start with 'zfviz': '$first'"; return;; esac
  if [[ $first != *"$needle"* ]]; then fail "zfviz $*: error '$first' lacks '$needle'"; return; fi
  local lines; lines=$(wc -l <"$T/err")
  if [[ $first != "zfviz $1:"* ]] && [ "$lines" -ne 1 ]; then fail "zfviz $*: $lines lines of error output:"; cat "$T/err"; fi
}

# A 28x28 gray PGM written by hand (a bright vertical bar).
{ printf 'P5\n28 28\n255\n'; for y in $(seq 28); do for x in $(seq 28); do
    if [ $x -ge 12 ] && [ $x -le 16 ]; then printf '\xc8'; else printf '\x00'; fi; done; done; } >"$T/img.pgm"

# --- files that are not models -------------------------------------------------------------------
printf 'hello, not a model\n' >"$T/text.onnx"
: >"$T/empty.onnx"
for cmd in info run bench; do
  extra=(); [ $cmd = run ] && extra=("$T/img.pgm")
  expect 2 "$T/missing.onnx" $cmd "$T/missing.onnx" "${extra[@]}"
  expect 2 "$T/text.onnx" $cmd "$T/text.onnx" "${extra[@]}"
  expect 2 "$T/empty.onnx" $cmd "$T/empty.onnx" "${extra[@]}"
done

# --- usage errors and absurd values ----------------------------------------------------------------
"$BIN" >/dev/null 2>&1; [ $? -eq 2 ] || fail "zfviz without arguments should exit 2"
"$BIN" frobnicate >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q "unknown command" "$T/err" ||
    fail "an unknown command should exit 2 with a message"
expect 2 "unknown flag" info "$T/text.onnx" --bogus
expect 2 "unknown flag" run "$T/text.onnx" x.png --bogus
expect 2 "unknown flag" bench "$T/text.onnx" --bogus
expect 2 "--top" run m.onnx x.png --top -1
expect 2 "--top" run m.onnx x.png --top 0
expect 2 "--top" run m.onnx x.png --top abc
expect 2 "needs a value" run m.onnx x.png --top
expect 2 "--threads" run m.onnx x.png --threads 100000
expect 2 "--batch" bench m.onnx --batch 0
expect 2 "--batch" bench m.onnx --batch 1e9
expect 2 "--batch" bench m.onnx --batch 1000000000
expect 2 "--batch" info m.onnx --batch -3
expect 2 "--threads" bench m.onnx --threads 100000
expect 2 "--repeat" bench m.onnx --repeat 0
expect 2 "--warmup" bench m.onnx --warmup -1
expect 2 "needs a value" bench m.onnx --repeat
expect 2 "--shape" info m.onnx --shape 1,0,3
expect 2 "--shape" bench m.onnx --shape 1,x
expect 2 "--preprocess" run m.onnx x.png --preprocess nonsense
expect 2 "--mean" run m.onnx x.png --mean 1,2
expect 2 "--std" run m.onnx x.png --std 0
expect 2 "--resize" run m.onnx x.png --resize fill
expect 2 "missing MODEL" info
expect 2 "missing IMAGE" run m.onnx
expect 2 "not both" run m.onnx x.png --tensor y.pb
expect 2 "unexpected argument" info a.onnx b.onnx

# --- --help on every subcommand ------------------------------------------------------------------
"$BIN" help >"$T/help" 2>&1 || fail "zfviz help exited $?"
cmds=$(awk '/^commands:/ {on=1; next} on && NF {print $1}' "$T/help")
[ -n "$cmds" ] || fail "zfviz help lists no commands"
for c in $cmds; do
  "$BIN" "$c" --help >"$T/out" 2>&1; rc=$?
  [ $rc -eq 0 ] || fail "zfviz $c --help exited $rc"
  grep -q "usage: zfviz $c" "$T/out" || fail "zfviz $c --help has no usage line"
done

# --- conformance case: several --tensor inputs, --save-output ------------------------------------
case_dir=$SHARED/testdata/onnx-node/test_conv_with_strides_padding
if [ -f "$case_dir/model.onnx" ]; then
  head -c 100 "$case_dir/model.onnx" >"$T/trunc.onnx"
  expect 2 "$T/trunc.onnx" info "$T/trunc.onnx"
  expect 0 "" info "$case_dir/model.onnx"
  expect 0 "" run "$case_dir/model.onnx" --tensor "$case_dir/test_data_set_0/input_0.pb" \
      --tensor "$case_dir/test_data_set_0/input_1.pb" --save-output "$T/y.pb" --top 3
  [ "$(wc -l <"$T/out")" -eq 3 ] || fail "run --top 3 on the conv case printed $(wc -l <"$T/out") lines"
  expect 2 "2 graph inputs, 1 given" run "$case_dir/model.onnx" --tensor "$case_dir/test_data_set_0/input_0.pb"
  expect 2 "$T/text.onnx" run "$case_dir/model.onnx" --tensor "$T/text.onnx" --tensor "$T/text.onnx"
  if /usr/bin/python3 -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("onnx"))' 2>/dev/null; then
    /usr/bin/python3 - "$T/y.pb" "$case_dir/test_data_set_0/output_0.pb" <<'EOF' || fail "--save-output differs from the conformance output"
import sys, numpy as np, onnx
from onnx import numpy_helper
def load(p):
    t = onnx.TensorProto(); t.ParseFromString(open(p, 'rb').read()); return t.name, numpy_helper.to_array(t)
(na, a), (nb, b) = load(sys.argv[1]), load(sys.argv[2])
err = float(np.abs(a - b).max()) if a.shape == b.shape else float('inf')
print(f"save-output: name {na!r} (expected {nb!r}), shape {a.shape}, max error {err:g}")
sys.exit(0 if na == nb and a.shape == b.shape and err <= 1e-5 + 1e-3 * float(np.abs(b).max()) else 1)
EOF
  fi
else
  echo "skip: conformance cases not found under $SHARED/testdata (parts skipped)"
fi

# --- an exported model: run, top-K, labels, dump, bench --------------------------------------------
if "$BIN" export --arch lenet -o "$T/lenet.onnx" >/dev/null 2>&1 && [ -f "$T/lenet.onnx" ]; then
  expect 0 "" info "$T/lenet.onnx"
  n_tensors=$(awk '/^tensors:/ {print $2}' "$T/out")
  grep -q "preprocess: raw" "$T/out" || fail "info does not show the stored preprocessing"
  grep -q "labels: 10" "$T/out" || fail "info does not show 10 labels"
  expect 0 "" run "$T/lenet.onnx" "$T/img.pgm" --top 3
  [ "$(wc -l <"$T/out")" -eq 3 ] || { fail "run --top 3 printed $(wc -l <"$T/out") lines"; cat "$T/out"; }
  grep -Eqv '^ *[0-9]+  [01]\.[0-9]{4} +[0-9]+  .+$' "$T/out" && { fail "run output lines malformed"; cat "$T/out"; }
  [ -s "$T/err" ] && { fail "run with a zfviz model printed to stderr"; cat "$T/err"; }
  expect 0 "" run "$T/lenet.onnx" "$T/img.pgm" --top 1000
  [ "$(wc -l <"$T/out")" -eq 10 ] || fail "run --top 1000 on 10 classes printed $(wc -l <"$T/out") lines"
  awk '{s += $2} END {exit !(s > 0.999 && s < 1.001)}' "$T/out" || fail "probabilities of all classes do not sum to 1"
  printf 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n' >"$T/labels.txt"
  expect 0 "" run "$T/lenet.onnx" "$T/img.pgm" --top 2 --labels "$T/labels.txt"
  awk '{print $4}' "$T/out" | grep -Eqv '^(zero|one|two|three|four|five|six|seven|eight|nine)$' && fail "--labels not used"
  expect 2 "$T/nolabels.txt" run "$T/lenet.onnx" "$T/img.pgm" --labels "$T/nolabels.txt"
  expect 2 "$T/missing.png" run "$T/lenet.onnx" "$T/missing.png"
  printf 'not an image' >"$T/photo.jpg"
  expect 2 "$T/photo.jpg: not an image" run "$T/lenet.onnx" "$T/photo.jpg"
  head -c 300 "$T/img.pgm" >"$T/cut.pgm"
  expect 2 "$T/cut.pgm: truncated" run "$T/lenet.onnx" "$T/cut.pgm"
  head -c 2000 "$T/lenet.onnx" >"$T/trunc-lenet.onnx"
  expect 2 "$T/trunc-lenet.onnx" run "$T/trunc-lenet.onnx" "$T/img.pgm"
  expect 2 "$T/trunc-lenet.onnx" bench "$T/trunc-lenet.onnx"

  # --dump: one .pb per tensor listed by info; the TensorProto keeps the real name.
  expect 0 "" run "$T/lenet.onnx" "$T/img.pgm" --top 1 --dump "$T/dump" --save-output "$T/out.pb"
  cp "$T/out" "$T/top1"
  n_pb=$(ls "$T/dump"/*.pb 2>/dev/null | wc -l)
  [ "$n_pb" -eq "$n_tensors" ] || fail "--dump wrote $n_pb files, info lists $n_tensors tensors"
  [ -s "$T/out.pb" ] || fail "--save-output wrote nothing"
  [ -f "$T/dump/conv1.pb" ] && grep -aq conv1 "$T/dump/conv1.pb" || fail "dump/conv1.pb missing or unnamed"
  # Feeding the dumped (preprocessed) input back gives the same answer.
  expect 0 "" run "$T/lenet.onnx" --tensor "$T/dump/input.pb" --top 1
  cmp -s "$T/out" "$T/top1" || fail "run --tensor dump/input.pb differs from the image run"
  expect 2 "not a directory" run "$T/lenet.onnx" "$T/img.pgm" --dump "$T/lenet.onnx"

  # bench: exactly one line on stdout.
  expect 0 "" bench "$T/lenet.onnx" --repeat 3 --warmup 1 --threads 1
  [ "$(wc -l <"$T/out")" -eq 1 ] || fail "bench printed $(wc -l <"$T/out") lines"
  grep -Eq '^forward: median [0-9]+\.[0-9]{2} ms, min [0-9]+\.[0-9]{2} ms, [0-9]+\.[0-9] GFLOP/s$' "$T/out" ||
      { fail "bench line malformed"; cat "$T/out"; }
  expect 0 "" bench "$T/lenet.onnx" --repeat 2 --warmup 0 --batch 4

  # Preprocessing against torchvision (Resize(shorter side) + CenterCrop + ToTensor + Normalize on a
  # PIL image), for a color model and for a gray model fed a color image.
  has_py='import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in sys.argv[1:]))'
  if /usr/bin/python3 -c "$has_py" torchvision onnx PIL numpy 2>/dev/null &&
     "$BIN" export --arch lenet --channels 3 --size 36 -o "$T/lenet3.onnx" >/dev/null 2>&1; then
    /usr/bin/python3 -c '
import numpy as np, sys
from PIL import Image
h, w = 90, 137
y, x = np.mgrid[0:h, 0:w]
img = np.stack([(np.sin(x / 7.0) + 1) * 127, (np.cos(y / 5.0) + 1) * 127, (x * y) % 255], -1).astype(np.uint8)
Image.fromarray(img).save(sys.argv[1])' "$T/col.png"
    expect 0 "" run "$T/lenet3.onnx" "$T/col.png" --preprocess torchvision --dump "$T/d3" --top 1
    expect 0 "" run "$T/lenet.onnx" "$T/col.png" --preprocess "mean=0.5;std=0.25" --dump "$T/d1" --top 1
    /usr/bin/python3 - "$T" <<'EOF' || fail "preprocessing differs from torchvision"
import sys, numpy as np, onnx
from onnx import numpy_helper
from PIL import Image
import torchvision.transforms as T
d = sys.argv[1]
def load(p):
    t = onnx.TensorProto(); t.ParseFromString(open(p, 'rb').read()); return numpy_helper.to_array(t)
ok = True
im = Image.open(d + '/col.png').convert('RGB')
ref = T.Compose([T.Resize(36), T.CenterCrop(36), T.ToTensor(),
                 T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(im).numpy()[None]
got = load(d + '/d3/input.pb')
# PIL resamples in 8 bits: allow one rounding step (1/255/std).
err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float('inf')
print(f"torchvision color: shape {got.shape}, max error {err:.4g}")
ok &= err < 1.5 / 255 / 0.224
ref = T.Compose([T.Grayscale(), T.Resize(28), T.CenterCrop(28), T.ToTensor(), T.Normalize([0.5], [0.25])])(im).numpy()[None]
got = load(d + '/d1/input.pb')
err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float('inf')
print(f"torchvision gray: shape {got.shape}, max error {err:.4g}")
ok &= err < 2.5 / 255 / 0.25
sys.exit(0 if ok else 1)
EOF
  else
    echo "skip: torchvision comparison (python3 with torchvision/onnx/PIL or export options unavailable)"
  fi
else
  echo "skip: 'zfviz export --arch lenet' unavailable: run/dump/bench checks on an exported model skipped"
fi

# docs/cli.md documents every subcommand the binary lists.
for c in $("$ZF_BIN" help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }'); do
  grep -q "^## \`zfviz $c\`" docs/cli.md || fail "docs/cli.md has no section for 'zfviz $c'"
done

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "t_cli: all checks passed"
