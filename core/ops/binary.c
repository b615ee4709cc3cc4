// binary.c: Add, Sub, Mul, Div, Pow, Equal, Sum with numpy broadcasting (see binary.h).
#include <math.h>
#include <string.h>
#include "binary.h"
#include "op_util.h"
#include "proj.h"
#include "../onnx/onnx.h"

// --- broadcast plan -----------------------------------------------------------------------------

int zf_bcast_plan(zf_bcast *bc, int nout, const int64_t *out, int na, const int64_t *a, int nb, const int64_t *b,
                  zf_error *err) {
    if (nout > ZF_MAX_DIMS || na > nout || nb > nout)
        return zf_fail(err, ZF_ERR_INPUT, "cannot broadcast rank %d and rank %d to rank %d", na, nb, nout);
    int64_t ad[ZF_MAX_DIMS], bd[ZF_MAX_DIMS], sa[ZF_MAX_DIMS], sb[ZF_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < nout; i++) {
        ad[i] = i < nout - na ? 1 : a[i - (nout - na)];
        bd[i] = i < nout - nb ? 1 : b[i - (nout - nb)];
        if ((ad[i] != out[i] && ad[i] != 1) || (bd[i] != out[i] && bd[i] != 1)) {
            char s1[128], s2[128], s3[128];
            return zf_fail(err, ZF_ERR_INPUT, "shapes %s and %s cannot be broadcast to %s",
                           zf_shape_str(s1, sizeof s1, na, a), zf_shape_str(s2, sizeof s2, nb, b),
                           zf_shape_str(s3, sizeof s3, nout, out));
        }
        numel *= out[i];
    }
    // Contiguous strides, zeroed where the input is broadcast.
    int64_t ra = 1, rb = 1;
    for (int i = nout - 1; i >= 0; i--) {
        sa[i] = ad[i] == 1 ? 0 : ra;
        sb[i] = bd[i] == 1 ? 0 : rb;
        ra *= ad[i];
        rb *= bd[i];
    }
    memset(bc, 0, sizeof *bc);
    bc->numel = numel;
    if (numel == 0) {
        bc->ndim = 1;
        return 0;
    }
    // Drop size-1 output axes; merge an axis into the previous one when both inputs step through
    // them as one contiguous (or one broadcast) run.
    int nd = 0;
    for (int i = 0; i < nout; i++) {
        if (out[i] == 1) continue;
        if (nd > 0 && bc->sa[nd - 1] == sa[i] * out[i] && bc->sb[nd - 1] == sb[i] * out[i]) {
            bc->dims[nd - 1] *= out[i];
            bc->sa[nd - 1] = sa[i];
            bc->sb[nd - 1] = sb[i];
            continue;
        }
        bc->dims[nd] = out[i];
        bc->sa[nd] = sa[i];
        bc->sb[nd] = sb[i];
        nd++;
    }
    if (nd == 0) {
        bc->dims[0] = 1;
        nd = 1;
    }
    bc->ndim = nd;
    return 0;
}

// --- kernels ------------------------------------------------------------------------------------
// Each kernel does n outputs of a row; sa, sb are 0 (broadcast scalar) or 1 (contiguous).
typedef void (*kern_fn)(void *o, const void *a, const void *b, int64_t n, int64_t sa, int64_t sb);

#define BIN_KERNEL(NAME, TA, TB, TO, EXPR)                                                            \
    static void NAME(void *vo, const void *va, const void *vb, int64_t n, int64_t sa, int64_t sb) {  \
        TO *o = vo;                                                                                   \
        const TA *a = va;                                                                             \
        const TB *b = vb;                                                                             \
        if (sa && sb) {                                                                               \
            for (int64_t i = 0; i < n; i++) { TA x = a[i]; TB y = b[i]; o[i] = (EXPR); }              \
        } else if (sa) {                                                                              \
            TB y = b[0];                                                                              \
            for (int64_t i = 0; i < n; i++) { TA x = a[i]; o[i] = (EXPR); }                           \
        } else if (sb) {                                                                              \
            TA x = a[0];                                                                              \
            for (int64_t i = 0; i < n; i++) { TB y = b[i]; o[i] = (EXPR); }                           \
        } else {                                                                                      \
            TA x = a[0]; TB y = b[0];                                                                 \
            TO r = (EXPR);                                                                            \
            for (int64_t i = 0; i < n; i++) o[i] = r;                                                 \
        }                                                                                             \
    }

// Int64 arithmetic wraps (through uint64) instead of being undefined on overflow.
static inline int64_t wrap_add(int64_t x, int64_t y) { return (int64_t)((uint64_t)x + (uint64_t)y); }
static inline int64_t wrap_sub(int64_t x, int64_t y) { return (int64_t)((uint64_t)x - (uint64_t)y); }
static inline int64_t wrap_mul(int64_t x, int64_t y) { return (int64_t)((uint64_t)x * (uint64_t)y); }
// Truncating division like C and onnxruntime; y == 0 is rejected before the kernel runs.
static inline int64_t int_div(int64_t x, int64_t y) {
    if (y == 0) return 0;
    if (y == -1) return wrap_sub(0, x);   // INT64_MIN / -1 would trap
    return x / y;
}
static inline int64_t int_pow(int64_t x, int64_t y) {
    if (y < 0) return x == 1 ? 1 : x == -1 ? (y % 2 ? -1 : 1) : 0;   // 1/x^|y| truncated
    int64_t r = 1;
    while (y) {
        if (y & 1) r = wrap_mul(r, x);
        x = wrap_mul(x, x);
        y >>= 1;
    }
    return r;
}
// float -> int64 without undefined behaviour: NaN -> 0, saturating.
static inline int64_t f2i(double d) {
    if (d != d) return 0;
    if (d >= 9.2233720368547758e18) return INT64_MAX;
    if (d <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)d;
}

BIN_KERNEL(add_f32, float, float, float, x + y)
BIN_KERNEL(sub_f32, float, float, float, x - y)
BIN_KERNEL(mul_f32, float, float, float, x * y)
BIN_KERNEL(div_f32, float, float, float, x / y)
BIN_KERNEL(pow_ff, float, float, float, powf(x, y))
BIN_KERNEL(pow_fi, float, int64_t, float, powf(x, (float)y))
BIN_KERNEL(eq_f32, float, float, int64_t, x == y)
BIN_KERNEL(copy_f32, float, float, float, ((void)y, x))
BIN_KERNEL(add_i64, int64_t, int64_t, int64_t, wrap_add(x, y))
BIN_KERNEL(sub_i64, int64_t, int64_t, int64_t, wrap_sub(x, y))
BIN_KERNEL(mul_i64, int64_t, int64_t, int64_t, wrap_mul(x, y))
BIN_KERNEL(div_i64, int64_t, int64_t, int64_t, int_div(x, y))
BIN_KERNEL(pow_ii, int64_t, int64_t, int64_t, int_pow(x, y))
BIN_KERNEL(pow_if, int64_t, float, int64_t, f2i(pow((double)x, (double)y)))
BIN_KERNEL(eq_i64, int64_t, int64_t, int64_t, x == y)
BIN_KERNEL(copy_i64, int64_t, int64_t, int64_t, ((void)y, x))

typedef struct bin_ctx {
    kern_fn fn;
    char *o;
    const char *a, *b;
    size_t so, sza, szb;    // element sizes
    const zf_bcast *bc;
} bin_ctx;

// Output elements [begin, end): row by row along the innermost planned axis.
static void bin_body(void *vctx, int64_t begin, int64_t end) {
    const bin_ctx *c = vctx;
    const zf_bcast *bc = c->bc;
    int nd = bc->ndim;
    int64_t inner = bc->dims[nd - 1], isa = bc->sa[nd - 1], isb = bc->sb[nd - 1];
    int64_t pos = begin;
    while (pos < end) {
        int64_t row = pos / inner, k = pos % inner;
        int64_t oa = k * isa, ob = k * isb;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = row % bc->dims[d];
            row /= bc->dims[d];
            oa += i * bc->sa[d];
            ob += i * bc->sb[d];
        }
        int64_t len = inner - k < end - pos ? inner - k : end - pos;
        c->fn(c->o + (size_t)pos * c->so, c->a + (size_t)oa * c->sza, c->b + (size_t)ob * c->szb, len, isa, isb);
        pos += len;
    }
}

static const char *dtype_name(zf_dtype t) { return t == ZF_I64 ? "int64" : "float"; }

int zf_binary_forward(void *out, zf_dtype odt, const void *a, zf_dtype adt, const void *b, zf_dtype bdt,
                      const zf_bcast *bc, zf_binop op, const zf_exec *ex, zf_error *err) {
    kern_fn fn = NULL;
    int f = adt == ZF_F32;
    if (op == ZF_BIN_COPY) {
        fn = f ? copy_f32 : copy_i64;
        b = a;
        bdt = adt;
    } else if (op == ZF_BIN_POW) {
        fn = f ? (bdt == ZF_F32 ? pow_ff : pow_fi) : (bdt == ZF_F32 ? pow_if : pow_ii);
    } else {
        if (adt != bdt)
            return zf_fail(err, ZF_ERR_INPUT, "inputs have different element types (%s and %s)", dtype_name(adt),
                           dtype_name(bdt));
        switch (op) {
        case ZF_BIN_ADD: fn = f ? add_f32 : add_i64; break;
        case ZF_BIN_SUB: fn = f ? sub_f32 : sub_i64; break;
        case ZF_BIN_MUL: fn = f ? mul_f32 : mul_i64; break;
        case ZF_BIN_DIV: fn = f ? div_f32 : div_i64; break;
        case ZF_BIN_EQUAL: fn = f ? eq_f32 : eq_i64; break;
        default: break;
        }
    }
    zf_dtype want = op == ZF_BIN_EQUAL ? ZF_I64 : adt;
    if (!fn || odt != want) return zf_fail(err, ZF_ERR_RUNTIME, "binary op %d: unsupported element types", (int)op);
    if (op == ZF_BIN_DIV && adt == ZF_I64 && bc->numel > 0) {
        // Every element of b is used somewhere, and the plan's strides span exactly b.
        int64_t extent = 1;
        for (int d = 0; d < bc->ndim; d++) extent += (bc->dims[d] - 1) * bc->sb[d];
        for (int64_t i = 0; i < extent; i++)
            if (((const int64_t *)b)[i] == 0) return zf_fail(err, ZF_ERR_INPUT, "integer division by zero");
    }
    bin_ctx c = {fn, out, a, b, zf_dtype_size(odt), zf_dtype_size(adt), zf_dtype_size(bdt), bc};
    zf_exec_range(ex, bc->numel, bin_body, &c);
    return 0;
}

// --- the zf_op adapters -------------------------------------------------------------------------

static int parse_common(zf_binary_params *p, zf_binop op, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    p->op = op;
    if (opset > 0 && opset < 7) {
        int64_t bcast = 0;
        if (zf_onnx_attr_int(&bcast, n, "broadcast", 0, err)) return err->code;
        if (bcast && zf_onnx_attr_find(n, "axis")) {
            if (zf_onnx_attr_int(&p->axis, n, "axis", 0, err)) return err->code;
            p->legacy_axis = 1;
        }
    }
    return 0;
}
#define BINARY_PARSE(NAME, OP)                                                                           \
    static int NAME(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {                  \
        return parse_common(params, OP, n, opset, err);                                                   \
    }
BINARY_PARSE(add_parse, ZF_BIN_ADD)
BINARY_PARSE(sub_parse, ZF_BIN_SUB)
BINARY_PARSE(mul_parse, ZF_BIN_MUL)
BINARY_PARSE(div_parse, ZF_BIN_DIV)
BINARY_PARSE(pow_parse, ZF_BIN_POW)
BINARY_PARSE(equal_parse, ZF_BIN_EQUAL)

// B's dims as broadcasting sees them (legacy axis alignment pads with trailing ones).
static int effective_b(int *nb, int64_t *bd, const zf_binary_params *p, const zf_tensor *a, const zf_tensor *b,
                       zf_error *err) {
    *nb = b->ndim;
    memcpy(bd, b->dims, sizeof b->dims);
    if (!p->legacy_axis) return 0;
    int64_t axis = p->axis;
    if (zf_axis_normalize(&axis, a->ndim, "axis", err)) return err->code;
    if (axis + b->ndim > a->ndim)
        return zf_fail(err, ZF_ERR_INPUT, "B has rank %d, too many to align at axis %lld of a rank-%d A", b->ndim,
                       (long long)axis, a->ndim);
    *nb = (int)(a->ndim - axis);
    for (int i = b->ndim; i < *nb; i++) bd[i] = 1;
    return 0;
}

static int binary_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_binary_params *p = n->params;
    if (!zf_has_input(n, 0) || !zf_has_input(n, 1) || n->n_out < 1 || n->out[0] < 0)
        return zf_fail(err, ZF_ERR_INPUT, "needs two inputs and one output");
    const zf_tensor *a = &v[n->in[0]].t, *b = &v[n->in[1]].t;
    if (p->op != ZF_BIN_POW && a->dtype != b->dtype)
        return zf_fail(err, ZF_ERR_INPUT, "inputs have different element types (%s and %s)", dtype_name(a->dtype),
                       dtype_name(b->dtype));
    int nb;
    int64_t bd[ZF_MAX_DIMS];
    if (effective_b(&nb, bd, p, a, b, err)) return err->code;
    zf_tensor *y = &v[n->out[0]].t;
    memset(y->dims, 0, sizeof y->dims);
    if (zf_broadcast_shape(&y->ndim, y->dims, a->ndim, a->dims, nb, bd, err)) return err->code;
    y->dtype = p->op == ZF_BIN_EQUAL ? ZF_I64 : a->dtype;
    return 0;
}

static int binary_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_binary_params *p = n->params;
    const zf_tensor *a = &v[n->in[0]].t, *b = &v[n->in[1]].t;
    zf_tensor *y = &v[n->out[0]].t;
    int nb;
    int64_t bd[ZF_MAX_DIMS];
    zf_bcast bc;
    if (effective_b(&nb, bd, p, a, b, err) || zf_bcast_plan(&bc, y->ndim, y->dims, a->ndim, a->dims, nb, bd, err))
        return err->code;
    return zf_binary_forward(y->data, y->dtype, a->data, a->dtype, b->data, b->dtype, &bc, p->op, ex, err);
}

// Union of the inputs' receptive fields: a residual Add sees what either branch saw.
static void union_rf(const zf_node *n, zf_value *v) {
    zf_rf r = {0};
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0) zf_rf_union(&r, &r, &v[n->in[i]].rf);
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0) v[n->out[o]].rf = r;
}

// --- projection rules (core/project.h): the gradient under every rule ----------------------------
// Add sends the signal to both inputs, Sub to the second negated, Mul scales it by the other input,
// Div and Pow by their partial derivatives; an input broadcast along an axis receives the sum over
// that axis. The boxes are the elementwise default (a broadcast axis gets [0, 1)).

// Element strides of x aligned to the output's nd axes from the right, 0 along broadcast axes.
static void bcast_strides(int64_t *st, int nd, const int64_t *od, int nx, const int64_t *xd) {
    int64_t r = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int i = d - (nd - nx);
        if (i < 0) {
            st[d] = 0;
            continue;
        }
        st[d] = xd[i] == od[d] ? r : 0;
        r *= xd[i];
    }
}

// Adds input k's share of the output signal (op `op`, other input `other`).
static void binary_project_input(zf_proj_args *pa, int k, zf_binop op, const int64_t *a_dims, int na,
                                 const int64_t *b_dims, int nb) {
    zf_proj_slot *x = &pa->in[k];
    const zf_proj_slot *y = &pa->out[0];
    const zf_tensor *yt = y->t;
    const int nd = yt->ndim;
    const float *A = zf_f32(pa->in[0].t), *B = pa->n_in > 1 ? zf_f32(pa->in[1].t) : NULL, *Y = zf_f32(yt);
    int64_t sa[ZF_MAX_DIMS], sb[ZF_MAX_DIMS], sx[ZF_MAX_DIMS];
    bcast_strides(sa, nd, yt->dims, na, a_dims);
    if (B) bcast_strides(sb, nd, yt->dims, nb, b_dims);
    memcpy(sx, k == 0 ? sa : sb, sizeof sx);
    int same = x->t->ndim == nd;
    for (int d = 0; same && d < nd; d++) same = x->t->dims[d] == yt->dims[d];
    zf_box_iter it;
    for (zf_box_iter_begin(&it, yt, &y->box); !it.done; zf_box_iter_next(&it)) {
        const float *go = y->g + it.off, *yo = Y + it.off;
        const int64_t len = it.len;
        if (same && (op == ZF_BIN_ADD || op == ZF_BIN_COPY || (op == ZF_BIN_SUB && k == 0))) {
            float *gi = x->g + it.off;
            for (int64_t i = 0; i < len; i++) gi[i] += go[i];
            continue;
        }
        int64_t oa = 0, ob = 0, ox = 0;
        for (int d = 0; d < nd; d++) {
            int64_t i = it.idx[d];
            oa += i * sa[d];
            if (B) ob += i * sb[d];
            ox += i * sx[d];
        }
        const int64_t ia = sa[nd - 1], ib = B ? sb[nd - 1] : 0, ix = sx[nd - 1];
        float *gi = x->g + ox;
        const float *a = A + oa, *b = B ? B + ob : NULL;
        for (int64_t i = 0; i < len; i++) {
            float g = go[i], t;
            switch (op) {
            case ZF_BIN_SUB: t = k == 0 ? g : -g; break;
            case ZF_BIN_MUL: t = k == 0 ? g * b[i * ib] : g * a[i * ia]; break;
            case ZF_BIN_DIV: t = k == 0 ? g / b[i * ib] : -g * yo[i] / b[i * ib]; break;
            case ZF_BIN_POW:
                t = k == 0 ? g * b[i * ib] * powf(a[i * ia], b[i * ib] - 1.0f) : g * yo[i] * logf(a[i * ia]);
                break;
            default: t = g; break;   // Add, Sum
            }
            gi[i * ix] += t;
        }
    }
}

static int binary_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_binary_params *p = n->params;
    if (!a->out[0].on) return 0;
    if (p->op == ZF_BIN_POW && a->in[1].on && a->in[1].t->dtype != ZF_F32)
        return zf_fail(err, ZF_ERR_INPUT, "an int64 exponent has no projection");
    if (p->op == ZF_BIN_POW && a->in[0].on && a->in[1].t->dtype != ZF_F32)
        return zf_fail(err, ZF_ERR_INPUT, "only float exponents are supported for projection");
    int nb;
    int64_t bd[ZF_MAX_DIMS];
    if (effective_b(&nb, bd, p, a->in[0].t, a->in[1].t, err)) return err->code;
    for (int k = 0; k < 2; k++)
        if (a->in[k].on) binary_project_input(a, k, p->op, a->in[0].t->dims, a->in[0].t->ndim, bd, nb);
    return 0;
}

static int sum_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    if (!a->out[0].on) return 0;
    for (int k = 0; k < a->n_in; k++) {
        if (!a->in[k].on) continue;
        // Each input as "a" of an Add: its share is the signal, summed over its broadcast axes.
        zf_proj_args one = *a;
        zf_proj_slot slots[1] = {a->in[k]};
        one.in = slots;
        one.n_in = 1;
        binary_project_input(&one, 0, ZF_BIN_ADD, a->in[k].t->dims, a->in[k].t->ndim, NULL, 0);
    }
    return 0;
}

// --- backward (training, core/train.h): Add, Sub, Mul, Div with numpy broadcasting; an input
// broadcast along an axis receives the sum over that axis --------------------------------------------

static int binary_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const zf_binary_params *p = n->params;
    const float *dy = zf_grad_out(grad, n, 0);
    float *da = zf_grad_in(grad, n, 0), *db = zf_grad_in(grad, n, 1);
    if (!dy || (!da && !db)) return 0;
    if (p->legacy_axis) return zf_fail(err, ZF_ERR_INPUT, "opset < 7 broadcasting has no backward rule");
    const zf_tensor *a = &v[n->in[0]].t, *b = &v[n->in[1]].t, *y = &v[n->out[0]].t;
    const float *af = zf_f32(a), *bf = zf_f32(b);
    const int nd = y->ndim;
    int64_t sa[ZF_MAX_DIMS], sb[ZF_MAX_DIMS], idx[ZF_MAX_DIMS] = {0};
    bcast_strides(sa, nd, y->dims, a->ndim, a->dims);
    bcast_strides(sb, nd, y->dims, b->ndim, b->dims);
    const int64_t cnt = zf_tensor_numel(y);
    if (nd > 0 && p->op == ZF_BIN_ADD && zf_tensor_numel(a) == cnt && zf_tensor_numel(b) == cnt) {
        // Same shapes (a residual connection): two plain sums.
        for (int64_t i = 0; i < cnt; i++) {
            if (da) da[i] += dy[i];
            if (db) db[i] += dy[i];
        }
        return 0;
    }
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < cnt; i++) {
        const float g = dy[i];
        switch (p->op) {
        case ZF_BIN_ADD:
            if (da) da[ia] += g;
            if (db) db[ib] += g;
            break;
        case ZF_BIN_SUB:
            if (da) da[ia] += g;
            if (db) db[ib] -= g;
            break;
        case ZF_BIN_MUL:
            if (da) da[ia] += g * bf[ib];
            if (db) db[ib] += g * af[ia];
            break;
        case ZF_BIN_DIV:
            if (da) da[ia] += g / bf[ib];
            if (db) db[ib] -= g * af[ia] / (bf[ib] * bf[ib]);
            break;
        default:
            return zf_fail(err, ZF_ERR_INPUT, "no backward rule");
        }
        for (int d = nd - 1; d >= 0; d--) {
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < y->dims[d]) break;
            ia -= sa[d] * y->dims[d];
            ib -= sb[d] * y->dims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

#define BINARY_OP(SYM, NAME, PARSE, BACKWARD)                                                                    \
    const zf_op SYM = {.type = NAME, .params_size = sizeof(zf_binary_params), .parse = PARSE,                    \
                       .shape = binary_shape, .forward = binary_forward, .rf = union_rf,                         \
                       .project = binary_project, .backward = BACKWARD};
BINARY_OP(zf_op_add, "Add", add_parse, binary_backward)
BINARY_OP(zf_op_sub, "Sub", sub_parse, binary_backward)
BINARY_OP(zf_op_mul, "Mul", mul_parse, binary_backward)
BINARY_OP(zf_op_div, "Div", div_parse, binary_backward)
BINARY_OP(zf_op_pow, "Pow", pow_parse, NULL)
BINARY_OP(zf_op_equal, "Equal", equal_parse, NULL)

// Sum: any number of inputs, all broadcast together; accumulated pairwise into the output.
static int sum_shape(zf_node *n, zf_value *v, zf_error *err) {
    if (n->n_in < 1 || n->n_out < 1 || n->out[0] < 0)
        return zf_fail(err, ZF_ERR_INPUT, "needs at least one input and one output");
    zf_tensor *y = &v[n->out[0]].t;
    int nd = 0;
    int64_t dims[ZF_MAX_DIMS] = {0};
    zf_dtype dt = ZF_F32;
    for (int i = 0; i < n->n_in; i++) {
        if (!zf_has_input(n, i)) return zf_fail(err, ZF_ERR_INPUT, "input %d is missing", i);
        const zf_tensor *x = &v[n->in[i]].t;
        if (i == 0) {
            dt = x->dtype;
            nd = x->ndim;
            memcpy(dims, x->dims, sizeof dims);
            continue;
        }
        if (x->dtype != dt)
            return zf_fail(err, ZF_ERR_INPUT, "inputs have different element types (%s and %s)", dtype_name(dt),
                           dtype_name(x->dtype));
        int64_t prev[ZF_MAX_DIMS];
        memcpy(prev, dims, sizeof prev);
        if (zf_broadcast_shape(&nd, dims, nd, prev, x->ndim, x->dims, err)) return err->code;
    }
    y->dtype = dt;
    y->ndim = nd;
    memcpy(y->dims, dims, sizeof y->dims);
    return 0;
}

static int sum_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_tensor *y = &v[n->out[0]].t;
    const zf_tensor *x0 = &v[n->in[0]].t;
    zf_bcast bc;
    if (n->n_in == 1) {
        if (zf_bcast_plan(&bc, y->ndim, y->dims, x0->ndim, x0->dims, x0->ndim, x0->dims, err)) return err->code;
        return zf_binary_forward(y->data, y->dtype, x0->data, x0->dtype, NULL, x0->dtype, &bc, ZF_BIN_COPY, ex, err);
    }
    for (int i = 1; i < n->n_in; i++) {
        // First step: out = x0 + x1 (both broadcast); then out += xi.
        const zf_tensor *a = i == 1 ? x0 : y, *b = &v[n->in[i]].t;
        if (zf_bcast_plan(&bc, y->ndim, y->dims, a->ndim, a->dims, b->ndim, b->dims, err) ||
            zf_binary_forward(y->data, y->dtype, a->data, a->dtype, b->data, b->dtype, &bc, ZF_BIN_ADD, ex, err))
            return err->code;
    }
    return 0;
}

const zf_op zf_op_sum = {.type = "Sum", .shape = sum_shape, .forward = sum_forward, .rf = union_rf,
                         .project = sum_project};
