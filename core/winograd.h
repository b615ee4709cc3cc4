// winograd.h: 3x3 stride-1 convolution as Winograd F(4x4, 3x3) or F(3x3, 3x3) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016): 36 multiplies per 4x4 block of outputs
// and input channel instead of 144 (25 per 3x3 instead of 81). The filters' transform costs about as much as the layer itself, so this is
// for callers that run the same layer many times and keep the transformed filters: occlusion's
// incremental passes (core/incremental.c) transform once per map and run hundreds of batches.
//
//   zf_conv_params p;  ... zf_conv_setup(&p, x, wd, &err) ...
//   if (zf_wino_applies(&p)) {
//       float *U = malloc(zf_wino_filter_bytes(&p));
//       zf_wino_filters(U, w, &p, pool);                     // once per set of weights
//       float *scratch = malloc(zf_wino_scratch_bytes(&p));
//       zf_wino_forward(out, scratch, in, U, bias, &p, pool); // = zf_conv2d_forward up to rounding
//   }
//
// Results differ from the direct convolution by rounding only (the transforms use the points 0, +-1,
// +-2): tests/test_ops_compute.c allows 2e-5 of the outputs' largest magnitude; occlusion maps of ZFNet
// and VGG-16 stay within 1e-5 of their range of the direct computation.
#ifndef ZF_WINOGRAD_H
#define ZF_WINOGRAD_H
#include <stddef.h>
#include "ops/conv.h"
#include "parallel.h"

// 1 when p is a 3x3, stride 1, undilated, ungrouped convolution with at least 16 input and output
// channels, whose output size wastes little of the 4x4 blocks (Winograd does at least 1.8x fewer
// multiplies than the direct form), and whose tensors index with 32 bits.
int zf_wino_applies(const zf_conv_params *p);
// w (K, C, 3, 3) -> U: 36 matrices (K, C), zf_wino_filter_bytes(p) bytes (4x the weights).
size_t zf_wino_filter_bytes(const zf_conv_params *p);
// The tile size used for p: 4 (F(4x4, 3x3)) or 3 (F(3x3, 3x3), when it wastes less on the output's size).
int zf_wino_tile(const zf_conv_params *p);
void zf_wino_filters(float *U, const float *w, const zf_conv_params *p, zf_pool *pool);
// in (N, C, H, W), U from zf_wino_filters, b (K) or NULL -> out (N, K, OH, OW), p's padding honored;
// scratch: zf_wino_scratch_bytes(p) bytes, 64-byte aligned.
size_t zf_wino_scratch_bytes(const zf_conv_params *p);
void zf_wino_forward(float *out, float *scratch, const float *in, const float *U, const float *b,
                     const zf_conv_params *p, zf_pool *pool);

#endif
