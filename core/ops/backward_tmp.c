// backward_tmp.c: TEMPORARY (see backward_tmp.h): the training backward kernels, to be moved into
// their op files.
#include <math.h>
#include <string.h>
#include <cblas.h>
#include "backward_tmp.h"
#include "compute_util.h"
#include "op_util.h"
#include "activation.h"
#include "globalpool.h"
#include "index_ops.h"
#include "binary.h"
#include "softmax.h"
#include "shape_ops.h"
#include "../rng.h"

// Loops with less work than this run on the calling thread.
#define PAR_MIN ((int64_t)1 << 15)

// ---------------------------------------------------------------------------------------------
// Conv: dW = sum over tiles of dY_tile col^T, dX = col2im(W^T dY_tile), dB = sum of dY; the same
// tiles as the forward pass (conv.h), so the forward scratch suffices.

typedef struct {
    float *tmp;
    const float *dy;
    int64_t nb, ohw, K, cols;   // dy already offset to (image n0, channel g*Kg)
} gather_ctx;

// dy images (nb, K, OHW) at the group's channels -> tmp (Kg, nb*OHW)
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
} bias_ctx;

static void bias_range(void *vc, int64_t k0, int64_t k1) {
    const bias_ctx *c = vc;
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

void zf_conv2d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *in,
                        const float *w, const zf_conv_params *p, zf_pool *pool) {
    const int64_t G = p->group, Cg = p->C / G, Kg = p->K / G;
    const int64_t HW = p->H * p->W, ohw = p->OH * p->OW, ckk = Cg * p->kh * p->kw;
    if (db) {
        bias_ctx bc = {db, dy, p->N, p->K, ohw};
        zf_parallel_for(p->N * p->K * ohw < PAR_MIN ? NULL : pool, p->K, bias_range, &bc);
    }
    if (!dx && !dw) return;
    if (p->direct) {
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t g = 0; g < G; g++) {
                const float *dyn = dy + (n * p->K + g * Kg) * ohw;
                if (dw)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)Cg, (int)ohw, 1.0f, dyn,
                                (int)ohw, in + (n * p->C + g * Cg) * HW, (int)HW, 1.0f, dw + g * Kg * ckk, (int)ckk);
                if (dx)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Cg, (int)HW, (int)Kg, 1.0f,
                                w + g * Kg * ckk, (int)ckk, dyn, (int)ohw, 1.0f, dx + (n * p->C + g * Cg) * HW, (int)HW);
            }
        return;
    }
    float *col = scratch;
    if (p->images_per_tile > 1) {
        // Several small images per GEMM: their output gradients gathered into (Kg, nb*OHW).
        const int64_t colf = (ckk * p->images_per_tile * ohw + 15) / 16 * 16;
        float *tmp = col + colf;
        for (int64_t n0 = 0; n0 < p->N; n0 += p->images_per_tile) {
            int64_t nb = p->N - n0 < p->images_per_tile ? p->N - n0 : p->images_per_tile;
            int64_t cols = nb * ohw;
            for (int64_t g = 0; g < G; g++) {
                gather_ctx gc = {tmp, dy + (n0 * p->K + g * Kg) * ohw, nb, ohw, p->K, cols};
                zf_parallel_for(Kg * cols < PAR_MIN ? NULL : pool, Kg, gather_range, &gc);
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

// ---------------------------------------------------------------------------------------------
// Gemm: Y = alpha op(A) op(B) + beta C.
//   dop(A) = alpha dY op(B)^T (M,K), dop(B) = alpha op(A)^T dY (K,N), dC = beta dY summed over C's
//   broadcast axes; a transposed operand gets the transposed product.

void zf_gemm_backward(float *da, float *db, float *dc, const float *dy, const float *a, const float *b, int64_t c_rows,
                      int64_t c_cols, const zf_gemm_params *p) {
    const int M = (int)p->M, N = (int)p->N, K = (int)p->K;
    if (M == 0 || N == 0) return;
    if (da && K) {
        if (!p->trans_a)   // dA (M,K) += alpha dY (M,N) op(B)^T (N,K)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, p->trans_b ? CblasNoTrans : CblasTrans, M, K, N, p->alpha, dy, N,
                        b, p->trans_b ? K : N, 1.0f, da, K);
        else               // dA (K,M) += alpha op(B) (K,N) dY^T (N,M)
            cblas_sgemm(CblasRowMajor, p->trans_b ? CblasTrans : CblasNoTrans, CblasTrans, K, M, N, p->alpha, b,
                        p->trans_b ? K : N, dy, N, 1.0f, da, M);
    }
    if (db && K) {
        if (!p->trans_b)   // dB (K,N) += alpha op(A)^T (K,M) dY (M,N)
            cblas_sgemm(CblasRowMajor, p->trans_a ? CblasNoTrans : CblasTrans, CblasNoTrans, K, N, M, p->alpha, a,
                        p->trans_a ? M : K, dy, N, 1.0f, db, N);
        else               // dB (N,K) += alpha dY^T (N,M) op(A) (M,K)
            cblas_sgemm(CblasRowMajor, CblasTrans, p->trans_a ? CblasTrans : CblasNoTrans, N, K, M, p->alpha, dy, N,
                        a, p->trans_a ? M : K, 1.0f, db, K);
    }
    if (dc && p->beta != 0.0f) {
        for (int64_t i = 0; i < M; i++) {
            float *cr = dc + (c_rows == 1 ? 0 : i) * c_cols;
            const float *g = dy + i * N;
            if (c_cols == 1) {
                float s = 0.0f;
                for (int64_t j = 0; j < N; j++) s += g[j];
                cr[0] += p->beta * s;
            } else {
                for (int64_t j = 0; j < N; j++) cr[j] += p->beta * g[j];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MaxPool: each output's gradient goes to the input its switch recorded (Zeiler & Fergus's
// unpooling is the same routing).

typedef struct {
    float *dx;
    const float *dy;
    const int32_t *sw;
    int64_t in_plane, out_plane;
} mpb_ctx;

static void mpb_range(void *vc, int64_t q0, int64_t q1) {
    const mpb_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        float *dx = c->dx + q * c->in_plane;
        const float *dy = c->dy + q * c->out_plane;
        const int32_t *sw = c->sw + q * c->out_plane;
        for (int64_t o = 0; o < c->out_plane; o++)
            if (sw[o] >= 0) dx[sw[o]] += dy[o];
    }
}

void zf_maxpool_backward(float *dx, const float *dy, const int32_t *switches, const zf_maxpool_params *p,
                         zf_pool *pool) {
    mpb_ctx c = {dx, dy, switches, 1, 1};
    for (int i = 0; i < p->win.nsp; i++) {
        c.in_plane *= p->win.in[i];
        c.out_plane *= p->win.out[i];
    }
    int64_t planes = p->N * p->C;
    zf_parallel_for(planes * c.out_plane < PAR_MIN ? NULL : pool, planes, mpb_range, &c);
}

// ---------------------------------------------------------------------------------------------
// AveragePool: each output's gradient spread evenly over the taps it averaged (the divisor as in
// the forward pass).

typedef struct {
    float *dx;
    const float *dy;
    int cip;
    zf_pool_geom g;
} apb_ctx;

static int64_t count_taps(int64_t start, int cip, const zf_pool_geom *g, int a) {
    int64_t lo, hi;
    if (cip) zf_pool_taps(&lo, &hi, start, -g->pb[a], g->in[a] + g->pe[a], g, a);
    else zf_pool_axis_range(&lo, &hi, start, g, a);
    return hi - lo;
}

static void apb_range(void *vc, int64_t q0, int64_t q1) {
    const apb_ctx *c = vc;
    const zf_pool_geom *g = &c->g;
    const int64_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++) {
        float *dx = c->dx + q * in_plane;
        const float *dy = c->dy + q * out_plane;
        int64_t o = 0;
        for (int64_t od = 0; od < g->out[0]; od++) {
            int64_t d_lo, d_hi, d0 = od * g->s[0] - g->pb[0];
            zf_pool_axis_range(&d_lo, &d_hi, d0, g, 0);
            int64_t nd = count_taps(d0, c->cip, g, 0);
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                int64_t h_lo, h_hi, h0 = oh * g->s[1] - g->pb[1];
                zf_pool_axis_range(&h_lo, &h_hi, h0, g, 1);
                int64_t nh = count_taps(h0, c->cip, g, 1);
                for (int64_t ow = 0; ow < g->out[2]; ow++, o++) {
                    int64_t w_lo, w_hi, w0 = ow * g->s[2] - g->pb[2];
                    zf_pool_axis_range(&w_lo, &w_hi, w0, g, 2);
                    int64_t count = nd * nh * count_taps(w0, c->cip, g, 2);
                    if (count <= 0) continue;
                    float v = dy[o] / (float)count;
                    for (int64_t kd = d_lo; kd < d_hi; kd++) {
                        int64_t id = d0 + kd * g->d[0];
                        for (int64_t kh = h_lo; kh < h_hi; kh++) {
                            float *row = dx + (id * g->in[1] + h0 + kh * g->d[1]) * g->in[2] + w0;
                            for (int64_t kw = w_lo; kw < w_hi; kw++) row[kw * g->d[2]] += v;
                        }
                    }
                }
            }
        }
    }
}

void zf_averagepool_backward(float *dx, const float *dy, const zf_averagepool_params *p, zf_pool *pool) {
    apb_ctx c = {dx, dy, p->count_include_pad, {{0}}};
    zf_pool_geom_from(&c.g, &p->win);
    int64_t planes = p->N * p->C;
    if (planes * c.g.out[0] * c.g.out[1] * c.g.out[2] * c.g.k[0] * c.g.k[1] * c.g.k[2] < PAR_MIN) pool = NULL;
    zf_parallel_for(pool, planes, apb_range, &c);
}

// ---------------------------------------------------------------------------------------------
// Global pools.

typedef struct {
    float *dx;
    const float *dy, *in;
    int64_t plane;
} gpb_ctx;

static void gavgb_range(void *vc, int64_t q0, int64_t q1) {
    const gpb_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        float v = c->dy[q] / (float)c->plane, *dx = c->dx + q * c->plane;
        for (int64_t i = 0; i < c->plane; i++) dx[i] += v;
    }
}

static void gmaxb_range(void *vc, int64_t q0, int64_t q1) {
    const gpb_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * c->plane;
        int64_t best = 0;
        for (int64_t i = 1; i < c->plane; i++)
            if (x[i] > x[best] || (isnan(x[i]) && !isnan(x[best]))) best = i;
        c->dx[q * c->plane + best] += c->dy[q];
    }
}

void zf_global_avgpool_backward(float *dx, const float *dy, int64_t planes, int64_t plane, zf_pool *pool) {
    if (plane <= 0) return;
    gpb_ctx c = {dx, dy, NULL, plane};
    zf_parallel_for(planes * plane < PAR_MIN ? NULL : pool, planes, gavgb_range, &c);
}

void zf_global_maxpool_backward(float *dx, const float *dy, const float *in, int64_t planes, int64_t plane,
                                zf_pool *pool) {
    if (plane <= 0) return;
    gpb_ctx c = {dx, dy, in, plane};
    zf_parallel_for(planes * plane < PAR_MIN ? NULL : pool, planes, gmaxb_range, &c);
}

// ---------------------------------------------------------------------------------------------
// LRN: y_c = x_c D_c^-beta, D_c = bias + alpha/size * sum_{i in win(c)} x_i^2, win(c) = [c - before,
// c + after] with before = floor((size-1)/2), after = ceil((size-1)/2). Then
//   dx_j = dy_j D_j^-beta - (2 alpha beta / size) x_j sum_{c: j in win(c)} dy_c x_c D_c^(-beta-1)
// and j in win(c) <=> c in [j - after, j + before].

#define LRN_BLOCK 64

size_t zf_lrn_backward_scratch(int64_t C, int threads) {
    return (size_t)(threads > 0 ? threads : 1) * (size_t)(2 * C * LRN_BLOCK);
}

typedef struct {
    float *dx, *scratch;
    const float *dy, *in;
    int64_t N, C, plane, blocks, T;
    const zf_lrn_params *p;
} lrnb_ctx;

static void lrnb_thread(void *vc, int64_t t0, int64_t t1) {
    const lrnb_ctx *c = vc;
    const zf_lrn_params *p = c->p;
    const int64_t C = c->C, plane = c->plane, before = (p->size - 1) / 2, after = p->size - 1 - before;
    const float scale = p->alpha / (float)p->size, beta = p->beta, k2 = -2.0f * scale * beta;
    const int64_t items = c->N * c->blocks;
    for (int64_t t = t0; t < t1; t++) {
        float *dp = c->scratch + t * 2 * C * LRN_BLOCK, *T = dp + C * LRN_BLOCK;
        for (int64_t it = items * t / c->T; it < items * (t + 1) / c->T; it++) {
            const int64_t n = it / c->blocks, b0 = it % c->blocks * LRN_BLOCK;
            const int64_t L = plane - b0 < LRN_BLOCK ? plane - b0 : LRN_BLOCK;
            const float *x = c->in + n * C * plane + b0, *g = c->dy + n * C * plane + b0;
            float *dx = c->dx + n * C * plane + b0;
            for (int64_t ch = 0; ch < C; ch++) {
                int64_t lo = ch - before < 0 ? 0 : ch - before, hi = ch + after >= C ? C - 1 : ch + after;
                float *d = dp + ch * L, *tt = T + ch * L;
                for (int64_t i = 0; i < L; i++) d[i] = 0.0f;
                for (int64_t k = lo; k <= hi; k++) {
                    const float *xk = x + k * plane;
                    for (int64_t i = 0; i < L; i++) d[i] += xk[i] * xk[i];
                }
                const float *xc = x + ch * plane, *gc = g + ch * plane;
                for (int64_t i = 0; i < L; i++) {
                    float D = p->bias + scale * d[i];
                    // D^-0.75 = 1 / sqrt(D sqrt(D)), as the forward pass computes it
                    float Dp = beta == 0.75f ? 1.0f / sqrtf(D * sqrtf(D)) : powf(D, -beta);
                    d[i] = Dp;
                    tt[i] = gc[i] * xc[i] * Dp / D;
                }
            }
            for (int64_t j = 0; j < C; j++) {
                int64_t lo = j - after < 0 ? 0 : j - after, hi = j + before >= C ? C - 1 : j + before;
                float *dj = dx + j * plane;
                const float *xj = x + j * plane, *gj = g + j * plane, *d = dp + j * L;
                for (int64_t i = 0; i < L; i++) {
                    float s = 0.0f;
                    for (int64_t ch = lo; ch <= hi; ch++) s += T[ch * L + i];
                    dj[i] += gj[i] * d[i] + k2 * xj[i] * s;
                }
            }
        }
    }
}

void zf_lrn_backward(float *dx, float *scratch, const float *dy, const float *in, int64_t N, int64_t C, int64_t plane,
                     const zf_lrn_params *p, zf_pool *pool) {
    int threads = zf_pool_threads(pool);
    if (N * C * plane * p->size < PAR_MIN) threads = 1;
    lrnb_ctx c = {dx, scratch, dy, in, N, C, plane, (plane + LRN_BLOCK - 1) / LRN_BLOCK, threads, p};
    // One range per thread, each with its own part of the scratch.
    zf_parallel_for(threads > 1 ? pool : NULL, threads, lrnb_thread, &c);
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization. With xh = (x - mean) * istd, y = scale * xh + B:
//   dB = sum dy, dscale = sum dy xh, and
//   fixed statistics: dx = scale istd dy
//   batch statistics: dx = scale istd (dy - dB/M - xh dscale/M), M = N * plane
// (the statistics' own dependence on x gives the two subtracted terms).

typedef struct {
    float *mean, *var, *dx, *dscale, *dbias;
    const float *in, *dy, *scale, *fmean, *fvar;
    int64_t N, C, plane;
    float eps;
    int batch;
} bnb_ctx;

static void channel_stats(double *mean, double *var, const float *in, int64_t N, int64_t C, int64_t plane, int64_t ch) {
    double s = 0.0, s2 = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + (n * C + ch) * plane;
        for (int64_t i = 0; i < plane; i++) s += x[i];
    }
    double cnt = (double)(N * plane), m = cnt > 0 ? s / cnt : 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + (n * C + ch) * plane;
        for (int64_t i = 0; i < plane; i++) s2 += ((double)x[i] - m) * ((double)x[i] - m);
    }
    *mean = m;
    *var = cnt > 0 ? s2 / cnt : 0.0;
}

static void bn_stats_range(void *vc, int64_t c0, int64_t c1) {
    const bnb_ctx *c = vc;
    for (int64_t ch = c0; ch < c1; ch++) {
        double m, v;
        channel_stats(&m, &v, c->in, c->N, c->C, c->plane, ch);
        c->mean[ch] = (float)m;
        c->var[ch] = (float)v;
    }
}

void zf_batchnorm_stats(float *mean, float *var, const float *in, int64_t N, int64_t C, int64_t plane,
                        zf_pool *pool) {
    bnb_ctx c = {.mean = mean, .var = var, .in = in, .N = N, .C = C, .plane = plane};
    zf_parallel_for(N * C * plane < PAR_MIN ? NULL : pool, C, bn_stats_range, &c);
}

static void bnb_range(void *vc, int64_t c0, int64_t c1) {
    const bnb_ctx *c = vc;
    const int64_t N = c->N, C = c->C, plane = c->plane;
    for (int64_t ch = c0; ch < c1; ch++) {
        double m, v;
        if (c->batch) channel_stats(&m, &v, c->in, N, C, plane, ch);
        else m = c->fmean[ch], v = c->fvar[ch];
        const double istd = 1.0 / sqrt(v + (double)c->eps);
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = c->in + (n * C + ch) * plane, *g = c->dy + (n * C + ch) * plane;
            for (int64_t i = 0; i < plane; i++) {
                sdy += g[i];
                sdyx += (double)g[i] * ((double)x[i] - m);
            }
        }
        sdyx *= istd;   // sum dy * xh
        if (c->dbias) c->dbias[ch] += (float)sdy;
        if (c->dscale) c->dscale[ch] += (float)sdyx;
        if (!c->dx) continue;
        const double M = (double)(N * plane);
        const float a = (float)(c->scale[ch] * istd);
        const float mb = c->batch && M > 0 ? (float)(sdy / M) : 0.0f;
        const float ms = c->batch && M > 0 ? (float)(sdyx / M * istd) : 0.0f;   // per unit of (x - mean)
        const float fm = (float)m;
        for (int64_t n = 0; n < N; n++) {
            const float *x = c->in + (n * C + ch) * plane, *g = c->dy + (n * C + ch) * plane;
            float *d = c->dx + (n * C + ch) * plane;
            for (int64_t i = 0; i < plane; i++) d[i] += a * (g[i] - mb - (x[i] - fm) * ms);
        }
    }
}

void zf_batchnorm_backward(float *dx, float *dscale, float *dbias, const float *dy, const float *in,
                           const float *scale, const float *mean, const float *var, int64_t N, int64_t C,
                           int64_t plane, float eps, int batch, zf_pool *pool) {
    bnb_ctx c = {NULL, NULL, dx, dscale, dbias, in, dy, scale, mean, var, N, C, plane, eps, batch};
    zf_parallel_for(N * C * plane < PAR_MIN ? NULL : pool, C, bnb_range, &c);
}

// ---------------------------------------------------------------------------------------------
// Dropout (training): a counter-based mask, so the backward pass redraws exactly the forward's.

uint64_t zf_dropout_key(uint64_t seed, int64_t tensor) {
    return zf_rng_mix(zf_rng_mix(seed) ^ zf_rng_mix((uint64_t)tensor + 0x5851F42D4C957F2DULL));
}

uint32_t zf_dropout_threshold(float ratio) {
    if (!(ratio > 0.0f)) return 0;
    if (ratio >= 1.0f) return 1u << 24;
    return (uint32_t)lrint((double)ratio * (double)(1 << 24));
}

void zf_dropout_train_forward(float *out, float *mask, const float *x, int64_t n, float ratio, uint64_t key) {
    uint32_t th = zf_dropout_threshold(ratio);
    float s = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        int keep = zf_dropout_keep(key, i, th);
        out[i] = keep ? x[i] * s : 0.0f;
        if (mask) mask[i] = (float)keep;
    }
}

void zf_dropout_backward(float *dx, const float *dy, int64_t n, float ratio, uint64_t key) {
    uint32_t th = zf_dropout_threshold(ratio);
    float s = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
    for (int64_t i = 0; i < n; i++)
        if (zf_dropout_keep(key, i, th)) dx[i] += dy[i] * s;
}

// ---------------------------------------------------------------------------------------------
// Elementwise.

void zf_relu_backward(float *dx, const float *dy, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

// Softmax: dx = y (dy - sum dy y); LogSoftmax: dx = dy - softmax sum dy, softmax = exp(y).
void zf_softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner,
                         int take_log) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const int64_t off = o * n * inner + i;
            double s = 0.0;
            if (take_log) {
                for (int64_t k = 0; k < n; k++) s += dy[off + k * inner];
                for (int64_t k = 0; k < n; k++)
                    dx[off + k * inner] += dy[off + k * inner] - expf(y[off + k * inner]) * (float)s;
            } else {
                for (int64_t k = 0; k < n; k++) s += (double)dy[off + k * inner] * y[off + k * inner];
                for (int64_t k = 0; k < n; k++)
                    dx[off + k * inner] += y[off + k * inner] * (dy[off + k * inner] - (float)s);
            }
        }
}

// =============================================================================================
// Adapters (the future zf_op.backward entries).

static float *gin(float *const *grad, const zf_node *n, int k) {
    return k < n->n_in && n->in[k] >= 0 ? grad[n->in[k]] : NULL;
}
static const float *gout(float *const *grad, const zf_node *n, int k) {
    return k < n->n_out && n->out[k] >= 0 ? grad[n->out[k]] : NULL;
}

static int conv_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const float *dy = gout(grad, n, 0);
    if (!dy) return 0;
    const zf_tensor *b = zf_cu_in(n, v, 2);
    zf_conv2d_backward(gin(grad, n, 0), gin(grad, n, 1), b ? gin(grad, n, 2) : NULL, ex->scratch, dy,
                       zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)), n->params, ex->pool);
    return 0;
}

static int gemm_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const zf_gemm_params *p = n->params;
    const float *dy = gout(grad, n, 0);
    if (!dy) return 0;
    const zf_tensor *c = zf_cu_in(n, v, 2);
    zf_gemm_backward(gin(grad, n, 0), gin(grad, n, 1), c ? gin(grad, n, 2) : NULL, dy, zf_f32(zf_cu_in(n, v, 0)),
                     zf_f32(zf_cu_in(n, v, 1)), p->c_rows, p->c_cols, p);
    return 0;
}

static int mp_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                       zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    if (!n->switches) return zf_fail(err, ZF_ERR_RUNTIME, "internal error: no switches recorded");
    zf_maxpool_backward(dx, dy, n->switches, n->params, ex->pool);
    return 0;
}

static int ap_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                       zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (dy && dx) zf_averagepool_backward(dx, dy, n->params, ex->pool);
    return 0;
}

static void gp_split(const zf_tensor *x, int64_t *planes, int64_t *plane) {
    *planes = x->dims[0] * x->dims[1];
    *plane = 1;
    for (int i = 2; i < x->ndim; i++) *plane *= x->dims[i];
}

static int gavg_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    int64_t planes, plane;
    gp_split(zf_cu_in(n, v, 0), &planes, &plane);
    zf_global_avgpool_backward(dx, dy, planes, plane, ex->pool);
    return 0;
}

static int gmax_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    int64_t planes, plane;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    gp_split(x, &planes, &plane);
    zf_global_maxpool_backward(dx, dy, zf_f32(x), planes, plane, ex->pool);
    return 0;
}

static int lrn_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                        zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    zf_lrn_backward(dx, ex->scratch, dy, zf_f32(x), x->dims[0], x->dims[1], plane, n->params, ex->pool);
    return 0;
}

static int bn_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                       zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const float *dy = gout(grad, n, 0);
    if (!dy) return 0;
    if (gin(grad, n, 3) || gin(grad, n, 4))
        return zf_fail(err, ZF_ERR_INPUT, "the running mean and variance cannot be trained");
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    zf_batchnorm_backward(gin(grad, n, 0), gin(grad, n, 1), gin(grad, n, 2), dy, zf_f32(x), zf_f32(zf_cu_in(n, v, 1)),
                          zf_f32(zf_cu_in(n, v, 3)), zf_f32(zf_cu_in(n, v, 4)), x->dims[0], x->dims[1], plane,
                          p->epsilon, tc != NULL || p->training_mode, ex->pool);
    return 0;
}

static int bn_train_forward(zf_node *n, zf_value *v, const zf_exec *ex, const zf_train_ctx *tc, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t N = x->dims[0], C = x->dims[1], plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    float *mean = ex->scratch, *var = mean + C;
    zf_batchnorm_stats(mean, var, zf_f32(x), N, C, plane, ex->pool);
    zf_batchnorm_params q = *p;
    zf_batchnorm_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(x), zf_f32(zf_cu_in(n, v, 1)), zf_f32(zf_cu_in(n, v, 2)),
                         mean, var, N, C, plane, &q, ex->pool);
    // Running statistics as PyTorch keeps them: the variance's unbiased estimate.
    float m = tc ? tc->bn_momentum : 0.0f;
    if (m > 0.0f) {
        float *rm = zf_f32(zf_cu_in(n, v, 3)), *rv = zf_f32(zf_cu_in(n, v, 4));
        double cnt = (double)(N * plane), unb = cnt > 1 ? cnt / (cnt - 1) : 1.0;
        for (int64_t c = 0; c < C; c++) {
            rm[c] = (1.0f - m) * rm[c] + m * mean[c];
            rv[c] = (1.0f - m) * rv[c] + m * (float)(var[c] * unb);
        }
    }
    return 0;
}

static float dropout_ratio(const zf_node *n, const zf_value *v) {
    const zf_tensor *r = zf_cu_in(n, v, 1);
    if (r && r->data && r->dtype == ZF_F32 && zf_tensor_numel(r) == 1) return zf_f32(r)[0];
    return 0.5f;
}

static int dropout_train_forward(zf_node *n, zf_value *v, const zf_exec *ex, const zf_train_ctx *tc, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    zf_tensor *y = zf_cu_out(n, v, 0), *mask = zf_cu_out(n, v, 1);
    float ratio = dropout_ratio(n, v);
    if (!(ratio >= 0.0f && ratio < 1.0f)) return zf_fail(err, ZF_ERR_INPUT, "ratio %g is not in [0, 1)", ratio);
    int64_t cnt = zf_tensor_numel(x);
    zf_dropout_train_forward(zf_f32(y), mask && mask->dtype == ZF_F32 ? zf_f32(mask) : NULL, zf_f32(x), cnt, ratio,
                             zf_dropout_key(tc->seed, n->out[0]));
    if (mask && mask->dtype == ZF_I64) {
        uint64_t key = zf_dropout_key(tc->seed, n->out[0]);
        uint32_t th = zf_dropout_threshold(ratio);
        for (int64_t i = 0; i < cnt; i++) zf_i64(mask)[i] = zf_dropout_keep(key, i, th);
    }
    return 0;
}

static int dropout_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex,
                            const zf_train_ctx *tc, zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    int64_t cnt = zf_tensor_numel(zf_cu_in(n, v, 0));
    if (!tc) {
        for (int64_t i = 0; i < cnt; i++) dx[i] += dy[i];
        return 0;
    }
    zf_dropout_backward(dx, dy, cnt, dropout_ratio(n, v), zf_dropout_key(tc->seed, n->out[0]));
    return 0;
}

static int relu_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (dy && dx) zf_relu_backward(dx, dy, zf_f32(zf_cu_in(n, v, 0)), zf_tensor_numel(zf_cu_in(n, v, 0)));
    return 0;
}

// Flatten, Reshape, Squeeze, Unsqueeze, Identity: the same elements in the same order.
static int copy_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, const zf_train_ctx *tc,
                         zf_error *err) {
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    int64_t cnt = zf_tensor_numel(zf_cu_in(n, v, 0));
    for (int64_t i = 0; i < cnt; i++) dx[i] += dy[i];
    return 0;
}

static int concat_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex,
                           const zf_train_ctx *tc, zf_error *err) {
    const zf_concat_params *p = n->params;
    const float *dy = gout(grad, n, 0);
    if (!dy) return 0;
    const zf_tensor *y = zf_cu_out(n, v, 0);
    int64_t axis = p->axis < 0 ? p->axis + y->ndim : p->axis, outer = 1, inner = 1, off = 0;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = (int)axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    for (int k = 0; k < n->n_in; k++) {
        const zf_tensor *x = zf_cu_in(n, v, k);
        float *dx = gin(grad, n, k);
        int64_t dxa = x->dims[axis], row = dxa * inner;
        if (dx)
            for (int64_t o = 0; o < outer; o++) {
                const float *s = dy + (o * y->dims[axis] + off) * inner;
                float *d = dx + o * row;
                for (int64_t i = 0; i < row; i++) d[i] += s[i];
            }
        off += dxa;
    }
    return 0;
}

// Add, Sub, Mul, Div with numpy broadcasting: an input broadcast along an axis receives the sum
// over that axis.
static void strides_of(int64_t *st, int nd, const int64_t *od, int nx, const int64_t *xd) {
    int64_t r = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int i = d - (nd - nx);
        if (i < 0) {
            st[d] = 0;
            continue;
        }
        st[d] = xd[i] == od[d] ? r : 0;
        r *= xd[i];
    }
}

static int binary_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex,
                           const zf_train_ctx *tc, zf_error *err) {
    const zf_binary_params *p = n->params;
    const float *dy = gout(grad, n, 0);
    if (!dy) return 0;
    float *da = gin(grad, n, 0), *db = gin(grad, n, 1);
    if (!da && !db) return 0;
    if (p->legacy_axis) return zf_fail(err, ZF_ERR_INPUT, "opset < 7 broadcasting has no backward rule");
    const zf_tensor *a = zf_cu_in(n, v, 0), *b = zf_cu_in(n, v, 1), *y = zf_cu_out(n, v, 0);
    const float *af = zf_f32(a), *bf = zf_f32(b);
    const int nd = y->ndim;
    int64_t sa[ZF_MAX_DIMS], sb[ZF_MAX_DIMS], idx[ZF_MAX_DIMS] = {0};
    strides_of(sa, nd, y->dims, a->ndim, a->dims);
    strides_of(sb, nd, y->dims, b->ndim, b->dims);
    int64_t cnt = zf_tensor_numel(y), ia = 0, ib = 0;
    for (int64_t i = 0; i < cnt; i++) {
        float g = dy[i];
        switch (p->op) {
        case ZF_BIN_ADD:
            if (da) da[ia] += g;
            if (db) db[ib] += g;
            break;
        case ZF_BIN_SUB:
            if (da) da[ia] += g;
            if (db) db[ib] -= g;
            break;
        case ZF_BIN_MUL:
            if (da) da[ia] += g * bf[ib];
            if (db) db[ib] += g * af[ia];
            break;
        case ZF_BIN_DIV:
            if (da) da[ia] += g / bf[ib];
            if (db) db[ib] -= g * af[ia] / (bf[ib] * bf[ib]);
            break;
        default:
            return zf_fail(err, ZF_ERR_INPUT, "no backward rule for this elementwise op");
        }
        for (int d = nd - 1; d >= 0; d--) {
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < y->dims[d]) break;
            ia -= sa[d] * y->dims[d];
            ib -= sb[d] * y->dims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

static int softmax_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex,
                            const zf_train_ctx *tc, zf_error *err) {
    const zf_softmax_params *p = n->params;
    const float *dy = gout(grad, n, 0);
    float *dx = gin(grad, n, 0);
    if (!dy || !dx) return 0;
    const zf_tensor *y = zf_cu_out(n, v, 0);
    int64_t axis = p->axis < 0 ? p->axis + y->ndim : p->axis, outer = 1, len = 1, inner = 1;
    for (int i = 0; i < y->ndim; i++) {
        if (i < axis) outer *= y->dims[i];
        else if (i == axis || p->coerce_2d) len *= y->dims[i];
        else inner *= y->dims[i];
    }
    zf_softmax_backward(dx, dy, zf_f32(y), outer, len, inner, p->log);
    return 0;
}

zf_backward_fn zf_tmp_backward(const char *t) {
    static const struct { const char *type; zf_backward_fn fn; } table[] = {
        {"Conv", conv_backward},
        {"Gemm", gemm_backward},
        {"MaxPool", mp_backward},
        {"AveragePool", ap_backward},
        {"GlobalAveragePool", gavg_backward},
        {"GlobalMaxPool", gmax_backward},
        {"LRN", lrn_backward},
        {"BatchNormalization", bn_backward},
        {"Dropout", dropout_backward},
        {"Relu", relu_backward},
        {"Flatten", copy_backward},
        {"Reshape", copy_backward},
        {"Squeeze", copy_backward},
        {"Unsqueeze", copy_backward},
        {"Identity", copy_backward},
        {"Concat", concat_backward},
        {"Add", binary_backward},
        {"Sub", binary_backward},
        {"Mul", binary_backward},
        {"Div", binary_backward},
        {"Softmax", softmax_backward},
        {"LogSoftmax", softmax_backward},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].type, t)) return table[i].fn;
    return NULL;
}

zf_train_forward_fn zf_tmp_train_forward(const char *t) {
    if (!strcmp(t, "Dropout")) return dropout_train_forward;
    if (!strcmp(t, "BatchNormalization")) return bn_train_forward;
    return NULL;
}

size_t zf_tmp_backward_scratch(const zf_node *n, const zf_value *v, int threads) {
    if (!strcmp(n->op->type, "LRN")) return zf_lrn_backward_scratch(v[n->in[0]].t.dims[1], threads) * sizeof(float);
    if (!strcmp(n->op->type, "BatchNormalization")) return 2 * (size_t)v[n->in[0]].t.dims[1] * sizeof(float);
    return 0;
}
