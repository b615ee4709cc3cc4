// parallel.h: a small persistent pthread pool for every parallel loop: im2col, pooling,
// elementwise ops, projections, and the GEMMs themselves (zf_sgemm: one slice per thread, OpenBLAS
// single-threaded; a model sets OpenBLAS to one thread when it loads).
//
//   zf_pool *pool = zf_pool_create(4);                  // 0 = all cores
//   zf_parallel_for(pool, n, body, &ctx);               // body(ctx, begin, end) on disjoint chunks
//   zf_pool_destroy(pool);
//
// With pool == NULL or one thread the body runs inline on the caller's thread.
#ifndef ZF_PARALLEL_H
#define ZF_PARALLEL_H
#include <stdint.h>

typedef struct zf_pool zf_pool;
typedef void (*zf_range_fn)(void *ctx, int64_t begin, int64_t end);

zf_pool *zf_pool_create(int threads);
int zf_pool_threads(const zf_pool *pool);
void zf_parallel_for(zf_pool *pool, int64_t n, zf_range_fn fn, void *ctx);
void zf_pool_destroy(zf_pool *pool);
// Number of online cores.
int zf_cpu_count(void);
// Sets OpenBLAS's thread count (openblas_set_num_threads).
void zf_blas_set_threads(int threads);
// Row-major C = alpha op(A) op(B) + beta C (as cblas_sgemm; trans_a/trans_b: 0 or 1), split over
// the pool's threads into single-threaded cblas_sgemm calls; small products run on the caller.
void zf_sgemm(zf_pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
