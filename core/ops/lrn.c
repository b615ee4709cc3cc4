// lrn.c: ONNX LRN across channels (see lrn.h).
#include <math.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include "lrn.h"
#include "compute_util.h"
#include "proj.h"

typedef struct {
    float *out;
    const float *in;
    int64_t C, plane;
    const zf_lrn_params *p;
} lrn_ctx;

// Block of the plane processed at once: the sums stay in L1.
#define LRN_BLOCK 512

static void lrn_range(void *vc, int64_t q0, int64_t q1) {
    const lrn_ctx *c = vc;
    const zf_lrn_params *p = c->p;
    const int64_t before = (p->size - 1) / 2, after = p->size - 1 - before;   // floor, ceil of (size-1)/2
    const float scale = p->alpha / (float)p->size, beta = p->beta, bias = p->bias;
    float sum[LRN_BLOCK];
    for (int64_t q = q0; q < q1; q++) {
        int64_t n = q / c->C, ch = q % c->C;
        int64_t lo = ch - before < 0 ? 0 : ch - before, hi = ch + after >= c->C ? c->C - 1 : ch + after;
        const float *x = c->in + q * c->plane;
        float *y = c->out + q * c->plane;
        for (int64_t b0 = 0; b0 < c->plane; b0 += LRN_BLOCK) {
            int64_t nb = c->plane - b0 < LRN_BLOCK ? c->plane - b0 : LRN_BLOCK;
            int64_t i0 = 0;
#if defined(__AVX__)
            const float *x0 = c->in + (n * c->C + lo) * c->plane + b0;
            // Eight positions at a time, the same operations in the same order as the scalar loops
            // below (separate multiply and add, IEEE sqrt and division): identical results.
            if (beta == 0.75f) {
                const __m256 vb = _mm256_set1_ps(bias), vs = _mm256_set1_ps(scale);
                for (; i0 + 8 <= nb; i0 += 8) {
                    __m256 s = _mm256_setzero_ps();
                    for (int64_t k = 0; k <= hi - lo; k++) {
                        __m256 v = _mm256_loadu_ps(x0 + k * c->plane + i0);
                        s = _mm256_add_ps(s, _mm256_mul_ps(v, v));
                    }
                    __m256 t = _mm256_add_ps(vb, _mm256_mul_ps(vs, s));
                    __m256 d = _mm256_sqrt_ps(_mm256_mul_ps(t, _mm256_sqrt_ps(t)));
                    _mm256_storeu_ps(y + b0 + i0, _mm256_div_ps(_mm256_loadu_ps(x + b0 + i0), d));
                }
            }
#endif
            memset(sum, 0, (size_t)nb * sizeof(float));
            for (int64_t k = lo; k <= hi; k++) {
                const float *xk = c->in + (n * c->C + k) * c->plane + b0;
                for (int64_t i = i0; i < nb; i++) sum[i] += xk[i] * xk[i];
            }
            if (beta == 0.75f) {
                // t^-0.75 = 1 / sqrt(t * sqrt(t)): the AlexNet/ZFNet setting, without powf.
                for (int64_t i = i0; i < nb; i++) {
                    float t = bias + scale * sum[i];
                    y[b0 + i] = x[b0 + i] / sqrtf(t * sqrtf(t));
                }
            } else {
                for (int64_t i = 0; i < nb; i++) y[b0 + i] = x[b0 + i] * powf(bias + scale * sum[i], -beta);
            }
        }
    }
}

void zf_lrn_forward(float *out, const float *in, int64_t N, int64_t C, int64_t plane, const zf_lrn_params *p,
                    zf_pool *pool) {
    lrn_ctx c = {out, in, C, plane, p};
    zf_parallel_for(N * C * plane * p->size < (1 << 15) ? NULL : pool, N * C, lrn_range, &c);
}

static int lrn_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_lrn_params *p = params;
    if (!zf_onnx_attr_find(n, "size")) return zf_fail(err, ZF_ERR_INPUT, "attribute size is required");
    if (zf_onnx_attr_int(&p->size, n, "size", 1, err) || zf_onnx_attr_float(&p->alpha, n, "alpha", 1e-4f, err) ||
        zf_onnx_attr_float(&p->beta, n, "beta", 0.75f, err) || zf_onnx_attr_float(&p->bias, n, "bias", 1.0f, err))
        return err ? err->code : ZF_ERR_INPUT;
    if (p->size < 1 || p->size > 1000000)
        return zf_fail(err, ZF_ERR_INPUT, "size must be >= 1, got %lld", (long long)p->size);
    return 0;
}

static int lrn_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 2, ZF_MAX_DIMS, err)) return err ? err->code : ZF_ERR_INPUT;
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, x->dims);
    n->scratch_bytes = 0;
    return 0;
}

static int lrn_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    zf_lrn_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(x), x->dims[0], x->dims[1], plane, n->params, ex->pool);
    return 0;
}

// A multiply-add per channel in the window, plus the power and division.
static int64_t lrn_flops(const zf_node *n, const zf_value *v) {
    const zf_lrn_params *p = n->params;
    return zf_tensor_numel(&v[n->out[0]].t) * (2 * p->size + 4);
}

// --- projection (core/project.h, ops/proj.h) -------------------------------------------------
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
    if (a->rule == ZF_RULE_DECONVNET) {
        x->overwrite = 1;   // zf_proj_identity stores over a fresh buffer: no zeroing first
        x->alias = 1;       // or the walker hands x the output's buffer (ops/proj.h)
        return;
    }
    const int64_t before = (p->size - 1) / 2, after = p->size - 1 - before, C = x->t->dims[1];
    x->box.lo[1] = y->box.lo[1] - before < 0 ? 0 : y->box.lo[1] - before;
    x->box.hi[1] = y->box.hi[1] + after > C ? C : y->box.hi[1] + after;
}

// Scratch: D^-beta and T = g x D^(-beta-1) for every channel of the output's box, one row of
// positions (the last axis) at a time.
static size_t lrn_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_tensor *x = &v[n->in[0]].t;
    if (x->ndim < 2) return 0;
    int64_t row = x->ndim > 2 ? x->dims[x->ndim - 1] : 1;
    return (size_t)(2 * x->dims[1] * row + 16);
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
    const float scale = p->alpha / (float)p->size, beta = p->beta, k2 = -2.0f * scale * beta;
    const float *xf = zf_f32(x->t);
    // Rows of positions (every axis after the channel axis), each with all channels of the boxes.
    zf_box sp = x->box;
    sp.lo[1] = 0;
    sp.hi[1] = 1;
    zf_box_iter it;
    for (zf_box_iter_begin(&it, x->t, &sp); !it.done; zf_box_iter_next(&it)) {
        const int64_t L = it.len, o = it.off;   // o: channel 0 of the row's first position
        float *dpow = a->scratch, *T = dpow + (c1 - c0) * L;
        for (int64_t c = c0; c < c1; c++) {
            int64_t lo = c - before < 0 ? 0 : c - before, hi = c + after >= C ? C - 1 : c + after;
            float *dp = dpow + (c - c0) * L, *t = T + (c - c0) * L;
            const float *xc = xf + o + c * plane, *gc = y->g + o + c * plane;
            for (int64_t i = 0; i < L; i++) dp[i] = 0.0f;
            for (int64_t k = lo; k <= hi; k++) {
                const float *xk = xf + o + k * plane;
                for (int64_t i = 0; i < L; i++) dp[i] += xk[i] * xk[i];
            }
            for (int64_t i = 0; i < L; i++) {
                float D = p->bias + scale * dp[i];
                // D^-0.75 = 1 / sqrt(D sqrt(D)), as the forward pass computes it
                float Dp = beta == 0.75f ? 1.0f / sqrtf(D * sqrtf(D)) : powf(D, -beta);
                dp[i] = Dp;
                t[i] = gc[i] * xc[i] * Dp / D;
            }
        }
        for (int64_t j = j0; j < j1; j++) {
            // the T_c of the outputs whose window contains j: c in [j - after, j + before] within [c0, c1)
            int64_t lo = j - after > c0 ? j - after : c0, hi = j + before + 1 < c1 ? j + before + 1 : c1;
            float *gj = x->g + o + j * plane;
            const float *xj = xf + o + j * plane;
            for (int64_t c = lo; c < hi; c++) {
                const float *t = T + (c - c0) * L;
                for (int64_t i = 0; i < L; i++) gj[i] += k2 * xj[i] * t[i];
            }
            if (j >= c0 && j < c1) {
                const float *dp = dpow + (j - c0) * L, *gy = y->g + o + j * plane;
                for (int64_t i = 0; i < L; i++) gj[i] += gy[i] * dp[i];
            }
        }
    }
    return 0;
}

// --- backward (training, core/train.h): the gradient above for every channel, a block of positions
// at a time: first D^-beta and T_c = dy_c x_c D_c^(-beta-1) for every channel of the block (on the
// stack: 2 * C * block floats), then each dx_j from the T of the outputs whose window holds j ------

#define LRN_BACK_FLOATS 16384

typedef struct {
    float *dx;
    const float *dy, *in;
    int64_t N, C, plane, L, blocks;
    const zf_lrn_params *p;
} lrnb_ctx;

static void lrnb_range(void *vc, int64_t i0, int64_t i1) {
    const lrnb_ctx *c = vc;
    const zf_lrn_params *p = c->p;
    const int64_t C = c->C, plane = c->plane, before = (p->size - 1) / 2, after = p->size - 1 - before;
    const float scale = p->alpha / (float)p->size, beta = p->beta, k2 = -2.0f * scale * beta;
    float buf[LRN_BACK_FLOATS];
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n = it / c->blocks, b0 = it % c->blocks * c->L;
        const int64_t L = plane - b0 < c->L ? plane - b0 : c->L;
        float *dp = buf, *T = buf + C * L;
        const float *x = c->in + n * C * plane + b0, *g = c->dy + n * C * plane + b0;
        float *dx = c->dx + n * C * plane + b0;
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t lo = ch - before < 0 ? 0 : ch - before, hi = ch + after >= C ? C - 1 : ch + after;
            float *d = dp + ch * L, *t = T + ch * L;
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
                t[i] = gc[i] * xc[i] * Dp / D;
            }
        }
        for (int64_t j = 0; j < C; j++) {
            // the outputs c whose window holds j: c in [j - after, j + before]
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

void zf_lrn_backward(float *dx, const float *dy, const float *in, int64_t N, int64_t C, int64_t plane,
                     const zf_lrn_params *p, zf_pool *pool) {
    int64_t L = LRN_BACK_FLOATS / (2 * (C > 0 ? C : 1));
    if (L > 64) L = 64;
    if (L < 1 || plane < 1) return;
    lrnb_ctx c = {dx, dy, in, N, C, plane, L, (plane + L - 1) / L, p};
    zf_parallel_for(N * C * plane * p->size < (1 << 15) ? NULL : pool, N * c.blocks, lrnb_range, &c);
}

static int lrn_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (x->dims[1] > ZF_LRN_BACKWARD_MAX_C)
        return zf_fail(err, ZF_ERR_INPUT, "no backward rule for more than %d channels (got %lld)",
                       ZF_LRN_BACKWARD_MAX_C, (long long)x->dims[1]);
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    zf_lrn_backward(dx, dy, zf_f32(x), x->dims[0], x->dims[1], plane, n->params, ex->pool);
    return 0;
}

const zf_op zf_op_lrn = {
    .type = "LRN",
    .params_size = sizeof(zf_lrn_params),
    .parse = lrn_parse,
    .shape = lrn_shape,
    .forward = lrn_forward,
    .flops = lrn_flops,
    .box_back = lrn_box_back,
    .project = lrn_project,
    .proj_scratch = lrn_proj_scratch,
    .backward = lrn_backward,
};
