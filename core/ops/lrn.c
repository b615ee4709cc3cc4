// lrn.c: ONNX LRN across channels (see lrn.h).
#include <math.h>
#include <string.h>
#include "lrn.h"
#include "compute_util.h"

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
            memset(sum, 0, (size_t)nb * sizeof(float));
            for (int64_t k = lo; k <= hi; k++) {
                const float *xk = c->in + (n * c->C + k) * c->plane + b0;
                for (int64_t i = 0; i < nb; i++) sum[i] += xk[i] * xk[i];
            }
            if (beta == 0.75f) {
                // t^-0.75 = 1 / sqrt(t * sqrt(t)): the AlexNet/ZFNet setting, without powf.
                for (int64_t i = 0; i < nb; i++) {
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

const zf_op zf_op_lrn = {
    .type = "LRN",
    .params_size = sizeof(zf_lrn_params),
    .parse = lrn_parse,
    .shape = lrn_shape,
    .forward = lrn_forward,
    .flops = lrn_flops,
};
