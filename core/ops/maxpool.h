// maxpool.h: ONNX MaxPool (1-D, 2-D, 3-D windows) that records the switch of every output: where
// inside its (n,c) input plane the maximum came from. The deconvnet unpools through these switches
// (Zeiler & Fergus 2014, sec. 2.1), so they are kept for every image.
//
//   zf_maxpool_params p = {0};                 // or filled by zf_op_maxpool.parse
//   p.attrs.n_kernel = 2; p.attrs.kernel[0] = p.attrs.kernel[1] = 3;
//   p.attrs.n_strides = 2; p.attrs.strides[0] = p.attrs.strides[1] = 2;
//   int64_t x[4] = {N, C, H, W};
//   if (zf_maxpool_setup(&p, 4, x, &err)) ...  // p.win.out[] = OH, OW
//   zf_maxpool_forward(out, switches, NULL, in, &p, pool);
//
// Switch = d*H*W + h*W + w (h*W + w in 2-D) inside the plane, -1 when the window saw only padding;
// the first maximum wins on ties and NaN propagates, as in PyTorch.
#ifndef ZF_OPS_MAXPOOL_H
#define ZF_OPS_MAXPOOL_H
#include <stdint.h>
#include "op.h"
#include "window.h"

typedef struct zf_maxpool_params {
    zf_window_attrs attrs;
    int storage_order;          // Indices output only: 0 row-major, 1 column-major
    // Resolved by zf_maxpool_setup:
    int64_t N, C;
    zf_window win;              // spatial geometry (win.nsp axes)
} zf_maxpool_params;

extern const zf_op zf_op_maxpool;

// x_dims: (N, C, spatial...) with 1 to 3 spatial axes.
int zf_maxpool_setup(zf_maxpool_params *p, int ndim, const int64_t *x_dims, zf_error *err);

// in (N,C,*in) -> out (N,C,*out), switches (N,C,*out) int32 (may be NULL), indices (N,C,*out) int64
// ONNX flat indices into in (may be NULL)
void zf_maxpool_forward(float *out, int32_t *switches, int64_t *indices, const float *in,
                        const zf_maxpool_params *p, zf_pool *pool);

// The backward pass (training, core/train.h): each output's gradient is ADDED to the input its switch
// recorded. dy (N,C,*out), switches (N,C,*out) -> dx (N,C,*in)
void zf_maxpool_backward(float *dx, const float *dy, const int32_t *switches, const zf_maxpool_params *p,
                         zf_pool *pool);

#endif
