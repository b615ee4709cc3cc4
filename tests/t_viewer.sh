#!/bin/bash
# t_viewer.sh: `zfviz view` end to end. The scripted tour (tests/data/viewer/tour.script) runs in a
# real SDL window under Xvfb on LeNet (gray 28x28, the built-in default), ZFNet and ResNet-50
# (reduced widths), and headless (SDL's dummy/offscreen drivers, no X server); build/tests/test_viewer
# --check then checks every set of screenshots (panes where expected, the selected tile outlined,
# the projection changing with the rule, occlusion drawn, saved PNGs decoding). Then the viewer must
# survive bad input with a message: a corrupt or missing dropped file, a tiny window, a model with no
# convolutional layers; and reject bad scripts and flags with exit 2.
# Needs ZF_BIN and ZF_BUILD (tests/run.sh sets them). Skips (77) without xvfb-run.
BIN=${ZF_BIN:-build/zfviz}
BUILD=${ZF_BUILD:-build}
CHECK=$BUILD/tests/test_viewer
DATA=tests/data/viewer
if [ ! -x "$BIN" ]; then echo "skip: no zfviz binary at $BIN"; exit 77; fi
if ! "$BIN" view --help >/dev/null 2>&1; then echo "skip: this zfviz has no view command (built without SDL2?)"; exit 77; fi
if ! command -v xvfb-run >/dev/null; then
    echo "skip: xvfb-run is missing (Debian package xvfb): the viewer's window tests need an X server"
    exit 77
fi
T=$(mktemp -d /tmp/zf-t-viewer-XXXXXX) || exit 1
[ -n "$ZF_KEEP" ] || trap 'rm -rf "$T"' EXIT; echo "work dir: $T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
XVFB=(xvfb-run -a -s "-screen 0 1280x800x24")
# Under `make asan` the X11/GL/D-Bus libraries that a real window loads leak a little at exit (not
# ours): the window runs skip leak detection; the headless runs below keep it.
[ -n "$ZF_ASAN" ] && XVFB=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "${XVFB[@]}")

# run NAME ARGS...: zfviz view ARGS with the screenshots in $T/NAME; exit 0 expected
run() {
    local name=$1; shift
    mkdir -p "$T/$name"
    if ! "$@" --screenshot-dir "$T/$name" >"$T/$name.out" 2>"$T/$name.err"; then
        fail "$name: exit $? ($(head -c 300 "$T/$name.err"))"
        return 1
    fi
    return 0
}

# check NAME H W: the tour's screenshots
check() {
    if [ -x "$CHECK" ]; then
        "$CHECK" --check "$T/$1" "$2" "$3" || fail "$1: screenshot checks"
    else
        for f in 01-start 05-gradient 08-map 11-next zfviz-view-001-grid; do
            [ -s "$T/$1/$f.png" ] || fail "$1: $f.png missing"
        done
    fi
}

# --- the tour in a window (Xvfb) -----------------------------------------------------------------------
unset SDL_VIDEODRIVER
# no MODEL: the default model (assets/models/default.onnx, zf28; the built-in LeNet without it),
# from conv2 (zf28's first layers are one ReLU deep: the three rules give the same picture there)
run default-x11 "${XVFB[@]}" "$BIN" view --layer conv2 --script $DATA/tour.script && check default-x11 28 28
grep -q "zfviz-view-001-projection.png" "$T/default-x11.out" || fail "the s key did not print the saved paths"

"$BIN" export --arch lenet -o "$T/lenet.onnx" >/dev/null || fail "export lenet"
run lenet-x11 "${XVFB[@]}" "$BIN" view "$T/lenet.onnx" --script $DATA/tour.script && check lenet-x11 28 28

"$BIN" export --arch zfnet --width-mult 0.25 -o "$T/zfnet.onnx" >/dev/null || fail "export zfnet"
run zfnet-x11 "${XVFB[@]}" "$BIN" view "$T/zfnet.onnx" --script $DATA/tour.script --occlusion-stride 32 \
    && check zfnet-x11 224 224

"$BIN" export --arch resnet50 --width-mult 0.25 --size 112x112 -o "$T/resnet50.onnx" >/dev/null || fail "export resnet50"
# (starting at res2a: from the first layers the three rules give the same picture, one ReLU deep)
run resnet-x11 "${XVFB[@]}" "$BIN" view "$T/resnet50.onnx" --layer res2a_branch2a --script $DATA/tour.script \
    --occlusion-stride 16 \
    && check resnet-x11 112 112

# --- headless: no X server at all ---------------------------------------------------------------------
(unset DISPLAY; export SDL_VIDEODRIVER=dummy
 run default-headless "$BIN" view --layer conv2 --headless --script $DATA/tour.script) && check default-headless 28 28
# the same pixels as the window
cmp -s "$T/default-x11/08-map.png" "$T/default-headless/08-map.png" ||
    echo "note: window and headless screenshots differ (timing-dependent text such as frame times)"
# a non-square color model, headless
"$BIN" export --arch vgg16 --size 64x96 --width-mult 0.125 -o "$T/vgg.onnx" >/dev/null || fail "export vgg16"
(unset DISPLAY; export SDL_VIDEODRIVER=dummy
 run vgg-headless "$BIN" view "$T/vgg.onnx" --headless --script $DATA/tour.script --occlusion-stride 16) &&
    check vgg-headless 64 96
# --headless without a script: the view and its panes once everything is computed
(unset DISPLAY; run plain-headless "$BIN" view --headless --size 960x600)
for p in view view-input view-grid view-unit view-projection view-top5 view-layers view-topk view-status; do
    [ -s "$T/plain-headless/$p.png" ] || fail "--headless without a script: $p.png missing"
done
# a real SDL window on the offscreen driver (no X server)
(unset DISPLAY; export SDL_VIDEODRIVER=offscreen
 [ -n "$ZF_ASAN" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
 printf 'key o\nclick grid #2\nscreenshot a\nkey q\n' >"$T/short.script"
 run offscreen "$BIN" view --script "$T/short.script") && [ -s "$T/offscreen/a.png" ] || fail "offscreen driver"
# no display and no driver asked for: SDL would fall back to an invisible window and the viewer wait
# forever; it must refuse at once, in one line (libwayland may print its own line before it)
(unset DISPLAY WAYLAND_DISPLAY SDL_VIDEODRIVER
 [ -n "$ZF_ASAN" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
 timeout 60 "$BIN" view >"$T/nodisplay.out" 2>&1; echo "rc=$?" >>"$T/nodisplay.out")
grep -q '^rc=1$' "$T/nodisplay.out" && grep -q "^zfviz: no display to open a window on .*--headless" "$T/nodisplay.out" ||
    fail "view without a display: $(tr '\n' ' ' <"$T/nodisplay.out")"


# --- top-9 pane: an index made by zfviz topk next to the model, and one named by --topk -----------------
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    mkdir -p "$T/tk"
    "$BIN" export --arch lenet -o "$T/tk/lenet.onnx" >/dev/null || fail "export lenet"
    if "$BIN" topk "$T/tk/lenet.onnx" --data fashion-mnist:test@200 >"$T/tk.out" 2>&1; then
        printf 'sync\nkey o\nclick grid #3\nscreenshot topk\nkey s\n' >"$T/topk.script"
        # (a subshell: its failures are reported by its exit status)
        (unset DISPLAY; export SDL_VIDEODRIVER=dummy
         run topk-default "$BIN" view "$T/tk/lenet.onnx" --headless --size 960x600 --script "$T/topk.script" ||
             exit 1
         # the picture fills most of the pane (about 64%); the "no index" text about 20%
         "$CHECK" --busy "$T/topk-default/zfviz-view-001-topk.png" 40 || exit 1
         # the same index for another model: the pane says so (text only)
         "$BIN" export --arch lenet --width-mult 0.5 -o "$T/other.onnx" >/dev/null || exit 1
         run topk-other "$BIN" view "$T/other.onnx" --topk "$T/tk/lenet.topk" --headless --size 960x600 \
             --script "$T/topk.script" || exit 1
         ! "$CHECK" --busy "$T/topk-other/zfviz-view-001-topk.png" 40) ||
            fail "top-9 pane: a picture with the model's index, a message with another model's (see above)"
    else
        fail "zfviz topk on lenet: $(tail -3 "$T/tk.out")"
    fi
else
    echo "notice: skipping the top-9 pane check (no /usr/share/datasets/fashion-mnist)"
fi

# --- bad input: a message, and the viewer keeps running -------------------------------------------------
printf 'not an image at all' >"$T/bad.png"
head -c 300 assets/samples/1-trouser-test2.png >"$T/cut.png" 2>/dev/null || printf '\x89PNG\r\n' >"$T/cut.png"
cat >"$T/edge.script" <<EOF
sync
drop $T/bad.png
screenshot e1
drop $T/cut.png
screenshot e2
drop $T/missing.png
screenshot e3
resize 200 150
screenshot e4-tiny
resize 1024 640
key o
click grid #1
screenshot e5-back
EOF
if run edge "${XVFB[@]}" "$BIN" view --script "$T/edge.script"; then
    for e in e1 e2 e3 e4-tiny e5-back; do [ -s "$T/edge/$e.png" ] || fail "edge: $e.png missing"; done
    grep -q "bad.png: not an image" "$T/edge.err" || fail "no message for a corrupt dropped file: $(cat "$T/edge.err")"
    grep -q "cut.png: " "$T/edge.err" || fail "no message for a truncated dropped file"
    grep -q "missing.png: cannot open" "$T/edge.err" || fail "no message for a missing dropped file"
    [ -x "$CHECK" ] && { cmp -s "$T/edge/e1.png" "$T/edge/e5-back.png" && fail "edge: nothing changed after the errors"; }
fi
# a model without convolutional layers (needs python3-onnx to write it)
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
    /usr/bin/python3 - "$T/mlp.onnx" <<'EOF'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(0)
w = lambda name, shape: numpy_helper.from_array(rng.normal(0, 0.05, shape).astype(np.float32), name)
nodes = [helper.make_node('Flatten', ['input'], ['flat']),
         helper.make_node('Gemm', ['flat', 'W1', 'B1'], ['fc1']), helper.make_node('Relu', ['fc1'], ['relu1']),
         helper.make_node('Gemm', ['relu1', 'W2', 'B2'], ['fc2']), helper.make_node('Softmax', ['fc2'], ['prob'])]
g = helper.make_graph(nodes, 'mlp', [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 1, 28, 28])],
                      [helper.make_tensor_value_info('prob', TensorProto.FLOAT, [1, 10])],
                      [w('W1', (784, 32)), w('B1', (32,)), w('W2', (32, 10)), w('B2', (10,))])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), sys.argv[1])
EOF
    (unset DISPLAY; run mlp "$BIN" view "$T/mlp.onnx" --headless --script $DATA/tour.script) && check mlp 28 28
else
    echo "note: python3-onnx missing: the no-conv-layer model case is not run"
fi

# --- usage errors: exit 2, one line naming the problem ----------------------------------------------------
printf 'key o\nklick 1 2\n' >"$T/bad.script"
"$BIN" view --headless --script "$T/bad.script" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "bad.script:2: unknown event 'klick'" "$T/err" || fail "bad script: exit $rc, $(cat "$T/err")"
"$BIN" view --headless --bogus >/dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "unknown flag should exit 2"
"$BIN" view "$T/missing.onnx" --headless >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "missing.onnx" "$T/err" || fail "missing model: exit $rc, $(cat "$T/err")"
"$BIN" view --headless --layer nosuchlayer >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "nosuchlayer" "$T/err" || fail "bad --layer: exit $rc, $(cat "$T/err")"
"$BIN" view --size 10 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--size 10 should be a usage error"
(unset DISPLAY; export SDL_VIDEODRIVER=x11
 [ -n "$ZF_ASAN" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
 "$BIN" view --script "$T/short.script" >/dev/null 2>"$T/err"; rc=$?
 [ $rc -eq 1 ] && grep -q "try --headless" "$T/err") || fail "no display: expected exit 1 suggesting --headless"

[ $fails -eq 0 ] && echo "viewer: all checks passed" || echo "$fails failure(s)"
[ $fails -eq 0 ]
