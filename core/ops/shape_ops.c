// shape_ops.c: Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Shape, Constant, ConstantOfShape,
// Cast (see shape_ops.h).
#include <string.h>
#include "shape_ops.h"
#include "op_util.h"
#include "proj.h"
#include "../onnx/onnx.h"

// --- shared pieces ------------------------------------------------------------------------------

static void set_out(zf_tensor *t, zf_dtype dt, int nd, const int64_t *dims) {
    t->dtype = dt;
    t->ndim = nd;
    memset(t->dims, 0, sizeof t->dims);
    for (int i = 0; i < nd; i++) t->dims[i] = dims[i];
}

// Checks that input 0 and output 0 exist and returns input 0.
static int io0(const zf_tensor **x, zf_tensor **y, const zf_node *n, zf_value *v, zf_error *err) {
    if (!zf_has_input(n, 0)) return zf_fail(err, ZF_ERR_INPUT, "input is missing");
    if (n->n_out < 1 || n->out[0] < 0) return zf_fail(err, ZF_ERR_INPUT, "output is missing");
    *x = &v[n->in[0]].t;
    *y = &v[n->out[0]].t;
    return 0;
}

// Output 0 = input 0's data (Flatten, Reshape, Squeeze, Unsqueeze only change the shape).
static int copy_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = &v[n->in[0]].t;
    zf_tensor *y = &v[n->out[0]].t;
    size_t bytes = (size_t)zf_tensor_numel(x) * zf_dtype_size(x->dtype);
    if (bytes && y->data != x->data) memcpy(y->data, x->data, bytes);
    return 0;
}

static void layout_rf(const zf_node *n, zf_value *v) {
    const zf_value *x = &v[n->in[0]];
    zf_rf_layout(&v[n->out[0]].rf, &x->rf, &x->t, &v[n->out[0]].t);
}

// Shapes, constants and int64 results carry no spatial layout.
static void no_rf(const zf_node *n, zf_value *v) {
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0) memset(&v[n->out[o]].rf, 0, sizeof v[n->out[o]].rf);
}

static int read_ints_attr(int64_t *out, int *count, int *present, const zf_onnx_node *n, const char *name,
                          zf_error *err) {
    const zf_onnx_attr *a = zf_onnx_attr_find(n, name);
    *present = a != NULL;
    *count = 0;
    if (!a) return 0;
    return zf_onnx_attr_ints(out, count, ZF_MAX_DIMS, n, name, err);
}

// --- Flatten ------------------------------------------------------------------------------------

static int flatten_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_flatten_params *p = params;
    return zf_onnx_attr_int(&p->axis, n, "axis", 1, err);
}

static int flatten_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_flatten_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    int64_t axis = p->axis;
    if (axis < -x->ndim || axis > x->ndim)
        return zf_fail(err, ZF_ERR_INPUT, "axis %lld is out of range for a rank-%d input", (long long)axis, x->ndim);
    if (axis < 0) axis += x->ndim;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++) d[i >= axis] *= x->dims[i];
    set_out(y, x->dtype, 2, d);
    return 0;
}

const zf_op zf_op_flatten = {.type = "Flatten", .params_size = sizeof(zf_flatten_params), .parse = flatten_parse,
                             .shape = flatten_shape, .forward = copy_forward, .rf = layout_rf,
                             .box_back = zf_proj_box_reshape, .project = zf_proj_reshape,
                .backward = zf_copy_backward};

// --- Reshape ------------------------------------------------------------------------------------

int zf_reshape_dims(int *ndim, int64_t *dims, int in_ndim, const int64_t *in_dims, int n_shape,
                    const int64_t *shape, int allowzero, zf_error *err) {
    char b1[160], b2[160];
    if (n_shape > ZF_MAX_DIMS)
        return zf_fail(err, ZF_ERR_INPUT, "target shape has %d dimensions, at most %d supported", n_shape, ZF_MAX_DIMS);
    long long total = 1, known = 1;
    for (int i = 0; i < in_ndim; i++) total *= in_dims[i];
    int infer = -1;
    for (int i = 0; i < n_shape; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            if (i >= in_ndim)
                return zf_fail(err, ZF_ERR_INPUT, "shape[%d] is 0 (copy the input dimension) but the input %s has "
                               "rank %d", i, zf_shape_str(b1, sizeof b1, in_ndim, in_dims), in_ndim);
            d = in_dims[i];
        }
        if (d == -1) {
            if (infer >= 0) return zf_fail(err, ZF_ERR_INPUT, "shape has more than one -1 (at %d and %d)", infer, i);
            infer = i;
            dims[i] = 1;
            continue;
        }
        if (d < -1) return zf_fail(err, ZF_ERR_INPUT, "shape[%d] is %lld", i, (long long)d);
        if (zf_mul_overflow(known, d, &known))
            return zf_fail(err, ZF_ERR_INPUT, "target shape %s overflows", zf_shape_str(b1, sizeof b1, n_shape, shape));
        dims[i] = d;
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return zf_fail(err, ZF_ERR_INPUT, "cannot reshape %s to %s: the -1 cannot be inferred",
                           zf_shape_str(b1, sizeof b1, in_ndim, in_dims), zf_shape_str(b2, sizeof b2, n_shape, shape));
        dims[infer] = total / known;
    } else if (known != total) {
        return zf_fail(err, ZF_ERR_INPUT, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                       zf_shape_str(b1, sizeof b1, in_ndim, in_dims), total, zf_shape_str(b2, sizeof b2, n_shape, dims),
                       known);
    }
    *ndim = n_shape;
    return 0;
}

static int reshape_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_reshape_params *p = params;
    int64_t az;
    if (zf_onnx_attr_int(&az, n, "allowzero", 0, err)) return err->code;
    p->allowzero = az != 0;
    return read_ints_attr(p->shape, &p->n_shape, &p->has_attr, n, "shape", err);
}

static int reshape_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_reshape_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    const int64_t *shape = p->shape;
    int64_t count = p->n_shape;
    if (!p->has_attr && zf_const_i64_input(&shape, &count, n, v, 1, "shape", err)) return err->code;
    if (count > ZF_MAX_DIMS)
        return zf_fail(err, ZF_ERR_INPUT, "target shape has %lld dimensions, at most %d supported", (long long)count,
                       ZF_MAX_DIMS);
    int nd;
    int64_t dims[ZF_MAX_DIMS];
    if (zf_reshape_dims(&nd, dims, x->ndim, x->dims, (int)count, shape, p->allowzero, err)) return err->code;
    set_out(y, x->dtype, nd, dims);
    return 0;
}

const zf_op zf_op_reshape = {.type = "Reshape", .params_size = sizeof(zf_reshape_params), .parse = reshape_parse,
                             .shape = reshape_shape, .forward = copy_forward, .rf = layout_rf,
                             .box_back = zf_proj_box_reshape, .project = zf_proj_reshape,
                .backward = zf_copy_backward};

// --- Squeeze / Unsqueeze ------------------------------------------------------------------------

static int axes_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_axes_params *p = params;
    return read_ints_attr(p->axes, &p->n_axes, &p->has_attr, n, "axes", err);
}

// Axes from the attribute or (opset >= 13) the optional constant input 1; *given = 0 when neither.
static int get_axes(const int64_t **axes, int *count, int *given, const zf_node *n, const zf_value *v,
                    zf_error *err) {
    const zf_axes_params *p = n->params;
    *axes = p->axes;
    *count = p->n_axes;
    *given = p->has_attr;
    if (p->has_attr || !zf_has_input(n, 1)) return 0;
    int64_t c;
    if (zf_const_i64_input(axes, &c, n, v, 1, "axes", err)) return err->code;
    if (c > ZF_MAX_DIMS) return zf_fail(err, ZF_ERR_INPUT, "axes has %lld values", (long long)c);
    *count = (int)c;
    *given = 1;
    return 0;
}

static int squeeze_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    const int64_t *axes;
    int count, given;
    if (get_axes(&axes, &count, &given, n, v, err)) return err->code;
    int drop[ZF_MAX_DIMS] = {0};
    if (!given) {
        for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1;
    }
    for (int k = 0; k < count; k++) {
        int64_t a = axes[k];
        if (zf_axis_normalize(&a, x->ndim, "axes value", err)) return err->code;
        if (x->dims[a] != 1) {
            char b[160];
            return zf_fail(err, ZF_ERR_INPUT, "cannot squeeze axis %lld of input %s: its size is %lld, not 1",
                           (long long)axes[k], zf_shape_str(b, sizeof b, x->ndim, x->dims), (long long)x->dims[a]);
        }
        drop[a] = 1;
    }
    int nd = 0;
    int64_t dims[ZF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i]) dims[nd++] = x->dims[i];
    set_out(y, x->dtype, nd, dims);
    return 0;
}

const zf_op zf_op_squeeze = {.type = "Squeeze", .params_size = sizeof(zf_axes_params), .parse = axes_parse,
                             .shape = squeeze_shape, .forward = copy_forward, .rf = layout_rf,
                             .box_back = zf_proj_box_reshape, .project = zf_proj_reshape,
                .backward = zf_copy_backward};

static int unsqueeze_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    const int64_t *axes;
    int count, given;
    if (get_axes(&axes, &count, &given, n, v, err)) return err->code;
    if (!given) return zf_fail(err, ZF_ERR_INPUT, "axes are missing");
    int r = x->ndim + count;
    if (r > ZF_MAX_DIMS)
        return zf_fail(err, ZF_ERR_INPUT, "output would have rank %d, at most %d supported", r, ZF_MAX_DIMS);
    int ins[ZF_MAX_DIMS] = {0};
    for (int k = 0; k < count; k++) {
        int64_t a = axes[k];
        if (zf_axis_normalize(&a, r, "axes value", err)) return err->code;
        if (ins[a]) return zf_fail(err, ZF_ERR_INPUT, "axis %lld is repeated", (long long)axes[k]);
        ins[a] = 1;
    }
    int64_t dims[ZF_MAX_DIMS];
    for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    set_out(y, x->dtype, r, dims);
    return 0;
}

const zf_op zf_op_unsqueeze = {.type = "Unsqueeze", .params_size = sizeof(zf_axes_params), .parse = axes_parse,
                               .shape = unsqueeze_shape, .forward = copy_forward, .rf = layout_rf,
                               .box_back = zf_proj_box_reshape, .project = zf_proj_reshape,
                .backward = zf_copy_backward};

// --- Transpose ----------------------------------------------------------------------------------

// x (in_dims) -> out (in_dims[perm[...]])
void zf_transpose(void *out, const void *x, size_t elem, int nd, const int64_t *in_dims, const int64_t *perm,
                  const zf_exec *ex) {
    int64_t istr[ZF_MAX_DIMS], ostr[ZF_MAX_DIMS], odims[ZF_MAX_DIMS], pstr[ZF_MAX_DIMS];
    zf_contiguous_strides(istr, nd, in_dims);
    for (int j = 0; j < nd; j++) {
        odims[j] = in_dims[perm[j]];
        pstr[j] = istr[perm[j]];
    }
    zf_contiguous_strides(ostr, nd, odims);
    zf_strided_copy(out, 0, ostr, x, 0, pstr, nd, odims, elem, ex);
}

static int transpose_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_transpose_params *p = params;
    int present;
    return read_ints_attr(p->perm, &p->n_perm, &present, n, "perm", err);
}

// The permutation to use for a rank-r input (the default reverses).
static int transpose_perm(int64_t *perm, const zf_transpose_params *p, int r, zf_error *err) {
    if (!p->n_perm) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
        return 0;
    }
    if (p->n_perm != r)
        return zf_fail(err, ZF_ERR_INPUT, "perm has %d values for a rank-%d input", p->n_perm, r);
    int seen[ZF_MAX_DIMS] = {0};
    for (int i = 0; i < r; i++) {
        int64_t a = p->perm[i];
        if (zf_axis_normalize(&a, r, "perm value", err)) return err->code;
        if (seen[a]) return zf_fail(err, ZF_ERR_INPUT, "perm is not a permutation (%lld repeats)", (long long)a);
        seen[a] = 1;
        perm[i] = a;
    }
    return 0;
}

static int transpose_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    int64_t perm[ZF_MAX_DIMS], dims[ZF_MAX_DIMS];
    if (transpose_perm(perm, n->params, x->ndim, err)) return err->code;
    for (int i = 0; i < x->ndim; i++) dims[i] = x->dims[perm[i]];
    set_out(y, x->dtype, x->ndim, dims);
    return 0;
}

static int transpose_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = &v[n->in[0]].t;
    int64_t perm[ZF_MAX_DIMS];
    if (transpose_perm(perm, n->params, x->ndim, err)) return err->code;
    zf_transpose(v[n->out[0]].t.data, x->data, zf_dtype_size(x->dtype), x->ndim, x->dims, perm, ex);
    return 0;
}

// H and W stay where they were: same rf. Swapped (..., W, H): swap the rf's axes. Otherwise the
// spatial layout is gone.
static void transpose_rf(const zf_node *n, zf_value *v) {
    const zf_value *x = &v[n->in[0]];
    zf_rf *out = &v[n->out[0]].rf;
    *out = x->rf;
    if (!out->valid || out->global) return;
    int r = x->t.ndim;
    int64_t perm[ZF_MAX_DIMS];
    if (r < 2 || transpose_perm(perm, n->params, r, NULL)) {
        out->global = 1;
        return;
    }
    if (perm[r - 2] == r - 2 && perm[r - 1] == r - 1) return;
    if (perm[r - 2] == r - 1 && perm[r - 1] == r - 2) {
        for (int a = 0; a < 2; a++) {
            out->size[a] = x->rf.size[1 - a];
            out->jump[a] = x->rf.jump[1 - a];
            out->offset[a] = x->rf.offset[1 - a];
        }
        return;
    }
    out->global = 1;
}

// Projection: the signal goes back through the inverse permutation (the gradient, every rule).
static void transpose_box_back(const zf_node *n, zf_proj_args *a) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on) return;
    int64_t perm[ZF_MAX_DIMS];
    if (!y->on || transpose_perm(perm, n->params, x->t->ndim, NULL)) {
        x->on = 0;
        return;
    }
    for (int j = 0; j < x->t->ndim; j++) {
        x->box.lo[perm[j]] = y->box.lo[j];
        x->box.hi[perm[j]] = y->box.hi[j];
    }
}

static int transpose_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    int nd = x->t->ndim;
    int64_t perm[ZF_MAX_DIMS], istr[ZF_MAX_DIMS];
    if (transpose_perm(perm, n->params, nd, err)) return err->code;
    zf_contiguous_strides(istr, nd, x->t->dims);
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it)) {
        int64_t off = 0;
        for (int j = 0; j < nd; j++) off += it.idx[j] * istr[perm[j]];
        const int64_t step = nd ? istr[perm[nd - 1]] : 0;
        for (int64_t i = 0; i < it.len; i++) x->g[off + i * step] += y->g[it.off + i];
    }
    return 0;
}

const zf_op zf_op_transpose = {.type = "Transpose", .params_size = sizeof(zf_transpose_params),
                               .parse = transpose_parse, .shape = transpose_shape, .forward = transpose_forward,
                               .rf = transpose_rf, .box_back = transpose_box_back, .project = transpose_project};

// --- Shape --------------------------------------------------------------------------------------

static int shape_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_shape_params *p = params;
    if (zf_onnx_attr_int(&p->start, n, "start", 0, err)) return err->code;
    p->has_end = zf_onnx_attr_find(n, "end") != NULL;
    return zf_onnx_attr_int(&p->end, n, "end", 0, err);
}

// [start, end) of the dims after negative wrap and clamping (opset 15).
static void shape_range(int64_t *s, int64_t *e, const zf_shape_params *p, int r) {
    int64_t a = p->start, b = p->has_end ? p->end : r;
    if (a < 0) a += r;
    if (b < 0) b += r;
    a = a < 0 ? 0 : a > r ? r : a;
    b = b < 0 ? 0 : b > r ? r : b;
    *s = a;
    *e = b > a ? b : a;
}

static int shape_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    int64_t s, e;
    shape_range(&s, &e, n->params, x->ndim);
    int64_t len = e - s;
    set_out(y, ZF_I64, 1, &len);
    return 0;
}

static int shape_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *x = &v[n->in[0]].t;
    int64_t s, e;
    shape_range(&s, &e, n->params, x->ndim);
    for (int64_t i = s; i < e; i++) zf_i64(&v[n->out[0]].t)[i - s] = x->dims[i];
    return 0;
}

const zf_op zf_op_shape = {.type = "Shape", .params_size = sizeof(zf_shape_params), .parse = shape_parse,
                           .shape = shape_shape, .forward = shape_forward, .rf = no_rf};

// --- Constant -----------------------------------------------------------------------------------

static int constant_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_constant_params *p = params;
    static const char *unsupported[] = {"sparse_value", "value_string", "value_strings"};
    for (int k = 0; k < 3; k++)
        if (zf_onnx_attr_find(n, unsupported[k]))
            return zf_fail(err, ZF_ERR_INPUT, "attribute '%s' is not supported", unsupported[k]);
    const zf_onnx_attr *a;
    int found = 0;
    if ((a = zf_onnx_attr_find(n, "value"))) {
        if (a->type != ZF_ATTR_TENSOR) return zf_fail(err, ZF_ERR_INPUT, "attribute 'value' is not a tensor");
        if (a->t.dtype != ZF_F32 && a->t.dtype != ZF_I64)
            return zf_fail(err, ZF_ERR_INPUT, "attribute 'value' has an unsupported element type");
        p->dtype = a->t.dtype;
        p->ndim = a->t.ndim;
        memcpy(p->dims, a->t.dims, sizeof p->dims);
        int64_t numel = zf_tensor_numel(&a->t);
        if (numel > 0 && !a->t.data) return zf_fail(err, ZF_ERR_INPUT, "attribute 'value' has no data");
        p->data = a->t.data;
        if (numel == 1) {   // keep scalars inline: nothing to point at after loading
            if (p->dtype == ZF_F32) p->f = zf_f32(&a->t)[0];
            else p->i = zf_i64(&a->t)[0];
            p->data = NULL;
        }
        found++;
    }
    if ((a = zf_onnx_attr_find(n, "value_float"))) {
        p->dtype = ZF_F32;
        p->ndim = 0;
        if (zf_onnx_attr_float(&p->f, n, "value_float", 0, err)) return err->code;
        found++;
    }
    if ((a = zf_onnx_attr_find(n, "value_int"))) {
        p->dtype = ZF_I64;
        p->ndim = 0;
        if (zf_onnx_attr_int(&p->i, n, "value_int", 0, err)) return err->code;
        found++;
    }
    if ((a = zf_onnx_attr_find(n, "value_floats"))) {
        if (a->type != ZF_ATTR_FLOATS) return zf_fail(err, ZF_ERR_INPUT, "attribute 'value_floats' is not a float list");
        p->dtype = ZF_F32;
        p->ndim = 1;
        p->dims[0] = a->n;
        p->data = a->floats;
        found++;
    }
    if ((a = zf_onnx_attr_find(n, "value_ints"))) {
        if (a->type != ZF_ATTR_INTS) return zf_fail(err, ZF_ERR_INPUT, "attribute 'value_ints' is not an int list");
        p->dtype = ZF_I64;
        p->ndim = 1;
        p->dims[0] = a->n;
        p->data = a->ints;
        found++;
    }
    if (found != 1)
        return zf_fail(err, ZF_ERR_INPUT, found ? "more than one value attribute" : "no value attribute");
    return 0;
}

static int constant_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_constant_params *p = n->params;
    if (n->n_out < 1 || n->out[0] < 0) return zf_fail(err, ZF_ERR_INPUT, "output is missing");
    set_out(&v[n->out[0]].t, p->dtype, p->ndim, p->dims);
    return 0;
}

static int constant_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_constant_params *p = n->params;
    zf_tensor *y = &v[n->out[0]].t;
    int64_t numel = zf_tensor_numel(y);
    if (p->data && numel > 0) memcpy(y->data, p->data, (size_t)numel * zf_dtype_size(p->dtype));
    else if (numel == 1 && p->dtype == ZF_F32) zf_f32(y)[0] = p->f;
    else if (numel == 1) zf_i64(y)[0] = p->i;
    return 0;
}

const zf_op zf_op_constant = {.type = "Constant", .params_size = sizeof(zf_constant_params), .parse = constant_parse,
                              .shape = constant_shape, .forward = constant_forward, .rf = no_rf};

// --- ConstantOfShape ----------------------------------------------------------------------------

static int constant_of_shape_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_constant_of_shape_params *p = params;
    p->dtype = ZF_F32;
    const zf_onnx_attr *a = zf_onnx_attr_find(n, "value");
    if (!a) return 0;
    if (a->type != ZF_ATTR_TENSOR || zf_tensor_numel(&a->t) != 1 || !a->t.data)
        return zf_fail(err, ZF_ERR_INPUT, "attribute 'value' must be a one-element tensor");
    p->dtype = a->t.dtype;
    if (p->dtype == ZF_F32) p->f = zf_f32(&a->t)[0];
    else p->i = zf_i64(&a->t)[0];
    return 0;
}

static int constant_of_shape_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_constant_of_shape_params *p = n->params;
    if (n->n_out < 1 || n->out[0] < 0) return zf_fail(err, ZF_ERR_INPUT, "output is missing");
    const int64_t *shape;
    int64_t count;
    if (zf_const_i64_input(&shape, &count, n, v, 0, "shape", err)) return err->code;
    if (count > ZF_MAX_DIMS)
        return zf_fail(err, ZF_ERR_INPUT, "shape has %lld dimensions, at most %d supported", (long long)count,
                       ZF_MAX_DIMS);
    for (int i = 0; i < count; i++)
        if (shape[i] < 0) return zf_fail(err, ZF_ERR_INPUT, "shape[%d] is negative (%lld)", i, (long long)shape[i]);
    set_out(&v[n->out[0]].t, p->dtype, (int)count, shape);
    return 0;
}

static int constant_of_shape_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_constant_of_shape_params *p = n->params;
    zf_tensor *y = &v[n->out[0]].t;
    int64_t numel = zf_tensor_numel(y);
    if (p->dtype == ZF_F32) for (int64_t i = 0; i < numel; i++) zf_f32(y)[i] = p->f;
    else for (int64_t i = 0; i < numel; i++) zf_i64(y)[i] = p->i;
    return 0;
}

const zf_op zf_op_constant_of_shape = {
    .type = "ConstantOfShape", .params_size = sizeof(zf_constant_of_shape_params), .parse = constant_of_shape_parse,
    .shape = constant_of_shape_shape, .forward = constant_of_shape_forward, .rf = no_rf};

// --- Cast ---------------------------------------------------------------------------------------

int zf_cast_dtype(zf_dtype *dt, int64_t to, zf_error *err) {
    switch (to) {
    case ZF_ONNX_FLOAT: case ZF_ONNX_DOUBLE: case ZF_ONNX_FLOAT16: case ZF_ONNX_BFLOAT16:
        *dt = ZF_F32;
        return 0;
    case ZF_ONNX_UINT8: case ZF_ONNX_INT8: case ZF_ONNX_UINT16: case ZF_ONNX_INT16: case ZF_ONNX_INT32:
    case ZF_ONNX_INT64: case ZF_ONNX_BOOL: case ZF_ONNX_UINT32: case ZF_ONNX_UINT64:
        *dt = ZF_I64;
        return 0;
    default:
        return zf_fail(err, ZF_ERR_INPUT, "cast to element type %lld is not supported", (long long)to);
    }
}

// An int64 as the ONNX integer type `to` would hold it (two's-complement wrap), widened back.
static int64_t wrap_to(int64_t x, int64_t to) {
    switch (to) {
    case ZF_ONNX_BOOL: return x != 0;
    case ZF_ONNX_UINT8: return (uint8_t)x;
    case ZF_ONNX_INT8: return (int8_t)x;
    case ZF_ONNX_UINT16: return (uint16_t)x;
    case ZF_ONNX_INT16: return (int16_t)x;
    case ZF_ONNX_UINT32: return (uint32_t)x;
    case ZF_ONNX_INT32: return (int32_t)x;
    default: return x;
    }
}

// Truncation toward zero without undefined behaviour: NaN -> 0, out of range saturates.
static int64_t float_to_int(float f) {
    if (f != f) return 0;
    if (f >= 9.2233720368547758e18f) return INT64_MAX;
    if (f <= -9.2233720368547758e18f) return INT64_MIN;
    return (int64_t)f;
}

// x (n) -> out (n)
void zf_cast(void *out, int64_t to, const void *x, zf_dtype xdt, int64_t n) {
    zf_dtype odt;
    if (n <= 0 || zf_cast_dtype(&odt, to, NULL)) return;
    if (odt == ZF_F32 && xdt == ZF_F32) {
        if (out != x) memmove(out, x, (size_t)n * sizeof(float));
    } else if (odt == ZF_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)out)[i] = (float)((const int64_t *)x)[i];
    } else if (xdt == ZF_F32) {
        const float *f = x;
        int64_t *o = out;
        if (to == ZF_ONNX_BOOL) for (int64_t i = 0; i < n; i++) o[i] = f[i] != 0.0f;
        else for (int64_t i = 0; i < n; i++) o[i] = wrap_to(float_to_int(f[i]), to);
    } else {
        for (int64_t i = 0; i < n; i++) ((int64_t *)out)[i] = wrap_to(((const int64_t *)x)[i], to);
    }
}

static int cast_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_cast_params *p = params;
    if (!zf_onnx_attr_find(n, "to")) return zf_fail(err, ZF_ERR_INPUT, "attribute 'to' is missing");
    if (zf_onnx_attr_int(&p->to, n, "to", 0, err)) return err->code;
    zf_dtype dt;
    return zf_cast_dtype(&dt, p->to, err);
}

static int cast_shape(zf_node *n, zf_value *v, zf_error *err) {
    const zf_cast_params *p = n->params;
    const zf_tensor *x;
    zf_tensor *y;
    if (io0(&x, &y, n, v, err)) return err->code;
    zf_dtype dt;
    if (zf_cast_dtype(&dt, p->to, err)) return err->code;
    set_out(y, dt, x->ndim, x->dims);
    return 0;
}

static int cast_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_cast_params *p = n->params;
    const zf_tensor *x = &v[n->in[0]].t;
    zf_cast(v[n->out[0]].t.data, p->to, x->data, x->dtype, zf_tensor_numel(x));
    return 0;
}

// Casting an activation to float keeps its layout; an int64 result is an index or a shape.
static void cast_rf(const zf_node *n, zf_value *v) {
    zf_value *y = &v[n->out[0]];
    if (y->t.dtype == ZF_I64) memset(&y->rf, 0, sizeof y->rf);
    else y->rf = v[n->in[0]].rf;
}

const zf_op zf_op_cast = {.type = "Cast", .params_size = sizeof(zf_cast_params), .parse = cast_parse,
                          .shape = cast_shape, .forward = cast_forward, .rf = cast_rf,
                          .project = zf_proj_identity};
