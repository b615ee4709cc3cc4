// bench_conv: GFLOP/s of zf_conv2d_forward on the conv layers of ZFNet, VGG-16 and AlexNet, next to the
// OpenBLAS sgemm peak measured in the same run (2048^3), so the ratio survives a busy machine.
// Each layer reports its best time over a few repetitions, and beside it the best time of the bare
// sgemm of the same shape (what OpenBLAS alone reaches on that layer).
//
//   make BUILD=build build/libzfviz.a
//   cc -O2 -march=native -I. -Icore $(pkg-config --cflags openblas) tools/bench_conv.c build/libzfviz.a
//      $(pkg-config --libs openblas) -lm -pthread -o build/bench_conv      (one line)
//   build/bench_conv [--batch N] [--threads T] [--budget MB] [--images K] [--cpu] [--blas | --ab] [--cold] [LAYER-SUBSTRING]
//
// Winograd is off (p.no_winograd): this measures the direct kernels. --blas runs im2col + zf_sgemm
// (OpenBLAS) where the plan would pick zfviz's own GEMM kernel (ops/conv_gemm.h); --ab times the
// plan's kernel (zfviz's GEMM or the small-taps kernel) and im2col + OpenBLAS, alternating, and
// prints the latter on a second line.
// --budget re-plans the im2col tile size (default ZF_CONV_COL_BUDGET); --images forces K images per
// GEMM on layers whose output is under 1024 pixels.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "core/ops/conv.h"

// --cpu measures process CPU time instead of wall time: on a machine shared with other jobs the
// ratio to the peak stays meaningful (use it with --threads 1, where no thread spins).
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec t;
    clock_gettime(clock_id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct { const char *name; int C, H, K, k, s, p, g; } layer;   // g: groups, 0 for 1

static const layer layers[] = {
    {"zfnet.conv1", 3, 224, 96, 7, 2, 1},   {"zfnet.conv2", 96, 55, 256, 5, 2, 0},
    {"zfnet.conv3", 256, 13, 384, 3, 1, 1}, {"zfnet.conv4", 384, 13, 384, 3, 1, 1},
    {"zfnet.conv5", 384, 13, 256, 3, 1, 1}, {"vgg16.conv1_1", 3, 224, 64, 3, 1, 1},
    {"vgg16.conv1_2", 64, 224, 64, 3, 1, 1}, {"vgg16.conv2_1", 64, 112, 128, 3, 1, 1},
    {"vgg16.conv2_2", 128, 112, 128, 3, 1, 1}, {"vgg16.conv3_1", 128, 56, 256, 3, 1, 1},
    {"vgg16.conv3_2", 256, 56, 256, 3, 1, 1}, {"vgg16.conv4_1", 256, 28, 512, 3, 1, 1},
    {"vgg16.conv4_2", 512, 28, 512, 3, 1, 1}, {"vgg16.conv5_1", 512, 14, 512, 3, 1, 1},
    {"alexnet.conv1", 3, 227, 96, 11, 4, 0},    {"alexnet.conv2", 96, 27, 256, 5, 1, 2, 2},
    {"alexnet.conv3", 256, 13, 384, 3, 1, 1},   {"alexnet.conv4", 384, 13, 384, 3, 1, 1, 2},
    {"alexnet.conv5", 384, 13, 256, 3, 1, 1, 2},
};

// --cold: the weights and input leave the caches before every run, as in a model's forward pass
// (its fully connected layers stream 200+ MB of weights between two passes).
static float *flush_buf;
static void flush_caches(int cold) {
    if (!cold) return;
    const size_t n = (size_t)64 << 20 >> 2;
    if (!flush_buf && !(flush_buf = malloc(n * sizeof(float)))) return;
    for (size_t i = 0; i < n; i += 16) flush_buf[i] += 1.0f;
}

static double sgemm_peak(void) {
    const int M = 2048;
    float *a = malloc(sizeof(float) * M * M), *b = malloc(sizeof(float) * M * M), *c = malloc(sizeof(float) * M * M);
    if (!a || !b || !c) return 0;
    for (long i = 0; i < (long)M * M; i++) a[i] = b[i] = 1e-3f * (float)(i % 97);
    double best = 1e9;
    for (int r = 0; r < 8; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, 1, a, M, b, M, 0, c, M);
        double t = now() - t0;
        if (r && t < best) best = t;   // the first run warms up the threads
    }
    free(a); free(b); free(c);
    return 2.0 * M * M * M / best * 1e-9;
}

int main(int argc, char **argv) {
    int batch = 1, threads = 0, images = 0, blas = 0, ab = 0, reps_arg = 0, cold = 0;
    double budget_mb = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc) budget_mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu")) clock_id = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[i], "--blas")) blas = 1;
        else if (!strcmp(argv[i], "--ab")) ab = 1;
        else if (!strcmp(argv[i], "--cold")) cold = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps_arg = atoi(argv[++i]);
        else if (argv[i][0] != '-') only = argv[i];
        else { fprintf(stderr, "usage: bench_conv [--batch N] [--threads T] [--budget MB] [--images K] [--cpu] [--blas] [--ab] [--cold] [LAYER]\n"); return 2; }
    }
    if (batch < 1) batch = 1;
    zf_blas_set_threads(threads);
    zf_pool *pool = zf_pool_create(threads);
    double peak = sgemm_peak();
    printf("threads %d, batch %d, sgemm 2048^3 peak %.1f GFLOP/s\n", zf_pool_threads(pool), batch, peak);
    double flops = 0, secs = 0;
    for (unsigned li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        if (only && !strstr(l->name, only)) continue;
        zf_conv_params p;
        memset(&p, 0, sizeof p);
        const int g = l->g > 1 ? l->g : 1;
        p.group = g;
        p.no_winograd = 1;
        p.attrs.n_pads = 4;
        for (int i = 0; i < 4; i++) p.attrs.pads[i] = l->p;
        p.attrs.n_strides = 2;
        p.attrs.strides[0] = p.attrs.strides[1] = l->s;
        int64_t x[4] = {batch, l->C, l->H, l->H}, w[4] = {l->K, l->C / g, l->k, l->k};
        zf_error err = {0};
        if (zf_conv_setup(&p, x, w, &err)) { fprintf(stderr, "%s: %s\n", l->name, err.msg); return 1; }
        if (budget_mb > 0) zf_conv_plan(&p, (size_t)(budget_mb * 1048576.0));
        if (blas) p.gemm_cols = 0;
        if (images > 0 && p.OH * p.OW < 1024 && !p.direct) {
            p.images_per_tile = images < batch ? images : batch;
            p.tile_rows = p.OH;
        }
        size_t nin = (size_t)batch * l->C * l->H * l->H, nw = (size_t)l->K * (l->C / g) * l->k * l->k;
        size_t nout = (size_t)batch * l->K * p.OH * p.OW, sb = zf_conv_scratch_bytes(&p);
        float *in = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)l->K * 4), *out = malloc(nout * 4);
        float *col = aligned_alloc(64, (sb + 127) / 64 * 64);
        if (!in || !wt || !b || !out || !col) { fprintf(stderr, "out of memory\n"); return 1; }
        for (size_t j = 0; j < nin; j++) in[j] = (float)(j % 13) * 0.1f;
        for (size_t j = 0; j < nw; j++) wt[j] = (float)(j % 7) * 0.01f;
        for (int j = 0; j < l->K; j++) b[j] = 0.5f;
        double fl = 2.0 * batch * l->K * (double)(l->C / g) * l->k * l->k * p.OH * p.OW;
        int reps = (int)(3e9 / fl) + 2;
        if (reps > 30) reps = 30;
        if (reps_arg > 0) reps = reps_arg;
        double best = 1e9, best_blas = 1e9;
        zf_conv_params pb = p;
        pb.gemm_cols = 0;
        pb.small_taps = 0;
        const int do_ab = ab && (p.gemm_cols || p.small_taps);
        zf_blas_set_threads(1);   // as a model runs it: the pool splits the GEMMs (zf_sgemm)
        zf_conv2d_forward(out, col, in, wt, b, &p, pool);
        if (do_ab) zf_conv2d_forward(out, col, in, wt, b, &pb, pool);
        for (int r = 0; r < reps; r++) {
            flush_caches(cold);
            double t0 = now();
            zf_conv2d_forward(out, col, in, wt, b, &p, pool);
            double t = now() - t0;
            if (t < best) best = t;
            if (do_ab) {
                flush_caches(cold);
                t0 = now();
                zf_conv2d_forward(out, col, in, wt, b, &pb, pool);
                t = now() - t0;
                if (t < best_blas) best_blas = t;
            }
        }
        // The bare GEMM of the same shape on a prepared column matrix (one image, every output
        // position at once): OpenBLAS's own ceiling for this layer, so the gap to `best` is what
        // im2col, the bias and the tiling cost.
        int64_t ckk = (int64_t)(l->C / g) * l->k * l->k, ohw = p.OH * p.OW;
        float *cm = malloc((size_t)(ckk * ohw) * 4);
        double gemm = 1e9;
        zf_blas_set_threads(threads);
        if (cm) {
            for (int64_t j = 0; j < ckk * ohw; j++) cm[j] = (float)(j % 11) * 0.1f;
            for (int r = 0; r <= reps; r++) {
                double t0 = now();
                for (int n = 0; n < batch * g; n++)   // each image's groups in turn
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->K / g, (int)ohw, (int)ckk, 1.0f, wt, (int)ckk,
                                cm, (int)ohw, 0.0f, out + (size_t)n * (l->K / g) * ohw, (int)ohw);
                double t = now() - t0;
                if (r && t < gemm) gemm = t;   // the first run warms up
            }
            free(cm);
        }
        flops += fl;
        secs += best;
        printf("%-14s out %3lldx%-3lld ckk %4lld  rows/tile %3lld imgs/gemm %lld scratch %5.1f MB  %8.2f ms  %6.1f GFLOP/s  "
               "%3.0f%% of peak  (bare GEMM %.2f ms, %3.0f%%)%s\n", l->name, (long long)p.OH, (long long)p.OW,
               (long long)ckk, (long long)p.tile_rows, (long long)p.images_per_tile, (double)sb / 1048576.0, best * 1e3,
               fl / best * 1e-9, 100.0 * fl / best * 1e-9 / peak, gemm * 1e3, 100.0 * fl / gemm * 1e-9 / peak,
               p.small_taps ? "  small-taps kernel" : p.gemm_cols ? "  zfviz GEMM" : "");
        if (do_ab) printf("%-14s im2col + OpenBLAS %.2f ms (%.2fx the zfviz kernel's time)\n", l->name, best_blas * 1e3, best_blas / best);
        free(in); free(wt); free(b); free(out); free(col);
    }
    // The peak again: on a shared machine a single measurement can land in someone else's burst.
    double peak2 = sgemm_peak();
    if (peak2 > peak) peak = peak2;
    if (secs > 0)
        printf("all layers: %.1f GFLOP/s, %.0f%% of sgemm peak (%.1f GFLOP/s, best of two measurements)\n",
               flops / secs * 1e-9, 100.0 * flops / secs * 1e-9 / peak, peak);
    zf_pool_destroy(pool);
    return 0;
}
