// conv_gemm.h: convolution as a GEMM with zfviz's own AVX2+FMA micro-kernel (6 output channels x 16
// positions in 12 registers), the im2col gathered straight into the kernel's 16-position panels, so
// the columns are copied once (OpenBLAS packed the column matrix again on every call, in each
// thread), and the threads share one panel tile and split the output channels (or whole groups).
// zf_conv_plan picks it (p->gemm_cols > 0) on AVX2+FMA builds; zf_conv2d_forward calls it.
//
//   zf_conv_params p;  ... zf_conv_setup(&p, x, wd, &err) ...      // plans gemm_cols
//   if (p.gemm_cols) {
//       float *s = aligned_alloc(64, zf_conv_gemm_floats(&p) * sizeof(float));
//       zf_conv_gemm_forward(out, s, in, w, bias, &p, pool);
//   }
#ifndef ZF_OPS_CONV_GEMM_H
#define ZF_OPS_CONV_GEMM_H
#include <stddef.h>
#include <stdint.h>
#include "conv.h"

// Columns (output positions) per panel tile for p within a scratch of budget_floats, a multiple of
// 16; 0 when the kernel does not apply (no AVX2+FMA, 1x1 direct layers, sizes past 32-bit indices).
int64_t zf_conv_gemm_plan(const zf_conv_params *p, int64_t budget_floats);
// Scratch floats of zf_conv_gemm_forward for p->gemm_cols: the padded input image, then the panels.
int64_t zf_conv_gemm_floats(const zf_conv_params *p);
// in (N,C,H,W), w (K,C/g,kh,kw), b (K) or NULL -> out (N,K,OH,OW); scratch: zf_conv_gemm_floats(p),
// 64-byte aligned. Requires p->gemm_cols > 0.
void zf_conv_gemm_forward(float *out, float *scratch, const float *in, const float *w, const float *b,
                          const zf_conv_params *p, zf_pool *pool);
// c (M x 16*np, row stride ldc) = a (M x K, row stride lda, read in place) x B, B given as np panels
// of 16 columns: panel j is K rows of 16 floats at bp + j*pstride, 32-byte aligned. All 16 columns
// of every panel are written. One thread (Winograd's products, core/winograd.c, run one per thread).
void zf_gemm_panels(float *c, int64_t ldc, const float *a, int64_t lda, const float *bp, int64_t pstride, int64_t M,
                    int64_t K, int64_t np);

#endif
