// globalpool.c: GlobalAveragePool, GlobalMaxPool (see globalpool.h).
#include <math.h>
#include "globalpool.h"
#include "compute_util.h"

typedef struct {
    float *out;
    const float *in;
    int64_t plane;
} gp_ctx;

static void gavg_range(void *vc, int64_t q0, int64_t q1) {
    const gp_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * c->plane;
        double sum = 0.0;   // planes can be large (e.g. 112x112): accumulate in double
        for (int64_t i = 0; i < c->plane; i++) sum += x[i];
        c->out[q] = c->plane ? (float)(sum / (double)c->plane) : 0.0f;
    }
}

static void gmax_range(void *vc, int64_t q0, int64_t q1) {
    const gp_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * c->plane;
        float m = -INFINITY;
        for (int64_t i = 0; i < c->plane; i++)
            if (x[i] > m || isnan(x[i])) m = x[i];
        c->out[q] = m;
    }
}

void zf_global_avgpool_forward(float *out, const float *in, int64_t planes, int64_t plane, zf_pool *pool) {
    gp_ctx c = {out, in, plane};
    zf_parallel_for(planes * plane < (1 << 15) ? NULL : pool, planes, gavg_range, &c);
}

void zf_global_maxpool_forward(float *out, const float *in, int64_t planes, int64_t plane, zf_pool *pool) {
    gp_ctx c = {out, in, plane};
    zf_parallel_for(planes * plane < (1 << 15) ? NULL : pool, planes, gmax_range, &c);
}

static int gp_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 3, ZF_MAX_DIMS, err)) return err ? err->code : ZF_ERR_INPUT;
    int64_t d[ZF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) d[i] = i < 2 ? x->dims[i] : 1;
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, d);
    n->scratch_bytes = 0;
    return 0;
}

static void gp_split(const zf_tensor *x, int64_t *planes, int64_t *plane) {
    *planes = x->dims[0] * x->dims[1];
    *plane = 1;
    for (int i = 2; i < x->ndim; i++) *plane *= x->dims[i];
}

static int gavg_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t planes, plane;
    gp_split(x, &planes, &plane);
    zf_global_avgpool_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(x), planes, plane, ex->pool);
    return 0;
}

static int gmax_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t planes, plane;
    gp_split(x, &planes, &plane);
    zf_global_maxpool_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(x), planes, plane, ex->pool);
    return 0;
}

static void gp_rf(const zf_node *n, zf_value *v) { zf_rf_global(&v[n->out[0]].rf, &v[n->in[0]].rf); }

const zf_op zf_op_global_averagepool = {
    .type = "GlobalAveragePool",
    .shape = gp_shape,
    .forward = gavg_forward,
    .rf = gp_rf,
};

const zf_op zf_op_global_maxpool = {
    .type = "GlobalMaxPool",
    .shape = gp_shape,
    .forward = gmax_forward,
    .rf = gp_rf,
};
