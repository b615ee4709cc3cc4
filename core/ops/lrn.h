// lrn.h: ONNX LRN, local response normalization across channels (Krizhevsky et al. 2012, sec. 3.3;
// ZFNet uses it after conv1 and conv2, Zeiler & Fergus 2014 sec. 3):
//   y = x / (bias + alpha/size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta
//
//   zf_lrn_params p = {.size = 5, .alpha = 1e-4f, .beta = 0.75f, .bias = 2.0f};
//   zf_lrn_forward(out, in, N, C, H * W, &p, pool);   // in (N,C,H,W) -> out (N,C,H,W)
#ifndef ZF_OPS_LRN_H
#define ZF_OPS_LRN_H
#include <stdint.h>
#include "op.h"

typedef struct zf_lrn_params {
    int64_t size;
    float alpha, beta, bias;
} zf_lrn_params;

extern const zf_op zf_op_lrn;

// in (N,C,plane) -> out (N,C,plane)
void zf_lrn_forward(float *out, const float *in, int64_t N, int64_t C, int64_t plane, const zf_lrn_params *p,
                    zf_pool *pool);

// The backward pass (training, core/train.h), ADDED to dx; C up to ZF_LRN_BACKWARD_MAX_C channels.
// dy, in (N,C,plane) -> dx (N,C,plane)
#define ZF_LRN_BACKWARD_MAX_C 8192
void zf_lrn_backward(float *dx, const float *dy, const float *in, int64_t N, int64_t C, int64_t plane,
                     const zf_lrn_params *p, zf_pool *pool);

#endif
