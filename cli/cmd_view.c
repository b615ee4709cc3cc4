// cmd_view.c: `zfviz view [MODEL] [IMAGE...]`: the interactive feature-map browser (viz/viewer/).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "cli_model.h"
#include "viz/viewer/viewer.h"

static const char VIEW_HELP[] =
    "usage: zfviz view [MODEL.onnx] [IMAGE...] [options]\n"
    "\n"
    "Opens a window to browse what a CNN computes: the input image with the selected unit's\n"
    "receptive field, the layer list, every feature map of the selected layer as a tile, the\n"
    "selected unit enlarged, its projection to pixel space (deconvnet, guided backpropagation or\n"
    "gradient), the top-5 classes, live occlusion under the mouse and the full occlusion map.\n"
    "Without MODEL: assets/models/default.onnx, or the built-in LeNet while that does not exist.\n"
    "Without IMAGE: the sample images (assets/samples/*.png). The first argument is the model when\n"
    "it ends in .onnx. Gray and color models, any input size, non-square inputs.\n"
    "\n"
    "options:\n"
    "  --layer NAME          first layer shown (name, #k or k as listed by zfviz info)\n"
    "  --unit N              first unit (map) selected (default 0)\n"
    "  --script FILE         replay the events in FILE (one per line: key, click, move, wheel,\n"
    "                        drop, wait, resize, screenshot, sync, redraw, quit), then quit\n"
    "  --screenshot-dir DIR  where script screenshots and the s key's PNGs go (default .)\n"
    "  --headless            no window: draw in memory; without --script, save the view and its\n"
    "                        panes as DIR/view*.png once everything is computed\n"
    "  --size WxH            window size (default 1280x800)\n"
    "  --ui-scale F          text and padding scale (default: the display's HiDPI factor)\n"
    "  --threads N           model threads (default 0 = all cores)\n"
    "  --labels FILE         class names, one per line (overrides the model's zfviz.labels)\n"
    "  --preprocess SPEC     raw, torchvision, caffe or key=value items (see zfviz run --help)\n"
    "  --input-size HxW      input size for models whose height and width are symbolic (default\n"
    "                        224x224)\n"
    "  --occlusion-size N    side of the occluding gray square in input pixels (default: 1/6 of\n"
    "                        the input)\n"
    "  --occlusion-stride N  step of the full occlusion map (default: about 14 positions a side)\n"
    "  --timings FILE        at exit, write frame times and latencies to FILE (- = stderr)\n"
    "  --vsync               present frames in step with the display refresh (off: lower latency;\n"
    "                        the viewer draws only on change, so there is no animation to tear)\n"
    "  --font FILE           TrueType font (default DejaVu Sans)\n"
    "  --topk DIR            top-k index folder for the top-9 pane (default: MODEL.topk, as\n"
    "                        written by zfviz topk)\n"
    "  -h, --help            this help\n"
    "\n"
    "keys (h or ? in the window shows them too):\n"
    "  h ?            help            q Esc      quit\n"
    "  u o            previous / next layer (also Ctrl+PageUp / Ctrl+PageDown)\n"
    "  arrows         move the selected unit; Home End a: first, last, strongest unit\n"
    "  PageUp/Down    scroll the grid (the mouse wheel too)\n"
    "  b              projection rule: deconvnet, guided, gradient\n"
    "  f              projection of the receptive field box / of the whole input\n"
    "  c              live occlusion under the mouse on/off\n"
    "  m              occlusion map overlay: p(class), activation of the selected map, off\n"
    "  [ ]            occluding square smaller / larger\n"
    "  t              contrast boost      z Z (+ -)  zoom the grid in / out\n"
    "  n p            next / previous image (Space, Backspace)\n"
    "  s              save the view and each pane as PNG (paths printed on stdout)\n"
    "  mouse          click a tile: select it; click the enlarged map: project from there;\n"
    "                 drop an image file on the window: open it\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure (no display: try --headless), 2 bad usage or input\n"
    "\n"
    "examples:\n"
    "  zfviz view\n"
    "  zfviz view zfnet.onnx cat.jpg dog.jpg --layer conv5\n"
    "  zfviz view lenet.onnx --headless --script tour.script --screenshot-dir shots\n";

static int parse_wxh(int *w, int *h, const char *flag, const char *s) {
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return cli_usage("view", "%s expects WxH like 1280x800, got '%s'", flag, s);
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || a < 1 || b < 1 || a > 16384 || b > 16384)
        return cli_usage("view", "%s expects WxH with sides 1..16384, got '%s'", flag, s);
    *w = (int)a, *h = (int)b;
    return 0;
}

static int is_onnx(const char *p) {
    size_t n = strlen(p);
    return n > 5 && !strcasecmp(p + n - 5, ".onnx");
}

int cmd_view(int argc, char **argv) {
    const char *cmd = "view";
    if (cli_wants_help(argc, argv)) { fputs(VIEW_HELP, stdout); return 0; }
    zf_viewer_options o = zf_viewer_defaults();
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    if (!images) { fprintf(stderr, "zfviz: out of memory\n"); return 1; }
    int n_images = 0, no_opts = 0, rc = 0;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            if (!strcmp(a, "--headless")) { o.headless = 1; continue; }
            if (!strcmp(a, "--vsync")) { o.vsync = 1; continue; }
            long long n;
            double f;
#define INT_FLAG(name, lo, hi, dst)                                                  \
    if ((r = cli_opt(&v, argc, argv, &i, cmd, name))) {                              \
        if (r == 2 || cli_int(&n, cmd, name, v, lo, hi)) { rc = 2; goto out; }       \
        dst = n;                                                                     \
        continue;                                                                    \
    }
            INT_FLAG("--unit", 0, 1LL << 40, o.unit)
            INT_FLAG("--threads", 0, CLI_MAX_THREADS, o.threads)
            INT_FLAG("--occlusion-size", 1, 1 << 20, o.occlusion_size)
            INT_FLAG("--occlusion-stride", 1, 1 << 20, o.occlusion_stride)
#undef INT_FLAG
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--ui-scale"))) {
                if (r == 2 || cli_float(&f, cmd, "--ui-scale", v, 0.25, 8)) { rc = 2; goto out; }
                o.ui_scale = (float)f;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--size"))) {
                if (r == 2 || parse_wxh(&o.width, &o.height, "--size", v)) { rc = 2; goto out; }
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--input-size"))) {
                int w, h;   // given as HxW
                if (r == 2 || parse_wxh(&h, &w, "--input-size", v)) { rc = 2; goto out; }
                o.input_h = h, o.input_w = w;
                continue;
            }
            static const char *const str_flags[] = {"--layer", "--script", "--screenshot-dir", "--labels",
                                                    "--preprocess", "--timings", "--font", "--topk"};
            const char **dsts[] = {&o.layer, &o.script, &o.screenshot_dir, &o.labels, &o.preprocess, &o.timings, &o.font,
                                   &o.topk};
            int matched = 0;
            for (int k = 0; k < 8 && !matched; k++) {
                if ((r = cli_opt(&v, argc, argv, &i, cmd, str_flags[k]))) {
                    if (r == 2) { rc = 2; goto out; }
                    if (!*v) { rc = cli_usage(cmd, "%s needs a non-empty value", str_flags[k]); goto out; }
                    *dsts[k] = v;
                    matched = 1;
                }
            }
            if (matched) continue;
            rc = cli_usage(cmd, "unknown flag '%s'", a);
            goto out;
        }
        if (!o.model && !n_images && is_onnx(a)) o.model = a;
        else images[n_images++] = a;
    }
    o.images = images;
    o.n_images = n_images;
    zf_error err = {0};
    if (zf_viewer_run(&o, &err)) rc = cli_fail(&err);
out:
    free(images);
    return rc;
}
