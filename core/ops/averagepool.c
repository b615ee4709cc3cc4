// averagepool.c: ONNX AveragePool (see averagepool.h).
#include <string.h>
#include "averagepool.h"
#include "compute_util.h"
#include "proj.h"

int zf_averagepool_setup(zf_averagepool_params *p, int ndim, const int64_t *x, zf_error *err) {
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
    const float *in;
    int cip;
    zf_pool_geom g;
} ap_ctx;

// Taps of axis a inside the padded input [-pb, in + pe) when count_include_pad, else inside the input.
static int64_t count_taps(int64_t start, int cip, const zf_pool_geom *g, int a) {
    int64_t lo, hi;
    if (cip) zf_pool_taps(&lo, &hi, start, -g->pb[a], g->in[a] + g->pe[a], g, a);
    else zf_pool_axis_range(&lo, &hi, start, g, a);
    return hi - lo;
}

static void ap_planes(void *vc, int64_t q0, int64_t q1) {
    const ap_ctx *c = vc;
    const zf_pool_geom *g = &c->g;
    const int64_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * in_plane;
        float *y = c->out + q * out_plane;
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
                    float sum = 0.0f;
                    for (int64_t kd = d_lo; kd < d_hi; kd++) {
                        int64_t id = d0 + kd * g->d[0];
                        for (int64_t kh = h_lo; kh < h_hi; kh++) {
                            const float *row = x + (id * g->in[1] + h0 + kh * g->d[1]) * g->in[2] + w0;
                            for (int64_t kw = w_lo; kw < w_hi; kw++) sum += row[kw * g->d[2]];
                        }
                    }
                    // A window entirely in padding (count 0, count_include_pad 0) averages nothing: 0.
                    y[o] = count > 0 ? sum / (float)count : 0.0f;
                }
            }
        }
    }
}

void zf_averagepool_forward(float *out, const float *in, const zf_averagepool_params *p, zf_pool *pool) {
    ap_ctx c = {out, in, p->count_include_pad, {{0}}};
    zf_pool_geom_from(&c.g, &p->win);
    int64_t planes = p->N * p->C;
    if (planes * c.g.out[0] * c.g.out[1] * c.g.out[2] * c.g.k[0] * c.g.k[1] * c.g.k[2] < (1 << 15)) pool = NULL;
    zf_parallel_for(pool, planes, ap_planes, &c);
}

// --- zf_op adapter --------------------------------------------------------------------------------

static int ap_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_averagepool_params *p = params;
    memset(p, 0, sizeof *p);
    if (zf_window_parse(&p->attrs, n, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!p->attrs.n_kernel) return zf_fail(err, ZF_ERR_INPUT, "kernel_shape is required");
    int64_t cip = 0;
    if (zf_onnx_attr_int(&cip, n, "count_include_pad", 0, err)) return err ? err->code : ZF_ERR_INPUT;
    if (cip != 0 && cip != 1)
        return zf_fail(err, ZF_ERR_INPUT, "count_include_pad must be 0 or 1, got %lld", (long long)cip);
    p->count_include_pad = (int)cip;
    return 0;
}

static int ap_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_averagepool_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 3, 2 + ZF_WINDOW_MAX, err)) return err ? err->code : ZF_ERR_INPUT;
    if (zf_averagepool_setup(p, x->ndim, x->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    int64_t d[ZF_MAX_DIMS] = {p->N, p->C};
    for (int i = 0; i < p->win.nsp; i++) d[2 + i] = p->win.out[i];
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, d);
    n->scratch_bytes = 0;
    return 0;
}

static int ap_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_averagepool_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(zf_cu_in(n, v, 0)), n->params, ex->pool);
    return 0;
}

static void ap_rf(const zf_node *n, zf_value *v) {
    const zf_averagepool_params *p = n->params;
    zf_pool_rf(&v[n->out[0]].rf, &v[n->in[0]].rf, &p->win);
}

// One addition per window tap.
static int64_t ap_flops(const zf_node *n, const zf_value *v) {
    const zf_averagepool_params *p = n->params;
    int64_t taps = 1;
    for (int a = 0; a < p->win.nsp; a++) taps *= p->win.k[a];
    return zf_tensor_numel(&v[n->out[0]].t) * taps;
}

// --- projection (core/project.h, ops/proj.h): each output's signal spread evenly over the taps
// it averaged, every rule -------------------------------------------------------------------------

static void ap_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_averagepool_params *p = n->params;
    zf_proj_box_pool(a, &p->win);
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
            int64_t nd = count_taps(d0, p->count_include_pad, &g, 0);
            for (int64_t oh = lo[1]; oh < hi[1]; oh++) {
                int64_t h0 = oh * g.s[1] - g.pb[1], h_lo, h_hi;
                zf_pool_axis_range(&h_lo, &h_hi, h0, &g, 1);
                int64_t nh = count_taps(h0, p->count_include_pad, &g, 1);
                for (int64_t ow = lo[2]; ow < hi[2]; ow++) {
                    int64_t w0 = ow * g.s[2] - g.pb[2], w_lo, w_hi;
                    zf_pool_axis_range(&w_lo, &w_hi, w0, &g, 2);
                    int64_t count = nd * nh * count_taps(w0, p->count_include_pad, &g, 2);
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

// --- backward (training, core/train.h) --------------------------------------------------------------

typedef struct {
    float *dx;
    const float *dy;
    int cip;
    zf_pool_geom g;
} apb_ctx;

static void apb_planes(void *vc, int64_t q0, int64_t q1) {
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
    if (planes * c.g.out[0] * c.g.out[1] * c.g.out[2] * c.g.k[0] * c.g.k[1] * c.g.k[2] < (1 << 15)) pool = NULL;
    zf_parallel_for(pool, planes, apb_planes, &c);
}

static int ap_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (dy && dx) zf_averagepool_backward(dx, dy, n->params, ex->pool);
    return 0;
}

const zf_op zf_op_averagepool = {
    .type = "AveragePool",
    .params_size = sizeof(zf_averagepool_params),
    .parse = ap_parse,
    .shape = ap_shape,
    .forward = ap_forward,
    .rf = ap_rf,
    .flops = ap_flops,
    .box_back = ap_box_back,
    .project = ap_project,
    .backward = ap_backward,
};
