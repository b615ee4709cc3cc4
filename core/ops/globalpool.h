// globalpool.h: ONNX GlobalAveragePool and GlobalMaxPool: one value per (n,c) plane, any spatial
// rank; the output keeps the rank with every spatial axis 1 (NiN/GoogLeNet/ResNet heads).
//
//   zf_global_avgpool_forward(out, in, N * C, H * W, pool);   // in (N,C,H,W) -> out (N,C,1,1)
//   zf_global_maxpool_forward(out, in, N * C, H * W, pool);
#ifndef ZF_OPS_GLOBALPOOL_H
#define ZF_OPS_GLOBALPOOL_H
#include <stdint.h>
#include "op.h"

extern const zf_op zf_op_global_averagepool;
extern const zf_op zf_op_global_maxpool;

// in (planes, plane) -> out (planes)
void zf_global_avgpool_forward(float *out, const float *in, int64_t planes, int64_t plane, zf_pool *pool);
// in (planes, plane) -> out (planes); NaN propagates
void zf_global_maxpool_forward(float *out, const float *in, int64_t planes, int64_t plane, zf_pool *pool);

// The backward pass (training, core/train.h), ADDED to dx: the average's gradient spread over the
// plane; the maximum's to its first maximum (NaN wins, as forward).
// dy (planes) -> dx (planes, plane)
void zf_global_avgpool_backward(float *dx, const float *dy, int64_t planes, int64_t plane, zf_pool *pool);
// dy (planes), in (planes, plane) -> dx (planes, plane)
void zf_global_maxpool_backward(float *dx, const float *dy, const float *in, int64_t planes, int64_t plane,
                                zf_pool *pool);

#endif
