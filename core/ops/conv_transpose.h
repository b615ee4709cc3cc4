// conv_transpose.h: ONNX ConvTranspose, 2-D: group, strides, pads, dilations, output_padding,
// output_shape, auto_pad, optional bias. Per image and group one GEMM (W^T X -> columns) then col2im,
// i.e. the exact adjoint of conv.c's im2col path.
//
//   zf_conv_transpose_params p = {0};           // or filled by zf_op_conv_transpose.parse
//   p.group = 1; p.attrs.n_strides = 2; p.attrs.strides[0] = p.attrs.strides[1] = 2;
//   int64_t x[4] = {N, C, H, W}, wd[4] = {C, K, 3, 3};
//   if (zf_conv_transpose_setup(&p, x, wd, &err)) ...   // p.OH, p.OW
//   zf_conv_transpose_forward(out, col, in, w, bias, &p, pool);   // col: zf_conv_transpose_scratch_bytes(&p)
#ifndef ZF_OPS_CONV_TRANSPOSE_H
#define ZF_OPS_CONV_TRANSPOSE_H
#include <stddef.h>
#include <stdint.h>
#include "op.h"
#include "window.h"
#include "conv.h"

typedef struct zf_conv_transpose_params {
    zf_window_attrs attrs;
    int64_t group;
    int n_output_padding, n_output_shape;
    int64_t output_padding[2], output_shape[ZF_MAX_DIMS];
    // Resolved by zf_conv_transpose_setup:
    int64_t N, C, H, W, K, OH, OW;
    // The convolution this op is the transpose of: its input is our output (K,OH,OW), its output
    // grid our input (H,W); im2col/col2im read the geometry from here.
    zf_conv_params adj;
} zf_conv_transpose_params;

extern const zf_op zf_op_conv_transpose;

// x (N,C,H,W), w (C,K/group,kh,kw)
int zf_conv_transpose_setup(zf_conv_transpose_params *p, const int64_t x[4], const int64_t w[4], zf_error *err);
size_t zf_conv_transpose_scratch_bytes(const zf_conv_transpose_params *p);

// in (N,C,H,W), w (C,K/g,kh,kw), b (K) or NULL -> out (N,K,OH,OW); col: zf_conv_transpose_scratch_bytes(p)
void zf_conv_transpose_forward(float *out, float *col, const float *in, const float *w, const float *b,
                               const zf_conv_transpose_params *p, zf_pool *pool);

#endif
