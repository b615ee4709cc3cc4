// matmul.h: ONNX MatMul with numpy semantics: 1-D operands (promoted, then the axis dropped) and
// broadcast batch axes. One GEMM (zf_sgemm) per batch item, or one for all when B has no batch axes
// (A's batch folds into its rows: the common "x @ W" of exported linear layers).
//
//   zf_matmul_params p;
//   if (zf_matmul_setup(&p, &out_ndim, out_dims, a.ndim, a.dims, b.ndim, b.dims, &err)) ...
//   zf_matmul_forward(out, a_data, b_data, &p, pool);
#ifndef ZF_OPS_MATMUL_H
#define ZF_OPS_MATMUL_H
#include <stdint.h>
#include "op.h"

typedef struct zf_matmul_params {
    int64_t M, K, N;
    int nb;                              // broadcast batch axes
    int64_t batch[ZF_MAX_DIMS];          // their sizes
    int64_t a_stride[ZF_MAX_DIMS], b_stride[ZF_MAX_DIMS];   // element strides per batch axis, 0 if broadcast
    int64_t batch_count;
    int fold;                            // 1: one GEMM with batch_count*M rows
} zf_matmul_params;

extern const zf_op zf_op_matmul;

int zf_matmul_setup(zf_matmul_params *p, int *out_ndim, int64_t *out_dims, int na, const int64_t *a, int nb,
                    const int64_t *b, zf_error *err);

// a (...,M,K), b (...,K,N) -> out (broadcast(...),M,N)
void zf_matmul_forward(float *out, const float *a, const float *b, const zf_matmul_params *p, zf_pool *pool);

#endif
