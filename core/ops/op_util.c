// op_util.c: helpers shared by the shape, activation, binary and softmax ops (see op_util.h).
#include <string.h>
#include "op_util.h"

int zf_axis_normalize(int64_t *axis, int ndim, const char *what, zf_error *err) {
    int64_t a = *axis;
    if (a < -ndim || a >= ndim)
        return zf_fail(err, ZF_ERR_INPUT, "%s %lld is out of range for a rank-%d tensor", what, (long long)a, ndim);
    *axis = a < 0 ? a + ndim : a;
    return 0;
}

int zf_has_input(const zf_node *n, int i) {
    return i < n->n_in && n->in[i] >= 0;
}

int zf_const_i64_input(const int64_t **data, int64_t *count, const zf_node *n, const zf_value *v, int i,
                       const char *what, zf_error *err) {
    if (!zf_has_input(n, i)) return zf_fail(err, ZF_ERR_INPUT, "%s input is missing", what);
    const zf_tensor *t = &v[n->in[i]].t;
    if (t->dtype != ZF_I64)
        return zf_fail(err, ZF_ERR_INPUT, "%s input must be int64, got a float tensor", what);
    int64_t numel = zf_tensor_numel(t);
    if (!t->data && numel > 0) return zf_fail(err, ZF_ERR_INPUT, "%s input is not constant", what);
    *data = zf_i64(t);
    *count = numel;
    return 0;
}

void zf_exec_range(const zf_exec *ex, int64_t n, zf_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (ex && ex->pool && n >= ZF_PARALLEL_MIN) zf_parallel_for(ex->pool, n, fn, ctx);
    else fn(ctx, 0, n);
}

void zf_rf_layout(zf_rf *out, const zf_rf *in, const zf_tensor *in_t, const zf_tensor *out_t) {
    *out = *in;
    if (!in->valid || in->global) return;
    // Row-major: when the trailing (H, W) block has the same extents, flat index f maps to the same
    // (h, w) in both shapes, so every unit keeps its position.
    int same = in_t->ndim >= 2 && out_t->ndim >= 2 && in_t->dims[in_t->ndim - 2] == out_t->dims[out_t->ndim - 2] &&
               in_t->dims[in_t->ndim - 1] == out_t->dims[out_t->ndim - 1];
    if (!same) out->global = 1;
}

void zf_contiguous_strides(int64_t *strides, int nd, const int64_t *dims) {
    int64_t r = 1;
    for (int d = nd - 1; d >= 0; d--) {
        strides[d] = r;
        r *= dims[d];
    }
}

typedef struct strided_ctx {
    char *out;
    const char *in;
    int64_t obase, ibase;
    int nd;
    int64_t dims[ZF_MAX_DIMS], ostr[ZF_MAX_DIMS], istr[ZF_MAX_DIMS];
    size_t elem;
} strided_ctx;

// Elements [begin, end) in row-major order of dims, one innermost row segment at a time.
static void strided_body(void *vctx, int64_t begin, int64_t end) {
    const strided_ctx *c = vctx;
    int nd = c->nd;
    int64_t inner = c->dims[nd - 1], io = c->ostr[nd - 1], ii = c->istr[nd - 1];
    size_t e = c->elem;
    int64_t pos = begin;
    while (pos < end) {
        int64_t row = pos / inner, k = pos % inner;
        int64_t oo = c->obase + k * io, oi = c->ibase + k * ii;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = row % c->dims[d];
            row /= c->dims[d];
            oo += i * c->ostr[d];
            oi += i * c->istr[d];
        }
        int64_t len = inner - k < end - pos ? inner - k : end - pos;
        if (io == 1 && ii == 1) {
            memcpy(c->out + oo * (int64_t)e, c->in + oi * (int64_t)e, (size_t)len * e);
        } else if (e == 8) {
            int64_t *o = (int64_t *)c->out + oo;
            const int64_t *x = (const int64_t *)c->in + oi;
            for (int64_t j = 0; j < len; j++) o[j * io] = x[j * ii];
        } else {
            int32_t *o = (int32_t *)c->out + oo;
            const int32_t *x = (const int32_t *)c->in + oi;
            for (int64_t j = 0; j < len; j++) o[j * io] = x[j * ii];
        }
        pos += len;
    }
}

void zf_strided_copy(void *out, int64_t obase, const int64_t *ostr, const void *in, int64_t ibase,
                     const int64_t *istr, int nd, const int64_t *dims, size_t elem, const zf_exec *ex) {
    strided_ctx c = {.out = out, .in = in, .obase = obase, .ibase = ibase, .elem = elem};
    int64_t numel = 1;
    int m = 0;
    for (int d = 0; d < nd; d++) {
        numel *= dims[d];
        if (dims[d] == 1) continue;
        if (m > 0 && c.ostr[m - 1] == ostr[d] * dims[d] && c.istr[m - 1] == istr[d] * dims[d]) {
            c.dims[m - 1] *= dims[d];
            c.ostr[m - 1] = ostr[d];
            c.istr[m - 1] = istr[d];
            continue;
        }
        c.dims[m] = dims[d];
        c.ostr[m] = ostr[d];
        c.istr[m] = istr[d];
        m++;
    }
    if (numel == 0) return;
    if (m == 0) {
        c.dims[0] = 1;
        c.ostr[0] = c.istr[0] = 1;
        m = 1;
    }
    c.nd = m;
    zf_exec_range(ex, numel, strided_body, &c);
}

typedef struct add_ctx {
    float *dx;
    const float *dy;
} add_ctx;

static void add_range(void *vc, int64_t b, int64_t e) {
    const add_ctx *c = vc;
    for (int64_t i = b; i < e; i++) c->dx[i] += c->dy[i];
}

int zf_copy_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    add_ctx c = {dx, dy};
    zf_exec_range(ex, zf_tensor_numel(&v[n->in[0]].t), add_range, &c);
    return 0;
}
