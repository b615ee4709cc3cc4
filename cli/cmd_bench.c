// cmd_bench.c: `zfviz bench MODEL`: time forward passes on a fixed random input and print one line
// "forward: median 12.34 ms, min 11.98 ms, 190.1 GFLOP/s" (details go to stderr before it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "cli.h"
#include "cli_model.h"
#include "core/graph.h"
#include "core/ops/op.h"
#include "core/ops/conv.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/parallel.h"

// Peak resident set size of this process (getrusage reports KiB on Linux).
static double zf_peak_rss_bytes(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? 0 : (double)ru.ru_maxrss * 1024.0;
}

static const char BENCH_HELP[] =
    "usage: zfviz bench MODEL [--batch B] [--threads N] [--repeat R] [--warmup W] [--shape N,C,H,W]\n"
    "\n"
    "Loads the model once, runs W untimed forward passes, then R timed ones on a random input\n"
    "(uniform 0..1, fixed seed) and prints exactly one line on stdout:\n"
    "  forward: median 12.34 ms, min 11.98 ms, 190.1 GFLOP/s\n"
    "GFLOP/s is the model's total FLOPs (as `zfviz info` counts them, multiply-add = 2) divided by\n"
    "the median time. Details (model, batch, threads, GFLOP per pass) go to stderr first.\n"
    "\n"
    "options:\n"
    "  --batch B          batch size for a symbolic/unknown first input dimension (default 1)\n"
    "  --threads N        worker threads (default 0 = all cores)\n"
    "  --repeat R         timed passes (default 10)\n"
    "  --warmup W         untimed passes first (default 2)\n"
    "  --shape N,C,H,W    explicit shape of the first graph input\n"
    "  --per-layer        also print, on stderr, one line per node:\n"
    "                     \"layer OP MEDIAN_MS MFLOP MIN_MS NAME\" (median and fastest of the timed\n"
    "                     passes; convolutions run as Winograd add \" (Winograd)\", their MFLOP still\n"
    "                     the direct form's)\n"
    "  --memory           also print, on stderr, peak resident memory against weights + activations\n"
    "  --vs-sgemm         with --per-layer: before each timed pass, one 2048^3 sgemm on the same\n"
    "                     threads (OpenBLAS, split as zfviz splits its GEMMs); prints on stderr the\n"
    "                     conv layers' rate in each pass against the sgemm just before it:\n"
    "                     \"conv-vs-sgemm: median P%, range LO-HI%, sgemm median G GFLOP/s\"\n"
    "  --no-winograd      every convolution as im2col + GEMM (default: 3x3 stride-1 layers with\n"
    "                     enough output tiles run as Winograd F(4x4,3x3), equal up to rounding)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad model file\n"
    "\n"
    "example:\n"
    "  zfviz bench vgg16.onnx --batch 8 --threads 2 --repeat 20\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
    const char *cmd = "bench";
    if (cli_wants_help(argc, argv)) { fputs(BENCH_HELP, stdout); return 0; }
    const char *path = NULL, *v;
    long long batch = 1, threads = 0, repeat = 10, warmup = 2;
    zf_tensor shape = {0};
    int have_shape = 0, no_opts = 0, per_layer = 0, memory = 0, no_winograd = 0, vs_sgemm = 0;
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
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--repeat"))) {
                if (r == 2 || cli_int(&repeat, cmd, "--repeat", v, 1, 1000000)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--warmup"))) {
                if (r == 2 || cli_int(&warmup, cmd, "--warmup", v, 0, 1000000)) return 2;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--shape"))) {
                if (r == 2 || cli_shape(&shape, cmd, "--shape", v)) return 2;
                have_shape = 1;
                continue;
            }
            if (!strcmp(a, "--per-layer")) { per_layer = 1; continue; }
            if (!strcmp(a, "--memory")) { memory = 1; continue; }
            if (!strcmp(a, "--vs-sgemm")) { vs_sgemm = 1; continue; }
            if (!strcmp(a, "--no-winograd")) { no_winograd = 1; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (path) return cli_usage(cmd, "unexpected argument '%s' (one MODEL expected)", a);
        path = a;
    }
    if (!path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (vs_sgemm && !per_layer) return cli_usage(cmd, "--vs-sgemm needs --per-layer");

    zf_load_opts lo = zf_load_defaults();
    lo.batch = batch;
    lo.threads = (int)threads;
    lo.no_winograd = no_winograd;
    if (have_shape) { lo.n_input_shapes = 1; lo.input_shapes = &shape; }
    zf_error err = {0};
    zf_model m = {0};
    int rc = 0;
    zf_tensor *inputs = NULL;
    float *sg_a = NULL, *sg_b = NULL, *sg_c = NULL;
    double *sg_rate = NULL;
    double *times = NULL, *layer_times = NULL;
    if ((rc = zf_model_load(&m, path, &lo, &err))) goto done;

    inputs = calloc((size_t)m.n_inputs + 1, sizeof *inputs);
    times = calloc((size_t)repeat, sizeof *times);
    if (per_layer) {
        // repeat samples per node, stored node-major: layer_times[node * repeat + r]
        layer_times = calloc((size_t)m.n_nodes * (size_t)repeat + 1, sizeof *layer_times);
        m.profile = calloc((size_t)m.n_nodes + 1, sizeof *m.profile);
        if (!layer_times || !m.profile) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto done; }
    }
    if (!inputs || !times) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto done; }
    zf_rng rng;
    zf_rng_seed(&rng, 1234);
    for (int i = 0; i < m.n_inputs; i++) {
        const zf_tensor *t = &m.values[m.inputs[i]].t;
        if ((rc = zf_tensor_alloc(&inputs[i], t->dtype, t->ndim, t->dims, &err))) goto done;
        if (t->dtype == ZF_F32) {   // int64 inputs (indices) stay 0
            float *x = zf_f32(&inputs[i]);
            int64_t n = zf_tensor_numel(t);
            for (int64_t j = 0; j < n; j++) x[j] = (float)zf_rng_uniform(&rng);
        }
    }
    double flops = 0;
    for (int k = 0; k < m.n_nodes; k++) flops += (double)zf_node_flops(&m.nodes[k], m.values);
    char shp[128] = "";
    if (m.n_inputs > 0) {
        const zf_tensor *t = &m.values[m.inputs[0]].t;
        zf_shape_str(shp, sizeof shp, t->ndim, t->dims);
    }
    fprintf(stderr, "model: %s, input %s, %d thread%s, %.3f GFLOP per forward pass, %lld warmup + %lld timed\n",
            m.path, shp, m.threads, m.threads == 1 ? "" : "s", flops / 1e9, warmup, repeat);

    // --vs-sgemm: the peer product, 2048^3 (as tools/sgemm_peak's square one), GFLOP/s per pass.
    enum { SG = 2048 };
    if (vs_sgemm) {
        sg_a = malloc(sizeof(float) * SG * SG);
        sg_b = malloc(sizeof(float) * SG * SG);
        sg_c = malloc(sizeof(float) * SG * SG);
        sg_rate = calloc((size_t)repeat, sizeof *sg_rate);
        if (!sg_a || !sg_b || !sg_c || !sg_rate) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto done; }
        for (size_t i = 0; i < (size_t)SG * SG; i++) {
            sg_a[i] = (float)(i % 7) * 0.1f;
            sg_b[i] = (float)(i % 5) * 0.1f;
        }
        zf_sgemm(m.pool, 0, 0, SG, SG, SG, 1.0f, sg_a, SG, sg_b, SG, 0.0f, sg_c, SG);   // warm up
    }
    zf_progress pr;
    zf_progress_start(&pr, "bench", warmup + repeat);
    for (long long r = 0; r < warmup + repeat; r++) {
        if (vs_sgemm && r >= warmup) {
            double s0 = zf_seconds();
            zf_sgemm(m.pool, 0, 0, SG, SG, SG, 1.0f, sg_a, SG, sg_b, SG, 0.0f, sg_c, SG);
            sg_rate[r - warmup] = 2.0 * SG * SG * SG / (zf_seconds() - s0) / 1e9;
        }
        if (m.profile) memset(m.profile, 0, sizeof *m.profile * (size_t)m.n_nodes);
        double t0 = zf_seconds();
        if ((rc = zf_model_forward(&m, m.n_inputs, inputs, &err))) goto done;
        double dt = zf_seconds() - t0;
        if (r >= warmup) times[r - warmup] = dt;
        if (r >= warmup && m.profile)
            for (int k = 0; k < m.n_nodes; k++) layer_times[(size_t)k * (size_t)repeat + (size_t)(r - warmup)] = m.profile[k];
        zf_progress_add(&pr, 1);
    }
    zf_progress_finish(&pr);
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    double median = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    if (vs_sgemm) {
        // Each pass's conv rate over the sgemm's just before it (before the per-node sort below).
        double *pct = calloc((size_t)repeat, sizeof *pct), cf = 0;
        if (!pct) { rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory"); goto done; }
        for (int k = 0; k < m.n_nodes; k++)
            if (m.nodes[k].op == &zf_op_conv) cf += (double)zf_node_flops(&m.nodes[k], m.values);
        for (long long r = 0; r < repeat; r++) {
            double t = 0;
            for (int k = 0; k < m.n_nodes; k++)
                if (m.nodes[k].op == &zf_op_conv) t += layer_times[(size_t)k * (size_t)repeat + (size_t)r];
            pct[r] = t > 0 && sg_rate[r] > 0 ? 100.0 * cf / t / 1e9 / sg_rate[r] : 0;
        }
        qsort(pct, (size_t)repeat, sizeof *pct, cmp_double);
        qsort(sg_rate, (size_t)repeat, sizeof *sg_rate, cmp_double);
        if (cf > 0)
            fprintf(stderr, "conv-vs-sgemm: median %.0f%%, range %.0f-%.0f%%, sgemm median %.1f GFLOP/s\n",
                    repeat % 2 ? pct[repeat / 2] : 0.5 * (pct[repeat / 2 - 1] + pct[repeat / 2]), pct[0],
                    pct[repeat - 1], repeat % 2 ? sg_rate[repeat / 2] : 0.5 * (sg_rate[repeat / 2 - 1] + sg_rate[repeat / 2]));
        free(pct);
    }
    if (per_layer)
        for (int k = 0; k < m.n_nodes; k++) {
            double *lt = layer_times + (size_t)k * (size_t)repeat;
            qsort(lt, (size_t)repeat, sizeof *lt, cmp_double);
            double med = repeat % 2 ? lt[repeat / 2] : 0.5 * (lt[repeat / 2 - 1] + lt[repeat / 2]);
            const int wino = zf_conv_node_winograd(&m.nodes[k]);
            fprintf(stderr, "layer %s %.4f %.3f %.4f %s%s\n", m.nodes[k].op->type, med * 1e3,
                    (double)zf_node_flops(&m.nodes[k], m.values) / 1e6, lt[0] * 1e3, m.nodes[k].name,
                    wino ? " (Winograd)" : "");
        }
    if (memory) {
        double weights = 0;
        for (int k = 0; k < m.n_values; k++)
            if (m.values[k].is_const && m.values[k].t.data)
                weights += (double)zf_tensor_numel(&m.values[k].t) * (double)zf_dtype_size(m.values[k].t.dtype);
        // Against weights + recorded activations (the arena); the shared scratch is part of the peak.
        double acts = (double)m.arena_bytes;
        double rss = zf_peak_rss_bytes();
        fprintf(stderr, "memory: peak RSS %.1f MB = %.2fx (weights %.1f MB + recorded activations %.1f MB; scratch %.1f MB)\n",
                rss / 1048576, rss / (weights + acts), weights / 1048576, acts / 1048576, (double)m.scratch_bytes / 1048576);
    }
    printf("forward: median %.2f ms, min %.2f ms, %.1f GFLOP/s\n", median * 1e3, times[0] * 1e3,
           median > 0 ? flops / median / 1e9 : 0.0);
    fflush(stdout);

done:
    if (inputs)
        for (int i = 0; i < m.n_inputs; i++) zf_tensor_free(&inputs[i]);
    free(inputs);
    free(times);
    free(layer_times);
    free(sg_a);
    free(sg_b);
    free(sg_c);
    free(sg_rate);
    free(m.profile);
    m.profile = NULL;
    zf_model_free(&m);
    return rc ? cli_fail(&err) : 0;
}
