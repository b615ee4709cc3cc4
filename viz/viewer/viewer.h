// viewer.h: the interactive feature-map browser behind `zfviz view` (SDL2): the input image with the
// selected unit's receptive field, the layer list, every map of the selected layer as a tile, the
// selected unit enlarged, its projection to pixel space (deconvnet / guided / gradient), the top-5
// classes, live occlusion under the mouse and the full occlusion map, and a status line. Scripted
// (replayed events with a screenshot per step) and headless (no window) modes make it testable.
//
//   zf_viewer_options o = zf_viewer_defaults();
//   o.model = "zfnet.onnx";                       // NULL: the default model and sample images
//   const char *imgs[] = {"cat.jpg"}; o.images = imgs; o.n_images = 1;
//   o.script = "demo.script"; o.screenshot_dir = "shots"; o.headless = 1;
//   if (zf_viewer_run(&o, &err)) fprintf(stderr, "zfviz: %s\n", err.msg);
//
// Model work (forward passes, projections, occlusion) runs on a worker thread; the window thread
// only draws (see viz/viewer/internal.h). docs/viewer.md has the key table and the script format.
#ifndef ZF_VIEWER_H
#define ZF_VIEWER_H
#include <stdint.h>
#include "core/error.h"

typedef struct zf_viewer_options {
    const char *model;             // ONNX file; NULL: assets/models/default.onnx, else the built-in LeNet
    const char *const *images;     // images to browse (n/p keys); none: the sample images
    int n_images;
    const char *layer;             // first layer shown (name, "#k" or k as in `zfviz info`); NULL: the first
    int64_t unit;                  // first unit selected
    const char *script;            // replay this event script, then quit
    const char *screenshot_dir;    // script screenshots and `s` saves go here (NULL: ".")
    int headless;                  // no window: draw into memory, save PNGs
    int width, height;             // window (or headless canvas) size; 0: 1280 x 800
    float ui_scale;                // text and padding scale; 0: from the display (HiDPI)
    int threads;                   // model threads; 0: all cores
    const char *labels;            // class names file (overrides the model's metadata)
    const char *preprocess;        // preprocessing spec (overrides the model's metadata)
    int64_t input_h, input_w;      // input size for models whose H, W are symbolic (0: 224)
    const char *timings;           // write latency measurements here at exit ("-": stderr)
    int vsync;                     // present frames in step with the display's refresh
    const char *font;              // TrueType font file (NULL: DejaVu Sans)
    int occlusion_size;            // occluding square side in input pixels (0: a sixth of the input)
    int occlusion_stride;          // full-map stride (0: about 14 positions per side)
    const char *topk;              // top-k index folder (zfviz topk); NULL: <model without .onnx>.topk
} zf_viewer_options;

zf_viewer_options zf_viewer_defaults(void);
// Runs until the user quits (or the script ends). Errors before the window opens (bad model, bad
// script, no display) return nonzero with err set; errors afterwards (a corrupt dropped file) are
// shown in the window and the viewer keeps running.
int zf_viewer_run(const zf_viewer_options *o, zf_error *err);

#endif
