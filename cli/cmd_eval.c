// cmd_eval.c: `zfviz eval MODEL --data SPEC`: accuracy over a labelled dataset, per-class table and
// confusion matrix, batches of B images through one plan (the last batch padded).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cli_model.h"
#include "core/data.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/onnx/onnx.h"
#include "core/progress.h"

static const char EVAL_HELP[] =
    "usage: zfviz eval MODEL --data SPEC [--batch B] [--threads N] [--limit N]\n"
    "\n"
    "Runs the model over every item of a labelled dataset and prints, on stdout, the accuracy\n"
    "(\"accuracy: 91.23% (9123/10000)\"), a per-class table and the confusion matrix (rows: true\n"
    "class, columns: predicted class). The prediction is the arg max of the model's first output.\n"
    "A progress bar with ETA goes to stderr when it is a terminal.\n"
    "\n"
    "Images are resized to the model's input size, converted to its channel count and\n"
    "preprocessed as its zfviz.preprocess metadata says (raw pixels 0..1 when it has none; see\n"
    "--preprocess). When the model stores class labels (zfviz.labels) and every class of the\n"
    "dataset is found among them by name, classes are matched by name; otherwise dataset class k\n"
    "is compared with output k. Images a folder dataset cannot read are reported and skipped.\n"
    "\n"
    "datasets (docs/data.md):\n"
    "  fashion-mnist[:test|:train]   Debian's dataset-fashion-mnist files (test split by default)\n"
    "  idx:IMAGES[,LABELS]           IDX files (MNIST format), raw or .gz\n"
    "  folder:DIR or DIR             one sub-folder per class, sorted names = labels 0, 1, ...\n"
    "  any of them ending in @N      only the first N items (fashion-mnist:test@1000)\n"
    "\n"
    "options:\n"
    "  --data SPEC          the dataset (required)\n"
    "  --limit N            only the first N items (with @N too: the smaller)\n"
    "  --batch B            images per forward pass (default 32, fewer when the recorded\n"
    "                       activations would pass 512 MiB); a model with a fixed batch size\n"
    "                       runs at that size\n"
    "  --preprocess SPEC    overrides the model's metadata: raw, torchvision, caffe or items like\n"
    "                       \"mean=0.5;std=0.25;scale=1;bgr=0;resize=crop\" (see zfviz run --help)\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input file\n"
    "\n"
    "examples:\n"
    "  zfviz eval lenet.onnx --data fashion-mnist\n"
    "  zfviz eval lenet.onnx --data fashion-mnist:train@5000 --batch 128\n"
    "  zfviz eval net.onnx --data photos/ --preprocess torchvision\n";

#define DEFAULT_BATCH 32
#define ARENA_BUDGET ((size_t)512 << 20)
// Wider confusion matrices are not printed (they would not fit a terminal anyway).
#define MAX_MATRIX_CLASSES 50

typedef struct { zf_progress *p; } warn_ctx;

static void warn_skip(void *user, const char *msg) {
    warn_ctx *w = user;
    if (w->p->enabled && w->p->drawn) { fputc('\n', stderr); w->p->drawn = 0; }   // keep the bar's line
    fprintf(stderr, "zfviz eval: warning: %s (skipped)\n", msg);
}

static int digits(int64_t v) {
    int d = 1;
    while (v >= 10) { v /= 10; d++; }
    return d;
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = "eval";
    if (cli_wants_help(argc, argv)) { fputs(EVAL_HELP, stdout); return 0; }
    const char *model_path = NULL, *data_spec = NULL, *pp_spec = NULL, *v;
    long long batch = 0, threads = 0, limit = 0;
    int no_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--batch"))) {
                if (r == 2 || cli_int(&batch, cmd, "--batch", v, 1, CLI_MAX_BATCH)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--threads"))) {
                if (r == 2 || cli_int(&threads, cmd, "--threads", v, 0, CLI_MAX_THREADS)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--limit"))) {
                if (r == 2 || cli_int(&limit, cmd, "--limit", v, 1, (long long)1 << 50)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--data"))) {
                if (r == 2) return 2;
                if (!*v) return cli_usage(cmd, "--data needs a non-empty value");
                data_spec = v;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--preprocess"))) {
                if (r == 2) return 2;
                if (!*v) return cli_usage(cmd, "--preprocess needs a non-empty value");
                pp_spec = v;
                continue;
            }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (!model_path) model_path = a;
        else return cli_usage(cmd, "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (!data_spec) return cli_usage(cmd, "--data SPEC is required (e.g. --data fashion-mnist)");
    zf_preprocess flag_pp;
    if (pp_spec) {
        zf_error e = {0};
        if (zf_preprocess_parse(&flag_pp, pp_spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }
    zf_data_spec *spec = malloc(sizeof *spec);
    if (!spec) { fputs("zfviz: out of memory\n", stderr); return 1; }
    {
        zf_error e = {0};
        if (zf_data_spec_parse(spec, data_spec, &e)) { free(spec); return cli_usage(cmd, "--data: %s", e.msg); }
    }

    zf_error err = {0};
    int rc = 0;
    zf_dataset ds = {0};
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_labels labels = {0};
    zf_tensor x = {0};
    zf_image first = {0};
    int64_t *idx = NULL, *confusion = NULL, *per_items = NULL, *per_correct = NULL;
    uint8_t *ok = NULL;
    int *map = NULL, *inv = NULL;
    zf_progress prog;
    memset(&prog, 0, sizeof prog);
    warn_ctx wc = {&prog};

    // The dataset first: a missing file is reported before the (possibly slow) model load.
    rc = zf_data_open_spec(&ds, spec, data_spec, &err);
    free(spec);
    if (rc) goto fail;
    if (limit > 0) zf_data_limit(&ds, limit);
    if (!ds.labels) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: no labels to compare with (give idx:IMAGES,LABELS)", data_spec);
        goto fail;
    }
    ds.warn = warn_skip;
    ds.warn_user = &wc;

    if ((rc = zf_onnx_read(&om, model_path, &err))) goto fail;
    int n_in = 0;
    const zf_onnx_value_info *in = zf_onnx_data_input(&om.graph, &n_in);
    if (n_in != 1 || in->ndim != 4) {
        char s[128];
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: eval needs one image input (N,C,H,W); the model has %d input%s%s%s", model_path,
                     n_in, n_in == 1 ? "" : "s", n_in == 1 ? " of shape " : "",
                     n_in != 1 ? "" : in->ndim < 0 ? "(unknown)" : zf_shape_str(s, sizeof s, in->ndim, in->dims));
        goto fail;
    }
    // Input shape: the model's own sizes, unknown ones from the data (a folder's first image).
    int64_t C = in->dims[1] > 0 ? in->dims[1] : ds.channels ? ds.channels : 3;
    int64_t H = in->dims[2], W = in->dims[3];
    if (H <= 0 || W <= 0) {
        if (ds.height > 0) {
            if (H <= 0) H = ds.height;
            if (W <= 0) W = ds.width;
        } else {
            if ((rc = zf_data_image(&first, &ds, 0, &err))) {
                zf_error_prefix(&err, "%s: the model's input size is not fixed and the first image cannot be read",
                                model_path);
                goto fail;
            }
            if (H <= 0) H = first.height;
            if (W <= 0) W = first.width;
            zf_image_free(&first);
        }
    }
    if (C != 1 && C != 3) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: input '%s' has %lld channels; images give 1 or 3", model_path, in->name,
                     (long long)C);
        goto fail;
    }
    int64_t B;
    int fixed = in->dims[0] > 0;
    if (fixed) {
        B = in->dims[0];
        if (batch && batch != B)
            fprintf(stderr, "zfviz eval: note: %s has a fixed batch size of %lld; --batch %lld ignored\n", model_path,
                    (long long)B, batch);
    } else {
        B = batch ? batch : DEFAULT_BATCH;
        if (B > ds.count) B = ds.count;
    }
    zf_tensor shape = {0};
    shape.dtype = ZF_F32;
    shape.ndim = 4;
    zf_load_opts lo = zf_load_defaults();
    lo.threads = (int)threads;
    lo.n_input_shapes = 1;
    lo.input_shapes = &shape;
    for (;;) {
        shape.dims[0] = B;
        lo.batch = B;
        shape.dims[1] = C;
        shape.dims[2] = H;
        shape.dims[3] = W;
        if ((rc = zf_model_from_onnx(&m, &om, model_path, &lo, &err))) goto fail;
        // Every activation is recorded: a big model at the default batch may want gigabytes.
        if (fixed || batch || B == 1 || m.arena_bytes <= ARENA_BUDGET) break;
        int64_t nb = (int64_t)((double)B * ARENA_BUDGET / (double)m.arena_bytes);
        B = nb < 1 ? 1 : nb;
        zf_model_free(&m);
    }
    zf_onnx_free(&om);

    zf_preprocess pp = zf_preprocess_raw();
    const char *meta = zf_model_meta(&m, ZF_META_PREPROCESS);
    if (meta && (rc = zf_preprocess_parse(&pp, meta, &err))) {
        zf_error_prefix(&err, "%s: metadata %s", model_path, ZF_META_PREPROCESS);
        goto fail;
    }
    if (pp_spec) pp = flag_pp;
    if (!meta && !pp_spec)
        fprintf(stderr, "zfviz eval: note: %s stores no preprocessing; using raw pixels 0..1 (see --preprocess)\n",
                model_path);

    const zf_value *ov = &m.values[m.outputs[0]];
    if (ov->t.dtype != ZF_F32 || ov->t.ndim < 1 || ov->t.dims[0] != B || zf_tensor_numel(&ov->t) < B) {
        char s[128];
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: output '%s' has shape %s, not (%lld, classes) scores", model_path, ov->name,
                     zf_shape_str(s, sizeof s, ov->t.ndim, ov->t.dims), (long long)B);
        goto fail;
    }
    int64_t K = zf_tensor_numel(&ov->t) / B;
    int Kd = ds.n_classes;

    // Dataset class d is compared with model output map[d]; inv[k] is the dataset class of output
    // k (-1: none, counted in the "other" column).
    map = calloc((size_t)Kd, sizeof *map);
    inv = malloc((size_t)K * sizeof *inv);
    if (!map || !inv) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
    for (int d = 0; d < Kd; d++) map[d] = d;
    const char *lmeta = zf_model_meta(&m, ZF_META_LABELS);
    int by_name = 0;
    if (lmeta && !zf_labels_parse(&labels, lmeta, strlen(lmeta), &err) && labels.n == K) {
        int all = 1, same = 1;
        for (int d = 0; d < Kd && all; d++) {
            int found = -1;
            for (int k = 0; k < labels.n && found < 0; k++)
                if (!strcmp(labels.names[k], ds.class_names[d])) found = k;
            all = found >= 0;
            if (found != d) same = 0;
            if (all) map[d] = found;
        }
        if (!all) for (int d = 0; d < Kd; d++) map[d] = d;
        by_name = all && !same;
    }
    memset(&err, 0, sizeof err);
    if (by_name) fprintf(stderr, "zfviz eval: note: dataset classes matched to the model's labels by name\n");
    else if (Kd != K)
        fprintf(stderr, "zfviz eval: warning: the dataset has %d classes, the model outputs %lld; class k is compared "
                        "with output k\n", Kd, (long long)K);
    for (int64_t k = 0; k < K; k++) inv[k] = -1;
    for (int d = 0; d < Kd; d++) if (map[d] < K) inv[map[d]] = d;

    int64_t dims[4] = {B, C, H, W};
    if ((rc = zf_tensor_alloc(&x, ZF_F32, 4, dims, &err))) goto fail;
    idx = malloc((size_t)B * sizeof *idx);
    ok = malloc((size_t)B);
    confusion = calloc((size_t)Kd * (Kd + 1), sizeof *confusion);   // (Kd, Kd + 1): last column "other"
    per_items = calloc((size_t)Kd, sizeof *per_items);
    per_correct = calloc((size_t)Kd, sizeof *per_correct);
    if (!idx || !ok || !confusion || !per_items || !per_correct) {
        rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
        goto fail;
    }

    int64_t n = ds.count, total = 0, correct = 0, other = 0;
    zf_progress_start(&prog, "eval", n);
    for (int64_t s = 0; s < n; s += B) {
        int64_t nb = n - s < B ? n - s : B;
        for (int64_t b = 0; b < nb; b++) idx[b] = s + b;
        if ((rc = zf_data_fill(&x, ok, &ds, idx, nb, &pp, m.pool, &err))) goto fail;
        if ((rc = zf_model_forward(&m, 1, &x, &err))) goto fail;
        const float *y = zf_f32(&ov->t);
        for (int64_t b = 0; b < nb; b++) {
            if (!ok[b]) continue;
            const float *row = y + b * K;
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++) if (row[k] > row[best]) best = k;   // first maximum wins
            int t = ds.labels[idx[b]];
            int pd = inv[best];
            total++;
            per_items[t]++;
            if (best == map[t]) { correct++; per_correct[t]++; }
            if (pd < 0) other++;
            confusion[(size_t)t * (Kd + 1) + (pd < 0 ? Kd : pd)]++;
        }
        zf_progress_add(&prog, nb);
    }
    zf_progress_finish(&prog);
    if (total == 0) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: none of the %lld images could be read", data_spec, (long long)n);
        goto fail;
    }

    printf("accuracy: %.2f%% (%lld/%lld)\n", 100.0 * correct / total, (long long)correct, (long long)total);
    if (ds.n_skipped) printf("skipped: %lld unreadable image%s\n", (long long)ds.n_skipped, ds.n_skipped == 1 ? "" : "s");
    int nw = 4;
    for (int d = 0; d < Kd; d++) {
        int l = (int)strlen(ds.class_names[d]);
        if (l > nw) nw = l;
    }
    if (nw > 40) nw = 40;
    int cw = digits(total) > 5 ? digits(total) : 5;
    printf("\n%5s  %-*s  %*s  %*s  %8s\n", "class", nw, "name", cw, "items", cw + 2, "correct", "accuracy");
    for (int d = 0; d < Kd; d++) {
        printf("%5d  %-*.*s  %*lld  %*lld  ", d, nw, nw, ds.class_names[d], cw, (long long)per_items[d], cw + 2,
               (long long)per_correct[d]);
        if (per_items[d]) printf("%7.2f%%\n", 100.0 * per_correct[d] / per_items[d]);
        else printf("%8s\n", "-");
    }
    if (Kd <= MAX_MATRIX_CLASSES) {
        int mw = digits(total) + 1 > 5 ? digits(total) + 1 : 5;
        printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%5s", "");
        for (int d = 0; d < Kd; d++) printf("%*d", mw, d);
        if (other) printf("%*s", mw + 1, "other");
        printf("\n");
        for (int d = 0; d < Kd; d++) {
            printf("%5d", d);
            for (int e = 0; e < Kd; e++) printf("%*lld", mw, (long long)confusion[(size_t)d * (Kd + 1) + e]);
            if (other) printf("%*lld", mw + 1, (long long)confusion[(size_t)d * (Kd + 1) + Kd]);
            printf("  %s\n", ds.class_names[d]);
        }
    } else {
        printf("\n(confusion matrix not printed: %d classes, more than %d)\n", Kd, MAX_MATRIX_CLASSES);
    }
    fflush(stdout);

fail:
    if (rc && prog.enabled && prog.drawn) fputc('\n', stderr);
    free(idx);
    free(ok);
    free(confusion);
    free(per_items);
    free(per_correct);
    free(map);
    free(inv);
    zf_tensor_free(&x);
    zf_image_free(&first);
    zf_labels_free(&labels);
    zf_onnx_free(&om);
    zf_model_free(&m);
    zf_data_close(&ds);
    return rc ? cli_fail(&err) : 0;
}
