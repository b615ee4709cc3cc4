// index_ops.c: Concat, Gather, Slice, Pad (see index_ops.h).
#include <string.h>
#include "index_ops.h"
#include "op_util.h"
#include "proj.h"
#include "../onnx/onnx.h"

static void set_out(zf_tensor *t, zf_dtype dt, int nd, const int64_t *dims) {
    t->dtype = dt;
    t->ndim = nd;
    memset(t->dims, 0, sizeof t->dims);
    for (int i = 0; i < nd; i++) t->dims[i] = dims[i];
}

static int io0(const zf_tensor **x, zf_tensor **y, const zf_node *n, zf_value *v, zf_error *err) {
    if (!zf_has_input(n, 0)) return zf_fail(err, ZF_ERR_INPUT, "input is missing");
    if (n->n_out < 1 || n->out[0] < 0) return zf_fail(err, ZF_ERR_INPUT, "output is missing");
    *x = &v[n->in[0]].t;
    *y = &v[n->out[0]].t;
    return 0;
}

// --- Concat -------------------------------------------------------------------------------------

// x (outer, dx, inner) -> out[:, off:off+dx, :] of out (outer, dout, inner)
void zf_concat_copy(void *out, const void *x, int64_t outer, int64_t dout, int64_t off, int64_t dx, int64_t inner,
                    size_t elem) {
    size_t row = (size_t)(dx * inner) * elem;
    if (row == 0) return;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out + (size_t)((o * dout + off) * inner) * elem, (const char *)x + (size_t)o * row, row);
}

static int concat_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_concat_params *p = params;
    if (!zf_onnx_attr_find(n, "axis")) return zf_fail(err, ZF_ERR_INPUT, "attribute 'axis' is missing");
    return zf_onnx_attr_int(&p->axis, n, "axis", 0, err);
}

static int concat_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_concat_params *p = n->params;
    const zf_tensor *x0;
    zf_tensor *y;
    if (io0(&x0, &y, n, v, err)) return err->code;
    int64_t axis = p->axis;
    if (zf_axis_normalize(&axis, x0->ndim, "axis", err)) return err->code;
    int64_t dims[ZF_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!zf_has_input(n, i)) return zf_fail(err, ZF_ERR_INPUT, "input %d is missing", i);
        const zf_tensor *x = &v[n->in[i]].t;
        int ok = x->dtype == x0->dtype && x->ndim == x0->ndim;
        for (int d = 0; ok && d < x->ndim; d++) ok = d == axis || x->dims[d] == x0->dims[d];
        if (!ok) {
            char b0[160], b1[160];
            return zf_fail(err, ZF_ERR_INPUT, "input %d %s%s does not match input 0 %s%s outside axis %lld", i,
                           x->dtype == ZF_I64 ? "int64 " : "", zf_shape_str(b1, sizeof b1, x->ndim, x->dims),
                           x0->dtype == ZF_I64 ? "int64 " : "", zf_shape_str(b0, sizeof b0, x0->ndim, x0->dims),
                           (long long)axis);
        }
        dims[axis] += x->dims[axis];
    }
    set_out(y, x0->dtype, x0->ndim, dims);
    return 0;
}

static int concat_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_concat_params *p = n->params;
    zf_tensor *y = &v[n->out[0]].t;
    int64_t axis = p->axis < 0 ? p->axis + y->ndim : p->axis;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = (int)axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        const zf_tensor *x = &v[n->in[i]].t;
        zf_concat_copy(y->data, x->data, outer, y->dims[axis], off, x->dims[axis], inner, zf_dtype_size(y->dtype));
        off += x->dims[axis];
    }
    return 0;
}

// Channel concat (Inception, DenseNet): a unit sees what any input saw at its position. Concat
// along H or W puts different positions side by side: no single box describes it.
static void concat_rf(const zf_node *n, zf_value *v) {
    const zf_concat_params *p = n->params;
    zf_value *y = &v[n->out[0]];
    zf_rf r = {0};
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0) zf_rf_union(&r, &r, &v[n->in[i]].rf);
    int64_t axis = p->axis < 0 ? p->axis + y->t.ndim : p->axis;
    if (r.valid && axis >= y->t.ndim - 2) r.global = 1;
    y->rf = r;
}

// Projection (every rule): each input takes its own slice of the signal along the axis; an input
// whose slice misses the output's box gets nothing (an Inception branch the seed is not in).
static int64_t concat_axis(const zf_node *n, const zf_tensor *y) {
    const zf_concat_params *p = n->params;
    return p->axis < 0 ? p->axis + y->ndim : p->axis;
}

static void concat_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_proj_slot *y = &a->out[0];
    int64_t axis = concat_axis(n, y->t), off = 0;
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *x = &a->in[k];
        int64_t dx = x->t ? x->t->dims[axis] : 0, o = off;
        off += dx;
        if (!x->on) continue;
        if (!y->on) {
            x->on = 0;
            continue;
        }
        x->box = y->box;
        int64_t lo = y->box.lo[axis] > o ? y->box.lo[axis] : o, hi = y->box.hi[axis] < o + dx ? y->box.hi[axis] : o + dx;
        x->box.lo[axis] = lo - o;
        x->box.hi[axis] = hi > lo ? hi - o : lo - o;
    }
}

static int concat_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_proj_slot *y = &a->out[0];
    if (!y->on) return 0;
    int nd = y->t->ndim;
    int64_t axis = concat_axis(n, y->t), off = 0, ostr[ZF_MAX_DIMS];
    zf_contiguous_strides(ostr, nd, y->t->dims);
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *x = &a->in[k];
        int64_t o = off;
        off += x->t->dims[axis];
        if (!x->on) continue;
        zf_box_iter it;
        for (zf_box_iter_begin(&it, x->t, &x->box); !it.done; zf_box_iter_next(&it)) {
            int64_t yo = o * ostr[axis];
            for (int d = 0; d < nd; d++) yo += it.idx[d] * ostr[d];
            const float *go = y->g + yo;
            float *gi = x->g + it.off;
            for (int64_t i = 0; i < it.len; i++) gi[i] += go[i];
        }
    }
    return 0;
}

// Backward (training, core/train.h): each input's gradient += its slice of the output's.
static int concat_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    if (!dy) return 0;
    const zf_tensor *y = &v[n->out[0]].t;
    int64_t axis = concat_axis(n, y), outer = 1, inner = 1, off = 0;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = (int)axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    for (int k = 0; k < n->n_in; k++) {
        const zf_tensor *x = &v[n->in[k]].t;
        float *dx = zf_grad_in(grad, n, k);
        int64_t row = x->dims[axis] * inner;
        if (dx)
            for (int64_t o = 0; o < outer; o++) {
                const float *s = dy + (o * y->dims[axis] + off) * inner;
                float *d = dx + o * row;
                for (int64_t i = 0; i < row; i++) d[i] += s[i];
            }
        off += x->dims[axis];
    }
    return 0;
}

const zf_op zf_op_concat = {.type = "Concat", .params_size = sizeof(zf_concat_params), .parse = concat_parse,
                            .shape = concat_shape, .forward = concat_forward, .rf = concat_rf,
                            .box_back = concat_box_back, .project = concat_project,
                .backward = concat_backward};

// --- Gather -------------------------------------------------------------------------------------

// data (outer, n_axis, inner), idx (n_idx) -> out (outer, n_idx, inner)
int zf_gather(void *out, const void *data, const int64_t *idx, int64_t outer, int64_t n_axis, int64_t n_idx,
              int64_t inner, size_t elem, zf_error *err) {
    for (int64_t j = 0; j < n_idx; j++)
        if (idx[j] < -n_axis || idx[j] >= n_axis)
            return zf_fail(err, ZF_ERR_INPUT, "index %lld is out of range for an axis of size %lld",
                           (long long)idx[j], (long long)n_axis);
    size_t row = (size_t)inner * elem;
    if (row == 0) return 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n_idx; j++) {
            int64_t k = idx[j] < 0 ? idx[j] + n_axis : idx[j];
            memcpy((char *)out + (size_t)(o * n_idx + j) * row, (const char *)data + (size_t)(o * n_axis + k) * row,
                   row);
        }
    return 0;
}

static int gather_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_gather_params *p = params;
    return zf_onnx_attr_int(&p->axis, n, "axis", 0, err);
}

static int gather_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_gather_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    if (!zf_has_input(n, 1)) return zf_fail(err, ZF_ERR_INPUT, "indices input is missing");
    const zf_tensor *idx = &v[n->in[1]].t;
    if (idx->dtype != ZF_I64) return zf_fail(err, ZF_ERR_INPUT, "indices must be integers, got a float tensor");
    if (x->ndim < 1) return zf_fail(err, ZF_ERR_INPUT, "data must have rank >= 1, got a scalar");
    int64_t axis = p->axis;
    if (zf_axis_normalize(&axis, x->ndim, "axis", err)) return err->code;
    int r = x->ndim - 1 + idx->ndim;
    if (r > ZF_MAX_DIMS) return zf_fail(err, ZF_ERR_INPUT, "output would have rank %d, at most %d", r, ZF_MAX_DIMS);
    int64_t dims[ZF_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) dims[k++] = x->dims[d];
    for (int d = 0; d < idx->ndim; d++) dims[k++] = idx->dims[d];
    for (int d = (int)axis + 1; d < x->ndim; d++) dims[k++] = x->dims[d];
    set_out(y, x->dtype, r, dims);
    return 0;
}

static int gather_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_gather_params *p = n->params;
    const zf_tensor *x = &v[n->in[0]].t, *idx = &v[n->in[1]].t;
    int64_t axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    return zf_gather(v[n->out[0]].t.data, x->data, zf_i64(idx), outer, x->dims[axis], zf_tensor_numel(idx), inner,
                     zf_dtype_size(x->dtype), err);
}

// Picking along a leading axis (a channel, a batch item) keeps H and W; anything else is an index
// computation or loses the layout.
static void gather_rf(const zf_node *n, zf_value *v) {
    const zf_value *x = &v[n->in[0]];
    zf_value *y = &v[n->out[0]];
    y->rf = x->rf;
    if (!y->rf.valid || y->rf.global) return;
    const zf_gather_params *p = n->params;
    int64_t axis = p->axis < 0 ? p->axis + x->t.ndim : p->axis;
    int r = x->t.ndim, ry = y->t.ndim;
    int keep = r >= 2 && ry >= 2 && axis < r - 2 && y->t.dims[ry - 2] == x->t.dims[r - 2] &&
               y->t.dims[ry - 1] == x->t.dims[r - 1];
    if (!keep) memset(&y->rf, 0, sizeof y->rf);
}

// Projection (every rule): each gathered slice's signal goes back to the slice it was taken from.
// Output axes before `axis` and after the index axes keep their box; the gathered axis is whole.
static void gather_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_gather_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    a->in[1].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    int64_t axis = p->axis < 0 ? p->axis + x->t->ndim : p->axis, ni = a->in[1].t->ndim;
    for (int d = 0; d < x->t->ndim; d++) {
        int od = d < axis ? d : (int)(d - 1 + ni);
        x->box.lo[d] = d == axis ? 0 : y->box.lo[od];
        x->box.hi[d] = d == axis ? x->t->dims[d] : y->box.hi[od];
    }
}

static int gather_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_gather_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    const zf_tensor *idx = a->in[1].t;
    int64_t axis = p->axis < 0 ? p->axis + x->t->ndim : p->axis, inner = 1;
    for (int d = (int)axis + 1; d < x->t->ndim; d++) inner *= x->t->dims[d];
    int64_t n_axis = x->t->dims[axis], n_idx = zf_tensor_numel(idx);
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it))
        for (int64_t e = 0; e < it.len; e++) {
            int64_t f = it.off + e, i = f % inner, j = f / inner % n_idx, o = f / inner / n_idx;
            int64_t k = zf_i64(idx)[j] < 0 ? zf_i64(idx)[j] + n_axis : zf_i64(idx)[j];
            x->g[(o * n_axis + k) * inner + i] += y->g[f];
        }
    return 0;
}

const zf_op zf_op_gather = {.type = "Gather", .params_size = sizeof(zf_gather_params), .parse = gather_parse,
                            .shape = gather_shape, .forward = gather_forward, .rf = gather_rf,
                            .box_back = gather_box_back, .project = gather_project};

// --- Slice --------------------------------------------------------------------------------------

void zf_slice_axis(int64_t *start, int64_t *len, int64_t s, int64_t e, int64_t step, int64_t dim) {
    *start = 0;
    *len = 0;
    if (dim <= 0) return;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
        s = s < 0 ? 0 : s > dim ? dim : s;
        e = e < 0 ? 0 : e > dim ? dim : e;
        if (e > s) *len = (e - s - 1) / step + 1;
    } else {
        s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        if (s > e) *len = (int64_t)((uint64_t)(s - e - 1) / ((uint64_t)0 - (uint64_t)step)) + 1;
    }
    *start = *len ? s : 0;
}

// x (in_dims) -> out (out_dims)
void zf_slice(void *out, const void *x, size_t elem, int nd, const int64_t *in_dims, const int64_t *out_dims,
              const int64_t *start, const int64_t *step, const zf_exec *ex) {
    int64_t istr[ZF_MAX_DIMS], ostr[ZF_MAX_DIMS], sstr[ZF_MAX_DIMS], base = 0;
    zf_contiguous_strides(istr, nd, in_dims);
    zf_contiguous_strides(ostr, nd, out_dims);
    for (int d = 0; d < nd; d++) {
        base += start[d] * istr[d];
        sstr[d] = step[d] * istr[d];
    }
    zf_strided_copy(out, 0, ostr, x, base, sstr, nd, out_dims, elem, ex);
}

static int slice_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_slice_params *p = params;
    if (!zf_onnx_attr_find(n, "starts")) return 0;   // opset >= 10: inputs
    int ns, ne, na;
    p->has_attr = 1;
    if (zf_onnx_attr_ints(p->starts, &ns, ZF_MAX_DIMS, n, "starts", err) ||
        zf_onnx_attr_ints(p->ends, &ne, ZF_MAX_DIMS, n, "ends", err) ||
        zf_onnx_attr_ints(p->axes, &na, ZF_MAX_DIMS, n, "axes", err))
        return err->code;
    p->has_axes = zf_onnx_attr_find(n, "axes") != NULL;
    if (ns != ne || (p->has_axes && na != ns))
        return zf_fail(err, ZF_ERR_INPUT, "starts, ends and axes have different lengths (%d, %d, %d)", ns, ne, na);
    p->n = ns;
    return 0;
}

static int slice_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_slice_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    const int64_t *starts = p->starts, *ends = p->ends, *axes = p->has_axes ? p->axes : NULL, *steps = NULL;
    int64_t count = p->n;
    if (!p->has_attr) {
        int64_t ce, ca, cs;
        if (zf_const_i64_input(&starts, &count, n, v, 1, "starts", err) ||
            zf_const_i64_input(&ends, &ce, n, v, 2, "ends", err))
            return err->code;
        if (ce != count) return zf_fail(err, ZF_ERR_INPUT, "starts has %lld values, ends %lld", (long long)count,
                                        (long long)ce);
        if (zf_has_input(n, 3)) {
            if (zf_const_i64_input(&axes, &ca, n, v, 3, "axes", err)) return err->code;
            if (ca != count) return zf_fail(err, ZF_ERR_INPUT, "starts has %lld values, axes %lld", (long long)count,
                                            (long long)ca);
        }
        if (zf_has_input(n, 4)) {
            if (zf_const_i64_input(&steps, &cs, n, v, 4, "steps", err)) return err->code;
            if (cs != count) return zf_fail(err, ZF_ERR_INPUT, "starts has %lld values, steps %lld", (long long)count,
                                            (long long)cs);
        }
    }
    if (count > x->ndim)
        return zf_fail(err, ZF_ERR_INPUT, "%lld slice axes for a rank-%d input", (long long)count, x->ndim);
    int64_t dims[ZF_MAX_DIMS];
    int seen[ZF_MAX_DIMS] = {0};
    for (int d = 0; d < x->ndim; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        dims[d] = x->dims[d];
    }
    for (int i = 0; i < count; i++) {
        int64_t a = axes ? axes[i] : i;
        if (zf_axis_normalize(&a, x->ndim, "axes value", err)) return err->code;
        if (seen[a]) return zf_fail(err, ZF_ERR_INPUT, "axis %lld appears twice", (long long)a);
        seen[a] = 1;
        int64_t step = steps ? steps[i] : 1;
        if (step == 0) return zf_fail(err, ZF_ERR_INPUT, "steps[%d] is 0", i);
        zf_slice_axis(&p->start[a], &dims[a], starts[i], ends[i], step, x->dims[a]);
        p->step[a] = step;
    }
    set_out(y, x->dtype, x->ndim, dims);
    return 0;
}

static int slice_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_slice_params *p = n->params;
    const zf_tensor *x = &v[n->in[0]].t;
    zf_tensor *y = &v[n->out[0]].t;
    zf_slice(y->data, x->data, zf_dtype_size(x->dtype), x->ndim, x->dims, y->dims, p->start, p->step, ex);
    return 0;
}

// Output unit i along a spatial axis is input unit start + i*step: the box moves by start*jump and
// the stride grows by step. A reversed axis cannot be described by (offset, jump).
static void slice_rf(const zf_node *n, zf_value *v) {
    const zf_slice_params *p = n->params;
    const zf_value *x = &v[n->in[0]];
    zf_rf *r = &v[n->out[0]].rf;
    *r = x->rf;
    if (!r->valid || r->global) return;
    int nd = x->t.ndim;
    for (int d = 0; d < nd; d++) {
        if (p->start[d] == 0 && p->step[d] == 1) continue;
        if (d < nd - 2) continue;
        if (nd < 2) {
            r->global = 1;
            return;
        }
        int a = d - (nd - 2);
        if (p->step[d] < 0) {
            r->global = 1;
            return;
        }
        r->offset[a] += p->start[d] * x->rf.jump[a];
        r->jump[a] = x->rf.jump[a] * p->step[d];
    }
}

// Projection (every rule): output element i of an axis came from input start + i*step.
static void slice_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_slice_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    for (int d = 0; d < x->t->ndim; d++) {
        int64_t f = p->start[d] + y->box.lo[d] * p->step[d], l = p->start[d] + (y->box.hi[d] - 1) * p->step[d];
        if (y->box.hi[d] <= y->box.lo[d]) {
            x->box.lo[d] = x->box.hi[d] = 0;
            continue;
        }
        x->box.lo[d] = f < l ? f : l;
        x->box.hi[d] = (f < l ? l : f) + 1;
    }
}

static int slice_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_slice_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    int nd = x->t->ndim;
    int64_t istr[ZF_MAX_DIMS];
    zf_contiguous_strides(istr, nd, x->t->dims);
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it)) {
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += (p->start[d] + it.idx[d] * p->step[d]) * istr[d];
        const int64_t step = nd ? p->step[nd - 1] * istr[nd - 1] : 0;
        for (int64_t i = 0; i < it.len; i++) x->g[off + i * step] += y->g[it.off + i];
    }
    return 0;
}

const zf_op zf_op_slice = {.type = "Slice", .params_size = sizeof(zf_slice_params), .parse = slice_parse,
                           .shape = slice_shape, .forward = slice_forward, .rf = slice_rf,
                           .box_back = slice_box_back, .project = slice_project};

// --- Pad ----------------------------------------------------------------------------------------

// Index j of a padded axis -> index into an axis of size n >= 1.
static int64_t pad_map(int64_t j, int64_t n, zf_pad_mode mode) {
    if (j >= 0 && j < n) return j;
    switch (mode) {
    case ZF_PAD_EDGE: return j < 0 ? 0 : n - 1;
    case ZF_PAD_WRAP: return ((j % n) + n) % n;
    default: {   // reflect about the first and last element (numpy "reflect")
        if (n == 1) return 0;
        int64_t period = 2 * (n - 1);
        j = ((j % period) + period) % period;
        return j < n ? j : period - j;
    }
    }
}

typedef struct pad_ctx {
    char *out;
    const char *x;
    size_t elem;
    int nd;
    const int64_t *in_dims, *out_dims, *begin;
    int64_t istr[ZF_MAX_DIMS];
    zf_pad_mode mode;
} pad_ctx;

// Output rows [begin, end) (a row = the last axis), reflect/edge/wrap modes.
static void pad_rows(void *vctx, int64_t rb, int64_t re) {
    const pad_ctx *c = vctx;
    int nd = c->nd;
    int64_t w = c->out_dims[nd - 1], iw = c->in_dims[nd - 1], b = c->begin[nd - 1];
    for (int64_t row = rb; row < re; row++) {
        int64_t rem = row, off = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % c->out_dims[d];
            rem /= c->out_dims[d];
            off += pad_map(i - c->begin[d], c->in_dims[d], c->mode) * c->istr[d];
        }
        char *o = c->out + (size_t)(row * w) * c->elem;
        for (int64_t k = 0; k < w; k++)
            memcpy(o + (size_t)k * c->elem, c->x + (size_t)(off + pad_map(k - b, iw, c->mode)) * c->elem, c->elem);
    }
}

// x (in_dims) -> out (out_dims)
void zf_pad(void *out, const void *x, zf_dtype dt, int nd, const int64_t *in_dims, const int64_t *out_dims,
            const int64_t *begin, zf_pad_mode mode, double value, const zf_exec *ex) {
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) numel *= out_dims[d];
    if (numel == 0) return;
    size_t elem = zf_dtype_size(dt);
    if (nd == 0) {
        memcpy(out, x, elem);
        return;
    }
    if (mode != ZF_PAD_CONSTANT) {
        pad_ctx c = {out, x, elem, nd, in_dims, out_dims, begin, {0}, mode};
        zf_contiguous_strides(c.istr, nd, in_dims);
        int64_t rows = numel / out_dims[nd - 1];
        if (ex && ex->pool && numel >= ZF_PARALLEL_MIN && rows > 1) zf_parallel_for(ex->pool, rows, pad_rows, &c);
        else pad_rows(&c, 0, rows);
        return;
    }
    if (dt == ZF_F32) for (int64_t i = 0; i < numel; i++) ((float *)out)[i] = (float)value;
    else for (int64_t i = 0; i < numel; i++) ((int64_t *)out)[i] = (int64_t)value;
    // Then the part of x that survives the crop, into its place.
    int64_t istr[ZF_MAX_DIMS], ostr[ZF_MAX_DIMS], dims[ZF_MAX_DIMS], ibase = 0, obase = 0;
    zf_contiguous_strides(istr, nd, in_dims);
    zf_contiguous_strides(ostr, nd, out_dims);
    for (int d = 0; d < nd; d++) {
        int64_t lo_o = begin[d] > 0 ? begin[d] : 0, lo_i = begin[d] < 0 ? -begin[d] : 0;
        int64_t len = out_dims[d] - lo_o < in_dims[d] - lo_i ? out_dims[d] - lo_o : in_dims[d] - lo_i;
        if (len <= 0) return;
        dims[d] = len;
        obase += lo_o * ostr[d];
        ibase += lo_i * istr[d];
    }
    zf_strided_copy(out, obase, ostr, x, ibase, istr, nd, dims, elem, ex);
}

static int pad_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_pad_params *p = params;
    const char *mode;
    if (zf_onnx_attr_string(&mode, n, "mode", "constant", err)) return err->code;
    if (!strcmp(mode, "constant")) p->mode = ZF_PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) p->mode = ZF_PAD_REFLECT;
    else if (!strcmp(mode, "edge")) p->mode = ZF_PAD_EDGE;
    else if (!strcmp(mode, "wrap")) p->mode = ZF_PAD_WRAP;
    else return zf_fail(err, ZF_ERR_INPUT, "mode '%.40s' is not supported (constant, reflect, edge, wrap)", mode);
    const char *name = zf_onnx_attr_find(n, "pads") ? "pads" : zf_onnx_attr_find(n, "paddings") ? "paddings" : NULL;
    if (name) {
        p->has_attr = 1;
        if (zf_onnx_attr_ints(p->pads, &p->n_pads, 2 * ZF_MAX_DIMS, n, name, err)) return err->code;
    }
    return zf_onnx_attr_float(&p->value, n, "value", 0.0f, err);
}

static int pad_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_pad_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    const int64_t *pads = p->pads, *axes = NULL;
    int64_t count = p->n_pads, n_axes = x->ndim;
    if (!p->has_attr) {
        if (zf_const_i64_input(&pads, &count, n, v, 1, "pads", err)) return err->code;
        if (zf_has_input(n, 3) && zf_const_i64_input(&axes, &n_axes, n, v, 3, "axes", err)) return err->code;
        if (zf_has_input(n, 2)) {
            const zf_tensor *c = &v[n->in[2]].t;
            if (c->dtype != x->dtype || zf_tensor_numel(c) > 1)
                return zf_fail(err, ZF_ERR_INPUT, "constant_value must be a scalar of the input's element type");
        }
    }
    if (count != 2 * n_axes)
        return zf_fail(err, ZF_ERR_INPUT, "pads has %lld values, expected %lld (2 per axis)", (long long)count,
                       (long long)(2 * n_axes));
    int64_t dims[ZF_MAX_DIMS];
    int seen[ZF_MAX_DIMS] = {0};
    for (int d = 0; d < x->ndim; d++) {
        p->begin[d] = 0;
        dims[d] = x->dims[d];
    }
    for (int i = 0; i < n_axes; i++) {
        int64_t a = axes ? axes[i] : i;
        if (zf_axis_normalize(&a, x->ndim, "axes value", err)) return err->code;
        if (seen[a]) return zf_fail(err, ZF_ERR_INPUT, "axis %lld appears twice", (long long)a);
        seen[a] = 1;
        int64_t b = pads[i], e = pads[i + n_axes];
        long long lim = 1LL << 40;   // keeps the sum below from overflowing; real pads are tiny
        if (b < -lim || b > lim || e < -lim || e > lim)
            return zf_fail(err, ZF_ERR_INPUT, "pads for axis %lld are out of range", (long long)a);
        dims[a] = x->dims[a] + b + e;
        if (dims[a] < 0)
            return zf_fail(err, ZF_ERR_INPUT, "pads %lld and %lld crop more than the %lld elements of axis %lld",
                           (long long)b, (long long)e, (long long)x->dims[a], (long long)a);
        if (p->mode != ZF_PAD_CONSTANT && x->dims[a] == 0 && dims[a] > 0)
            return zf_fail(err, ZF_ERR_INPUT, "cannot pad an empty axis in this mode");
        p->begin[a] = b;
    }
    set_out(y, x->dtype, x->ndim, dims);
    return 0;
}

static int pad_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_pad_params *p = n->params;
    const zf_tensor *x = &v[n->in[0]].t;
    zf_tensor *y = &v[n->out[0]].t;
    double value = p->value;
    if (!p->has_attr && zf_has_input(n, 2)) {
        const zf_tensor *c = &v[n->in[2]].t;
        if (zf_tensor_numel(c) == 1) value = c->dtype == ZF_F32 ? (double)zf_f32(c)[0] : (double)zf_i64(c)[0];
    }
    zf_pad(y->data, x->data, x->dtype, x->ndim, x->dims, y->dims, p->begin, p->mode, value, ex);
    return 0;
}

// Output unit i along a spatial axis is input unit i - begin.
static void pad_rf(const zf_node *n, zf_value *v) {
    const zf_pad_params *p = n->params;
    const zf_value *x = &v[n->in[0]];
    zf_rf *r = &v[n->out[0]].rf;
    *r = x->rf;
    if (!r->valid || r->global || x->t.ndim < 2) return;
    for (int a = 0; a < 2; a++) r->offset[a] -= p->begin[x->t.ndim - 2 + a] * x->rf.jump[a];
}

// Projection (every rule): the signal of a position inside x goes back to it; a constant pad
// drops the rest, reflect/edge/wrap send it to the element they copied.
static void pad_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_pad_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    for (int d = 0; d < x->t->ndim; d++) {
        int64_t nx = x->t->dims[d], lo = y->box.lo[d] - p->begin[d], hi = y->box.hi[d] - p->begin[d];
        if (p->mode != ZF_PAD_CONSTANT && (lo < 0 || hi > nx)) {
            lo = 0;   // mirrored or wrapped positions may land anywhere on the axis
            hi = nx;
        }
        x->box.lo[d] = lo < 0 ? 0 : lo > nx ? nx : lo;
        x->box.hi[d] = hi < 0 ? 0 : hi > nx ? nx : hi;
    }
}

static int pad_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_pad_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    int nd = x->t->ndim;
    int64_t istr[ZF_MAX_DIMS];
    zf_contiguous_strides(istr, nd, x->t->dims);
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it)) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < nd - 1 && inside; d++) {
            int64_t j = it.idx[d] - p->begin[d];
            if (j < 0 || j >= x->t->dims[d]) {
                if (p->mode == ZF_PAD_CONSTANT || x->t->dims[d] == 0) inside = 0;
                else j = pad_map(j, x->t->dims[d], p->mode);
            }
            off += j * istr[d];
        }
        if (!inside) continue;
        int64_t nl = nd ? x->t->dims[nd - 1] : 1, bl = nd ? p->begin[nd - 1] : 0;
        for (int64_t i = 0; i < it.len; i++) {
            int64_t j = (nd ? it.idx[nd - 1] : 0) + i - bl;
            if (j < 0 || j >= nl) {
                if (p->mode == ZF_PAD_CONSTANT || nl == 0) continue;
                j = pad_map(j, nl, p->mode);
            }
            x->g[off + j] += y->g[it.off + i];
        }
    }
    return 0;
}

const zf_op zf_op_pad = {.type = "Pad", .params_size = sizeof(zf_pad_params), .parse = pad_parse,
                         .shape = pad_shape, .forward = pad_forward, .rf = pad_rf,
                         .box_back = pad_box_back, .project = pad_project};
