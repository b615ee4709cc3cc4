// averagepool.h: ONNX AveragePool over 1-D, 2-D and 3-D windows: pads, strides, dilations (opset 19),
// ceil_mode, auto_pad, count_include_pad. 3-D matters beyond video: PyTorch exports
// nn.LocalResponseNorm as a (size,1,1) AveragePool over a 5-D (N,1,C,H,W) tensor.
//
//   zf_averagepool_params p = {0};             // or filled by zf_op_averagepool.parse
//   p.attrs.n_kernel = 2; p.attrs.kernel[0] = p.attrs.kernel[1] = 2;
//   int64_t x[4] = {N, C, H, W};
//   if (zf_averagepool_setup(&p, 4, x, &err)) ...
//   zf_averagepool_forward(out, in, &p, pool);
//
// The divisor is the number of taps inside the input (count_include_pad = 0) or inside the padded
// input (count_include_pad = 1); ceil_mode windows hanging past the end padding count only up to it.
#ifndef ZF_OPS_AVERAGEPOOL_H
#define ZF_OPS_AVERAGEPOOL_H
#include <stdint.h>
#include "op.h"
#include "window.h"

typedef struct zf_averagepool_params {
    zf_window_attrs attrs;
    int count_include_pad;
    // Resolved by zf_averagepool_setup:
    int64_t N, C;
    zf_window win;
} zf_averagepool_params;

extern const zf_op zf_op_averagepool;

// x_dims: (N, C, spatial...) with 1 to 3 spatial axes.
int zf_averagepool_setup(zf_averagepool_params *p, int ndim, const int64_t *x_dims, zf_error *err);

// in (N,C,*in) -> out (N,C,*out)
void zf_averagepool_forward(float *out, const float *in, const zf_averagepool_params *p, zf_pool *pool);

// The backward pass (training, core/train.h): each output's gradient spread evenly over the taps it
// averaged, ADDED to dx. dy (N,C,*out) -> dx (N,C,*in)
void zf_averagepool_backward(float *dx, const float *dy, const zf_averagepool_params *p, zf_pool *pool);

#endif
