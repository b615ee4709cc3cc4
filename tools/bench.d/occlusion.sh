#!/bin/bash
# make bench, occlusion section (run by tools/bench.sh with BUILD, Z, T, R, PEAK, HAVE_TORCH):
# seconds for a whole occlusion map, zfviz naive (every position through the network) vs zfviz
# incremental (exact) vs PyTorch's batched occlusion (Captum-style, 16 positions per batch), timed
# in the same run. ZFNet-224, patch 32, stride 8 (625 positions); VGG-16-224 with Krypton's setting,
# patch 16, stride 4 (2809 positions), where the slow paths are timed on part of the positions and
# extrapolated (marked "est."). Also the approximate drill-down and its difference from the exact map.
# ZF_BENCH_OCCLUSION="zfnet:32:8" runs only the listed ARCH:PATCH:STRIDE cases.
set -u
BUILD=${BUILD:-build}; Z=${Z:-$BUILD/zfviz}; T=${T:-$(nproc)}; HAVE_TORCH=${HAVE_TORCH:-0}
dir=$BUILD/bench/occlusion
mkdir -p "$dir"
img=assets/samples/7-sneaker-test9.png
py=/usr/bin/python3

map_seconds() {
  sed -n 's/.*"map_seconds": \([0-9.e+-]*\).*/\1/p' "$1" 2>/dev/null | head -1 | awk '{ printf "%.2f", $1 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0 && b > 0) printf "%.1fx", a/b; else printf "-" }'; }
maxdiff() {   # max |a - b| of two TensorProto maps, and b's range
  [ -x $py ] || { echo "-"; return; }
  $py - "$1" "$2" <<'PY' 2>/dev/null || echo "-"
import sys, onnx, onnx.numpy_helper as nh, numpy as np
a, b = (nh.to_array(onnx.load_tensor(p)) for p in sys.argv[1:3])
print("%.2g (range %.3g)" % (np.abs(a - b).max(), b.max() - b.min()))
PY
}

run_zf() {   # run_zf NAME MODEL PATCH STRIDE [flags...] -> prints map seconds
  local name=$1 model=$2 patch=$3 stride=$4; shift 4
  rm -rf "$dir/$name"
  "$Z" occlude "$model" "$img" -o "$dir/$name" --patch "$patch" --stride "$stride" --threads "$T" --quiet "$@" \
    >/dev/null 2>"$dir/$name.log"
  map_seconds "$dir/$name/7-sneaker-test9.json"
}

echo
echo "== occlusion maps (threads $T): seconds for the whole map"
printf "%-34s %10s %10s %10s %12s %12s\n" "case" "naive" "increm." "torch" "vs naive" "vs torch"
for spec in ${ZF_BENCH_OCCLUSION:-zfnet:32:8 vgg16:16:4}; do
  IFS=: read -r arch patch stride <<<"$spec"
  model=$BUILD/bench/$arch.onnx
  [ -f "$model" ] || "$Z" export --arch "$arch" --seed 1 -o "$model" >/dev/null || continue
  n=$(( ( (224 - patch + stride - 1) / stride + 1 ) ** 2 ))
  inc=$(run_zf "$arch-inc" "$model" "$patch" "$stride")
  if [ "$arch" = zfnet ]; then
    naive=$(run_zf "$arch-naive" "$model" "$patch" "$stride" --naive)
    nlabel=$naive
  else
    # One forward pass times the positions (the naive path is exactly that loop).
    ms=$("$Z" bench "$model" --batch 1 --threads "$T" --repeat 3 2>/dev/null | sed -n 's/^forward: median \([0-9.]*\) ms.*/\1/p')
    naive=$(awk -v m="$ms" -v n="$n" 'BEGIN{ if (m > 0) printf "%.1f", m * n / 1000 }')
    nlabel="$naive est."
  fi
  torch="-"; tlabel="-"
  if [ "$HAVE_TORCH" = 1 ]; then
    limit=0; [ "$arch" = vgg16 ] && limit=128
    line=$($py tools/torch_occlusion.py bench "$arch" --patch "$patch" --stride "$stride" --per-eval 16 \
           --threads "$T" --limit $limit 2>/dev/null)
    torch=$(echo "$line" | sed -n 's/^torch-occlusion: [0-9]* positions in \([0-9.]*\) s.*/\1/p')
    tlabel=$torch; [ "$limit" -gt 0 ] && tlabel="$torch est."
  fi
  printf "%-34s %10s %10s %10s %12s %12s\n" "$arch-224 patch $patch stride $stride ($n pos.)" "$nlabel" "$inc" "$tlabel" \
    "$(ratio "$naive" "$inc")" "$(ratio "$torch" "$inc")"
  if [ "$arch" = zfnet ]; then
    echo "   incremental vs naive map: max |diff| $(maxdiff "$dir/zfnet-inc/7-sneaker-test9.prob.pb" "$dir/zfnet-naive/7-sneaker-test9.prob.pb")"
    appr=$(run_zf "$arch-approx" "$model" "$patch" "$stride" --approx)
    echo "   approximate drill-down (--approx): ${appr} s ($(ratio "$inc" "$appr") faster than exact), max |approx - exact| $(maxdiff "$dir/zfnet-approx/7-sneaker-test9.prob.pb" "$dir/zfnet-inc/7-sneaker-test9.prob.pb")"
  fi
done
