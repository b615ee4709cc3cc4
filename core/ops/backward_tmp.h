// backward_tmp.h: TEMPORARY home of the training backward kernels while core/ops/ files are being
// edited by another helper; each kernel moves to its op's own file (conv.c, gemm.c, ...) and this
// file pair is deleted. Shapes as in the forward kernels; every gradient is ADDED to (NULL: not
// wanted).
#ifndef ZF_OPS_BACKWARD_TMP_H
#define ZF_OPS_BACKWARD_TMP_H
#include <stdint.h>
#include "op.h"
#include "conv.h"
#include "gemm.h"
#include "maxpool.h"
#include "averagepool.h"
#include "lrn.h"
#include "batchnorm.h"

// dy (N,K,OH,OW), in (N,C,H,W), w (K,C/g,kh,kw) -> dx (N,C,H,W), dw (K,C/g,kh,kw), db (K);
// scratch: zf_conv_scratch_bytes(p) (the forward pass's tiles)
void zf_conv2d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *in,
                        const float *w, const zf_conv_params *p, zf_pool *pool);
// dy (M,N), a, b as in zf_gemm_forward -> da, db, dc (c_rows,c_cols)
void zf_gemm_backward(float *da, float *db, float *dc, const float *dy, const float *a, const float *b, int64_t c_rows,
                      int64_t c_cols, const zf_gemm_params *p);
// dy (N,C,*out), switches (N,C,*out) -> dx (N,C,*in)
void zf_maxpool_backward(float *dx, const float *dy, const int32_t *switches, const zf_maxpool_params *p,
                         zf_pool *pool);
// dy (N,C,*out) -> dx (N,C,*in)
void zf_averagepool_backward(float *dx, const float *dy, const zf_averagepool_params *p, zf_pool *pool);
// dy (planes) -> dx (planes, plane)
void zf_global_avgpool_backward(float *dx, const float *dy, int64_t planes, int64_t plane, zf_pool *pool);
// dy (planes), in (planes, plane) -> dx (planes, plane): to the first maximum
void zf_global_maxpool_backward(float *dx, const float *dy, const float *in, int64_t planes, int64_t plane,
                                zf_pool *pool);
// Scratch floats zf_lrn_backward needs.
size_t zf_lrn_backward_scratch(int64_t C, int threads);
// dy, in (N,C,plane) -> dx (N,C,plane); scratch: zf_lrn_backward_scratch floats
void zf_lrn_backward(float *dx, float *scratch, const float *dy, const float *in, int64_t N, int64_t C, int64_t plane,
                     const zf_lrn_params *p, zf_pool *pool);
// dy, in (N,C,plane), scale/mean/var (C) -> dx (N,C,plane), dscale, dbias (C). batch = 1: the
// statistics are the batch's own (training mode; mean and var are ignored and recomputed from in).
void zf_batchnorm_backward(float *dx, float *dscale, float *dbias, const float *dy, const float *in,
                           const float *scale, const float *mean, const float *var, int64_t N, int64_t C,
                           int64_t plane, float eps, int batch, zf_pool *pool);
// in (N,C,plane) -> mean, var (C): the batch's statistics (var biased, as the normalization uses)
void zf_batchnorm_stats(float *mean, float *var, const float *in, int64_t N, int64_t C, int64_t plane,
                        zf_pool *pool);

// Dropout in training mode: element i of the tensor whose mask key is `key` is kept when a hash of
// (key, i) is at least ratio (24-bit resolution); kept elements are scaled by 1/(1 - ratio).
uint64_t zf_dropout_key(uint64_t seed, int64_t tensor);
static inline int zf_dropout_keep(uint64_t key, int64_t i, uint32_t threshold24);
uint32_t zf_dropout_threshold(float ratio);
// x (n) -> out (n), mask (n, may be NULL: 1 kept, 0 dropped)
void zf_dropout_train_forward(float *out, float *mask, const float *x, int64_t n, float ratio, uint64_t key);
// dy (n) -> dx (n)
void zf_dropout_backward(float *dx, const float *dy, int64_t n, float ratio, uint64_t key);

// dy, x (n) -> dx (n)
void zf_relu_backward(float *dx, const float *dy, const float *x, int64_t n);
// dy (outer, n, inner), y = the forward output -> dx
void zf_softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner,
                         int take_log);

// Adapters with the zf_op.backward signature (until op.h gains the field), looked up by type.
typedef struct zf_train_ctx {
    uint64_t seed;
    float bn_momentum;
} zf_train_ctx;
typedef int (*zf_backward_fn)(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex,
                              const zf_train_ctx *tc, zf_error *err);
typedef int (*zf_train_forward_fn)(zf_node *n, zf_value *v, const zf_exec *ex, const zf_train_ctx *tc,
                                   zf_error *err);
zf_backward_fn zf_tmp_backward(const char *type);
// Training-mode forward for Dropout and BatchNormalization; NULL for the others (op->forward).
zf_train_forward_fn zf_tmp_train_forward(const char *type);
// Scratch bytes the node's backward needs (beyond n->scratch_bytes).
size_t zf_tmp_backward_scratch(const zf_node *n, const zf_value *v, int threads);

static inline int zf_dropout_keep(uint64_t key, int64_t i, uint32_t threshold24) {
    uint64_t z = key + (uint64_t)i * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (uint32_t)(z >> 40) >= threshold24;
}

#endif
