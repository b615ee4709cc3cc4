// conv.h: 2-D convolution (ONNX Conv): group, strides, dilations, pads (asymmetric too), auto_pad,
// optional bias, kernel_shape inferred from W when absent. im2col + GEMM (zf_sgemm) per group.
//
//   zf_conv_params p = {0};                     // or filled by zf_op_conv.parse from an ONNX node
//   p.group = 1;
//   int64_t x[4] = {N, C, H, W}, wd[4] = {K, C, 3, 3};
//   if (zf_conv_setup(&p, x, wd, &err)) ...     // resolves OH/OW, padding, the tiling plan
//   float *col = malloc(zf_conv_scratch_bytes(&p));
//   zf_conv2d_forward(out, col, in, w, bias, &p, pool);
//
// The column matrix is built and multiplied in tiles of whole output rows (or, when an image's
// output is small, of several whole images: one GEMM for all of them) so the scratch stays within
// ZF_CONV_COL_BUDGET and mostly in cache when the GEMM reads it. 1x1 stride-1 unpadded
// convolutions multiply the input directly; layers with few input taps (conv1) skip both im2col and
// the GEMM (see small_taps). On AVX2+FMA builds the other layers run zfviz's own GEMM kernel, the
// column matrix gathered straight into its panels (gemm_cols, ops/conv_gemm.h); the tiling above
// then serves the backward pass, and builds without AVX2 run im2col + zf_sgemm.
#ifndef ZF_OPS_CONV_H
#define ZF_OPS_CONV_H
#include <stddef.h>
#include <stdint.h>
#include "op.h"
#include "window.h"

// Default upper bound on the im2col tile, in bytes. Measured on Zen 3 with 2 threads (tools/bench_conv):
// 8 to 64 MB run VGG/ZFNet's conv layers at the same speed, 2 MB is 15% slower (narrow GEMMs).
#define ZF_CONV_COL_BUDGET ((size_t)16 << 20)
// Largest C*kh*kw (group 1, undilated, stride <= 4) run by the small-taps kernel: on such short inner
// dimensions OpenBLAS runs well below peak and im2col costs a large share (ZFNet conv1: 147).
#define ZF_CONV_SMALL_TAPS 512

typedef struct zf_conv_params {
    zf_window_attrs attrs;      // attributes as in the file
    int64_t group;              // >= 1
    // Geometry, resolved by zf_conv_setup:
    int64_t N, C, H, W;         // input
    int64_t K, kh, kw;          // output channels, kernel
    int64_t sh, sw, dh, dw;     // strides, dilations
    int64_t ph, pw, ph_end, pw_end;   // padding at the begin (top, left) and end (bottom, right)
    int64_t OH, OW;
    // Execution plan, set by zf_conv_plan (zf_conv_setup calls it with ZF_CONV_COL_BUDGET):
    int direct;                 // 1x1, stride 1, no padding: GEMM straight on the input
    int64_t tile_rows;          // output rows per tile (images_per_tile == 1)
    int64_t images_per_tile;    // > 1: whole images share one GEMM, results scattered to NCHW
    int small_taps;             // few input taps per output (C*kh*kw <= ZF_CONV_SMALL_TAPS, e.g. conv1):
                                // no im2col and no GEMM, a register-blocked kernel (conv.c); the
                                // tiling above still sizes the scratch for the backward pass
    int no_winograd;            // 1: never Winograd (core/winograd.h), even where it would pay;
                                // 0 (zeroed params): zf_conv2d_forward chooses
    int64_t gemm_cols;          // > 0: zfviz's own GEMM kernel (ops/conv_gemm.h) in tiles of this many
                                // output positions, in place of im2col + zf_sgemm (AVX2+FMA builds)
} zf_conv_params;

extern const zf_op zf_op_conv;
// 1 when the model's forward pass runs Conv node n as Winograd: with its transformed filters kept in
// n->cache (initializer weights, zf_wino_in_forward) or transformed on every call (zf_wino_per_call).
int zf_conv_node_winograd(const zf_node *n);

// Resolves the geometry from the input and weight shapes (and p->attrs, p->group) and plans tiles.
// Messages: "input has 3 channels but W expects 4 (group 1)".
int zf_conv_setup(zf_conv_params *p, const int64_t x_dims[4], const int64_t w_dims[4], zf_error *err);
// Re-plans the tiles for another scratch budget (benchmarks, memory-tight callers).
void zf_conv_plan(zf_conv_params *p, size_t col_budget_bytes);
// Scratch floats*4 that zf_conv2d_forward needs for this plan.
size_t zf_conv_scratch_bytes(const zf_conv_params *p);

// in (N,C,H,W), w (K,C/g,kh,kw), b (K) or NULL -> out (N,K,OH,OW); col: zf_conv_scratch_bytes(p)
void zf_conv2d_forward(float *out, float *col, const float *in, const float *w, const float *b,
                       const zf_conv_params *p, zf_pool *pool);

// One image's column matrix for output rows [oh0, oh1) and channels [c0, c0 + nc):
// in (C,H,W) -> col (nc*kh*kw rows, ld columns; (oh1-oh0)*OW used). Rows are parallel over the pool.
// Shared with ConvTranspose (col2im is its adjoint) and the trainer's backward pass.
void zf_im2col(float *col, int64_t ld, const float *in, int64_t c0, int64_t nc, int64_t oh0, int64_t oh1,
               const zf_conv_params *p, zf_pool *pool);

// The adjoint of zf_im2col: adds col (nc*kh*kw rows, ld columns covering output rows [oh0, oh1)) back
// into the image channels [c0, c0 + nc) of img (C,H,W) (img is accumulated, not cleared). Parallel
// over channels. ConvTranspose's forward pass and convolution's input gradient.
void zf_col2im(float *img, const float *col, int64_t ld, int64_t c0, int64_t nc, int64_t oh0, int64_t oh1,
               const zf_conv_params *p, zf_pool *pool);

// The backward pass (training, core/train.h), every gradient ADDED to (NULL: not wanted):
// dy (N,K,OH,OW), in (N,C,H,W), w (K,C/g,kh,kw) -> dx (N,C,H,W), dw (K,C/g,kh,kw), db (K);
// col: zf_conv_scratch_bytes(p), the forward pass's tiles.
void zf_conv2d_backward(float *dx, float *dw, float *db, float *col, const float *dy, const float *in,
                        const float *w, const zf_conv_params *p, zf_pool *pool);

#endif
