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
# Each figure is paired with its peer in rounds (ROUNDS of them, RR timed runs each): the sgemm
# peak measured again, then zfviz, then PyTorch on the same model right after it (conv%pair's own
# passes come after both; until session 9 they sat between, 5-10 s apart). The machine's speed
# drifts over minutes (its sgemm peak has read from 91 to 164 GFLOP/s within an hour), so every
# round's ratios compare runs seconds apart; the table gives the medians of the rounds' ratios, and
# for zf/torch their range. The ms columns are medians of the rounds' medians.
ROUNDS=${ZF_BENCH_ROUNDS:-3}
# Timed passes per measurement: 15 (5 before session 8 let ZFNet's zf/torch swing 0.43-0.57 in one run).
RR=${ZF_BENCH_PASSES:-15}
PAIRS1=${ZF_BENCH_PAIRS:-30}   # conv%pair: sgemm + pass pairs per round at batch 1
PAIRS8=$(( PAIRS1 / 3 > 3 ? PAIRS1 / 3 : 3 ))   # and at batch 8 (a VGG-16 pass takes a second)
echo "== forward pass (threads $T; $ROUNDS rounds of sgemm peak, zfviz, PyTorch; $RR timed runs each)"
# conv%pk: the conv layers' FLOPs (direct convolution, as `zfviz info` counts them) over their
# median time, against the round's sgemm peak (the best of its runs); layers run as Winograd do
# fewer multiplies than that, so the figure is an effective rate and can pass 100%. "conv%best":
# the same from each layer's fastest pass, like for like with the peak (sgemm_peak's best run,
# bench_conv's best per layer). "conv%pair": each timed pass's conv rate against a 2048^3 sgemm
# run just before it in the same process on the same threads (`zfviz bench --vs-sgemm`, 30 pairs
# at batch 1, 10 at batch 8), each round's median, then the median of the rounds: a pair is a
# fraction of a second apart, so the machine's drift over minutes cancels. "im2col%" is conv%pk with --no-winograd (every layer im2col + GEMM; one run,
# after its own peak measurement).
printf "%-10s %5s %10s %10s %8s %8s %9s %9s %8s %12s %16s\n" model batch "zfviz ms" "GFLOP/s" "% peak" "conv%pk" "conv%best" "conv%pair" "im2col%" "torch ms" "zf/torch (range)"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%s", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2); else printf "-" }'; }
peak_now() { "$BUILD/tools/sgemm_peak" "$T" | sed -n 's/^sgemm-peak: \([0-9.]*\) GFLOP.*/\1/p'; }
pct_of() { awk -v g="$1" -v p="$2" 'BEGIN{ if (p > 0 && g > 0) printf "%.0f", 100*g/p }'; }
convgf_of() { awk '$2 == "Conv" { f += $4; t += $3 } END { if (t > 0) printf "%.1f", f / t }' "$1"; }
convbest_of() { awk '$2 == "Conv" { f += $4; t += $5 } END { if (t > 0) printf "%.1f", f / t }' "$1"; }
for spec in zfnet:224 alexnet:227 vgg16:224; do
  arch=${spec%%:*}; size=${spec##*:}
  model=$dir/$arch.onnx
  [ -f "$model" ] || "$Z" export --arch "$arch" --seed 1 -o "$model" >/dev/null || continue
  for b in 1 8; do
    mss=""; gfs=""; pcts=""; cpcts=""; bpcts=""; ppcts=""; tmss=""; rats=""
    for round in $(seq "$ROUNDS"); do
      pk=$(peak_now)
      # --per-layer lines on stderr: "layer OP MEDIAN_MS MFLOP MIN_MS NAME"
      line=$("$Z" bench "$model" --batch $b --threads $T --repeat $RR --per-layer 2>"$dir/$arch-b$b-r$round.layers")
      ms=$(echo "$line" | sed -n 's/^forward: median \([0-9.]*\) ms.*/\1/p')
      gf=$(echo "$line" | sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p')
      mss="$mss $ms"; gfs="$gfs $gf"
      pcts="$pcts $(pct_of "$gf" "$pk")"
      cpcts="$cpcts $(pct_of "$(convgf_of "$dir/$arch-b$b-r$round.layers")" "$pk")"
      bpcts="$bpcts $(pct_of "$(convbest_of "$dir/$arch-b$b-r$round.layers")" "$pk")"
      if [ $have_torch = 1 ]; then
        tms=$(/usr/bin/python3 tools/torch_bench.py "$arch" --size "$size" --batch $b --threads $T --repeat $RR 2>/dev/null |
              sed -n 's/^torch-forward: median \([0-9.]*\) ms.*/\1/p')
        if [ -n "$tms" ] && [ -n "$ms" ]; then
          tmss="$tmss $tms"
          rats="$rats $(ratio "$ms" "$tms")"
        fi
      fi
      # conv%pair in passes of their own (the main timing's passes run without a sgemm between), PAIRS
      # of them: single pairs range from 40% to 100% on this machine, and the median of 5 moved by
      # up to 15 points between runs a minute apart.
      pairs=$PAIRS1; [ "$b" = 1 ] || pairs=$PAIRS8
      "$Z" bench "$model" --batch $b --threads $T --repeat "$pairs" --per-layer --vs-sgemm 2>"$dir/$arch-b$b-r$round.pair" >/dev/null
      ppcts="$ppcts $(sed -n 's/^conv-vs-sgemm: median \([0-9]*\)%.*/\1/p' "$dir/$arch-b$b-r$round.pair")"
    done
    cp "$dir/$arch-b$b-r1.layers" "$dir/$arch-b$b.layers"
    ms=$(echo "$mss" | median); gf=$(echo "$gfs" | median); tms=$(echo "$tmss" | median)
    pct=$(echo "$pcts" | median); cpct=$(echo "$cpcts" | median); bpct=$(echo "$bpcts" | median)
    ppct=$(echo "$ppcts" | median)
    rat=$(echo "$rats" | median)
    range=$(echo "$rats" | tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi }')
    [ "$rat" = "-" ] || rat=$(printf "%.2f (%s)" "$rat" "$range")
    pk=$(peak_now)
    "$Z" bench "$model" --batch $b --threads $T --repeat $RR --per-layer --no-winograd 2>"$dir/$arch-b$b-im2col.layers" >/dev/null
    ipct=$(pct_of "$(convgf_of "$dir/$arch-b$b-im2col.layers")" "$pk")
    printf "%-10s %5s %10s %10s %8s %8s %9s %9s %8s %12s %16s\n" "$arch" "$b" "$ms" "$gf" "${pct:--}" "${cpct:--}" "${bpct:--}" "${ppct:--}" "${ipct:--}" "${tms:--}" "$rat"
  done
  echo "   memory ($arch, batch 1): $("$Z" bench "$model" --batch 1 --threads $T --repeat 1 --memory 2>&1 >/dev/null | grep -m1 '^memory:' || echo '-')"
done

[ "${ZF_BENCH_ONLY_FORWARD:-0}" = 1 ] && exit 0
for extra in tools/bench.d/*.sh; do
  [ -f "$extra" ] && BUILD=$BUILD Z=$Z T=$T R=$R PEAK=$peak HAVE_TORCH=$have_torch bash "$extra"
done
exit 0
