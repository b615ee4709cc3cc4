// conv.c: ONNX Conv, 2-D, as im2col + sgemm (see conv.h for the tiling plan).
#include <string.h>
#include <cblas.h>
#include "conv.h"
#include "compute_util.h"

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

void zf_conv_plan(zf_conv_params *p, size_t budget) {
    int64_t ckk = ckk_of(p), ohw = p->OH * p->OW;
    p->direct = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && !p->ph && !p->pw && !p->ph_end &&
                !p->pw_end;
    p->tile_rows = p->OH;
    p->images_per_tile = 1;
    if (p->direct) return;
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
    return (size_t)(c + t) * sizeof(float);
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
            for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[2 * ow + off];
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
static void fill_bias(float *out, int64_t ld, int64_t rows, int64_t cols, const float *b) {
    for (int64_t k = 0; k < rows; k++) {
        float v = b[k], *o = out + k * ld;
        for (int64_t j = 0; j < cols; j++) o[j] = v;
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
                for (int64_t j = 0; j < s->ohw; j++) dst[j] = src[j] + v;
            } else {
                memcpy(dst, src, (size_t)s->ohw * sizeof(float));
            }
        }
}

void zf_conv2d_forward(float *out, float *col, const float *in, const float *w, const float *b,
                       const zf_conv_params *p, zf_pool *pool) {
    const int64_t G = p->group, Cg = p->C / G, Kg = p->K / G;
    const int64_t HW = p->H * p->W, ohw = p->OH * p->OW, ckk = Cg * p->kh * p->kw;
    if (p->direct) {
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t g = 0; g < G; g++) {
                float *o = out + (n * p->K + g * Kg) * ohw;
                if (b) fill_bias(o, ohw, Kg, ohw, b + g * Kg);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)ohw, (int)Cg, 1.0f,
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
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)cols, (int)ckk, 1.0f,
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
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)cols, (int)ckk, 1.0f,
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

static int conv_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_conv_params *p = n->params;
    const zf_tensor *b = zf_cu_in(n, v, 2);
    zf_conv2d_forward(zf_f32(zf_cu_out(n, v, 0)), ex->scratch, zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)),
                      b ? zf_f32(b) : NULL, p, ex->pool);
    return 0;
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

const zf_op zf_op_conv = {
    .type = "Conv",
    .params_size = sizeof(zf_conv_params),
    .parse = conv_parse,
    .shape = conv_shape,
    .forward = conv_forward,
    .rf = conv_rf,
    .flops = conv_flops,
};
