// tensor.h: n-dimensional tensors, NCHW float32 for activations, int64 for shapes and indices.
//
//   zf_tensor t = {0};
//   int64_t dims[4] = {1, 3, 224, 224};
//   if (zf_tensor_alloc(&t, ZF_F32, 4, dims, &err)) return err.code;
//   float *x = zf_f32(&t);                 // numel() floats, zero-filled
//   zf_tensor_free(&t);
//
// Only two element types live inside the engine: ZF_F32 and ZF_I64 (their values are ONNX's
// TensorProto.DataType numbers). Readers convert the other ONNX integer/bool types to ZF_I64 and
// double/float16 to ZF_F32.
#ifndef ZF_TENSOR_H
#define ZF_TENSOR_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define ZF_MAX_DIMS 8

typedef enum { ZF_F32 = 1, ZF_I64 = 7 } zf_dtype;

typedef struct zf_tensor {
    zf_dtype dtype;
    int ndim;
    int64_t dims[ZF_MAX_DIMS];
    void *data;     // numel elements of dtype; NULL when not allocated
    int owns;       // 1 when data was allocated by zf_tensor_alloc and is freed by zf_tensor_free
} zf_tensor;

static inline float *zf_f32(const zf_tensor *t) { return (float *)t->data; }
static inline int64_t *zf_i64(const zf_tensor *t) { return (int64_t *)t->data; }
static inline size_t zf_dtype_size(zf_dtype d) { return d == ZF_I64 ? 8 : 4; }

// Number of elements (1 for a scalar, ndim == 0). Dims are assumed validated (>= 0, no overflow).
int64_t zf_tensor_numel(const zf_tensor *t);
// Validates dims (0 <= d, product fits in memory limits) and returns numel in *numel.
int zf_shape_numel(int64_t *numel, int ndim, const int64_t *dims, zf_error *err);
// Sets shape and allocates zero-filled owned storage (frees previous owned data).
int zf_tensor_alloc(zf_tensor *t, zf_dtype dtype, int ndim, const int64_t *dims, zf_error *err);
// Deep copy (dst gets owned storage).
int zf_tensor_copy(zf_tensor *dst, const zf_tensor *src, zf_error *err);
void zf_tensor_free(zf_tensor *t);
// Same dtype and dims.
int zf_tensor_same_shape(const zf_tensor *a, const zf_tensor *b);
// "(1,3,224,224)" into buf.
const char *zf_shape_str(char *buf, size_t n, int ndim, const int64_t *dims);

#endif
