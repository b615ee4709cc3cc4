// test_ops_compute: the compute kernels (Conv, ConvTranspose, MaxPool, AveragePool, global pools,
// LRN, BatchNormalization, Gemm, MatMul) and the thread pool against straightforward loops written
// here from the ONNX operator definitions, on random inputs (fixed seed) over many shapes: groups,
// depthwise, dilation, asymmetric pads, stride > kernel, ceil mode, the 1x1 GEMM path, tiled and
// batched im2col. Prints the first mismatch and the max error; exit 1 on any failure.
// Also checks the shape() messages for bad inputs. The ONNX conformance cases run in test_conformance.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops/conv.h"
#include "core/ops/conv_transpose.h"
#include "core/winograd.h"
#include "core/ops/maxpool.h"
#include "core/ops/averagepool.h"
#include "core/ops/globalpool.h"
#include "core/ops/lrn.h"
#include "core/ops/batchnorm.h"
#include "core/ops/gemm.h"
#include "core/ops/matmul.h"

static int failures, checks;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u32() % (uint32_t)(hi - lo + 1)); }
static float frand(void) { return (float)(next_u32() % 2000001) / 1000000.0f - 1.0f; }
static void fill(float *x, int64_t n) { for (int64_t i = 0; i < n; i++) x[i] = frand(); }
// Values on a coarse grid, so max pooling sees ties.
static void fill_coarse(float *x, int64_t n) { for (int64_t i = 0; i < n; i++) x[i] = (float)rnd(-3, 3); }

static void *xmalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

// Compares got with want (double): |got - want| <= atol + rtol*|want|. Prints the first mismatch.
static int compare(const char *what, const float *got, const double *want, int64_t n, double atol, double rtol) {
    double maxerr = 0;
    int64_t first = -1;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (isnan(got[i]) != isnan(want[i])) e = INFINITY;
        else if (isnan(got[i])) e = 0;
        if (e > maxerr) maxerr = e;
        if (e > atol + rtol * fabs(want[i]) && first < 0) first = i;
    }
    checks++;
    if (first >= 0) {
        printf("FAIL %s: first mismatch at %lld: got %.9g, expected %.9g (max error %.3g, %lld values)\n", what,
               (long long)first, got[first], want[first], maxerr, (long long)n);
        failures++;
        return 1;
    }
    return 0;
}

static int compare_i(const char *what, const int64_t *got, const int64_t *want, int64_t n) {
    checks++;
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %s: first mismatch at %lld: got %lld, expected %lld\n", what, (long long)i, (long long)got[i],
                   (long long)want[i]);
            failures++;
            return 1;
        }
    return 0;
}

// ONNX output size, written out again independently of window.c.
static int64_t ref_out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, int ceil_mode) {
    int64_t ek = (k - 1) * d + 1;
    double o = (double)(in + pb + pe - ek) / (double)s;
    int64_t out = (int64_t)(ceil_mode ? ceil(o) : floor(o)) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb) out--;
    return out;
}

// --- Conv -----------------------------------------------------------------------------------------

typedef struct {
    int64_t N, C, H, W, K, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
    int bias, auto_pad;
} conv_case;

static void ref_conv(double *out, const float *in, const float *w, const float *b, const conv_case *c, int64_t OH,
                     int64_t OW, int64_t pt, int64_t pl) {
    int64_t Cg = c->C / c->group, Kg = c->K / c->group;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t k = 0; k < c->K; k++) {
            int64_t g = k / Kg;
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = c->bias ? b[k] : 0.0;
                    for (int64_t cc = 0; cc < Cg; cc++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++) {
                                int64_t ih = oh * c->sh - pt + i * c->dh, iw = ow * c->sw - pl + j * c->dw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                s += (double)in[((n * c->C + g * Cg + cc) * c->H + ih) * c->W + iw] *
                                     w[((k * Cg + cc) * c->kh + i) * c->kw + j];
                            }
                    out[((n * c->K + k) * OH + oh) * OW + ow] = s;
                }
        }
}

// budget 0: default plan; else re-plan with that im2col budget (forces tiling).
static int conv_no_winograd;   // run_conv sets zf_conv_params.no_winograd to this

static void run_conv(const char *name, const conv_case *c, size_t budget, zf_pool *pool) {
    zf_conv_params p;
    memset(&p, 0, sizeof p);
    p.group = c->group;
    p.no_winograd = conv_no_winograd;
    p.attrs.n_strides = p.attrs.n_dilations = 2;
    p.attrs.strides[0] = c->sh; p.attrs.strides[1] = c->sw;
    p.attrs.dilations[0] = c->dh; p.attrs.dilations[1] = c->dw;
    p.attrs.auto_pad = (zf_auto_pad)c->auto_pad;
    p.attrs.n_pads = 4;
    p.attrs.pads[0] = c->pt; p.attrs.pads[1] = c->pl; p.attrs.pads[2] = c->pb; p.attrs.pads[3] = c->pr;
    int64_t x[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->K, c->C / c->group, c->kh, c->kw};
    zf_error err = {0};
    if (zf_conv_setup(&p, x, wd, &err)) {
        printf("FAIL %s: setup: %s\n", name, err.msg);
        failures++;
        return;
    }
    if (budget) zf_conv_plan(&p, budget);
    int64_t pt = p.ph, pl = p.pw, OH = p.OH, OW = p.OW;
    if (c->auto_pad == ZF_AUTO_PAD_NOTSET) {
        int64_t eoh = ref_out_size(c->H, c->kh, c->sh, c->dh, c->pt, c->pb, 0);
        int64_t eow = ref_out_size(c->W, c->kw, c->sw, c->dw, c->pl, c->pr, 0);
        if (eoh != OH || eow != OW) {
            printf("FAIL %s: output %lldx%lld, expected %lldx%lld\n", name, (long long)OH, (long long)OW,
                   (long long)eoh, (long long)eow);
            failures++;
            return;
        }
    } else {
        // SAME: out = ceil(in / s), total pad split with the odd one at the end (UPPER) or begin (LOWER).
        int64_t eoh = (c->H + c->sh - 1) / c->sh, eow = (c->W + c->sw - 1) / c->sw;
        int64_t th = (eoh - 1) * c->sh + (c->kh - 1) * c->dh + 1 - c->H;
        int64_t tw = (eow - 1) * c->sw + (c->kw - 1) * c->dw + 1 - c->W;
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        int64_t et = c->auto_pad == ZF_AUTO_PAD_SAME_UPPER ? th / 2 : th - th / 2;
        int64_t el = c->auto_pad == ZF_AUTO_PAD_SAME_UPPER ? tw / 2 : tw - tw / 2;
        if (eoh != OH || eow != OW || et != pt || el != pl) {
            printf("FAIL %s: auto_pad output %lldx%lld pads %lld,%lld; expected %lldx%lld pads %lld,%lld\n", name,
                   (long long)OH, (long long)OW, (long long)pt, (long long)pl, (long long)eoh, (long long)eow,
                   (long long)et, (long long)el);
            failures++;
            return;
        }
    }
    int64_t nin = c->N * c->C * c->H * c->W, nw = c->K * (c->C / c->group) * c->kh * c->kw, nout = c->N * c->K * OH * OW;
    float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(c->K * 4), *out = xmalloc(nout * 4);
    float *col = xmalloc(zf_conv_scratch_bytes(&p));
    double *ref = xmalloc(nout * 8);
    fill(in, nin); fill(w, nw); fill(b, c->K);
    for (int64_t i = 0; i < nout; i++) out[i] = NAN;
    zf_conv2d_forward(out, col, in, w, c->bias ? b : NULL, &p, pool);
    ref_conv(ref, in, w, b, c, OH, OW, pt, pl);
    char what[256];
    snprintf(what, sizeof what, "%s N%lld C%lld %lldx%lld K%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld g%lld%s "
             "[direct %d rows %lld imgs %lld winograd %d]", name, (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W,
             (long long)c->K, (long long)c->kh, (long long)c->kw, (long long)c->sh, (long long)c->sw, (long long)c->dh,
             (long long)c->dw, (long long)pt, (long long)pl, (long long)p.ph_end, (long long)p.pw_end,
             (long long)c->group, c->bias ? " bias" : "", p.direct, (long long)p.tile_rows, (long long)p.images_per_tile,
             zf_wino_per_call(&p));
    compare(what, out, ref, nout, 1e-4, 1e-4);
    free(in); free(w); free(b); free(out); free(col); free(ref);
}

static void test_conv(zf_pool *pool) {
    // Named edge cases first.
    conv_case fixed[] = {
        // N C  H  W  K kh kw sh sw dh dw pt pl pb pr g bias
        {1, 3, 7, 5, 4, 3, 3, 2, 2, 1, 1, 1, 0, 1, 0, 1, 1, 0},     // asymmetric pads, stride 2
        {2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1, 0},     // depthwise
        {1, 6, 11, 13, 9, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, 3, 0, 0},   // dilation, groups
        {2, 5, 12, 10, 7, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0},   // stride > kernel
        {3, 16, 7, 7, 12, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0},   // 1x1 direct GEMM
        {2, 16, 7, 7, 12, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 4, 0, 0},   // 1x1 direct GEMM, groups
        {1, 4, 9, 9, 5, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 0},     // 1x1 stride 2 (im2col path)
        {1, 4, 9, 9, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},     // 1x1 padded (im2col path)
        {5, 6, 6, 6, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0},    // several images per GEMM
        {1, 3, 5, 5, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, ZF_AUTO_PAD_SAME_LOWER},
        {2, 3, 8, 7, 4, 4, 3, 3, 2, 1, 1, 0, 0, 0, 0, 1, 1, ZF_AUTO_PAD_SAME_UPPER},
        {1, 3, 8, 7, 4, 4, 2, 3, 2, 2, 1, 0, 0, 0, 0, 1, 1, ZF_AUTO_PAD_SAME_LOWER},
        {1, 2, 4, 4, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 0},     // kernel larger than input (padded)
        {1, 3, 1, 17, 2, 1, 3, 1, 2, 1, 1, 0, 1, 0, 2, 1, 1, 0},    // H = 1
    };
    for (unsigned i = 0; i < sizeof fixed / sizeof fixed[0]; i++) run_conv("conv", &fixed[i], 0, pool);
    // Tiled im2col: a budget so small the tile is a few rows.
    conv_case tiled = {2, 8, 30, 23, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0};
    run_conv("conv tiled", &tiled, 1, pool);
    run_conv("conv tiled serial", &tiled, 1, NULL);
    conv_case big = {2, 24, 40, 40, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};   // parallel im2col
    // 200 tiles: the forward pass runs it as Winograd unless told not to; both must match.
    checks++;
    {
        zf_conv_params q;
        memset(&q, 0, sizeof q);
        q.group = 1;
        q.attrs.n_pads = 4;
        for (int i = 0; i < 4; i++) q.attrs.pads[i] = 1;
        int64_t x[4] = {2, 24, 40, 40}, wd[4] = {32, 24, 3, 3};
        zf_error err = {0};
        if (zf_conv_setup(&q, x, wd, &err) || !zf_wino_in_forward(&q)) {
            printf("FAIL conv big: the forward pass should run it as Winograd\n");
            failures++;
        }
    }
    run_conv("conv big (Winograd)", &big, 0, pool);
    // Grouped 3x3 layers with enough tiles (AlexNet's conv4/conv5 at batch 8): Winograd group by group.
    conv_case grouped[] = {
        // N C  H  W  K kh kw sh sw dh dw pt pl pb pr g bias
        {3, 32, 13, 13, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0},
        {2, 48, 20, 17, 48, 3, 3, 1, 1, 1, 1, 1, 0, 1, 2, 3, 0, 0},
        // Kernels split over four copies of the input (>= 128 tiles over the batch): shifted for
        // 4x4 to 6x6 at stride 1 (AlexNet's conv2 at batch 8), the stride-2 phases for 5x5 and 6x6
        // (ZFNet's conv2).
        {3, 16, 27, 27, 32, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2, 1, 0},
        {3, 8, 30, 29, 16, 4, 6, 1, 1, 1, 1, 1, 2, 2, 1, 1, 0, 0},
        {3, 8, 55, 55, 16, 5, 5, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 0},
        {3, 12, 60, 57, 48, 6, 5, 2, 2, 1, 1, 1, 2, 0, 1, 3, 1, 0},
    };
    for (unsigned i = 0; i < sizeof grouped / sizeof grouped[0]; i++) {
        const conv_case *c = &grouped[i];
        zf_conv_params q;
        memset(&q, 0, sizeof q);
        q.group = c->group;
        q.attrs.n_pads = 4;
        q.attrs.pads[0] = c->pt; q.attrs.pads[1] = c->pl; q.attrs.pads[2] = c->pb; q.attrs.pads[3] = c->pr;
        q.attrs.n_strides = 2;
        q.attrs.strides[0] = c->sh; q.attrs.strides[1] = c->sw;
        int64_t x[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->K, c->C / c->group, c->kh, c->kw};
        zf_error err = {0};
        checks++;
        if (zf_conv_setup(&q, x, wd, &err) || !zf_wino_in_forward(&q)) {
            printf("FAIL conv grouped/split %u: the forward pass should run it as Winograd\n", i);
            failures++;
        }
        run_conv("conv grouped/split (Winograd)", c, 0, pool);
    }
    // ZFNet's conv2 at batch 1 (49 tiles of the stride-2 phases): Winograd with the filters cached (the
    // model's forward pass), not when zf_conv2d_forward would transform them on every call; at batch 3
    // (147 tiles) both.
    for (int64_t n = 1; n <= 3; n += 2) {
        zf_conv_params q;
        memset(&q, 0, sizeof q);
        q.group = 1;
        q.attrs.n_strides = 2;
        q.attrs.strides[0] = q.attrs.strides[1] = 2;
        int64_t x[4] = {n, 96, 55, 55}, wd[4] = {256, 96, 5, 5};
        zf_error err = {0};
        checks++;
        if (zf_conv_setup(&q, x, wd, &err) || !zf_wino_in_forward(&q) || zf_wino_per_call(&q) != (n == 3)) {
            printf("FAIL conv2 of ZFNet, batch %lld: Winograd cached %d (want 1), per call %d (want %d)\n", (long long)n,
                   zf_wino_in_forward(&q), zf_wino_per_call(&q), n == 3);
            failures++;
        }
    }
    conv_case zf2 = {1, 8, 55, 55, 16, 5, 5, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 0};   // 49 tiles: per call, not Winograd
    run_conv("conv stride-2 split below 128 tiles", &zf2, 0, pool);
    conv_no_winograd = 1;
    run_conv("conv big (im2col)", &big, 0, pool);
    run_conv("conv big tiled", &big, 64 << 10, pool);
    conv_no_winograd = 0;
    conv_case batched = {8, 16, 6, 5, 8, 3, 3, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0};
    run_conv("conv batched", &batched, 0, pool);
    // Random shapes.
    for (int t = 0; t < 120; t++) {
        conv_case c = {0};
        c.group = rnd(0, 3) == 0 ? rnd(2, 4) : 1;
        c.N = rnd(1, 3);
        c.C = c.group * rnd(1, 4);
        c.K = c.group * rnd(1, 4);
        c.kh = rnd(1, 4); c.kw = rnd(1, 4);
        c.sh = rnd(1, 3); c.sw = rnd(1, 3);
        c.dh = rnd(1, 2); c.dw = rnd(1, 2);
        c.pt = rnd(0, 2); c.pl = rnd(0, 2); c.pb = rnd(0, 2); c.pr = rnd(0, 2);
        c.H = (c.kh - 1) * c.dh + 1 + rnd(0, 9) - c.pt - c.pb;
        c.W = (c.kw - 1) * c.dw + 1 + rnd(0, 9) - c.pl - c.pr;
        if (c.H < 1) c.H = 1;
        if (c.W < 1) c.W = 1;
        if (c.H + c.pt + c.pb < (c.kh - 1) * c.dh + 1) c.pb += (c.kh - 1) * c.dh + 1 - (c.H + c.pt + c.pb);
        if (c.W + c.pl + c.pr < (c.kw - 1) * c.dw + 1) c.pr += (c.kw - 1) * c.dw + 1 - (c.W + c.pl + c.pr);
        c.bias = (int)rnd(0, 1);
        c.auto_pad = rnd(0, 5) == 0 ? (int)rnd(1, 2) : 0;
        run_conv("conv random", &c, rnd(0, 1) ? 0 : (size_t)rnd(1, 4096), rnd(0, 1) ? pool : NULL);
    }
}

// --- ConvTranspose --------------------------------------------------------------------------------

static void run_convt(const char *name, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t kh, int64_t kw,
                      int64_t sh, int64_t sw, int64_t dh, int64_t dw, const int64_t pads[4], const int64_t opad[2],
                      int64_t group, int bias, zf_pool *pool) {
    zf_conv_transpose_params p;
    memset(&p, 0, sizeof p);
    p.group = group;
    p.attrs.n_strides = p.attrs.n_dilations = 2;
    p.attrs.strides[0] = sh; p.attrs.strides[1] = sw;
    p.attrs.dilations[0] = dh; p.attrs.dilations[1] = dw;
    p.attrs.n_pads = 4;
    memcpy(p.attrs.pads, pads, 4 * sizeof(int64_t));
    p.n_output_padding = 2;
    p.output_padding[0] = opad[0]; p.output_padding[1] = opad[1];
    int64_t x[4] = {N, C, H, W}, wd[4] = {C, K / group, kh, kw};
    zf_error err = {0};
    if (zf_conv_transpose_setup(&p, x, wd, &err)) {
        printf("FAIL %s: setup: %s\n", name, err.msg);
        failures++;
        return;
    }
    int64_t OH = sh * (H - 1) + opad[0] + (kh - 1) * dh + 1 - pads[0] - pads[2];
    int64_t OW = sw * (W - 1) + opad[1] + (kw - 1) * dw + 1 - pads[1] - pads[3];
    if (OH != p.OH || OW != p.OW) {
        printf("FAIL %s: output %lldx%lld, expected %lldx%lld\n", name, (long long)p.OH, (long long)p.OW, (long long)OH,
               (long long)OW);
        failures++;
        return;
    }
    int64_t Cg = C / group, Kg = K / group;
    int64_t nin = N * C * H * W, nw = C * Kg * kh * kw, nout = N * K * OH * OW;
    float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(K * 4), *out = xmalloc(nout * 4);
    float *col = xmalloc(zf_conv_transpose_scratch_bytes(&p));
    double *ref = xmalloc(nout * 8);
    fill(in, nin); fill(w, nw); fill(b, K);
    // Reference: every input pixel scatters x * w into out[ih*s - pad + ki*d].
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < OH * OW; i++) ref[(n * K + k) * OH * OW + i] = bias ? b[k] : 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t g = c / Cg;
            for (int64_t kk = 0; kk < Kg; kk++)
                for (int64_t ih = 0; ih < H; ih++)
                    for (int64_t iw = 0; iw < W; iw++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t oh = ih * sh - pads[0] + i * dh, ow = iw * sw - pads[1] + j * dw;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                ref[((n * K + g * Kg + kk) * OH + oh) * OW + ow] +=
                                    (double)in[((n * C + c) * H + ih) * W + iw] * w[((c * Kg + kk) * kh + i) * kw + j];
                            }
        }
    zf_conv_transpose_forward(out, col, in, w, bias ? b : NULL, &p, pool);
    char what[256];
    snprintf(what, sizeof what, "%s N%lld C%lld %lldx%lld K%lld k%lldx%lld s%lld,%lld d%lld,%lld g%lld", name,
             (long long)N, (long long)C, (long long)H, (long long)W, (long long)K, (long long)kh, (long long)kw,
             (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)group);
    compare(what, out, ref, nout, 1e-4, 1e-4);
    free(in); free(w); free(b); free(out); free(col); free(ref);
}

static void test_convt(zf_pool *pool) {
    int64_t z4[4] = {0, 0, 0, 0}, z2[2] = {0, 0};
    int64_t p1[4] = {1, 2, 1, 2}, p2[4] = {0, 1, 2, 0}, o1[2] = {1, 1}, o2[2] = {1, 0};
    run_convt("convT", 1, 1, 3, 3, 2, 3, 3, 1, 1, 1, 1, z4, z2, 1, 0, pool);
    run_convt("convT pads", 1, 1, 3, 3, 2, 3, 3, 3, 2, 1, 1, p1, z2, 1, 1, pool);
    run_convt("convT output_padding", 2, 4, 5, 4, 6, 3, 2, 2, 3, 1, 1, p2, o1, 2, 1, pool);
    run_convt("convT dilation", 1, 3, 4, 6, 3, 2, 3, 2, 1, 2, 2, z4, o2, 1, 0, pool);
    run_convt("convT depthwise", 2, 6, 7, 7, 6, 4, 4, 2, 2, 1, 1, p1, z2, 6, 1, pool);
    run_convt("convT big", 2, 32, 20, 20, 16, 4, 4, 2, 2, 1, 1, p1, z2, 1, 1, pool);
    for (int t = 0; t < 30; t++) {
        int64_t g = rnd(1, 2), sh = rnd(1, 3), sw = rnd(1, 3), dh = rnd(1, 2), dw = rnd(1, 2);
        int64_t kh = rnd(1, 4), kw = rnd(1, 4);
        int64_t pads[4] = {rnd(0, kh - 1), rnd(0, kw - 1), rnd(0, kh - 1), rnd(0, kw - 1)};
        int64_t op[2] = {rnd(0, sh > dh ? sh - 1 : dh - 1), rnd(0, sw > dw ? sw - 1 : dw - 1)};
        const int64_t n = rnd(1, 2), c = g * rnd(1, 3), h = rnd(2, 6), w = rnd(2, 6), k = g * rnd(1, 3);
        // Pads that would leave no output (both sides up to kernel - 1 each) are dropped.
        if (pads[0] + pads[2] > (h - 1) * sh + dh * (kh - 1) + op[0]) pads[0] = pads[2] = 0;
        if (pads[1] + pads[3] > (w - 1) * sw + dw * (kw - 1) + op[1]) pads[1] = pads[3] = 0;
        run_convt("convT random", n, c, h, w, k, kh, kw, sh, sw, dh, dw, pads, op, g, (int)rnd(0, 1),
                  rnd(0, 1) ? pool : NULL);
    }
}

// --- pools ----------------------------------------------------------------------------------------

typedef struct {
    int nsp;
    int64_t N, C, in[3], k[3], s[3], d[3], pb[3], pe[3];
    int ceil_mode, cip;
} pool_case;

static void set_attrs(zf_window_attrs *a, const pool_case *c) {
    memset(a, 0, sizeof *a);
    a->n_kernel = a->n_strides = a->n_dilations = c->nsp;
    a->n_pads = 2 * c->nsp;
    for (int i = 0; i < c->nsp; i++) {
        a->kernel[i] = c->k[i]; a->strides[i] = c->s[i]; a->dilations[i] = c->d[i];
        a->pads[i] = c->pb[i]; a->pads[c->nsp + i] = c->pe[i];
    }
    a->ceil_mode = c->ceil_mode;
}

static void run_pools(const char *name, const pool_case *c, zf_pool *pool) {
    int64_t x[5] = {c->N, c->C}, out3[3] = {1, 1, 1}, in3[3] = {1, 1, 1};
    pool_case g = *c;   // widened to 3 axes
    for (int i = 0; i < 3; i++) { g.k[i] = g.s[i] = g.d[i] = 1; g.pb[i] = g.pe[i] = 0; }
    int sh = 3 - c->nsp;
    for (int i = 0; i < c->nsp; i++) {
        x[2 + i] = c->in[i];
        in3[sh + i] = c->in[i];
        out3[sh + i] = ref_out_size(c->in[i], c->k[i], c->s[i], c->d[i], c->pb[i], c->pe[i], c->ceil_mode);
        g.k[sh + i] = c->k[i]; g.s[sh + i] = c->s[i]; g.d[sh + i] = c->d[i];
        g.pb[sh + i] = c->pb[i]; g.pe[sh + i] = c->pe[i];
    }
    zf_maxpool_params mp;
    zf_averagepool_params ap;
    memset(&mp, 0, sizeof mp);
    memset(&ap, 0, sizeof ap);
    set_attrs(&mp.attrs, c);
    set_attrs(&ap.attrs, c);
    ap.count_include_pad = c->cip;
    zf_error err = {0};
    if (zf_maxpool_setup(&mp, 2 + c->nsp, x, &err) || zf_averagepool_setup(&ap, 2 + c->nsp, x, &err)) {
        printf("FAIL %s: setup: %s\n", name, err.msg);
        failures++;
        return;
    }
    for (int i = 0; i < c->nsp; i++)
        if (mp.win.out[i] != out3[sh + i] || ap.win.out[i] != out3[sh + i]) {
            printf("FAIL %s: axis %d output %lld, expected %lld\n", name, i, (long long)mp.win.out[i],
                   (long long)out3[sh + i]);
            failures++;
            return;
        }
    int64_t plane_in = in3[0] * in3[1] * in3[2], plane_out = out3[0] * out3[1] * out3[2];
    int64_t nin = c->N * c->C * plane_in, nout = c->N * c->C * plane_out;
    float *in = xmalloc(nin * 4), *out = xmalloc(nout * 4);
    int32_t *sw = xmalloc(nout * 4);
    int64_t *idx = xmalloc(nout * 8), *ref_idx = xmalloc(nout * 8), *got_sw = xmalloc(nout * 8), *ref_sw = xmalloc(nout * 8);
    double *ref = xmalloc(nout * 8), *ref_avg = xmalloc(nout * 8);
    fill_coarse(in, nin);
    for (int64_t q = 0; q < c->N * c->C; q++)
        for (int64_t od = 0; od < out3[0]; od++)
            for (int64_t oh = 0; oh < out3[1]; oh++)
                for (int64_t ow = 0; ow < out3[2]; ow++) {
                    int64_t o = q * plane_out + (od * out3[1] + oh) * out3[2] + ow;
                    double best = -INFINITY, sum = 0;
                    int64_t pos = -1, cnt_in = 0, cnt_pad = 0;
                    for (int64_t i = 0; i < g.k[0]; i++)
                        for (int64_t j = 0; j < g.k[1]; j++)
                            for (int64_t l = 0; l < g.k[2]; l++) {
                                int64_t id = od * g.s[0] - g.pb[0] + i * g.d[0];
                                int64_t ih = oh * g.s[1] - g.pb[1] + j * g.d[1];
                                int64_t iw = ow * g.s[2] - g.pb[2] + l * g.d[2];
                                // Taps inside the padded input count for count_include_pad.
                                if (id >= -g.pb[0] && id < in3[0] + g.pe[0] && ih >= -g.pb[1] &&
                                    ih < in3[1] + g.pe[1] && iw >= -g.pb[2] && iw < in3[2] + g.pe[2])
                                    cnt_pad++;
                                if (id < 0 || id >= in3[0] || ih < 0 || ih >= in3[1] || iw < 0 || iw >= in3[2]) continue;
                                int64_t at = (id * in3[1] + ih) * in3[2] + iw;
                                double v = in[q * plane_in + at];
                                cnt_in++;
                                sum += v;
                                if (pos < 0 || v > best) { best = v; pos = at; }
                            }
                    ref[o] = best;
                    ref_sw[o] = pos;
                    ref_idx[o] = pos < 0 ? -1 : q * plane_in + pos;
                    int64_t cnt = c->cip ? cnt_pad : cnt_in;
                    ref_avg[o] = cnt ? sum / (double)cnt : 0.0;
                }
    char what[256];
    snprintf(what, sizeof what, "%s %dD in %lldx%lldx%lld k %lldx%lldx%lld s %lldx%lldx%lld d %lldx%lldx%lld ceil %d", name,
             c->nsp, (long long)in3[0], (long long)in3[1], (long long)in3[2], (long long)g.k[0], (long long)g.k[1],
             (long long)g.k[2], (long long)g.s[0], (long long)g.s[1], (long long)g.s[2], (long long)g.d[0],
             (long long)g.d[1], (long long)g.d[2], c->ceil_mode);
    char w2[300];
    zf_maxpool_forward(out, sw, idx, in, &mp, pool);
    snprintf(w2, sizeof w2, "maxpool %s", what);
    compare(w2, out, ref, nout, 0, 0);
    for (int64_t i = 0; i < nout; i++) got_sw[i] = sw[i];
    snprintf(w2, sizeof w2, "maxpool switches %s", what);
    compare_i(w2, got_sw, ref_sw, nout);
    snprintf(w2, sizeof w2, "maxpool indices %s", what);
    compare_i(w2, idx, ref_idx, nout);
    // Without switches or indices (occlusion's batched pools): the same values.
    for (int64_t i = 0; i < nout; i++) out[i] = -1e30f;
    zf_maxpool_forward(out, NULL, NULL, in, &mp, pool);
    snprintf(w2, sizeof w2, "maxpool without switches %s", what);
    compare(w2, out, ref, nout, 0, 0);
    zf_averagepool_forward(out, in, &ap, pool);
    snprintf(w2, sizeof w2, "averagepool cip %d %s", c->cip, what);
    compare(w2, out, ref_avg, nout, 1e-5, 1e-5);
    free(in); free(out); free(sw); free(idx); free(ref_idx); free(got_sw); free(ref_sw); free(ref); free(ref_avg);
}

static void test_pools(zf_pool *pool) {
    pool_case fixed[] = {
        // ZFNet pool: 3x3 stride 2
        {2, 1, 3, {13, 13}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0, 0},
        // ceil mode whose last window starts on the padding: dropped (ONNX test case)
        {2, 1, 3, {2, 2}, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, 1},
        {2, 1, 3, {2, 2}, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, 0},
        // ceil mode windows past the end padding
        {2, 2, 2, {6, 7}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {1, 0}, 1, 1},
        {2, 2, 2, {6, 7}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {1, 0}, 1, 0},
        {2, 1, 1, {2, 2}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 0},
        // stride > kernel, dilation, asymmetric pads
        {2, 2, 3, {11, 9}, {2, 2}, {3, 4}, {1, 1}, {0, 1}, {1, 0}, 0, 0},
        {2, 1, 2, {9, 10}, {3, 2}, {1, 2}, {2, 3}, {1, 2}, {2, 1}, 1, 1},
        // 1-D and 3-D
        {1, 2, 3, {17}, {4}, {3}, {1}, {1}, {2}, 1, 1},
        {1, 2, 3, {17}, {3}, {2}, {2}, {0}, {0}, 0, 0},
        {3, 2, 2, {5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1}, 1, 1},
        // PyTorch's LRN export: AveragePool (size,1,1) over (N,1,C,H,W) with channel padding
        {3, 2, 1, {16, 5, 5}, {5, 1, 1}, {1, 1, 1}, {1, 1, 1}, {2, 0, 0}, {2, 0, 0}, 0, 1},
        // large enough for the parallel path
        {2, 4, 16, {55, 55}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 0},
    };
    for (unsigned i = 0; i < sizeof fixed / sizeof fixed[0]; i++) run_pools("pool", &fixed[i], pool);
    for (int t = 0; t < 150; t++) {
        pool_case c = {0};
        c.nsp = (int)rnd(1, 3);
        c.N = rnd(1, 2);
        c.C = rnd(1, 3);
        c.ceil_mode = (int)rnd(0, 1);
        c.cip = (int)rnd(0, 1);
        for (int i = 0; i < c.nsp; i++) {
            c.k[i] = rnd(1, 4);
            c.s[i] = rnd(1, 4);
            c.d[i] = rnd(1, 2);
            // pads smaller than the kernel extent, so no window is all padding
            int64_t ek = (c.k[i] - 1) * c.d[i] + 1;
            c.pb[i] = rnd(0, ek / 2);
            c.pe[i] = rnd(0, ek / 2);
            c.in[i] = ek + rnd(0, 8) - c.pb[i] - c.pe[i];
            if (c.in[i] < 1) c.in[i] = 1;
            if (c.in[i] + c.pb[i] + c.pe[i] < ek) c.pe[i] = ek - c.in[i] - c.pb[i];
        }
        run_pools("pool random", &c, rnd(0, 1) ? pool : NULL);
    }
}

static void test_global(zf_pool *pool) {
    int64_t shapes[][2] = {{6, 1}, {3, 49}, {64, 169}, {256, 1000}};
    for (unsigned s = 0; s < 4; s++) {
        int64_t planes = shapes[s][0], plane = shapes[s][1];
        float *in = xmalloc(planes * plane * 4), *out = xmalloc(planes * 4);
        double *ra = xmalloc(planes * 8), *rm = xmalloc(planes * 8);
        fill(in, planes * plane);
        for (int64_t q = 0; q < planes; q++) {
            double sum = 0, m = -INFINITY;
            for (int64_t i = 0; i < plane; i++) {
                sum += in[q * plane + i];
                if (in[q * plane + i] > m) m = in[q * plane + i];
            }
            ra[q] = sum / (double)plane;
            rm[q] = m;
        }
        zf_global_avgpool_forward(out, in, planes, plane, pool);
        compare("global average pool", out, ra, planes, 1e-6, 1e-5);
        zf_global_maxpool_forward(out, in, planes, plane, pool);
        compare("global max pool", out, rm, planes, 0, 0);
        free(in); free(out); free(ra); free(rm);
    }
}

// --- LRN, BatchNormalization ----------------------------------------------------------------------

static void test_lrn(zf_pool *pool) {
    int64_t cases[][4] = {{1, 96, 55, 55}, {2, 5, 3, 3}, {1, 7, 4, 1}, {3, 3, 2, 2}};
    int64_t sizes[] = {5, 3, 1, 4, 6};
    float betas[] = {0.75f, 0.5f, 0.9f};
    for (unsigned ci = 0; ci < 4; ci++)
        for (unsigned si = 0; si < 5; si++) {
            int64_t N = cases[ci][0], C = cases[ci][1], plane = cases[ci][2] * cases[ci][3], n = N * C * plane;
            zf_lrn_params p = {sizes[si], 1e-2f * (float)(si + 1), betas[si % 3], si % 2 ? 2.0f : 1.0f};
            float *in = xmalloc(n * 4), *out = xmalloc(n * 4);
            double *ref = xmalloc(n * 8);
            fill(in, n);
            for (int64_t i = 0; i < n; i++) in[i] *= 3.0f;
            for (int64_t b = 0; b < N; b++)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t i = 0; i < plane; i++) {
                        double sq = 0;
                        int64_t lo = c - (p.size - 1) / 2, hi = c + (p.size - 1 + 1) / 2;   // floor, ceil
                        for (int64_t k = lo; k <= hi; k++)
                            if (k >= 0 && k < C) {
                                double v = in[(b * C + k) * plane + i];
                                sq += v * v;
                            }
                        int64_t o = (b * C + c) * plane + i;
                        ref[o] = in[o] / pow(p.bias + p.alpha / (double)p.size * sq, p.beta);
                    }
            zf_lrn_forward(out, in, N, C, plane, &p, pool);
            char what[128];
            snprintf(what, sizeof what, "lrn (%lld,%lld,%lld) size %lld beta %g", (long long)N, (long long)C,
                     (long long)plane, (long long)p.size, p.beta);
            compare(what, out, ref, n, 1e-5, 1e-5);
            free(in); free(out); free(ref);
        }
}

static void test_batchnorm(zf_pool *pool) {
    int64_t cases[][3] = {{2, 3, 20}, {1, 64, 3136}, {4, 5, 1}};
    for (unsigned ci = 0; ci < 3; ci++) {
        int64_t N = cases[ci][0], C = cases[ci][1], plane = cases[ci][2], n = N * C * plane;
        float *in = xmalloc(n * 4), *out = xmalloc(n * 4), *sc = xmalloc(C * 4), *b = xmalloc(C * 4),
              *m = xmalloc(C * 4), *v = xmalloc(C * 4);
        double *ref = xmalloc(n * 8);
        fill(in, n); fill(sc, C); fill(b, C); fill(m, C); fill(v, C);
        for (int64_t c = 0; c < C; c++) v[c] = fabsf(v[c]) + 0.01f;
        zf_batchnorm_params p = {1e-3f, 0};
        for (int64_t i = 0; i < n; i++) {
            int64_t c = i / plane % C;
            ref[i] = sc[c] * (in[i] - (double)m[c]) / sqrt((double)v[c] + p.epsilon) + b[c];
        }
        zf_batchnorm_forward(out, in, sc, b, m, v, N, C, plane, &p, pool);
        compare("batchnorm", out, ref, n, 1e-5, 1e-5);
        free(in); free(out); free(sc); free(b); free(m); free(v); free(ref);
    }
}

// --- Gemm, MatMul ---------------------------------------------------------------------------------

static void test_gemm(void) {
    for (int t = 0; t < 60; t++) {
        zf_gemm_params p = {0};
        p.M = rnd(1, 9); p.K = rnd(1, 9); p.N = rnd(1, 9);
        if (t == 0) { p.M = 2; p.K = 300; p.N = 70; }
        p.trans_a = (int)rnd(0, 1); p.trans_b = (int)rnd(0, 1);
        p.alpha = t % 3 ? frand() : 1.0f;
        p.beta = t % 4 ? frand() : 1.0f;
        int cshape = (int)rnd(0, 4);   // none, (M,N), (1,N), (M,1), (1,1)
        int64_t cr = cshape == 1 || cshape == 3 ? p.M : 1, cc = cshape == 1 || cshape == 2 ? p.N : 1;
        float *a = xmalloc(p.M * p.K * 4), *b = xmalloc(p.K * p.N * 4), *c = xmalloc(cr * cc * 4),
              *out = xmalloc(p.M * p.N * 4);
        double *ref = xmalloc(p.M * p.N * 8);
        fill(a, p.M * p.K); fill(b, p.K * p.N); fill(c, cr * cc);
        for (int64_t i = 0; i < p.M; i++)
            for (int64_t j = 0; j < p.N; j++) {
                double s = 0;
                for (int64_t k = 0; k < p.K; k++)
                    s += (double)(p.trans_a ? a[k * p.M + i] : a[i * p.K + k]) *
                         (p.trans_b ? b[j * p.K + k] : b[k * p.N + j]);
                s *= p.alpha;
                if (cshape) s += p.beta * (double)c[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)];
                ref[i * p.N + j] = s;
            }
        zf_gemm_forward(out, a, b, cshape ? c : NULL, cr, cc, &p, NULL);
        char what[128];
        snprintf(what, sizeof what, "gemm M%lld K%lld N%lld tA%d tB%d C%d", (long long)p.M, (long long)p.K,
                 (long long)p.N, p.trans_a, p.trans_b, cshape);
        compare(what, out, ref, p.M * p.N, 1e-5, 1e-4);
        free(a); free(b); free(c); free(out); free(ref);
    }
}

static void test_matmul(void) {
    struct { int na, nb; int64_t a[4], b[4]; int no; int64_t out[4]; } cases[] = {
        {2, 2, {3, 4}, {4, 5}, 2, {3, 5}},
        {1, 1, {4}, {4}, 0, {0}},
        {1, 2, {4}, {4, 3}, 1, {3}},
        {2, 1, {3, 4}, {4}, 1, {3}},
        {3, 2, {2, 3, 4}, {4, 5}, 3, {2, 3, 5}},          // folded into one GEMM
        {2, 3, {3, 4}, {2, 4, 5}, 3, {2, 3, 5}},
        {4, 3, {2, 1, 3, 4}, {3, 4, 5}, 4, {2, 3, 3, 5}},  // broadcast both ways
        {3, 4, {1, 3, 4}, {2, 2, 4, 2}, 4, {2, 2, 3, 2}},
        {1, 3, {4}, {2, 4, 3}, 2, {2, 3}},
        {3, 1, {2, 3, 4}, {4}, 2, {2, 3}},
    };
    for (unsigned t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        zf_matmul_params p;
        int nd;
        int64_t d[ZF_MAX_DIMS + 2];
        zf_error err = {0};
        if (zf_matmul_setup(&p, &nd, d, cases[t].na, cases[t].a, cases[t].nb, cases[t].b, &err)) {
            printf("FAIL matmul case %u: %s\n", t, err.msg);
            failures++;
            continue;
        }
        checks++;
        if (nd != cases[t].no || memcmp(d, cases[t].out, sizeof(int64_t) * (size_t)nd)) {
            char s[64];
            printf("FAIL matmul case %u: output shape %s\n", t, zf_shape_str(s, sizeof s, nd, d));
            failures++;
            continue;
        }
        // Reference: numpy broadcasting by hand on 4-D padded shapes.
        int64_t A[4] = {1, 1, 1, 1}, B[4] = {1, 1, 1, 1};
        int na = cases[t].na, nb = cases[t].nb;
        // promote 1-D: A (K) -> (1,K); B (K) -> (K,1)
        int64_t a2[4], b2[4];
        int ra = na, rb = nb;
        if (na == 1) { a2[0] = 1; a2[1] = cases[t].a[0]; ra = 2; } else memcpy(a2, cases[t].a, sizeof a2);
        if (nb == 1) { b2[0] = cases[t].b[0]; b2[1] = 1; rb = 2; } else memcpy(b2, cases[t].b, sizeof b2);
        for (int i = 0; i < ra; i++) A[4 - ra + i] = a2[i];
        for (int i = 0; i < rb; i++) B[4 - rb + i] = b2[i];
        int64_t M = A[2], K = A[3], N = B[3];
        int64_t O0 = A[0] > B[0] ? A[0] : B[0], O1 = A[1] > B[1] ? A[1] : B[1];
        int64_t numa = A[0] * A[1] * M * K, numb = B[0] * B[1] * K * N, numo = O0 * O1 * M * N;
        float *a = xmalloc(numa * 4), *b = xmalloc(numb * 4), *out = xmalloc(numo * 4);
        double *ref = xmalloc(numo * 8);
        fill(a, numa); fill(b, numb);
        for (int64_t i0 = 0; i0 < O0; i0++)
            for (int64_t i1 = 0; i1 < O1; i1++)
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0;
                        int64_t ab = ((A[0] == 1 ? 0 : i0) * A[1] + (A[1] == 1 ? 0 : i1)) * M * K;
                        int64_t bb = ((B[0] == 1 ? 0 : i0) * B[1] + (B[1] == 1 ? 0 : i1)) * K * N;
                        for (int64_t k = 0; k < K; k++) s += (double)a[ab + i * K + k] * b[bb + k * N + j];
                        ref[((i0 * O1 + i1) * M + i) * N + j] = s;
                    }
        zf_matmul_forward(out, a, b, &p, NULL);
        char what[64];
        snprintf(what, sizeof what, "matmul case %u (fold %d)", t, p.fold);
        compare(what, out, ref, numo, 1e-5, 1e-4);
        free(a); free(b); free(out); free(ref);
    }
    zf_matmul_params p;
    int nd;
    int64_t d[ZF_MAX_DIMS + 2], a[3] = {2, 3, 4}, b[3] = {3, 4, 5};
    zf_error err = {0};
    checks++;
    if (!zf_matmul_setup(&p, &nd, d, 3, a, 3, b, &err)) {
        printf("FAIL matmul: batch 2 vs 3 accepted\n");
        failures++;
    }
}

// --- thread pool ----------------------------------------------------------------------------------

typedef struct { int *hits; zf_pool *pool; int nested; } pf_ctx;

static void pf_inner(void *vc, int64_t b, int64_t e) {
    int *hits = vc;
    for (int64_t i = b; i < e; i++) __atomic_add_fetch(&hits[1000 + i], 1, __ATOMIC_RELAXED);
}

static void pf_body(void *vc, int64_t b, int64_t e) {
    pf_ctx *c = vc;
    for (int64_t i = b; i < e; i++) c->hits[i]++;
    if (c->nested) zf_parallel_for(c->pool, 10, pf_inner, c->hits);   // must not deadlock
}

static void test_parallel(zf_pool *pool) {
    static int hits[2000];
    int64_t ns[] = {0, 1, 2, 3, 7, 100, 999};
    for (unsigned t = 0; t < 7; t++)
        for (int rep = 0; rep < 50; rep++) {
            memset(hits, 0, sizeof hits);
            pf_ctx c = {hits, pool, rep == 0};
            zf_parallel_for(pool, ns[t], pf_body, &c);
            checks++;
            for (int64_t i = 0; i < 1000; i++)
                if (hits[i] != (i < ns[t])) {
                    printf("FAIL parallel_for n=%lld: index %lld ran %d times\n", (long long)ns[t], (long long)i, hits[i]);
                    failures++;
                    return;
                }
        }
    if (zf_pool_threads(pool) < 1 || zf_cpu_count() < 1) {
        printf("FAIL pool reports %d threads, %d cpus\n", zf_pool_threads(pool), zf_cpu_count());
        failures++;
    }
}

// --- shape() messages -----------------------------------------------------------------------------

static void expect_shape_error(const char *what, const zf_op *op, void *params, zf_value *v, int n_in, const char *want) {
    int in[3] = {0, 1, 2}, out[2] = {3, 4};
    zf_node n = {.name = "t", .op = op, .n_in = n_in, .in = in, .n_out = 1, .out = out, .params = params};
    zf_error err = {0};
    checks++;
    if (!op->shape(&n, v, &err)) {
        printf("FAIL %s: shape() accepted bad input (wanted \"%s\")\n", what, want);
        failures++;
    } else if (!strstr(err.msg, want)) {
        printf("FAIL %s: message \"%s\" lacks \"%s\"\n", what, err.msg, want);
        failures++;
    }
}

static void test_messages(void) {
    zf_value v[5];
    memset(v, 0, sizeof v);
    int64_t xd[4] = {1, 3, 8, 8}, wd[4] = {5, 4, 3, 3};
    v[0].t.dtype = v[1].t.dtype = ZF_F32;
    v[0].t.ndim = v[1].t.ndim = 4;
    memcpy(v[0].t.dims, xd, sizeof xd);
    memcpy(v[1].t.dims, wd, sizeof wd);
    zf_conv_params cp;
    memset(&cp, 0, sizeof cp);
    cp.group = 1;
    expect_shape_error("conv channels", &zf_op_conv, &cp, v, 2, "input has 3 channels but W expects 4 (group 1)");
    v[1].t.dims[1] = 3;
    cp.attrs.n_kernel = 3;
    expect_shape_error("conv kernel_shape", &zf_op_conv, &cp, v, 2, "kernel_shape has 3 values, expected 2");
    cp.attrs.n_kernel = 0;
    v[0].t.ndim = 3;
    expect_shape_error("conv rank", &zf_op_conv, &cp, v, 2, "only 2-D convolution is supported");
    v[0].t.ndim = 4;
    cp.group = 2;
    v[1].t.dims[0] = 5;
    v[0].t.dims[1] = 6;
    expect_shape_error("conv group", &zf_op_conv, &cp, v, 2, "not a multiple of group 2");
    zf_maxpool_params mp;
    memset(&mp, 0, sizeof mp);
    mp.attrs.n_kernel = 3;
    expect_shape_error("maxpool kernel_shape", &zf_op_maxpool, &mp, v, 1, "kernel_shape has 3 values, expected 2");
    mp.attrs.n_kernel = 2;
    mp.attrs.kernel[0] = mp.attrs.kernel[1] = 9;
    expect_shape_error("maxpool too small", &zf_op_maxpool, &mp, v, 1, "smaller than the kernel extent");
    zf_gemm_params gp = {1, 1, 0, 0, 0, 0, 0, 0, 0};
    v[0].t.ndim = v[1].t.ndim = 2;
    v[0].t.dims[0] = 2; v[0].t.dims[1] = 3;
    v[1].t.dims[0] = 4; v[1].t.dims[1] = 5;
    expect_shape_error("gemm K", &zf_op_gemm, &gp, v, 2, "gives K = 3 but B gives K = 4");
}

// --- Winograd F(4x4, 3x3) (core/winograd.c) against the same double reference ---------------------

static void run_wino(const conv_case *cc, zf_pool *pool) {
    conv_case full = *cc;
    full.group = 1; full.kh = full.kw = 3; full.sh = full.sw = full.dh = full.dw = 1;
    const conv_case *c = &full;
    zf_conv_params p;
    memset(&p, 0, sizeof p);
    p.group = 1;
    p.attrs.n_pads = 4;
    p.attrs.pads[0] = c->pt; p.attrs.pads[1] = c->pl; p.attrs.pads[2] = c->pb; p.attrs.pads[3] = c->pr;
    int64_t x[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->K, c->C, 3, 3};
    zf_error err = {0};
    if (zf_conv_setup(&p, x, wd, &err)) {
        printf("FAIL winograd setup: %s\n", err.msg);
        failures++;
        return;
    }
    checks++;
    if (!zf_wino_applies(&p)) {
        printf("FAIL winograd: does not apply to N%lld C%lld %lldx%lld K%lld\n", (long long)c->N, (long long)c->C,
               (long long)c->H, (long long)c->W, (long long)c->K);
        failures++;
        return;
    }
    int64_t nin = c->N * c->C * c->H * c->W, nw = c->K * c->C * 9, nout = c->N * c->K * p.OH * p.OW;
    float *in = xmalloc(nin * sizeof(float)), *w = xmalloc(nw * sizeof(float)), *b = xmalloc(c->K * sizeof(float));
    float *U = xmalloc(zf_wino_filter_bytes(&p)), *scratch = xmalloc(zf_wino_scratch_bytes(&p));
    float *out = xmalloc((nout + 16) * sizeof(float));
    double *want = xmalloc(nout * sizeof(double));
    fill(in, nin); fill(w, nw); fill(b, c->K);
    out[nout] = 12345.0f;   // a sentinel past the end: masked lanes must not write there
    ref_conv(want, in, w, c->bias ? b : NULL, c, p.OH, p.OW, p.ph, p.pw);
    zf_wino_filters(U, w, &p, pool);
    zf_wino_forward(out, scratch, in, U, c->bias ? b : NULL, &p, pool);
    // Rounding of the transforms: relative to the outputs' scale, not to each (possibly tiny) value.
    double scale = 0;
    for (int64_t i = 0; i < nout; i++) scale = fmax(scale, fabs(want[i]));
    char name[160];
    snprintf(name, sizeof name, "winograd N%lld C%lld %lldx%lld K%lld pads %lld,%lld,%lld,%lld", (long long)c->N,
             (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->K, (long long)c->pt, (long long)c->pl,
             (long long)c->pb, (long long)c->pr);
    compare(name, out, want, nout, 2e-5 * scale, 0);
    checks++;
    if (out[nout] != 12345.0f) {
        printf("FAIL %s: wrote past the output\n", name);
        failures++;
    }
    free(in); free(w); free(b); free(U); free(scratch); free(out); free(want);
}

static void test_winograd(zf_pool *pool) {
    // ZFNet conv4's incremental box (11x11 region, no padding: 9x9 outputs, tiles of 3), a padded
    // 13x13 layer (tiles of 4), odd sizes of both.
    conv_case fixed[] = {
        {.N = 2, .C = 20, .H = 9, .W = 9, .K = 18, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .bias = 1},
        {.N = 5, .C = 24, .H = 11, .W = 11, .K = 32, .bias = 1},
        {.N = 1, .C = 16, .H = 13, .W = 13, .K = 16, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .bias = 1},
        {.N = 3, .C = 17, .H = 9, .W = 14, .K = 20, .pt = 1, .pl = 0, .pb = 2, .pr = 1},
        {.N = 2, .C = 16, .H = 5, .W = 5, .K = 16, .bias = 1},
        {.N = 40, .C = 16, .H = 6, .W = 6, .K = 16, .bias = 1},   // many tiles: more than one vector
        // >= 256 tiles, C + K <= 192: the fused path (16 tiles at a time through all three steps)
        {.N = 1, .C = 16, .H = 64, .W = 64, .K = 20, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .bias = 1},
        {.N = 2, .C = 17, .H = 45, .W = 50, .K = 23, .pt = 1, .pl = 0, .pb = 2, .pr = 1},
        // eight tiles side by side inside the image (lanes.run: loads and shuffles, no gathers),
        // on the fused path above and on the block path here
        {.N = 1, .C = 96, .H = 40, .W = 40, .K = 112, .bias = 1},
        // U of 9.4 MB: the filters' transform writes it with streaming stores (STREAM_U_BYTES)
        {.N = 1, .C = 256, .H = 8, .W = 8, .K = 256, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .bias = 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) run_wino(&fixed[i], pool);
    for (int r = 0; r < 8; r++) {
        conv_case c = {.N = rnd(1, 4), .C = rnd(16, 40), .K = rnd(16, 40), .bias = (int)rnd(0, 1)};
        c.pt = rnd(0, 1); c.pl = rnd(0, 1); c.pb = rnd(0, 2); c.pr = rnd(0, 2);
        c.H = rnd(4, 20); c.W = rnd(4, 20);
        zf_conv_params p;
        memset(&p, 0, sizeof p);
        p.group = 1;
        p.attrs.n_pads = 4;
        p.attrs.pads[0] = c.pt; p.attrs.pads[1] = c.pl; p.attrs.pads[2] = c.pb; p.attrs.pads[3] = c.pr;
        int64_t x[4] = {c.N, c.C, c.H, c.W}, wd[4] = {c.K, c.C, 3, 3};
        zf_error err = {0};
        if (zf_conv_setup(&p, x, wd, &err) || !zf_wino_applies(&p)) { r--; continue; }
        run_wino(&c, rnd(0, 1) ? pool : NULL);
    }
    // Where it must not apply: stride 2, 5x5, few channels, outputs wasting most of a 4x4 block.
    zf_conv_params p;
    memset(&p, 0, sizeof p);
    p.group = 1;
    zf_error err = {0};
    int64_t x1[4] = {1, 32, 9, 9}, w1[4] = {32, 32, 5, 5}, x2[4] = {1, 8, 9, 9}, w2[4] = {32, 8, 3, 3};
    int64_t x3[4] = {1, 32, 4, 4}, w3[4] = {32, 32, 3, 3};
    checks++;
    if (zf_conv_setup(&p, x1, w1, &err) || zf_wino_applies(&p) || zf_conv_setup(&p, x2, w2, &err) ||
        zf_wino_applies(&p) || zf_conv_setup(&p, x3, w3, &err) || zf_wino_applies(&p)) {   // 2x2 out: 1.44x
        printf("FAIL winograd applies where it should not (or setup failed: %s)\n", err.msg);
        failures++;
    }
}

int main(void) {
    zf_pool *pool = zf_pool_create(3);   // more threads than this machine may have cores: still correct
    if (!pool) { printf("FAIL cannot create the thread pool\n"); return 1; }
    test_parallel(pool);
    test_conv(pool);
    test_convt(pool);
    test_winograd(pool);
    test_pools(pool);
    test_global(pool);
    test_lrn(pool);
    test_batchnorm(pool);
    test_gemm();
    test_matmul();
    test_messages();
    zf_pool_destroy(pool);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
