// cmd_topk.c: `zfviz topk MODEL --data SPEC`: every unit's k strongest activations over a dataset,
// each projected to pixel space beside its image patch (Zeiler & Fergus 2014, Fig. 2), one grid
// picture per layer plus the index the viewer reads (core/topk.h). Streaming and resumable.
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "cli_model.h"
#include "cli_topk.h"
#include "core/progress.h"
#include "core/topk.h"
#include "viz/font.h"
#include "viz/png.h"
#include "viz/render.h"

static const char TOPK_HELP[] =
    "usage: zfviz topk MODEL --data SPEC [--layer L]... [--units LIST] [--k N] [-o DIR] [options]\n"
    "\n"
    "For every unit (feature map) of the chosen layers, finds the k images of the dataset on which\n"
    "it responds most strongly (each image counted once, at the map's strongest position), projects\n"
    "each of those activations back to pixel space (deconvnet by default) and draws it beside the\n"
    "image patch the unit sees: Zeiler & Fergus (2014), Fig. 2. One grid picture per layer; per\n"
    "unit, the k projections on the left and the k patches on the right, strongest first.\n"
    "\n"
    "The dataset is streamed (memory does not grow with it). Progress is saved every few batches;\n"
    "the same command run again after an interruption continues where it stopped (--force starts\n"
    "over). A progress bar goes to stderr when it is a terminal.\n"
    "\n"
    "what to rank:\n"
    "  --data SPEC          the dataset (required): fashion-mnist[:test|:train], idx:IMAGES[,LABELS],\n"
    "                       folder:DIR or DIR, optionally ending in @N (docs/data.md)\n"
    "  --layer L            a tensor (name, node name or index from `zfviz info`); repeat for several;\n"
    "                       'all': every convolution, ReLU, pooling... output with a spatial layout.\n"
    "                       Default: every convolution's ReLU output (the paper's feature maps)\n"
    "  --units LIST         channels to rank in every layer, e.g. 0-7,12 (default: all)\n"
    "  --k N                entries per unit (default 9)\n"
    "  --limit N            only the first N items of the dataset\n"
    "\n"
    "output (folder DIR, default MODEL.topk next to the model, where `zfviz view` looks):\n"
    "  DIR/topk-index.json  the index: per layer and unit the k entries [image, y, x, value]\n"
    "                       (docs/analyses.md); DIR/topk-progress.json while a run is unfinished\n"
    "  DIR/topk-LAYER.png   the layer's grid (the index gives each unit's box in it)\n"
    "  DIR/LAYER/unit-N.png one unit's picture, with --unit-pictures\n"
    "  -o DIR               the folder\n"
    "  --rule R             deconvnet (default), guided or gradient\n"
    "  --columns N          units per row in the layer grids (default: about square)\n"
    "  --no-pictures        only the index, no projections or pictures\n"
    "  --unit-pictures      also write every unit's picture as its own file\n"
    "\n"
    "other:\n"
    "  --force              discard an unfinished run in DIR and start over\n"
    "  --save-every N       save progress every N batches (default 32)\n"
    "  --batch B            images per forward pass (default 64, fewer for large models)\n"
    "  --preprocess SPEC    overrides the model's zfviz.preprocess metadata (see zfviz run --help)\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  --time               print the time of each pass on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input\n"
    "\n"
    "examples:\n"
    "  zfviz topk assets/models/default.onnx --data fashion-mnist\n"
    "  zfviz topk lenet.onnx --data fashion-mnist:test@2000 --layer relu2 --units 0-7 -o out/\n"
    "  zfviz topk net.onnx --data photos/ --layer all --k 4 --rule guided\n";

#define MAX_NAMES 256

// One layer's picture: a title, then per unit its k projections | its k patches (the unit's
// picture, whose box the index records) with a caption under it, units in rows of `cols`.
typedef struct {
    int g, rows;                 // entry grid of one unit: g columns, rows rows
    int th, tw;                  // patch box (input pixels)
    int dh, dw;                  // one entry picture
    int sub_w, cell_w, cell_h;   // one side (projections or patches), the unit's picture
    int cols, title_h, cap_h;
    zf_canvas sheet;
    char title[640];
    int64_t n_empty;
} layer_draw;

typedef struct {
    layer_draw *ld;              // per layer of the run
    const zf_topk *t;
    const zf_preprocess *pp;
} draw_ctx;

#define ENTRY_GAP 1
#define SIDE_GAP 8
#define PAD 10
// Layer pictures drawn together (one forward pass per image for all of them) up to this size.
#define SHEET_BUDGET ((size_t)512 << 20)

static void unit_box(int32_t box[4], const layer_draw *d, int u) {
    box[0] = PAD + (u % d->cols) * (d->cell_w + PAD);
    box[1] = PAD + d->title_h + (u / d->cols) * (d->cell_h + d->cap_h + PAD);
    box[2] = d->cell_w;
    box[3] = d->cell_h;
}

static int draw_entry(void *user, int layer, int unit, int rank, const zf_topk_entry *e, const zf_tensor *proj,
                      const zf_project_info *info, const zf_tensor *x, int64_t item, zf_error *err) {
    draw_ctx *c = user;
    layer_draw *d = &c->ld[layer];
    int32_t b[4];
    unit_box(b, d, unit);
    int cx = b[0] + (rank % d->g) * (d->dw + ENTRY_GAP), cy = b[1] + (rank / d->g) * (d->dh + ENTRY_GAP);
    zf_canvas pv = zf_canvas_view(&d->sheet, cx, cy, d->dw, d->dh);
    zf_canvas iv = zf_canvas_view(&d->sheet, cx + d->sub_w + SIDE_GAP, cy, d->dw, d->dh);
    if (info->empty) d->n_empty++;
    return cli_entry_picture(&pv, &iv, proj, x, item, c->pp, &c->t->layers[layer].rf, e->y, e->x, err);
}

typedef struct { zf_progress *p; } warn_ctx;

// Images a folder dataset cannot read are reported (on their own line, off the progress bar) and skipped.
static void warn_skip(void *user, const char *msg) {
    warn_ctx *w = user;
    if (w->p->enabled && w->p->drawn) { fputc('\n', stderr); w->p->drawn = 0; }
    fprintf(stderr, "zfviz topk: warning: %s (skipped)\n", msg);
}

static int file_exists(const char *p) {
    struct stat st;
    return !stat(p, &st);
}

int cmd_topk(int argc, char **argv) {
    const char *cmd = "topk";
    if (cli_wants_help(argc, argv)) { fputs(TOPK_HELP, stdout); return 0; }
    const char *model_path = NULL, *data_spec = NULL, *out_dir = NULL, *pp_spec = NULL, *units_arg = NULL, *v;
    const char *names[MAX_NAMES];
    int n_names = 0, force = 0, pictures = 1, unit_pictures = 0, timing = 0, no_opts = 0;
    long long k = 9, limit = 0, batch = 0, threads = 0, columns = 0, save_every = 32;
    zf_rule rule = ZF_RULE_DECONVNET;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            const cli_int_flag ints[] = {
                {"--k", &k, 1, ZF_TOPK_MAX_K},          {"--limit", &limit, 1, 1LL << 50},
                {"--batch", &batch, 1, CLI_MAX_BATCH},  {"--threads", &threads, 0, CLI_MAX_THREADS},
                {"--columns", &columns, 1, 1024},       {"--save-every", &save_every, 1, 1 << 30},
            };
            const cli_str_flag strs[] = {
                {"--data", &data_spec}, {"-o", &out_dir}, {"--output", &out_dir}, {"--preprocess", &pp_spec},
                {"--units", &units_arg},
            };
            if ((r = cli_table_opt(argc, argv, &i, cmd, ints, CLI_COUNT(ints), strs, CLI_COUNT(strs)))) {
                if (r == 2) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--layer"))) {
                if (r == 2) return 2;
                if (!*v) return cli_usage(cmd, "--layer needs a non-empty value");
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
            if (!strcmp(a, "--force")) { force = 1; continue; }
            if (!strcmp(a, "--no-pictures")) { pictures = 0; continue; }
            if (!strcmp(a, "--unit-pictures")) { unit_pictures = 1; continue; }
            if (!strcmp(a, "--time")) { timing = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (!model_path) model_path = a;
        else return cli_usage(cmd, "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (!data_spec) return cli_usage(cmd, "--data SPEC is required (e.g. --data fashion-mnist)");
    if (pp_spec) {
        zf_preprocess tmp;
        zf_error e = {0};
        if (zf_preprocess_parse(&tmp, pp_spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }
    int64_t *units = NULL;
    int n_units = 0;
    if (units_arg && cli_units_parse(&units, &n_units, cmd, units_arg)) return 2;
    zf_data_spec *spec = malloc(sizeof *spec);
    if (!spec) { free(units); fputs("zfviz: out of memory\n", stderr); return 1; }
    {
        zf_error e = {0};
        if (zf_data_spec_parse(spec, data_spec, &e)) {
            free(spec);
            free(units);
            return cli_usage(cmd, "--data: %s", e.msg);
        }
    }

    zf_error err = {0};
    int rc = 0;
    zf_dataset ds = {0};
    cli_model_for_data md;
    memset(&md, 0, sizeof md);
    zf_topk t = {0}, old = {0};
    zf_projector *pj = NULL;
    zf_font *font = NULL;
    layer_draw *ld = NULL;
    int *group = NULL;
    zf_progress prog;
    memset(&prog, 0, sizeof prog);
    char dir[4096], index_path[4200], progress_path[4200], path[4400], dspec[4200];
    int values[CLI_TOPK_MAX_LAYERS], n_values = 0;

    rc = zf_data_open_spec(&ds, spec, data_spec, &err);
    free(spec);
    if (rc) goto fail;
    if (limit > 0) zf_data_limit(&ds, limit);
    warn_ctx wc = {&prog};
    ds.warn = warn_skip;
    ds.warn_user = &wc;
    // The index names the dataset as given plus any --limit, so a resumed run must ask for the same.
    if (limit > 0) snprintf(dspec, sizeof dspec, "%s (first %lld)", data_spec, limit);
    else snprintf(dspec, sizeof dspec, "%s", data_spec);

    uint64_t hash = 0;
    if ((rc = zf_file_hash(&hash, model_path, &err))) goto fail;
    if ((rc = cli_model_for_data_load(&md, model_path, &ds, batch, (int)threads, pp_spec, &err))) goto fail;
    if (!md.pp_from_model && !pp_spec)
        fprintf(stderr, "zfviz topk: note: %s stores no preprocessing; using raw pixels 0..1 (see --preprocess)\n",
                model_path);
    if ((rc = cli_layers_resolve(values, &n_values, CLI_TOPK_MAX_LAYERS, &md.m, names, n_names, &err))) goto fail;
    if ((rc = zf_topk_init(&t, &md.m, values, n_values, units, n_units, (int)k, &err))) goto fail;
    if ((rc = zf_topk_set_source(&t, model_path, hash, dspec, ds.count, md.pp_text, &err))) goto fail;

    if (out_dir) snprintf(dir, sizeof dir, "%s", out_dir);
    else zf_topk_default_dir(dir, sizeof dir, model_path);
    if ((rc = cli_mkdirs(dir, &err))) goto fail;
    snprintf(index_path, sizeof index_path, "%s/%s", dir, ZF_TOPK_INDEX);
    snprintf(progress_path, sizeof progress_path, "%s/%s", dir, ZF_TOPK_PROGRESS);

    // Resume: an unfinished run with the same settings continues; a finished index with the same
    // settings skips the streaming pass (pictures are drawn again).
    if (force) {
        unlink(progress_path);
    } else {
        int have_progress = file_exists(progress_path), have_index = !have_progress && file_exists(index_path);
        if (have_progress || have_index) {
            const char *p = have_progress ? progress_path : index_path;
            char why[512] = "";
            if ((rc = zf_topk_load(&old, p, &err))) {
                if (have_progress) {
                    zf_error_prefix(&err, "cannot resume (use --force to start over)");
                    goto fail;
                }
                rc = 0;   // an unreadable finished index is simply replaced
            } else if (!zf_topk_same_run(&old, &t, why, sizeof why)) {
                if (have_progress) {
                    rc = zf_fail(&err, ZF_ERR_INPUT, "%s: an unfinished run with other settings (%s); use --force to "
                                 "start over", p, why);
                    goto fail;
                }
                fprintf(stderr, "zfviz topk: note: replacing %s, made with other settings (%s)\n", p, why);
            } else if (have_progress || old.complete) {
                for (int l = 0; l < t.n_layers; l++) {
                    memcpy(t.layers[l].count, old.layers[l].count, (size_t)t.layers[l].n_units * sizeof(int));
                    memcpy(t.layers[l].top, old.layers[l].top, (size_t)t.layers[l].n_units * t.k * sizeof(zf_topk_entry));
                }
                t.next = old.next;
                if (t.next < t.count) fprintf(stderr, "zfviz topk: resuming at item %lld of %lld (%s)\n",
                                              (long long)t.next, (long long)t.count, p);
                else fprintf(stderr, "zfviz topk: %s is up to date; drawing the pictures again\n", p);
            }
            zf_topk_free(&old);
        }
    }

    // Pass 1: stream the dataset.
    double t0 = zf_seconds();
    int64_t start = t.next;
    if (t.next < t.count) {
        zf_progress_start(&prog, "topk", t.count);
        zf_progress_set(&prog, t.next);
        zf_topk_run_opts ro = {.save_path = progress_path, .save_every = (int)save_every, .progress = &prog};
        if ((rc = zf_topk_run(&t, &md.m, &ds, &md.pp, &ro, &err))) goto fail;
        zf_progress_finish(&prog);
        memset(&prog, 0, sizeof prog);
    } else {
        zf_topk_sort(&t);
    }
    double t_stream = zf_seconds() - t0;
    if (timing)
        fprintf(stderr, "topk: streaming pass %.2f s (%lld images, batch %lld, %.0f images/s)\n", t_stream,
                (long long)(t.count - start), (long long)md.batch, t_stream > 0 ? (t.count - start) / t_stream : 0.0);

    // Pass 2: projections and pictures, drawn straight into each layer's picture; layers in groups
    // whose pictures fit SHEET_BUDGET share the forward passes.
    double t1 = zf_seconds();
    if (pictures) {
        free(t.rule);
        if (!(t.rule = zf_strdup(zf_rule_name(rule), &err))) { rc = ZF_ERR_RUNTIME; goto fail; }
        if ((rc = zf_projector_create(&pj, &md.m, &err))) goto fail;
        zf_font_load(&font, NULL, NULL);   // never fails without `strict`: falls back to the built-in font
        if (!(ld = calloc((size_t)t.n_layers, sizeof *ld)) || !(group = calloc((size_t)t.n_layers, sizeof *group))) {
            rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
            goto fail;
        }
        int64_t total = 0;
        const zf_tensor *in = &md.m.values[md.m.inputs[0]].t;
        int lh = zf_font_line_height(font, ZF_FONT_DEFAULT_PX);
        for (int l = 0; l < t.n_layers; l++) {
            layer_draw *d = &ld[l];
            int nu = t.layers[l].n_units;
            for (int u = 0; u < nu; u++) total += t.layers[l].count[u];
            cli_entry_geometry(&d->th, &d->tw, &d->dh, &d->dw, &t.layers[l].rf, in->dims[2], in->dims[3]);
            d->g = (int)ceil(sqrt((double)t.k));
            d->rows = (t.k + d->g - 1) / d->g;
            d->sub_w = d->g * d->dw + (d->g - 1) * ENTRY_GAP;
            d->cell_w = 2 * d->sub_w + SIDE_GAP;
            d->cell_h = d->rows * d->dh + (d->rows - 1) * ENTRY_GAP;
            d->title_h = lh + 6;
            d->cap_h = lh + 3;
            // About 4:3 overall.
            int cols = columns ? (int)columns
                               : (int)ceil(sqrt((double)nu * (d->cell_h + d->cap_h + PAD) / (d->cell_w + PAD) * 1.33));
            d->cols = cols < 1 ? 1 : cols > nu ? nu : cols;
            const zf_topk_layer *L = &t.layers[l];
            char field[96];
            if (!L->rf.valid || L->rf.global) snprintf(field, sizeof field, "whole input");
            else if (L->rf.size[0] == d->th && L->rf.size[1] == d->tw)
                snprintf(field, sizeof field, "receptive field %dx%d", d->th, d->tw);
            else snprintf(field, sizeof field, "receptive field %lldx%lld, shown within the %dx%d input",
                          (long long)L->rf.size[0], (long long)L->rf.size[1], d->th, d->tw);
            snprintf(d->title, sizeof d->title, "%s: top %d of %lld images (%s), %s; per unit: projections | patches (%s)",
                     L->name, t.k, (long long)t.count, data_spec, zf_rule_name(rule), field);
        }
        zf_progress_start(&prog, "projections", total);
        draw_ctx dc = {ld, &t, &md.pp};
        for (int l0 = 0; l0 < t.n_layers;) {
            int ng = 0;
            size_t bytes = 0;
            for (int l = l0; l < t.n_layers; l++) {
                layer_draw *d = &ld[l];
                int nu = t.layers[l].n_units, rows = (nu + d->cols - 1) / d->cols;
                size_t w = (size_t)PAD + (size_t)d->cols * (d->cell_w + PAD);
                int title_w, title_h;
                zf_text_size(&title_w, &title_h, font, 0, d->title);
                if ((size_t)title_w + 2 * PAD > w) w = (size_t)title_w + 2 * PAD;
                size_t h = (size_t)PAD + d->title_h + (size_t)rows * (d->cell_h + d->cap_h + PAD);
                if (ng && bytes + w * h * 4 > SHEET_BUDGET) break;
                if (w > ZF_CANVAS_MAX_SIDE || h > ZF_CANVAS_MAX_SIDE) {
                    rc = zf_fail(&err, ZF_ERR_INPUT, "layer '%s': a picture of %zu x %zu pixels is too large (pick units "
                                 "with --units or set --columns)", t.layers[l].name, w, h);
                    goto fail;
                }
                if ((rc = zf_canvas_alloc(&d->sheet, (int)w, (int)h, &err))) goto fail;
                zf_canvas_fill(&d->sheet, ZF_RGB(255, 255, 255));
                bytes += w * h * 4;
                group[ng++] = l;
            }
            if ((rc = zf_topk_project(&t, group, ng, &md.m, pj, &ds, &md.pp, rule, &prog, draw_entry, &dc, &err))) goto fail;
            for (int i = 0; i < ng; i++) {
                zf_topk_layer *L = &t.layers[group[i]];
                layer_draw *d = &ld[group[i]];
                char safe[256];
                cli_sanitize(safe, sizeof safe, L->name);
                zf_canvas_text(&d->sheet, PAD, PAD, font, 0, ZF_RGB(0, 0, 0), d->title);
                free(L->unit_box);
                if (!(L->unit_box = calloc((size_t)L->n_units * 4, sizeof *L->unit_box))) {
                    rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
                    goto fail;
                }
                if (unit_pictures) {
                    snprintf(path, sizeof path, "%s/%s", dir, safe);
                    if ((rc = cli_mkdirs(path, &err))) goto fail;
                    if (!L->unit_pictures && !(L->unit_pictures = calloc((size_t)L->n_units, sizeof *L->unit_pictures))) {
                        rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
                        goto fail;
                    }
                }
                for (int u = 0; u < L->n_units; u++) {
                    int32_t *b = L->unit_box + 4 * (size_t)u;
                    unit_box(b, d, u);
                    if (unit_pictures) {
                        char rel[400];
                        snprintf(rel, sizeof rel, "%s/unit-%04lld.png", safe, (long long)L->units[u]);
                        snprintf(path, sizeof path, "%s/%s", dir, rel);
                        zf_canvas view = zf_canvas_view(&d->sheet, b[0], b[1], b[2], b[3]);
                        if ((rc = zf_png_write(path, &view, &err))) goto fail;
                        free(L->unit_pictures[u]);
                        if (!(L->unit_pictures[u] = zf_strdup(rel, &err))) { rc = ZF_ERR_RUNTIME; goto fail; }
                    }
                    char cap[96], fit[96];
                    if (L->count[u])
                        snprintf(cap, sizeof cap, "unit %lld   max %.3g", (long long)L->units[u], L->top[(size_t)u * t.k].value);
                    else snprintf(cap, sizeof cap, "unit %lld   (no data)", (long long)L->units[u]);
                    zf_text_fit(fit, sizeof fit, font, 0, cap, b[2]);
                    int w, h;
                    zf_text_size(&w, &h, font, 0, fit);
                    zf_canvas_text(&d->sheet, b[0] + (b[2] - w) / 2, b[1] + b[3] + 2, font, 0, ZF_RGB(0, 0, 0), fit);
                }
                char rel[400];
                snprintf(rel, sizeof rel, "topk-%s.png", safe);
                snprintf(path, sizeof path, "%s/%s", dir, rel);
                if ((rc = zf_png_write(path, &d->sheet, &err))) goto fail;
                free(L->picture);
                if (!(L->picture = zf_strdup(rel, &err))) { rc = ZF_ERR_RUNTIME; goto fail; }
                if (d->n_empty)
                    fprintf(stderr, "zfviz topk: note: %s: %lld projection%s rectified away entirely (shown gray)\n",
                            L->name, (long long)d->n_empty, d->n_empty == 1 ? "" : "s");
                printf("%s: %d unit%s, top %d of %lld images -> %s\n", L->name, L->n_units, L->n_units == 1 ? "" : "s",
                       t.k, (long long)t.count, path);
                zf_canvas_free(&d->sheet);
            }
            l0 += ng;
        }
        zf_progress_finish(&prog);
        memset(&prog, 0, sizeof prog);
    } else {
        for (int l = 0; l < t.n_layers; l++)
            printf("%s: %d unit%s, top %d of %lld images\n", t.layers[l].name, t.layers[l].n_units,
                   t.layers[l].n_units == 1 ? "" : "s", t.k, (long long)t.count);
    }
    double t_pictures = zf_seconds() - t1;
    t.complete = 1;
    if ((rc = zf_topk_save(index_path, &t, &err))) goto fail;
    unlink(progress_path);
    printf("index: %s\n", index_path);
    fflush(stdout);
    if (timing)
        fprintf(stderr, "topk: projections and pictures %.2f s; total %.2f s\n", t_pictures, zf_seconds() - t0);

fail:
    if (rc && prog.enabled && prog.drawn) fputc('\n', stderr);
    if (ld)   // the layers being drawn when something failed
        for (int l = 0; l < t.n_layers; l++) zf_canvas_free(&ld[l].sheet);
    free(ld);
    free(group);
    zf_font_free(font);
    zf_projector_free(pj);
    zf_topk_free(&t);
    zf_topk_free(&old);
    cli_model_for_data_free(&md);
    zf_data_close(&ds);
    free(units);
    return rc ? cli_fail(&err) : 0;
}
