// common.c: helpers shared by several ops (broadcasting, receptive-field arithmetic).
#include "op.h"

int zf_broadcast_shape(int *ndim, int64_t *dims, int na, const int64_t *a, int nb, const int64_t *b, zf_error *err) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1)
            return zf_fail(err, ZF_ERR_INPUT, "shapes cannot be broadcast: dimension %d is %lld vs %lld", i,
                           (long long)da, (long long)db);
        dims[i] = da == 1 ? db : da;
    }
    *ndim = n;
    return 0;
}

// Unit i of the output reads input indices [i*s - p, i*s - p + (k-1)*d]; input unit j covers
// [j*jump + off, j*jump + off + size). Hence jump' = s*jump, off' = off - p*jump,
// size' = size + (k-1)*d*jump.
void zf_rf_kernel(zf_rf *out, const zf_rf *in, const int64_t k[2], const int64_t s[2], const int64_t pad_begin[2],
                  const int64_t dil[2]) {
    *out = *in;
    if (!in->valid || in->global) return;
    for (int a = 0; a < 2; a++) {
        out->size[a] = in->size[a] + (k[a] - 1) * dil[a] * in->jump[a];
        out->offset[a] = in->offset[a] - pad_begin[a] * in->jump[a];
        out->jump[a] = in->jump[a] * s[a];
    }
}

void zf_rf_union(zf_rf *out, const zf_rf *a, const zf_rf *b) {
    if (!a->valid) { *out = *b; return; }
    if (!b->valid) { *out = *a; return; }
    zf_rf r = *a;
    r.global = a->global || b->global;
    for (int i = 0; i < 2; i++) {
        int64_t lo = a->offset[i] < b->offset[i] ? a->offset[i] : b->offset[i];
        int64_t ha = a->offset[i] + a->size[i], hb = b->offset[i] + b->size[i];
        int64_t hi = ha > hb ? ha : hb;
        r.offset[i] = lo;
        r.size[i] = hi - lo;
        r.jump[i] = a->jump[i] > b->jump[i] ? a->jump[i] : b->jump[i];
    }
    *out = r;
}

void zf_rf_global(zf_rf *out, const zf_rf *in) {
    *out = *in;
    out->global = 1;
}

int64_t zf_node_flops(const zf_node *n, const zf_value *v) {
    if (n->op && n->op->flops) return n->op->flops(n, v);
    return n->n_out > 0 && n->out[0] >= 0 ? zf_tensor_numel(&v[n->out[0]].t) : 0;
}
