// shape_ops.h: ops that change a tensor's shape, type or origin but not its values: Flatten,
// Reshape, Squeeze, Unsqueeze, Transpose, Shape, Constant, ConstantOfShape, Cast.
//
//   // x (2,3,4) -> out (4,3,2): perm reverses the axes, as Transpose does by default.
//   const int64_t dims[3] = {2, 3, 4}, perm[3] = {2, 1, 0};
//   zf_transpose(out, x, sizeof(float), 3, dims, perm, NULL);
//   zf_cast(out_i64, ZF_ONNX_BOOL, x, ZF_F32, 24);                     // 0/1 per element
//   zf_reshape_dims(&nd, dims_out, 3, dims, 2, (int64_t[]){0, -1}, 0, &err);   // -> (2,12)
//
// Shape-like inputs (Reshape's shape, Squeeze/Unsqueeze axes at opset >= 13, ConstantOfShape's
// shape) must be constant when the plan is built: the graph folds every shape computation first,
// so a non-constant one is reported as such ("shape input is not constant").
#ifndef ZF_OPS_SHAPE_OPS_H
#define ZF_OPS_SHAPE_OPS_H
#include <stdint.h>
#include "op.h"

// TensorProto.DataType numbers Cast understands.
enum {
    ZF_ONNX_FLOAT = 1, ZF_ONNX_UINT8 = 2, ZF_ONNX_INT8 = 3, ZF_ONNX_UINT16 = 4, ZF_ONNX_INT16 = 5,
    ZF_ONNX_INT32 = 6, ZF_ONNX_INT64 = 7, ZF_ONNX_STRING = 8, ZF_ONNX_BOOL = 9, ZF_ONNX_FLOAT16 = 10,
    ZF_ONNX_DOUBLE = 11, ZF_ONNX_UINT32 = 12, ZF_ONNX_UINT64 = 13, ZF_ONNX_BFLOAT16 = 16,
};

typedef struct zf_flatten_params {
    int64_t axis;           // in [-r, r], default 1
} zf_flatten_params;

typedef struct zf_reshape_params {
    int allowzero;          // opset >= 14: a 0 in shape means size 0, not "copy the input dim"
    int has_attr;           // opset < 5: shape is an attribute
    int n_shape;
    int64_t shape[ZF_MAX_DIMS];
} zf_reshape_params;

// Squeeze and Unsqueeze: axes as an attribute before opset 13, as input 1 from 13.
typedef struct zf_axes_params {
    int has_attr;
    int n_axes;
    int64_t axes[ZF_MAX_DIMS];
} zf_axes_params;

typedef struct zf_transpose_params {
    int n_perm;             // 0: reverse the axes
    int64_t perm[ZF_MAX_DIMS];
} zf_transpose_params;

typedef struct zf_shape_params {
    int64_t start, end;     // opset 15 slice of the shape; end valid when has_end
    int has_end;
} zf_shape_params;

typedef struct zf_constant_params {
    // The value. `data` points into the ONNX node's attribute, which outlives the node's one
    // forward call: the graph folds every Constant while loading. Scalars are kept inline.
    zf_dtype dtype;
    int ndim;
    int64_t dims[ZF_MAX_DIMS];
    const void *data;       // NULL: the inline scalar below
    float f;
    int64_t i;
} zf_constant_params;

typedef struct zf_constant_of_shape_params {
    zf_dtype dtype;         // from the value attribute (default float 0)
    float f;
    int64_t i;
} zf_constant_of_shape_params;

typedef struct zf_cast_params {
    int64_t to;             // TensorProto.DataType
} zf_cast_params;

// Output dims of Reshape: 0 copies the input dim (unless allowzero), one -1 is inferred.
int zf_reshape_dims(int *ndim, int64_t *dims, int in_ndim, const int64_t *in_dims, int n_shape,
                    const int64_t *shape, int allowzero, zf_error *err);
// x (in_dims) -> out (in_dims[perm[0]], ..., in_dims[perm[nd-1]])
void zf_transpose(void *out, const void *x, size_t elem, int nd, const int64_t *in_dims, const int64_t *perm,
                  const zf_exec *ex);
// x (n) -> out (n) converted to ONNX type `to` as stored in the engine (float types -> ZF_F32, the
// rest -> ZF_I64, wrapped to the target's width; BOOL -> 0/1). Float -> int truncates toward zero.
void zf_cast(void *out, int64_t to, const void *x, zf_dtype xdt, int64_t n);
// The engine dtype Cast produces for ONNX type `to`; error for strings and complex types.
int zf_cast_dtype(zf_dtype *dt, int64_t to, zf_error *err);

extern const zf_op zf_op_flatten, zf_op_reshape, zf_op_squeeze, zf_op_unsqueeze, zf_op_transpose, zf_op_shape,
    zf_op_constant, zf_op_constant_of_shape, zf_op_cast;

#endif
