#!/bin/bash
# make bench, deconvolution section (run by tools/bench.sh with BUILD, Z, T, R, PEAK, HAVE_TORCH):
# ZFNet-224, the strongest unit of conv5 (after its ReLU) projected back to the image: ms per
# projection, and all 256 conv5 maps projected from one image; PyTorch's hook-based projection of
# the same model and input (tools/torch_deconv.py) timed in the same run.
# ZF_BENCH_DECONV_MAPS limits the maps PyTorch projects (default all 256; zfviz always does 256).
set -u
dir=$BUILD/bench/deconv
mkdir -p "$dir"
maps=${ZF_BENCH_DECONV_MAPS:-0}
img=/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg
echo
echo "== deconv: ZFNet-224, conv5 strongest unit back to pixels (deconvnet rule, threads $T)"
layer=""; unit=""; t1="-"; tall="-"; tret="-"; tn=256
if [ "$HAVE_TORCH" = 1 ]; then
  # Exports the PyTorch ZFNet (seed 0) and the preprocessed image, then times PyTorch.
  /usr/bin/python3 tools/torch_deconv.py bench -o "$dir" --threads "$T" --repeat "$R" --maps "$maps" \
      --image "$img" >"$dir/torch.txt" 2>"$dir/torch.err" || { echo "   torch_deconv.py failed:"; tail -n 3 "$dir/torch.err"; }
  layer=$(sed -n 's/^layer: //p' "$dir/torch.txt")
  unit=$(sed -n 's/^unit: //p' "$dir/torch.txt")
  t1=$(sed -n 's/^torch-deconv: one projection.*median \([0-9.]*\) ms.*/\1/p' "$dir/torch.txt")
  tall=$(sed -n 's/^torch-deconv: \([0-9]*\) maps (forward + backward each): \([0-9.]*\) ms total.*/\2/p' "$dir/torch.txt")
  tn=$(sed -n 's/^torch-deconv: \([0-9]*\) maps (forward + backward each).*/\1/p' "$dir/torch.txt")
  tret=$(sed -n 's/^torch-deconv: [0-9]* maps (one forward, retained graph): \([0-9.]*\) ms total.*/\1/p' "$dir/torch.txt")
  model=$dir/zfnet.onnx
  input=(--tensor "$dir/input.pb")
fi
if [ -z "$layer" ]; then
  # No PyTorch: zfviz's own ZFNet (random weights) on the same picture (or a sample image).
  model=$dir/zfnet-zf.onnx
  [ -f "$model" ] || "$Z" export --arch zfnet --seed 1 -o "$model" >/dev/null
  layer=relu5
  [ -f "$img" ] || img=$(ls assets/samples/*.png | head -n 1)
  input=("$img" --preprocess torchvision)
fi
[ -n "$unit" ] || unit=$("$Z" deconv "$model" "${input[@]}" --layer "$layer" 2>/dev/null | sed -n 's/.*  unit \([0-9]*\) .*/\1/p')
one=$("$Z" deconv "$model" "${input[@]}" --layer "$layer" --unit "$unit" --time --repeat "$R" --threads "$T" 2>&1 >/dev/null |
      sed -n 's/.*projection, \([0-9.]*\) ms each.*/\1/p')
dense=$("$Z" deconv "$model" "${input[@]}" --layer "$layer" --unit "$unit" --time --repeat 3 --dense --threads "$T" 2>&1 >/dev/null |
        sed -n 's/.*projection, \([0-9.]*\) ms each.*/\1/p')
# All 256 maps: zfviz's forward pass plus 256 projections (zf_project_maps), as PyTorch's "retained
# graph" figure is one forward plus 256 backwards. Three passes over the maps, their median (the
# first also creates the extra projection buffers: "lanes", docs/deconvolution.md).
all=$("$Z" deconv "$model" "${input[@]}" --layer "$layer" --top 256 --time --repeat 3 --threads "$T" 2>&1 >/dev/null |
      sed -n 's/^deconv: forward \([0-9.]*\) ms; \([0-9]*\) projections, \([0-9.]*\) ms each.*/\1 \2 \3/p' |
      awk '{ printf "%.1f", $1 + $2 * $3 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0 && b > 0) printf "%.1fx", a/b; else printf "-" }'; }
# PyTorch's all-maps figures scaled to 256 maps when fewer were timed.
scale() { awk -v t="$1" -v n="$2" 'BEGIN{ if (t > 0 && n > 0) printf "%.0f", t * 256 / n; else printf "-" }'; }
tall256=$(scale "$tall" "$tn"); tret256=$(scale "$tret" "$tn")
printf "   %-44s %12s %12s %10s\n" "" "zfviz" "torch" "speed-up"
printf "   %-44s %9s ms %9s ms %10s\n" "one projection (median of $R)" "${one:--}" "${t1:--}" "$(ratio "$t1" "$one")"
printf "   %-44s %9s ms %12s\n" "  same, dense (whole tensors; zfviz --dense)" "${dense:--}" ""
printf "   %-44s %9s ms %9s ms %10s\n" "all 256 maps, one forward (torch: fwd+bwd each)" "${all:--}" "$tall256" "$(ratio "$tall256" "$all")"
printf "   %-44s %12s %9s ms %10s\n" "  torch with one forward (retained graph)" "" "$tret256" "$(ratio "$tret256" "$all")"
[ "$tn" != 256 ] && [ "$HAVE_TORCH" = 1 ] && echo "   (PyTorch timed on $tn maps, scaled to 256)"
echo "   model $model, layer $layer, unit $unit"
exit 0
