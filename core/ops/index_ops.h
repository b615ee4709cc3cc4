// index_ops.h: ops that select or place elements by index: Concat, Gather, Slice, Pad.
//
//   // x (2,5) -> out (2,2): columns 4 and 2 (Slice starts=-1, ends=1, steps=-2 on axis 1)
//   const int64_t in_dims[2] = {2, 5}, out_dims[2] = {2, 2}, start[2] = {0, 4}, step[2] = {1, -2};
//   zf_slice(out, x, sizeof(float), 2, in_dims, out_dims, start, step, NULL);
//   // data (3,4), idx {-1, 0} on axis 0 -> out (2,4): rows 2 and 0
//   if (zf_gather(out, data, idx, 1, 3, 2, 4, sizeof(float), &err)) return err.code;
//
// Slice and Pad read their index inputs (starts/ends/axes/steps, pads) at shape time, so they must
// be constant when the plan is built, as they are in exported CNNs.
#ifndef ZF_OPS_INDEX_OPS_H
#define ZF_OPS_INDEX_OPS_H
#include <stdint.h>
#include "op.h"

typedef struct zf_concat_params {
    int64_t axis;
} zf_concat_params;

typedef struct zf_gather_params {
    int64_t axis;
} zf_gather_params;

typedef struct zf_slice_params {
    // Opset < 10: starts/ends/axes attributes (no steps); later they are inputs 1..4.
    int has_attr, has_axes;
    int n;
    int64_t starts[ZF_MAX_DIMS], ends[ZF_MAX_DIMS], axes[ZF_MAX_DIMS];
    // Filled by shape(): per input axis, first index read and step (0 and 1 for untouched axes).
    int64_t start[ZF_MAX_DIMS], step[ZF_MAX_DIMS];
} zf_slice_params;

typedef enum { ZF_PAD_CONSTANT, ZF_PAD_REFLECT, ZF_PAD_EDGE, ZF_PAD_WRAP } zf_pad_mode;

typedef struct zf_pad_params {
    zf_pad_mode mode;
    // Opset < 11: pads and value are attributes; later pads, constant_value (and from opset 18
    // axes) are inputs 1..3.
    int has_attr;
    int n_pads;
    int64_t pads[2 * ZF_MAX_DIMS];
    float value;
    // Filled by shape(): elements added before each axis (negative: cropped).
    int64_t begin[ZF_MAX_DIMS];
} zf_pad_params;

// x (outer, dx, inner) -> out[:, off:off+dx, :] of out (outer, dout, inner)
void zf_concat_copy(void *out, const void *x, int64_t outer, int64_t dout, int64_t off, int64_t dx, int64_t inner,
                    size_t elem);
// data (outer, n_axis, inner), idx (n_idx) -> out (outer, n_idx, inner). Negative indices count
// from the end; an index outside [-n_axis, n_axis) is an error and nothing is written.
int zf_gather(void *out, const void *data, const int64_t *idx, int64_t outer, int64_t n_axis, int64_t n_idx,
              int64_t inner, size_t elem, zf_error *err);
// x (in_dims) -> out (out_dims): out[i...] = x[start + i*step ...] per axis.
void zf_slice(void *out, const void *x, size_t elem, int nd, const int64_t *in_dims, const int64_t *out_dims,
              const int64_t *start, const int64_t *step, const zf_exec *ex);
// Per-axis [start, step, length] of ONNX Slice for an axis of size dim (negative starts/ends wrap
// once, then clamp; INT64_MAX/INT64_MIN ends mean "to the end"). step != 0.
void zf_slice_axis(int64_t *start, int64_t *len, int64_t s, int64_t e, int64_t step, int64_t dim);
// x (in_dims) -> out (out_dims): out[i...] = x[i - begin ...] per axis; positions outside x get
// `value` (constant) or the reflected / edge / wrapped element.
void zf_pad(void *out, const void *x, zf_dtype dt, int nd, const int64_t *in_dims, const int64_t *out_dims,
            const int64_t *begin, zf_pad_mode mode, double value, const zf_exec *ex);

extern const zf_op zf_op_concat, zf_op_gather, zf_op_slice, zf_op_pad;

#endif
