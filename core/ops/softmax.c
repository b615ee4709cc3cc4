// softmax.c: Softmax and LogSoftmax (both opset semantics, see softmax.h).
#include <math.h>
#include <string.h>
#include "softmax.h"
#include "op_util.h"
#include "proj.h"
#include "../onnx/onnx.h"

// One lane: the n values x[0], x[inner], ..., x[(n-1)*inner]. Shifting by the max keeps every
// exponent <= 0, so nothing overflows (test_softmax_large_number feeds 10000).
static void softmax_lane(float *out, const float *x, int64_t n, int64_t inner, int take_log) {
    float m = -INFINITY;
    for (int64_t k = 0; k < n; k++)
        if (x[k * inner] > m) m = x[k * inner];
    if (isinf(m)) m = 0.0f;         // all -inf (or a +inf): no finite shift exists; let IEEE decide
    double sum = 0.0;
    if (take_log) {
        for (int64_t k = 0; k < n; k++) sum += exp((double)x[k * inner] - m);
        float lse = (float)log(sum);   // log of the shifted sum
        for (int64_t k = 0; k < n; k++) out[k * inner] = (x[k * inner] - m) - lse;
    } else {
        for (int64_t k = 0; k < n; k++) {
            float e = expf(x[k * inner] - m);
            out[k * inner] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int64_t k = 0; k < n; k++) out[k * inner] *= inv;
    }
}

typedef struct softmax_ctx {
    float *out;
    const float *x;
    int64_t n, inner;
    int log;
} softmax_ctx;

// Lanes [begin, end) of outer*inner.
static void softmax_body(void *vctx, int64_t begin, int64_t end) {
    const softmax_ctx *c = vctx;
    for (int64_t l = begin; l < end; l++) {
        int64_t o = l / c->inner, i = l % c->inner;
        int64_t off = o * c->n * c->inner + i;
        softmax_lane(c->out + off, c->x + off, c->n, c->inner, c->log);
    }
}

// x (outer, n, inner) -> out (outer, n, inner)
void zf_softmax_f32(float *out, const float *x, int64_t outer, int64_t n, int64_t inner, int take_log) {
    softmax_ctx c = {out, x, n, inner, take_log};
    softmax_body(&c, 0, outer * inner);
}

// --- the zf_op adapters -------------------------------------------------------------------------

static int parse_common(zf_softmax_params *p, const zf_onnx_node *n, int64_t opset, int is_log, zf_error *err) {
    p->log = is_log;
    p->coerce_2d = opset > 0 && opset < 13;
    return zf_onnx_attr_int(&p->axis, n, "axis", p->coerce_2d ? 1 : -1, err);
}
static int softmax_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    return parse_common(params, n, opset, 0, err);
}
static int logsoftmax_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    return parse_common(params, n, opset, 1, err);
}

// (outer, n, inner) view of x for the params' semantics.
static int softmax_view(int64_t *outer, int64_t *len, int64_t *inner, const zf_softmax_params *p, const zf_tensor *x,
                        zf_error *err) {
    int64_t axis = p->axis;
    // A scalar has one element along an implicit axis; accept axis 0/-1 for it.
    int r = x->ndim ? x->ndim : 1;
    if (zf_axis_normalize(&axis, r, "axis", err)) return err->code;
    *outer = 1; *len = 1; *inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < axis) *outer *= x->dims[i];
        else if (i == axis || p->coerce_2d) *len *= x->dims[i];
        else *inner *= x->dims[i];
    }
    return 0;
}

static int softmax_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_softmax_params *p = n->params;
    if (!zf_has_input(n, 0) || n->n_out < 1 || n->out[0] < 0)
        return zf_fail(err, ZF_ERR_INPUT, "needs one input and one output");
    const zf_tensor *x = &v[n->in[0]].t;
    if (x->dtype != ZF_F32) return zf_fail(err, ZF_ERR_INPUT, "input must be float, got an int64 tensor");
    int64_t outer, len, inner;
    if (softmax_view(&outer, &len, &inner, p, x, err)) return err->code;
    zf_tensor *y = &v[n->out[0]].t;
    y->dtype = ZF_F32;
    y->ndim = x->ndim;
    memcpy(y->dims, x->dims, sizeof y->dims);
    return 0;
}

static int softmax_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_softmax_params *p = n->params;
    const zf_tensor *x = &v[n->in[0]].t;
    int64_t outer, len, inner;
    if (softmax_view(&outer, &len, &inner, p, x, err)) return err->code;
    softmax_ctx c = {zf_f32(&v[n->out[0]].t), zf_f32(x), len, inner, p->log};
    // Each lane does ~3n work: weigh the parallel threshold by it.
    if (ex && ex->pool && outer * inner * len >= ZF_PARALLEL_MIN && outer * inner > 1)
        zf_parallel_for(ex->pool, outer * inner, softmax_body, &c);
    else
        softmax_body(&c, 0, outer * inner);
    return 0;
}

// Normalizing along a spatial axis mixes every position: the output is global. Along channels
// (or a (N, classes) tensor) each unit keeps its position.
static void softmax_rf(const zf_node *n, zf_value *v) {
    const zf_softmax_params *p = n->params;
    const zf_value *x = &v[n->in[0]];
    zf_rf *out = &v[n->out[0]].rf;
    *out = x->rf;
    if (!out->valid || x->t.ndim < 2) return;
    int64_t axis = p->axis < 0 ? p->axis + x->t.ndim : p->axis;
    if (axis >= x->t.ndim - 2 || (p->coerce_2d && x->t.ndim > 2)) out->global = 1;
}

// Projection (every rule): the gradient. Softmax: dx_k = y_k (g_k - sum_i g_i y_i); LogSoftmax:
// dx_k = g_k - exp(y_k) sum_i g_i, along each lane. A lane mixes its whole normalized axis (axes
// from `axis` on before opset 13), so the box spans those axes; the others keep the output's box.
static int softmax_axes(int64_t *first, int64_t *last, const zf_softmax_params *p, const zf_tensor *x) {
    int64_t axis = p->axis;
    if (zf_axis_normalize(&axis, x->ndim ? x->ndim : 1, "axis", NULL)) return 1;
    *first = axis;
    *last = p->coerce_2d ? x->ndim - 1 : axis;
    return 0;
}

static void softmax_box_back(const zf_node *n, zf_proj_args *a) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    int64_t f, l;
    if (!x->on) return;
    if (!y->on || softmax_axes(&f, &l, n->params, x->t)) {
        x->on = 0;
        return;
    }
    x->box = y->box;
    for (int64_t d = f; d <= l && d < x->t->ndim; d++) {
        x->box.lo[d] = 0;
        x->box.hi[d] = x->t->dims[d];
    }
}

static int softmax_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_softmax_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    if (!x->on || !a->out[0].on) return 0;
    zf_proj_out_full(&a->out[0]);   // lanes read every element of their axis
    int64_t outer, len, inner, f, l;
    if (softmax_view(&outer, &len, &inner, p, x->t, err)) return err->code;
    if (softmax_axes(&f, &l, p, x->t)) return zf_fail(err, ZF_ERR_INPUT, "bad axis");
    // One iteration element per lane: the box with the normalized axes collapsed to their first index.
    zf_box lanes = x->box;
    for (int64_t d = f; d <= l && d < x->t->ndim; d++) lanes.hi[d] = 1;
    const float *y = zf_f32(a->out[0].t), *g = a->out[0].g;
    zf_box_iter it;
    for (zf_box_iter_begin(&it, x->t, &lanes); !it.done; zf_box_iter_next(&it))
        for (int64_t e = 0; e < it.len; e++) {
            int64_t off = it.off + e;
            double s = 0.0;
            for (int64_t k = 0; k < len; k++)
                s += p->log ? (double)g[off + k * inner] : (double)g[off + k * inner] * y[off + k * inner];
            for (int64_t k = 0; k < len; k++) {
                int64_t i = off + k * inner;
                x->g[i] += p->log ? (float)(g[i] - exp((double)y[i]) * s) : (float)(y[i] * (g[i] - s));
            }
        }
    return 0;
}

// --- backward (training, core/train.h) ------------------------------------------------------------

void zf_softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner,
                         int take_log) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const int64_t off = o * n * inner + i;
            double s = 0.0;
            for (int64_t k = 0; k < n; k++)
                s += take_log ? (double)dy[off + k * inner] : (double)dy[off + k * inner] * y[off + k * inner];
            for (int64_t k = 0; k < n; k++) {
                const int64_t j = off + k * inner;
                dx[j] += take_log ? (float)(dy[j] - exp((double)y[j]) * s) : (float)(y[j] * (dy[j] - s));
            }
        }
}

static int softmax_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_softmax_params *p = n->params;
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    const zf_tensor *y = &v[n->out[0]].t;
    int64_t outer, len, inner;
    if (softmax_view(&outer, &len, &inner, p, y, err)) return err->code;
    zf_softmax_backward(dx, dy, zf_f32(y), outer, len, inner, p->log);
    return 0;
}

const zf_op zf_op_softmax = {.type = "Softmax", .params_size = sizeof(zf_softmax_params), .parse = softmax_parse,
                .shape = softmax_shape, .forward = softmax_forward, .rf = softmax_rf,
                .box_back = softmax_box_back, .project = softmax_project,
                .backward = softmax_backward};
const zf_op zf_op_logsoftmax = {.type = "LogSoftmax", .params_size = sizeof(zf_softmax_params),
                .parse = logsoftmax_parse, .shape = softmax_shape, .forward = softmax_forward, .rf = softmax_rf,
                .box_back = softmax_box_back, .project = softmax_project,
                .backward = softmax_backward};
