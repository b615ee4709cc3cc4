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

// Mean and (biased) variance of one channel over the batch and the plane, in double.
static void channel_stats(double *mean, double *var, const float *in, int64_t N, int64_t C, int64_t plane,
                          int64_t ch) {
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
    *mean = m;
    *var = cnt > 0 ? s2 / cnt : 0.0;
}

typedef struct {
    float *mean, *var, *dx, *dscale, *dbias;
    const float *in, *dy, *scale, *fmean, *fvar;
    int64_t N, C, plane;
    float eps;
    int batch;
} bnb_ctx;

static void stats_range(void *vc, int64_t c0, int64_t c1) {
    const bnb_ctx *c = vc;
    for (int64_t ch = c0; ch < c1; ch++) {
        double m, v;
        channel_stats(&m, &v, c->in, c->N, c->C, c->plane, ch);
        c->mean[ch] = (float)m;
        c->var[ch] = (float)v;
    }
}

void zf_batchnorm_stats(float *mean, float *var, const float *in, int64_t N, int64_t C, int64_t plane, zf_pool *pool) {
    bnb_ctx c = {.mean = mean, .var = var, .in = in, .N = N, .C = C, .plane = plane};
    zf_parallel_for(N * C * plane < (1 << 15) ? NULL : pool, C, stats_range, &c);
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
    // The batch's mean and variance (training_mode = 1, or a training pass: core/train.h).
    n->scratch_bytes = 2 * (size_t)x->dims[1] * sizeof(float);
    return 0;
}

static int bn_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t N = x->dims[0], C = x->dims[1], plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    const float *mean = zf_f32(zf_cu_in(n, v, 3)), *var = zf_f32(zf_cu_in(n, v, 4));
    if (p->training_mode || ex->train) {
        float *m = ex->scratch, *s = m + C;
        zf_batchnorm_stats(m, s, zf_f32(x), N, C, plane, ex->pool);
        mean = m;
        var = s;
        // A training pass also moves the running statistics toward the batch's, as PyTorch does
        // (the variance's unbiased estimate).
        float mo = ex->train ? ex->train->bn_momentum : 0.0f;
        if (mo > 0.0f) {
            float *rm = zf_f32(zf_cu_in(n, v, 3)), *rv = zf_f32(zf_cu_in(n, v, 4));
            double cnt = (double)(N * plane), unb = cnt > 1 ? cnt / (cnt - 1) : 1.0;
            for (int64_t c = 0; c < C; c++) {
                rm[c] = (1.0f - mo) * rm[c] + mo * m[c];
                rv[c] = (1.0f - mo) * rv[c] + mo * (float)(s[c] * unb);
            }
        }
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

// --- backward (training, core/train.h). With xh = (x - mean) istd and y = scale xh + B:
//   dB = sum dy, dscale = sum dy xh, and
//   fixed statistics: dx = scale istd dy
//   batch statistics: dx = scale istd (dy - dB/M - xh dscale/M), M = N * plane
// (the statistics' own dependence on x gives the two subtracted terms) ------------------------------

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
        sdyx *= istd;   // sum dy xh
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
    zf_parallel_for(N * C * plane < (1 << 15) ? NULL : pool, C, bnb_range, &c);
}

static int bn_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_batchnorm_params *p = n->params;
    const float *dy = zf_grad_out(grad, n, 0);
    if (!dy) return 0;
    if (zf_grad_in(grad, n, 3) || zf_grad_in(grad, n, 4))
        return zf_fail(err, ZF_ERR_INPUT, "the running mean and variance are statistics, not trainable");
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->dims[i];
    zf_batchnorm_backward(zf_grad_in(grad, n, 0), zf_grad_in(grad, n, 1), zf_grad_in(grad, n, 2), dy, zf_f32(x),
                          zf_f32(zf_cu_in(n, v, 1)), zf_f32(zf_cu_in(n, v, 3)), zf_f32(zf_cu_in(n, v, 4)), x->dims[0],
                          x->dims[1], plane, p->epsilon, p->training_mode || ex->train, ex->pool);
    return 0;
}

const zf_op zf_op_batchnorm = {
    .type = "BatchNormalization",
    .params_size = sizeof(zf_batchnorm_params),
    .parse = bn_parse,
    .shape = bn_shape,
    .forward = bn_forward,
    .project = bn_project,
    .backward = bn_backward,
};
