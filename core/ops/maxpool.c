// maxpool.c: ONNX MaxPool with switches (see maxpool.h).
#include <math.h>
#include <string.h>
#include "maxpool.h"
#include "compute_util.h"
#include "proj.h"

int zf_maxpool_setup(zf_maxpool_params *p, int ndim, const int64_t *x, zf_error *err) {
    if (ndim < 3 || ndim > 2 + ZF_WINDOW_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "input X has rank %d, expected 3 to 5 (N,C,spatial...)", ndim);
    if (p->attrs.n_kernel != ndim - 2)
        return zf_fail(err, ZF_ERR_INPUT, "kernel_shape has %d values, expected %d", p->attrs.n_kernel, ndim - 2);
    if (zf_window_resolve(&p->win, &p->attrs, ndim - 2, x + 2, NULL, err)) return err ? err->code : ZF_ERR_INPUT;
    p->N = x[0];
    p->C = x[1];
    return 0;
}

typedef struct {
    float *out;
    int32_t *sw;
    int64_t *idx;
    const float *in;
    const zf_maxpool_params *p;
    zf_pool_geom g;
} mp_ctx;

static void mp_planes(void *vc, int64_t q0, int64_t q1) {
    const mp_ctx *c = vc;
    const zf_pool_geom *g = &c->g;
    const int64_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * in_plane;
        float *y = c->out + q * out_plane;
        int32_t *sw = c->sw ? c->sw + q * out_plane : NULL;
        int64_t *ix = c->idx ? c->idx + q * out_plane : NULL;
        int64_t o = 0;
        for (int64_t od = 0; od < g->out[0]; od++) {
            int64_t d_lo, d_hi, d0 = od * g->s[0] - g->pb[0];
            zf_pool_axis_range(&d_lo, &d_hi, d0, g, 0);
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                int64_t h_lo, h_hi, h0 = oh * g->s[1] - g->pb[1];
                zf_pool_axis_range(&h_lo, &h_hi, h0, g, 1);
                for (int64_t ow = 0; ow < g->out[2]; ow++, o++) {
                    int64_t w_lo, w_hi, w0 = ow * g->s[2] - g->pb[2];
                    zf_pool_axis_range(&w_lo, &w_hi, w0, g, 2);
                    float best = -INFINITY;
                    int64_t pos = -1;
                    for (int64_t kd = d_lo; kd < d_hi; kd++) {
                        int64_t id = d0 + kd * g->d[0];
                        for (int64_t kh = h_lo; kh < h_hi; kh++) {
                            int64_t base = (id * g->in[1] + h0 + kh * g->d[1]) * g->in[2];
                            for (int64_t kw = w_lo; kw < w_hi; kw++) {
                                int64_t at = base + w0 + kw * g->d[2];
                                float v = x[at];
                                // PyTorch's rule: strictly greater (first maximum wins), NaN wins.
                                if (pos < 0 || v > best || isnan(v)) {
                                    best = v;
                                    pos = at;
                                }
                            }
                        }
                    }
                    y[o] = best;
                    if (sw) sw[o] = (int32_t)pos;
                    if (ix) {
                        int64_t flat = pos;
                        if (pos >= 0 && c->p->storage_order) {
                            // Column-major inside the plane: d + D*(h + H*w).
                            int64_t pw = pos % g->in[2], ph = pos / g->in[2] % g->in[1], pd = pos / g->in[2] / g->in[1];
                            flat = pd + g->in[0] * (ph + g->in[1] * pw);
                        }
                        ix[o] = pos < 0 ? -1 : q * in_plane + flat;
                    }
                }
            }
        }
    }
}

void zf_maxpool_forward(float *out, int32_t *switches, int64_t *indices, const float *in, const zf_maxpool_params *p,
                        zf_pool *pool) {
    mp_ctx c = {out, switches, indices, in, p, {{0}}};
    zf_pool_geom_from(&c.g, &p->win);
    int64_t planes = p->N * p->C;
    if (planes * c.g.out[0] * c.g.out[1] * c.g.out[2] * c.g.k[0] * c.g.k[1] * c.g.k[2] < (1 << 15)) pool = NULL;
    zf_parallel_for(pool, planes, mp_planes, &c);
}

// --- zf_op adapter --------------------------------------------------------------------------------

static int mp_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_maxpool_params *p = params;
    memset(p, 0, sizeof *p);
    if (zf_window_parse(&p->attrs, n, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!p->attrs.n_kernel) return zf_fail(err, ZF_ERR_INPUT, "kernel_shape is required");
    int64_t so = 0;
    if (zf_onnx_attr_int(&so, n, "storage_order", 0, err)) return err ? err->code : ZF_ERR_INPUT;
    if (so != 0 && so != 1) return zf_fail(err, ZF_ERR_INPUT, "storage_order must be 0 or 1, got %lld", (long long)so);
    p->storage_order = (int)so;
    return 0;
}

static int mp_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_maxpool_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 3, 2 + ZF_WINDOW_MAX, err)) return err ? err->code : ZF_ERR_INPUT;
    if (zf_maxpool_setup(p, x->ndim, x->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    int64_t d[ZF_MAX_DIMS] = {p->N, p->C};
    for (int i = 0; i < p->win.nsp; i++) d[2 + i] = p->win.out[i];
    long long pl = 1;
    for (int i = 0; i < p->win.nsp; i++) pl *= p->win.in[i];
    if (pl > INT32_MAX) return zf_fail(err, ZF_ERR_INPUT, "input plane of %lld elements is too large for switches", pl);
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, d);
    zf_tensor *ind = zf_cu_out(n, v, 1);
    if (ind) zf_cu_set(ind, ZF_I64, x->ndim, d);
    n->scratch_bytes = 0;
    return 0;
}

static int mp_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_tensor *ind = zf_cu_out(n, v, 1);
    zf_maxpool_forward(zf_f32(zf_cu_out(n, v, 0)), n->switches, ind ? zf_i64(ind) : NULL, zf_f32(zf_cu_in(n, v, 0)),
                       n->params, ex->pool);
    return 0;
}

static void mp_rf(const zf_node *n, zf_value *v) {
    const zf_maxpool_params *p = n->params;
    zf_pool_rf(&v[n->out[0]].rf, &v[n->in[0]].rf, &p->win);
    if (n->n_out > 1 && n->out[1] >= 0) v[n->out[1]].rf.valid = 0;
}

// One comparison per window tap.
static int64_t mp_flops(const zf_node *n, const zf_value *v) {
    const zf_maxpool_params *p = n->params;
    int64_t taps = 1;
    for (int a = 0; a < p->win.nsp; a++) taps *= p->win.k[a];
    return zf_tensor_numel(&v[n->out[0]].t) * taps;
}

// --- projection (core/project.h, ops/proj.h): unpool through the switches (Zeiler & Fergus
// sec. 2.1), every rule --------------------------------------------------------------------------

static void mp_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_maxpool_params *p = n->params;
    zf_proj_box_pool(a, &p->win);
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

// --- backward (training, core/train.h): the gradient goes where the switch says, the same routing
// as the deconvnet's unpooling ------------------------------------------------------------------------

typedef struct {
    float *dx;
    const float *dy;
    const int32_t *sw;
    int64_t in_plane, out_plane;
} mpb_ctx;

static void mpb_planes(void *vc, int64_t q0, int64_t q1) {
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
    zf_parallel_for(planes * c.out_plane < (1 << 15) ? NULL : pool, planes, mpb_planes, &c);
}

static int mp_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    if (!n->switches) return zf_fail(err, ZF_ERR_RUNTIME, "internal error: no switches recorded");
    zf_maxpool_backward(dx, dy, n->switches, n->params, ex->pool);
    return 0;
}

const zf_op zf_op_maxpool = {
    .type = "MaxPool",
    .params_size = sizeof(zf_maxpool_params),
    .has_switches = 1,
    .parse = mp_parse,
    .shape = mp_shape,
    .forward = mp_forward,
    .rf = mp_rf,
    .flops = mp_flops,
    .box_back = mp_box_back,
    .project = mp_project,
    .backward = mp_backward,
};
