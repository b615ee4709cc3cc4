// globalpool.c: GlobalAveragePool, GlobalMaxPool (see globalpool.h).
#include <math.h>
#include "globalpool.h"
#include "compute_util.h"
#include "proj.h"

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

// --- projection (core/project.h, ops/proj.h), every rule: the average spreads its signal over the
// plane, the maximum sends it to the position it took --------------------------------------------

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

// --- backward (training, core/train.h) --------------------------------------------------------------

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
        int64_t at = 0;
        for (int64_t i = 1; i < c->plane; i++)
            if (x[i] > x[at] || (isnan(x[i]) && !isnan(x[at]))) at = i;
        c->dx[q * c->plane + at] += c->dy[q];
    }
}

void zf_global_avgpool_backward(float *dx, const float *dy, int64_t planes, int64_t plane, zf_pool *pool) {
    if (plane <= 0) return;
    gpb_ctx c = {dx, dy, NULL, plane};
    zf_parallel_for(planes * plane < (1 << 15) ? NULL : pool, planes, gavgb_range, &c);
}

void zf_global_maxpool_backward(float *dx, const float *dy, const float *in, int64_t planes, int64_t plane,
                                zf_pool *pool) {
    if (plane <= 0) return;
    gpb_ctx c = {dx, dy, in, plane};
    zf_parallel_for(planes * plane < (1 << 15) ? NULL : pool, planes, gmaxb_range, &c);
}

static int gavg_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    int64_t planes, plane;
    gp_split(zf_cu_in(n, v, 0), &planes, &plane);
    zf_global_avgpool_backward(dx, dy, planes, plane, ex->pool);
    return 0;
}

static int gmax_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    int64_t planes, plane;
    gp_split(x, &planes, &plane);
    zf_global_maxpool_backward(dx, dy, zf_f32(x), planes, plane, ex->pool);
    return 0;
}

const zf_op zf_op_global_averagepool = {
    .type = "GlobalAveragePool",
    .shape = gp_shape,
    .forward = gavg_forward,
    .rf = gp_rf,
    .box_back = gp_box_back,
    .project = gavg_project,
    .backward = gavg_backward,
};

const zf_op zf_op_global_maxpool = {
    .type = "GlobalMaxPool",
    .shape = gp_shape,
    .forward = gmax_forward,
    .rf = gp_rf,
    .box_back = gp_box_back,
    .project = gmax_project,
    .backward = gmax_backward,
};
