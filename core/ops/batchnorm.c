// batchnorm.c: ONNX BatchNormalization, inference (see batchnorm.h).
#include <math.h>
#include <string.h>
#include "batchnorm.h"
#include "compute_util.h"
#include "proj.h"

typedef struct {
    float *out;
    const float *in, *scale, *bias, *mean, *var;
    int64_t C, plane;
    float eps;
} bn_ctx;

static void bn_range(void *vc, int64_t q0, int64_t q1) {
    const bn_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        int64_t ch = q % c->C;
        // y = a*x + b with a = scale / sqrt(var + eps), b = B - a*mean (computed in double).
        double a = (double)c->scale[ch] / sqrt((double)c->var[ch] + (double)c->eps);
        float fa = (float)a, fb = (float)((double)c->bias[ch] - a * (double)c->mean[ch]);
        const float *x = c->in + q * c->plane;
        float *y = c->out + q * c->plane;
        for (int64_t i = 0; i < c->plane; i++) y[i] = fa * x[i] + fb;
    }
}

void zf_batchnorm_forward(float *out, const float *in, const float *scale, const float *bias, const float *mean,
                          const float *var, int64_t N, int64_t C, int64_t plane, const zf_batchnorm_params *p,
                          zf_pool *pool) {
    bn_ctx c = {out, in, scale, bias, mean, var, C, plane, p->epsilon};
    zf_parallel_for(N * C * plane < (1 << 15) ? NULL : pool, N * C, bn_range, &c);
}

// training_mode = 1: mean and (biased) variance of each channel over the batch and the plane.
static void batch_stats(float *mean, float *var, const float *in, int64_t N, int64_t C, int64_t plane) {
    for (int64_t ch = 0; ch < C; ch++) {
        double s = 0.0, s2 = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + ch) * plane;
            for (int64_t i = 0; i < plane; i++) s += x[i];
        }
        double cnt = (double)(N * plane), m = cnt > 0 ? s / cnt : 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + ch) * plane;
            for (int64_t i = 0; i < plane; i++) s2 += (x[i] - m) * (x[i] - m);
        }
        mean[ch] = (float)m;
        var[ch] = cnt > 0 ? (float)(s2 / cnt) : 0.0f;
    }
}

static int bn_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_batchnorm_params *p = params;
    int64_t tm = 0;
    if (zf_onnx_attr_float(&p->epsilon, n, "epsilon", 1e-5f, err) ||
        zf_onnx_attr_int(&tm, n, "training_mode", 0, err))
        return err ? err->code : ZF_ERR_INPUT;
    if (tm != 0 && tm != 1) return zf_fail(err, ZF_ERR_INPUT, "training_mode must be 0 or 1, got %lld", (long long)tm);
    p->training_mode = (int)tm;
    return 0;
}

static int bn_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 2, ZF_MAX_DIMS, err)) return err ? err->code : ZF_ERR_INPUT;
    static const char *names[4] = {"scale", "B", "input_mean", "input_var"};
    for (int i = 0; i < 4; i++) {
        const zf_tensor *t = zf_cu_in(n, v, 1 + i);
        if (zf_cu_need_f32(t, names[i], 1, 1, err)) return err ? err->code : ZF_ERR_INPUT;
        if (t->dims[0] != x->dims[1])
            return zf_fail(err, ZF_ERR_INPUT, "%s has %lld values but X has %lld channels", names[i],
                           (long long)t->dims[0], (long long)x->dims[1]);
    }
    for (int o = 1; o < n->n_out; o++)
        if (n->out[o] >= 0)
            return zf_fail(err, ZF_ERR_INPUT,
                           "training outputs (running mean/var) are not supported: only inference is");
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, x->dims);
    n->scratch_bytes = p->training_mode ? 2 * (size_t)x->dims[1] * sizeof(float) : 0;
    return 0;
}

static int bn_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t N = x->dims[0], C = x->dims[1], plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    const float *mean = zf_f32(zf_cu_in(n, v, 3)), *var = zf_f32(zf_cu_in(n, v, 4));
    if (p->training_mode) {
        float *m = ex->scratch, *s = m + C;
        batch_stats(m, s, zf_f32(x), N, C, plane);
        mean = m;
        var = s;
    }
    zf_batchnorm_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(x), zf_f32(zf_cu_in(n, v, 1)), zf_f32(zf_cu_in(n, v, 2)),
                         mean, var, N, C, plane, p, ex->pool);
    return 0;
}

// --- projection (core/project.h, ops/proj.h), every rule: the signal times the channel's
// scale / sqrt(var + eps); the input's box is the output's ------------------------------------------

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

const zf_op zf_op_batchnorm = {
    .type = "BatchNormalization",
    .params_size = sizeof(zf_batchnorm_params),
    .parse = bn_parse,
    .shape = bn_shape,
    .forward = bn_forward,
    .project = bn_project,
};
