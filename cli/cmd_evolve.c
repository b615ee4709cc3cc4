// cmd_evolve.c: `zfviz evolve CKPT... --data SPEC`: how features develop during training (Zeiler &
// Fergus 2014, Fig. 4): for each unit, the strongest activation over the dataset at each checkpoint,
// projected to pixel space; one row per checkpoint, one column per unit, one block per layer.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "cli_model.h"
#include "cli_topk.h"
#include "core/progress.h"
#include "core/topk.h"
#include "viz/font.h"
#include "viz/png.h"
#include "viz/render.h"

static const char EVOLVE_HELP[] =
    "usage: zfviz evolve CKPT.onnx... --data SPEC -o OUT.png [--layer L]... [--units LIST | --top N] [options]\n"
    "\n"
    "Shows how features develop during training, as Zeiler & Fergus (2014), Fig. 4: for each unit\n"
    "(feature map), the strongest activation over the dataset at each checkpoint, projected back\n"
    "to pixel space (deconvnet by default) and cropped to the unit's receptive field. One row per\n"
    "checkpoint, in the order given; one column per unit; one block per layer. The checkpoints are\n"
    "ONNX files of the same architecture (e.g. the epochs `zfviz train` saves). One line per\n"
    "checkpoint and unit on stdout: checkpoint, layer, unit, image, position and activation.\n"
    "\n"
    "Row labels: the checkpoint's zfviz.train.epoch metadata (zfviz train writes it), else the\n"
    "number after 'epoch' in its file name (epoch-05.onnx -> epoch 5), else the file name.\n"
    "\n"
    "options:\n"
    "  --data SPEC          the dataset (required; see zfviz topk --help)\n"
    "  -o OUT.png           the picture (required)\n"
    "  --layer L            a tensor name or index; repeat for several. Default: every\n"
    "                       convolution's ReLU output\n"
    "  --units LIST         the units shown in every layer, e.g. 0-7,12\n"
    "  --top N              otherwise: the N units with the strongest activation at the last\n"
    "                       checkpoint, strongest first (default 8)\n"
    "  --limit N            only the first N items of the dataset (faster)\n"
    "  --rule R             deconvnet (default), guided or gradient\n"
    "  --patches            show the image patch beside each projection\n"
    "  --batch B            images per forward pass (default 64, fewer for large models)\n"
    "  --preprocess SPEC    overrides the models' zfviz.preprocess metadata\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input\n"
    "\n"
    "examples:\n"
    "  zfviz evolve assets/models/checkpoints/zf28/epoch-*.onnx --data fashion-mnist -o evolve.png\n"
    "  zfviz evolve a.onnx b.onnx c.onnx --data fashion-mnist@2000 --layer relu2 --units 0-5 -o e.png\n";

#define MAX_CKPTS 256
#define MAX_NAMES 64
#define GAP 4

typedef struct {
    int n_units;
    int64_t *units;           // the columns
    char *name;               // the layer's tensor name (from the first checkpoint loaded)
    int th, tw, dh, dw;       // patch box and its picture size
    int rf_h, rf_w, rf_known; // the receptive field (larger than the patch when it exceeds the input)
    int64_t channels;
    zf_canvas *cells;         // [ckpt * n_units + u]: the picture of one unit at one checkpoint
    float *value;             // same indexing; NaN: no entry
} block;

typedef struct {
    block *b;                 // per layer
    const zf_topk *t;
    int row;
    int patches;
    const zf_preprocess *pp;
} draw_ctx;

static int draw_one(void *user, int layer, int unit, int rank, const zf_topk_entry *e, const zf_tensor *proj,
                    const zf_project_info *info, const zf_tensor *x, int64_t item, zf_error *err) {
    draw_ctx *c = user;
    block *b = &c->b[layer];
    zf_canvas *cell = &b->cells[(size_t)c->row * b->n_units + unit];
    int rc = zf_canvas_alloc(cell, c->patches ? 2 * b->dw + GAP : b->dw, b->dh, err);
    if (rc) return rc;
    zf_canvas_fill(cell, ZF_RGB(255, 255, 255));
    zf_canvas pv = zf_canvas_view(cell, 0, 0, b->dw, b->dh), iv = zf_canvas_view(cell, b->dw + GAP, 0, b->dw, b->dh);
    b->value[(size_t)c->row * b->n_units + unit] = e->value;
    return cli_entry_picture(&pv, c->patches ? &iv : NULL, proj, x, item, c->pp, &c->t->layers[layer].rf, e->y, e->x,
                             err);
}

typedef struct { zf_progress *p; } warn_ctx;

// Images a folder dataset cannot read are reported (on their own line, off the progress bar) and skipped.
static void warn_skip(void *user, const char *msg) {
    warn_ctx *w = user;
    if (w->p->enabled && w->p->drawn) { fputc('\n', stderr); w->p->drawn = 0; }
    fprintf(stderr, "zfviz evolve: warning: %s (skipped)\n", msg);
}

// "epoch 5" from metadata or the file name, else the file name without .onnx.
static void row_label(char *buf, size_t n, const zf_model *m, const char *path) {
    const char *meta = zf_model_meta(m, "zfviz.train.epoch");   // written by zfviz train
    if (!meta) meta = zf_model_meta(m, "zfviz.epoch");
    if (meta && *meta) {
        snprintf(buf, n, "epoch %s", meta);
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *e = strstr(base, "epoch");
    if (e) {
        const char *p = e + 5;
        while (*p && !isdigit((unsigned char)*p) && (*p == '-' || *p == '_' || *p == '.' || *p == ' ')) p++;
        if (isdigit((unsigned char)*p)) {
            long v = strtol(p, NULL, 10);
            snprintf(buf, n, "epoch %ld", v);
            return;
        }
    }
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".onnx")) len -= 5;
    snprintf(buf, n, "%.*s", (int)len, base);
}

// Keeps only the units `keep` (channels, in that order) of a k=1 layer.
static int restrict_units(zf_topk_layer *L, const int64_t *keep, int n, zf_error *err) {
    zf_topk_entry *top = zf_malloc((size_t)n * sizeof *top, err);
    int *count = zf_malloc((size_t)n * sizeof *count, err);
    if (!top || !count) { free(top); free(count); return ZF_ERR_RUNTIME; }
    for (int i = 0; i < n; i++) {
        int u = zf_topk_find_unit(L, keep[i]);
        if (u < 0) { free(top); free(count); return zf_fail(err, ZF_ERR_INPUT, "layer '%s': no unit %lld", L->name, (long long)keep[i]); }
        top[i] = L->top[u];
        count[i] = L->count[u];
    }
    memcpy(L->units, keep, (size_t)n * sizeof *keep);
    free(L->top);
    free(L->count);
    L->top = top;
    L->count = count;
    L->n_units = n;
    return 0;
}

int cmd_evolve(int argc, char **argv) {
    const char *cmd = "evolve";
    if (cli_wants_help(argc, argv)) { fputs(EVOLVE_HELP, stdout); return 0; }
    const char *ckpts[MAX_CKPTS], *names[MAX_NAMES];
    int n_ckpts = 0, n_names = 0, patches = 0, no_opts = 0;
    const char *data_spec = NULL, *out_path = NULL, *pp_spec = NULL, *units_arg = NULL, *v;
    long long top_n = 0, limit = 0, batch = 0, threads = 0;
    zf_rule rule = ZF_RULE_DECONVNET;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            const cli_int_flag ints[] = {
                {"--top", &top_n, 1, 1024},              {"--limit", &limit, 1, 1LL << 50},
                {"--batch", &batch, 1, CLI_MAX_BATCH},   {"--threads", &threads, 0, CLI_MAX_THREADS},
            };
            const cli_str_flag strs[] = {
                {"--data", &data_spec}, {"-o", &out_path}, {"--output", &out_path}, {"--preprocess", &pp_spec},
                {"--units", &units_arg},
            };
            if ((r = cli_table_opt(argc, argv, &i, cmd, ints, CLI_COUNT(ints), strs, CLI_COUNT(strs)))) {
                if (r == 2) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--layer"))) {
                if (r == 2) return 2;
                if (!*v) return cli_usage(cmd, "--layer needs a non-empty value");
                if (!strcmp(v, "all")) return cli_usage(cmd, "--layer all is not supported here (name the layers)");
                if (n_names == MAX_NAMES) return cli_usage(cmd, "more than %d --layer flags", MAX_NAMES);
                names[n_names++] = v;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--rule"))) {
                if (r == 2) return 2;
                zf_error e = {0};
                if (zf_rule_parse(&rule, v, &e)) return cli_usage(cmd, "--rule: %s", e.msg);
                continue;
            }
            if (!strcmp(a, "--patches")) { patches = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (n_ckpts == MAX_CKPTS) return cli_usage(cmd, "more than %d checkpoints", MAX_CKPTS);
        ckpts[n_ckpts++] = a;
    }
    if (!n_ckpts) return cli_usage(cmd, "missing CKPT (one or more .onnx files)");
    if (!data_spec) return cli_usage(cmd, "--data SPEC is required (e.g. --data fashion-mnist)");
    if (!out_path) return cli_usage(cmd, "-o OUT.png is required");
    if (units_arg && top_n) return cli_usage(cmd, "give either --units or --top, not both");
    if (pp_spec) {
        zf_preprocess tmp;
        zf_error e = {0};
        if (zf_preprocess_parse(&tmp, pp_spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }
    int64_t *units = NULL;
    int n_units = 0;
    if (units_arg && cli_units_parse(&units, &n_units, cmd, units_arg)) return 2;
    if (!top_n) top_n = 8;
    zf_data_spec *spec = malloc(sizeof *spec);
    if (!spec) { free(units); fputs("zfviz: out of memory\n", stderr); return 1; }
    {
        zf_error e = {0};
        if (zf_data_spec_parse(spec, data_spec, &e)) { free(spec); free(units); return cli_usage(cmd, "--data: %s", e.msg); }
    }

    zf_error err = {0};
    int rc = 0;
    zf_dataset ds = {0};
    cli_model_for_data md;
    memset(&md, 0, sizeof md);
    zf_topk t = {0};
    zf_projector *pj = NULL;
    zf_font *font = NULL;
    zf_canvas fig = {0};
    block *blocks = NULL;
    int n_blocks = 0;
    char (*labels)[128] = calloc((size_t)n_ckpts, sizeof *labels);
    zf_progress prog;
    memset(&prog, 0, sizeof prog);
    if (!labels) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }

    rc = zf_data_open_spec(&ds, spec, data_spec, &err);
    free(spec);
    spec = NULL;
    if (rc) goto fail;
    if (limit > 0) zf_data_limit(&ds, limit);
    warn_ctx wc = {&prog};
    ds.warn = warn_skip;   // reported for the first checkpoint only (below)
    ds.warn_user = &wc;
    {   // The output must be writable before the (long) work starts.
        int existed = !access(out_path, F_OK);
        FILE *f = fopen(out_path, "ab");
        if (!f) { rc = zf_fail(&err, ZF_ERR_INPUT, "%s: cannot write (%s)", out_path, strerror(errno)); goto fail; }
        fclose(f);
        if (!existed) unlink(out_path);
    }
    zf_font_load(&font, NULL, NULL);

    // The last checkpoint first: it chooses the units (--top) the other rows show.
    for (int step = 0; step < n_ckpts; step++) {
        int row = step == 0 ? n_ckpts - 1 : step - 1;
        const char *path = ckpts[row];
        if ((rc = cli_model_for_data_load(&md, path, &ds, batch, (int)threads, pp_spec, &err))) goto fail;
        row_label(labels[row], sizeof labels[row], &md.m, path);
        int values[CLI_TOPK_MAX_LAYERS], nv = 0;
        if (step == 0) {
            if ((rc = cli_layers_resolve(values, &nv, CLI_TOPK_MAX_LAYERS, &md.m, names, n_names, &err))) goto fail;
            if (!(blocks = calloc((size_t)nv, sizeof *blocks))) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
            n_blocks = nv;
        } else {
            for (int l = 0; l < n_blocks; l++) {
                values[l] = zf_model_find(&md.m, blocks[l].name);
                if (values[l] < 0) {
                    rc = zf_fail(&err, ZF_ERR_INPUT, "%s: no layer '%s' (checkpoints must share the architecture of %s)",
                                 path, blocks[l].name, ckpts[n_ckpts - 1]);
                    goto fail;
                }
            }
            nv = n_blocks;
        }
        if ((rc = zf_topk_init(&t, &md.m, values, nv, step == 0 ? units : NULL, step == 0 ? n_units : 0, 1, &err)) ||
            (rc = zf_topk_set_source(&t, path, 0, data_spec, ds.count, md.pp_text, &err)))
            goto fail;
        char label[160];
        snprintf(label, sizeof label, "evolve %d/%d", step + 1, n_ckpts);
        zf_progress_start(&prog, label, ds.count);
        if ((rc = zf_topk_run(&t, &md.m, &ds, &md.pp, &(zf_topk_run_opts){.progress = &prog}, &err))) goto fail;
        zf_progress_finish(&prog);
        memset(&prog, 0, sizeof prog);
        ds.warn = NULL;   // the same images fail again for every checkpoint: said once is enough
        const zf_tensor *in = &md.m.values[md.m.inputs[0]].t;
        for (int l = 0; l < n_blocks; l++) {
            block *b = &blocks[l];
            zf_topk_layer *L = &t.layers[l];
            if (step == 0) {
                if (!(b->name = strdup(L->name))) {
                    rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
                    goto fail;
                }
                b->channels = L->channels;
                if (units) {
                    b->n_units = n_units;
                } else {
                    // --top: the strongest units here, strongest first (ties: lower channel).
                    b->n_units = L->n_units < top_n ? L->n_units : (int)top_n;
                }
                if (!(b->units = calloc((size_t)b->n_units, sizeof *b->units)) ||
                    !(b->cells = calloc((size_t)b->n_units * n_ckpts, sizeof *b->cells)) ||
                    !(b->value = malloc((size_t)b->n_units * n_ckpts * sizeof *b->value))) {
                    rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
                    goto fail;
                }
                for (int i = 0; i < b->n_units * n_ckpts; i++) b->value[i] = NAN;
                if (units) {
                    memcpy(b->units, units, (size_t)n_units * sizeof *units);
                } else {
                    for (int i = 0; i < b->n_units; i++) {
                        int best = -1;
                        for (int u = 0; u < L->n_units; u++) {
                            int taken = 0;
                            for (int j = 0; j < i; j++) taken |= b->units[j] == L->units[u];
                            if (taken || !L->count[u]) continue;
                            if (best < 0 || L->top[u].value > L->top[best].value) best = u;
                        }
                        if (best < 0) {   // fewer units with data than asked
                            b->n_units = i;
                            break;
                        }
                        b->units[i] = L->units[best];
                    }
                    if (!b->n_units) {
                        rc = zf_fail(&err, ZF_ERR_INPUT, "layer '%s': no unit has an activation", L->name);
                        goto fail;
                    }
                }
                cli_entry_geometry(&b->th, &b->tw, &b->dh, &b->dw, &L->rf, in->dims[2], in->dims[3]);
                b->rf_known = L->rf.valid && !L->rf.global;
                b->rf_h = (int)L->rf.size[0];
                b->rf_w = (int)L->rf.size[1];
                if (b->dh < 40) {   // the paper's small tiles are hard to read: at least 40 pixels
                    int z = (40 + b->dh - 1) / b->dh;
                    b->dh *= z, b->dw *= z;
                }
            } else if (L->channels != b->channels) {
                rc = zf_fail(&err, ZF_ERR_INPUT, "%s: layer '%s' has %lld maps, %s has %lld (checkpoints must share the "
                             "architecture)", path, L->name, (long long)L->channels, ckpts[n_ckpts - 1],
                             (long long)b->channels);
                goto fail;
            }
            if ((rc = restrict_units(L, b->units, b->n_units, &err))) goto fail;
        }
        if ((rc = zf_projector_create(&pj, &md.m, &err))) goto fail;
        int all[CLI_TOPK_MAX_LAYERS];
        for (int l = 0; l < n_blocks; l++) all[l] = l;
        draw_ctx c = {blocks, &t, row, patches, &md.pp};
        if ((rc = zf_topk_project(&t, all, n_blocks, &md.m, pj, &ds, &md.pp, rule, NULL, draw_one, &c, &err))) goto fail;
        for (int l = 0; l < n_blocks; l++) {
            const zf_topk_layer *L = &t.layers[l];
            for (int u = 0; u < L->n_units; u++) {
                const zf_topk_entry *e = &L->top[u];
                if (L->count[u])
                    printf("%s  %s  unit %lld  image %lld  at %d,%d  act %.6g\n", path, L->name, (long long)L->units[u],
                           (long long)e->image, e->y, e->x, e->value);
                else printf("%s  %s  unit %lld  (no data)\n", path, L->name, (long long)L->units[u]);
            }
        }
        fflush(stdout);
        zf_projector_free(pj);
        pj = NULL;
        zf_topk_free(&t);
        cli_model_for_data_free(&md);
        memset(&md, 0, sizeof md);
    }

    // The figure: per layer a title, a header row of units, then one row per checkpoint with its
    // label on the left and the activation under each picture.
    {
        int px = ZF_FONT_DEFAULT_PX, lh = zf_font_line_height(font, px), pad = 10;
        int label_w = 0;
        for (int r = 0; r < n_ckpts; r++) {
            int w, h;
            zf_text_size(&w, &h, font, px, labels[r]);
            if (w > label_w) label_w = w;
        }
        int W = 0, H = pad;
        for (int l = 0; l < n_blocks; l++) {
            block *b = &blocks[l];
            int cw = (patches ? 2 * b->dw + GAP : b->dw);
            int colw = cw > 70 ? cw : 70;
            int w = pad + label_w + pad + b->n_units * (colw + pad);
            if (w > W) W = w;
            H += lh + 4 + lh + 2 + n_ckpts * (b->dh + lh + 6) + pad;
        }
        char title[512];
        snprintf(title, sizeof title, "Projections (%s) of each unit's strongest activation over %lld images (%s), "
                 "per checkpoint", zf_rule_name(rule), (long long)ds.count, data_spec);
        int tw_, th_;
        zf_text_size(&tw_, &th_, font, px, title);
        if (tw_ + 2 * pad > W) W = tw_ + 2 * pad;
        H += lh + 4;
        if ((rc = zf_canvas_alloc(&fig, W, H, &err))) goto fail;
        zf_canvas_fill(&fig, ZF_RGB(255, 255, 255));
        zf_rgba ink = ZF_RGB(0, 0, 0), dim = ZF_RGB(90, 90, 90);
        int y = pad;
        zf_canvas_text(&fig, pad, y, font, px, ink, title);
        y += lh + 4;
        for (int l = 0; l < n_blocks; l++) {
            block *b = &blocks[l];
            int cw = (patches ? 2 * b->dw + GAP : b->dw);
            int colw = cw > 70 ? cw : 70;
            char line[256];
            if (!b->rf_known) snprintf(line, sizeof line, "%s (whole input)", b->name);
            else if (b->rf_h == b->th && b->rf_w == b->tw)
                snprintf(line, sizeof line, "%s (receptive field %dx%d)", b->name, b->th, b->tw);
            else snprintf(line, sizeof line, "%s (receptive field %dx%d, shown within the %dx%d input)", b->name, b->rf_h,
                          b->rf_w, b->th, b->tw);
            zf_canvas_text(&fig, pad, y, font, px, ink, line);
            y += lh + 4;
            int x0 = pad + label_w + pad;
            for (int u = 0; u < b->n_units; u++) {
                snprintf(line, sizeof line, "unit %lld", (long long)b->units[u]);
                int w, h;
                zf_text_size(&w, &h, font, px, line);
                zf_canvas_text(&fig, x0 + u * (colw + pad) + (colw - w) / 2, y, font, px, dim, line);
            }
            y += lh + 2;
            for (int r = 0; r < n_ckpts; r++) {
                int w, h;
                zf_text_size(&w, &h, font, px, labels[r]);
                zf_canvas_text(&fig, pad + label_w - w, y + (b->dh - h) / 2, font, px, ink, labels[r]);
                for (int u = 0; u < b->n_units; u++) {
                    int x = x0 + u * (colw + pad) + (colw - cw) / 2;
                    const zf_canvas *cell = &b->cells[(size_t)r * b->n_units + u];
                    float val = b->value[(size_t)r * b->n_units + u];
                    if (cell->pixels) zf_canvas_blit(&fig, x, y, cell->width, cell->height, cell, ZF_FILTER_NEAREST, 1.0f);
                    else zf_canvas_rect(&fig, x, y, cw, b->dh, 1, ZF_RGB(200, 200, 200));
                    if (isnan(val)) snprintf(line, sizeof line, "-");
                    else snprintf(line, sizeof line, "%.3g", val);
                    zf_text_size(&w, &h, font, px, line);
                    zf_canvas_text(&fig, x0 + u * (colw + pad) + (colw - w) / 2, y + b->dh + 2, font, px, dim, line);
                }
                y += b->dh + lh + 6;
            }
            y += pad;
        }
        if ((rc = zf_png_write(out_path, &fig, &err))) goto fail;
        fprintf(stderr, "zfviz evolve: wrote %s (%dx%d)\n", out_path, fig.width, fig.height);
    }

fail:
    if (rc && prog.enabled && prog.drawn) fputc('\n', stderr);
    free(spec);
    if (blocks)
        for (int l = 0; l < n_blocks; l++) {
            block *b = &blocks[l];
            if (b->cells)
                for (int i = 0; i < b->n_units * n_ckpts; i++) zf_canvas_free(&b->cells[i]);
            free(b->cells);
            free(b->value);
            free(b->units);
            free(b->name);
        }
    free(blocks);
    free(labels);
    zf_canvas_free(&fig);
    zf_font_free(font);
    zf_projector_free(pj);
    zf_topk_free(&t);
    cli_model_for_data_free(&md);
    zf_data_close(&ds);
    free(units);
    return rc ? cli_fail(&err) : 0;
}
