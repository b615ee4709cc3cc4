// cmd_occlude.c: `zfviz occlude MODEL IMAGE...`: occlusion sensitivity maps over many images
// (core/occlude.h), with pictures, raw maps, per-image records and an optional HTML report
// (viz/report.h). Resumable, shardable, parallel over images.
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_model.h"
#include "core/graph.h"
#include "core/ops/op.h"
#include "core/image.h"
#include "core/occlude.h"
#include "core/onnx/onnx.h"
#include "core/progress.h"
#include "viz/canvas.h"
#include "viz/colormap.h"
#include "viz/font.h"
#include "viz/png.h"
#include "viz/render.h"
#include "viz/report.h"

static const char OCCLUDE_HELP[] =
    "usage: zfviz occlude MODEL (IMAGE | FOLDER | @LIST | --tensor X.pb)... [options]\n"
    "\n"
    "Occlusion sensitivity (Zeiler & Fergus 2014, fig. 7): a gray square slides over the image and\n"
    "the model runs once per position; the map shows how much hiding each region lowers the\n"
    "probability of the target class. Positions and averaging follow Captum's Occlusion: per axis\n"
    "ceil((D - P) / S) + 1 squares starting at k*S, the last clipped at the border; a pixel's value is\n"
    "the mean, over the squares covering it, of (clean - occluded). Each position is computed\n"
    "exactly but incrementally (Krypton): only the part of each layer the square can reach is\n"
    "recomputed, many positions per GEMM.\n"
    "\n"
    "Inputs: image files (PNG, JPEG, BMP, PGM/PPM, TGA, GIF), folders (searched recursively for\n"
    "images), @LIST (a text file with one path per line), --tensor X.pb (an already preprocessed\n"
    "(1,C,H,W) input). Per input, in the output folder, named after the input:\n"
    "  NAME.heatmap.png   the map over the input, color bar, class name\n"
    "  NAME.labels.png    the most probable class at each position, with a legend (fig. 7(e))\n"
    "  NAME.unit.png      with --layer: the drop in the feature map's total activation (fig. 7(b))\n"
    "  NAME.input.png     the model input as the model sees it\n"
    "  NAME.prob.pb NAME.logit.pb [NAME.unit.pb]  raw (H,W) maps, TensorProto float\n"
    "  NAME.labels.pb     (positions_y, positions_x) int64 label map\n"
    "  NAME.json          the record (written last): an input with a record is skipped when the\n"
    "                     command runs again with the same settings, so an interrupted run resumes\n"
    "Every file is written to a temporary name and renamed. An unreadable image gets a record with\n"
    "its error (listed in the report) and the run goes on.\n"
    "\n"
    "options:\n"
    "  -o, --out DIR        output folder (default: occlusion)\n"
    "  --patch P            square side in input pixels (default 32 at 224 input, scaled)\n"
    "  --stride S           step between squares (default 8 at 224 input, scaled)\n"
    "  --fill F             gray (what preprocessing maps mid-gray to; default), mean (per-channel\n"
    "                       mean of the input), zero (0 in model units), blur (Gaussian, sigma P/4),\n"
    "                       or a number: a pixel value 0..1 for images, model units for --tensor\n"
    "  --target T           auto (top class on the clean image; default), a class index or a label\n"
    "  --layer L [--unit C] also map the total activation of feature map C of layer L (default: the\n"
    "                       map holding the layer's largest clean activation)\n"
    "  --labels FILE        class names, one per line (default: the model's zfviz.labels)\n"
    "  --report             write index.html, summary.csv and summary.json in the output folder\n"
    "  --jobs N             process N images at a time (separate processes; threads are shared out)\n"
    "  --shard K/N          only the K-th of N deterministic slices of the inputs (K = 1..N), for\n"
    "                       splitting a batch across machines; merge with `zfviz report`\n"
    "  --naive              run every position through the whole network (slow; for checking)\n"
    "  --no-winograd        every convolution as im2col + GEMM instead of Winograd F(4x4,3x3),\n"
    "                       in the incremental passes and the full forward pass (same map up\n"
    "                       to float rounding; for comparisons)\n"
    "  --approx             approximate: a coarse grid first (stride 2S), then exact positions only\n"
    "                       where the coarse map is strongest (Krypton's drill-down); labelled so\n"
    "  --batch B            positions per batch (default: automatic)\n"
    "  --cmap NAME          colormap of the heatmaps (default coolwarm; viridis, turbo, jet, rdbu, gray)\n"
    "  --size HxW           input size for models whose input size is not fixed (default 224x224)\n"
    "  --preprocess SPEC    as in `zfviz run` (default: the model's metadata, else raw pixels 0..1)\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  --explain            print how the incremental plan computes each layer (box sizes) and exit\n"
    "  --per-layer          print on stderr the seconds each layer of the incremental plan took\n"
    "  --quiet              no progress bar or summary line\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage, bad model, or some input could not be read\n"
    "(the others are still processed and reported)\n"
    "\n"
    "examples:\n"
    "  zfviz occlude zfnet.onnx photos/ -o occ --report\n"
    "  zfviz occlude lenet.onnx digit.png --patch 6 --stride 2 --fill 0 --layer conv2\n"
    "  zfviz occlude vgg16.onnx @list.txt --shard 3/8 -o /scratch/occ   # then: zfviz report /scratch/occ\n";

#define MAX_INPUTS_ARGS 4096

typedef struct item {
    char *path;
    char *id;
    int is_tensor;
} item;

typedef struct list {
    item *v;
    int n, cap;
} list;

static int list_add(list *l, const char *path, const char *idbase, int is_tensor) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path)) return 0;
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        item *nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    item *it = &l->v[l->n];
    it->path = strdup(path);
    it->id = strdup(idbase);
    it->is_tensor = is_tensor;
    if (!it->path || !it->id) { free(it->path); free(it->id); return -1; }
    l->n++;
    return 0;
}

static void list_free(list *l) {
    for (int i = 0; i < l->n; i++) { free(l->v[i].path); free(l->v[i].id); }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm", ".pbm", ".tga", ".gif"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

// The id of an input: its path (relative to the folder it was found in) without extension,
// characters outside [A-Za-z0-9._-] replaced.
static void make_id(char *out, size_t n, const char *rel) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", rel);
    char *dot = strrchr(tmp, '.'), *slash = strrchr(tmp, '/');
    if (dot && (!slash || dot > slash) && dot != tmp) *dot = 0;
    cli_sanitize(out, n, tmp);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Adds the images under folder dir (recursively, sorted); rel is the path below the root.
static int add_folder(list *l, const char *root, const char *rel, int depth, zf_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (depth > 32) return 0;
    DIR *dp = opendir(dir);
    if (!dp) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    int nn = 0, cap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(names, (size_t)cap * sizeof *nv);
            if (!nv) { rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); break; }
            names = nv;
        }
        if (!(names[nn] = strdup(de->d_name))) { rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); break; }
        nn++;
    }
    closedir(dp);
    if (nn) qsort(names, (size_t)nn, sizeof *names, cmp_str);
    for (int i = 0; i < nn && !rc; i++) {
        char path[4096], sub[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) rc = add_folder(l, root, sub, depth + 1, err);
        else if (S_ISREG(st.st_mode) && is_image_name(names[i])) {
            char id[512];
            make_id(id, sizeof id, sub);
            if (list_add(l, path, id, 0)) rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        }
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    return rc;
}

static int add_arg(list *l, const char *a, int from_list, zf_error *err) {
    if (a[0] == '@' && !from_list) {
        FILE *f = fopen(a + 1, "r");
        if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open list: %s", a + 1, strerror(errno));
        char line[4096];
        int rc = 0;
        while (!rc && fgets(line, sizeof line, f)) {
            size_t k = strlen(line);
            while (k && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' ')) line[--k] = 0;
            if (!k || line[0] == '#') continue;
            rc = add_arg(l, line, 1, err);
        }
        fclose(f);
        return rc;
    }
    struct stat st;
    if (!stat(a, &st) && S_ISDIR(st.st_mode)) {
        char root[4096];
        snprintf(root, sizeof root, "%s", a);
        size_t k = strlen(root);
        while (k > 1 && root[k - 1] == '/') root[--k] = 0;
        return add_folder(l, root, "", 0, err);
    }
    // A file (or a missing one: its error goes into the report like any unreadable image).
    const char *base = strrchr(a, '/');
    char id[512];
    make_id(id, sizeof id, base ? base + 1 : a);
    if (list_add(l, a, id, 0)) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    return 0;
}

// Unique ids: later duplicates get -2, -3, ...
static int unique_ids(list *l) {
    for (int i = 0; i < l->n; i++) {
        int k = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(l->v[j].id, l->v[i].id)) {
                char nid[600];
                snprintf(nid, sizeof nid, "%.500s-%d", l->v[i].id, ++k);
                char *d = strdup(nid);
                if (!d) return -1;
                free(l->v[i].id);
                l->v[i].id = d;
                j = -1;
            }
    }
    return 0;
}

static int make_dir(const char *dir, zf_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot create directory: %s", tmp, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return zf_fail(err, ZF_ERR_INPUT, "%s: exists and is not a directory", dir);
    return 0;
}

// Removes temporary files "<x>.tmp.<host>.<pid>" left in dir by dead processes of this host.
static void clean_stale_temps(const char *dir) {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == '.') *h = '_';
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    char pat[128];
    snprintf(pat, sizeof pat, ".tmp.%s.", host);
    while ((de = readdir(dp))) {
        const char *t = strstr(de->d_name, pat);
        if (!t) continue;
        char *end;
        long pid = strtol(t + strlen(pat), &end, 10);
        if (*end || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        remove(path);
    }
    closedir(dp);
}

// --- settings and the per-image work ---------------------------------------------------------------

typedef struct settings {
    const char *model_path, *out_dir, *labels_path, *spec, *fill_spec, *target_spec, *layer_name, *cmap_name;
    long long patch, stride, unit, batch, threads, jobs, shard_k, shard_n, size_h, size_w;
    int report, naive, approx, quiet, explain, per_layer, no_winograd;
    zf_fill fill;
    double fill_num;
    zf_colormap cmap;
    zf_progress *pos_prog;      // one input: a bar over its positions instead of over inputs
} settings;

typedef struct worker {
    const settings *s;
    zf_model m;
    zf_occluder *oc;
    double *profile;            // --per-layer: seconds per node
    zf_preprocess pp;
    int have_meta_pp;
    zf_labels labels;
    zf_font *font;
    int C, H, W;
    int layer;
    char config[1024];
} worker;

static const char *class_name(const worker *w, int64_t k, char *buf, size_t n) {
    const char *nm = zf_labels_get(&w->labels, k);
    if (nm) return nm;
    snprintf(buf, n, "class %lld", (long long)k);
    return buf;
}

static int write_canvas(const char *path, const zf_canvas *c, zf_error *err) {
    uint8_t *png = NULL;
    size_t len = 0;
    if (zf_png_encode(&png, &len, c, err)) return err->code;
    int rc = zf_write_file_atomic(path, png, len, err);
    free(png);
    return rc;
}

static int write_tensor(const char *path, const zf_tensor *t, const char *name, zf_error *err) {
    char tmp[4200], host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == '.') *h = '_';
    snprintf(tmp, sizeof tmp, "%s.tmp.%s.%ld", path, host, (long)getpid());
    if (zf_tensor_write_pb(tmp, t, name, err)) { remove(tmp); return err->code; }
    if (rename(tmp, path)) {
        remove(tmp);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(errno));
    }
    return 0;
}

// The heatmap picture: title lines, the map over the input, a color bar.
static int render_heatmap(zf_canvas *out, const worker *w, const zf_canvas *input, const float *map, const char *line1,
                          const char *line2, const char *bar_label, zf_error *err) {
    int H = w->H, W = w->W;
    int scale = 1;
    while ((W * scale < 256 || H * scale < 256) && scale < 16) scale++;
    if (W > 256 || H > 256) scale = 1;
    int mw = W * scale, mh = H * scale;
    int pad = 8, px = 13;
    int lh = zf_font_line_height(w->font, px);
    int cw = mw + 2 * pad;
    if (cw < 300) cw = 300;
    int ch = pad + 2 * lh + 4 + mh + 8 + 44 + pad;
    if (zf_canvas_alloc(out, cw, ch, err)) return err->code;
    zf_canvas_fill(out, ZF_RGB(255, 255, 255));
    char buf[512];
    zf_text_fit(buf, sizeof buf, w->font, px, line1, cw - 2 * pad);
    zf_canvas_text(out, pad, pad, w->font, px, ZF_RGB(0, 0, 0), buf);
    zf_text_fit(buf, sizeof buf, w->font, px, line2, cw - 2 * pad);
    zf_canvas_text(out, pad, pad + lh, w->font, px, ZF_RGB(80, 80, 80), buf);
    int mx = (cw - mw) / 2, my = pad + 2 * lh + 4;
    float lo, hi;
    int sym = zf_colormap_is_diverging(w->s->cmap);
    zf_colormap_range(&lo, &hi, map, (size_t)H * W, sym);
    zf_heatmap_options ho = {.cmap = w->s->cmap, .lo = lo, .hi = hi, .image = input, .alpha = 0.55f,
                             .map_filter = ZF_FILTER_BILINEAR, .image_filter = scale > 1 ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR};
    zf_canvas view = zf_canvas_view(out, mx, my, mw, mh);
    if (zf_render_heatmap(&view, map, H, W, &ho, err)) return err->code;
    zf_colorbar_options cb = {.cmap = w->s->cmap, .lo = lo, .hi = hi, .font = w->font, .label = bar_label};
    zf_draw_colorbar(out, pad, my + mh + 8, cw - 2 * pad, 44, &cb);
    return 0;
}

static void fill_values(float v[3], const worker *w, int is_tensor) {
    for (int c = 0; c < 3; c++) {
        int cc = c < w->C ? c : w->C - 1;
        if (w->s->fill == ZF_FILL_GRAY) {
            v[c] = is_tensor && !w->have_meta_pp && !w->s->spec ? 0.5f : zf_preprocess_gray_value(&w->pp, cc, w->C);
        } else if (w->s->fill == ZF_FILL_VALUE) {
            if (is_tensor) v[c] = (float)w->s->fill_num;
            else {
                float mean, std;
                zf_preprocess_channel(&mean, &std, &w->pp, cc, w->C);
                v[c] = ((float)w->s->fill_num * w->pp.scale - mean) / std;
            }
        } else {
            v[c] = 0;
        }
    }
}

// Processes one input into its files and record. Returns 0, or nonzero when the input could not be
// read (its error record is written) — a runtime failure is returned as a negative value.
static int process(worker *w, const item *it, zf_error *err) {
    const settings *s = w->s;
    char base[4400], path[4500];
    snprintf(base, sizeof base, "%s/%s", s->out_dir, it->id);
    zf_report_entry rec = {0};
    rec.id = it->id;
    rec.source = it->path;
    rec.config = w->config;
    zf_tensor x = {0};
    zf_image img = {0};
    zf_canvas input = {0}, pic = {0}, lab = {0};
    zf_occlude_result r = {0};
    int rc = 0, input_error = 0;
    double t0 = zf_seconds();
    // The input.
    if (it->is_tensor) {
        if ((rc = zf_tensor_read_pb(&x, NULL, it->path, err))) { input_error = 1; goto done; }
        const zf_tensor *want = &w->m.values[w->m.inputs[0]].t;
        if (!zf_tensor_same_shape(&x, want)) {
            char a[128], b[128];
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: tensor is %s, the model expects %s", it->path,
                         zf_shape_str(a, sizeof a, x.ndim, x.dims), zf_shape_str(b, sizeof b, want->ndim, want->dims));
            input_error = 1;
            goto done;
        }
    } else {
        if ((rc = zf_image_load(&img, it->path, err))) { input_error = 1; goto done; }
        if ((rc = zf_image_to_tensor(&x, &img, &w->pp, w->C, w->H, w->W, err))) {
            zf_error_prefix(err, "%s", it->path);
            input_error = 1;
            goto done;
        }
    }
    float fv[3];
    fill_values(fv, w, it->is_tensor);
    zf_occlude_set_fill(w->oc, s->fill, fv);
    if ((rc = zf_occlude_set_input(w->oc, &x, err))) goto done;
    if ((rc = zf_occlude_map(w->oc, &r, err))) goto done;
    // The model input as pictures.
    {
        zf_image shown = {0};
        if ((rc = zf_image_from_tensor(&shown, &x, 0, &w->pp, err))) goto done;
        rc = zf_canvas_from_image(&input, &shown, err);
        zf_image_free(&shown);
        if (rc) goto done;
    }
    char n1[256], n2[256], line1[600], line2[600];
    const char *lname = class_name(w, r.clean_label, n1, sizeof n1), *tname = class_name(w, r.target, n2, sizeof n2);
    snprintf(line1, sizeof line1, "%s  p=%.3f%s%s", lname, r.clean_label_prob, r.target != r.clean_label ? "   target: " : "",
             r.target != r.clean_label ? tname : "");
    snprintf(line2, sizeof line2, "occlusion %dpx/%dpx, %dx%d positions%s: drop of p(%s), max %.3f",
             r.patch, r.stride, r.ny, r.nx, r.approx ? " (APPROXIMATE)" : "", tname, r.drop);
    snprintf(path, sizeof path, "%s.input.png", base);
    if ((rc = write_canvas(path, &input, err))) goto done;
    if ((rc = render_heatmap(&pic, w, &input, r.map_prob, line1, line2, "p(target) clean - occluded", err))) goto done;
    snprintf(path, sizeof path, "%s.heatmap.png", base);
    if ((rc = write_canvas(path, &pic, err))) goto done;
    if (r.map_unit) {
        zf_canvas_free(&pic);
        char l2[600];
        snprintf(l2, sizeof l2, "occlusion: drop of total activation of %s map %lld (clean %.4g)",
                 w->m.values[w->layer].name, (long long)r.unit, r.clean_unit);
        if ((rc = render_heatmap(&pic, w, &input, r.map_unit, line1, l2, "activation clean - occluded", err))) goto done;
        snprintf(path, sizeof path, "%s.unit.png", base);
        if ((rc = write_canvas(path, &pic, err))) goto done;
    }
    {
        zf_label_map_options lo = {.names = (const char *const *)w->labels.names, .nnames = w->labels.n, .font = w->font,
                                   .image = &input, .image_filter = w->W < 100 ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR,
                                   .alpha = 0.6f};
        if ((rc = zf_render_label_map(&lab, r.pos_label, r.ny, r.nx, &lo, err))) goto done;
        snprintf(path, sizeof path, "%s.labels.png", base);
        if ((rc = write_canvas(path, &lab, err))) goto done;
    }
    // Raw maps.
    {
        zf_tensor t = {.dtype = ZF_F32, .ndim = 2, .dims = {r.H, r.W}};
        t.data = r.map_prob;
        snprintf(path, sizeof path, "%s.prob.pb", base);
        if ((rc = write_tensor(path, &t, "occlusion_prob", err))) goto done;
        t.data = r.map_logit;
        snprintf(path, sizeof path, "%s.logit.pb", base);
        if ((rc = write_tensor(path, &t, "occlusion_logit", err))) goto done;
        if (r.map_unit) {
            t.data = r.map_unit;
            snprintf(path, sizeof path, "%s.unit.pb", base);
            if ((rc = write_tensor(path, &t, "occlusion_unit", err))) goto done;
        }
        zf_tensor l = {.dtype = ZF_I64, .ndim = 2, .dims = {r.ny, r.nx}};
        l.data = r.pos_label;
        snprintf(path, sizeof path, "%s.labels.pb", base);
        if ((rc = write_tensor(path, &l, "occlusion_labels", err))) goto done;
    }
    char hm[600], lm[600], ip[600];
    snprintf(hm, sizeof hm, "%s.heatmap.png", it->id);
    snprintf(lm, sizeof lm, "%s.labels.png", it->id);
    snprintf(ip, sizeof ip, "%s.input.png", it->id);
    rec.heatmap = hm;
    rec.labelmap = lm;
    rec.input = ip;
    rec.label = r.clean_label;
    rec.label_name = (char *)(zf_labels_get(&w->labels, r.clean_label) ? zf_labels_get(&w->labels, r.clean_label) : "");
    rec.prob = r.clean_label_prob;
    rec.target = r.target;
    rec.target_name = (char *)(zf_labels_get(&w->labels, r.target) ? zf_labels_get(&w->labels, r.target) : "");
    rec.target_prob = r.clean_prob;
    rec.drop = r.drop;
    rec.min_prob = r.pos_prob[r.drop_pos];
    {
        int64_t y0 = r.ys[r.drop_pos / r.nx], x0 = r.xs[r.drop_pos % r.nx];
        int64_t y1 = y0 + r.patch < r.H ? y0 + r.patch : r.H, x1 = x0 + r.patch < r.W ? x0 + r.patch : r.W;
        rec.drop_y = (int)((y0 + y1) / 2);
        rec.drop_x = (int)((x0 + x1) / 2);
    }
    rec.width = r.W;
    rec.height = r.H;
    rec.positions = r.ny * r.nx;
    rec.seconds = zf_seconds() - t0;
    rec.map_seconds = r.seconds;
done:
    if (rc && (input_error || rc == ZF_ERR_INPUT)) {
        // The input's fault: record it and go on.
        zf_report_entry er = {.id = it->id, .source = it->path, .config = w->config, .error = err->msg};
        snprintf(path, sizeof path, "%s.json", base);
        zf_error e2 = {0};
        if (zf_report_entry_write(path, &er, &e2)) { *err = e2; rc = -1; }
        else rc = 1;
    } else if (rc) {
        rc = -1;
    } else {
        snprintf(path, sizeof path, "%s.json", base);
        if (zf_report_entry_write(path, &rec, err)) rc = -1;
    }
    zf_occlude_result_free(&r);
    zf_canvas_free(&input);
    zf_canvas_free(&pic);
    zf_canvas_free(&lab);
    zf_image_free(&img);
    zf_tensor_free(&x);
    return rc;
}

// 1 when the input already has a successful record made with the same settings.
static int finished(const worker *w, const item *it) {
    char path[4500];
    snprintf(path, sizeof path, "%s/%s.json", w->s->out_dir, it->id);
    zf_report_entry e;
    zf_error err = {0};
    if (zf_report_entry_read(&e, path, &err)) return 0;
    int done = !e.error && e.config && !strcmp(e.config, w->config) && e.source && !strcmp(e.source, it->path);
    zf_report_entry_free(&e);
    return done;
}

static int worker_init(worker *w, const settings *s, int threads, zf_error *err) {
    memset(w, 0, sizeof *w);
    w->s = s;
    zf_onnx_model om = {0};
    if (zf_onnx_read(&om, s->model_path, err)) return err->code;
    const zf_onnx_value_info *in = zf_onnx_data_input(&om.graph, NULL);
    if (!in || in->ndim != 4) {
        zf_onnx_free(&om);
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a model with one (N,C,H,W) image input", s->model_path);
    }
    zf_tensor shape = {.dtype = ZF_F32, .ndim = 4};
    shape.dims[0] = 1;
    shape.dims[1] = in->dims[1] > 0 ? in->dims[1] : 3;
    shape.dims[2] = in->dims[2] > 0 ? in->dims[2] : s->size_h;
    shape.dims[3] = in->dims[3] > 0 ? in->dims[3] : s->size_w;
    zf_load_opts lo = zf_load_defaults();
    lo.threads = threads;
    lo.no_winograd = s->no_winograd;
    lo.n_input_shapes = 1;
    lo.input_shapes = &shape;
    int rc = zf_model_from_onnx(&w->m, &om, s->model_path, &lo, err);
    zf_onnx_free(&om);
    if (rc) return rc;
    const zf_tensor *xt = &w->m.values[w->m.inputs[0]].t;
    w->C = (int)xt->dims[1];
    w->H = (int)xt->dims[2];
    w->W = (int)xt->dims[3];
    w->pp = zf_preprocess_raw();
    const char *meta = zf_model_meta(&w->m, ZF_META_PREPROCESS);
    if (meta) {
        if (zf_preprocess_parse(&w->pp, meta, err))
            return zf_error_prefix(err, "%s: metadata %s", s->model_path, ZF_META_PREPROCESS);
        w->have_meta_pp = 1;
    }
    if (s->spec && zf_preprocess_parse(&w->pp, s->spec, err)) return zf_error_prefix(err, "--preprocess");
    if (s->labels_path) {
        if (zf_labels_load(&w->labels, s->labels_path, err)) return err->code;
    } else if ((meta = zf_model_meta(&w->m, ZF_META_LABELS)) &&
               zf_labels_parse(&w->labels, meta, strlen(meta), err)) {
        return zf_error_prefix(err, "%s: metadata %s", s->model_path, ZF_META_LABELS);
    }
    zf_occlude_opts o = zf_occlude_defaults();
    o.patch = (int)s->patch;
    o.stride = (int)s->stride;
    o.fill = s->fill;
    o.batch = (int)s->batch;
    o.naive = s->naive;
    o.no_winograd = s->no_winograd;
    o.approx = s->approx;
    o.unit = s->unit;
    o.layer = -1;
    o.progress = s->pos_prog;
    w->layer = -1;
    if (s->layer_name) {
        if ((w->layer = o.layer = zf_model_find(&w->m, s->layer_name)) < 0)
            return zf_fail(err, ZF_ERR_INPUT, "%s: no tensor or node named '%s' (see zfviz info)", s->model_path,
                           s->layer_name);
    }
    o.target = -1;
    if (s->target_spec && strcmp(s->target_spec, "auto")) {
        char *end;
        long long t = strtoll(s->target_spec, &end, 10);
        if (*s->target_spec && !*end && t >= 0) {
            o.target = t;
        } else {
            for (int i = 0; i < w->labels.n && o.target < 0; i++)
                if (!strcasecmp(w->labels.names[i], s->target_spec)) o.target = i;
            if (o.target < 0)
                return zf_fail(err, ZF_ERR_INPUT, "--target '%s' is neither auto, a class index, nor a label of %s",
                               s->target_spec, s->labels_path ? s->labels_path : s->model_path);
        }
    }
    if (s->per_layer) {
        if (!(w->profile = zf_calloc((size_t)w->m.n_nodes + 1, sizeof *w->profile, err))) return err->code;
        o.profile = w->profile;
    }
    if (zf_occlude_create(&w->oc, &w->m, &o, err)) return err->code;
    if (s->pos_prog) {
        int ny, nx;
        zf_occlude_geometry(w->oc, NULL, NULL, &ny, &nx);
        s->pos_prog->total = (int64_t)ny * nx;
    }
    zf_font_load(&w->font, NULL, err);
    int64_t tg;
    zf_occlude_clean(w->oc, NULL, &tg, NULL);
    snprintf(w->config, sizeof w->config, "model=%s input=%dx%dx%d patch=%lld stride=%lld fill=%s target=%s layer=%s "
             "unit=%lld approx=%d naive=%d preprocess=%s labels=%s cmap=%s",
             s->model_path, w->C, w->H, w->W, s->patch, s->stride, s->fill_spec ? s->fill_spec : "gray",
             s->target_spec ? s->target_spec : "auto", s->layer_name ? s->layer_name : "-", s->unit, s->approx, s->naive,
             s->spec ? s->spec : "-", s->labels_path ? s->labels_path : "-", zf_colormap_name(s->cmap));
    return 0;
}

static void worker_free(worker *w) {
    if (w->profile)
        for (int k = 0; k < w->m.n_nodes; k++)
            if (w->profile[k] > 0)
                fprintf(stderr, "occlude: node %-12s %-24s %.3f s\n", w->m.nodes[k].op->type, w->m.nodes[k].name,
                        w->profile[k]);
    free(w->profile);
    zf_occlude_free(w->oc);
    zf_model_free(&w->m);
    zf_labels_free(&w->labels);
    zf_font_free(w->font);
    memset(w, 0, sizeof *w);
}

static void print_line(void *ctx, const char *text) { (void)ctx; puts(text); }

// Shared between the processes of --jobs (anonymous shared mapping).
typedef struct shared {
    _Atomic int64_t done;        // inputs finished (or skipped)
    _Atomic int64_t failed;      // inputs whose error was recorded
    _Atomic int64_t skipped;
} shared;

// Processes the items with index % nproc == slot. Returns 0, 1 (runtime failure) or 2 (model/setup
// problem).
static int run_worker(const settings *s, const list *work, int slot, int nproc, int threads, shared *sh,
                      zf_progress *prog) {
    worker w;
    zf_error err = {0};
    int rc = 0;
    if (worker_init(&w, s, threads, &err)) {
        rc = err.code == ZF_ERR_INPUT ? 2 : 1;
        fprintf(stderr, "%szfviz: %s\n", prog && prog->drawn ? "\n" : "", err.msg);
        worker_free(&w);
        return rc;
    }
    for (int i = slot; i < work->n; i += nproc) {
        const item *it = &work->v[i];
        if (finished(&w, it)) {
            atomic_fetch_add(&sh->skipped, 1);
        } else {
            zf_error e = {0};
            int r = process(&w, it, &e);
            if (r < 0) {
                fprintf(stderr, "%szfviz: %s\n", prog && prog->drawn ? "\n" : "", e.msg);
                rc = 1;
                break;
            }
            if (r > 0) {
                atomic_fetch_add(&sh->failed, 1);
                if (!s->quiet) fprintf(stderr, "%szfviz occlude: %s (recorded; going on)\n",
                                       prog && prog->drawn ? "\n" : "", e.msg);
            }
        }
        atomic_fetch_add(&sh->done, 1);
        if (prog && !s->pos_prog) zf_progress_set(prog, atomic_load(&sh->done));
    }
    worker_free(&w);
    return rc;
}

int cmd_occlude(int argc, char **argv) {
    const char *cmd = "occlude";
    if (cli_wants_help(argc, argv)) { fputs(OCCLUDE_HELP, stdout); return 0; }
    settings s = {0};
    s.out_dir = "occlusion";
    s.unit = -1;
    s.jobs = 1;
    s.size_h = s.size_w = 224;
    s.cmap = ZF_CMAP_COOLWARM;
    const char *args[MAX_INPUTS_ARGS];
    int nargs = 0, is_tensor[MAX_INPUTS_ARGS];
    const char *v;
    int no_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            const cli_int_flag ints[] = {
                {"--patch", &s.patch, 1, 100000}, {"--stride", &s.stride, 1, 100000}, {"--unit", &s.unit, 0, 1LL << 40},
                {"--batch", &s.batch, 1, 4096}, {"--threads", &s.threads, 0, CLI_MAX_THREADS}, {"--jobs", &s.jobs, 1, 256}};
            const cli_str_flag strs[] = {{"--out", &s.out_dir},        {"--labels", &s.labels_path},
                                         {"--preprocess", &s.spec},   {"--target", &s.target_spec},
                                         {"--layer", &s.layer_name}};
            if ((r = cli_table_opt(argc, argv, &i, cmd, ints, CLI_COUNT(ints), strs, CLI_COUNT(strs)))) {
                if (r == 2) return 2;
                continue;
            }
            if (!strcmp(a, "-o")) {
                if (i + 1 >= argc || !argv[i + 1][0]) return cli_usage(cmd, "-o needs a value");
                s.out_dir = argv[++i];
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--tensor"))) {
                if (r == 2) return 2;
                if (nargs == MAX_INPUTS_ARGS) return cli_usage(cmd, "too many inputs (use a folder or @LIST)");
                if (!*v) return cli_usage(cmd, "--tensor needs a non-empty value");
                is_tensor[nargs] = 1;
                args[nargs++] = v;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--fill"))) {
                if (r == 2) return 2;
                s.fill_spec = v;
                if (!strcmp(v, "gray") || !strcmp(v, "grey")) s.fill = ZF_FILL_GRAY;
                else if (!strcmp(v, "mean")) s.fill = ZF_FILL_MEAN;
                else if (!strcmp(v, "zero")) s.fill = ZF_FILL_ZERO;
                else if (!strcmp(v, "blur")) s.fill = ZF_FILL_BLUR;
                else {
                    char *end;
                    errno = 0;
                    s.fill_num = strtod(v, &end);
                    if (!*v || *end || errno || !isfinite(s.fill_num))
                        return cli_usage(cmd, "--fill expects gray, mean, zero, blur or a number, got '%s'", v);
                    s.fill = ZF_FILL_VALUE;
                }
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--shard"))) {
                if (r == 2) return 2;
                char *end;
                errno = 0;
                long long k = strtoll(v, &end, 10), n = 0;
                if (*end == '/') n = strtoll(end + 1, &end, 10);
                if (errno || *end || n < 1 || n > 1000000 || k < 1 || k > n)
                    return cli_usage(cmd, "--shard expects K/N with 1 <= K <= N, got '%s'", v);
                s.shard_k = k;
                s.shard_n = n;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--cmap"))) {
                if (r == 2) return 2;
                zf_error e = {0};
                if (zf_colormap_parse(&s.cmap, v, &e)) return cli_usage(cmd, "--cmap: %s", e.msg);
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--size"))) {
                if (r == 2) return 2;
                char *end;
                long long h = strtoll(v, &end, 10), w = h;
                if (*end == 'x') w = strtoll(end + 1, &end, 10);
                if (*end || h < 1 || w < 1 || h > 16384 || w > 16384)
                    return cli_usage(cmd, "--size expects HxW (or one side), got '%s'", v);
                s.size_h = h;
                s.size_w = w;
                continue;
            }
            if (!strcmp(a, "--report")) { s.report = 1; continue; }
            if (!strcmp(a, "--explain")) { s.explain = 1; continue; }
            if (!strcmp(a, "--per-layer")) { s.per_layer = 1; continue; }
            if (!strcmp(a, "--naive")) { s.naive = 1; continue; }
            if (!strcmp(a, "--no-winograd")) { s.no_winograd = 1; continue; }
            if (!strcmp(a, "--approx")) { s.approx = 1; continue; }
            if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { s.quiet = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (!s.model_path) { s.model_path = a; continue; }
        if (nargs == MAX_INPUTS_ARGS) return cli_usage(cmd, "too many inputs (use a folder or @LIST)");
        is_tensor[nargs] = 0;
        args[nargs++] = a;
    }
    if (!s.model_path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (s.explain) {
        worker w;
        zf_error e = {0};
        if (worker_init(&w, &s, (int)s.threads, &e)) { worker_free(&w); return cli_fail(&e); }
        int p, st, ny, nx;
        zf_occlude_geometry(w.oc, &p, &st, &ny, &nx);
        printf("%s: input %dx%dx%d, patch %d, stride %d, %dx%d positions\n", s.model_path, w.C, w.H, w.W, p, st, ny, nx);
        zf_occlude_describe(w.oc, print_line, NULL);
        worker_free(&w);
        return 0;
    }
    if (!nargs) return cli_usage(cmd, "missing IMAGE (files, folders, @LIST or --tensor X.pb)");
    if (s.naive && s.approx) return cli_usage(cmd, "--naive and --approx exclude each other");
    if (s.unit >= 0 && !s.layer_name) return cli_usage(cmd, "--unit needs --layer");

    zf_error err = {0};
    list all = {0}, work = {0};
    int rc = 0;
    for (int i = 0; i < nargs && !rc; i++) {
        if (is_tensor[i]) {
            const char *b = strrchr(args[i], '/');
            char id[512];
            make_id(id, sizeof id, b ? b + 1 : args[i]);
            if (list_add(&all, args[i], id, 1)) rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
        } else {
            rc = add_arg(&all, args[i], 0, &err);
        }
    }
    if (!rc && unique_ids(&all)) rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
    if (!rc && !all.n) rc = zf_fail(&err, ZF_ERR_INPUT, "no images found in the given inputs");
    if (rc) { list_free(&all); return cli_fail(&err); }
    // The shard: every N-th input of the full list (ids come from the full list, so shards sharing
    // an output folder never collide).
    for (int i = 0; i < all.n; i++) {
        if (s.shard_n && i % s.shard_n != s.shard_k - 1) continue;
        if (list_add(&work, all.v[i].path, all.v[i].id, all.v[i].is_tensor)) {
            list_free(&all); list_free(&work);
            err.code = ZF_ERR_RUNTIME;
            snprintf(err.msg, sizeof err.msg, "out of memory");
            return cli_fail(&err);
        }
    }
    list_free(&all);
    if ((rc = make_dir(s.out_dir, &err))) { list_free(&work); return cli_fail(&err); }
    clean_stale_temps(s.out_dir);

    int jobs = (int)(s.jobs < work.n ? s.jobs : work.n);
    if (jobs < 1) jobs = 1;
    int cores = s.threads > 0 ? (int)s.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores / jobs > 0 ? cores / jobs : 1;
    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { list_free(&work); err.code = 1; snprintf(err.msg, sizeof err.msg, "mmap failed"); return cli_fail(&err); }
    memset(sh, 0, sizeof *sh);
    zf_progress prog;
    zf_progress_start(&prog, work.n == 1 ? "positions" : "occlude", work.n == 1 ? -1 : work.n);
    if (s.quiet) prog.enabled = 0;
    if (work.n == 1) s.pos_prog = &prog;
    double t0 = zf_seconds();
    if (jobs == 1) {
        rc = run_worker(&s, &work, 0, 1, threads, sh, &prog);
    } else {
        // Check the model and flags once here, so a bad model gives one message, not one per process.
        worker w;
        if (worker_init(&w, &s, 1, &err)) {
            worker_free(&w);
            munmap(sh, sizeof *sh);
            list_free(&work);
            return cli_fail(&err);
        }
        worker_free(&w);
        // Processes, forked before anything is loaded (thread pools do not survive fork); each dies
        // with the parent.
        pid_t *pids = calloc((size_t)jobs, sizeof *pids);
        pid_t parent = getpid();
        for (int j = 0; j < jobs && pids; j++) {
            pid_t p = fork();
            if (p == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent) _exit(1);
                _exit(run_worker(&s, &work, j, jobs, threads, sh, NULL));
            }
            pids[j] = p;
        }
        int live = pids ? jobs : 0;
        while (live > 0) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p > 0) {
                live--;
                int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
                if (code > rc) rc = code;
                continue;
            }
            if (p < 0 && errno != EINTR) break;
            zf_progress_set(&prog, atomic_load(&sh->done));
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        free(pids);
        if (!pids) rc = 1;
    }
    if (!s.pos_prog) zf_progress_set(&prog, atomic_load(&sh->done));
    zf_progress_finish(&prog);
    int64_t done = atomic_load(&sh->done), failed = atomic_load(&sh->failed), skipped = atomic_load(&sh->skipped);
    munmap(sh, sizeof *sh);
    if (!s.quiet && (rc == 0 || done > 0))
        fprintf(stderr, "zfviz occlude: %lld input%s in %.1fs: %lld done, %lld already done, %lld failed -> %s/\n",
                (long long)work.n, work.n == 1 ? "" : "s", zf_seconds() - t0, (long long)(done - skipped - failed),
                (long long)skipped, (long long)failed, s.out_dir);
    list_free(&work);
    if (s.report && rc != 2) {
        zf_report_entry *ents = NULL;
        int n = 0;
        const char *dirs[1] = {s.out_dir};
        char sub[1024], ps[32] = "default", ss[32] = "default";
        if (s.patch) snprintf(ps, sizeof ps, "%lld", s.patch);
        if (s.stride) snprintf(ss, sizeof ss, "%lld", s.stride);
        snprintf(sub, sizeof sub, "model %s; patch %s, stride %s, fill %s%s", s.model_path, ps, ss,
                 s.fill_spec ? s.fill_spec : "gray", s.approx ? "; APPROXIMATE (adaptive drill-down)" : "");
        zf_report_options ro = {.subtitle = sub};
        if (zf_report_collect(&ents, &n, dirs, 1, &err) || zf_report_write(s.out_dir, ents, n, &ro, &err)) {
            zf_report_entries_free(ents, n);
            return cli_fail(&err);
        }
        zf_report_entries_free(ents, n);
        if (!s.quiet) fprintf(stderr, "zfviz occlude: report %s/index.html (%d records)\n", s.out_dir, n);
    }
    if (rc) return rc;
    return failed ? 2 : 0;
}
