// matmul.c: ONNX MatMul via zf_sgemm (see matmul.h).
#include <string.h>
#include <cblas.h>
#include "matmul.h"
#include "compute_util.h"
#include "proj.h"

int zf_matmul_setup(zf_matmul_params *p, int *out_ndim, int64_t *out_dims, int na, const int64_t *a, int nbd,
                    const int64_t *b, zf_error *err) {
    memset(p, 0, sizeof *p);
    if (na < 1 || nbd < 1) return zf_fail(err, ZF_ERR_INPUT, "MatMul operands must have rank >= 1 (got %d and %d)", na, nbd);
    // numpy: a 1-D A is a row (1,K), a 1-D B a column (K,1); the added axis is dropped afterwards.
    p->M = na >= 2 ? a[na - 2] : 1;
    p->K = a[na - 1];
    int64_t kb = nbd >= 2 ? b[nbd - 2] : b[0];
    p->N = nbd >= 2 ? b[nbd - 1] : 1;
    if (kb != p->K) {
        char sa[128], sb[128];
        return zf_fail(err, ZF_ERR_INPUT, "A %s and B %s: inner dimensions %lld and %lld differ",
                       zf_shape_str(sa, sizeof sa, na, a), zf_shape_str(sb, sizeof sb, nbd, b), (long long)p->K,
                       (long long)kb);
    }
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "matrix dimensions exceed the BLAS limit of 2^31-1");
    int ba = na > 2 ? na - 2 : 0, bb = nbd > 2 ? nbd - 2 : 0;
    int nb;
    if (zf_broadcast_shape(&nb, p->batch, ba, a, bb, b, err)) return err ? err->code : ZF_ERR_INPUT;
    p->nb = nb;
    // Strides of each broadcast batch axis in A and B (0 where that operand has size 1 or lacks it).
    int64_t sa = p->M * p->K, sb = p->K * p->N;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ba), ib = i - (nb - bb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        p->a_stride[i] = da == 1 ? 0 : sa;
        p->b_stride[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    p->batch_count = 1;
    for (int i = 0; i < nb; i++) p->batch_count *= p->batch[i];
    int b_shared = 1, a_full = 1;
    for (int i = 0; i < nb; i++) {
        if (p->b_stride[i]) b_shared = 0;
        if (!p->a_stride[i] && p->batch[i] != 1) a_full = 0;
    }
    p->fold = b_shared && a_full;
    int k = 0;
    for (int i = 0; i < nb; i++) out_dims[k++] = p->batch[i];
    if (na >= 2) out_dims[k++] = p->M;
    if (nbd >= 2) out_dims[k++] = p->N;
    *out_ndim = k;
    return 0;
}

void zf_matmul_forward(float *out, const float *a, const float *b, const zf_matmul_params *p, zf_pool *pool) {
    const int64_t M = p->M, N = p->N, K = p->K;
    if (M == 0 || N == 0 || p->batch_count == 0) return;
    if (K == 0) {
        memset(out, 0, (size_t)(p->batch_count * M * N) * sizeof(float));
        return;
    }
    if (p->fold) {
        zf_sgemm(pool, 0, 0, (int)(p->batch_count * M), (int)N, (int)K, 1.0f, a,
                 (int)K, b, (int)N, 0.0f, out, (int)N);
        return;
    }
    for (int64_t t = 0; t < p->batch_count; t++) {
        int64_t ao = 0, bo = 0, r = t;
        for (int i = p->nb - 1; i >= 0; i--) {
            int64_t idx = r % p->batch[i];
            r /= p->batch[i];
            ao += idx * p->a_stride[i];
            bo += idx * p->b_stride[i];
        }
        zf_sgemm(pool, 0, 0, (int)M, (int)N, (int)K, 1.0f, a + ao, (int)K, b + bo,
                 (int)N, 0.0f, out + t * M * N, (int)N);
    }
}

static int matmul_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_matmul_params *p = n->params;
    const zf_tensor *a = zf_cu_in(n, v, 0), *b = zf_cu_in(n, v, 1);
    if (zf_cu_need_f32(a, "A", 1, ZF_MAX_DIMS, err) || zf_cu_need_f32(b, "B", 1, ZF_MAX_DIMS, err))
        return err ? err->code : ZF_ERR_INPUT;
    int nd;
    int64_t d[ZF_MAX_DIMS + 2];
    if (zf_matmul_setup(p, &nd, d, a->ndim, a->dims, b->ndim, b->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    if (nd > ZF_MAX_DIMS) return zf_fail(err, ZF_ERR_INPUT, "output rank %d exceeds %d", nd, ZF_MAX_DIMS);
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, nd, d);
    n->scratch_bytes = 0;
    return 0;
}

static int matmul_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_matmul_forward(zf_f32(zf_cu_out(n, v, 0)), zf_f32(zf_cu_in(n, v, 0)), zf_f32(zf_cu_in(n, v, 1)), n->params, ex->pool);
    return 0;
}

static void matmul_rf(const zf_node *n, zf_value *v) { zf_rf_global(&v[n->out[0]].rf, &v[n->in[0]].rf); }

static int64_t matmul_flops(const zf_node *n, const zf_value *v) {
    const zf_matmul_params *p = n->params;
    return 2 * zf_tensor_numel(&v[n->out[0]].t) * p->K;
}

// --- projection (core/project.h, ops/proj.h), every rule ------------------------------------------

static void matmul_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_proj_slot *y = &a->out[0];
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *s = &a->in[k];
        if (!s->on) continue;
        if (!y->on) s->on = 0;
        else zf_box_full(&s->box, s->t);
    }
}

static int matmul_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_proj_slot *y = &a->out[0];
    if (!y->on) return 0;
    const zf_tensor *At = a->in[0].t, *Bt = a->in[1].t;
    zf_matmul_params p;
    int nd;
    int64_t od[ZF_MAX_DIMS + 2];
    if (zf_matmul_setup(&p, &nd, od, At->ndim, At->dims, Bt->ndim, Bt->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    const int64_t M = p.M, N = p.N, K = p.K;
    if (!M || !N || !K) return 0;
    zf_proj_out_full(&a->out[0]);   // whole (M, N) blocks of dY
    for (int64_t t = 0; t < p.batch_count; t++) {
        int64_t ao = 0, bo = 0, r = t;
        for (int i = p.nb - 1; i >= 0; i--) {
            int64_t idx = r % p.batch[i];
            r /= p.batch[i];
            ao += idx * p.a_stride[i];
            bo += idx * p.b_stride[i];
        }
        const float *dy = y->g + t * M * N;
        if (a->in[0].on)   // dA (M, K) += dY (M, N) B^T (N, K)
            zf_sgemm(a->pool, 0, 1, (int)M, (int)K, (int)N, 1.0f, dy, (int)N,
                     zf_f32(Bt) + bo, (int)N, 1.0f, a->in[0].g + ao, (int)K);
        if (a->in[1].on)   // dB (K, N) += A^T (K, M) dY (M, N)
            zf_sgemm(a->pool, 1, 0, (int)K, (int)N, (int)M, 1.0f, zf_f32(At) + ao,
                     (int)K, dy, (int)N, 1.0f, a->in[1].g + bo, (int)N);
    }
    return 0;
}

const zf_op zf_op_matmul = {
    .type = "MatMul",
    .params_size = sizeof(zf_matmul_params),
    .shape = matmul_shape,
    .forward = matmul_forward,
    .rf = matmul_rf,
    .flops = matmul_flops,
    .box_back = matmul_box_back,
    .project = matmul_project,
};
