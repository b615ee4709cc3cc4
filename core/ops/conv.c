// conv.c: ONNX Conv, 2-D, as im2col + sgemm (see conv.h for the tiling plan).
#include <string.h>
#include <cblas.h>
#include "conv.h"
#include "compute_util.h"
#include "proj.h"
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

// --- projection (core/project.h, ops/proj.h) -------------------------------------------------
// Scratch of one conv tile, in floats: tiles of output rows keep it near this.
#define PROJ_TILE_FLOATS ((int64_t)4 << 20)
// Below this fraction of nonzeros in a tile of the output signal, the transposed convolution
// adds one weight row per nonzero (sparse) instead of running the dense GEMM. After unpooling and
// rectification the deconvnet's signal is mostly zeros (10-20% nonzero on ZFNet's conv1/conv2).
#define SPARSE_BELOW 0.35
// Loops smaller than this many multiply-adds run on the calling thread.
#define PAR_MIN_WORK ((int64_t)1 << 16)

// The input's share is the transposed convolution of the output signal (Zeiler & Fergus: "filter
// ... using transposed versions of the same filters"); the bias takes no part. Output box rows
// [oy0, oy1) reach input rows [oy0*s - p, (oy1-1)*s - p + (k-1)*d + 1): zf_box_window.

static void conv_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_conv_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    const int64_t Kg = p->K / p->group, Cg = p->C / p->group;
    memset(&x->box, 0, sizeof x->box);
    x->box.hi[0] = 1;
    x->box.lo[1] = y->box.lo[1] / Kg * Cg;
    x->box.hi[1] = ((y->box.hi[1] - 1) / Kg + 1) * Cg;
    zf_box_window(&x->box.lo[2], &x->box.hi[2], y->box.lo[2], y->box.hi[2], p->kh, p->sh, p->ph, p->dh, p->H);
    zf_box_window(&x->box.lo[3], &x->box.hi[3], y->box.lo[3], y->box.hi[3], p->kw, p->sw, p->pw, p->dw, p->W);
}

// Output positions per tile: scratch = tile * (G rows + col rows + sparse index) floats.
static int64_t conv_tile_positions(const zf_conv_params *p) {
    int64_t ckk = p->C / p->group * p->kh * p->kw, Kg = p->K / p->group;
    int64_t per = ckk + 3 * Kg + 6;   // + CSR start and cursor, a tap_span (4 floats)
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

typedef struct tap_span tap_span;

typedef struct {
    float *gin;                 // input signal (C,H,W)
    const float *col;           // element (r, q) of the columns: col[r*rs + q*ps]
    int64_t rs, ps;
    int64_t c0;                 // first input channel of the group
    int64_t oy0, oy1, ox0, ox1; // the tile of output positions
    const zf_conv_params *p;
    const tap_span *spans;      // colT layout: per position of the tile
} col2im_box_ctx;

// Adds the columns back into input channels [c0 + cb, c0 + ce) for the tile's positions (the
// adjoint of im2col on that box). Rows of col (ps == 1): one (channel, tap) row at a time.
static void col2im_rows_range(void *vc, int64_t cb, int64_t ce) {
    const col2im_box_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, bw = c->ox1 - c->ox0;
    for (int64_t ch = cb; ch < ce; ch++) {
        float *plane = c->gin + (c->c0 + ch) * H * W;
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

// Where each position of a tile sits in the input: offset of its tap (0, 0) in a plane and the taps
// [ki0, ki1) x [kj0, kj1) that land inside (computed once per tile, used for every channel).
struct tap_span {
    int64_t base;
    int16_t ki0, ki1, kj0, kj1;
};

static void tap_spans(tap_span *t, int64_t oy0, int64_t oy1, int64_t ox0, int64_t ox1, const zf_conv_params *p) {
    for (int64_t oy = oy0; oy < oy1; oy++) {
        const int64_t y0 = oy * p->sh - p->ph;
        int64_t ki0 = 0, ki1 = p->kh;
        while (ki0 < ki1 && y0 + ki0 * p->dh < 0) ki0++;
        while (ki1 > ki0 && y0 + (ki1 - 1) * p->dh >= p->H) ki1--;
        for (int64_t ox = ox0; ox < ox1; ox++, t++) {
            const int64_t x0 = ox * p->sw - p->pw;
            int64_t kj0 = 0, kj1 = p->kw;
            while (kj0 < kj1 && x0 + kj0 * p->dw < 0) kj0++;
            while (kj1 > kj0 && x0 + (kj1 - 1) * p->dw >= p->W) kj1--;
            t->base = y0 * p->W + x0;
            t->ki0 = (int16_t)ki0, t->ki1 = (int16_t)ki1, t->kj0 = (int16_t)kj0, t->kj1 = (int16_t)kj1;
        }
    }
}

// Same from colT (P, ckk) (rs == 1): channel by channel (its plane stays in cache), position by
// position, each position's taps a contiguous piece of its row. One copy per common kernel width
// (KW 3, 5, 7) so the loops over a row of taps unroll; KW 0 reads p->kw.
#define COL2IM_POSITIONS(NAME, KW)                                                                        \
    static void NAME(const col2im_box_ctx *c, int64_t cb, int64_t ce) {                                \
        const zf_conv_params *p = c->p;                                                                   \
        const int64_t W = p->W, kw = KW ? KW : p->kw, kk = p->kh * kw, dh = p->dh * W, dw = p->dw;       \
        const int64_t P = (c->oy1 - c->oy0) * (c->ox1 - c->ox0);                                         \
        for (int64_t ch = cb; ch < ce; ch++) {                                                            \
            float *plane = c->gin + (c->c0 + ch) * p->H * W;                                              \
            const float *col = c->col + ch * kk;                                                          \
            for (int64_t q = 0; q < P; q++) {                                                             \
                const tap_span *t = &c->spans[q];                                                         \
                const float *sc = col + q * c->ps;                                                        \
                const int64_t b = t->base; /* tap (0, 0), maybe outside: only taps inside are touched */ \
                if (KW && t->kj0 == 0 && t->kj1 == KW && dw == 1) {                                       \
                    for (int64_t ki = t->ki0; ki < t->ki1; ki++) {                                        \
                        float *row = plane + b + ki * dh;                                                 \
                        for (int64_t kj = 0; kj < KW; kj++) row[kj] += sc[ki * KW + kj];                  \
                    }                                                                                     \
                } else {                                                                                  \
                    for (int64_t ki = t->ki0; ki < t->ki1; ki++)                                          \
                        for (int64_t kj = t->kj0; kj < t->kj1; kj++)                                      \
                            plane[b + ki * dh + kj * dw] += sc[ki * kw + kj];                             \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }
COL2IM_POSITIONS(col2im_positions_any, 0)
COL2IM_POSITIONS(col2im_positions_k3, 3)
COL2IM_POSITIONS(col2im_positions_k5, 5)
COL2IM_POSITIONS(col2im_positions_k7, 7)

static void col2im_positions_range(void *vc, int64_t cb, int64_t ce) {
    const col2im_box_ctx *c = vc;
    switch (c->p->kw) {
    case 3: col2im_positions_k3(c, cb, ce); break;
    case 5: col2im_positions_k5(c, cb, ce); break;
    case 7: col2im_positions_k7(c, cb, ce); break;
    default: col2im_positions_any(c, cb, ce); break;
    }
}

// colT (P, ckk) = sparse G^T (P, nk) times W (nk, ckk): each position's row is the sum of the
// weight rows of its nonzero channels, times their signal. Work items are (64-wide block of taps,
// 32 positions), block-major; a block's accumulator stays in registers while the nonzeros stream by.
typedef float v8f __attribute__((vector_size(32)));
#define SPMM_BLOCK 64
#define SPMM_QS 32

typedef struct {
    float *colT;
    const float *w;             // weight rows of the tile's output channels, ckk each
    const int32_t *start, *end; // per position: its nonzeros are [start[q], end[q]) in idx/val
    const int32_t *idx;
    const float *val;
    int64_t ckk, P, n_blocks, n_qblocks;
} spmm_ctx;

static void spmm_range(void *vc, int64_t i0, int64_t i1) {
    const spmm_ctx *c = vc;
    const int64_t ckk = c->ckk;
    for (int64_t item = i0; item < i1; item++) {
        // Consecutive items share a block of taps, so its weights (64 per output channel) stay in
        // L2 while every position uses them: the weights are read from memory once.
        int64_t r0 = item / c->n_qblocks * SPMM_BLOCK, q0 = item % c->n_qblocks * SPMM_QS;
        int64_t q1 = q0 + SPMM_QS < c->P ? q0 + SPMM_QS : c->P;
        int64_t len = ckk - r0 < SPMM_BLOCK ? ckk - r0 : SPMM_BLOCK;
        for (int64_t q = q0; q < q1; q++) {
            float *dst = c->colT + q * ckk + r0;
            if (len == SPMM_BLOCK) {
                // Eight separate accumulators: an array would live in memory, not in registers.
                v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, t;
                for (int32_t e = c->start[q]; e < c->end[q]; e++) {
                    const float *wr = c->w + (int64_t)c->idx[e] * ckk + r0;
                    const float v = c->val[e];
                    const v8f vv = {v, v, v, v, v, v, v, v};
#define SPMM_LOAD(j) (memcpy(&t, wr + 8 * (j), sizeof t), t)
                    a0 += vv * SPMM_LOAD(0);
                    a1 += vv * SPMM_LOAD(1);
                    a2 += vv * SPMM_LOAD(2);
                    a3 += vv * SPMM_LOAD(3);
                    a4 += vv * SPMM_LOAD(4);
                    a5 += vv * SPMM_LOAD(5);
                    a6 += vv * SPMM_LOAD(6);
                    a7 += vv * SPMM_LOAD(7);
#undef SPMM_LOAD
                }
                memcpy(dst, &a0, sizeof a0);
                memcpy(dst + 8, &a1, sizeof a1);
                memcpy(dst + 16, &a2, sizeof a2);
                memcpy(dst + 24, &a3, sizeof a3);
                memcpy(dst + 32, &a4, sizeof a4);
                memcpy(dst + 40, &a5, sizeof a5);
                memcpy(dst + 48, &a6, sizeof a6);
                memcpy(dst + 56, &a7, sizeof a7);
            } else {
                // The last, partial block: whole vectors of 8, then the rest.
                const int64_t nv = len / 8;
                v8f acc[SPMM_BLOCK / 8] = {{0}};
                float tail[8] = {0};
                for (int32_t e = c->start[q]; e < c->end[q]; e++) {
                    const float *wr = c->w + (int64_t)c->idx[e] * ckk + r0;
                    const float v = c->val[e];
                    const v8f vv = {v, v, v, v, v, v, v, v};
                    for (int64_t j = 0; j < nv; j++) {
                        v8f t;
                        memcpy(&t, wr + 8 * j, sizeof t);
                        acc[j] += vv * t;
                    }
                    for (int64_t i = nv * 8; i < len; i++) tail[i - nv * 8] += v * wr[i];
                }
                memcpy(dst, acc, (size_t)nv * sizeof(v8f));
                memcpy(dst + nv * 8, tail, (size_t)(len - nv * 8) * sizeof(float));
            }
        }
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
    if (oy1 <= oy0 || bw <= 0) return 0;
    int64_t rows = conv_tile_positions(p) / bw;
    if (rows < 1) rows = 1;
    for (int64_t g = y->box.lo[1] / Kg; g * Kg < y->box.hi[1]; g++) {
        int64_t k0 = g * Kg > y->box.lo[1] ? g * Kg : y->box.lo[1];
        int64_t k1 = (g + 1) * Kg < y->box.hi[1] ? (g + 1) * Kg : y->box.hi[1];
        int64_t nk = k1 - k0;
        for (int64_t ty0 = oy0; ty0 < oy1; ty0 += rows) {
            int64_t ty1 = ty0 + rows < oy1 ? ty0 + rows : oy1, P = (ty1 - ty0) * bw;
            // Scratch: Gs (nk, P) | col (ckk, P) or colT (P, ckk) | start (P+1) | idx, val (nnz) | cursor (P)
            float *Gs = a->scratch, *col = Gs + nk * P;
            int32_t *start = (int32_t *)(col + ckk * P), *idx = start + P + 1;
            float *val = (float *)(idx + nk * P);
            int32_t *fill = (int32_t *)(val + nk * P);
            tap_span *spans = (tap_span *)(((uintptr_t)(fill + P) + 15) & ~(uintptr_t)15);
            // Nonzeros per position, reading the signal row by row (one pass, no copy yet).
            int64_t nnz = 0;
            for (int64_t q = 0; q <= P; q++) start[q] = 0;
            for (int64_t j = 0; j < nk; j++)
                for (int64_t oy = ty0; oy < ty1; oy++) {
                    const float *r = gout + (k0 + j) * OHW + oy * p->OW + ox0;
                    int32_t *cnt = start + 1 + (oy - ty0) * bw;
                    for (int64_t i = 0; i < bw; i++) cnt[i] += r[i] != 0.0f ? 1 : 0;
                }
            for (int64_t q = 0; q < P; q++) start[q + 1] += start[q];
            nnz = start[P];
            if (!nnz) continue;
            const int sparse = (double)nnz < SPARSE_BELOW * (double)(nk * P);
            if (sparse) {
                // Per position, its nonzero channels (CSR), filled in a second pass; the lists end
                // at fill[q] (= start[q + 1]).
                memcpy(fill, start, (size_t)P * sizeof *fill);
                for (int64_t j = 0; j < nk; j++)
                    for (int64_t oy = ty0; oy < ty1; oy++) {
                        const float *r = gout + (k0 + j) * OHW + oy * p->OW + ox0;
                        int32_t *cur = fill + (oy - ty0) * bw;
                        for (int64_t i = 0; i < bw; i++)
                            if (r[i] != 0.0f) {
                                idx[cur[i]] = (int32_t)j;
                                val[cur[i]++] = r[i];
                            }
                    }
            } else {
                for (int64_t j = 0; j < nk; j++)
                    for (int64_t oy = ty0; oy < ty1; oy++)
                        memcpy(Gs + j * P + (oy - ty0) * bw, gout + (k0 + j) * OHW + oy * p->OW + ox0,
                               (size_t)bw * sizeof(float));
            }
            col2im_box_ctx cc = {x->g, col, 1, ckk, g * Cg, ty0, ty1, ox0, ox1, p, spans};
            zf_range_fn back = col2im_positions_range;
            if (sparse) {
                spmm_ctx sc = {col, w + k0 * ckk, start, fill, idx, val, ckk, P, (ckk + SPMM_BLOCK - 1) / SPMM_BLOCK,
                               (P + SPMM_QS - 1) / SPMM_QS};
                zf_parallel_for(nnz * ckk < PAR_MIN_WORK ? NULL : a->pool, sc.n_blocks * sc.n_qblocks, spmm_range, &sc);
            } else if (P > ckk) {
                // Many positions, few taps (conv1): col (ckk, P) = W[k0:k1]^T (ckk, nk) * Gs (nk, P)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)P, (int)nk, 1.0f, w + k0 * ckk,
                            (int)ckk, Gs, (int)P, 0.0f, col, (int)P);
                cc.rs = P;
                cc.ps = 1;
                back = col2im_rows_range;
            } else {
                // colT (P, ckk) = Gs^T (P, nk) * W[k0:k1] (nk, ckk): the weights read once, in order
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)ckk, (int)nk, 1.0f, Gs, (int)P,
                            w + k0 * ckk, (int)ckk, 0.0f, col, (int)ckk);
            }
            if (back == col2im_positions_range) tap_spans(spans, ty0, ty1, ox0, ox1, p);
            zf_parallel_for(ckk * P < PAR_MIN_WORK ? NULL : a->pool, Cg, back, &cc);
        }
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
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)Cg, (int)ohw, 1.0f, dyn,
                                (int)ohw, in + (n * p->C + g * Cg) * HW, (int)HW, 1.0f, dw + g * Kg * ckk, (int)ckk);
                if (dx)   // dX (Cg, HW) += W^T (Cg, Kg) dY (Kg, HW)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Cg, (int)HW, (int)Kg, 1.0f,
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
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)ckk, (int)cols, 1.0f, tmp,
                                (int)cols, col, (int)cols, 1.0f, dw + g * Kg * ckk, (int)ckk);
                }
                if (dx) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)cols, (int)Kg, 1.0f,
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
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)ckk, (int)cols, 1.0f, dyt,
                                (int)ohw, col, (int)cols, 1.0f, dw + g * Kg * ckk, (int)ckk);
                }
                if (dx) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)cols, (int)Kg, 1.0f,
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
    .proj_scratch = conv_proj_scratch,
    .backward = conv_backward,
};
