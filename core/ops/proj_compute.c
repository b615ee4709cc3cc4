// proj_compute.c: projection rules of the compute ops (Conv, ConvTranspose, MaxPool, AveragePool,
// GlobalAveragePool, GlobalMaxPool, LRN, BatchNormalization, Gemm, MatMul). TEMPORARY home: these
// move into their op files (conv.c, ...) once those files' author has finished; until then
// core/project.c finds them by op type through zf_proj_pending.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "proj.h"
#include "conv.h"
#include "conv_transpose.h"
#include "maxpool.h"
#include "averagepool.h"
#include "lrn.h"
#include "batchnorm.h"
#include "gemm.h"
#include "matmul.h"

// Scratch of one conv tile, in floats: tiles of output rows keep it near this.
#define PROJ_TILE_FLOATS ((int64_t)4 << 20)
// Below this fraction of nonzeros in a tile of the output signal, the transposed convolution
// adds one weight row per nonzero (sparse) instead of running the dense GEMM. After unpooling and
// rectification the deconvnet's signal is mostly zeros (10-20% nonzero on ZFNet's conv1/conv2).
#define SPARSE_BELOW 0.35
// Loops smaller than this many multiply-adds run on the calling thread.
#define PAR_MIN_WORK ((int64_t)1 << 16)

// --- Conv ---------------------------------------------------------------------------------------
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
    int64_t per = ckk + 3 * Kg + 2;
    int64_t t = PROJ_TILE_FLOATS / per;
    if (t < p->OW) t = p->OW;
    if (t > p->OH * p->OW) t = p->OH * p->OW;
    return t;
}

static size_t conv_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_conv_params *p = n->params;
    int64_t ckk = p->C / p->group * p->kh * p->kw, Kg = p->K / p->group;
    return (size_t)(conv_tile_positions(p) * (ckk + 3 * Kg + 2) + 64);
}

typedef struct {
    float *gin;                 // input signal (C,H,W)
    const float *col;           // element (r, q) of the columns: col[r*rs + q*ps]
    int64_t rs, ps;
    int64_t c0;                 // first input channel of the group
    int64_t oy0, oy1, ox0, ox1; // the tile of output positions
    const zf_conv_params *p;
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
                    const int64_t m = hi - lo;
                    if (p->sw == 1)
                        for (int64_t i = 0; i < m; i++) row[i] += s[i];
                    else
                        for (int64_t i = 0; i < m; i++) row[i * p->sw] += s[i];
                }
            }
    }
}

// Same from colT (P, ckk) (rs == 1): position by position, each a contiguous row of taps.
static void col2im_positions_range(void *vc, int64_t cb, int64_t ce) {
    const col2im_box_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t H = p->H, W = p->W, bw = c->ox1 - c->ox0, kk = p->kh * p->kw;
    for (int64_t oy = c->oy0; oy < c->oy1; oy++)
        for (int64_t ox = c->ox0; ox < c->ox1; ox++) {
            const float *src = c->col + ((oy - c->oy0) * bw + ox - c->ox0) * c->ps;
            const int64_t y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
            int64_t kj0 = 0, kj1 = p->kw;   // taps whose column lies inside
            while (kj0 < kj1 && x0 + kj0 * p->dw < 0) kj0++;
            while (kj1 > kj0 && x0 + (kj1 - 1) * p->dw >= W) kj1--;
            for (int64_t ch = cb; ch < ce; ch++) {
                float *plane = c->gin + (c->c0 + ch) * H * W;
                const float *sc = src + ch * kk;
                for (int64_t ki = 0; ki < p->kh; ki++) {
                    int64_t iy = y0 + ki * p->dh;
                    if (iy < 0 || iy >= H) continue;
                    float *row = plane + iy * W + x0;
                    const float *sk = sc + ki * p->kw;
                    if (p->dw == 1)
                        for (int64_t kj = kj0; kj < kj1; kj++) row[kj] += sk[kj];
                    else
                        for (int64_t kj = kj0; kj < kj1; kj++) row[kj * p->dw] += sk[kj];
                }
            }
        }
}

// colT (P, ckk) = sparse G^T (P, nk) times W (nk, ckk): each position's row is the sum of the
// weight rows of its nonzero channels, times their signal. Work items are (64-wide block of taps,
// 32 positions); a block's accumulator stays in registers while the nonzeros stream by.
typedef float v8f __attribute__((vector_size(32)));
#define SPMM_BLOCK 64
#define SPMM_QS 32

typedef struct {
    float *colT;
    const float *w;             // weight rows of the tile's output channels, ckk each
    const int32_t *start;       // per position: [start[q], start[q+1]) in idx/val
    const int32_t *idx;
    const float *val;
    int64_t ckk, P, n_blocks, n_qblocks;
} spmm_ctx;

static void spmm_range(void *vc, int64_t i0, int64_t i1) {
    const spmm_ctx *c = vc;
    const int64_t ckk = c->ckk;
    for (int64_t item = i0; item < i1; item++) {
        int64_t r0 = item % c->n_blocks * SPMM_BLOCK, q0 = item / c->n_blocks * SPMM_QS;
        int64_t q1 = q0 + SPMM_QS < c->P ? q0 + SPMM_QS : c->P;
        int64_t len = ckk - r0 < SPMM_BLOCK ? ckk - r0 : SPMM_BLOCK;
        for (int64_t q = q0; q < q1; q++) {
            float *dst = c->colT + q * ckk + r0;
            if (len == SPMM_BLOCK) {
                v8f acc[8] = {0};
                for (int32_t e = c->start[q]; e < c->start[q + 1]; e++) {
                    const float *wr = c->w + (int64_t)c->idx[e] * ckk + r0;
                    const float v = c->val[e];
                    const v8f vv = {v, v, v, v, v, v, v, v};
                    for (int j = 0; j < 8; j++) {
                        v8f wv;
                        memcpy(&wv, wr + 8 * j, sizeof wv);
                        acc[j] += vv * wv;
                    }
                }
                memcpy(dst, acc, sizeof acc);
            } else {
                float acc[SPMM_BLOCK] = {0};
                for (int32_t e = c->start[q]; e < c->start[q + 1]; e++) {
                    const float *wr = c->w + (int64_t)c->idx[e] * ckk + r0;
                    const float v = c->val[e];
                    for (int64_t i = 0; i < len; i++) acc[i] += v * wr[i];
                }
                memcpy(dst, acc, (size_t)len * sizeof(float));
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
            int64_t nnz = 0;
            for (int64_t j = 0; j < nk; j++) {
                const float *src = gout + (k0 + j) * OHW;
                float *dst = Gs + j * P;
                for (int64_t oy = ty0; oy < ty1; oy++) {
                    const float *r = src + oy * p->OW + ox0;
                    for (int64_t i = 0; i < bw; i++) {
                        dst[i] = r[i];
                        nnz += r[i] != 0.0f;
                    }
                    dst += bw;
                }
            }
            if (!nnz) continue;
            col2im_box_ctx cc = {x->g, col, 1, ckk, g * Cg, ty0, ty1, ox0, ox1, p};
            zf_range_fn back = col2im_positions_range;
            if ((double)nnz < SPARSE_BELOW * (double)(nk * P)) {
                // Per position, its nonzero channels (CSR), then colT (P, ckk) row by row.
                for (int64_t q = 0; q <= P; q++) start[q] = 0;
                for (int64_t j = 0; j < nk; j++)
                    for (int64_t q = 0; q < P; q++) start[q + 1] += Gs[j * P + q] != 0.0f;
                for (int64_t q = 0; q < P; q++) start[q + 1] += start[q];
                int32_t *fill = (int32_t *)(val + nnz);
                for (int64_t q = 0; q < P; q++) fill[q] = start[q];
                for (int64_t j = 0; j < nk; j++)
                    for (int64_t q = 0; q < P; q++) {
                        float v = Gs[j * P + q];
                        if (v != 0.0f) {
                            idx[fill[q]] = (int32_t)j;
                            val[fill[q]++] = v;
                        }
                    }
                spmm_ctx sc = {col, w + k0 * ckk, start, idx, val, ckk, P, (ckk + SPMM_BLOCK - 1) / SPMM_BLOCK,
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
            zf_parallel_for(ckk * P < PAR_MIN_WORK ? NULL : a->pool, Cg, back, &cc);
        }
    }
    return 0;
}

// --- ConvTranspose --------------------------------------------------------------------------------
// The gradient of a transposed convolution is the convolution: im2col of the output signal on the
// geometry of the convolution it transposes (p->adj), then W_g (Cg, Kg*kh*kw) times the columns.

static void ct_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_conv_transpose_params *p = n->params;
    const zf_conv_params *c = &p->adj;
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
    // Input unit i writes output units [i*s - p, i*s - p + (k-1)*d]: the inputs that reach [lo, hi).
    const int64_t k[2] = {c->kh, c->kw}, s[2] = {c->sh, c->sw}, pb[2] = {c->ph, c->pw}, d[2] = {c->dh, c->dw};
    const int64_t nin[2] = {p->H, p->W};
    for (int ax = 0; ax < 2; ax++) {
        int64_t lo = y->box.lo[2 + ax], hi = y->box.hi[2 + ax];
        int64_t num = lo + pb[ax] - (k[ax] - 1) * d[ax];
        int64_t i0 = num <= 0 ? 0 : (num + s[ax] - 1) / s[ax];
        int64_t i1 = (hi - 1 + pb[ax]) < 0 ? 0 : (hi - 1 + pb[ax]) / s[ax] + 1;
        if (i1 > nin[ax]) i1 = nin[ax];
        if (i1 < i0) i1 = i0;
        x->box.lo[2 + ax] = i0;
        x->box.hi[2 + ax] = i1;
    }
}

static int64_t ct_tile_positions(const zf_conv_transpose_params *p) {
    int64_t per = p->K / p->group * p->adj.kh * p->adj.kw + p->C / p->group;
    int64_t t = PROJ_TILE_FLOATS / per;
    if (t < p->W) t = p->W;
    if (t > p->H * p->W) t = p->H * p->W;
    return t;
}

static size_t ct_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_conv_transpose_params *p = n->params;
    int64_t per = p->K / p->group * p->adj.kh * p->adj.kw + p->C / p->group;
    return (size_t)(ct_tile_positions(p) * per + 64);
}

static int ct_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_conv_transpose_params *p = n->params;
    const zf_conv_params *c = &p->adj;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (zf_proj_only_data(n, a, 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!x->on || !y->on) return 0;
    const float *w = zf_f32(a->in[1].t), *gout = y->g;
    const int64_t G = p->group, Kg = p->K / G, Cg = p->C / G, kk = c->kh * c->kw, rows_k = Kg * kk;
    const int64_t iy0 = x->box.lo[2], iy1 = x->box.hi[2], ix0 = x->box.lo[3], ix1 = x->box.hi[3], bw = ix1 - ix0;
    const zf_box *ob = &y->box;
    if (bw <= 0) return 0;
    int64_t rows = ct_tile_positions(p) / bw;
    if (rows < 1) rows = 1;
    for (int64_t g = x->box.lo[1] / Cg; g * Cg < x->box.hi[1]; g++) {
        for (int64_t ty0 = iy0; ty0 < iy1; ty0 += rows) {
            int64_t ty1 = ty0 + rows < iy1 ? ty0 + rows : iy1, P = (ty1 - ty0) * bw;
            float *col = a->scratch, *res = col + rows_k * P;
            // col[(k, ki, kj)][q] = output signal at the position input q reads through tap (ki, kj),
            // zero outside the output's box.
            for (int64_t r = 0; r < rows_k; r++) {
                int64_t k = g * Kg + r / kk, ki = r % kk / c->kw, kj = r % c->kw;
                float *dst = col + r * P;
                int kin = k >= ob->lo[1] && k < ob->hi[1];
                for (int64_t iy = ty0; iy < ty1; iy++) {
                    int64_t oy = iy * c->sh - c->ph + ki * c->dh;
                    int yin = kin && oy >= ob->lo[2] && oy < ob->hi[2];
                    for (int64_t ix = ix0; ix < ix1; ix++, dst++) {
                        int64_t ox = ix * c->sw - c->pw + kj * c->dw;
                        *dst = yin && ox >= ob->lo[3] && ox < ob->hi[3] ? gout[(k * c->H + oy) * c->W + ox] : 0.0f;
                    }
                }
            }
            // res (Cg, P) = W_g (Cg, Kg*kh*kw) * col
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cg, (int)P, (int)rows_k, 1.0f,
                        w + g * Cg * rows_k, (int)rows_k, col, (int)P, 0.0f, res, (int)P);
            for (int64_t ch = 0; ch < Cg; ch++) {
                int64_t cc = g * Cg + ch;
                if (cc < x->box.lo[1] || cc >= x->box.hi[1]) continue;
                const float *src = res + ch * P;
                for (int64_t iy = ty0; iy < ty1; iy++) {
                    float *dst = x->g + (cc * p->H + iy) * p->W + ix0;
                    for (int64_t i = 0; i < bw; i++) dst[i] += src[(iy - ty0) * bw + i];
                }
            }
        }
    }
    return 0;
}

// --- pooling geometry over the item view (1, C, spatial...) ------------------------------------

static void pool_box_back(const zf_window *win, zf_proj_args *a) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    x->box = y->box;
    for (int i = 0; i < win->nsp; i++)
        zf_box_window(&x->box.lo[2 + i], &x->box.hi[2 + i], y->box.lo[2 + i], y->box.hi[2 + i], win->k[i], win->s[i],
                      win->pb[i], win->d[i], win->in[i]);
}

// --- MaxPool: unpool through the switches (Zeiler & Fergus sec. 2.1), every rule ----------------

static void mp_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_maxpool_params *p = n->params;
    pool_box_back(&p->win, a);
}

static int mp_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_maxpool_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    if (!a->switches) return zf_fail(err, ZF_ERR_RUNTIME, "internal error: no switches recorded");
    int64_t in_plane = 1, out_plane = 1;
    for (int i = 0; i < p->win.nsp; i++) {
        in_plane *= p->win.in[i];
        out_plane *= p->win.out[i];
    }
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it)) {
        float *gi = x->g + it.off / out_plane * in_plane;   // the row's (n, c) plane
        const float *go = y->g + it.off;
        const int32_t *sw = a->switches + it.off;
        for (int64_t i = 0; i < it.len; i++)
            if (sw[i] >= 0) gi[sw[i]] += go[i];
    }
    return 0;
}

// --- AveragePool: each output's signal spread evenly over the taps it averaged -------------------

static void ap_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_averagepool_params *p = n->params;
    pool_box_back(&p->win, a);
}

static int64_t ap_count(int64_t start, int cip, const zf_pool_geom *g, int ax) {
    int64_t lo, hi;
    if (cip) zf_pool_taps(&lo, &hi, start, -g->pb[ax], g->in[ax] + g->pe[ax], g, ax);
    else zf_pool_axis_range(&lo, &hi, start, g, ax);
    return hi - lo;
}

static int ap_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_averagepool_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    zf_pool_geom g;
    zf_pool_geom_from(&g, &p->win);
    const int nsp = p->win.nsp, shift = 3 - nsp;
    int64_t lo[3], hi[3];
    for (int ax = 0; ax < 3; ax++) {
        int i = ax - shift;
        lo[ax] = i < 0 ? 0 : y->box.lo[2 + i];
        hi[ax] = i < 0 ? 1 : y->box.hi[2 + i];
    }
    const int64_t in_plane = g.in[0] * g.in[1] * g.in[2], out_plane = g.out[0] * g.out[1] * g.out[2];
    for (int64_t c = y->box.lo[1]; c < y->box.hi[1]; c++) {
        const float *go = y->g + c * out_plane;
        float *gi = x->g + c * in_plane;
        for (int64_t od = lo[0]; od < hi[0]; od++) {
            int64_t d0 = od * g.s[0] - g.pb[0], d_lo, d_hi;
            zf_pool_axis_range(&d_lo, &d_hi, d0, &g, 0);
            int64_t nd = ap_count(d0, p->count_include_pad, &g, 0);
            for (int64_t oh = lo[1]; oh < hi[1]; oh++) {
                int64_t h0 = oh * g.s[1] - g.pb[1], h_lo, h_hi;
                zf_pool_axis_range(&h_lo, &h_hi, h0, &g, 1);
                int64_t nh = ap_count(h0, p->count_include_pad, &g, 1);
                for (int64_t ow = lo[2]; ow < hi[2]; ow++) {
                    int64_t w0 = ow * g.s[2] - g.pb[2], w_lo, w_hi;
                    zf_pool_axis_range(&w_lo, &w_hi, w0, &g, 2);
                    int64_t count = nd * nh * ap_count(w0, p->count_include_pad, &g, 2);
                    float v = go[(od * g.out[1] + oh) * g.out[2] + ow];
                    if (count <= 0 || v == 0.0f) continue;
                    v /= (float)count;
                    for (int64_t kd = d_lo; kd < d_hi; kd++)
                        for (int64_t kh = h_lo; kh < h_hi; kh++) {
                            float *row = gi + ((d0 + kd * g.d[0]) * g.in[1] + h0 + kh * g.d[1]) * g.in[2] + w0;
                            for (int64_t kw = w_lo; kw < w_hi; kw++) row[kw * g.d[2]] += v;
                        }
                }
            }
        }
    }
    return 0;
}

// --- GlobalAveragePool / GlobalMaxPool ----------------------------------------------------------

static void gp_box_back(const zf_node *n, zf_proj_args *a) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    zf_box_full(&x->box, x->t);
    x->box.lo[1] = y->box.lo[1];
    x->box.hi[1] = y->box.hi[1];
}

static int gp_project(const zf_node *n, zf_proj_args *a, int is_max) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    int64_t plane = 1;
    for (int d = 2; d < x->t->ndim; d++) plane *= x->t->dims[d];
    const float *xf = zf_f32(x->t);
    for (int64_t c = y->box.lo[1]; c < y->box.hi[1]; c++) {
        float v = y->g[c];
        float *gi = x->g + c * plane;
        if (!is_max) {
            v /= (float)plane;
            for (int64_t i = 0; i < plane; i++) gi[i] += v;
            continue;
        }
        // The position the forward pass took (first maximum; NaN wins, as in the forward kernel).
        const float *xc = xf + c * plane;
        int64_t at = 0;
        for (int64_t i = 1; i < plane; i++)
            if (xc[i] > xc[at] || (isnan(xc[i]) && !isnan(xc[at]))) at = i;
        gi[at] += v;
    }
    return 0;
}

static int gavg_project(const zf_node *n, zf_proj_args *a, zf_error *err) { return gp_project(n, a, 0); }
static int gmax_project(const zf_node *n, zf_proj_args *a, zf_error *err) { return gp_project(n, a, 1); }

// --- LRN ------------------------------------------------------------------------------------------
// deconvnet: passed through unchanged ("no contrast normalization on the way down"). guided and
// gradient: the true gradient of y_c = x_c * D_c^-beta, D_c = bias + alpha/size * sum_{i in win(c)} x_i^2:
//   dx_j = g_j D_j^-beta - (2 alpha beta / size) x_j sum_{c : j in win(c)} g_c x_c D_c^(-beta-1)
// with win(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)].

static void lrn_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_lrn_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    x->box = y->box;
    if (a->rule == ZF_RULE_DECONVNET) return;
    const int64_t before = (p->size - 1) / 2, after = p->size - 1 - before, C = x->t->dims[1];
    x->box.lo[1] = y->box.lo[1] - before < 0 ? 0 : y->box.lo[1] - before;
    x->box.hi[1] = y->box.hi[1] + after > C ? C : y->box.hi[1] + after;
}

static size_t lrn_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_tensor *x = &v[n->in[0]].t;
    return x->ndim >= 2 ? (size_t)(4 * x->dims[1] + 16) : 0;   // two arrays of C+1 doubles
}

static int lrn_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_lrn_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    if (a->rule == ZF_RULE_DECONVNET) return zf_proj_identity(n, a, err);
    const int64_t C = x->t->dims[1], before = (p->size - 1) / 2, after = p->size - 1 - before;
    int64_t plane = 1;
    for (int d = 2; d < x->t->ndim; d++) plane *= x->t->dims[d];
    const int64_t c0 = y->box.lo[1], c1 = y->box.hi[1], j0 = x->box.lo[1], j1 = x->box.hi[1];
    const double scale = (double)p->alpha / (double)p->size, beta = p->beta;
    const float *xf = zf_f32(x->t);
    double *dpow = (double *)a->scratch;   // per channel of [c0, c1): D_c^-beta, then T prefix sums
    double *tsum = dpow + C + 1;
    // Positions of the box (all axes after the channel axis), channel by channel.
    zf_box sp = x->box;
    sp.lo[1] = 0;
    sp.hi[1] = 1;
    zf_box_iter it;
    for (zf_box_iter_begin(&it, x->t, &sp); !it.done; zf_box_iter_next(&it))
        for (int64_t i = 0; i < it.len; i++) {
            const int64_t o = it.off + i;   // offset of channel 0 at this position
            tsum[0] = 0.0;
            for (int64_t c = c0; c < c1; c++) {
                int64_t lo = c - before < 0 ? 0 : c - before, hi = c + after >= C ? C - 1 : c + after;
                double s = 0.0;
                for (int64_t k = lo; k <= hi; k++) s += (double)xf[o + k * plane] * xf[o + k * plane];
                double D = p->bias + scale * s, Dp = pow(D, -beta);
                dpow[c - c0] = Dp;
                tsum[c - c0 + 1] = tsum[c - c0] + (double)y->g[o + c * plane] * xf[o + c * plane] * Dp / D;
            }
            for (int64_t j = j0; j < j1; j++) {
                // sum of T_c over c in [j - after, j + before] within [c0, c1)
                int64_t lo = j - after > c0 ? j - after : c0, hi = j + before + 1 < c1 ? j + before + 1 : c1;
                double t = hi > lo ? tsum[hi - c0] - tsum[lo - c0] : 0.0;
                double v = -2.0 * scale * beta * xf[o + j * plane] * t;
                if (j >= c0 && j < c1) v += (double)y->g[o + j * plane] * dpow[j - c0];
                x->g[o + j * plane] += (float)v;
            }
        }
    return 0;
}

// --- BatchNormalization (inference): the signal times the channel's scale / sqrt(var + eps) ------

static int bn_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (zf_proj_only_data(n, a, 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (p->training_mode)
        return zf_fail(err, ZF_ERR_INPUT, "training_mode = 1 (batch statistics) has no projection rule");
    if (!x->on || !y->on) return 0;
    const float *scale = zf_f32(a->in[1].t), *var = zf_f32(a->in[4].t);
    int64_t plane = 1;
    for (int d = 2; d < x->t->ndim; d++) plane *= x->t->dims[d];
    zf_box_iter it;
    for (zf_box_iter_begin(&it, x->t, &x->box); !it.done; zf_box_iter_next(&it)) {
        int64_t c = it.off / plane % x->t->dims[1];
        float s = (float)((double)scale[c] / sqrt((double)var[c] + (double)p->epsilon));
        float *gi = x->g + it.off;
        const float *go = y->g + it.off;
        for (int64_t i = 0; i < it.len; i++) gi[i] += s * go[i];
    }
    return 0;
}

// --- Gemm: Y = alpha op(A) op(B) + beta C ---------------------------------------------------------
// dA = alpha dY op(B)^T (transposed back when transA), dB likewise, dC = beta dY summed over the
// axes C is broadcast along. Only the output box's rows [r0, r1) and columns [c0, c1) take part.

static void gemm_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_gemm_params *p = n->params;
    const zf_proj_slot *y = &a->out[0];
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *s = &a->in[k];
        if (!s->on) continue;
        if (!y->on) {
            s->on = 0;
            continue;
        }
        zf_box_full(&s->box, s->t);
        if (k == 0 && !p->trans_a) {
            s->box.lo[0] = y->box.lo[0];
            s->box.hi[0] = y->box.hi[0];
        }
    }
    if (a->n_in > 2 && a->in[2].on) {
        // C: broadcast against (M, N) from the right.
        zf_proj_slot *s = &a->in[2];
        int r = s->t->ndim;
        for (int d = 0; d < r; d++) {
            int od = d + 2 - r;
            if (od >= 0 && s->t->dims[d] == y->t->dims[od] && y->t->dims[od] != 1) {
                s->box.lo[d] = y->box.lo[od];
                s->box.hi[d] = y->box.hi[od];
            }
        }
    }
}

static int gemm_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_gemm_params *p = n->params;
    const zf_proj_slot *y = &a->out[0];
    if (!y->on) return 0;
    const zf_tensor *At = a->in[0].t, *Bt = a->in[1].t;
    const int64_t M = p->trans_a ? At->dims[1] : At->dims[0], K = p->trans_a ? At->dims[0] : At->dims[1];
    const int64_t N = p->trans_b ? Bt->dims[0] : Bt->dims[1];
    const int64_t r0 = y->box.lo[0], r1 = y->box.hi[0], c0 = y->box.lo[1], c1 = y->box.hi[1];
    const int R = (int)(r1 - r0), Nc = (int)(c1 - c0);
    if (R <= 0 || Nc <= 0) return 0;
    const float *dy = y->g + r0 * N + c0, *A = zf_f32(At), *B = zf_f32(Bt);
    const float alpha = p->alpha;
    if (a->in[0].on) {
        float *dA = a->in[0].g;
        if (!p->trans_a)   // dA[r0:r1, :] += alpha dY_sub (R, Nc) op(B)[:, c0:c1]^T (Nc, K)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, p->trans_b ? CblasNoTrans : CblasTrans, R, (int)K, Nc, alpha, dy,
                        (int)N, p->trans_b ? B + c0 * K : B + c0, p->trans_b ? (int)K : (int)N, 1.0f, dA + r0 * K,
                        (int)K);
        else               // dA (K, M)[:, r0:r1] += alpha op(B)[:, c0:c1] (K, Nc) dY_sub^T (Nc, R)
            cblas_sgemm(CblasRowMajor, p->trans_b ? CblasTrans : CblasNoTrans, CblasTrans, (int)K, R, Nc, alpha,
                        p->trans_b ? B + c0 * K : B + c0, p->trans_b ? (int)K : (int)N, dy, (int)N, 1.0f, dA + r0,
                        (int)M);
    }
    if (a->in[1].on) {
        float *dB = a->in[1].g;
        if (!p->trans_b)   // dB (K, N)[:, c0:c1] += alpha op(A)[r0:r1, :]^T (K, R) dY_sub (R, Nc)
            cblas_sgemm(CblasRowMajor, p->trans_a ? CblasNoTrans : CblasTrans, CblasNoTrans, (int)K, Nc, R, alpha,
                        p->trans_a ? A + r0 : A + r0 * K, p->trans_a ? (int)M : (int)K, dy, (int)N, 1.0f, dB + c0,
                        (int)N);
        else               // dB (N, K)[c0:c1, :] += alpha dY_sub^T (Nc, R) op(A)[r0:r1, :] (R, K)
            cblas_sgemm(CblasRowMajor, CblasTrans, p->trans_a ? CblasTrans : CblasNoTrans, Nc, (int)K, R, alpha, dy,
                        (int)N, p->trans_a ? A + r0 : A + r0 * K, p->trans_a ? (int)M : (int)K, 1.0f, dB + c0 * K,
                        (int)K);
    }
    if (a->n_in > 2 && a->in[2].on) {
        const zf_tensor *Ct = a->in[2].t;
        int64_t cr = Ct->ndim == 2 ? Ct->dims[0] : 1, cc = Ct->ndim >= 1 ? Ct->dims[Ct->ndim - 1] : 1;
        float *dC = a->in[2].g;
        for (int64_t r = r0; r < r1; r++)
            for (int64_t c = c0; c < c1; c++)
                dC[(cr == 1 ? 0 : r) * cc + (cc == 1 ? 0 : c)] += p->beta * y->g[r * N + c];
    }
    return 0;
}

// --- MatMul: dA = dY B^T, dB = A^T dY per batch item of the broadcast, summed where broadcast -----

static void matmul_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_proj_slot *y = &a->out[0];
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *s = &a->in[k];
        if (!s->on) continue;
        if (!y->on) s->on = 0;
        else zf_box_full(&s->box, s->t);
    }
}

static int matmul_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_proj_slot *y = &a->out[0];
    if (!y->on) return 0;
    const zf_tensor *At = a->in[0].t, *Bt = a->in[1].t;
    zf_matmul_params p;
    int nd;
    int64_t od[ZF_MAX_DIMS + 2];
    if (zf_matmul_setup(&p, &nd, od, At->ndim, At->dims, Bt->ndim, Bt->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    const int64_t M = p.M, N = p.N, K = p.K;
    if (!M || !N || !K) return 0;
    zf_proj_out_full(&a->out[0]);   // whole (M, N) blocks of dY
    for (int64_t t = 0; t < p.batch_count; t++) {
        int64_t ao = 0, bo = 0, r = t;
        for (int i = p.nb - 1; i >= 0; i--) {
            int64_t idx = r % p.batch[i];
            r /= p.batch[i];
            ao += idx * p.a_stride[i];
            bo += idx * p.b_stride[i];
        }
        const float *dy = y->g + t * M * N;
        if (a->in[0].on)   // dA (M, K) += dY (M, N) B^T (N, K)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)N, 1.0f, dy, (int)N,
                        zf_f32(Bt) + bo, (int)N, 1.0f, a->in[0].g + ao, (int)K);
        if (a->in[1].on)   // dB (K, N) += A^T (K, M) dY (M, N)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)M, 1.0f, zf_f32(At) + ao,
                        (int)K, dy, (int)N, 1.0f, a->in[1].g + bo, (int)N);
    }
    return 0;
}

// --- the table ------------------------------------------------------------------------------------

static const zf_proj_rule pending[] = {
    {"Conv", conv_box_back, conv_project, conv_proj_scratch},
    {"ConvTranspose", ct_box_back, ct_project, ct_proj_scratch},
    {"MaxPool", mp_box_back, mp_project, NULL},
    {"AveragePool", ap_box_back, ap_project, NULL},
    {"GlobalAveragePool", gp_box_back, gavg_project, NULL},
    {"GlobalMaxPool", gp_box_back, gmax_project, NULL},
    {"LRN", lrn_box_back, lrn_project, lrn_proj_scratch},
    {"BatchNormalization", NULL, bn_project, NULL},
    {"Gemm", gemm_box_back, gemm_project, NULL},
    {"MatMul", matmul_box_back, matmul_project, NULL},
};

const zf_proj_rule *zf_proj_pending(const char *type) {
    for (size_t i = 0; i < sizeof pending / sizeof pending[0]; i++)
        if (!strcmp(pending[i].type, type)) return &pending[i];
    return NULL;
}
