#!/bin/bash
# t_deconv_cli.sh: `zfviz deconv`: PNGs written and decodable (read back through `zfviz run`, which
# loads any image), --save-raw a TensorProto of the input's shape that matches the printed box,
# --top grids, --crop, --heatmap, and the exit codes: 0 ok, 2 for an unknown layer, a unit out of
# range, a layer whose projection is not defined, an unwritable output path, bad flags; each error
# one line starting with "zfviz".
# Needs ZF_BIN (tests/run.sh sets it).
BIN=${ZF_BIN:-build/zfviz}
if [ ! -x "$BIN" ]; then echo "skip: no zfviz binary at $BIN"; exit 77; fi
T=$(mktemp -d /tmp/zf-t-deconv-XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE NEEDLE ARGS...: exit status CODE; for errors, one stderr line starting with "zfviz"
# and containing NEEDLE.
expect() {
  local code=$1 needle=$2; shift 2
  "$BIN" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ $rc -ne "$code" ]; then fail "zfviz $*: exit $rc, expected $code: $(head -n 2 "$T/err")"; return; fi
  [ "$code" = 0 ] && return
  local first; first=$(head -n 1 "$T/err")
  case $first in zfviz*) ;; *) fail "zfviz $*: error line does not start with 'zfviz': '$first'"; return;; esac
  [[ $first == *"$needle"* ]] || fail "zfviz $*: error '$first' lacks '$needle'"
  local lines; lines=$(wc -l <"$T/err")
  [ "$lines" -eq 1 ] || { fail "zfviz $*: $lines lines of error output"; cat "$T/err"; }
}

# A picture decodes when `zfviz run` accepts it as an image (stb_image reads it).
decodes() { "$BIN" run "$T/lenet.onnx" "$1" --top 1 >/dev/null 2>"$T/derr" || fail "$1 does not decode: $(cat "$T/derr")"; }

# PNG dimensions from the IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3*256+$4, $7*256+$8 }'; }

"$BIN" export --arch lenet --seed 3 --width-mult 0.5 -o "$T/lenet.onnx" >/dev/null || { echo "FAIL: export"; exit 1; }
"$BIN" export --arch zfnet --seed 3 --width-mult 0.125 --size 96 --classes 10 -o "$T/zfnet.onnx" >/dev/null ||
    { echo "FAIL: export"; exit 1; }
IMG=assets/samples/9-ankle-boot-test0.png
[ -f "$IMG" ] || IMG=$(ls assets/samples/*.png | head -n 1)

# --- pictures ---------------------------------------------------------------------------------------
expect 0 "" deconv "$T/lenet.onnx" "$IMG" --layer conv2 -o "$T/one.png" --save-raw "$T/one.pb"
grep -q "^layer conv2  unit [0-9]*  at [0-9]*,[0-9]*  act .*  rule deconvnet  box " "$T/out" ||
    fail "deconv output line: $(cat "$T/out")"
[ -s "$T/one.png" ] && decodes "$T/one.png" || fail "one.png not written"
# 28x28 shown at 8x (224 pixels), nearest neighbour for a tiny input.
[ "$(png_size "$T/one.png")" = 224x224 ] || fail "one.png is $(png_size "$T/one.png"), expected 224x224"
# The raw projection has the model input's shape: `run --tensor` accepts it.
"$BIN" run "$T/lenet.onnx" --tensor "$T/one.pb" --top 1 >/dev/null 2>&1 || fail "--save-raw is not an input-shaped TensorProto"

for rule in deconvnet guided gradient; do
  expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --rule $rule --crop -o "$T/crop-$rule.png"
  decodes "$T/crop-$rule.png"
done
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv3 --top 6 --columns 3 -o "$T/grid.png" --save-raw "$T/grid.pb"
[ "$(grep -c '^layer conv3' "$T/out")" = 6 ] || fail "--top 6 printed $(grep -c '^layer' "$T/out") lines"
decodes "$T/grid.png"
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv2 --unit 1 --heatmap viridis -o "$T/heat.png"
decodes "$T/heat.png"
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv2 --unit 1 --heatmap coolwarm --crop --alpha 0.3 --zoom 3 \
    --filter bilinear -o "$T/heat2.png"
decodes "$T/heat2.png"
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv4 --mode map --rule guided -o "$T/map.png"
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv4 --unit 2 --at 1,2 -o "$T/at.png"
grep -q "at 1,2" "$T/out" || fail "--at 1,2: $(cat "$T/out")"
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer fc6 --unit 0
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer prob --unit 3 --rule gradient
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --time
grep -q "ms each" "$T/err" || fail "--time prints no timing"

# The printed box: the saved projection is zero outside it (checked with python when it has numpy).
expect 0 "" deconv "$T/zfnet.onnx" "$IMG" --layer conv3 --unit 4 --save-raw "$T/box.pb"
box=$(sed -n 's/.*  box \([0-9:,]*\).*/\1/p' "$T/out")
if /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
  /usr/bin/python3 - "$T/box.pb" "$box" <<'EOF' || fail "projection nonzero outside the printed box $box"
import sys, onnx, numpy as np
from onnx import numpy_helper
t = onnx.TensorProto(); t.ParseFromString(open(sys.argv[1], "rb").read())
p = numpy_helper.to_array(t)
(y0, y1), (x0, x1) = [map(int, a.split(":")) for a in sys.argv[2].split(",")]
m = np.zeros(p.shape, bool); m[..., y0:y1, x0:x1] = True
sys.exit(1 if np.any(p[~m] != 0) or not np.any(p[m] != 0) else 0)
EOF
fi

# --save-raw against the PyTorch references (tests/refs-deconv, tools/torch_deconv.py): the CLI path
# end to end, max |zfviz - torch| / max |torch| <= 1e-4, same unit position.
if /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
  n=0
  for d in tests/refs-deconv/*/; do
    [ -f "$d/cases.txt" ] || continue
    while read -r layer rule item ch y x value file; do
      [[ $layer == \#* || -z $layer ]] && continue
      "$BIN" deconv "$d/model.onnx" --tensor "$d/input.pb" --layer "$layer" --unit "$ch" --item "$item" --rule "$rule" \
          --save-raw "$T/ref.pb" >"$T/out" 2>"$T/err" </dev/null || { fail "deconv $d $layer $rule: $(cat "$T/err")"; continue; }
      grep -q "  at $y,$x  " "$T/out" || fail "$d $layer: $(cat "$T/out"), torch says $y,$x"
      cp "$T/ref.pb" "$T/ref-$n.pb"
      echo "$T/ref-$n.pb $d/$file $layer $rule" >>"$T/pairs"
      n=$((n + 1))
    done <"$d/cases.txt"
  done
  # One python for every comparison (importing onnx takes a second).
  /usr/bin/python3 -c '
import sys, onnx, numpy as np
from onnx import numpy_helper
bad = 0
for line in open(sys.argv[1]):
    ours, ref, layer, rule = line.split()
    a, b = (numpy_helper.to_array(onnx.load_tensor(f)) for f in (ours, ref))
    if a.shape != b.shape or np.abs(a - b).max() > 1e-4 * np.abs(b).max():
        print("FAIL: %s %s: --save-raw differs from PyTorch (%s)" % (ref, rule, layer)); bad += 1
sys.exit(1 if bad else 0)
' "$T/pairs" || fails=$((fails + 1))
  [ $n -ge 12 ] || fail "only $n PyTorch reference cases through the CLI"
fi

# --- errors -----------------------------------------------------------------------------------------
expect 2 "unknown layer 'conv9'" deconv "$T/zfnet.onnx" "$IMG" --layer conv9
expect 2 "out of range" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --unit 100000
expect 2 "outside" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --unit 0 --at 50,0
expect 2 "cannot write" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 -o "$T/no/such/dir/x.png"
expect 2 "cannot write" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --save-raw /proc/x.pb
expect 2 "missing --layer" deconv "$T/zfnet.onnx" "$IMG"
expect 2 "--mode" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --mode most
expect 2 "--at" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --at 3
expect 2 "unknown rule" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --rule backprop
expect 2 "unknown colormap" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --heatmap rainbow
expect 2 "either --unit or --top" deconv "$T/zfnet.onnx" "$IMG" --layer conv5 --unit 1 --top 3
expect 2 "no-such.png" deconv "$T/zfnet.onnx" "$T/no-such.png" --layer conv5
[ -e "$T/no/such/dir/x.png" ] && fail "an output appeared in a missing folder"

# A layer whose projection is not defined: BatchNormalization in training mode (batch statistics).
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  /usr/bin/python3 - "$T/bn.onnx" <<'EOF'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto as TP
c = [numpy_helper.from_array(np.ones(1, np.float32), n) for n in ("s", "b", "m", "v")]
bn = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", training_mode=1)
relu = helper.make_node("Relu", ["y"], ["r"], name="relu")
g = helper.make_graph([bn, relu], "g", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 1, 28, 28])],
                      [helper.make_tensor_value_info("r", TP.FLOAT, [1, 1, 28, 28])], c)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]), sys.argv[1])
EOF
  expect 2 "projecting through node 'bn' (BatchNormalization)" deconv "$T/bn.onnx" "$IMG" --layer r
fi

[ $fails -eq 0 ] && echo "ok" || echo "$fails failure(s)"
[ $fails -eq 0 ]
