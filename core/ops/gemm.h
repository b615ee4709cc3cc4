// gemm.h: ONNX Gemm, out = alpha * op(A) * op(B) + beta * C, with C optional and broadcast
// unidirectionally to (M,N); the fully connected layers of ZFNet/AlexNet/VGG. One GEMM (zf_sgemm),
// or matrix-vector products split over the pool at batch 1-2.
//
//   zf_gemm_params p = {.alpha = 1, .beta = 1, .trans_b = 1};
//   p.M = 1; p.K = 9216; p.N = 4096;              // resolved by shape() when loaded from ONNX
//   zf_gemm_forward(out, x, w, bias, 1, 4096, &p, pool);  // x (1,9216), w (4096,9216), bias (4096)
#ifndef ZF_OPS_GEMM_H
#define ZF_OPS_GEMM_H
#include <stdint.h>
#include "op.h"

typedef struct zf_gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
    int64_t M, K, N;            // resolved by shape()
    int64_t c_rows, c_cols;     // C viewed as (c_rows, c_cols), each 1 or M / N; 0 when C is absent
} zf_gemm_params;

extern const zf_op zf_op_gemm;

// a (M,K) or (K,M) if trans_a, b (K,N) or (N,K) if trans_b, c (c_rows,c_cols) broadcast to (M,N) or NULL
// -> out (M,N)
void zf_gemm_forward(float *out, const float *a, const float *b, const float *c, int64_t c_rows, int64_t c_cols,
                     const zf_gemm_params *p, zf_pool *pool);

// The backward pass (training, core/train.h), every gradient ADDED to (NULL: not wanted):
// dy (M,N), a, b as in zf_gemm_forward -> da (shape of a), db (shape of b), dc (c_rows,c_cols)
void zf_gemm_backward(float *da, float *db, float *dc, const float *dy, const float *a, const float *b, int64_t c_rows,
                      int64_t c_cols, const zf_gemm_params *p, zf_pool *pool);

#endif
