#!/bin/bash
# The main job on the embedded default model (make demo). With a display: opens the viewer on the
# default model and the sample images. Without one (or with ZF_DEMO_HEADLESS=1): writes a
# deconvolution grid, occlusion heatmaps and the top-9 grid for one layer into demo-out/ and prints
# the paths. Usage: tools/demo.sh BUILD
set -e
BUILD=${1:-build}
Z=$BUILD/zfviz
out=demo-out
mkdir -p "$out"
model=assets/models/default.onnx
layer=relu5
if [ ! -f "$model" ]; then
  # Until a trained default is shipped: the seed LeNet, exported by zfviz itself.
  model=$out/lenet-seed.onnx
  layer=relu2
  "$Z" export --arch lenet --seed 1 -o "$model" >/dev/null
  echo "zfviz demo: no trained default in assets/models yet; using the seed LeNet (random weights)"
fi
sample=assets/samples/9-ankle-boot-test0.png

echo "== zfviz info $model"
"$Z" info "$model"
echo "== zfviz run $model $sample --top 3"
"$Z" run "$model" "$sample" --top 3

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${ZF_DEMO_HEADLESS:-0}" != 1 ]; then
  echo "== zfviz view $model assets/samples/*.png   (h for help, q to quit)"
  exec "$Z" view "$model" assets/samples/*.png
fi

"$Z" deconv "$model" "$sample" --layer "$layer" --top 16 -o "$out/deconv-$layer-top16.png"
"$Z" occlude "$model" assets/samples/*.png -o "$out/occlusion" --report >/dev/null
topk_data="fashion-mnist:test@2000"
if "$Z" topk "$model" --data "$topk_data" --layer "$layer" -o "$out/topk" >/dev/null 2>"$out/topk.log"; then
  topk_png=$(ls "$out"/topk/*.png 2>/dev/null | head -1)
else
  topk_png="(skipped: $(tail -1 "$out/topk.log"))"
fi
echo
echo "zfviz demo: wrote"
echo "  deconvolution grid:   $out/deconv-$layer-top16.png"
echo "  occlusion heatmaps:   $out/occlusion/*.heatmap.png, report $out/occlusion/index.html"
echo "  top-9 grid ($layer):   $topk_png"
