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
    float ratio;            // the attribute (opset < 12; default 0.5); input 1 overrides it
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

// Dropout in training mode (zf_exec.train): element i of the tensor whose key is `key` is kept when a
// hash of (key, i) is at least ratio (24-bit resolution); kept elements are scaled by 1/(1 - ratio).
// The mask is never stored: the backward pass draws it again.
uint64_t zf_dropout_key(uint64_t seed, int64_t tensor);
uint32_t zf_dropout_threshold(float ratio);
static inline int zf_dropout_keep(uint64_t key, int64_t i, uint32_t threshold) {
    uint64_t z = key + (uint64_t)i * 0x9E3779B97F4A7C15ULL;   // splitmix64 of a counter
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (uint32_t)(z >> 40) >= threshold;
}
// x (n) -> out (n), mask (n, 1 kept / 0 dropped; may be NULL)
void zf_dropout_train_forward(float *out, float *mask, const float *x, int64_t n, float ratio, uint64_t key);
// The backward passes (training, core/train.h), ADDED to dx:
// dy (n) -> dx (n), the same mask
void zf_dropout_backward(float *dx, const float *dy, int64_t n, float ratio, uint64_t key);
// dy, x (n) -> dx (n): dy where x > 0
void zf_relu_backward(float *dx, const float *dy, const float *x, int64_t n);

#endif
