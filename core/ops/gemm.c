// gemm.c: ONNX Gemm via zf_sgemm / sgemv split over the pool (see gemm.h).
#include <string.h>
#include <cblas.h>
#include "gemm.h"
#include "compute_util.h"
#include "proj.h"

// Below this many weights a matrix-vector product stays on the calling thread.
#define GEMV_PAR_MIN ((int64_t)1 << 16)

typedef struct {
    float *y;
    const float *w, *x;
    int64_t N, K, parts;
    int incx, trans_b;
    float alpha, beta;
} gemv_ctx;

// Parts [i0, i1) of y = alpha W x + beta y, part i the outputs [N*i/parts, N*(i+1)/parts): rows of
// W (N, K) (trans_b) or columns of W (K, N). Each thread streams its own share of the weights.
static void gemv_part(void *vc, int64_t i0, int64_t i1) {
    const gemv_ctx *c = vc;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t j0 = c->N * i / c->parts, j1 = c->N * (i + 1) / c->parts;
        if (j1 <= j0) continue;
        if (c->trans_b)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(j1 - j0), (int)c->K, c->alpha, c->w + j0 * c->K, (int)c->K, c->x,
                        c->incx, c->beta, c->y + j0, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)c->K, (int)(j1 - j0), c->alpha, c->w + j0, (int)c->N, c->x,
                        c->incx, c->beta, c->y + j0, 1);
    }
}

void zf_gemm_forward(float *out, const float *a, const float *b, const float *c, int64_t c_rows, int64_t c_cols,
                     const zf_gemm_params *p, zf_pool *pool) {
    const int64_t M = p->M, N = p->N, K = p->K;
    if (M == 0 || N == 0) return;
    int use_c = c && p->beta != 0.0f;
    if (use_c) {
        // Written first so the GEMM accumulates onto it (beta 1).
        for (int64_t i = 0; i < M; i++) {
            const float *cr = c + (c_rows == 1 ? 0 : i) * c_cols;
            float *o = out + i * N;
            if (c_cols == 1)
                for (int64_t j = 0; j < N; j++) o[j] = p->beta * cr[0];
            else
                for (int64_t j = 0; j < N; j++) o[j] = p->beta * cr[j];
        }
    }
    if (K == 0) {
        if (!use_c) memset(out, 0, (size_t)(M * N) * sizeof(float));
        return;
    }
    if (M <= 2) {
        // A fully connected layer at batch 1 or 2: one matrix-vector product per row. OpenBLAS's sgemm
        // packs the whole weight matrix first (ZFNet's fc6: 151 MB), which costs 3x the product itself.
        for (int64_t i = 0; i < M; i++) {
            const float *x = p->trans_a ? a + i : a + i * K;
            int incx = p->trans_a ? (int)M : 1;
            zf_pool *gp = N * K < GEMV_PAR_MIN ? NULL : pool;
            gemv_ctx gc = {out + i * N, b, x, N, K, zf_pool_threads(gp), incx, p->trans_b, p->alpha, use_c ? 1.0f : 0.0f};
            zf_parallel_for(gp, gc.parts, gemv_part, &gc);
        }
        return;
    }
    zf_sgemm(pool, p->trans_a, p->trans_b, (int)M, (int)N, (int)K, p->alpha, a, p->trans_a ? (int)M : (int)K, b,
             p->trans_b ? (int)K : (int)N, use_c ? 1.0f : 0.0f, out, (int)N);
}

static int gemm_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_gemm_params *p = params;
    int64_t ta = 0, tb = 0;
    if (zf_onnx_attr_float(&p->alpha, n, "alpha", 1.0f, err) || zf_onnx_attr_float(&p->beta, n, "beta", 1.0f, err) ||
        zf_onnx_attr_int(&ta, n, "transA", 0, err) || zf_onnx_attr_int(&tb, n, "transB", 0, err))
        return err ? err->code : ZF_ERR_INPUT;
    p->trans_a = ta != 0;
    p->trans_b = tb != 0;
    return 0;
}

static int gemm_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_gemm_params *p = n->params;
    const zf_tensor *a = zf_cu_in(n, v, 0), *b = zf_cu_in(n, v, 1), *c = zf_cu_in(n, v, 2);
    if (zf_cu_need_f32(a, "A", 2, 2, err) || zf_cu_need_f32(b, "B", 2, 2, err)) return err ? err->code : ZF_ERR_INPUT;
    p->M = p->trans_a ? a->dims[1] : a->dims[0];
    p->K = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0];
    p->N = p->trans_b ? b->dims[0] : b->dims[1];
    if (kb != p->K)
        return zf_fail(err, ZF_ERR_INPUT, "A%s gives K = %lld but B%s gives K = %lld", p->trans_a ? "^T" : "",
                       (long long)p->K, p->trans_b ? "^T" : "", (long long)kb);
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "matrix dimensions exceed the BLAS limit of 2^31-1");
    p->c_rows = p->c_cols = 0;
    if (c) {
        if (zf_cu_need_f32(c, "C", 0, 2, err)) return err ? err->code : ZF_ERR_INPUT;
        int64_t cr = c->ndim == 2 ? c->dims[0] : 1, cc = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if ((cr != 1 && cr != p->M) || (cc != 1 && cc != p->N)) {
            char s[128];
            return zf_fail(err, ZF_ERR_INPUT, "C %s cannot be broadcast to (%lld,%lld)",
                           zf_shape_str(s, sizeof s, c->ndim, c->dims), (long long)p->M, (long long)p->N);
        }
        p->c_rows = cr;
        p->c_cols = cc;
    }
    int64_t d[2] = {p->M, p->N};
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, 2, d);
    n->scratch_bytes = 0;
    return 0;
}

static int gemm_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_gemm_params *p = n->params;
    const zf_tensor *c = zf_cu_in(n, v, 2);
    zf_gemm_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)),
                    c ? zf_f32(c) : NULL, p->c_rows, p->c_cols, p, ex->pool);
    return 0;
}

static void gemm_rf(const zf_node *n, zf_value *v) { zf_rf_global(&v[n->out[0]].rf, &v[n->in[0]].rf); }

static int64_t gemm_flops(const zf_node *n, const zf_value *v) {
    const zf_gemm_params *p = n->params;
    return 2 * p->M * p->N * p->K;
}

// --- projection (core/project.h, ops/proj.h), every rule: Y = alpha op(A) op(B) + beta C ------------
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
            zf_sgemm(a->pool, 0, !p->trans_b, R, (int)K, Nc, alpha, dy,
                     (int)N, p->trans_b ? B + c0 * K : B + c0, p->trans_b ? (int)K : (int)N, 1.0f, dA + r0 * K,
                     (int)K);
        else               // dA (K, M)[:, r0:r1] += alpha op(B)[:, c0:c1] (K, Nc) dY_sub^T (Nc, R)
            zf_sgemm(a->pool, p->trans_b, 1, (int)K, R, Nc, alpha,
                     p->trans_b ? B + c0 * K : B + c0, p->trans_b ? (int)K : (int)N, dy, (int)N, 1.0f, dA + r0,
                     (int)M);
    }
    if (a->in[1].on) {
        float *dB = a->in[1].g;
        if (!p->trans_b)   // dB (K, N)[:, c0:c1] += alpha op(A)[r0:r1, :]^T (K, R) dY_sub (R, Nc)
            zf_sgemm(a->pool, !p->trans_a, 0, (int)K, Nc, R, alpha,
                     p->trans_a ? A + r0 : A + r0 * K, p->trans_a ? (int)M : (int)K, dy, (int)N, 1.0f, dB + c0,
                     (int)N);
        else               // dB (N, K)[c0:c1, :] += alpha dY_sub^T (Nc, R) op(A)[r0:r1, :] (R, K)
            zf_sgemm(a->pool, 1, p->trans_a, Nc, (int)K, R, alpha, dy,
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

// --- backward (training, core/train.h): Y = alpha op(A) op(B) + beta C gives
// d op(A) = alpha dY op(B)^T (M,K), d op(B) = alpha op(A)^T dY (K,N) (a transposed operand gets the
// transposed product), dC = beta dY summed over the axes C is broadcast along ---------------------

void zf_gemm_backward(float *da, float *db, float *dc, const float *dy, const float *a, const float *b, int64_t c_rows,
                      int64_t c_cols, const zf_gemm_params *p, zf_pool *pool) {
    const int M = (int)p->M, N = (int)p->N, K = (int)p->K;
    if (M == 0 || N == 0) return;
    if (da && K) {
        if (!p->trans_a)   // dA (M,K) += alpha dY (M,N) op(B)^T (N,K)
            zf_sgemm(pool, 0, !p->trans_b, M, K, N, p->alpha, dy, N,
                     b, p->trans_b ? K : N, 1.0f, da, K);
        else               // dA (K,M) += alpha op(B) (K,N) dY^T (N,M)
            zf_sgemm(pool, p->trans_b, 1, K, M, N, p->alpha, b,
                     p->trans_b ? K : N, dy, N, 1.0f, da, M);
    }
    if (db && K) {
        if (!p->trans_b)   // dB (K,N) += alpha op(A)^T (K,M) dY (M,N)
            zf_sgemm(pool, !p->trans_a, 0, K, N, M, p->alpha, a,
                     p->trans_a ? M : K, dy, N, 1.0f, db, N);
        else               // dB (N,K) += alpha dY^T (N,M) op(A) (M,K)
            zf_sgemm(pool, 1, p->trans_a, N, K, M, p->alpha, dy, N,
                     a, p->trans_a ? M : K, 1.0f, db, K);
    }
    if (dc && p->beta != 0.0f)
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

static int gemm_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_gemm_params *p = n->params;
    const float *dy = zf_grad_out(grad, n, 0);
    if (!dy) return 0;
    zf_gemm_backward(zf_grad_in(grad, n, 0), zf_grad_in(grad, n, 1), zf_grad_in(grad, n, 2), dy,
                     zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)), p->c_rows, p->c_cols, p, ex->pool);
    return 0;
}

const zf_op zf_op_gemm = {
    .type = "Gemm",
    .params_size = sizeof(zf_gemm_params),
    .parse = gemm_parse,
    .shape = gemm_shape,
    .forward = gemm_forward,
    .rf = gemm_rf,
    .flops = gemm_flops,
    .box_back = gemm_box_back,
    .project = gemm_project,
    .backward = gemm_backward,
};
