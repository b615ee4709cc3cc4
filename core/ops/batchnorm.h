// batchnorm.h: ONNX BatchNormalization for inference: y = scale * (x - mean) / sqrt(var + epsilon) + B
// per channel, folded into one multiply-add per element. training_mode = 1 normalizes with the
// batch's own statistics (the running-statistics outputs are not supported).
//
//   zf_batchnorm_params p = {.epsilon = 1e-5f};
//   zf_batchnorm_forward(out, in, scale, bias, mean, var, N, C, H * W, &p, pool);
#ifndef ZF_OPS_BATCHNORM_H
#define ZF_OPS_BATCHNORM_H
#include <stdint.h>
#include "op.h"

typedef struct zf_batchnorm_params {
    float epsilon;
    int training_mode;
} zf_batchnorm_params;

extern const zf_op zf_op_batchnorm;

// in (N,C,plane), scale/bias/mean/var (C) -> out (N,C,plane)
void zf_batchnorm_forward(float *out, const float *in, const float *scale, const float *bias, const float *mean,
                          const float *var, int64_t N, int64_t C, int64_t plane, const zf_batchnorm_params *p,
                          zf_pool *pool);

// The batch's mean and (biased) variance per channel, as training_mode and training passes
// normalize with. in (N,C,plane) -> mean, var (C)
void zf_batchnorm_stats(float *mean, float *var, const float *in, int64_t N, int64_t C, int64_t plane, zf_pool *pool);
// The backward pass (training, core/train.h), every gradient ADDED to (NULL: not wanted).
// batch = 1: the statistics were the batch's own (mean and var are then recomputed from in).
// dy, in (N,C,plane), scale/mean/var (C) -> dx (N,C,plane), dscale, dbias (C)
void zf_batchnorm_backward(float *dx, float *dscale, float *dbias, const float *dy, const float *in,
                           const float *scale, const float *mean, const float *var, int64_t N, int64_t C,
                           int64_t plane, float eps, int batch, zf_pool *pool);

#endif
