// conv.c: ONNX Conv, 2-D, as im2col + sgemm (see conv.h for the tiling plan), or for layers with
// few input taps (conv1) a register-blocked AVX2 kernel without im2col ("small-taps kernel" below),
// or on AVX2+FMA builds zfviz's own GEMM with the columns gathered into its panels (conv_gemm.c).
#include <string.h>
#include <cblas.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include "conv.h"
#include "compute_util.h"
#include "proj.h"
#include "../winograd.h"
#include "conv_gemm.h"
#include <stdint.h>

// A tile whose column matrix is smaller than this many floats is built on the calling thread: waking
// the pool would cost more than it saves.
#define PAR_MIN_FLOATS (1 << 15)
// Output images smaller than this many columns are batched into one GEMM when N > 1 (OpenBLAS runs
// well below peak for N of a few hundred), up to this many columns per GEMM.
#define BATCH_BELOW_COLS 1024
#define BATCH_TARGET_COLS 2048
// Fewest columns per tile, whatever the budget: narrower GEMMs run far below peak.
#define MIN_TILE_COLS 256

static int64_t ckk_of(const zf_conv_params *p) { return p->C / p->group * p->kh * p->kw; }

// The small-taps kernel's padded input: rows of the padded input that some window reads, and
// positions per column phase (see small_prep_range).
static int64_t small_hp(const zf_conv_params *p) { return (p->OH - 1) * p->sh + p->kh; }
static int64_t small_wq(const zf_conv_params *p) { return p->OW + (p->kw - 1) / p->sw; }

// Floats of the small-taps scratch: the tap offsets (int64, rounded to 64 bytes), then the input.
static int64_t small_floats(const zf_conv_params *p) {
    return (2 * ckk_of(p) + 15) / 16 * 16 + p->C * p->sw * small_hp(p) * small_wq(p);
}

void zf_conv_plan(zf_conv_params *p, size_t budget) {
    int64_t ckk = ckk_of(p), ohw = p->OH * p->OW;
    p->direct = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && !p->ph && !p->pw && !p->ph_end &&
                !p->pw_end;
    p->tile_rows = p->OH;
    p->images_per_tile = 1;
    p->small_taps = 0;
    p->gemm_cols = 0;
#if defined(__AVX2__) && defined(__FMA__)
    // 16 output positions per step: narrower outputs stay with the GEMM.
    p->small_taps = !p->direct && p->group == 1 && p->dh == 1 && p->dw == 1 && p->sw <= 4 &&
                    ckk <= ZF_CONV_SMALL_TAPS && p->OW >= 16 &&
                    small_floats(p) <= (int64_t)(budget / sizeof(float));
#endif
    if (p->direct) return;
    // zfviz's GEMM for grouped layers (AlexNet's conv2, conv4, conv5: the threads take whole groups,
    // whose GEMMs are too small for OpenBLAS to split well) and for small maps, up to 256 positions
    // (13x13 and 14x14 at batch 1: ZFNet's and AlexNet's conv3-5, VGG-16's conv5_x), where it gathers
    // the columns straight into its panels: 1.06-1.14x faster than im2col + OpenBLAS on ZFNet's
    // conv3-5 and AlexNet's conv3 in tools/bench_conv --ab (session 6), 2-4% per layer in the model
    // (VGG-16's conv5_1 0.98-1.09x). On larger ungrouped layers OpenBLAS was as fast or faster in
    // an idle `make bench` (ZFNet's conv2 7.6 against 7.2 ms).
    if (!p->small_taps && (p->group > 1 || p->N * p->OH * p->OW <= 256))
        p->gemm_cols = zf_conv_gemm_plan(p, (int64_t)(budget / sizeof(float)));
    int64_t cols = (int64_t)(budget / sizeof(float)) / (ckk > 0 ? ckk : 1);
    if (cols < MIN_TILE_COLS) cols = MIN_TILE_COLS;
    if (cols < p->OW) cols = p->OW;
    if (ohw <= cols) {
        if (p->N > 1 && ohw < BATCH_BELOW_COLS) {
            int64_t target = cols < BATCH_TARGET_COLS ? cols : BATCH_TARGET_COLS;
            int64_t nb = target / ohw;
            if (nb > p->N) nb = p->N;
            p->images_per_tile = nb > 1 ? nb : 1;
        }
    } else {
        p->tile_rows = cols / p->OW;
    }
}

// Floats of the column tile, and of the GEMM result buffer when images are batched.
static void scratch_floats(const zf_conv_params *p, int64_t *col, int64_t *tmp) {
    *col = *tmp = 0;
    if (p->direct) return;
    int64_t ckk = ckk_of(p);
    if (p->images_per_tile > 1) {
        int64_t cols = p->images_per_tile * p->OH * p->OW;
        *col = (ckk * cols + 15) / 16 * 16;   // keep tmp 64-byte aligned
        *tmp = p->K / p->group * cols;
    } else {
        *col = ckk * p->tile_rows * p->OW;
    }
}

size_t zf_conv_scratch_bytes(const zf_conv_params *p) {
    int64_t c, t;
    scratch_floats(p, &c, &t);
    // The backward pass uses the column tiles even when the forward pass runs the small-taps kernel
    // or Winograd.
    size_t bytes = (size_t)(c + t) * sizeof(float);
    if (p->small_taps && (size_t)small_floats(p) * sizeof(float) > bytes) bytes = (size_t)small_floats(p) * sizeof(float);
    if (zf_wino_in_forward(p) && zf_wino_conv_bytes(p) > bytes) bytes = zf_wino_conv_bytes(p);
    if (p->gemm_cols && !zf_wino_per_call(p) && (size_t)zf_conv_gemm_floats(p) * sizeof(float) > bytes)
        bytes = (size_t)zf_conv_gemm_floats(p) * sizeof(float);
    return bytes;
}

int zf_conv_setup(zf_conv_params *p, const int64_t x[4], const int64_t w[4], zf_error *err) {
    if (p->group < 1) return zf_fail(err, ZF_ERR_INPUT, "group must be >= 1, got %lld", (long long)p->group);
    for (int i = 0; i < 4; i++)
        if (x[i] < 0 || w[i] <= 0 || (i > 0 && x[i] == 0))
            return zf_fail(err, ZF_ERR_INPUT, "input (%lld,%lld,%lld,%lld) or W (%lld,%lld,%lld,%lld) has an empty axis",
                           (long long)x[0], (long long)x[1], (long long)x[2], (long long)x[3], (long long)w[0],
                           (long long)w[1], (long long)w[2], (long long)w[3]);
    if (x[1] != w[1] * p->group)
        return zf_fail(err, ZF_ERR_INPUT, "input has %lld channels but W expects %lld (group %lld)", (long long)x[1],
                       (long long)(w[1] * p->group), (long long)p->group);
    if (w[0] % p->group)
        return zf_fail(err, ZF_ERR_INPUT, "W has %lld output channels, not a multiple of group %lld", (long long)w[0],
                       (long long)p->group);
    zf_window win;
    if (zf_window_resolve(&win, &p->attrs, 2, x + 2, w + 2, err)) return err ? err->code : ZF_ERR_INPUT;
    p->N = x[0]; p->C = x[1]; p->H = x[2]; p->W = x[3];
    p->K = w[0]; p->kh = w[2]; p->kw = w[3];
    p->sh = win.s[0]; p->sw = win.s[1];
    p->dh = win.d[0]; p->dw = win.d[1];
    p->ph = win.pb[0]; p->pw = win.pb[1];
    p->ph_end = win.pe[0]; p->pw_end = win.pe[1];
    p->OH = win.out[0]; p->OW = win.out[1];
    long long ckk, t;
    if (zf_mul_overflow(w[1], w[2], &ckk) || zf_mul_overflow(ckk, w[3], &ckk) || ckk > (1LL << 31) ||
        zf_mul_overflow(p->OH, p->OW, &t) || t > (1LL << 34))
        return zf_fail(err, ZF_ERR_INPUT, "convolution sizes overflow");
    zf_conv_plan(p, ZF_CONV_COL_BUDGET);
    return 0;
}

// --- im2col ---------------------------------------------------------------------------------------

// dst[ow] = src[2*ow] for ow in [lo, hi); src[2*hi - 1] must be readable. The stride-2 gather of
// ZFNet's conv1 and conv2, eight at a time: the scalar loop ran at about one float per ns, 1.6 ms
// on conv1 (a quarter of its GEMM), 2-3x more than this.
static void copy_stride2(float *dst, const float *src, int64_t lo, int64_t hi) {
    int64_t ow = lo;
#if defined(__AVX2__)
    if (hi - lo >= 8) {
        for (; ow < hi; ow += 8) {
            if (ow + 8 > hi) ow = hi - 8;   // the last step overlaps the previous one
            __m256 a = _mm256_loadu_ps(src + 2 * ow), b = _mm256_loadu_ps(src + 2 * ow + 8);
            __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // a0 a2 b0 b2 | a4 a6 b4 b6
            __m256d even = _mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0));
            _mm256_storeu_ps(dst + ow, _mm256_castpd_ps(even));
        }
        return;
    }
#endif
    for (; ow < hi; ow++) dst[ow] = src[2 * ow];
}

// Row r = (c, ki, kj) of the column matrix for output rows [oh0, oh1): col[(oh-oh0)*OW + ow] =
// in[c][oh*sh - ph + ki*dh][ow*sw - pw + kj*dw], zero outside the input.
static void im2col_row(float *dst, const float *plane, int64_t ki, int64_t kj, int64_t oh0, int64_t oh1,
                       const zf_conv_params *p) {
    const int64_t H = p->H, W = p->W, OW = p->OW, sw = p->sw;
    const int64_t off = kj * p->dw - p->pw;
    // Valid output columns: 0 <= ow*sw + off < W.
    int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
    if (lo > OW) lo = OW;
    if (hi > OW) hi = OW;
    if (hi < lo) hi = lo;
    // Stride 2: the vector copy reads one float past the last one used; stay inside the row.
    int64_t vhi = hi;
    while (sw == 2 && vhi > lo && 2 * vhi + off > W) vhi--;
    for (int64_t oh = oh0; oh < oh1; oh++, dst += OW) {
        int64_t ih = oh * p->sh - p->ph + ki * p->dh;
        if (ih < 0 || ih >= H) {
            memset(dst, 0, (size_t)OW * sizeof(float));
            continue;
        }
        const float *src = plane + ih * W;
        if (lo) memset(dst, 0, (size_t)lo * sizeof(float));
        if (sw == 1) {
            memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
        } else if (sw == 2) {
            copy_stride2(dst, src + off, lo, vhi);
            for (int64_t ow = vhi; ow < hi; ow++) dst[ow] = src[2 * ow + off];
        } else {
            for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw + off];
        }
        if (hi < OW) memset(dst + hi, 0, (size_t)(OW - hi) * sizeof(float));
    }
}

typedef struct {
    float *col;
    int64_t ld;
    const float *in;
    int64_t c0, oh0, oh1;
    const zf_conv_params *p;
} im2col_ctx;

static void im2col_range(void *vc, int64_t r0, int64_t r1) {
    const im2col_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t kk = p->kh * p->kw;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ch = c->c0 + r / kk, ki = r % kk / p->kw, kj = r % p->kw;
        im2col_row(c->col + r * c->ld, c->in + ch * p->H * p->W, ki, kj, c->oh0, c->oh1, p);
    }
}

void zf_im2col(float *col, int64_t ld, const float *in, int64_t c0, int64_t nc, int64_t oh0, int64_t oh1,
               const zf_conv_params *p, zf_pool *pool) {
    im2col_ctx c = {col, ld, in, c0, oh0, oh1, p};
    int64_t rows = nc * p->kh * p->kw;
    if (rows * (oh1 - oh0) * p->OW < PAR_MIN_FLOATS) pool = NULL;
    zf_parallel_for(pool, rows, im2col_range, &c);
}

// --- col2im ---------------------------------------------------------------------------------------

typedef struct {
    float *img;
    const float *col;
    int64_t ld, c0, oh0, oh1;
    const zf_conv_params *p;
} col2im_ctx;

static void col2im_range(void *vc, int64_t c0, int64_t c1) {
    const col2im_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, OW = p->OW, sw = p->sw;
    for (int64_t ch = c0; ch < c1; ch++) {
        float *plane = c->img + (c->c0 + ch) * H * W;
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++) {
                const float *src = c->col + ((ch * p->kh + ki) * p->kw + kj) * c->ld;
                const int64_t off = kj * p->dw - p->pw;
                int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
                if (lo > OW) lo = OW;
                if (hi > OW) hi = OW;
                for (int64_t oh = c->oh0; oh < c->oh1; oh++, src += OW) {
                    int64_t ih = oh * p->sh - p->ph + ki * p->dh;
                    if (ih < 0 || ih >= H) continue;
                    float *row = plane + ih * W;
                    for (int64_t ow = lo; ow < hi; ow++) row[ow * sw + off] += src[ow];
                }
            }
    }
}

void zf_col2im(float *img, const float *col, int64_t ld, int64_t c0, int64_t nc, int64_t oh0, int64_t oh1,
               const zf_conv_params *p, zf_pool *pool) {
    col2im_ctx c = {img, col, ld, c0, oh0, oh1, p};
    if (nc * p->kh * p->kw * (oh1 - oh0) * p->OW < PAR_MIN_FLOATS) pool = NULL;
    zf_parallel_for(pool, nc, col2im_range, &c);
}

// --- forward --------------------------------------------------------------------------------------

// out rows (rows x cols, stride ld) = b[k] each, so the GEMM can accumulate onto the bias (beta 1).
// (Explicitly vectorized: -O2's cost model leaves the plain loop scalar, 0.5-0.8 ms on conv1.)
static void fill_bias(float *out, int64_t ld, int64_t rows, int64_t cols, const float *b) {
    for (int64_t k = 0; k < rows; k++) {
        float v = b[k], *o = out + k * ld;
        int64_t j = 0;
#if defined(__AVX__)
        const __m256 vv = _mm256_set1_ps(v);
        for (; j + 8 <= cols; j += 8) _mm256_storeu_ps(o + j, vv);
#endif
        for (; j < cols; j++) o[j] = v;
    }
}

typedef struct {
    float *out;
    const float *tmp, *b;   // b already offset to the group
    int64_t nb, ohw, kg, K, cols;
} scatter_ctx;

// tmp (Kg, nb*OHW) -> out images (nb, K, OHW) at channel offset, plus bias.
static void scatter_range(void *vc, int64_t k0, int64_t k1) {
    const scatter_ctx *s = vc;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t i = 0; i < s->nb; i++) {
            const float *src = s->tmp + k * s->cols + i * s->ohw;
            float *dst = s->out + (i * s->K + k) * s->ohw;
            if (s->b) {
                float v = s->b[k];
                int64_t j = 0;
#if defined(__AVX__)
                const __m256 vv = _mm256_set1_ps(v);
                for (; j + 8 <= s->ohw; j += 8) _mm256_storeu_ps(dst + j, _mm256_add_ps(_mm256_loadu_ps(src + j), vv));
#endif
                for (; j < s->ohw; j++) dst[j] = src[j] + v;
            } else {
                memcpy(dst, src, (size_t)s->ohw * sizeof(float));
            }
        }
}

// --- small-taps kernel ------------------------------------------------------------------------------
// For layers with a short inner dimension C*kh*kw (ZFNet's conv1: 3*7*7 = 147), where OpenBLAS runs
// well below peak and im2col is a large share of the time (one thread: ZFNet conv1 5.5-7 ms -> 4-5.8,
// VGG-16 conv1_1 5.4-7.9 -> 2.4-3.5). Measured slower than the GEMM from VGG's conv1_2 (576 taps)
// on, probably because a step's weights (6 x C*kh*kw floats) no longer stay in L1: hence
// ZF_CONV_SMALL_TAPS. The input is copied once, padded and
// split into its sw column phases, xp[c][phase][r][j] = in[c][r - ph][j*sw + phase - pw] (zero
// outside), so that one tap (c, ki, kj) of 16 consecutive outputs is 16 consecutive floats of xp.
// Each step then keeps 6 output channels x 16 positions in 12 AVX registers across all the taps:
// per tap 2 loads, 6 broadcasts and 12 FMAs, no column matrix and no packing.

#if defined(__AVX2__) && defined(__FMA__)
typedef struct {
    float *xp;
    const float *in;
    const zf_conv_params *p;
    int64_t hp, wq;
} small_prep_ctx;

static void small_prep_range(void *vc, int64_t r0, int64_t r1) {
    const small_prep_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t sw = p->sw, hp = c->hp, wq = c->wq;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t ch = r / (sw * hp), phase = r / hp % sw, ih = r % hp - p->ph;
        float *dst = c->xp + r * wq;
        if (ih < 0 || ih >= p->H) {
            memset(dst, 0, (size_t)wq * sizeof(float));
            continue;
        }
        const float *src = c->in + (ch * p->H + ih) * p->W;
        const int64_t at0 = phase - p->pw;   // position j reads src[at0 + j*sw]
        // Positions inside the input: 0 <= j*sw + phase - pw < W.
        int64_t lo = p->pw - phase <= 0 ? 0 : (p->pw - phase + sw - 1) / sw;
        int64_t hi = p->W + p->pw - phase <= 0 ? 0 : (p->W + p->pw - phase + sw - 1) / sw;
        if (hi > wq) hi = wq;
        if (lo > hi) lo = hi;
        for (int64_t j = 0; j < lo; j++) dst[j] = 0.0f;
        if (sw == 1) {
            memcpy(dst + lo, src + at0 + lo, (size_t)(hi - lo) * sizeof(float));
        } else if (sw == 2) {
            int64_t vhi = hi;   // copy_stride2 reads one float past the last one used
            while (vhi > lo && at0 + 2 * vhi > p->W) vhi--;
            copy_stride2(dst, src + at0, lo, vhi);
            for (int64_t j = vhi; j < hi; j++) dst[j] = src[at0 + j * 2];
        } else {
            for (int64_t j = lo; j < hi; j++) dst[j] = src[at0 + j * sw];
        }
        for (int64_t j = hi; j < wq; j++) dst[j] = 0.0f;
    }
}

#define SMALL_K 6    // output channels per step
#define SMALL_W 16   // output positions per step

typedef struct {
    float *out;
    const float *xp, *w, *b;
    const int64_t *off;   // per tap (c, ki, kj): its offset in xp from the output row's first tap
    const zf_conv_params *p;
    int64_t wq, groups;
} small_ctx;

// Items it = oh * groups + g: output row oh of channels [6g, 6g + 6).
static void small_range(void *vc, int64_t i0, int64_t i1) {
    const small_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t ckk = ckk_of(p), OW = p->OW, ohw = p->OH * OW, K = p->K;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t oh = it / c->groups, k0 = it % c->groups * SMALL_K;
        const float *w[SMALL_K];
        __m256 bias[SMALL_K];
        for (int m = 0; m < SMALL_K; m++) {
            const int64_t k = k0 + m < K ? k0 + m : K - 1;   // past K: computed, not stored
            w[m] = c->w + k * ckk;
            bias[m] = _mm256_set1_ps(c->b ? c->b[k] : 0.0f);
        }
        const float *xrow = c->xp + oh * p->sh * c->wq;
        // A tail of at most 8 positions takes one 8-wide step (AlexNet's conv1, OW 55: 56 positions
        // computed instead of 64); otherwise the last 16-wide step overlaps the previous one.
        const int64_t rem = OW % SMALL_W, w16 = rem > 0 && rem <= 8 && OW > SMALL_W ? OW - rem : OW;
        for (int64_t ow = 0; ow < w16; ow += SMALL_W) {
            if (ow + SMALL_W > w16) ow = w16 - SMALL_W;
            __m256 a00 = bias[0], a01 = bias[0], a10 = bias[1], a11 = bias[1], a20 = bias[2], a21 = bias[2];
            __m256 a30 = bias[3], a31 = bias[3], a40 = bias[4], a41 = bias[4], a50 = bias[5], a51 = bias[5];
            const float *x = xrow + ow;
            for (int64_t t = 0; t < ckk; t++) {
                const float *s = x + c->off[t];
                const __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + 8);
                __m256 v = _mm256_broadcast_ss(w[0] + t);
                a00 = _mm256_fmadd_ps(v, x0, a00);
                a01 = _mm256_fmadd_ps(v, x1, a01);
                v = _mm256_broadcast_ss(w[1] + t);
                a10 = _mm256_fmadd_ps(v, x0, a10);
                a11 = _mm256_fmadd_ps(v, x1, a11);
                v = _mm256_broadcast_ss(w[2] + t);
                a20 = _mm256_fmadd_ps(v, x0, a20);
                a21 = _mm256_fmadd_ps(v, x1, a21);
                v = _mm256_broadcast_ss(w[3] + t);
                a30 = _mm256_fmadd_ps(v, x0, a30);
                a31 = _mm256_fmadd_ps(v, x1, a31);
                v = _mm256_broadcast_ss(w[4] + t);
                a40 = _mm256_fmadd_ps(v, x0, a40);
                a41 = _mm256_fmadd_ps(v, x1, a41);
                v = _mm256_broadcast_ss(w[5] + t);
                a50 = _mm256_fmadd_ps(v, x0, a50);
                a51 = _mm256_fmadd_ps(v, x1, a51);
            }
            float *o = c->out + k0 * ohw + oh * OW + ow;
            const int64_t nk = K - k0 < SMALL_K ? K - k0 : SMALL_K;
            _mm256_storeu_ps(o, a00);
            _mm256_storeu_ps(o + 8, a01);
            if (nk > 1) { _mm256_storeu_ps(o + ohw, a10); _mm256_storeu_ps(o + ohw + 8, a11); }
            if (nk > 2) { _mm256_storeu_ps(o + 2 * ohw, a20); _mm256_storeu_ps(o + 2 * ohw + 8, a21); }
            if (nk > 3) { _mm256_storeu_ps(o + 3 * ohw, a30); _mm256_storeu_ps(o + 3 * ohw + 8, a31); }
            if (nk > 4) { _mm256_storeu_ps(o + 4 * ohw, a40); _mm256_storeu_ps(o + 4 * ohw + 8, a41); }
            if (nk > 5) { _mm256_storeu_ps(o + 5 * ohw, a50); _mm256_storeu_ps(o + 5 * ohw + 8, a51); }
        }
        if (w16 < OW) {
            const int64_t ow = OW - 8;
            __m256 a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], a4 = bias[4], a5 = bias[5];
            const float *x = xrow + ow;
            for (int64_t t = 0; t < ckk; t++) {
                const __m256 x0 = _mm256_loadu_ps(x + c->off[t]);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[0] + t), x0, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[1] + t), x0, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[2] + t), x0, a2);
                a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[3] + t), x0, a3);
                a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[4] + t), x0, a4);
                a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[5] + t), x0, a5);
            }
            float *o = c->out + k0 * ohw + oh * OW + ow;
            const int64_t nk = K - k0 < SMALL_K ? K - k0 : SMALL_K;
            _mm256_storeu_ps(o, a0);
            if (nk > 1) _mm256_storeu_ps(o + ohw, a1);
            if (nk > 2) _mm256_storeu_ps(o + 2 * ohw, a2);
            if (nk > 3) _mm256_storeu_ps(o + 3 * ohw, a3);
            if (nk > 4) _mm256_storeu_ps(o + 4 * ohw, a4);
            if (nk > 5) _mm256_storeu_ps(o + 5 * ohw, a5);
        }
    }
}

// in (N,C,H,W), w (K,C,kh,kw), b (K) or NULL -> out (N,K,OH,OW); scratch: small_floats(p)
static void conv_small_taps(float *out, float *scratch, const float *in, const float *w, const float *b,
                            const zf_conv_params *p, zf_pool *pool) {
    const int64_t ckk = ckk_of(p), hp = small_hp(p), wq = small_wq(p), sw = p->sw;
    int64_t *off = (int64_t *)scratch;
    float *xp = scratch + (2 * ckk + 15) / 16 * 16;
    for (int64_t c = 0; c < p->C; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++)
                off[(c * p->kh + ki) * p->kw + kj] = ((c * sw + kj % sw) * hp + ki) * wq + kj / sw;
    const int64_t rows = p->C * sw * hp, groups = (p->K + SMALL_K - 1) / SMALL_K;
    for (int64_t n = 0; n < p->N; n++) {
        small_prep_ctx pc = {xp, in + n * p->C * p->H * p->W, p, hp, wq};
        zf_parallel_for(rows * wq < PAR_MIN_FLOATS ? NULL : pool, rows, small_prep_range, &pc);
        small_ctx c = {out + n * p->K * p->OH * p->OW, xp, w, b, off, p, wq, groups};
        zf_parallel_for(pool, p->OH * groups, small_range, &c);
    }
}
#endif

void zf_conv2d_forward(float *out, float *col, const float *in, const float *w, const float *b,
                       const zf_conv_params *p, zf_pool *pool) {
    const int64_t G = p->group, Cg = p->C / G, Kg = p->K / G;
    const int64_t HW = p->H * p->W, ohw = p->OH * p->OW, ckk = Cg * p->kh * p->kw;
    if (zf_wino_per_call(p)) {
        zf_wino_conv(out, col, in, w, b, p, pool);
        return;
    }
#if defined(__AVX2__) && defined(__FMA__)
    if (p->small_taps) {
        conv_small_taps(out, col, in, w, b, p, pool);
        return;
    }
#endif
    if (p->gemm_cols > 0) {
        zf_conv_gemm_forward(out, col, in, w, b, p, pool);
        return;
    }
    if (p->direct) {
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t g = 0; g < G; g++) {
                float *o = out + (n * p->K + g * Kg) * ohw;
                if (b) fill_bias(o, ohw, Kg, ohw, b + g * Kg);
                zf_sgemm(pool, 0, 0, (int)Kg, (int)ohw, (int)Cg, 1.0f,
                         w + g * Kg * ckk, (int)ckk, in + (n * p->C + g * Cg) * HW, (int)HW, b ? 1.0f : 0.0f, o,
                         (int)ohw);
            }
        return;
    }
    if (p->images_per_tile > 1) {
        int64_t colf, tmpf;
        scratch_floats(p, &colf, &tmpf);
        float *tmp = col + colf;
        for (int64_t n0 = 0; n0 < p->N; n0 += p->images_per_tile) {
            int64_t nb = p->N - n0 < p->images_per_tile ? p->N - n0 : p->images_per_tile;
            int64_t cols = nb * ohw;
            for (int64_t g = 0; g < G; g++) {
                for (int64_t i = 0; i < nb; i++)
                    zf_im2col(col + i * ohw, cols, in + (n0 + i) * p->C * HW, g * Cg, Cg, 0, p->OH, p, pool);
                zf_sgemm(pool, 0, 0, (int)Kg, (int)cols, (int)ckk, 1.0f,
                         w + g * Kg * ckk, (int)ckk, col, (int)cols, 0.0f, tmp, (int)cols);
                scatter_ctx s = {out + (n0 * p->K + g * Kg) * ohw, tmp, b ? b + g * Kg : NULL, nb, ohw, Kg, p->K, cols};
                zf_parallel_for(Kg * cols < PAR_MIN_FLOATS ? NULL : pool, Kg, scatter_range, &s);
            }
        }
        return;
    }
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t oh0 = 0; oh0 < p->OH; oh0 += p->tile_rows) {
                int64_t oh1 = oh0 + p->tile_rows < p->OH ? oh0 + p->tile_rows : p->OH;
                int64_t cols = (oh1 - oh0) * p->OW;
                zf_im2col(col, cols, in + n * p->C * HW, g * Cg, Cg, oh0, oh1, p, pool);
                float *o = out + (n * p->K + g * Kg) * ohw + oh0 * p->OW;
                if (b) fill_bias(o, ohw, Kg, cols, b + g * Kg);
                zf_sgemm(pool, 0, 0, (int)Kg, (int)cols, (int)ckk, 1.0f,
                         w + g * Kg * ckk, (int)ckk, col, (int)cols, b ? 1.0f : 0.0f, o, (int)ohw);
            }
}

// --- zf_op adapter --------------------------------------------------------------------------------

static int conv_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_conv_params *p = params;
    memset(p, 0, sizeof *p);
    if (zf_window_parse(&p->attrs, n, err)) return err ? err->code : ZF_ERR_INPUT;
    if (zf_onnx_attr_int(&p->group, n, "group", 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (p->group < 1) return zf_fail(err, ZF_ERR_INPUT, "group must be >= 1, got %lld", (long long)p->group);
    return 0;
}

static int conv_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_conv_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0), *w = zf_cu_in(n, v, 1), *b = zf_cu_in(n, v, 2);
    if (zf_cu_need_f32(x, "X", 1, ZF_MAX_DIMS, err) || zf_cu_need_f32(w, "W", 1, ZF_MAX_DIMS, err))
        return err ? err->code : ZF_ERR_INPUT;
    if (x->ndim != 4)
        return zf_fail(err, ZF_ERR_INPUT, "only 2-D convolution is supported: input X has rank %d, expected 4 (N,C,H,W)",
                       x->ndim);
    if (w->ndim != 4)
        return zf_fail(err, ZF_ERR_INPUT, "W has rank %d, expected 4 (K,C/group,kh,kw)", w->ndim);
    if (p->attrs.n_kernel && p->attrs.n_kernel != 2)
        return zf_fail(err, ZF_ERR_INPUT, "kernel_shape has %d values, expected 2", p->attrs.n_kernel);
    if (zf_conv_setup(p, x->dims, w->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    if (b) {
        if (zf_cu_need_f32(b, "B", 1, 1, err)) return err ? err->code : ZF_ERR_INPUT;
        if (b->dims[0] != p->K)
            return zf_fail(err, ZF_ERR_INPUT, "B has %lld values but W has %lld output channels", (long long)b->dims[0],
                           (long long)p->K);
    }
    zf_tensor *y = zf_cu_out(n, v, 0);
    int64_t d[4] = {p->N, p->K, p->OH, p->OW};
    zf_cu_set(y, ZF_F32, 4, d);
    n->scratch_bytes = zf_conv_scratch_bytes(p);
    return 0;
}

int zf_conv_node_winograd(const zf_node *n) {
    return n->op == &zf_op_conv && (n->cache ? zf_wino_in_forward(n->params) : zf_wino_per_call(n->params));
}

static int conv_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_conv_params *p = n->params;
    const zf_tensor *b = zf_cu_in(n, v, 2);
    if (n->cache && ex->weights_gen) {   // Winograd, the transformed filters kept (conv_cache_bytes)
        const int transform = n->cache_gen != ex->weights_gen;
        zf_wino_conv_cached(zf_f32(zf_cu_out(n, v, 0)), ex->scratch, zf_f32(zf_cu_in(n, v, 0)),
                            zf_f32(zf_cu_in(n, v, 1)), b ? zf_f32(b) : NULL, p, ex->pool, n->cache, transform);
        n->cache_gen = ex->weights_gen;
        return 0;
    }
    zf_conv2d_forward(zf_f32(zf_cu_out(n, v, 0)), ex->scratch, zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)),
                      b ? zf_f32(b) : NULL, p, ex->pool);
    return 0;
}

// Layers run as Winograd keep their transformed filters (4x the weights: VGG-16's 9 such layers 122
// MB) between forward passes while the weights stay the same (zf_model.weights_gen): the transform
// took 11 ms of VGG-16's forward pass at batch 1 (conv4_2's alone 3.1 ms: 9.4 MB read, 37.7 MB
// written). Only weights that are initializers: a weight computed in the graph changes per pass.
static size_t conv_cache_bytes(const zf_node *n, const zf_value *v) {
    if (n->n_in < 2 || n->in[1] < 0 || !v[n->in[1]].is_const) return 0;
    return zf_wino_cache_bytes(n->params);
}

static void conv_rf(const zf_node *n, zf_value *v) {
    const zf_conv_params *p = n->params;
    int64_t k[2] = {p->kh, p->kw}, s[2] = {p->sh, p->sw}, pb[2] = {p->ph, p->pw}, d[2] = {p->dh, p->dw};
    zf_rf_kernel(&v[n->out[0]].rf, &v[n->in[0]].rf, k, s, pb, d);
}

// Multiply-adds: each output element reads C/g*kh*kw weights = numel(W)/K.
static int64_t conv_flops(const zf_node *n, const zf_value *v) {
    const zf_tensor *w = &v[n->in[1]].t;
    return 2 * zf_tensor_numel(&v[n->out[0]].t) * (zf_tensor_numel(w) / (w->dims[0] ? w->dims[0] : 1));
}

// --- projection (core/project.h, ops/proj.h) -------------------------------------------------
// Scratch of one conv tile, in floats: tiles of output rows keep it near this.
#define PROJ_TILE_FLOATS ((int64_t)4 << 20)
// Below this fraction of nonzeros in a tile of the output signal, the transposed convolution
// adds one weight row per nonzero (sparse) instead of running the dense GEMM. After unpooling and
// rectification the deconvnet's signal is mostly zeros (10-20% nonzero on ZFNet's conv1/conv2).
#define SPARSE_BELOW 0.35
// At most this many positions in a tile: the thin dense product (thin_range), whatever the zeros.
#define THIN_MAX_P 64
// Loops smaller than this many multiply-adds run on the calling thread.
#define PAR_MIN_WORK ((int64_t)1 << 16)

// The input's share is the transposed convolution of the output signal (Zeiler & Fergus: "filter
// ... using transposed versions of the same filters"); the bias takes no part. Output box rows
// [oy0, oy1) reach input rows [oy0*s - p, (oy1-1)*s - p + (k-1)*d + 1): zf_box_window.
// Per tile of output positions:
//   few positions (conv3, conv4 of one unit): colT (P, ckk) = Gs^T W by thin_range, col2im_T_range;
// otherwise the nonzeros per position (lists by position), then
//   sparse, few taps (ZFNet conv1, 3x7x7): each position's weight rows summed in registers and
//     added straight into the input (scat_bands), no columns in memory;
//   sparse (conv2): per tap, each position's weight rows summed in registers and added into the
//     tile's footprint in the input, channels last (hwc_range, the weights tap-major in the
//     projection cache), then into the input's planes (hwc_out_range);
//   dense (or no cache): one GEMM, then col2im.
// Every step runs on the pool: rows of positions, blocks of taps or channels, input channels, or
// bands of rows.

static void conv_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_conv_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!zf_proj_box_grouped(a, p->K / p->group, p->C / p->group)) return;
    zf_box_window(&x->box.lo[2], &x->box.hi[2], y->box.lo[2], y->box.hi[2], p->kh, p->sh, p->ph, p->dh, p->H);
    zf_box_window(&x->box.lo[3], &x->box.hi[3], y->box.lo[3], y->box.hi[3], p->kw, p->sw, p->pw, p->dw, p->W);
    // conv_project zeroes the box itself when fresh: a channel at a time inside col2im, just before
    // adding into it (no separate pass over the box, no separate wake-up of the pool).
    x->overwrite = 1;
}

// Output positions per tile: scratch = tile * (G rows + col rows + sparse index) floats.
static int64_t conv_tile_positions(const zf_conv_params *p) {
    int64_t ckk = p->C / p->group * p->kh * p->kw, Kg = p->K / p->group;
    int64_t per = ckk + 3 * Kg + 6;   // + CSR start, cursor and a spare slot (idx, val)
    int64_t t = PROJ_TILE_FLOATS / per;
    if (t < p->OW) t = p->OW;
    if (t > p->OH * p->OW) t = p->OH * p->OW;
    return t;
}

static size_t conv_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_conv_params *p = n->params;
    int64_t ckk = p->C / p->group * p->kh * p->kw, Kg = p->K / p->group;
    return (size_t)(conv_tile_positions(p) * (ckk + 3 * Kg + 6) + 64);
}

typedef struct {
    float *gin;                 // input signal (C,H,W)
    const float *col;           // element (r, q) of the columns: col[r*rs + q*ps]
    int64_t rs, ps;
    int64_t c0;                 // first input channel of the group
    int64_t oy0, oy1, ox0, ox1; // the tile of output positions
    const zf_conv_params *p;
    const zf_proj_slot *zero;   // non-NULL: zero each channel's part of zero->box first (fresh input)
} col2im_box_ctx;

// Zeroes channels [c0, c1) of x's box (conv_box_back's overwrite, when x is fresh).
static void zero_channels(const zf_proj_slot *x, int64_t c0, int64_t c1) {
    if (x->t->ndim == 4 && x->box.hi[0] - x->box.lo[0] == 1) {   // rows by plain loops: few, short ones deep down
        const int64_t H = x->t->dims[2], W = x->t->dims[3], len = x->box.hi[3] - x->box.lo[3];
        float *g = x->g + x->box.lo[0] * x->t->dims[1] * H * W + x->box.lo[3];
        for (int64_t c = c0; c < c1; c++)
            for (int64_t h = x->box.lo[2]; h < x->box.hi[2]; h++) memset(g + (c * H + h) * W, 0, (size_t)len * sizeof(float));
        return;
    }
    zf_box b = x->box;
    b.lo[1] = c0;
    b.hi[1] = c1;
    zf_box_zero(x->g, x->t, &b);
}

// Adds the columns back into input channels [c0 + cb, c0 + ce) for the tile's positions (the
// adjoint of im2col on that box). Rows of col (ps == 1): one (channel, tap) row at a time.
static void col2im_rows_range(void *vc, int64_t cb, int64_t ce) {
    const col2im_box_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, bw = c->ox1 - c->ox0;
    for (int64_t ch = cb; ch < ce; ch++) {
        float *plane = c->gin + (c->c0 + ch) * H * W;
        if (c->zero) zero_channels(c->zero, c->c0 + ch, c->c0 + ch + 1);
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++) {
                const float *src = c->col + ((ch * p->kh + ki) * p->kw + kj) * c->rs;
                // Output columns whose input column lies inside: 0 <= ox*sw - pw + kj*dw < W.
                const int64_t off = kj * p->dw - p->pw;
                int64_t lo = off >= 0 ? 0 : (-off + p->sw - 1) / p->sw;
                int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / p->sw + 1;
                if (lo < c->ox0) lo = c->ox0;
                if (hi > c->ox1) hi = c->ox1;
                if (hi <= lo) continue;
                for (int64_t oy = c->oy0; oy < c->oy1; oy++) {
                    int64_t iy = oy * p->sh - p->ph + ki * p->dh;
                    if (iy < 0 || iy >= H) continue;
                    float *row = plane + iy * W + lo * p->sw + off;
                    const float *s = src + ((oy - c->oy0) * bw + lo - c->ox0) * c->ps;
                    const int64_t m = hi - lo, sw = p->sw, ps = c->ps;
                    // Consecutive i write different pixels: no store-to-load chain between them.
                    if (sw == 1 && ps == 1)
                        for (int64_t i = 0; i < m; i++) row[i] += s[i];
                    else
                        for (int64_t i = 0; i < m; i++) row[i * sw] += s[i * ps];
                }
            }
    }
}

// Same from colT (P, ckk) (rs == 1, ps == ckk), row of positions by row: for each tap (ki, kj),
// the positions of the row add into every sw-th pixel of one input row. Consecutive additions
// touch different pixels (adding position by position instead chains each pixel's overlapping
// taps through memory), and a row's columns of colT stay in L1 across its taps.
static void col2im_T_range(void *vc, int64_t cb, int64_t ce) {
    const col2im_box_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, bw = c->ox1 - c->ox0, kw = p->kw, kk = p->kh * kw, ps = c->ps;
    const int64_t sw = p->sw;
    int64_t lo[16], hi[16];
    if (kw > 16) {   // not seen in practice; the tap-major loop takes any width
        col2im_rows_range(vc, cb, ce);
        return;
    }
    // Columns of the box whose input column lies inside the image, per kj (shared by every row).
    for (int64_t kj = 0; kj < kw; kj++) {
        const int64_t off = kj * p->dw - p->pw;
        int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw, h = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
        lo[kj] = l > c->ox0 ? l : c->ox0;
        hi[kj] = h < c->ox1 ? h : c->ox1;
    }
    for (int64_t ch = cb; ch < ce; ch++) {
        float *plane = c->gin + (c->c0 + ch) * H * W;
        if (c->zero) zero_channels(c->zero, c->c0 + ch, c->c0 + ch + 1);
        for (int64_t oy = c->oy0; oy < c->oy1; oy++) {
            // Indices relative to column ox = 0 (negative bases; every element reached is inside).
            const int64_t srow = ((oy - c->oy0) * bw - c->ox0) * ps + ch * kk;
            for (int64_t ki = 0; ki < p->kh; ki++) {
                const int64_t iy = oy * p->sh - p->ph + ki * p->dh;
                if (iy < 0 || iy >= H) continue;
                for (int64_t kj = 0; kj < kw; kj++) {
                    const int64_t sb = srow + ki * kw + kj, db = iy * W - p->pw + kj * p->dw;
                    for (int64_t ox = lo[kj]; ox < hi[kj]; ox++) plane[db + ox * sw] += c->col[sb + ox * ps];
                }
            }
        }
    }
}

// The sparse product and col2im in one, channels last (conv2 of ZFNet and the like, whenever the
// projection cache is built). The cache holds the weights tap-major, wt (G, kh*kw, Kg, Cgp) with
// Cgp = Cg rounded up to 8 (zeros past Cg): for one tap, an output channel's weights to every input
// channel of the group are consecutive floats. For each tap and block of up to 64 input channels, each
// position's nonzeros are summed in registers (one weight row of the block each) and the sum is
// added to the input pixel that the tap reaches, in T (fh, fw, Cgp): the tile's footprint in the
// input, channels last, so that the block is 8 vectors of consecutive floats. T goes to the input's
// planes (C, H, W) at the end. Against the colT path: no (P, ckk) columns written and read back,
// no scalar col2im, and the weight rows a nonzero reads lie in a block of 64-96 KB that stays in
// L2 while every position of the tile passes.
#define HWC_MAX_NV 8
#define CGP(cg) (((cg) + 7) / 8 * 8)

typedef struct {
    float *T;                   // (fh, fw, Cg), zero on entry; Cg here is Cgp, a multiple of 8
    const float *wt;            // the group's taps: tap t, row j (of the tile's first output channel), wt[(t*Kg + j)*Cg]
    const int32_t *start, *end, *idx;
    const float *val;
    const zf_conv_params *p;
    int64_t Cg, Kg, fw, bw, rows, cb;   // cb: channels per work item (a multiple of 8)
} hwc_ctx;

static inline __attribute__((always_inline)) void hwc_taps(float *dst, const float *w, int64_t Cg, const int32_t *idx,
                                                           const float *val, int32_t e0, int32_t e1, const int nv) {
    v8f acc[HWC_MAX_NV], t;
#pragma GCC unroll 8
    for (int j = 0; j < nv; j++) acc[j] = (v8f){0};
    for (int32_t e = e0; e < e1; e++) {
        const float *wr = w + (int64_t)idx[e] * Cg;
        const float v = val[e];
        const v8f vv = {v, v, v, v, v, v, v, v};
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++) {
            memcpy(&t, wr + 8 * j, sizeof t);
            acc[j] = fmadd8(vv, t, acc[j]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nv; j++) {
        memcpy(&t, dst + 8 * j, sizeof t);
        t += acc[j];
        memcpy(dst + 8 * j, &t, sizeof t);
    }
}

// Work items: blocks of c->cb input channels, every tap and position.
static void hwc_range(void *vc, int64_t i0, int64_t i1) {
    const hwc_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t kk = p->kh * p->kw, Cg = c->Cg, fw = c->fw, bw = c->bw;
    for (int64_t item = i0; item < i1; item++) {
        const int64_t cend = (item + 1) * c->cb < Cg ? (item + 1) * c->cb : Cg;
        for (int64_t t = 0; t < kk; t++) {
            const int64_t ky = t / p->kw, kx = t % p->kw;
            for (int64_t c0 = item * c->cb; c0 < cend; c0 += 8 * HWC_MAX_NV) {
                const int nv = (int)((cend - c0 < 8 * HWC_MAX_NV ? cend - c0 : 8 * HWC_MAX_NV) / 8);
                const float *w = c->wt + t * c->Kg * Cg + c0;
                for (int64_t r = 0; r < c->rows; r++) {
                    float *drow = c->T + ((r * p->sh + ky * p->dh) * fw + kx * p->dw) * Cg + c0;
                    for (int64_t ox = 0; ox < bw; ox++) {
                        const int64_t q = r * bw + ox;
                        const int32_t e0 = c->start[q], e1 = c->end[q];
                        if (e0 == e1) continue;
                        float *dst = drow + ox * p->sw * Cg;
                        switch (nv) {
                        case 8: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 8); break;
                        case 7: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 7); break;
                        case 6: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 6); break;
                        case 5: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 5); break;
                        case 4: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 4); break;
                        case 3: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 3); break;
                        case 2: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 2); break;
                        default: hwc_taps(dst, w, Cg, c->idx, c->val, e0, e1, 1); break;
                        }
                    }
                }
            }
        }
    }
}

typedef struct {
    float *gin;                 // the group's input channels (Cg, H, W)
    const float *T;
    const zf_conv_params *p;
    int64_t Cgp, fy0, fx0, fw, y0, y1, x0, x1;   // T's channel stride, origin in the input; the rows, columns written
    int store;
} hwc_out_ctx;

// T (fh, fw, Cgp) into channels [c0, c1) of the input, rows [y0, y1), columns [x0, x1): added, or
// stored when the box was fresh and this tile covers it all.
static void hwc_out_range(void *vc, int64_t c0, int64_t c1) {
    const hwc_out_ctx *c = vc;
    const int64_t H = c->p->H, W = c->p->W, Cgp = c->Cgp;
    for (int64_t ch = c0; ch < c1; ch++)
        for (int64_t y = c->y0; y < c->y1; y++) {
            float *row = c->gin + (ch * H + y) * W;
            const float *s = c->T + ((y - c->fy0) * c->fw - c->fx0) * Cgp + ch;
            if (c->store)
                for (int64_t x = c->x0; x < c->x1; x++) row[x] = s[x * Cgp];
            else
                for (int64_t x = c->x0; x < c->x1; x++) row[x] += s[x * Cgp];
        }
}

// wt (G, kh*kw, Kg, Cgp) from w (K, Cg, kh, kw). None when every tile is thin (thin_range).
static size_t conv_proj_cache_bytes(const zf_node *n, const zf_value *v) {
    const zf_conv_params *p = n->params;
    // Weights that are not initializers (computed, or fed as a graph input) are not cached.
    if (p->OH * p->OW <= THIN_MAX_P || n->n_in < 2 || n->in[1] < 0 || !v[n->in[1]].is_const ||
        !v[n->in[1]].t.data || v[n->in[1]].t.dtype != ZF_F32)
        return 0;
    return (size_t)(p->K * CGP(p->C / p->group) * p->kh * p->kw) * sizeof(float);
}

static void conv_proj_cache_fill(void *cache, const zf_node *n, const zf_value *v) {
    const zf_conv_params *p = n->params;
    const float *w = zf_f32(&v[n->in[1]].t);
    float *wt = cache;
    const int64_t Cg = p->C / p->group, Cgp = CGP(Cg), Kg = p->K / p->group, kk = p->kh * p->kw;
    for (int64_t g = 0; g < p->group; g++)
        for (int64_t t = 0; t < kk; t++)
            for (int64_t j = 0; j < Kg; j++)
                for (int64_t ch = 0; ch < Cgp; ch++)
                    wt[((g * kk + t) * Kg + j) * Cgp + ch] = ch < Cg ? w[((g * Kg + j) * Cg + ch) * kk + t] : 0.0f;
}

// colT (P, ckk) = Gs^T (P, nk) times W (nk, ckk) for a tile of few positions (conv3 and conv4 of a
// single unit: 25 and 9). OpenBLAS packs all of W (5 MB on ZFNet's conv4) for a product this thin
// and wakes its own threads. Here a work item is a span of taps (the whole 16-tap blocks shared
// evenly among n_spans items, a multiple of the pool's chunks: conv3's 144 blocks in 9 spans of 256
// taps left one thread a fifth more work than the other); it walks W 64 rows at a time, each
// row's span in order (sequential streams, prefetched two blocks ahead: a column of W, rows 14 KB
// apart, would be a cache miss and a new page per row), adding the rows into 16-tap blocks of every
// group of up to six positions, whose 6 x 2 accumulators are loaded, updated in registers and stored
// back (thin_group).
#define THIN_QS 6
#define THIN_ROWS 64
#define THIN_SPAN 256
#define THIN_PACK_GROUPS 6    // more groups of positions than this: blocks of W copied out first

typedef struct {
    float *colT;
    const float *w, *gs;        // W (all the tile's output channels), Gs (nk, P) of the rows used
    const int32_t *rows;        // the nk rows of W whose signal is not all zero
    int64_t ckk, nk, P, n_spans;
} thin_ctx;

// nq (<= THIN_QS) positions' 16-tap block of colT, loaded (load) or zero, plus nj rows of W times
// their signal g. Inlined with nq a constant: the 2 x nq accumulators stay in registers and the
// row loop tests nothing.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void thin_group(float *colT, const float *w, const float *g, const int32_t *rows, int64_t nj, int64_t P,
                              int64_t ckk, int load, const int nq, const int packed) {
    v8f a[THIN_QS], b[THIN_QS];
    _Pragma("GCC unroll 6") for (int k = 0; k < nq; k++) {
        if (load) {
            memcpy(&a[k], colT + k * ckk, sizeof a[k]);
            memcpy(&b[k], colT + k * ckk + 8, sizeof b[k]);
        } else {
            a[k] = b[k] = (v8f){0};
        }
    }
    for (int64_t j = 0; j < nj; j++, g += P) {
        const float *wr = packed ? w + j * 16 : w + rows[j] * ckk;
        if (!packed) __builtin_prefetch(wr + 32);
        v8f w0, w1;
        memcpy(&w0, wr, sizeof w0);
        memcpy(&w1, wr + 8, sizeof w1);
        _Pragma("GCC unroll 6") for (int k = 0; k < nq; k++) {
            const float v = g[k];
            const v8f vv = {v, v, v, v, v, v, v, v};
            a[k] = fmadd8(vv, w0, a[k]);
            b[k] = fmadd8(vv, w1, b[k]);
        }
    }
    _Pragma("GCC unroll 6") for (int k = 0; k < nq; k++) {
        memcpy(colT + k * ckk, &a[k], sizeof a[k]);
        memcpy(colT + k * ckk + 8, &b[k], sizeof b[k]);
    }
}

static void thin_range(void *vc, int64_t s0, int64_t s1) {
    const thin_ctx *c = vc;
    const int64_t ckk = c->ckk, nk = c->nk, P = c->P;
    const int64_t nb = ckk / 16, ng = (P + THIN_QS - 1) / THIN_QS;
    float wpack[THIN_ROWS * 16] __attribute__((aligned(32)));
    for (int64_t sp = s0; sp < s1; sp++) {
        const int64_t t0 = sp * nb / c->n_spans * 16, t1 = sp + 1 == c->n_spans ? ckk : (sp + 1) * nb / c->n_spans * 16;
        const int64_t tv = t0 + (t1 - t0) / 16 * 16;   // whole 16-tap blocks end here
        for (int64_t j0 = 0; j0 < nk; j0 += THIN_ROWS) {
            const int64_t nj = nk - j0 < THIN_ROWS ? nk - j0 : THIN_ROWS;
            for (int64_t r0 = t0; r0 < tv; r0 += 16) {
                // Many groups (several walks side by side, conv_project_lanes): the block of W
                // copied out first. In place, its nj lines are ckk floats apart, which maps them onto
                // a few sets of L1 (ZFNet's conv3: 9216 bytes apart, 4 sets of 8 ways for 64 lines),
                // and they would come from L2 again for every group.
                const int pk = ng > THIN_PACK_GROUPS;
                const float *wb = c->w + r0;
                if (pk) {
                    for (int64_t j = 0; j < nj; j++) {
                        const float *wr = c->w + c->rows[j0 + j] * ckk + r0;
                        __builtin_prefetch(wr + 32);
                        memcpy(wpack + j * 16, wr, 16 * sizeof(float));
                    }
                    wb = wpack;
                }
                for (int64_t gi = 0, q0 = 0; gi < ng; gi++) {
                    // Groups of at most six, as even as they come (25 positions: five of five).
                    const int64_t nq = (P - q0) / (ng - gi);
                    float *colT = c->colT + q0 * ckk + r0;
                    const float *g = c->gs + j0 * P + q0;
                    const int32_t *rows = c->rows + j0;
#define THIN_CASE(q) { if (pk) thin_group(colT, wb, g, rows, nj, P, ckk, j0 > 0, q, 1); \
                     else thin_group(colT, wb, g, rows, nj, P, ckk, j0 > 0, q, 0); } break;
                    switch (nq) {
                    case 1: THIN_CASE(1)
                    case 2: THIN_CASE(2)
                    case 3: THIN_CASE(3)
                    case 4: THIN_CASE(4)
                    case 5: THIN_CASE(5)
                    default: THIN_CASE(THIN_QS)
                    }
#undef THIN_CASE
                    q0 += nq;
                }
            }
            for (int64_t q = 0; q < P; q++)   // taps past the last whole block
                for (int64_t r = tv; r < t1; r++) {
                    float s = j0 ? c->colT[q * ckk + r] : 0;
                    for (int64_t j = j0; j < j0 + nj; j++) s += c->gs[j * P + q] * c->w[c->rows[j] * ckk + r];
                    c->colT[q * ckk + r] = s;
                }
        }
    }
}

// The output signal's nonzeros per position of a tile, in ascending channel order: position q's
// list is idx/val[start[q], end[q]). Each row of positions owns the slots [r*bw*nk, (r+1)*bw*nk),
// so rows run in parallel in one pass: the row's values (nk x bw floats) are counted, which
// brings them into L1, then copied out channel by channel, eight compared at once and only the
// nonzeros visited (10-25% after unpooling and rectification).
typedef int32_t v8i __attribute__((vector_size(32)));

typedef struct {
    int32_t *start, *end, *idx;
    float *val;
    const float *g;             // the signal at the tile's first channel, column ox0
    int64_t ohw, ow, nk, bw, ty0;
} nz_ctx;

static void nz_rows(void *vc, int64_t r0, int64_t r1) {
    const nz_ctx *c = vc;
    const int64_t bw = c->bw, nk = c->nk, ohw = c->ohw;
    int32_t *restrict idx = c->idx;
    float *restrict val = c->val;
    // A row's last bw % 8 positions, when bw >= 8: one vector ending at bw, its first lanes (done by
    // the vector before) masked off, in place of a scalar loop that mispredicts on the signs (conv2's
    // rows of 15: seven of them per channel).
    const int64_t rem = bw % 8, tail = bw >= 8 && rem ? bw - 8 : -1;
    const unsigned tmask = 0xffu & (0xffu << (8 - rem));
    v8i tlanes;
    for (int k = 0; k < 8; k++) tlanes[k] = k >= 8 - rem ? -1 : 0;
    for (int64_t r = r0; r < r1; r++) {
        const float *g = c->g + (c->ty0 + r) * c->ow;
        int32_t *cnt = c->end + r * bw, *st = c->start + r * bw;
        memset(cnt, 0, (size_t)bw * sizeof *cnt);
        for (int64_t j = 0; j < nk; j++) {
            const float *s = g + j * ohw;
            int64_t i = 0;
            for (; i + 8 <= bw; i += 8) {
                v8f v;
                v8i n;
                memcpy(&v, s + i, sizeof v);
                memcpy(&n, cnt + i, sizeof n);
                n -= (v8i)(v != 0.0f);   // true is -1
                memcpy(cnt + i, &n, sizeof n);
            }
            if (tail >= 0) {
                v8f v;
                v8i n;
                memcpy(&v, s + tail, sizeof v);
                memcpy(&n, cnt + tail, sizeof n);
                n -= (v8i)(v != 0.0f) & tlanes;
                memcpy(cnt + tail, &n, sizeof n);
                continue;
            }
            for (; i < bw; i++) cnt[i] += s[i] != 0.0f;
        }
        // end[] becomes each list's cursor.
        int32_t e = (int32_t)(r * bw * nk);
        for (int64_t i = 0; i < bw; i++) {
            const int32_t n = cnt[i];
            st[i] = cnt[i] = e;
            e += n;
        }
        for (int64_t j = 0; j < nk; j++) {
            const float *s = g + j * ohw;
            int64_t i = 0;
            for (; i + 8 <= bw; i += 8) {
                unsigned mask = nz_mask8(s + i);
                while (mask) {
                    const int b = __builtin_ctz(mask);
                    const int32_t k = cnt[i + b]++;
                    idx[k] = (int32_t)j;
                    val[k] = s[i + b];
                    mask &= mask - 1;
                }
            }
            if (tail >= 0) {
                unsigned mask = nz_mask8(s + tail) & tmask;
                while (mask) {
                    const int b = __builtin_ctz(mask);
                    const int32_t k = cnt[tail + b]++;
                    idx[k] = (int32_t)j;
                    val[k] = s[tail + b];
                    mask &= mask - 1;
                }
                continue;
            }
            for (; i < bw; i++)
                if (s[i] != 0.0f) {
                    const int32_t k = cnt[i]++;
                    idx[k] = (int32_t)j;
                    val[k] = s[i];
                }
        }
    }
}

// Few taps per position (conv1: 3 x 7 x 7): each position's nonzeros are summed straight into
// registers, one input channel at a time, a vector of 8 per kernel row (the weights padded to 8
// per row, wp (nk, Cg, kh, 8)), and the kh rows are added into the input at once: no colT round
// trip through memory and no col2im. Rows of positions go in bands of `band` rows: bands two
// apart never write the same input row, so the even bands run in parallel, then the odd ones.
#define SCAT_MAX_KH 8

typedef struct {
    float *gin;                 // the input channels of the group: (Cg, H, W)
    const float *wp;
    const int32_t *start, *end, *idx;
    const float *val;
    const zf_conv_params *p;
    int64_t Cg, ty0, ty1, ox0, ox1, band, phase;
    int64_t xhi;                // end of the input box's columns: 8-wide rows stay below it
} scat_ctx;

// Adds a position's kh accumulated rows into one input channel at tap (0, 0) = plane[r0].
static inline void scat_store(float *plane, const v8f *acc, int64_t r0, int64_t W, int64_t ki0, int64_t ki1,
                              int64_t kj0, int64_t kj1, int fast) {
    for (int64_t ki = ki0; ki < ki1; ki++) {
        const int64_t r = r0 + ki * W;   // kj0 > 0 when the position hangs over the left edge
        if (fast) {   // lanes past kw add the zero padding
            v8f t;
            memcpy(&t, plane + r, sizeof t);
            t += acc[ki];
            memcpy(plane + r, &t, sizeof t);
        } else {
            float f[8];
            memcpy(f, &acc[ki], sizeof f);
            for (int64_t kj = kj0; kj < kj1; kj++) plane[r + kj] += f[kj];
        }
    }
}

static void scat_bands(void *vc, int64_t b0, int64_t b1) {
    const scat_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, kh = p->kh, kw = p->kw, bw = c->ox1 - c->ox0, Cg = c->Cg;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t r0 = c->ty0 + (2 * b + c->phase) * c->band;
        const int64_t r1 = r0 + c->band < c->ty1 ? r0 + c->band : c->ty1;
        for (int64_t oy = r0; oy < r1; oy++) {
            const int64_t iy0 = oy * p->sh - p->ph;
            int64_t ki0 = 0, ki1 = kh;
            while (ki0 < ki1 && iy0 + ki0 < 0) ki0++;
            while (ki1 > ki0 && iy0 + ki1 - 1 >= H) ki1--;
            for (int64_t ox = c->ox0; ox < c->ox1; ox++) {
                const int64_t q = (oy - c->ty0) * bw + ox - c->ox0;
                const int32_t e0 = c->start[q], e1 = c->end[q];
                if (e0 == e1) continue;
                const int64_t ix0 = ox * p->sw - p->pw, rb = iy0 * W + ix0;
                const int fast = ix0 >= 0 && ix0 + 8 <= c->xhi;
                int64_t kj0 = 0, kj1 = kw;
                while (kj0 < kj1 && ix0 + kj0 < 0) kj0++;
                while (kj1 > kj0 && ix0 + kj1 - 1 >= W) kj1--;
                int64_t ch = 0;
                // Two channels at a time while 2 x kh accumulators fit the 16 registers: twice the
                // independent FMAs per nonzero (one channel's chain waits on the FMA latency).
                for (; kh <= 7 && ch + 1 < Cg; ch += 2) {
                    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0};
                    v8f b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0}, b6 = {0}, t;
                    for (int32_t e = e0; e < e1; e++) {
                        const float *wr = c->wp + ((int64_t)c->idx[e] * Cg + ch) * kh * 8, *wr2 = wr + kh * 8;
                        const float v = c->val[e];
                        const v8f vv = {v, v, v, v, v, v, v, v};
#define SCAT_FMA2(r) if (r < kh) { memcpy(&t, wr + 8 * (r), sizeof t); a##r = fmadd8(vv, t, a##r); \
                                   memcpy(&t, wr2 + 8 * (r), sizeof t); b##r = fmadd8(vv, t, b##r); }
                        SCAT_FMA2(0) SCAT_FMA2(1) SCAT_FMA2(2) SCAT_FMA2(3) SCAT_FMA2(4) SCAT_FMA2(5) SCAT_FMA2(6)
#undef SCAT_FMA2
                    }
                    const v8f acc[7] = {a0, a1, a2, a3, a4, a5, a6}, acc2[7] = {b0, b1, b2, b3, b4, b5, b6};
                    scat_store(c->gin + ch * H * W, acc, rb, W, ki0, ki1, kj0, kj1, fast);
                    scat_store(c->gin + (ch + 1) * H * W, acc2, rb, W, ki0, ki1, kj0, kj1, fast);
                }
                for (; ch < Cg; ch++) {
                    // Eight named accumulators: an array would live in memory, not in registers.
                    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, t;
                    for (int32_t e = e0; e < e1; e++) {
                        const float *wr = c->wp + ((int64_t)c->idx[e] * Cg + ch) * kh * 8;
                        const float v = c->val[e];
                        const v8f vv = {v, v, v, v, v, v, v, v};
#define SCAT_FMA(r) if (r < kh) { memcpy(&t, wr + 8 * (r), sizeof t); a##r = fmadd8(vv, t, a##r); }
                        SCAT_FMA(0) SCAT_FMA(1) SCAT_FMA(2) SCAT_FMA(3) SCAT_FMA(4) SCAT_FMA(5) SCAT_FMA(6) SCAT_FMA(7)
#undef SCAT_FMA
                    }
                    const v8f acc[SCAT_MAX_KH] = {a0, a1, a2, a3, a4, a5, a6, a7};
                    scat_store(c->gin + ch * H * W, acc, rb, W, ki0, ki1, kj0, kj1, fast);
                }
            }
        }
    }
}

// wp (nk, Cg, kh, 8) from w (nk, Cg, kh, kw): rows padded with zeros.
static void scat_pad_weights(float *wp, const float *w, int64_t nk, int64_t Cg, const zf_conv_params *p) {
    const int64_t rows = nk * Cg * p->kh;
    for (int64_t r = 0; r < rows; r++) {
        memset(wp + r * 8, 0, 8 * sizeof(float));
        memcpy(wp + r * 8, w + r * p->kw, (size_t)p->kw * sizeof(float));
    }
}

// Gs (nk, P) = the signal's box, channels [0, nk) of g (nk, OH, OW): rows [ty0, ty1), columns [ox0, ox1).
static void gather_gs(float *Gs, const float *g, int64_t nk, int64_t ty0, int64_t ty1, int64_t ox0, int64_t ox1,
                      int64_t OW, int64_t OHW) {
    const int64_t bw = ox1 - ox0, P = (ty1 - ty0) * bw;
    for (int64_t j = 0; j < nk; j++)
        for (int64_t oy = ty0; oy < ty1; oy++)
            memcpy(Gs + j * P + (oy - ty0) * bw, g + j * OHW + oy * OW + ox0, (size_t)bw * sizeof(float));
}

// Gs (nk, P) without its all-zero rows, moved up in place; rows[i] = the original index of row i.
// Returns the rows kept. The thin product reads no weights for the others.
static int64_t drop_zero_rows(float *Gs, int32_t *rows, int64_t nk, int64_t P) {
    int64_t nr = 0;
    for (int64_t j = 0; j < nk; j++) {
        int nz = 0;
        for (int64_t q = 0; q < P; q++) nz |= Gs[j * P + q] != 0.0f;
        if (!nz) continue;
        if (nr < j) memmove(Gs + nr * P, Gs + j * P, (size_t)P * sizeof(float));
        rows[nr++] = (int32_t)j;
    }
    return nr;
}

// Writes the signal box that L lists into y's buffer (zero where nothing is listed).
static void lists_to_dense(const zf_proj_slot *y, zf_proj_lists *L) {
    zf_box_zero(y->g, y->t, &L->box);
    const int64_t H = y->t->dims[2], W = y->t->dims[3], bw = L->box.hi[3] - L->box.lo[3];
    const int64_t nk = L->box.hi[1] - L->box.lo[1];
    for (int64_t j = 0; j < nk; j++) {
        float *g = y->g + (L->box.lo[0] * y->t->dims[1] + L->box.lo[1] + j) * H * W;
        for (int32_t e = L->first[j]; e < L->first[j + 1]; e++)
            g[(L->box.lo[2] + L->pos[e] / bw) * W + L->box.lo[3] + L->pos[e] % bw] = L->val[e];
    }
    L->filled = 0;
}

// L's entries by position, as nz_rows lists them (counting sort: the same lists in the same order).
static void lists_by_position(int32_t *start, int32_t *end, int32_t *idx, float *val, int64_t P, const zf_proj_lists *L) {
    const int64_t nk = L->box.hi[1] - L->box.lo[1];
    memset(end, 0, (size_t)P * sizeof *end);
    for (int32_t e = 0; e < L->first[nk]; e++) end[L->pos[e]]++;
    int32_t s = 0;
    for (int64_t q = 0; q < P; q++) {
        const int32_t n = end[q];
        start[q] = end[q] = s;
        s += n;
    }
    for (int64_t j = 0; j < nk; j++)
        for (int32_t e = L->first[j]; e < L->first[j + 1]; e++) {
            const int32_t k = end[L->pos[e]]++;
            idx[k] = (int32_t)j;
            val[k] = L->val[e];
        }
}

static int conv_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_conv_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (zf_proj_only_data(n, a, 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!x->on || !y->on) return 0;
    const float *w = zf_f32(a->in[1].t), *gout = y->g;
    const int64_t G = p->group, Kg = p->K / G, Cg = p->C / G, ckk = Cg * p->kh * p->kw;
    const int64_t OHW = p->OH * p->OW;
    const int64_t oy0 = y->box.lo[2], oy1 = y->box.hi[2], ox0 = y->box.lo[3], ox1 = y->box.hi[3];
    const int64_t bw = ox1 - ox0;
    if (oy1 <= oy0 || bw <= 0) {
        if (x->fresh) zf_box_zero_pool(x->g, x->t, &x->box, a->pool);
        return 0;
    }
    int64_t rows = conv_tile_positions(p) / bw;
    if (rows < 1) rows = 1;
    // The output signal as lists by position (zf_proj_lists: the MaxPool after the ReLU listed it
    // and did not write it): they stand for nz_rows' on a single sparse tile; otherwise the
    // signal is written out from them first.
    zf_proj_lists *L = a->lists && a->lists->filled ? a->lists : NULL;
    if (L && (G != 1 || oy1 - oy0 > rows || (oy1 - oy0) * bw <= THIN_MAX_P || memcmp(&L->box, &y->box, sizeof L->box) ||
              (double)L->first[y->box.hi[1] - y->box.lo[1]] >= SPARSE_BELOW * (double)((y->box.hi[1] - y->box.lo[1]) * (oy1 - oy0) * bw))) {
        lists_to_dense(y, L);
        L = NULL;
    }
    for (int64_t g = y->box.lo[1] / Kg; g * Kg < y->box.hi[1]; g++) {
        // A fresh input (conv_box_back) is zeroed by the group's first col2im, or here when no
        // col2im comes first (ZERO_GROUP: the scatter path, a tile without signal).
        const zf_proj_slot *zero = x->fresh ? x : NULL;
#define ZERO_GROUP() if (zero) { \
            zf_box zb = x->box; zb.lo[1] = g * Cg; zb.hi[1] = (g + 1) * Cg; \
            zf_box_zero_pool(x->g, x->t, &zb, a->pool); zero = NULL; }
        int64_t k0 = g * Kg > y->box.lo[1] ? g * Kg : y->box.lo[1];
        int64_t k1 = (g + 1) * Kg < y->box.hi[1] ? (g + 1) * Kg : y->box.hi[1];
        int64_t nk = k1 - k0;
        for (int64_t ty0 = oy0; ty0 < oy1; ty0 += rows) {
            int64_t ty1 = ty0 + rows < oy1 ? ty0 + rows : oy1, P = (ty1 - ty0) * bw;
            // Scratch: Gs (nk, P) | col (ckk, P) or colT (P, ckk) | start (P+1) | idx, val (nk*P + P) | end (P)
            float *Gs = a->scratch, *col = Gs + nk * P;
            int32_t *start = (int32_t *)(col + ckk * P), *idx = start + P + 1;
            float *val = (float *)(idx + nk * P + P);
            int32_t *fill = (int32_t *)(val + nk * P + P);
            if (P <= THIN_MAX_P) {
                // Few positions (conv3, conv4 of one unit): dense, whatever the zeros.
                gather_gs(Gs, gout + k0 * OHW, nk, ty0, ty1, ox0, ox1, p->OW, OHW);
                // Gs without its all-zero rows (a quarter to a third of them under guided and
                // gradient): their weights are not read. The rows go in idx, unused on this path.
                int32_t *rows = idx;
                const int64_t nr = drop_zero_rows(Gs, rows, nk, P);
                if (!nr) {   // no signal: the columns and their col2im are zero
                    ZERO_GROUP()
                    continue;
                }
                zf_pool *tp = nr * P * ckk < PAR_MIN_WORK ? NULL : a->pool;
                int64_t spans = (ckk + THIN_SPAN - 1) / THIN_SPAN;
                if (tp) {   // zf_parallel_for hands out 4 chunks per thread
                    const int64_t m = 4 * (int64_t)zf_pool_threads(tp);
                    spans = (spans + m - 1) / m * m;
                }
                if (spans > ckk / 16) spans = ckk / 16 > 0 ? ckk / 16 : 1;
                thin_ctx tc = {col, w + k0 * ckk, Gs, rows, ckk, nr, P, spans};
                zf_parallel_for(tp, spans, thin_range, &tc);
                col2im_box_ctx cc = {x->g, col, 1, ckk, g * Cg, ty0, ty1, ox0, ox1, p, zero};
                zero = NULL;
                zf_parallel_for(ckk * P < PAR_MIN_WORK ? NULL : a->pool, Cg, col2im_T_range, &cc);
                continue;
            }
            int64_t nnz = 0;
            if (L) {   // listed by channel (same positions, channels k0 = box.lo[1] on)
                lists_by_position(start, fill, idx, val, P, L);
                nnz = L->first[nk];
            } else {
                // Nonzeros per position (lists in idx/val), rows of positions in parallel.
                nz_ctx nc = {start, fill, idx, val, gout + k0 * OHW + ox0, OHW, p->OW, nk, bw, ty0};
                zf_pool *pool = nk * P < PAR_MIN_WORK ? NULL : a->pool;
                zf_parallel_for(pool, ty1 - ty0, nz_rows, &nc);
                for (int64_t q = 0; q < P; q++) nnz += fill[q] - start[q];
            }
            if (!nnz) {
                ZERO_GROUP()
                continue;
            }
            const int sparse = (double)nnz < SPARSE_BELOW * (double)(nk * P);
            if (sparse && p->kw >= 6 && p->kw <= 8 && p->dw == 1 && p->dh == 1 && p->kh <= SCAT_MAX_KH &&
                nk * Cg * p->kh * 8 <= (nk + ckk) * P) {
                // wp over Gs and col, unused on this path
                ZERO_GROUP()
                scat_pad_weights(a->scratch, w + k0 * ckk, nk, Cg, p);
                int64_t band = (p->kh - 1) / p->sh;   // bands two apart: no input row in common
                if (band < 2) band = 2;
                const int64_t n_bands = (ty1 - ty0 + band - 1) / band;
                scat_ctx sc = {x->g + g * Cg * p->H * p->W, a->scratch, start, fill, idx, val, p, Cg, ty0, ty1, ox0, ox1,
                               band, 0, x->box.hi[3]};
                zf_pool *sp = nnz * ckk < PAR_MIN_WORK ? NULL : a->pool;
                zf_parallel_for(sp, (n_bands + 1) / 2, scat_bands, &sc);
                sc.phase = 1;
                zf_parallel_for(sp, n_bands / 2, scat_bands, &sc);
                continue;
            }
            const int64_t fh = (ty1 - ty0 - 1) * p->sh + (p->kh - 1) * p->dh + 1;
            const int64_t fw = (bw - 1) * p->sw + (p->kw - 1) * p->dw + 1;
            const int64_t Cgp = CGP(Cg);
            if (sparse && a->cache && fh * fw * Cgp <= (nk + ckk) * P) {
                // The fused kernel (hwc_range), T over Gs and col (unused on this path).
                float *T = a->scratch;
                memset(T, 0, (size_t)(fh * fw * Cgp) * sizeof(float));
                zf_pool *sp = nnz * ckk < PAR_MIN_WORK ? NULL : a->pool;
                int64_t cb = Cgp;
                if (sp) {   // blocks of channels, two per thread
                    const int64_t nt = 2 * (int64_t)zf_pool_threads(sp), nv = Cgp / 8;
                    cb = (nv + nt - 1) / nt * 8;
                }
                const int64_t kk = p->kh * p->kw;
                hwc_ctx hc = {T, (const float *)a->cache + (g * kk * Kg + k0 - g * Kg) * Cgp, start, fill, idx, val, p,
                              Cgp, Kg, fw, bw, ty1 - ty0, cb};
                zf_parallel_for(sp, (Cgp + cb - 1) / cb, hwc_range, &hc);
                const int64_t fy0 = ty0 * p->sh - p->ph, fx0 = ox0 * p->sw - p->pw;
                const int store = zero && ty0 == oy0 && ty1 == oy1;
                if (!store) ZERO_GROUP()
                zero = NULL;
                hwc_out_ctx oc = {x->g + g * Cg * p->H * p->W, T, p, Cgp, fy0, fx0, fw,
                                  fy0 > 0 ? fy0 : 0, fy0 + fh < p->H ? fy0 + fh : p->H,
                                  fx0 > 0 ? fx0 : 0, fx0 + fw < p->W ? fx0 + fw : p->W, store};
                zf_parallel_for(fh * fw * Cgp < PAR_MIN_WORK ? NULL : a->pool, Cg, hwc_out_range, &oc);
                continue;
            }
            col2im_box_ctx cc = {x->g, col, 1, ckk, g * Cg, ty0, ty1, ox0, ox1, p, zero};
            zero = NULL;
            zf_range_fn back = col2im_T_range;
            // Dense (or no projection cache): a GEMM, then col2im.
            gather_gs(Gs, gout + k0 * OHW, nk, ty0, ty1, ox0, ox1, p->OW, OHW);
            if (P > ckk) {
                // Many positions, few taps (conv1): col (ckk, P) = W[k0:k1]^T (ckk, nk) * Gs (nk, P)
                zf_sgemm(a->pool, 1, 0, (int)ckk, (int)P, (int)nk, 1.0f, w + k0 * ckk,
                         (int)ckk, Gs, (int)P, 0.0f, col, (int)P);
                cc.rs = P;
                cc.ps = 1;
                back = col2im_rows_range;
            } else {
                // colT (P, ckk) = Gs^T (P, nk) * W[k0:k1] (nk, ckk): the weights read once, in order
                zf_sgemm(a->pool, 1, 0, (int)P, (int)ckk, (int)nk, 1.0f, Gs, (int)P,
                         w + k0 * ckk, (int)ckk, 0.0f, col, (int)ckk);
            }
            zf_parallel_for(ckk * P < PAR_MIN_WORK ? NULL : a->pool, Cg, back, &cc);
        }
        ZERO_GROUP()
    }
#undef ZERO_GROUP
    return 0;
}

// project for several walks at once (zf_op.project_lanes, zf_project_maps): the walks whose signal
// is one thin tile (few positions: conv3 and conv4 of single units) share one thin product, their
// positions side by side, so W is read once for all of them rather than once each (ZFNet's conv4:
// 5.3 MB, more than stays in cache from one walk to the next). The others run conv_project.
#define LANES_MAX 16
static int conv_project_lanes(const zf_node *n, zf_proj_args **as, int na, zf_error *err) {
    const zf_conv_params *p = n->params;
    const int64_t ckk = p->C * p->kh * p->kw, OHW = p->OH * p->OW, cap = conv_tile_positions(p);
    int batch[LANES_MAX], nb = 0;
    int64_t sumP = 0, k0 = p->K, k1 = 0;
    for (int i = 0; i < na; i++) {
        zf_proj_args *a = as[i];
        if (zf_proj_only_data(n, a, 1, err)) return err ? err->code : ZF_ERR_INPUT;
        const zf_proj_slot *x = &a->in[0], *y = &a->out[0];
        const int64_t P = (y->box.hi[2] - y->box.lo[2]) * (y->box.hi[3] - y->box.lo[3]);
        if (p->group == 1 && !a->dense && !a->pool && x->on && y->on && y->t->ndim == 4 && P > 0 &&
            P <= THIN_MAX_P && sumP + P <= cap && nb < LANES_MAX) {
            if (a->lists && a->lists->filled) lists_to_dense(y, a->lists);   // read below as Gs
            batch[nb++] = i;
            sumP += P;
            if (y->box.lo[1] < k0) k0 = y->box.lo[1];
            if (y->box.hi[1] > k1) k1 = y->box.hi[1];
        } else if (conv_project(n, a, err)) {
            return err ? err->code : ZF_ERR_RUNTIME;
        }
    }
    if (nb < 2) {
        for (int b = 0; b < nb; b++)
            if (conv_project(n, as[batch[b]], err)) return err ? err->code : ZF_ERR_RUNTIME;
        return 0;
    }
    // Scratch of the first: Gs (nk, sumP) | colT (sumP, ckk) | rows (nk); sumP <= the tile's positions.
    const int64_t nk = k1 - k0;
    float *Gs = as[batch[0]]->scratch, *colT = Gs + nk * sumP;
    int32_t *rows = (int32_t *)(colT + sumP * ckk);
    for (int b = 0, q0 = 0; b < nb; b++) {   // each walk's box at columns [q0, q0 + P), zero outside its channels
        const zf_proj_slot *y = &as[batch[b]]->out[0];
        const int64_t oy0 = y->box.lo[2], oy1 = y->box.hi[2], ox0 = y->box.lo[3], bw = y->box.hi[3] - ox0;
        for (int64_t j = k0; j < k1; j++) {
            float *d = Gs + (j - k0) * sumP + q0;
            if (j < y->box.lo[1] || j >= y->box.hi[1]) {
                memset(d, 0, (size_t)((oy1 - oy0) * bw) * sizeof(float));
                continue;
            }
            for (int64_t oy = oy0; oy < oy1; oy++)
                memcpy(d + (oy - oy0) * bw, y->g + j * OHW + oy * p->OW + ox0, (size_t)bw * sizeof(float));
        }
        q0 += (int)((oy1 - oy0) * bw);
    }
    const int64_t nr = drop_zero_rows(Gs, rows, nk, sumP);
    if (nr) {
        int64_t spans = (ckk + THIN_SPAN - 1) / THIN_SPAN;
        if (spans > ckk / 16) spans = ckk / 16 > 0 ? ckk / 16 : 1;
        thin_ctx tc = {colT, zf_f32(as[batch[0]]->in[1].t) + k0 * ckk, Gs, rows, ckk, nr, sumP, spans};
        thin_range(&tc, 0, spans);
    }
    for (int b = 0, q0 = 0; b < nb; b++) {
        zf_proj_slot *x = &as[batch[b]]->in[0];
        const zf_proj_slot *y = &as[batch[b]]->out[0];
        const int64_t P = (y->box.hi[2] - y->box.lo[2]) * (y->box.hi[3] - y->box.lo[3]);
        if (!nr) {
            if (x->fresh) zf_box_zero_pool(x->g, x->t, &x->box, NULL);
            continue;
        }
        col2im_box_ctx cc = {x->g, colT + q0 * ckk, 1, ckk, 0, y->box.lo[2], y->box.hi[2], y->box.lo[3],
                             y->box.hi[3], p, x->fresh ? x : NULL};
        col2im_T_range(&cc, 0, p->C);
        q0 += (int)P;
    }
    return 0;
}

// --- backward (training, core/train.h) -------------------------------------------------------------
// dW += dY_tile col^T, dX += col2im(W^T dY_tile), dB += sum of dY, over the forward pass's tiles (rows
// of one image, or several small images per GEMM with their gradients gathered side by side), so the
// forward scratch suffices; 1x1 convolutions multiply the input directly. The input's gradient is
// skipped when nothing wants it (conv1: the image).

typedef struct {
    float *tmp;
    const float *dy;           // at image n0, the group's first channel
    int64_t nb, ohw, K, cols;
} gather_ctx;

// dy of nb images (nb, K, OHW) at the group's channels -> tmp (Kg, nb*OHW)
static void gather_range(void *vc, int64_t k0, int64_t k1) {
    const gather_ctx *c = vc;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t i = 0; i < c->nb; i++)
            memcpy(c->tmp + k * c->cols + i * c->ohw, c->dy + (i * c->K + k) * c->ohw, (size_t)c->ohw * sizeof(float));
}

typedef struct {
    float *db;
    const float *dy;
    int64_t N, K, ohw;
} dbias_ctx;

static void dbias_range(void *vc, int64_t k0, int64_t k1) {
    const dbias_ctx *c = vc;
    for (int64_t k = k0; k < k1; k++) {
        double s = 0.0;
        for (int64_t n = 0; n < c->N; n++) {
            const float *d = c->dy + (n * c->K + k) * c->ohw;
            float t = 0.0f;
            for (int64_t j = 0; j < c->ohw; j++) t += d[j];
            s += t;
        }
        c->db[k] += (float)s;
    }
}

void zf_conv2d_backward(float *dx, float *dw, float *db, float *col, const float *dy, const float *in,
                        const float *w, const zf_conv_params *p, zf_pool *pool) {
    const int64_t G = p->group, Cg = p->C / G, Kg = p->K / G;
    const int64_t HW = p->H * p->W, ohw = p->OH * p->OW, ckk = Cg * p->kh * p->kw;
    if (db) {
        dbias_ctx bc = {db, dy, p->N, p->K, ohw};
        zf_parallel_for(p->N * p->K * ohw < PAR_MIN_FLOATS ? NULL : pool, p->K, dbias_range, &bc);
    }
    if (!dx && !dw) return;
    if (p->direct) {
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t g = 0; g < G; g++) {
                const float *dyn = dy + (n * p->K + g * Kg) * ohw;
                if (dw)   // dW (Kg, Cg) += dY (Kg, HW) X^T (HW, Cg)
                    zf_sgemm(pool, 0, 1, (int)Kg, (int)Cg, (int)ohw, 1.0f, dyn,
                             (int)ohw, in + (n * p->C + g * Cg) * HW, (int)HW, 1.0f, dw + g * Kg * ckk, (int)ckk);
                if (dx)   // dX (Cg, HW) += W^T (Cg, Kg) dY (Kg, HW)
                    zf_sgemm(pool, 1, 0, (int)Cg, (int)HW, (int)Kg, 1.0f,
                             w + g * Kg * ckk, (int)ckk, dyn, (int)ohw, 1.0f, dx + (n * p->C + g * Cg) * HW, (int)HW);
            }
        return;
    }
    if (p->images_per_tile > 1) {
        int64_t colf, tmpf;
        scratch_floats(p, &colf, &tmpf);
        float *tmp = col + colf;
        for (int64_t n0 = 0; n0 < p->N; n0 += p->images_per_tile) {
            int64_t nb = p->N - n0 < p->images_per_tile ? p->N - n0 : p->images_per_tile;
            int64_t cols = nb * ohw;
            for (int64_t g = 0; g < G; g++) {
                gather_ctx gc = {tmp, dy + (n0 * p->K + g * Kg) * ohw, nb, ohw, p->K, cols};
                zf_parallel_for(Kg * cols < PAR_MIN_FLOATS ? NULL : pool, Kg, gather_range, &gc);
                if (dw) {
                    for (int64_t i = 0; i < nb; i++)
                        zf_im2col(col + i * ohw, cols, in + (n0 + i) * p->C * HW, g * Cg, Cg, 0, p->OH, p, pool);
                    zf_sgemm(pool, 0, 1, (int)Kg, (int)ckk, (int)cols, 1.0f, tmp,
                             (int)cols, col, (int)cols, 1.0f, dw + g * Kg * ckk, (int)ckk);
                }
                if (dx) {
                    zf_sgemm(pool, 1, 0, (int)ckk, (int)cols, (int)Kg, 1.0f,
                             w + g * Kg * ckk, (int)ckk, tmp, (int)cols, 0.0f, col, (int)cols);
                    for (int64_t i = 0; i < nb; i++)
                        zf_col2im(dx + (n0 + i) * p->C * HW, col + i * ohw, cols, g * Cg, Cg, 0, p->OH, p, pool);
                }
            }
        }
        return;
    }
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t oh0 = 0; oh0 < p->OH; oh0 += p->tile_rows) {
                int64_t oh1 = oh0 + p->tile_rows < p->OH ? oh0 + p->tile_rows : p->OH;
                int64_t cols = (oh1 - oh0) * p->OW;
                const float *dyt = dy + (n * p->K + g * Kg) * ohw + oh0 * p->OW;   // (Kg, cols), ld OHW
                if (dw) {
                    zf_im2col(col, cols, in + n * p->C * HW, g * Cg, Cg, oh0, oh1, p, pool);
                    zf_sgemm(pool, 0, 1, (int)Kg, (int)ckk, (int)cols, 1.0f, dyt,
                             (int)ohw, col, (int)cols, 1.0f, dw + g * Kg * ckk, (int)ckk);
                }
                if (dx) {
                    zf_sgemm(pool, 1, 0, (int)ckk, (int)cols, (int)Kg, 1.0f,
                             w + g * Kg * ckk, (int)ckk, dyt, (int)ohw, 0.0f, col, (int)cols);
                    zf_col2im(dx + n * p->C * HW, col, cols, g * Cg, Cg, oh0, oh1, p, pool);
                }
            }
}

static int conv_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    if (!dy) return 0;
    zf_conv2d_backward(zf_grad_in(grad, n, 0), zf_grad_in(grad, n, 1), zf_grad_in(grad, n, 2), ex->scratch, dy,
                       zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)), n->params, ex->pool);
    return 0;
}

const zf_op zf_op_conv = {
    .type = "Conv",
    .params_size = sizeof(zf_conv_params),
    .parse = conv_parse,
    .shape = conv_shape,
    .forward = conv_forward,
    .rf = conv_rf,
    .flops = conv_flops,
    .box_back = conv_box_back,
    .project = conv_project,
    .project_lanes = conv_project_lanes,
    .cache_bytes = conv_cache_bytes,
    .proj_scratch = conv_proj_scratch,
    .proj_cache_bytes = conv_proj_cache_bytes,
    .proj_cache_fill = conv_proj_cache_fill,
    .backward = conv_backward,
};
