// test_conv_gemm: zfviz's own convolution GEMM (core/ops/conv_gemm.h) against a direct double loop
// written here from the ONNX Conv definition, on the shapes its plan treats differently: outputs
// wide enough for the fused items (each gathering its own panels), in several tiles; narrow outputs
// sharing one tile of panels; groups; channel counts that leave a partial 6-channel strip and
// position counts that leave a partial 16-position panel; column strides 1 and 2 (panels from runs
// of a row) and 3 (gathers), dilations, asymmetric pads, unpadded inputs read in place; batches;
// the pool and the caller's thread. Group-1 layers of few taps go to the small-taps kernel, so the
// ungrouped cases here have more than ZF_CONV_SMALL_TAPS. Exit 1 on any mismatch, 77 when the
// build has no AVX2+FMA.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops/conv.h"
#include "core/ops/conv_gemm.h"

static int failures, checks;
static uint64_t rng = 0x2545F4914F6CDD1Dull;

static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 20) % 2000001) / 1000000.0f - 1.0f;
}

static void *xmalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

typedef struct {
    const char *name;
    int64_t N, C, H, W, K, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
    size_t budget;   // 0: the default plan
    int want_fused_tiles;   // 1: the plan must split the output into several tiles
} gcase;

static void run(const gcase *c, zf_pool *pool) {
    zf_conv_params p;
    memset(&p, 0, sizeof p);
    p.group = c->group;
    p.no_winograd = 1;
    p.attrs.n_strides = p.attrs.n_dilations = 2;
    p.attrs.strides[0] = c->sh; p.attrs.strides[1] = c->sw;
    p.attrs.dilations[0] = c->dh; p.attrs.dilations[1] = c->dw;
    p.attrs.n_pads = 4;
    p.attrs.pads[0] = c->pt; p.attrs.pads[1] = c->pl; p.attrs.pads[2] = c->pb; p.attrs.pads[3] = c->pr;
    int64_t x[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->K, c->C / c->group, c->kh, c->kw};
    zf_error err = {0};
    checks++;
    if (zf_conv_setup(&p, x, wd, &err)) {
        printf("FAIL %s: setup: %s\n", c->name, err.msg);
        failures++;
        return;
    }
    if (c->budget) zf_conv_plan(&p, c->budget);
    // The kernel on every shape, whatever zf_conv_plan's policy (grouped layers only) would pick.
    p.gemm_cols = zf_conv_gemm_plan(&p, (int64_t)((c->budget ? c->budget : ZF_CONV_COL_BUDGET) / sizeof(float)));
    if (p.gemm_cols <= 0 || p.small_taps) {
        printf("FAIL %s: the plan does not use the GEMM kernel (gemm_cols %lld, small_taps %d)\n", c->name,
               (long long)p.gemm_cols, p.small_taps);
        failures++;
        return;
    }
    if (c->want_fused_tiles && p.gemm_cols >= p.OH * p.OW) {
        printf("FAIL %s: expected several tiles, got one of %lld columns\n", c->name, (long long)p.gemm_cols);
        failures++;
        return;
    }
    const int64_t Cg = c->C / c->group, Kg = c->K / c->group, OH = p.OH, OW = p.OW;
    const int64_t nin = c->N * c->C * c->H * c->W, nw = c->K * Cg * c->kh * c->kw, nout = c->N * c->K * OH * OW;
    float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(c->K * 4), *out = xmalloc(nout * 4);
    float *scratch = xmalloc(zf_conv_scratch_bytes(&p));
    for (int64_t i = 0; i < nin; i++) in[i] = frand();
    for (int64_t i = 0; i < nw; i++) w[i] = frand();
    for (int64_t i = 0; i < c->K; i++) b[i] = frand();
    for (int bias = 0; bias < 2; bias++) {
        for (int64_t i = 0; i < nout; i++) out[i] = NAN;
        zf_conv2d_forward(out, scratch, in, w, bias ? b : NULL, &p, pool);
        double maxerr = 0;
        int64_t bad = -1;
        double bad_want = 0;
        for (int64_t n = 0; n < c->N; n++)
            for (int64_t k = 0; k < c->K; k++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        const int64_t g = k / Kg;
                        double s = bias ? b[k] : 0.0;
                        for (int64_t ci = 0; ci < Cg; ci++)
                            for (int64_t i = 0; i < c->kh; i++)
                                for (int64_t j = 0; j < c->kw; j++) {
                                    int64_t ih = oh * c->sh - p.ph + i * c->dh, iw = ow * c->sw - p.pw + j * c->dw;
                                    if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                    s += (double)w[((k * Cg + ci) * c->kh + i) * c->kw + j] *
                                         in[((n * c->C + g * Cg + ci) * c->H + ih) * c->W + iw];
                                }
                        const int64_t at = ((n * c->K + k) * OH + oh) * OW + ow;
                        double e = fabs(out[at] - s);
                        if (isnan(out[at])) e = INFINITY;
                        if (e > maxerr) maxerr = e;
                        if (e > 1e-4 + 1e-4 * fabs(s) && bad < 0) {
                            bad = at;
                            bad_want = s;
                        }
                    }
        checks++;
        if (bad >= 0) {
            printf("FAIL %s%s (%s, cols %lld): first mismatch at %lld: got %.9g, expected %.9g (max error %.3g)\n",
                   c->name, bias ? " +bias" : "", pool ? "pool" : "serial", (long long)p.gemm_cols, (long long)bad,
                   out[bad], bad_want, maxerr);
            failures++;
        } else {
            printf("ok   %s%s (%s): out %lldx%lldx%lldx%lld, %lld columns per tile, max error %.2g\n", c->name,
                   bias ? " +bias" : "", pool ? "pool" : "serial", (long long)c->N, (long long)c->K, (long long)OH,
                   (long long)OW, (long long)p.gemm_cols, maxerr);
        }
    }
    free(in); free(w); free(b); free(out); free(scratch);
}

int main(void) {
    zf_conv_params probe;
    memset(&probe, 0, sizeof probe);
    probe.group = 1;
    int64_t px[4] = {1, 8, 13, 13}, pw[4] = {8, 8, 3, 3};
    if (zf_conv_setup(&probe, px, pw, NULL) || zf_conv_gemm_plan(&probe, ZF_CONV_COL_BUDGET / sizeof(float)) <= 0) {
        printf("SKIP: this build has no AVX2+FMA GEMM kernel (im2col + OpenBLAS only; test_ops_compute covers it)\n");
        return 77;
    }
    zf_pool *pool = zf_pool_create(2);
    static const gcase cases[] = {
        // name                                  N  C   H   W   K  kh kw sh sw dh dw pt pl pb pr  g  budget fused tiles
        {"fused, 3 tiles, groups, partial strip", 2, 8, 66, 66, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 64 << 10, 1},
        {"fused, stride 2 (gathers)",            1, 24, 60, 60, 13, 5, 5, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},
        {"fused, dilated, stride 2",             2, 4, 61, 59, 10, 3, 3, 2, 2, 2, 2, 2, 0, 1, 3, 2, 0, 0},
        {"fused, dilated, asymmetric pads",      1, 5, 40, 37, 9, 3, 3, 1, 1, 2, 2, 2, 1, 0, 3, 1, 0, 0},
        {"fused, unpadded, stride 3 (in place)", 1, 64, 80, 80, 7, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, 0},
        {"fused, row stride 2, column stride 1", 1, 60, 50, 41, 8, 3, 3, 2, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0},
        {"fused, AlexNet conv2 shape (1/4)",     1, 24, 27, 27, 64, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0, 0},
        {"shared tile, 13x13, groups, batch",    3, 32, 13, 13, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0},
        {"shared tile, 13x13, 384 channels",     1, 16, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
        {"shared tile, unpadded, stride 3",      2, 36, 50, 50, 6, 4, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, 0},
        {"shared tile, stride 2, odd pads",      2, 40, 25, 24, 11, 3, 3, 2, 2, 1, 1, 1, 0, 0, 2, 1, 0, 0},
        {"shared tile, unpadded, stride 2",      1, 60, 27, 27, 9, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, 0},
        {"shared tile, 1 panel per tile",        1, 6, 12, 11, 5, 3, 2, 1, 1, 1, 1, 1, 0, 1, 1, 1, 256, 0},
        {"shared tile, fewer positions than 16", 2, 3, 4, 5, 7, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&cases[i], pool);
        run(&cases[i], NULL);
    }
    zf_pool_destroy(pool);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
