// cmd_run.c: `zfviz run MODEL IMAGE`: classify an image (or feed a TensorProto), print the top-K
// classes, optionally save the output and dump every recorded tensor.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "cli_model.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/onnx/onnx.h"
#include "core/ops/op.h"

static const char RUN_HELP[] =
    "usage: zfviz run MODEL (IMAGE | --tensor X.pb) [options]\n"
    "\n"
    "Runs the model once and prints the top-K classes, one per line: rank, probability, class\n"
    "index and label. The output is turned into probabilities with a softmax unless the last op\n"
    "already is Softmax (or LogSoftmax, which is exponentiated). Every intermediate tensor is\n"
    "recorded; --dump writes them all.\n"
    "\n"
    "The image (PNG, JPEG, BMP, PGM/PPM, TGA, GIF; gray or color, any size) is resized to the\n"
    "model's input size (resize the shorter side, then center crop; or stretch), converted to the\n"
    "model's channel count (luminance, or gray replicated) and preprocessed. Models written by\n"
    "zfviz store their preprocessing and class labels in their metadata (zfviz.preprocess,\n"
    "zfviz.labels), so no flags are needed for them; for other models pass --preprocess (the\n"
    "default is raw pixels in 0..1) and --labels.\n"
    "\n"
    "options:\n"
    "  --tensor X.pb        feed this ONNX TensorProto instead of an image (any shape the model\n"
    "                       accepts); repeat it for a model with several inputs, in input order\n"
    "  --top K              how many classes to print (default 5; at most the number of classes)\n"
    "  --labels FILE        class names, one per line (overrides the model's zfviz.labels)\n"
    "  --preprocess SPEC    raw (pixels 0..1), torchvision (ImageNet mean/std on 0..1), caffe (BGR,\n"
    "                       0..255, mean 104,117,123), or items like\n"
    "                       \"mean=0.5,0.5,0.5;std=0.25;scale=1;bgr=0;resize=crop\" (a preset may come\n"
    "                       first: \"torchvision;resize=stretch\"). Overrides the model's metadata.\n"
    "  --mean A[,B,C]       subtract per channel (model channel order), in units of pixel*scale\n"
    "  --std A[,B,C]        then divide per channel\n"
    "  --scale S            multiply pixels (0..1) by S first (255 for 0..255 models)\n"
    "  --bgr                the model expects B,G,R channel order\n"
    "  --resize MODE        crop (keep aspect, center crop; default) or stretch\n"
    "  --save-output Y.pb   write the model's (first) output as a TensorProto\n"
    "  --dump DIR           write every recorded tensor as DIR/<name>.pb (characters outside\n"
    "                       A-Z a-z 0-9 . _ - become _; the TensorProto keeps the real name)\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  --no-winograd        every convolution as im2col + GEMM (see zfviz bench)\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input file\n"
    "\n"
    "examples:\n"
    "  zfviz run zfnet.onnx cat.jpg --top 5\n"
    "  zfviz run resnet50.onnx dog.png --preprocess torchvision --labels imagenet.txt\n"
    "  zfviz run lenet.onnx --tensor digit.pb --save-output logits.pb --dump acts/\n";

#define MAX_FEEDS 16

typedef struct { float p; int64_t k; } scored;

static int by_prob(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->k < y->k ? -1 : x->k > y->k;
}

// mkdir -p for one level plus parents.
static int make_dir(const char *dir, zf_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", dir);
    for (char *p = tmp + 1; ; p++) {
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
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return zf_fail(err, ZF_ERR_INPUT, "%s: exists and is not a directory", dir);
    return 0;
}

static int dump_all(const zf_model *m, const char *dir, zf_error *err) {
    if (make_dir(dir, err)) return err->code;
    char (*used)[200] = calloc((size_t)m->n_listed + 1, sizeof *used);
    if (!used) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    int rc = 0;
    for (int i = 0; i < m->n_listed && !rc; i++) {
        const zf_value *v = &m->values[m->listed[i]];
        char base[200], path[4400];
        cli_sanitize(base, sizeof base - 16, v->name);
        // Different names can sanitize alike ("a/b", "a_b"): add the index to later ones.
        for (int j = 0; j < i; j++)
            if (!strcmp(used[j], base)) {
                size_t l = strlen(base);
                snprintf(base + l, sizeof base - l, "_%d", i);
                j = -1;   // check again
            }
        memcpy(used[i], base, sizeof base);
        snprintf(path, sizeof path, "%s/%s.pb", dir, base);
        rc = zf_tensor_write_pb(path, &v->t, v->name, err);
    }
    free(used);
    return rc;
}

int cmd_run(int argc, char **argv) {
    const char *cmd = "run";
    if (cli_wants_help(argc, argv)) { fputs(RUN_HELP, stdout); return 0; }
    const char *model_path = NULL, *image_path = NULL, *labels_path = NULL, *tensor_paths[MAX_FEEDS];
    int n_tensors = 0;
    const char *spec = NULL, *save_path = NULL, *dump_dir = NULL, *v;
    long long top = 5, threads = 0;
    float mean[3], std[3];
    double scale = 0;
    int have_mean = 0, have_std = 0, bgr = 0, resize = -1, no_opts = 0, no_winograd = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--top"))) {
                if (r == 2 || cli_int(&top, cmd, "--top", v, 1, 1000000)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--threads"))) {
                if (r == 2 || cli_int(&threads, cmd, "--threads", v, 0, CLI_MAX_THREADS)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--scale"))) {
                if (r == 2 || cli_float(&scale, cmd, "--scale", v, 1e-30, 1e30)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--mean")) || (r = cli_opt(&v, argc, argv, &i, cmd, "--std"))) {
                if (r == 2) return 2;
                int is_mean = !strncmp(a, "--mean", 6);
                zf_error e = {0};
                float *dst = is_mean ? mean : std;
                if (zf_preprocess_parse_triple(dst, v, &e)) return cli_usage(cmd, "%s: %s", is_mean ? "--mean" : "--std", e.msg);
                if (!is_mean)
                    for (int c = 0; c < 3; c++)
                        if (!(std[c] > 0)) return cli_usage(cmd, "--std values must be positive, got '%s'", v);
                if (is_mean) have_mean = 1; else have_std = 1;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--resize"))) {
                if (r == 2) return 2;
                if (!strcmp(v, "crop")) resize = ZF_RESIZE_CROP;
                else if (!strcmp(v, "stretch")) resize = ZF_RESIZE_STRETCH;
                else return cli_usage(cmd, "--resize expects crop or stretch, got '%s'", v);
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--tensor"))) {
                if (r == 2) return 2;
                if (n_tensors == MAX_FEEDS) return cli_usage(cmd, "at most %d --tensor inputs", MAX_FEEDS);
                if (!*v) return cli_usage(cmd, "--tensor needs a non-empty value");
                tensor_paths[n_tensors++] = v;
                continue;
            }
            const char **dst = NULL;
            const char *name = NULL;
            static const char *const str_flags[] = {"--labels", "--preprocess", "--save-output", "--dump"};
            const char **dsts[] = {&labels_path, &spec, &save_path, &dump_dir};
            for (int f = 0; f < 4 && !dst; f++) {
                if ((r = cli_opt(&v, argc, argv, &i, cmd, str_flags[f]))) {
                    if (r == 2) return 2;
                    dst = dsts[f];
                    name = str_flags[f];
                }
            }
            if (dst) {
                if (!*v) return cli_usage(cmd, "%s needs a non-empty value", name);
                *dst = v;
                continue;
            }
            if (!strcmp(a, "--bgr")) { bgr = 1; continue; }
            if (!strcmp(a, "--no-winograd")) { no_winograd = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (!model_path) model_path = a;
        else if (!image_path) image_path = a;
        else return cli_usage(cmd, "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (!image_path && !n_tensors) return cli_usage(cmd, "missing IMAGE (or --tensor X.pb)");
    if (image_path && n_tensors) return cli_usage(cmd, "give either IMAGE or --tensor, not both");
    zf_preprocess flag_pp;
    if (spec) {
        zf_error e = {0};
        if (zf_preprocess_parse(&flag_pp, spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }

    zf_error err = {0};
    int rc = 0;
    zf_image img = {0};
    zf_tensor xs[MAX_FEEDS] = {{0}}, *x = &xs[0];
    int n_feed = n_tensors ? n_tensors : 1;
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_labels labels = {0};
    scored *sc = NULL;

    // Inputs first: a bad image is reported before the (possibly slow) model load.
    if (n_tensors) {
        for (int t = 0; t < n_tensors; t++)
            if ((rc = zf_tensor_read_pb(&xs[t], NULL, tensor_paths[t], &err))) goto fail;
    } else if ((rc = zf_image_load(&img, image_path, &err))) {
        goto fail;
    }
    if (labels_path && (rc = zf_labels_load(&labels, labels_path, &err))) goto fail;

    if ((rc = zf_onnx_read(&om, model_path, &err))) goto fail;
    // The planned input shape: the tensor's own, or (1, C, H, W) from the model with unknown sizes
    // taken from the image.
    int n_in = 0;
    const zf_onnx_value_info *in = zf_onnx_data_input(&om.graph, &n_in);
    if (n_in != n_feed) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: the model has %d graph input%s, %d given%s", model_path, n_in,
                     n_in == 1 ? "" : "s", n_feed, n_tensors ? "" : " (feed several with repeated --tensor)");
        goto fail;
    }
    zf_tensor shape = {0};
    if (!n_tensors) {
        if (in->ndim != 4) {
            char s[128];
            rc = zf_fail(&err, ZF_ERR_INPUT, "%s: input '%s' has shape %s, not (N,C,H,W): feed it with --tensor",
                         model_path, in->name, in->ndim < 0 ? "(unknown)" : zf_shape_str(s, sizeof s, in->ndim, in->dims));
            goto fail;
        }
        if ((rc = cli_image_input_shape(&shape, in, img.height, img.width, model_path, &err))) goto fail;
    }
    zf_load_opts lo = zf_load_defaults();
    lo.threads = (int)threads;
    lo.no_winograd = no_winograd;
    lo.n_input_shapes = n_feed;
    lo.input_shapes = n_tensors ? xs : &shape;
    rc = zf_model_from_onnx(&m, &om, model_path, &lo, &err);
    zf_onnx_free(&om);
    if (rc) goto fail;

    if (!n_tensors) {
        zf_preprocess pp = zf_preprocess_raw();
        const char *meta = zf_model_meta(&m, ZF_META_PREPROCESS);
        if (meta && (rc = zf_preprocess_parse(&pp, meta, &err))) {
            zf_error_prefix(&err, "%s: metadata %s", model_path, ZF_META_PREPROCESS);
            goto fail;
        }
        if (spec) pp = flag_pp;
        if (have_mean) memcpy(pp.mean, mean, sizeof mean);
        if (have_std) memcpy(pp.std, std, sizeof std);
        if (scale > 0) pp.scale = (float)scale;
        if (bgr) pp.bgr = 1;
        if (resize >= 0) pp.resize = (zf_resize_mode)resize;
        if (!meta && !spec && !have_mean && !have_std && !(scale > 0) && !bgr)
            fprintf(stderr, "zfviz run: note: %s stores no preprocessing; using raw pixels 0..1 (see --preprocess)\n",
                    model_path);
        const zf_value *iv = &m.values[m.inputs[0]];
        if ((rc = zf_image_to_tensor(x, &img, &pp, (int)iv->t.dims[1], (int)iv->t.dims[2], (int)iv->t.dims[3], &err))) {
            zf_error_prefix(&err, "%s", image_path);
            goto fail;
        }
        zf_image_free(&img);
    }
    if ((rc = zf_model_forward(&m, n_feed, xs, &err))) goto fail;

    const zf_value *ov = &m.values[m.outputs[0]];
    if (ov->t.dtype != ZF_F32) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: output '%s' is int64, not class scores", model_path, ov->name);
        goto fail;
    }
    if (save_path && (rc = zf_tensor_write_pb(save_path, &ov->t, ov->name, &err))) goto fail;
    if (dump_dir && (rc = dump_all(&m, dump_dir, &err))) goto fail;

    if (!labels_path) {
        const char *meta = zf_model_meta(&m, ZF_META_LABELS);
        if (meta && (rc = zf_labels_parse(&labels, meta, strlen(meta), &err))) {
            zf_error_prefix(&err, "%s: metadata %s", model_path, ZF_META_LABELS);
            goto fail;
        }
    }
    int64_t total = zf_tensor_numel(&ov->t);
    int64_t batch = ov->t.ndim >= 2 ? ov->t.dims[0] : 1;
    int64_t classes = batch > 0 ? total / batch : 0;
    if (classes < 1) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: output '%s' is empty", model_path, ov->name);
        goto fail;
    }
    if (labels.n && labels.n != classes)
        fprintf(stderr, "zfviz run: warning: %d labels for %lld classes\n", labels.n, (long long)classes);
    const char *last = ov->producer >= 0 && m.nodes[ov->producer].op ? m.nodes[ov->producer].op->type : "";
    int is_prob = !strcmp(last, "Softmax"), is_logprob = !strcmp(last, "LogSoftmax");
    if (!(sc = malloc((size_t)classes * sizeof *sc))) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto fail; }
    int64_t k = top < classes ? top : classes;
    for (int64_t b = 0; b < batch; b++) {
        const float *y = zf_f32(&ov->t) + b * classes;
        float mx = -INFINITY;
        for (int64_t c = 0; c < classes; c++) if (y[c] > mx) mx = y[c];
        double sum = 0;
        for (int64_t c = 0; c < classes; c++) {
            float p = is_prob ? y[c] : is_logprob ? expf(y[c]) : expf(y[c] - mx);
            sc[c].p = p;
            sc[c].k = c;
            sum += p;
        }
        if (!is_prob && !is_logprob && sum > 0)
            for (int64_t c = 0; c < classes; c++) sc[c].p = (float)(sc[c].p / sum);
        qsort(sc, (size_t)classes, sizeof *sc, by_prob);
        for (int64_t r = 0; r < k; r++) {
            const char *name = zf_labels_get(&labels, sc[r].k);
            if (batch > 1) printf("[%lld] ", (long long)b);
            printf("%2lld  %.4f  %5lld%s%s\n", (long long)r + 1, sc[r].p, (long long)sc[r].k, name ? "  " : "",
                   name ? name : "");
        }
    }
    fflush(stdout);

fail:
    free(sc);
    zf_labels_free(&labels);
    zf_image_free(&img);
    for (int t = 0; t < MAX_FEEDS; t++) zf_tensor_free(&xs[t]);
    zf_onnx_free(&om);
    zf_model_free(&m);
    return rc ? cli_fail(&err) : 0;
}
