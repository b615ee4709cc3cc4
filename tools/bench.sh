#!/bin/bash
# make bench: speed figures, each as a ratio against a peer measured in the same run (this machine's
# absolute timings are noisy): OpenBLAS sgemm peak, and PyTorch on CPU with the same thread count
# when python3-torch is installed. Not a test: it asserts nothing. Usage: tools/bench.sh BUILD
set -u
BUILD=${1:-build}
Z=$BUILD/zfviz
T=${ZF_BENCH_THREADS:-$(nproc)}
R=${ZF_BENCH_REPEAT:-10}
dir=$BUILD/bench
mkdir -p "$dir"
have_torch=0
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null && have_torch=1

peak_line=$("$BUILD/tools/sgemm_peak" "$T")
peak=$(echo "$peak_line" | sed -n 's/^sgemm-peak: \([0-9.]*\) GFLOP.*/\1/p')
echo "$peak_line"
[ $have_torch = 1 ] || echo "(python3-torch not installed: PyTorch ratios omitted)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else printf "-" }'; }

echo
echo "== forward pass (threads $T, median of $R)"
# conv%pk: the conv layers' FLOPs (direct convolution, as `zfviz info` counts them) over their time,
# against the sgemm peak; layers run as Winograd do fewer multiplies than that, so the figure is an
# effective rate and can pass 100%. "im2col%" is the same with --no-winograd (every layer im2col + GEMM).
printf "%-10s %5s %10s %10s %8s %8s %8s %12s %10s\n" model batch "zfviz ms" "GFLOP/s" "% peak" "conv%pk" "im2col%" "torch ms" "zf/torch"
for spec in zfnet:224 alexnet:227 vgg16:224; do
  arch=${spec%%:*}; size=${spec##*:}
  model=$dir/$arch.onnx
  [ -f "$model" ] || "$Z" export --arch "$arch" --seed 1 -o "$model" >/dev/null || continue
  for b in 1 8; do
    line=$("$Z" bench "$model" --batch $b --threads $T --repeat $R --per-layer 2>"$dir/$arch-b$b.layers")
    ms=$(echo "$line" | sed -n 's/^forward: median \([0-9.]*\) ms.*/\1/p')
    gf=$(echo "$line" | sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p')
    # Conv layers alone: sum of their MFLOPs over the sum of their ms (--per-layer lines on stderr:
    # "layer OP MEDIAN_MS MFLOP NAME").
    convgf=$(awk '$2 == "Conv" { f += $4; t += $3 } END { if (t > 0) printf "%.1f", f / t }' "$dir/$arch-b$b.layers")
    "$Z" bench "$model" --batch $b --threads $T --repeat $R --per-layer --no-winograd 2>"$dir/$arch-b$b-im2col.layers" >/dev/null
    im2colgf=$(awk '$2 == "Conv" { f += $4; t += $3 } END { if (t > 0) printf "%.1f", f / t }' "$dir/$arch-b$b-im2col.layers")
    tms="-"
    if [ $have_torch = 1 ]; then
      tms=$(/usr/bin/python3 tools/torch_bench.py "$arch" --size "$size" --batch $b --threads $T --repeat $R 2>/dev/null |
            sed -n 's/^torch-forward: median \([0-9.]*\) ms.*/\1/p')
      [ -n "$tms" ] || tms="-"
    fi
    pct=$(awk -v g="$gf" -v p="$peak" 'BEGIN{ if (p > 0) printf "%.0f", 100*g/p }')
    cpct=$(awk -v g="$convgf" -v p="$peak" 'BEGIN{ if (p > 0 && g > 0) printf "%.0f", 100*g/p; else printf "-" }')
    ipct=$(awk -v g="$im2colgf" -v p="$peak" 'BEGIN{ if (p > 0 && g > 0) printf "%.0f", 100*g/p; else printf "-" }')
    printf "%-10s %5s %10s %10s %8s %8s %8s %12s %10s\n" "$arch" "$b" "$ms" "$gf" "$pct" "$cpct" "$ipct" "$tms" "$(ratio "$ms" "$tms")"
  done
  echo "   memory ($arch, batch 1): $("$Z" bench "$model" --batch 1 --threads $T --repeat 1 --memory 2>&1 >/dev/null | grep -m1 '^memory:' || echo '-')"
done

[ "${ZF_BENCH_ONLY_FORWARD:-0}" = 1 ] && exit 0
for extra in tools/bench.d/*.sh; do
  [ -f "$extra" ] && BUILD=$BUILD Z=$Z T=$T R=$R PEAK=$peak HAVE_TORCH=$have_torch bash "$extra"
done
exit 0
