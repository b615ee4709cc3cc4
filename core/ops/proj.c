// proj.c: box arithmetic shared by the projection rules, and the rules several ops share (see proj.h).
#include <string.h>
#include "proj.h"
#include "window.h"

void zf_box_full(zf_box *b, const zf_tensor *t) {
    memset(b, 0, sizeof *b);
    for (int d = 0; d < t->ndim; d++) b->hi[d] = t->dims[d];
}

int zf_box_is_empty(const zf_box *b, int ndim) {
    for (int d = 0; d < ndim; d++)
        if (b->hi[d] <= b->lo[d]) return 1;
    return 0;
}

int64_t zf_box_numel(const zf_box *b, int ndim) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= b->hi[d] > b->lo[d] ? b->hi[d] - b->lo[d] : 0;
    return n;
}

void zf_box_union(zf_box *a, const zf_box *b, int ndim) {
    for (int d = 0; d < ndim; d++) {
        if (b->lo[d] < a->lo[d]) a->lo[d] = b->lo[d];
        if (b->hi[d] > a->hi[d]) a->hi[d] = b->hi[d];
    }
}

// --- iteration ----------------------------------------------------------------------------------

static void iter_set(zf_box_iter *it) {
    int64_t off = 0;
    for (int d = 0; d < it->nd; d++) off += it->idx[d] * it->stride[d];
    it->off = off;
}

void zf_box_iter_begin(zf_box_iter *it, const zf_tensor *t, const zf_box *b) {
    memset(it, 0, sizeof *it);
    it->b = b;
    it->nd = t->ndim;
    if (t->ndim == 0) {   // a scalar: one row of one element
        it->len = 1;
        return;
    }
    int64_t r = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        it->stride[d] = r;
        r *= t->dims[d];
    }
    if (zf_box_is_empty(b, t->ndim)) {
        it->done = 1;
        return;
    }
    for (int d = 0; d < t->ndim; d++) it->idx[d] = b->lo[d];
    it->len = b->hi[t->ndim - 1] - b->lo[t->ndim - 1];
    iter_set(it);
}

void zf_box_iter_next(zf_box_iter *it) {
    int d = it->nd - 2;
    for (; d >= 0; d--) {
        if (++it->idx[d] < it->b->hi[d]) break;
        it->idx[d] = it->b->lo[d];
    }
    if (d < 0) {
        it->done = 1;
        return;
    }
    iter_set(it);
}

// --- parallel boxes -----------------------------------------------------------------------------

int zf_box_split_axis(const zf_box *b, int ndim) {
    for (int d = 0; d < ndim; d++)
        if (b->hi[d] - b->lo[d] > 1) return d;
    return ndim > 0 ? ndim - 1 : 0;
}

typedef struct {
    const zf_box *b;
    int axis;
    zf_box_fn fn;
    void *ctx;
} box_par_ctx;

static void box_par_range(void *vc, int64_t i0, int64_t i1) {
    const box_par_ctx *c = vc;
    zf_box sub = *c->b;
    sub.lo[c->axis] = c->b->lo[c->axis] + i0;
    sub.hi[c->axis] = c->b->lo[c->axis] + i1;
    c->fn(c->ctx, &sub);
}

void zf_box_parallel(zf_pool *pool, const zf_box *b, int axis, int64_t numel, int64_t min_numel, zf_box_fn fn,
                     void *ctx) {
    int64_t n = b->hi[axis] - b->lo[axis];
    if (!pool || numel < min_numel || n < 2) {
        fn(ctx, b);
        return;
    }
    box_par_ctx c = {b, axis, fn, ctx};
    zf_parallel_for(pool, n, box_par_range, &c);
}

// --- zeroing ------------------------------------------------------------------------------------

void zf_box_zero(float *g, const zf_tensor *t, const zf_box *b) {
    zf_box_iter it;
    for (zf_box_iter_begin(&it, t, b); !it.done; zf_box_iter_next(&it))
        memset(g + it.off, 0, (size_t)it.len * sizeof(float));
}

typedef struct {
    float *g;
    const zf_tensor *t;
} zero_ctx;

static void zero_box(void *vc, const zf_box *b) {
    const zero_ctx *c = vc;
    zf_box_zero(c->g, c->t, b);
}

void zf_box_zero_pool(float *g, const zf_tensor *t, const zf_box *b, zf_pool *pool) {
    zero_ctx c = {g, t};
    zf_box_parallel(pool, b, zf_box_split_axis(b, t->ndim), zf_box_numel(b, t->ndim), ZF_PROJ_PAR_MIN, zero_box, &c);
}

void zf_box_grow(float *g, const zf_tensor *t, zf_box *cur, int had, const zf_box *add) {
    int nd = t->ndim;
    if (nd == 0) {   // a scalar: its one element is the whole box
        if (!had) g[0] = 0.0f;
        *cur = *add;
        return;
    }
    if (!had) {
        *cur = *add;
        zf_box_zero(g, t, cur);
        return;
    }
    int inside = 1;
    for (int d = 0; d < nd && inside; d++) inside = add->lo[d] >= cur->lo[d] && add->hi[d] <= cur->hi[d];
    if (inside) return;
    zf_box u = *cur;
    zf_box_union(&u, add, nd);
    // Rows of the union: a row whose leading indices all lie in cur keeps cur's part of the last axis.
    zf_box_iter it;
    for (zf_box_iter_begin(&it, t, &u); !it.done; zf_box_iter_next(&it)) {
        int in_cur = 1;
        for (int d = 0; d < nd - 1 && in_cur; d++) in_cur = it.idx[d] >= cur->lo[d] && it.idx[d] < cur->hi[d];
        int64_t ulo = u.lo[nd - 1], uhi = u.hi[nd - 1];
        if (!in_cur) {
            memset(g + it.off, 0, (size_t)it.len * sizeof(float));
            continue;
        }
        int64_t clo = cur->lo[nd - 1], chi = cur->hi[nd - 1];
        if (clo > ulo) memset(g + it.off, 0, (size_t)(clo - ulo) * sizeof(float));
        if (uhi > chi) memset(g + it.off + (chi - ulo), 0, (size_t)(uhi - chi) * sizeof(float));
    }
    *cur = u;
}

// --- flat ranges (reshapes) ---------------------------------------------------------------------

void zf_box_flat_range(int64_t *first, int64_t *last, const zf_tensor *t, const zf_box *b) {
    int64_t f = 0, l = 0, r = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        f += b->lo[d] * r;
        l += (b->hi[d] - 1) * r;
        r *= t->dims[d];
    }
    *first = f;
    *last = l;
}

void zf_box_of_flat(zf_box *b, const zf_tensor *t, int64_t first, int64_t last) {
    int nd = t->ndim;
    int64_t a[ZF_MAX_DIMS], z[ZF_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
        int64_t n = t->dims[d] > 0 ? t->dims[d] : 1;
        a[d] = first % n;
        z[d] = last % n;
        first /= n;
        last /= n;
    }
    memset(b, 0, sizeof *b);
    int split = 0;   // once the two indices differ on an axis, every later axis is whole
    for (int d = 0; d < nd; d++) {
        if (split) {
            b->lo[d] = 0;
            b->hi[d] = t->dims[d];
        } else {
            b->lo[d] = a[d];
            b->hi[d] = z[d] + 1;
            split = a[d] != z[d];
        }
    }
}

// --- windows ------------------------------------------------------------------------------------

void zf_box_window(int64_t *lo, int64_t *hi, int64_t olo, int64_t ohi, int64_t k, int64_t s, int64_t pb, int64_t d,
                   int64_t n) {
    int64_t l = olo * s - pb, h = (ohi - 1) * s - pb + (k - 1) * d + 1;
    if (l < 0) l = 0;
    if (h > n) h = n;
    if (ohi <= olo || h < l) h = l;
    *lo = l;
    *hi = h;
}

// --- shared rules -------------------------------------------------------------------------------

void zf_proj_box_elementwise(const zf_node *n, zf_proj_args *a) {
    const zf_proj_slot *y = &a->out[0];
    int ro = y->t->ndim;
    for (int k = 0; k < a->n_in; k++) {
        zf_proj_slot *x = &a->in[k];
        if (!x->on) continue;
        if (!y->on) {
            x->on = 0;
            continue;
        }
        int ri = x->t->ndim;
        memset(&x->box, 0, sizeof x->box);
        for (int d = 0; d < ri; d++) {
            int od = d + (ro - ri);
            if (od >= 0 && x->t->dims[d] == y->t->dims[od]) {
                x->box.lo[d] = y->box.lo[od];
                x->box.hi[d] = y->box.hi[od];
            } else {
                x->box.lo[d] = 0;
                x->box.hi[d] = x->t->dims[d];
            }
        }
    }
}

typedef float v8f __attribute__((vector_size(32)));

typedef struct {
    zf_proj_slot *x;
    const zf_proj_slot *y;
} identity_ctx;

static void identity_box(void *vc, const zf_box *b) {
    const identity_ctx *c = vc;
    zf_box_iter it;
    for (zf_box_iter_begin(&it, c->x->t, b); !it.done; zf_box_iter_next(&it)) {
        float *gi = c->x->g + it.off;
        const float *go = c->y->g + it.off;
        if (c->x->fresh) {   // the box box_back asked to overwrite (see proj.h): a copy
            memcpy(gi, go, (size_t)it.len * sizeof(float));
            continue;
        }
        int64_t i = 0;
        for (; i + 8 <= it.len; i += 8) {   // by hand: -O2 leaves loops of unknown length scalar
            v8f u, v;
            memcpy(&u, gi + i, sizeof u);
            memcpy(&v, go + i, sizeof v);
            u += v;
            memcpy(gi + i, &u, sizeof u);
        }
        for (; i < it.len; i++) gi[i] += go[i];
    }
}

int zf_proj_identity(const zf_node *n, zf_proj_args *a, zf_error *err) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    identity_ctx c = {x, y};
    const int nd = x->t->ndim;
    zf_box_parallel(a->pool, &x->box, zf_box_split_axis(&x->box, nd), zf_box_numel(&x->box, nd), ZF_PROJ_PAR_MIN,
                    identity_box, &c);
    return 0;
}

void zf_proj_box_reshape(const zf_node *n, zf_proj_args *a) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;   // shape / axes inputs carry no signal
    if (!x->on) return;
    if (!y->on || zf_tensor_numel(x->t) != zf_tensor_numel(y->t)) {
        x->on = 0;
        return;
    }
    int64_t first, last;
    zf_box_flat_range(&first, &last, y->t, &y->box);
    zf_box_of_flat(&x->box, x->t, first, last);
}

int zf_proj_reshape(const zf_node *n, zf_proj_args *a, zf_error *err) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    // Same row-major flat layout: walk the output's box and add at the same flat offsets.
    zf_box_iter it;
    for (zf_box_iter_begin(&it, y->t, &y->box); !it.done; zf_box_iter_next(&it)) {
        float *gi = x->g + it.off;
        const float *go = y->g + it.off;
        for (int64_t i = 0; i < it.len; i++) gi[i] += go[i];
    }
    return 0;
}

int zf_proj_only_data(const zf_node *n, const zf_proj_args *a, int from, zf_error *err) {
    for (int k = from; k < a->n_in; k++)
        if (a->in[k].want)
            return zf_fail(err, ZF_ERR_INPUT, "input %d depends on the model input, but the signal is only "
                           "projected into input%s 0%s", k, from > 1 ? "s" : "", from > 1 ? " to 1" : "");
    return 0;
}

void zf_proj_out_full(zf_proj_slot *y) {
    zf_box full;
    zf_box_full(&full, y->t);
    zf_box_grow(y->g, y->t, &y->box, 1, &full);
}

int zf_proj_box_grouped(zf_proj_args *a, int64_t Kg, int64_t Cg) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return 0;
    if (!y->on) {
        x->on = 0;
        return 0;
    }
    memset(&x->box, 0, sizeof x->box);
    x->box.hi[0] = 1;
    x->box.lo[1] = y->box.lo[1] / Kg * Cg;
    x->box.hi[1] = ((y->box.hi[1] - 1) / Kg + 1) * Cg;
    return 1;
}

void zf_proj_box_pool(zf_proj_args *a, const struct zf_window *win) {
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    for (int k = 1; k < a->n_in; k++) a->in[k].on = 0;
    if (!x->on) return;
    if (!y->on) {
        x->on = 0;
        return;
    }
    x->box = y->box;
    for (int i = 0; i < win->nsp; i++)
        zf_box_window(&x->box.lo[2 + i], &x->box.hi[2 + i], y->box.lo[2 + i], y->box.hi[2 + i], win->k[i], win->s[i],
                      win->pb[i], win->d[i], win->in[i]);
}
