#!/bin/bash
# t_topk_cli.sh: `zfviz topk` and `zfviz evolve` on random LeNets: usage errors (exit 2, one line);
# the index and pictures of a small run (JSON read back with Python, PNG sizes); a run killed with
# SIGKILL mid-stream and restarted with the same arguments resumes and ends with the same index as
# an uninterrupted run (byte for byte); other settings over an unfinished run are refused, --force
# restarts, a damaged progress file is reported; a finished index is reused. When Debian's
# Fashion-MNIST and PyTorch are installed, the index is compared with a PyTorch computation of every
# image's per-unit maxima (a brute-force top-k). evolve: one row per checkpoint, the picture's size,
# the printed lines, and the last checkpoint's strongest activations equal to topk's.
set -u
BIN=${ZF_BIN:-build/zfviz}
PY=/usr/bin/python3
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
[ -x "$BIN" ] || { echo "FAIL: no zfviz binary at $BIN"; exit 1; }
for s in 1 2 3; do
  "$BIN" export --arch lenet --seed $s -o "$tmp/epoch-0$s.onnx" >/dev/null 2>"$tmp/err" || { echo "FAIL: export: $(cat "$tmp/err")"; exit 1; }
done
M=$tmp/epoch-01.onnx

# PNG width and height from the IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }

# --- bad usage -------------------------------------------------------------------------------------
usage_case() {
  local want=$1; shift
  "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? first
  first=$(head -n 1 "$tmp/err")
  if [ $rc -ne 2 ]; then bad "$* exited $rc, expected 2 (stderr: $first)"; return; fi
  [ "$(wc -l <"$tmp/err")" -ne 1 ] && bad "$* printed $(wc -l <"$tmp/err") lines: $(cat "$tmp/err")"
  case $first in
    *"$want"*) echo "ok   exit 2: $first";;
    *) bad "$*: message '$first' lacks '$want'";;
  esac
}
# A synthetic IDX dataset: 200 images of smooth blobs (perl is in every Debian install).
perl -e 'srand(7); print pack("C4N3", 0, 0, 8, 3, 200, 28, 28);
  for $i (0..199) { @c = map { [rand(28), rand(28), 80 + rand(170)] } 1..3;
    for $y (0..27) { for $x (0..27) { $v = rand(30); for $b (@c) { $v += $$b[2] * exp(-(($y-$$b[0])**2 + ($x-$$b[1])**2) / 18) }
      print pack("C", $v > 255 ? 255 : $v) } } }' >"$tmp/blobs.idx"
D="idx:$tmp/blobs.idx"
usage_case "--data SPEC is required" topk "$M"
usage_case "missing MODEL" topk --data "$D"
usage_case "unknown flag '--bogus'" topk "$M" --data "$D" --bogus
usage_case "--k expects an integer in 1..1024" topk "$M" --data "$D" --k 0
usage_case "--units expects channels like 0-7,12" topk "$M" --data "$D" --units 3-1
usage_case "--units: unit 2 is listed twice" topk "$M" --data "$D" --units 0-3,2
usage_case "--rule: unknown rule 'x'" topk "$M" --data "$D" --rule x
usage_case "unknown layer 'nope'" topk "$M" --data "$D" --layer nope -o "$tmp/u"
usage_case "layer 'relu2': unit 64 is out of range (it has 64 maps)" topk "$M" --data "$D" --layer relu2 --units 60-64 -o "$tmp/u"
usage_case "layer 'input'" topk "$M" --data "$D" --layer input -o "$tmp/u"
usage_case "cannot open" topk "$tmp/none.onnx" --data "$D"
usage_case "missing CKPT" evolve --data "$D" -o "$tmp/e.png"
usage_case "-o OUT.png is required" evolve "$M" --data "$D"
usage_case "give either --units or --top" evolve "$M" --data "$D" -o "$tmp/e.png" --units 1 --top 2
usage_case "unknown layer 'relu9'" evolve "$M" "$tmp/epoch-02.onnx" --data "$D" -o "$tmp/e.png" --layer relu9
"$BIN" topk --help | grep -q "^usage: zfviz topk MODEL --data SPEC" || bad "topk --help lacks the usage line"
"$BIN" evolve --help | grep -q "^usage: zfviz evolve CKPT.onnx" || bad "evolve --help lacks the usage line"
"$BIN" help | grep -q "^  topk " && "$BIN" help | grep -q "^  evolve " || bad "zfviz help does not list topk and evolve"

# --- a small run: index and pictures -----------------------------------------------------------------
"$BIN" topk "$M" --data "$D" --layer relu2 --layer pool1 --units 0-3 --k 4 --unit-pictures -o "$tmp/small" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "small run exited $rc: $(cat "$tmp/err")"
grep -q "^relu2: 4 units, top 4 of 200 images -> $tmp/small/topk-relu2.png$" "$tmp/out" || bad "small run output: $(cat "$tmp/out")"
grep -q "^index: $tmp/small/topk-index.json$" "$tmp/out" || bad "no index line: $(cat "$tmp/out")"
[ -f "$tmp/small/topk-progress.json" ] && bad "progress file left after a finished run"
for f in topk-relu2.png topk-pool1.png relu2/unit-0000.png relu2/unit-0003.png pool1/unit-0002.png; do
  [ -s "$tmp/small/$f" ] || bad "missing $f"
done
# Unit pictures: 2x2 projections | 2x2 patches of the 14x14 field at 4x (56 px), 1-px gaps, 8-px gap
# between the halves: (2*56+1)*2 + 8 = 234 by 2*56+1 = 113.
[ "$(png_size "$tmp/small/relu2/unit-0001.png")" = "234 113" ] || bad "relu2 unit picture is $(png_size "$tmp/small/relu2/unit-0001.png"), expected 234 113"
# pool1: field 6x6 at 8x = 48 px: (2*48+1)*2 + 8 = 202 by 97.
[ "$(png_size "$tmp/small/pool1/unit-0000.png")" = "202 97" ] || bad "pool1 unit picture is $(png_size "$tmp/small/pool1/unit-0000.png")"
echo "ok   small run: $(tr '\n' ' ' <"$tmp/out")"
if $PY -c 'import json' 2>/dev/null; then
  $PY - "$tmp/small/topk-index.json" <<'EOF' >"$tmp/py" 2>&1 || bad "index check: $(cat "$tmp/py")"
import json, sys
ix = json.load(open(sys.argv[1]))
assert ix['kind'] == 'zfviz-topk' and ix['version'] == 1 and ix['complete'] is True, ix['kind']
assert ix['k'] == 4 and ix['next'] == 200 and ix['data']['count'] == 200 and ix['rule'] == 'deconvnet'
assert ix['model']['hash'].startswith('fnv1a64:') and len(ix['model']['hash']) == 24
assert [l['name'] for l in ix['layers']] == ['relu2', 'pool1'], [l['name'] for l in ix['layers']]
l = ix['layers'][0]
assert l['shape'] == [64, 8, 8] and l['rf']['size'] == [14, 14] and l['rf']['jump'] == [2, 2], l['rf']
assert l['picture'] == 'topk-relu2.png'
assert [u['unit'] for u in l['units']] == [0, 1, 2, 3]
for u in l['units']:
    t = u['top']
    assert len(t) == 4 and u['picture'] == 'relu2/unit-%04d.png' % u['unit']
    assert len(u['box']) == 4 and u['box'][2:] == [234, 113], u['box']
    assert all(0 <= e[0] < 200 and 0 <= e[1] < 8 and 0 <= e[2] < 8 for e in t), t
    assert len(set(e[0] for e in t)) == 4, 'an image twice: %s' % t
    assert all((a[3], -a[0]) > (b[3], -b[0]) for a, b in zip(t, t[1:])), 'not sorted: %s' % t
# Each unit's box in the layer picture holds the same pixels as the unit's own picture (PIL, when
# installed).
try:
    from PIL import Image
except ImportError:
    Image = None
if Image:
    d = sys.argv[1].rsplit('/', 1)[0]
    for L in ix['layers']:
        sheet = Image.open(d + '/' + L['picture']).convert('RGB')
        for u in L['units']:
            x, y, w, h = u['box']
            own = Image.open(d + '/' + u['picture']).convert('RGB')
            assert own.size == (w, h) and list(sheet.crop((x, y, x + w, y + h)).getdata()) == list(own.getdata()), u
    print('boxes ok')
print('index ok')
EOF
  echo "ok   index read by Python's json: layers, units, sorted distinct entries$(grep -q 'boxes ok' "$tmp/py" && echo ', unit boxes match the unit pictures')"
fi
# A finished index with the same settings is reused (pictures drawn again).
"$BIN" topk "$M" --data "$D" --layer relu2 --layer pool1 --units 0-3 --k 4 --unit-pictures -o "$tmp/small" >"$tmp/out2" 2>"$tmp/err"
grep -q "is up to date; drawing the pictures again" "$tmp/err" || bad "finished index not reused: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/out2" || bad "second run printed something else"

# --- kill and resume ----------------------------------------------------------------------------------
# 800 images at batch 4 on one thread, progress saved after every batch.
perl -e 'srand(11); print pack("C4N3", 0, 0, 8, 3, 800, 28, 28); print pack("C*", map { int(rand(256)) } 1 .. 800*784)' >"$tmp/noise.idx"
N="idx:$tmp/noise.idx"
ARGS=(--data "$N" --layer all --batch 4 --threads 1 --save-every 1 --no-pictures)
"$BIN" topk "$M" "${ARGS[@]}" -o "$tmp/ref" >/dev/null 2>"$tmp/err" || bad "uninterrupted run: $(cat "$tmp/err")"
"$BIN" topk "$M" "${ARGS[@]}" -o "$tmp/res" >/dev/null 2>"$tmp/err" &
pid=$!
disown $pid   # no "Killed" line from the shell
next=0
for _ in $(seq 1 400); do
  if [ -f "$tmp/res/topk-progress.json" ]; then
    next=$(sed -n 's/^  "next": \([0-9]*\),$/\1/p' "$tmp/res/topk-progress.json")
    [ "${next:-0}" -ge 60 ] && break
  fi
  sleep 0.02
done
kill -9 $pid 2>/dev/null
while kill -0 $pid 2>/dev/null; do sleep 0.02; done
pid=
if [ -f "$tmp/res/topk-index.json" ]; then
  echo "SKIP kill-and-resume: the run finished before it could be killed"
else
  next=$(sed -n 's/^  "next": \([0-9]*\),$/\1/p' "$tmp/res/topk-progress.json")
  { [ "${next:-0}" -gt 0 ] && [ "$next" -lt 800 ]; } || bad "progress file after the kill says next=$next"
  # Other settings over the unfinished run are refused; a damaged progress file is reported.
  usage_case "an unfinished run with other settings (k is 9 there, 4 here); use --force to start over" \
    topk "$M" "${ARGS[@]}" --k 4 -o "$tmp/res"
  cp "$tmp/res/topk-progress.json" "$tmp/saved.json"
  head -c 300 "$tmp/saved.json" >"$tmp/res/topk-progress.json"
  usage_case "cannot resume (use --force to start over)" topk "$M" "${ARGS[@]}" -o "$tmp/res"
  cp "$tmp/saved.json" "$tmp/res/topk-progress.json"
  "$BIN" topk "$M" "${ARGS[@]}" -o "$tmp/res" >/dev/null 2>"$tmp/err" || bad "resumed run: $(cat "$tmp/err")"
  grep -q "resuming at item $next of 800" "$tmp/err" || bad "no 'resuming at item $next' note: $(cat "$tmp/err")"
  if cmp -s "$tmp/ref/topk-index.json" "$tmp/res/topk-index.json"; then
    echo "ok   killed at item $next of 800 (SIGKILL), resumed: index identical to the uninterrupted run"
  else
    bad "resumed index differs from the uninterrupted one: $(diff "$tmp/ref/topk-index.json" "$tmp/res/topk-index.json" | head -n 4)"
  fi
  [ -f "$tmp/res/topk-progress.json" ] && bad "progress file left after the resumed run"
fi
# --force starts over (no resume note) and gives the same index again.
"$BIN" topk "$M" "${ARGS[@]}" -o "$tmp/res" --force >/dev/null 2>"$tmp/err" || bad "--force: $(cat "$tmp/err")"
grep -q "resuming\|up to date" "$tmp/err" && bad "--force resumed: $(cat "$tmp/err")"
cmp -s "$tmp/ref/topk-index.json" "$tmp/res/topk-index.json" || bad "--force run differs from the first run"

# --- evolve ------------------------------------------------------------------------------------------
"$BIN" evolve "$tmp"/epoch-0{1,2,3}.onnx --data "$D" --layer relu2 --units 0-3 --patches -o "$tmp/e.png" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || bad "evolve exited $rc: $(cat "$tmp/err")"
[ "$(grep -c ' relu2  unit [0-3]  image [0-9]*  at [0-9]*,[0-9]*  act ' "$tmp/out")" -eq 12 ] || bad "evolve printed: $(cat "$tmp/out")"
read -r w h < <(png_size "$tmp/e.png")
# Four columns of projection | patch (56 px each + 4): at least 4 * 116 wide; three rows of 56 px.
{ [ "${w:-0}" -ge 464 ] && [ "${h:-0}" -ge 168 ]; } || bad "evolve picture is ${w}x${h}"
echo "ok   evolve: 3 checkpoints x 4 units, picture ${w}x${h}"
# The last checkpoint's strongest activations equal topk's first entries (k 1) for the same data.
"$BIN" topk "$tmp/epoch-03.onnx" --data "$D" --layer relu2 --units 0-3 --k 1 --no-pictures -o "$tmp/k1" >/dev/null 2>"$tmp/err" ||
  bad "topk k 1: $(cat "$tmp/err")"
if $PY -c 'import json' 2>/dev/null; then
  $PY - "$tmp/k1/topk-index.json" "$tmp/out" "$tmp/epoch-03.onnx" <<'EOF' >"$tmp/py" 2>&1 || bad "evolve vs topk: $(cat "$tmp/py")"
import json, sys
ix = json.load(open(sys.argv[1]))
want = {u['unit']: u['top'][0] for u in ix['layers'][0]['units']}
got = {}
for line in open(sys.argv[2]):
    f = line.split()
    if f[0] == sys.argv[3]:
        got[int(f[3])] = [int(f[5]), *map(int, f[7].split(',')), float(f[9])]
assert sorted(got) == [0, 1, 2, 3], got
for u, e in want.items():
    g = got[u]
    assert g[:3] == e[:3] and abs(g[3] - e[3]) <= 1e-5 * abs(e[3]), (u, g, e)
EOF
  echo "ok   evolve's last row equals topk --k 1 on the same checkpoint"
fi
"$BIN" evolve "$tmp"/epoch-0{1,2}.onnx --data "$D@50" --top 3 -o "$tmp/e2.png" >"$tmp/out" 2>"$tmp/err" || bad "evolve --top: $(cat "$tmp/err")"
# Default layers relu1 and relu2, 3 units each, 2 checkpoints.
[ "$(wc -l <"$tmp/out")" -eq 12 ] || bad "evolve --top 3 printed $(wc -l <"$tmp/out") lines"

# --- PyTorch brute force on Fashion-MNIST ---------------------------------------------------------
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || ! $PY -c 'import torch, onnx, numpy' 2>/dev/null; then
  echo "SKIP PyTorch brute force: needs Debian's dataset-fashion-mnist and /usr/bin/python3 with torch and onnx"
  [ $fail -eq 0 ] && echo "all topk checks passed"
  exit $fail
fi
"$BIN" topk "$tmp/epoch-02.onnx" --data fashion-mnist@1000 --layer relu1 --layer relu2 --layer pool2 --k 9 --no-pictures \
  -o "$tmp/fm" >/dev/null 2>"$tmp/err" || bad "topk fashion-mnist@1000: $(cat "$tmp/err")"
cat >"$tmp/ref.py" <<'EOF'
# Every image's per-unit maximum (first position on ties) in PyTorch, all of them sorted: the top k.
import sys, gzip, json, numpy as np, onnx, torch, torch.nn.functional as F
from onnx import numpy_helper
model, index, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = onnx.load(model)
im = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()
x = torch.tensor(np.frombuffer(im, np.uint8, n * 784, 16).reshape(n, 1, 28, 28).astype(np.float32) / np.float32(255))
v = {t.name: torch.tensor(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
v[m.graph.input[0].name] = x
for nd in m.graph.node:
    a = {t.name: onnx.helper.get_attribute_value(t) for t in nd.attribute}
    i = [v[k] for k in nd.input]
    if nd.op_type == 'Conv': o = F.conv2d(i[0], i[1], i[2], a.get('strides', 1), a.get('pads', [0, 0, 0, 0])[:2])
    elif nd.op_type == 'Relu': o = F.relu(i[0])
    elif nd.op_type == 'MaxPool': o = F.max_pool2d(i[0], a['kernel_shape'], a.get('strides', 1))
    else: break
    v[nd.output[0]] = o
ix = json.load(open(index))
k = ix['k']
worst, swaps, checked = 0.0, 0, 0
for L in ix['layers']:
    t = v[L['name']]
    N, C, H, W = t.shape
    flat = t.reshape(N, C, H * W)
    val, pos = flat.max(2)           # first maximum (torch returns the first index)
    pos = flat.argmax(2)
    for U in L['units']:
        c = U['unit']
        order = sorted(range(N), key=lambda i: (-float(val[i, c]), i))
        ref = [[i, int(pos[i, c]) // W, int(pos[i, c]) % W, float(val[i, c])] for i in order[:k]]
        for r, (e, f) in enumerate(zip(U['top'], ref)):
            checked += 1
            err = abs(e[3] - f[3])
            worst = max(worst, err)
            tol = 1e-5 * (1 + abs(f[3]))
            if e[0] != f[0]:
                # Only near-equal values may swap places (float rounding differs between engines).
                if abs(float(val[e[0], c]) - f[3]) > tol: sys.exit('%s unit %d rank %d: zfviz %s, PyTorch %s' % (L['name'], c, r, e, f))
                swaps += 1
            elif err > tol or (e[1:3] != f[1:3] and err > 0):
                sys.exit('%s unit %d rank %d: zfviz %s, PyTorch %s' % (L['name'], c, r, e, f))
        if len(U['top']) != k: sys.exit('%s unit %d: %d entries' % (L['name'], c, len(U['top'])))
print('%d entries, max |error| %.3g, %d near-tie swaps' % (checked, worst, swaps))
EOF
if out=$($PY "$tmp/ref.py" "$tmp/epoch-02.onnx" "$tmp/fm/topk-index.json" 1000 2>&1); then
  echo "ok   matches a PyTorch brute force on fashion-mnist@1000 (relu1, relu2, pool2): $out"
else
  bad "PyTorch brute force: $out"
fi
[ $fail -eq 0 ] && echo "all topk checks passed"
exit $fail
