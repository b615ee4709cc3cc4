// activation.h: elementwise unary ops: Relu, LeakyRelu, Sigmoid, Tanh, Clip, Sqrt, Exp, and the
// pass-through ops Dropout (inference: identity, mask all true) and Identity.
//
//   float out[4];
//   const float in[4] = {-1, 0, 2, 5};
//   zf_relu_f32(out, in, 4);                           // {0, 0, 2, 5}
//   zf_clip_f32(out, in, 4, 0.0f, 3.0f);               // {0, 0, 2, 3}
//   zf_leakyrelu_f32(out, in, 4, 0.1f);                // {-0.1, 0, 2, 5}
//
// The zf_op entries (zf_op_relu, ...) run these kernels over the whole tensor, on the pool when it
// is large. Relu, Clip and Identity also accept int64 (shape computations); the rest are float.
#ifndef ZF_OPS_ACTIVATION_H
#define ZF_OPS_ACTIVATION_H
#include <stdint.h>
#include "op.h"

typedef struct zf_leakyrelu_params {
    float alpha;            // slope for x < 0 (default 0.01)
} zf_leakyrelu_params;

typedef struct zf_clip_params {
    // Opset < 11 bounds are attributes; from opset 11 they are optional scalar inputs 1 and 2, which
    // override these when present.
    float min, max;         // default -FLT_MAX, FLT_MAX
} zf_clip_params;

typedef struct zf_dropout_params {
    int mask_bool;          // opset >= 10: the mask output is bool (int64 ones); before, it has T
} zf_dropout_params;

// Kernels: x (n) -> out (n). out may equal x (in place).
void zf_relu_f32(float *out, const float *x, int64_t n);
void zf_relu_i64(int64_t *out, const int64_t *x, int64_t n);
void zf_leakyrelu_f32(float *out, const float *x, int64_t n, float alpha);
void zf_sigmoid_f32(float *out, const float *x, int64_t n);
void zf_tanh_f32(float *out, const float *x, int64_t n);
void zf_clip_f32(float *out, const float *x, int64_t n, float lo, float hi);
void zf_clip_i64(int64_t *out, const int64_t *x, int64_t n, int64_t lo, int64_t hi);
void zf_sqrt_f32(float *out, const float *x, int64_t n);
void zf_exp_f32(float *out, const float *x, int64_t n);

extern const zf_op zf_op_relu, zf_op_leakyrelu, zf_op_sigmoid, zf_op_tanh, zf_op_clip, zf_op_dropout,
    zf_op_identity, zf_op_sqrt, zf_op_exp;

#endif
