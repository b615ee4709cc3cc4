#!/bin/bash
# make bench, training section (run by tools/bench.sh with BUILD, Z, T, R, PEAK, HAVE_TORCH): seconds
# per training epoch of LeNet on Fashion-MNIST (batch 128, SGD with momentum, the same thread
# count), zfviz train against PyTorch's CPU training of the same network (tools/torch_train.py),
# measured in the same run. ZF_BENCH_TRAIN_LIMIT=N times an epoch over the first N images only.
set -u
dir=$BUILD/bench/train
mkdir -p "$dir"
limit=${ZF_BENCH_TRAIN_LIMIT:-0}
data=fashion-mnist:train
[ "$limit" -gt 0 ] && data="$data@$limit"
echo
echo "== training: LeNet, one epoch of Fashion-MNIST ${limit/#0/60000} images, batch 128, threads $T"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "   (dataset-fashion-mnist not installed: skipped)"
  exit 0
fi
zf=$("$Z" train --arch lenet --data "$data" --epochs 1 --batch 128 --threads "$T" -o "$dir/lenet.onnx" 2>"$dir/zfviz.err" |
     sed -n 's/^epoch *1\/1 .* \([0-9.]*\) s  lr.*/\1/p')
[ -n "$zf" ] || { echo "   zfviz train failed:"; tail -n 3 "$dir/zfviz.err"; zf="-"; }
tt="-"
if [ "$HAVE_TORCH" = 1 ]; then
  args=(--batch 128 --threads "$T" --epochs 1)
  [ "$limit" -gt 0 ] && args+=(--limit "$limit")
  tt=$(/usr/bin/python3 tools/torch_train.py "${args[@]}" 2>"$dir/torch.err" | sed -n 's/^torch-train: median epoch \([0-9.]*\) s/\1/p')
  [ -n "$tt" ] || { echo "   torch_train.py failed:"; tail -n 3 "$dir/torch.err"; tt="-"; }
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0 && b > 0) printf "%.2f", a/b; else printf "-" }'; }
printf "   %-10s %12s %12s %12s\n" "" "zfviz s" "torch s" "zfviz/torch"
printf "   %-10s %12s %12s %12s\n" "epoch" "$zf" "$tt" "$(ratio "$zf" "$tt")"
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
