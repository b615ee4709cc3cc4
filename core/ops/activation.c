// activation.c: Relu, LeakyRelu, Sigmoid, Tanh, Clip, Sqrt, Exp, Dropout (inference), Identity.
#include <float.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>
#include "activation.h"
#include "op_util.h"
#include "proj.h"
#include "../onnx/onnx.h"
#include "../rng.h"

// --- kernels ------------------------------------------------------------------------------------

// x (n) -> out (n). Explicit vectors: at -O2 GCC leaves this loop scalar (out may alias x), about
// 1 ns per element on ZFNet's relu1. max(x, 0) with x first keeps NaN inputs as the scalar rule does
// (x > 0 ? x : 0 gives 0 for NaN; _mm256_max_ps(x, 0) returns its second operand, 0, for NaN).
void zf_relu_f32(float *out, const float *x, int64_t n) {
    int64_t i = 0;
#ifdef __AVX__
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
#endif
    for (; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// x (n) -> out (n)
void zf_relu_i64(int64_t *out, const int64_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
}

// x (n) -> out (n)
void zf_leakyrelu_f32(float *out, const float *x, int64_t n, float alpha) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

// x (n) -> out (n). Written so exp never overflows: exp(-|x|) <= 1.
void zf_sigmoid_f32(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            out[i] = e / (1.0f + e);
        }
    }
}

// x (n) -> out (n)
void zf_tanh_f32(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(x[i]);
}

// x (n) -> out (n). NaN passes through unchanged (neither comparison holds).
void zf_clip_f32(float *out, const float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

// x (n) -> out (n)
void zf_clip_i64(int64_t *out, const int64_t *x, int64_t n, int64_t lo, int64_t hi) {
    for (int64_t i = 0; i < n; i++) {
        int64_t v = x[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

// x (n) -> out (n)
void zf_sqrt_f32(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = sqrtf(x[i]);
}

// x (n) -> out (n)
void zf_exp_f32(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = expf(x[i]);
}

// --- the zf_op adapters -------------------------------------------------------------------------

typedef enum { U_RELU, U_LEAKYRELU, U_SIGMOID, U_TANH, U_CLIP, U_SQRT, U_EXP } unary_kind;

typedef struct unary_ctx {
    unary_kind kind;
    zf_dtype dtype;
    void *out;
    const void *in;
    float a, b;             // alpha, or clip bounds (float)
    int64_t lo, hi;         // clip bounds (int64)
} unary_ctx;

static void unary_body(void *vctx, int64_t begin, int64_t end) {
    const unary_ctx *c = vctx;
    int64_t n = end - begin;
    if (c->dtype == ZF_I64) {
        int64_t *o = (int64_t *)c->out + begin;
        const int64_t *x = (const int64_t *)c->in + begin;
        if (c->kind == U_RELU) zf_relu_i64(o, x, n);
        else zf_clip_i64(o, x, n, c->lo, c->hi);
        return;
    }
    float *o = (float *)c->out + begin;
    const float *x = (const float *)c->in + begin;
    switch (c->kind) {
    case U_RELU: zf_relu_f32(o, x, n); break;
    case U_LEAKYRELU: zf_leakyrelu_f32(o, x, n, c->a); break;
    case U_SIGMOID: zf_sigmoid_f32(o, x, n); break;
    case U_TANH: zf_tanh_f32(o, x, n); break;
    case U_CLIP: zf_clip_f32(o, x, n, c->a, c->b); break;
    case U_SQRT: zf_sqrt_f32(o, x, n); break;
    case U_EXP: zf_exp_f32(o, x, n); break;
    }
}

static int input0(const zf_tensor **x, const zf_node *n, const zf_value *v, const char *op, zf_error *err) {
    if (!zf_has_input(n, 0)) return zf_fail(err, ZF_ERR_INPUT, "input is missing");
    if (n->n_out < 1 || n->out[0] < 0) return zf_fail(err, ZF_ERR_INPUT, "output is missing");
    *x = &v[n->in[0]].t;
    return 0;
}

// Output 0 gets input 0's dtype and shape; `int_ok` says whether int64 is accepted.
static int same_shape(zf_node *n, zf_value *v, const char *op, int int_ok, zf_error *err) {
    const zf_tensor *x = NULL;
    if (input0(&x, n, v, op, err)) return err->code;
    if (x->dtype != ZF_F32 && !(int_ok && x->dtype == ZF_I64))
        return zf_fail(err, ZF_ERR_INPUT, "input must be float%s, got an int64 tensor", int_ok ? " or int64" : "");
    zf_tensor *y = &v[n->out[0]].t;
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    memcpy(y->dims, x->dims, sizeof y->dims);
    return 0;
}

static int run_unary(const zf_node *n, zf_value *v, const zf_exec *ex, unary_ctx *c) {
    const zf_tensor *x = &v[n->in[0]].t;
    c->dtype = x->dtype;
    c->in = x->data;
    c->out = v[n->out[0]].t.data;
    zf_exec_range(ex, zf_tensor_numel(x), unary_body, c);
    return 0;
}

// --- projection rules (core/project.h) ---------------------------------------------------------
// Zeiler & Fergus rectify the reconstruction at every ReLU whatever the forward sign (deconvnet);
// guided backpropagation keeps only positive signal where the forward input was positive; the
// gradient masks by the forward sign alone. LeakyRelu follows the same three ideas with its slope;
// Clip with min 0 (ReLU6) is treated as a rectifier; the smooth ops pass their derivative under
// every rule. The input's box is the output's (the default, elementwise box_back).

typedef struct unary_proj {
    unary_kind kind;
    zf_rule rule;
    float a, lo, hi;
} unary_proj;

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

// gi += the rectified go (deconvnet), where xi > 0 too (guided), or go where xi > 0 (gradient);
// gi = instead when fresh (gi holds nothing yet, not even zeros). 8 at a time by hand (-O2 leaves
// loops of unknown length scalar); the same values as the scalar form (zf_proj_relu_one, ops/proj.h):
// a lane is go or +0.

static void relu_row(float *gi, const float *go, const float *xi, int64_t len, zf_rule rule, int fresh) {
    const v8f z = {0};
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        v8f g, x, s = z;
        memcpy(&g, go + i, sizeof g);
        if (!fresh) memcpy(&s, gi + i, sizeof s);
        v8i m;
        if (rule == ZF_RULE_DECONVNET) {
            m = g > z;
        } else {
            memcpy(&x, xi + i, sizeof x);
            m = rule == ZF_RULE_GUIDED ? (x > z) & (g > z) : x > z;
        }
        s += (v8f)((v8i)g & m);
        memcpy(gi + i, &s, sizeof s);
    }
    if (rule == ZF_RULE_DECONVNET)   // xi is not read: the forward values stay out of the cache
        for (; i < len; i++) gi[i] = (fresh ? 0.0f : gi[i]) + (go[i] > 0.0f ? go[i] : 0.0f);
    else
        for (; i < len; i++) gi[i] = (fresh ? 0.0f : gi[i]) + zf_proj_relu_one(go[i], xi[i], rule);
}

typedef struct {
    zf_proj_slot *x;
    const zf_proj_slot *y;
    const unary_proj *u;
} unary_proj_ctx;

static void unary_box(void *vc, const zf_box *b) {
    const unary_proj_ctx *c = vc;
    const zf_proj_slot *x = c->x, *y = c->y;
    const unary_proj *u = c->u;
    const float *xf = zf_f32(x->t), *yf = zf_f32(y->t);
    const zf_rule rule = u->rule;
    if (u->kind == U_RELU && x->t->ndim == 4) {
        // Rows by plain loops: the boxes of deep layers have rows of a few elements (ZFNet's conv3
        // and conv4 of one unit: 5 and 3, 384 channels), where the generic iterator costs more
        // than the row.
        const int64_t W = x->t->dims[3], HW = x->t->dims[2] * W, CHW = x->t->dims[1] * HW;
        const int64_t len = b->hi[3] - b->lo[3];
        for (int64_t n0 = b->lo[0]; n0 < b->hi[0]; n0++)
            for (int64_t c = b->lo[1]; c < b->hi[1]; c++)
                for (int64_t h = b->lo[2]; h < b->hi[2]; h++) {
                    const int64_t off = n0 * CHW + c * HW + h * W + b->lo[3];
                    relu_row(x->g + off, y->g + off, xf + off, len, rule, x->fresh);
                }
        return;
    }
    zf_box_iter it;
    for (zf_box_iter_begin(&it, x->t, b); !it.done; zf_box_iter_next(&it)) {
        float *gi = x->g + it.off;
        const float *go = y->g + it.off, *xi = xf + it.off, *yo = yf + it.off;
        const int64_t len = it.len;
        switch (u->kind) {
        case U_RELU:
            relu_row(gi, go, xi, len, rule, x->fresh);
            break;
        case U_LEAKYRELU:
            for (int64_t i = 0; i < len; i++) {
                float t;
                if (rule == ZF_RULE_DECONVNET) t = go[i] >= 0.0f ? go[i] : u->a * go[i];
                else t = xi[i] >= 0.0f ? go[i] : u->a * go[i];
                if (rule == ZF_RULE_GUIDED && t < 0.0f) t = 0.0f;
                gi[i] += t;
            }
            break;
        case U_CLIP:
            for (int64_t i = 0; i < len; i++) {
                int inside = xi[i] >= u->lo && xi[i] <= u->hi;
                float t;
                if (u->lo == 0.0f && rule == ZF_RULE_DECONVNET) t = go[i] > 0.0f ? go[i] : 0.0f;
                else if (u->lo == 0.0f && rule == ZF_RULE_GUIDED) t = inside && go[i] > 0.0f ? go[i] : 0.0f;
                else t = inside ? go[i] : 0.0f;
                gi[i] += t;
            }
            break;
        case U_SIGMOID:
            for (int64_t i = 0; i < len; i++) gi[i] += go[i] * yo[i] * (1.0f - yo[i]);
            break;
        case U_TANH:
            for (int64_t i = 0; i < len; i++) gi[i] += go[i] * (1.0f - yo[i] * yo[i]);
            break;
        case U_SQRT:
            for (int64_t i = 0; i < len; i++) gi[i] += go[i] * 0.5f / yo[i];
            break;
        case U_EXP:
            for (int64_t i = 0; i < len; i++) gi[i] += go[i] * yo[i];
            break;
        }
    }
}

static int unary_project(const zf_node *n, zf_proj_args *pa, const unary_proj *u) {
    zf_proj_slot *x = &pa->in[0];
    const zf_proj_slot *y = &pa->out[0];
    if (!x->on || !y->on) return 0;
    unary_proj_ctx c = {x, y, u};
    const int nd = x->t->ndim;
    zf_box_parallel(pa->pool, &x->box, zf_box_split_axis(&x->box, nd), zf_box_numel(&x->box, nd), ZF_PROJ_PAR_MIN,
                    unary_box, &c);
    return 0;
}

// Elementwise, and relu_row writes every element of the box: no zeroing needed before it.
static void relu_box_back(const zf_node *n, zf_proj_args *a) {
    zf_proj_box_elementwise(n, a);
    a->in[0].overwrite = 1;
}
static int relu_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    unary_proj u = {U_RELU, a->rule, 0, 0, 0};
    return unary_project(n, a, &u);
}
static int leakyrelu_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_leakyrelu_params *p = n->params;
    unary_proj u = {U_LEAKYRELU, a->rule, p->alpha, 0, 0};
    return unary_project(n, a, &u);
}
static int sigmoid_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    unary_proj u = {U_SIGMOID, a->rule, 0, 0, 0};
    return unary_project(n, a, &u);
}
static int tanh_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    unary_proj u = {U_TANH, a->rule, 0, 0, 0};
    return unary_project(n, a, &u);
}
static int sqrt_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    unary_proj u = {U_SQRT, a->rule, 0, 0, 0};
    return unary_project(n, a, &u);
}
static int exp_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    unary_proj u = {U_EXP, a->rule, 0, 0, 0};
    return unary_project(n, a, &u);
}
static int clip_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_clip_params *p = n->params;
    if (zf_proj_only_data(n, a, 1, err)) return err->code;
    unary_proj u = {U_CLIP, a->rule, 0, p->min, p->max};
    if (a->n_in > 1 && a->in[1].t) u.lo = zf_f32(a->in[1].t)[0];
    if (a->n_in > 2 && a->in[2].t) u.hi = zf_f32(a->in[2].t)[0];
    return unary_project(n, a, &u);
}

// --- backward rules (training, core/train.h): the derivative, ADDED to the input's gradient --------

void zf_relu_backward(float *dx, const float *dy, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

typedef struct unary_back {
    unary_kind kind;
    float *dx;
    const float *dy, *x, *y;
    float a, lo, hi;
} unary_back;

static void unary_back_body(void *vc, int64_t b, int64_t e) {
    const unary_back *c = vc;
    float *dx = c->dx + b;
    const float *dy = c->dy + b, *x = c->x + b, *y = c->y + b;
    const int64_t n = e - b;
    switch (c->kind) {
    case U_RELU: zf_relu_backward(dx, dy, x, n); break;
    case U_LEAKYRELU: for (int64_t i = 0; i < n; i++) dx[i] += x[i] >= 0.0f ? dy[i] : c->a * dy[i]; break;
    case U_SIGMOID: for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]); break;
    case U_TANH: for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]); break;
    case U_CLIP: for (int64_t i = 0; i < n; i++) dx[i] += x[i] >= c->lo && x[i] <= c->hi ? dy[i] : 0.0f; break;
    case U_SQRT: for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * 0.5f / y[i]; break;
    case U_EXP: for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i]; break;
    }
}

static int unary_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, unary_back *c) {
    c->dy = zf_grad_out(grad, n, 0);
    c->dx = zf_grad_in(grad, n, 0);
    if (!c->dy || !c->dx) return 0;
    c->x = zf_f32(&v[n->in[0]].t);
    c->y = zf_f32(&v[n->out[0]].t);
    zf_exec_range(ex, zf_tensor_numel(&v[n->in[0]].t), unary_back_body, c);
    return 0;
}

static int relu_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    unary_back c = {.kind = U_RELU};
    return unary_backward(n, v, grad, ex, &c);
}
static int leakyrelu_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_leakyrelu_params *p = n->params;
    unary_back c = {.kind = U_LEAKYRELU, .a = p->alpha};
    return unary_backward(n, v, grad, ex, &c);
}
static int sigmoid_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    unary_back c = {.kind = U_SIGMOID};
    return unary_backward(n, v, grad, ex, &c);
}
static int tanh_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    unary_back c = {.kind = U_TANH};
    return unary_backward(n, v, grad, ex, &c);
}
static int sqrt_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    unary_back c = {.kind = U_SQRT};
    return unary_backward(n, v, grad, ex, &c);
}
static int exp_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    unary_back c = {.kind = U_EXP};
    return unary_backward(n, v, grad, ex, &c);
}
static int clip_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_clip_params *p = n->params;
    unary_back c = {.kind = U_CLIP, .lo = p->min, .hi = p->max};
    if (zf_has_input(n, 1)) c.lo = zf_f32(&v[n->in[1]].t)[0];
    if (zf_has_input(n, 2)) c.hi = zf_f32(&v[n->in[2]].t)[0];
    if (zf_grad_in(grad, n, 1) || zf_grad_in(grad, n, 2))
        return zf_fail(err, ZF_ERR_INPUT, "no backward rule into the bounds min/max");
    return unary_backward(n, v, grad, ex, &c);
}

// Relu
static int relu_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Relu", 1, err); }
static int relu_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    unary_ctx c = {.kind = U_RELU};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_relu = {.type = "Relu", .shape = relu_shape, .forward = relu_forward, .project = relu_project,
                .box_back = relu_box_back, .backward = relu_backward};

// LeakyRelu
static int leakyrelu_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_leakyrelu_params *p = params;
    return zf_onnx_attr_float(&p->alpha, n, "alpha", 0.01f, err);
}
static int leakyrelu_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "LeakyRelu", 0, err); }
static int leakyrelu_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_leakyrelu_params *p = n->params;
    unary_ctx c = {.kind = U_LEAKYRELU, .a = p->alpha};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_leakyrelu = {.type = "LeakyRelu", .params_size = sizeof(zf_leakyrelu_params),
                .parse = leakyrelu_parse, .shape = leakyrelu_shape, .forward = leakyrelu_forward,
                .project = leakyrelu_project,
                .backward = leakyrelu_backward};

// Sigmoid, Tanh, Sqrt, Exp
static int sigmoid_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Sigmoid", 0, err); }
static int sigmoid_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    unary_ctx c = {.kind = U_SIGMOID};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_sigmoid = {.type = "Sigmoid", .shape = sigmoid_shape, .forward = sigmoid_forward,
                .project = sigmoid_project,
                .backward = sigmoid_backward};

static int tanh_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Tanh", 0, err); }
static int tanh_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    unary_ctx c = {.kind = U_TANH};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_tanh = {.type = "Tanh", .shape = tanh_shape, .forward = tanh_forward, .project = tanh_project,
                .backward = tanh_backward};

static int sqrt_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Sqrt", 0, err); }
static int sqrt_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    unary_ctx c = {.kind = U_SQRT};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_sqrt = {.type = "Sqrt", .shape = sqrt_shape, .forward = sqrt_forward, .project = sqrt_project,
                .backward = sqrt_backward};

static int exp_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Exp", 0, err); }
static int exp_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    unary_ctx c = {.kind = U_EXP};
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_exp = {.type = "Exp", .shape = exp_shape, .forward = exp_forward, .project = exp_project,
                .backward = exp_backward};

// Clip
static int clip_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_clip_params *p = params;
    if (zf_onnx_attr_float(&p->min, n, "min", -FLT_MAX, err)) return err->code;
    return zf_onnx_attr_float(&p->max, n, "max", FLT_MAX, err);
}

static int clip_shape(zf_node *n, zf_value *v, zf_error *err) {
    if (same_shape(n, v, "Clip", 1, err)) return err->code;
    zf_dtype dt = v[n->in[0]].t.dtype;
    for (int i = 1; i <= 2; i++) {
        if (!zf_has_input(n, i)) continue;
        const zf_tensor *b = &v[n->in[i]].t;
        if (b->dtype != dt)
            return zf_fail(err, ZF_ERR_INPUT, "%s and input have different element types", i == 1 ? "min" : "max");
        if (zf_tensor_numel(b) != 1)
            return zf_fail(err, ZF_ERR_INPUT, "%s must be a scalar, got %lld elements", i == 1 ? "min" : "max",
                           (long long)zf_tensor_numel(b));
    }
    return 0;
}

static int clip_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_clip_params *p = n->params;
    unary_ctx c = {.kind = U_CLIP, .a = p->min, .b = p->max, .lo = INT64_MIN, .hi = INT64_MAX};
    if (v[n->in[0]].t.dtype == ZF_I64) {
        // Attribute bounds (opset < 11) are floats; they only narrow the int range when finite.
        if (p->min > -FLT_MAX) c.lo = (int64_t)ceilf(p->min);
        if (p->max < FLT_MAX) c.hi = (int64_t)floorf(p->max);
    }
    if (zf_has_input(n, 1)) {
        const zf_tensor *t = &v[n->in[1]].t;
        if (t->dtype == ZF_I64) c.lo = zf_i64(t)[0];
        else c.a = zf_f32(t)[0];
    }
    if (zf_has_input(n, 2)) {
        const zf_tensor *t = &v[n->in[2]].t;
        if (t->dtype == ZF_I64) c.hi = zf_i64(t)[0];
        else c.b = zf_f32(t)[0];
    }
    return run_unary(n, v, ex, &c);
}
const zf_op zf_op_clip = {.type = "Clip", .params_size = sizeof(zf_clip_params), .parse = clip_parse,
                .shape = clip_shape, .forward = clip_forward,
                .project = clip_project,
                .backward = clip_backward};

// Identity: any element type, a copy.
static int identity_shape(zf_node *n, zf_value *v, zf_error *err) { return same_shape(n, v, "Identity", 1, err); }
static int copy_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = &v[n->in[0]].t;
    zf_tensor *y = &v[n->out[0]].t;
    size_t bytes = (size_t)zf_tensor_numel(x) * zf_dtype_size(x->dtype);
    if (bytes && y->data != x->data) memcpy(y->data, x->data, bytes);
    return 0;
}
const zf_op zf_op_identity = {.type = "Identity", .shape = identity_shape, .forward = copy_forward,
                .project = zf_proj_identity,
                .backward = zf_copy_backward};

// Dropout. Inference: output = input and the optional mask is all true (nothing dropped); the
// training_mode input is ignored, as a recorded forward pass must be deterministic. Training passes
// (zf_exec.train, core/train.h) drop elements with probability ratio (input 1 from opset 12, the
// attribute before; 0.5 by default) and scale the others by 1/(1 - ratio), with a mask that is a hash
// of (the step's seed, the output tensor, the element), so the backward pass draws the same one.
static int dropout_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_dropout_params *p = params;
    p->mask_bool = opset <= 0 || opset >= 10;
    return zf_onnx_attr_float(&p->ratio, n, "ratio", 0.5f, err);
}

static int dropout_shape(zf_node *n, zf_value *v, zf_error *err) {
    if (same_shape(n, v, "Dropout", 0, err)) return err->code;
    const zf_dropout_params *p = n->params;
    if (n->n_out > 1 && n->out[1] >= 0) {
        const zf_tensor *x = &v[n->in[0]].t;
        zf_tensor *m = &v[n->out[1]].t;
        m->dtype = p && !p->mask_bool ? x->dtype : ZF_I64;
        m->ndim = x->ndim;
        memcpy(m->dims, x->dims, sizeof m->dims);
    }
    return 0;
}

uint64_t zf_dropout_key(uint64_t seed, int64_t tensor) {
    return zf_rng_mix(zf_rng_mix(seed) ^ zf_rng_mix((uint64_t)tensor + 0x5851F42D4C957F2DULL));
}

uint32_t zf_dropout_threshold(float ratio) {
    if (!(ratio > 0.0f)) return 0;
    if (ratio >= 1.0f) return 1u << 24;
    return (uint32_t)lrint((double)ratio * (double)(1 << 24));
}

void zf_dropout_train_forward(float *out, float *mask, const float *x, int64_t n, float ratio, uint64_t key) {
    const uint32_t th = zf_dropout_threshold(ratio);
    const float s = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        int keep = zf_dropout_keep(key, i, th);
        out[i] = keep ? x[i] * s : 0.0f;
        if (mask) mask[i] = (float)keep;
    }
}

void zf_dropout_backward(float *dx, const float *dy, int64_t n, float ratio, uint64_t key) {
    const uint32_t th = zf_dropout_threshold(ratio);
    const float s = ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f;
    for (int64_t i = 0; i < n; i++)
        if (zf_dropout_keep(key, i, th)) dx[i] += dy[i] * s;
}

static float dropout_ratio(const zf_node *n, const zf_value *v) {
    const zf_dropout_params *p = n->params;
    if (zf_has_input(n, 1)) {
        const zf_tensor *r = &v[n->in[1]].t;
        if (r->data && r->dtype == ZF_F32 && zf_tensor_numel(r) == 1) return zf_f32(r)[0];
    }
    return p ? p->ratio : 0.5f;
}

static int dropout_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_tensor *m = n->n_out > 1 && n->out[1] >= 0 ? &v[n->out[1]].t : NULL;
    if (ex && ex->train) {
        const zf_tensor *x = &v[n->in[0]].t;
        float ratio = dropout_ratio(n, v);
        if (!(ratio >= 0.0f && ratio < 1.0f)) return zf_fail(err, ZF_ERR_INPUT, "ratio %g is not in [0, 1)", ratio);
        const uint64_t key = zf_dropout_key(ex->train->seed, n->out[0]);
        const int64_t k = zf_tensor_numel(x);
        zf_dropout_train_forward(zf_f32(&v[n->out[0]].t), m && m->dtype == ZF_F32 ? zf_f32(m) : NULL, zf_f32(x), k,
                                 ratio, key);
        if (m && m->dtype == ZF_I64) {
            const uint32_t th = zf_dropout_threshold(ratio);
            for (int64_t i = 0; i < k; i++) zf_i64(m)[i] = zf_dropout_keep(key, i, th);
        }
        return 0;
    }
    copy_forward(n, v, ex, err);
    if (m) {
        int64_t k = zf_tensor_numel(m);
        if (m->dtype == ZF_I64) for (int64_t i = 0; i < k; i++) zf_i64(m)[i] = 1;
        else for (int64_t i = 0; i < k; i++) zf_f32(m)[i] = 1.0f;
    }
    return 0;
}

static int dropout_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    if (!ex->train) return zf_copy_backward(n, v, grad, ex, err);
    zf_dropout_backward(dx, dy, zf_tensor_numel(&v[n->in[0]].t), dropout_ratio(n, v),
                        zf_dropout_key(ex->train->seed, n->out[0]));
    return 0;
}
const zf_op zf_op_dropout = {.type = "Dropout", .params_size = sizeof(zf_dropout_params), .parse = dropout_parse,
                .shape = dropout_shape, .forward = dropout_forward, .project = zf_proj_identity,
                .backward = dropout_backward};
