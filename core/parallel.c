// parallel.c: a persistent pthread pool. One job at a time per pool: the caller posts (fn, ctx, n),
// wakes the workers, takes chunks itself, and returns when every chunk is done. Chunks are handed
// out through an atomic counter (a few per thread) so a core busy with something else (OpenBLAS's
// spinning threads, another process) does not hold the whole loop back.
// Waking a sleeping worker through the condition variable cost 27-47 us here, and a projection
// makes a dozen short loops in a row: workers and the caller first spin briefly (SPIN_NS) on the
// job counter and the count of busy workers, and only then sleep.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <cblas.h>
#include "parallel.h"

struct zf_pool {
    int threads;                 // including the caller
    int n_workers;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_mutex_t submit;      // serializes callers of zf_parallel_for
    atomic_ullong generation;    // bumped per job (written under mu, read by spinning workers too)
    atomic_int quit;
    atomic_int active;           // workers still inside the current job (likewise)
    // the current job
    zf_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next;
};

// Set on worker threads so a body that itself calls zf_parallel_for runs the inner loop inline
// instead of deadlocking on its own pool.
static _Thread_local int tls_in_pool;

static void run_chunks(zf_pool *p) {
    for (;;) {
        long long c = atomic_fetch_add(&p->next, 1);
        if (c >= p->n_chunks) break;
        int64_t b = c * p->chunk, e = b + p->chunk;
        if (e > p->n) e = p->n;
        p->fn(p->ctx, b, e);
    }
}

// How long a worker waits for the next job, or the caller for the workers, before sleeping: longer
// than a dispatch through the condition variable, short enough that an idle pool costs nothing.
#define SPIN_NS 60000

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Spins until done(p, arg) or SPIN_NS have passed; returns done's last value.
static int spin_until(int (*done)(zf_pool *, uint64_t), zf_pool *p, uint64_t arg) {
    int64_t t0 = 0;
    for (int i = 0;; i++) {
        if (done(p, arg)) return 1;
        cpu_relax();
        if ((i & 63) == 63) {
            int64_t t = now_ns();
            if (!t0) t0 = t;
            else if (t - t0 > SPIN_NS) return done(p, arg);
        }
    }
}

static int new_job(zf_pool *p, uint64_t seen) { return atomic_load(&p->quit) || atomic_load(&p->generation) != seen; }
static int all_done(zf_pool *p, uint64_t unused) { (void)unused; return atomic_load(&p->active) == 0; }

static void *worker_main(void *arg) {
    zf_pool *p = arg;
    tls_in_pool = 1;
    uint64_t seen = 0;
    for (;;) {
        spin_until(new_job, p, seen);
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->quit) && atomic_load(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (atomic_load(&p->quit)) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = atomic_load(&p->generation);
        pthread_mutex_unlock(&p->mu);
        run_chunks(p);
        pthread_mutex_lock(&p->mu);
        if (atomic_fetch_sub(&p->active, 1) == 1) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

int zf_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c > 0) return c;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}

zf_pool *zf_pool_create(int threads) {
    if (threads <= 0) threads = zf_cpu_count();
    if (threads > 256) threads = 256;
    zf_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->submit, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) { zf_pool_destroy(p); return NULL; }
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&p->workers[i], NULL, worker_main, p)) break;
            p->n_workers++;
        }
        if (p->n_workers == 0) { free(p->workers); p->workers = NULL; }
        p->threads = p->n_workers + 1;   // fewer threads than asked if creation failed: still correct
    }
    return p;
}

int zf_pool_threads(const zf_pool *pool) { return pool ? pool->threads : 1; }

void zf_parallel_for(zf_pool *p, int64_t n, zf_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (!p || p->n_workers == 0 || n == 1 || tls_in_pool) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->submit);
    int64_t want = (int64_t)p->threads * 4;
    if (want > n) want = n;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = (n + want - 1) / want;
    p->n_chunks = (n + p->chunk - 1) / p->chunk;
    atomic_store(&p->next, 0);
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->active, p->n_workers);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    tls_in_pool = 1;
    run_chunks(p);
    tls_in_pool = 0;

    if (!spin_until(all_done, p, 0)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->submit);
}

void zf_pool_destroy(zf_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->submit);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

void zf_blas_set_threads(int threads) {
    if (threads <= 0) threads = zf_cpu_count();
    openblas_set_num_threads(threads);
}

// --- GEMM on the pool --------------------------------------------------------------------------------
// One slice of C per thread, each a single-threaded cblas_sgemm: OpenBLAS's own threads spin (and
// yield) for a long while after each call, on a 2-core machine taking turns with the pool's
// threads in the im2col, pooling and projection loops between GEMMs (ZFNet's conv1, all pool work,
// ran 2x slower beside them). The slices cut the larger of M and N, so the smaller operand is the
// one both threads pack.

typedef struct {
    int ta, tb;
    int M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    int split_n, parts;
} sgemm_ctx;

static void sgemm_part(void *vc, int64_t i0, int64_t i1) {
    const sgemm_ctx *c = vc;
    for (int64_t i = i0; i < i1; i++) {
        if (c->split_n) {
            // columns [n0, n1) of B and C, cut at multiples of 16
            int n0 = (int)((int64_t)c->N * i / c->parts) & ~15;
            int n1 = i + 1 == c->parts ? c->N : (int)((int64_t)c->N * (i + 1) / c->parts) & ~15;
            if (n1 <= n0) continue;
            const float *b = c->tb ? c->B + (size_t)n0 * c->ldb : c->B + n0;
            cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, c->M, n1 - n0,
                        c->K, c->alpha, c->A, c->lda, b, c->ldb, c->beta, c->C + n0, c->ldc);
        } else {
            int m0 = (int)((int64_t)c->M * i / c->parts), m1 = (int)((int64_t)c->M * (i + 1) / c->parts);
            if (m1 <= m0) continue;
            const float *a = c->ta ? c->A + m0 : c->A + (size_t)m0 * c->lda;
            cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, m1 - m0, c->N,
                        c->K, c->alpha, a, c->lda, c->B, c->ldb, c->beta, c->C + (size_t)m0 * c->ldc, c->ldc);
        }
    }
}

void zf_sgemm(zf_pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    int parts = zf_pool_threads(pool);
    if (parts < 2 || (double)M * N * K < (double)(1 << 20)) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                    A, lda, B, ldb, beta, C, ldc);
        return;
    }
    sgemm_ctx c = {trans_a, trans_b, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc, N >= 16 * parts && N >= M, parts};
    if (!c.split_n && M < parts) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                    A, lda, B, ldb, beta, C, ldc);
        return;
    }
    zf_parallel_for(pool, parts, sgemm_part, &c);
}
