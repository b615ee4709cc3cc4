// compute_util.h: small inline helpers shared by the compute ops (conv, pools, LRN, BN, Gemm,
// MatMul) for reaching a node's input/output tensors and checking them.
//
//   const zf_tensor *x = zf_cu_in(n, v, 0);       // NULL when the input is absent (in[i] == -1)
//   if (zf_cu_need_f32(x, "X", 4, 4, err)) return err->code;
//   zf_tensor *y = zf_cu_out(n, v, 0);
#ifndef ZF_OPS_COMPUTE_UTIL_H
#define ZF_OPS_COMPUTE_UTIL_H
#include <stdio.h>
#include "op.h"

static inline const zf_tensor *zf_cu_in(const zf_node *n, const zf_value *v, int i) {
    return i < n->n_in && n->in[i] >= 0 ? &v[n->in[i]].t : NULL;
}

static inline zf_tensor *zf_cu_out(const zf_node *n, zf_value *v, int i) {
    return i < n->n_out && n->out[i] >= 0 ? &v[n->out[i]].t : NULL;
}

// Requires a present float tensor of rank in [lo, hi].
static inline int zf_cu_need_f32(const zf_tensor *t, const char *what, int lo, int hi, zf_error *err) {
    if (!t) return zf_fail(err, ZF_ERR_INPUT, "input %s is missing", what);
    if (t->dtype != ZF_F32) return zf_fail(err, ZF_ERR_INPUT, "input %s must be float, got an int64 tensor", what);
    if (t->ndim < lo || t->ndim > hi) {
        char b[128];
        zf_shape_str(b, sizeof b, t->ndim, t->dims);
        if (lo == hi) return zf_fail(err, ZF_ERR_INPUT, "input %s has rank %d %s, expected rank %d", what, t->ndim, b, lo);
        return zf_fail(err, ZF_ERR_INPUT, "input %s has rank %d %s, expected rank %d to %d", what, t->ndim, b, lo, hi);
    }
    return 0;
}

static inline void zf_cu_set(zf_tensor *t, zf_dtype dt, int ndim, const int64_t *dims) {
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
}

// Eight floats in one AVX register (a GCC vector type: plain loops where AVX is absent), and
// acc + a * b in one rounding where the CPU has FMA: -std=c11 does not contract a * b + c, and a
// separate multiply and add double the instructions and the latency of accumulator chains. Used by
// the projection's sparse products (conv.c) and Winograd's fused product (core/winograd.c).
typedef float v8f __attribute__((vector_size(32)));
#if defined(__FMA__) || defined(__AVX__)
#include <immintrin.h>
#endif
static inline v8f fmadd8(v8f a, v8f b, v8f acc) {
#ifdef __FMA__
    return (v8f)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)acc);
#else
    return acc + a * b;
#endif
}
// The same for one float (a block's last taps: the same rounding as the vectors).
static inline float fmadd1(float a, float b, float acc) {
#ifdef __FMA__
    return __builtin_fmaf(a, b, acc);
#else
    return acc + a * b;
#endif
}

// Bit k set when s[k] != 0, k < 8 (NaN counts as nonzero).
static inline unsigned nz_mask8(const float *s) {
#if defined(__AVX__)
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s), _mm256_setzero_ps(), _CMP_NEQ_UQ));
#else
    unsigned m = 0;
    for (int k = 0; k < 8; k++) m |= (unsigned)(s[k] != 0.0f) << k;
    return m;
#endif
}

#endif
