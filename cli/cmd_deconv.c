// cmd_deconv.c: `zfviz deconv MODEL IMAGE --layer L`: project units back to pixel space
// (deconvnet, guided backprop, gradient; core/project.h) and write PNGs (viz/projection.h).
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_model.h"
#include "core/graph.h"
#include "core/ops/op.h"
#include "core/image.h"
#include "core/project.h"
#include "core/onnx/onnx.h"
#include "viz/canvas.h"
#include "viz/colormap.h"
#include "viz/png.h"
#include "viz/projection.h"
#include "viz/render.h"

static const char DECONV_HELP[] =
    "usage: zfviz deconv MODEL (IMAGE | --tensor X.pb) --layer L [--unit C | --top N] [options]\n"
    "\n"
    "Projects units of layer L back to the input, as Zeiler & Fergus (2014, sec. 2.1) do: every\n"
    "other activation of L is set to zero and the signal is passed down, unpooling through the\n"
    "max-pool switches of the forward pass, rectifying at every ReLU, and filtering with the\n"
    "transposed weights (no biases). Only the unit's receptive field is computed. One line per\n"
    "projection on stdout: layer, unit, position, activation, and the box of the input outside\n"
    "which the projection is zero.\n"
    "\n"
    "what to project:\n"
    "  --layer L          tensor name, node name or index as listed by `zfviz info` (required)\n"
    "  --unit C           map (channel) C of L; default: the map with the strongest activation\n"
    "  --top N            the N maps with the strongest maximum, each projected separately\n"
    "                     (a grid picture, unit and activation under each tile)\n"
    "  --mode max|map     max: the map's single strongest activation (default, the paper's\n"
    "                     figures); map: the whole map, every activation at its value\n"
    "  --at Y,X           the activation at row Y, column X of the map instead\n"
    "  --rule R           deconvnet (default): relu of the signal at ReLUs, LRN skipped;\n"
    "                     guided: guided backpropagation (Springenberg et al.); gradient: the plain\n"
    "                     gradient (Simonyan et al.). All three seed the activation's own value.\n"
    "  --item K           batch item, when --tensor holds a batch (default 0)\n"
    "\n"
    "output:\n"
    "  -o OUT.png         the picture (default: none, only the printed lines)\n"
    "  --save-raw P.pb    the raw float projection as a TensorProto: (1,C,H,W) like the model\n"
    "                     input, or (N,C,H,W) for --top N in the printed order\n"
    "  --crop             show only the box the projection lies in, beside the matching image patch\n"
    "  --heatmap CMAP     a heatmap over the input image instead: gray, viridis, turbo, jet (largest\n"
    "                     |value| over channels), coolwarm or rdbu (signed sum over channels)\n"
    "  --alpha A          heatmap opacity over the image, 0..1 (default 0.5; 1 hides the image)\n"
    "  --zoom K           output pixels per input pixel (default: enough for about 224 pixels)\n"
    "  --filter F         nearest or bilinear upsampling (default: nearest for inputs up to 64\n"
    "                     pixels, e.g. 28x28 digits; bilinear above)\n"
    "  --range V          this |value| maps to full contrast in every picture (default: each\n"
    "                     picture normalized to its own largest |value|)\n"
    "  --columns N        grid columns for --top (default: about square)\n"
    "\n"
    "input (as zfviz run): --tensor X.pb feeds a TensorProto instead of an image; --preprocess SPEC\n"
    "(raw, torchvision, caffe, or \"mean=...;std=...;scale=...;bgr=1;resize=crop\") overrides the\n"
    "model's zfviz.preprocess metadata.\n"
    "\n"
    "other:\n"
    "  --time             print the forward time and milliseconds per projection on stderr\n"
    "  --repeat N         project each unit N times (timing; the median is printed)\n"
    "  --per-layer        also milliseconds per node, averaged over the projections (implies --time)\n"
    "  --dense            compute on whole tensors instead of the receptive field (a check)\n"
    "  --threads N        worker threads (default 0 = all cores)\n"
    "  --no-winograd      the forward pass's convolutions all as im2col + GEMM (see zfviz bench)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input (unknown layer, unit out of\n"
    "range, a layer whose projection is not defined, an output path that cannot be written)\n"
    "\n"
    "examples:\n"
    "  zfviz deconv zfnet.onnx cat.jpg --layer conv5 -o conv5.png\n"
    "  zfviz deconv zfnet.onnx cat.jpg --layer conv5 --top 9 --crop -o conv5-top9.png\n"
    "  zfviz deconv lenet.onnx digit.png --layer conv2 --unit 3 --rule guided --heatmap coolwarm -o g.png\n"
    "  zfviz deconv model.onnx --tensor x.pb --layer 12 --unit 0 --save-raw p.pb\n";

#define MAX_TOP 4096

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// An output path must be writable before any work is done: a probe file is created and removed
// in its folder (access() says yes to root even where nothing can be created, e.g. /proc).
static int check_writable(const char *path, zf_error *err) {
    char buf[4096], probe[4200];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", path);
    const char *dir = dirname(buf);
    snprintf(probe, sizeof probe, "%s/.zfviz-probe-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot write (%s: %s)", path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    if (!access(path, F_OK) && access(path, W_OK))
        return zf_fail(err, ZF_ERR_INPUT, "%s: cannot write (%s)", path, strerror(errno));
    return 0;
}

static int parse_pair(int64_t *a, int64_t *b, const char *s) {
    char *end;
    errno = 0;
    long long y = strtoll(s, &end, 10);
    if (end == s || *end != ',' || errno) return 1;
    const char *t = end + 1;
    long long x = strtoll(t, &end, 10);
    if (end == t || *end || errno || y < 0 || x < 0) return 1;
    *a = y;
    *b = x;
    return 0;
}

int cmd_deconv(int argc, char **argv) {
    const char *cmd = "deconv";
    if (cli_wants_help(argc, argv)) { fputs(DECONV_HELP, stdout); return 0; }
    const char *model_path = NULL, *image_path = NULL, *tensor_path = NULL, *layer = NULL, *out_path = NULL;
    const char *raw_path = NULL, *spec = NULL, *cmap_name = NULL, *v;
    long long unit = -1, top = 0, item = 0, zoom = 0, columns = 0, repeat = 1, threads = 0;
    double alpha = 0.5, range = 0;
    int have_at = 0, crop = 0, dense = 0, timing = 0, per_layer = 0, filter = -1, no_opts = 0, no_winograd = 0;
    double *node_s = NULL;   // --per-layer: seconds per node over every projection
    int64_t at_y = 0, at_x = 0;
    zf_rule rule = ZF_RULE_DECONVNET;
    zf_seed mode = ZF_SEED_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            const cli_int_flag ints[] = {
                {"--unit", &unit, 0, 1LL << 40}, {"--top", &top, 1, MAX_TOP},     {"--item", &item, 0, 1LL << 20},
                {"--zoom", &zoom, 1, 64},        {"--columns", &columns, 1, 1024}, {"--repeat", &repeat, 1, 100000},
                {"--threads", &threads, 0, CLI_MAX_THREADS},
            };
            const cli_str_flag strs[] = {
                {"--layer", &layer}, {"-o", &out_path}, {"--output", &out_path}, {"--save-raw", &raw_path},
                {"--tensor", &tensor_path}, {"--preprocess", &spec}, {"--heatmap", &cmap_name},
            };
            if ((r = cli_table_opt(argc, argv, &i, cmd, ints, CLI_COUNT(ints), strs, CLI_COUNT(strs)))) {
                if (r == 2) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--alpha"))) {
                if (r == 2 || cli_float(&alpha, cmd, "--alpha", v, 0, 1)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--range"))) {
                if (r == 2 || cli_float(&range, cmd, "--range", v, 1e-30, 1e30)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--mode"))) {
                if (r == 2) return 2;
                if (!strcmp(v, "max")) mode = ZF_SEED_MAX;
                else if (!strcmp(v, "map")) mode = ZF_SEED_MAP;
                else return cli_usage(cmd, "--mode expects max or map, got '%s'", v);
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--at"))) {
                if (r == 2) return 2;
                if (parse_pair(&at_y, &at_x, v)) return cli_usage(cmd, "--at expects Y,X (two integers >= 0), got '%s'", v);
                have_at = 1;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--rule"))) {
                if (r == 2) return 2;
                zf_error e = {0};
                if (zf_rule_parse(&rule, v, &e)) return cli_usage(cmd, "--rule: %s", e.msg);
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--filter"))) {
                if (r == 2) return 2;
                if (!strcmp(v, "nearest")) filter = ZF_FILTER_NEAREST;
                else if (!strcmp(v, "bilinear")) filter = ZF_FILTER_BILINEAR;
                else return cli_usage(cmd, "--filter expects nearest or bilinear, got '%s'", v);
                continue;
            }
            if (!strcmp(a, "--crop")) { crop = 1; continue; }
            if (!strcmp(a, "--dense")) { dense = 1; continue; }
            if (!strcmp(a, "--time")) { timing = 1; continue; }
            if (!strcmp(a, "--per-layer")) { per_layer = timing = 1; continue; }
            if (!strcmp(a, "--no-winograd")) { no_winograd = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (!model_path) model_path = a;
        else if (!image_path) image_path = a;
        else return cli_usage(cmd, "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (!image_path && !tensor_path) return cli_usage(cmd, "missing IMAGE (or --tensor X.pb)");
    if (image_path && tensor_path) return cli_usage(cmd, "give either IMAGE or --tensor, not both");
    if (!layer) return cli_usage(cmd, "missing --layer (a tensor name or index from `zfviz info MODEL`)");
    if (unit >= 0 && top) return cli_usage(cmd, "give either --unit or --top, not both");
    if (have_at && mode == ZF_SEED_MAP) return cli_usage(cmd, "--at and --mode map exclude each other");
    zf_colormap cmap = ZF_CMAP_GRAY;
    if (cmap_name) {
        zf_error e = {0};
        if (zf_colormap_parse(&cmap, cmap_name, &e)) return cli_usage(cmd, "--heatmap: %s", e.msg);
    }
    zf_preprocess flag_pp;
    if (spec) {
        zf_error e = {0};
        if (zf_preprocess_parse(&flag_pp, spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }

    zf_error err = {0};
    int rc = 0;
    zf_image img = {0}, display = {0};
    zf_tensor x = {0}, raw = {0}, proj = {0};
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_projector *pj = NULL;
    int64_t *units = NULL;
    float *maxima = NULL;
    zf_project_info *infos = NULL;
    zf_canvas *pics = NULL;
    zf_tile *tiles = NULL;
    char (*captions)[96] = NULL;
    zf_canvas sheet = {0};
    int n_units = 0;

    if ((out_path && (rc = check_writable(out_path, &err))) || (raw_path && (rc = check_writable(raw_path, &err))))
        goto fail;
    if (tensor_path) {
        if ((rc = zf_tensor_read_pb(&x, NULL, tensor_path, &err))) goto fail;
    } else if ((rc = zf_image_load(&img, image_path, &err))) {
        goto fail;
    }
    if ((rc = zf_onnx_read(&om, model_path, &err))) goto fail;
    // The planned input: the tensor's shape, or (1, C, H, W) from the model (sizes it leaves open
    // taken from the image).
    int n_in = 0;
    const zf_onnx_value_info *in = zf_onnx_data_input(&om.graph, &n_in);
    if (n_in != 1) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: the model has %d graph inputs; deconv projects onto a single image input",
                     model_path, n_in);
        goto fail;
    }
    zf_tensor shape = {0};
    if (!tensor_path) {
        if (in->ndim != 4) {
            rc = zf_fail(&err, ZF_ERR_INPUT, "%s: input '%s' is not (N,C,H,W): feed it with --tensor", model_path, in->name);
            goto fail;
        }
        if ((rc = cli_image_input_shape(&shape, in, img.height, img.width, model_path, &err))) goto fail;
    }
    zf_load_opts lo = zf_load_defaults();
    lo.threads = (int)threads;
    lo.no_winograd = no_winograd;
    lo.n_input_shapes = 1;
    lo.input_shapes = tensor_path ? &x : &shape;
    rc = zf_model_from_onnx(&m, &om, model_path, &lo, &err);
    zf_onnx_free(&om);
    if (rc) goto fail;
    zf_preprocess pp = zf_preprocess_raw();
    const char *meta = zf_model_meta(&m, ZF_META_PREPROCESS);
    if (meta && (rc = zf_preprocess_parse(&pp, meta, &err))) {
        zf_error_prefix(&err, "%s: metadata %s", model_path, ZF_META_PREPROCESS);
        goto fail;
    }
    if (spec) pp = flag_pp;
    const zf_value *iv = &m.values[m.inputs[0]];
    if (!tensor_path) {
        if ((rc = zf_image_to_tensor(&x, &img, &pp, (int)iv->t.dims[1], (int)iv->t.dims[2], (int)iv->t.dims[3], &err))) {
            zf_error_prefix(&err, "%s", image_path);
            goto fail;
        }
        zf_image_free(&img);
    }
    int lv = zf_model_find(&m, layer);
    if (lv < 0) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: unknown layer '%s' (see zfviz info %s)", model_path, layer, model_path);
        goto fail;
    }
    double t0 = now_ms();
    if ((rc = zf_model_forward_to(&m, 1, &x, lv, &err))) goto fail;   // the layers after lv are not needed
    double t_forward = now_ms() - t0;
    if ((rc = zf_projector_create(&pj, &m, &err))) goto fail;
    if (per_layer) {
        if (!(node_s = calloc((size_t)m.n_nodes + 1, sizeof *node_s))) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
        zf_projector_set_profile(pj, node_s);
    }

    // Which maps.
    int want = top ? (int)top : 1;
    if (!(units = calloc((size_t)want, sizeof *units)) || !(maxima = calloc((size_t)want, sizeof *maxima)) ||
        !(infos = calloc((size_t)want, sizeof *infos))) {
        rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    if (unit >= 0) {
        units[0] = unit;
        n_units = 1;
    } else {
        n_units = zf_project_top_maps(units, maxima, want, &m, lv, item, &err);
        if (n_units < 0) { rc = err.code ? err.code : ZF_ERR_INPUT; goto fail; }
        if (!n_units) {
            rc = zf_fail(&err, ZF_ERR_INPUT, "layer '%s' has no maps", layer);
            goto fail;
        }
    }

    // Project.
    const zf_tensor *it = &iv->t;
    int C = (int)(it->ndim >= 2 ? it->dims[1] : 1), H = (int)(it->ndim == 4 ? it->dims[2] : 1),
        W = (int)(it->ndim == 4 ? it->dims[3] : 1);
    int64_t per = zf_tensor_numel(it) / (it->ndim ? it->dims[0] : 1);
    // Every projection is kept only when something is written (--top 256 of a 224x224 model is
    // 150 MB).
    int keep = raw_path || out_path;
    int64_t rd[4] = {keep ? n_units : 1, C, H, W};
    if ((rc = zf_tensor_alloc(&raw, ZF_F32, it->ndim == 4 ? 4 : 2, it->ndim == 4 ? rd : (int64_t[]){rd[0], per}, &err)))
        goto fail;
    double *times = calloc((size_t)repeat, sizeof *times);
    if (!times) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
    double t_all = now_ms(), sum_median = 0, sum_min = 0;
    zf_project_opts o = zf_project_defaults();
    o.rule = rule;
    o.value = lv;
    o.item = item;
    o.seed = have_at ? ZF_SEED_AT : mode;
    o.y = at_y;
    o.x = at_x;
    o.dense = dense;
    if (n_units > 1 && !per_layer) {
        // Every map at once (zf_project_maps: spread over the threads); the times are per map.
        for (long long r = 0; r < repeat; r++) {
            double a = now_ms();
            if ((rc = zf_project_maps(keep ? zf_f32(&raw) : NULL, infos, pj, &o, units, n_units, &err))) {
                free(times);
                goto fail;
            }
            times[r] = (now_ms() - a) / n_units;
        }
        qsort(times, (size_t)repeat, sizeof *times, cmp_double);
        sum_median = times[repeat / 2] * n_units;
        sum_min = times[0] * n_units;
    }
    for (int k = 0; k < n_units; k++) {
        if (n_units == 1 || per_layer) {
            o.channel = units[k];
            for (long long r = 0; r < repeat; r++) {
                double a = now_ms();
                if ((rc = zf_project(&proj, &infos[k], pj, &o, &err))) {
                    free(times);
                    goto fail;
                }
                times[r] = now_ms() - a;
            }
            qsort(times, (size_t)repeat, sizeof *times, cmp_double);
            sum_median += times[repeat / 2];
            sum_min += times[0];
            if (keep) memcpy(zf_f32(&raw) + k * per, proj.data, (size_t)per * sizeof(float));
        }
        const zf_project_info *in_ = &infos[k];
        printf("layer %s  unit %lld  at %lld,%lld  act %.6g  rule %s  box %lld:%lld,%lld:%lld%s\n", m.values[lv].name,
               (long long)units[k], (long long)in_->y, (long long)in_->x, in_->value, zf_rule_name(rule),
               (long long)in_->box[0][0], (long long)in_->box[0][1], (long long)in_->box[1][0],
               (long long)in_->box[1][1], in_->empty ? "  (empty: rectified away)" : "");
    }
    free(times);
    t_all = now_ms() - t_all;
    fflush(stdout);
    if (timing)
        fprintf(stderr, "deconv: forward %.2f ms; %d projection%s, %.3f ms each (median of %lld; min %.3f), %.1f ms "
                "in all\n", t_forward, n_units, n_units == 1 ? "" : "s", sum_median / n_units, repeat, sum_min / n_units,
                t_all);
    if (node_s)
        for (int k = 0; k < m.n_nodes; k++)
            if (node_s[k] > 0)
                fprintf(stderr, "deconv: node %-12s %-24s %.4f ms\n", m.nodes[k].op->type, m.nodes[k].name,
                        node_s[k] * 1e3 / ((double)n_units * (double)repeat));

    if (raw_path && (rc = zf_tensor_write_pb(raw_path, &raw, "projection", &err))) goto fail;
    if (!out_path) goto done;

    // Pictures.
    if (C != 1 && C != 3) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: input has %d channels: only 1 or 3 can be drawn (use --save-raw)",
                     model_path, C);
        goto fail;
    }
    if ((rc = zf_image_from_tensor(&display, &x, item, &pp, &err))) goto fail;
    zf_projection_picture po = zf_projection_picture_defaults();
    po.heatmap = cmap_name != NULL;
    po.cmap = cmap;
    po.alpha = (float)alpha;
    po.image = &display;
    po.crop = crop;
    po.range = (float)range;
    po.bgr = pp.bgr;
    int side = H > W ? H : W;
    if (crop && n_units) {
        side = 1;
        for (int k = 0; k < n_units; k++) {
            int bh = (int)(infos[k].box[0][1] - infos[k].box[0][0]), bw = (int)(infos[k].box[1][1] - infos[k].box[1][0]);
            side = bh > side ? bh : side;
            side = bw > side ? bw : side;
        }
    }
    int target = top > 1 ? 112 : 224;
    po.zoom = zoom ? (int)zoom : (side >= target ? 1 : (target + side - 1) / side);
    po.filter = filter >= 0 ? (zf_filter)filter : (H <= 64 && W <= 64) ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR;
    if (!(pics = calloc((size_t)n_units, sizeof *pics))) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
    for (int k = 0; k < n_units; k++) {
        memcpy(po.box, infos[k].box, sizeof po.box);
        if ((rc = zf_render_projection_picture(&pics[k], zf_f32(&raw) + k * per, C, H, W, &po, &err))) goto fail;
    }
    if (n_units == 1 && !top) {
        rc = zf_png_write(out_path, &pics[0], &err);
    } else {
        if (!(tiles = calloc((size_t)n_units, sizeof *tiles)) || !(captions = calloc((size_t)n_units, sizeof *captions))) {
            rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
            goto fail;
        }
        int tw = 1, th = 1;
        for (int k = 0; k < n_units; k++) {
            snprintf(captions[k], sizeof captions[k], "unit %lld  act %.3g", (long long)units[k], infos[k].value);
            tiles[k].canvas = &pics[k];
            tiles[k].caption = captions[k];
            tw = pics[k].width > tw ? pics[k].width : tw;
            th = pics[k].height > th ? pics[k].height : th;
        }
        char title[256];
        snprintf(title, sizeof title, "%s  %s  top %d maps", m.values[lv].name, zf_rule_name(rule), n_units);
        zf_grid_options go = {.tile_w = tw, .tile_h = th, .columns = (int)columns, .pad = 6, .title = title,
                              .filter = ZF_FILTER_NEAREST};
        if ((rc = zf_render_grid(&sheet, tiles, n_units, &go, &err))) goto fail;
        rc = zf_png_write(out_path, &sheet, &err);
    }
done:
fail:
    if (pics)
        for (int k = 0; k < n_units; k++) zf_canvas_free(&pics[k]);
    free(pics);
    free(tiles);
    free(captions);
    zf_canvas_free(&sheet);
    free(units);
    free(maxima);
    free(infos);
    free(node_s);
    zf_projector_free(pj);
    zf_image_free(&img);
    zf_image_free(&display);
    zf_tensor_free(&x);
    zf_tensor_free(&raw);
    zf_tensor_free(&proj);
    zf_onnx_free(&om);
    zf_model_free(&m);
    return rc ? cli_fail(&err) : 0;
}
