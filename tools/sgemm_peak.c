// sgemm_peak: this machine's OpenBLAS single-precision GEMM rate, the yardstick `make bench` divides
// by. Square 2048 and a conv-shaped (K=1152, N=3136) product, best of several runs.
// Usage: sgemm_peak [THREADS]   prints "sgemm-peak: 123.4 GFLOP/s (threads 2)"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double rate(int M, int N, int K, int reps) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    if (!a || !b || !c) { fprintf(stderr, "sgemm_peak: out of memory\n"); exit(1); }
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / best * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (threads > 0) openblas_set_num_threads(threads);
    rate(512, 512, 512, 2);   // warm up
    double sq = rate(2048, 2048, 2048, 5);
    double conv = rate(256, 3136, 1152, 8);
    double peak = sq > conv ? sq : conv;
    printf("sgemm-peak: %.1f GFLOP/s (threads %d; square-2048 %.1f, conv-shaped %.1f)\n", peak,
           openblas_get_num_threads(), sq, conv);
    return 0;
}
