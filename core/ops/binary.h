// binary.h: elementwise ops with multidirectional (numpy) broadcasting: Add, Sub, Mul, Div, Pow,
// Equal, and the variadic Sum. Float and int64 (shape arithmetic runs on int64); Equal outputs
// int64 0/1 (the engine stores bool as int64).
//
//   zf_bcast bc;
//   int64_t a_dims[4] = {1, 64, 56, 56}, b_dims[4] = {1, 64, 1, 1}, out_dims[4] = {1, 64, 56, 56};
//   if (zf_bcast_plan(&bc, 4, out_dims, 4, a_dims, 4, b_dims, &err)) return err.code;
//   if (zf_binary_forward(out, ZF_F32, a, ZF_F32, b, ZF_F32, &bc, ZF_BIN_MUL, NULL, &err)) return err.code;
//
// The plan drops size-1 output axes and merges neighbours that step the same way in both inputs,
// so "(N,C,H,W) * (1,C,1,1)" runs as rows of H*W with a scalar from b, without per-element index
// arithmetic.
#ifndef ZF_OPS_BINARY_H
#define ZF_OPS_BINARY_H
#include <stdint.h>
#include "op.h"

typedef enum { ZF_BIN_ADD, ZF_BIN_SUB, ZF_BIN_MUL, ZF_BIN_DIV, ZF_BIN_POW, ZF_BIN_EQUAL, ZF_BIN_COPY } zf_binop;

typedef struct zf_binary_params {
    zf_binop op;
    // Opset < 7 broadcasting: with broadcast=1 and an axis, B's dims line up with A's starting at
    // `axis` instead of at the end ("A (2,3,4,5) + B (3,4) with axis=1").
    int legacy_axis;        // 1 when that alignment applies
    int64_t axis;
} zf_binary_params;

// Broadcast plan: output dims after dropping size-1 axes and merging, with per-input element
// strides (0 along broadcast axes). ndim >= 1.
typedef struct zf_bcast {
    int ndim;
    int64_t dims[ZF_MAX_DIMS];
    int64_t sa[ZF_MAX_DIMS], sb[ZF_MAX_DIMS];
    int64_t numel;
} zf_bcast;

// Plans a (na dims) and b (nb dims) broadcast into out (nout dims, which must be their broadcast
// or a larger shape they broadcast to).
int zf_bcast_plan(zf_bcast *bc, int nout, const int64_t *out, int na, const int64_t *a, int nb, const int64_t *b,
                  zf_error *err);

// a (broadcast by bc), b (broadcast by bc) -> out (bc->numel). out may equal a when a is not
// broadcast (in-place accumulation). Dtype rules: Add/Sub/Mul/Div need adt == bdt == odt; Pow takes
// any exponent type, odt == adt; Equal outputs ZF_I64; COPY copies a (b unused). Int64 Div by zero
// is an error; int64 arithmetic wraps on overflow.
int zf_binary_forward(void *out, zf_dtype odt, const void *a, zf_dtype adt, const void *b, zf_dtype bdt,
                      const zf_bcast *bc, zf_binop op, const zf_exec *ex, zf_error *err);

extern const zf_op zf_op_add, zf_op_sub, zf_op_mul, zf_op_div, zf_op_pow, zf_op_sum, zf_op_equal;

#endif
