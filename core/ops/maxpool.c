// maxpool.c: ONNX MaxPool with switches (see maxpool.h).
#include <math.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include "maxpool.h"
#include "compute_util.h"
#include "proj.h"

// The row kernels below are instantiated with constant window sizes; forcing the inlining is what
// lets the compiler unroll their tap loops.
#if defined(__GNUC__)
#define MP_INLINE static inline __attribute__((always_inline))
#else
#define MP_INLINE static inline
#endif

int zf_maxpool_setup(zf_maxpool_params *p, int ndim, const int64_t *x, zf_error *err) {
    if (ndim < 3 || ndim > 2 + ZF_WINDOW_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "input X has rank %d, expected 3 to 5 (N,C,spatial...)", ndim);
    if (p->attrs.n_kernel != ndim - 2)
        return zf_fail(err, ZF_ERR_INPUT, "kernel_shape has %d values, expected %d", p->attrs.n_kernel, ndim - 2);
    if (zf_window_resolve(&p->win, &p->attrs, ndim - 2, x + 2, NULL, err)) return err ? err->code : ZF_ERR_INPUT;
    p->N = x[0];
    p->C = x[1];
    return 0;
}

// Widest output row the fast path takes without a switch buffer (a row of switches on the stack).
#define MP_ROW_MAX 1024

typedef struct {
    float *out;
    int32_t *sw;
    int64_t *idx;
    const float *in;
    const zf_maxpool_params *p;
    zf_pool_geom g;
    // 2-D (or 1-D) undilated windows: the outputs in rows [oh_lo, oh_hi) and columns [ow_lo, ow_hi)
    // have their whole window inside the input and skip the clipping. The row kernels record
    // switches; without a switch buffer (occlusion's batched pools) a row's go to a stack row.
    int fast;
    int64_t oh_lo, oh_hi, ow_lo, ow_hi;
} mp_ctx;

// Maximum of output (od, oh, ow)'s window clipped to the input plane x, into *best; returns its
// position inside the plane, -1 when the window saw only padding.
static int64_t mp_window(float *best_out, const float *x, const zf_pool_geom *g, int64_t od, int64_t oh, int64_t ow) {
    int64_t d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
    const int64_t d0 = od * g->s[0] - g->pb[0], h0 = oh * g->s[1] - g->pb[1], w0 = ow * g->s[2] - g->pb[2];
    zf_pool_axis_range(&d_lo, &d_hi, d0, g, 0);
    zf_pool_axis_range(&h_lo, &h_hi, h0, g, 1);
    zf_pool_axis_range(&w_lo, &w_hi, w0, g, 2);
    float best = -INFINITY;
    int64_t pos = -1;
    for (int64_t kd = d_lo; kd < d_hi; kd++) {
        int64_t id = d0 + kd * g->d[0];
        for (int64_t kh = h_lo; kh < h_hi; kh++) {
            int64_t base = (id * g->in[1] + h0 + kh * g->d[1]) * g->in[2];
            for (int64_t kw = w_lo; kw < w_hi; kw++) {
                int64_t at = base + w0 + kw * g->d[2];
                float v = x[at];
                // PyTorch's rule: strictly greater (first maximum wins), NaN wins.
                if (pos < 0 || v > best || isnan(v)) {
                    best = v;
                    pos = at;
                }
            }
        }
    }
    *best_out = best;
    return pos;
}

// Interior outputs [ow0, ow1) of a row whose windows start at input row h0: kh x kw taps, stride s,
// all inside the W-wide plane x. The same scan order and rule as mp_window, without branches (the
// comparisons are data-dependent and would mispredict).
MP_INLINE void mp_row_interior(float *y, int32_t *sw, const float *x, int64_t W, int64_t h0, int64_t pw, int64_t ow0,
                                int64_t ow1, int64_t kh, int64_t kw, int64_t s) {
    for (int64_t ow = ow0; ow < ow1; ow++) {
        const int64_t base = h0 * W + ow * s - pw;
        float best = x[base];
        int64_t pos = base;
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                const int64_t at = base + i * W + j;
                const float v = x[at];
                const int take = v > best || v != v;
                best = take ? v : best;
                pos = take ? at : pos;
            }
        y[ow] = best;
        sw[ow] = (int32_t)pos;
    }
}

// ONNX Indices output: the flat index into the whole input of position pos of plane q.
static int64_t mp_flat_index(int64_t pos, int64_t q, int64_t in_plane, const zf_pool_geom *g, int storage_order) {
    if (pos < 0) return -1;
    int64_t flat = pos;
    if (storage_order) {
        // Column-major inside the plane: d + D*(h + H*w).
        int64_t pw = pos % g->in[2], ph = pos / g->in[2] % g->in[1], pd = pos / g->in[2] / g->in[1];
        flat = pd + g->in[0] * (ph + g->in[1] * pw);
    }
    return q * in_plane + flat;
}

#if defined(__AVX2__)
// mp_row_interior for stride 1 or 2, eight outputs per step: lane l holds output ow + l. The same
// scan order and rule, so the same results bit for bit. Stops before a step would read past the
// plane (x has `plane` floats: a stride-2 step loads 16 floats for 15 used); returns the first
// output it did not compute. Fewer than 8 outputs (occlusion's small boxes: pool2 and pool5 of
// ZFNet are 5 and 6 wide) take one step whose extra lanes read on into the next rows and are not
// stored.
MP_INLINE int64_t mp_row_interior_avx2(float *y, int32_t *sw, const float *x, int64_t W, int64_t plane, int64_t h0,
                                        int64_t pw, int64_t ow0, int64_t ow1, int64_t kh, int64_t kw, int64_t s) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lanes = s == 2 ? _mm256_add_epi32(lane, lane) : lane;
    const int narrow = ow1 - ow0 < 8;
    const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(ow1 - ow0)), lane);   // narrow: lanes stored
    int64_t ow = ow0;
    for (; ow < ow1; ow += 8) {
        // A last partial step recomputes some outputs instead of leaving them to the scalar loop.
        if (!narrow && ow + 8 > ow1) ow = ow1 - 8;
        const int64_t base = h0 * W + ow * s - pw;
        if (base + (kh - 1) * W + kw - 1 + 8 * s > plane) break;
        const __m256i pos0 = _mm256_add_epi32(_mm256_set1_epi32((int32_t)base), lanes);
        __m256 best = _mm256_setzero_ps();
        __m256i pos = pos0;
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                const float *t = x + base + i * W + j;
                __m256 v;
                if (s == 2) {
                    __m256 a = _mm256_loadu_ps(t), b = _mm256_loadu_ps(t + 8);
                    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // a0 a2 b0 b2 | a4 a6 b4 b6
                    v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
                } else {
                    v = _mm256_loadu_ps(t);
                }
                if (i == 0 && j == 0) {
                    best = v;
                    continue;
                }
                // v > best or v is NaN, lane by lane
                const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                const __m256 at = _mm256_castsi256_ps(_mm256_add_epi32(pos0, _mm256_set1_epi32((int32_t)(i * W + j))));
                best = _mm256_blendv_ps(best, v, take);
                pos = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(pos), at, take));
            }
        if (narrow) {
            _mm256_maskstore_ps(y + ow, keep, best);
            _mm256_maskstore_epi32((int *)(sw + ow), keep, pos);
            return ow1;
        }
        _mm256_storeu_ps(y + ow, best);
        _mm256_storeu_si256((__m256i *)(sw + ow), pos);
    }
    return ow;
}
#endif

// One output row of a fast (2-D) plane: the clipped path at the borders, mp_row_interior inside.
static void mp_row_fast(float *y, int32_t *sw, const float *x, const mp_ctx *c, int64_t oh) {
    const zf_pool_geom *g = &c->g;
    const int64_t OW = g->out[2];
    int64_t a = c->ow_lo, b = c->ow_hi;
    if (oh < c->oh_lo || oh >= c->oh_hi) a = b = OW;
    for (int64_t ow = 0; ow < a; ow++) sw[ow] = (int32_t)mp_window(&y[ow], x, g, 0, oh, ow);
    const int64_t h0 = oh * g->s[1] - g->pb[1], W = g->in[2], pw = g->pb[2], k1 = g->k[1], k2 = g->k[2];
#if defined(__AVX2__)
    if (g->s[2] <= 2 && b - a >= 2) {
        const int64_t plane = g->in[1] * W;
        if (k1 == 3 && k2 == 3 && g->s[2] == 2) a = mp_row_interior_avx2(y, sw, x, W, plane, h0, pw, a, b, 3, 3, 2);
        else a = mp_row_interior_avx2(y, sw, x, W, plane, h0, pw, a, b, k1, k2, g->s[2]);
    }
#endif
    if (k1 == 3 && k2 == 3 && g->s[2] == 2) mp_row_interior(y, sw, x, W, h0, pw, a, b, 3, 3, 2);
    else if (k1 == 2 && k2 == 2 && g->s[2] == 2) mp_row_interior(y, sw, x, W, h0, pw, a, b, 2, 2, 2);
    else if (k1 == 3 && k2 == 3 && g->s[2] == 1) mp_row_interior(y, sw, x, W, h0, pw, a, b, 3, 3, 1);
    else mp_row_interior(y, sw, x, W, h0, pw, a, b, k1, k2, g->s[2]);
    for (int64_t ow = b; ow < OW; ow++) sw[ow] = (int32_t)mp_window(&y[ow], x, g, 0, oh, ow);
}

static void mp_planes(void *vc, int64_t q0, int64_t q1) {
    const mp_ctx *c = vc;
    const zf_pool_geom *g = &c->g;
    const int64_t in_plane = g->in[0] * g->in[1] * g->in[2], out_plane = g->out[0] * g->out[1] * g->out[2];
    for (int64_t q = q0; q < q1; q++) {
        const float *x = c->in + q * in_plane;
        float *y = c->out + q * out_plane;
        int32_t *sw = c->sw ? c->sw + q * out_plane : NULL;
        int64_t *ix = c->idx ? c->idx + q * out_plane : NULL;
        if (c->fast) {
            int32_t row[MP_ROW_MAX];
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                mp_row_fast(y + oh * g->out[2], sw ? sw + oh * g->out[2] : row, x, c, oh);
            if (ix)
                for (int64_t o = 0; o < out_plane; o++)
                    ix[o] = mp_flat_index(sw[o], q, in_plane, g, c->p->storage_order);
            continue;
        }
        int64_t o = 0;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++, o++) {
                    int64_t pos = mp_window(&y[o], x, g, od, oh, ow);
                    if (sw) sw[o] = (int32_t)pos;
                    if (ix) ix[o] = mp_flat_index(pos, q, in_plane, g, c->p->storage_order);
                }
    }
}

// Outputs [*lo, *hi) along axis a whose undilated window lies wholly inside the input.
static void mp_interior(int64_t *lo, int64_t *hi, const zf_pool_geom *g, int a) {
    const int64_t s = g->s[a], last = g->in[a] + g->pb[a] - g->k[a];   // the last start allowed, plus pb
    int64_t l = (g->pb[a] + s - 1) / s, h = last < 0 ? 0 : last / s + 1;
    if (h > g->out[a]) h = g->out[a];
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

void zf_maxpool_forward(float *out, int32_t *switches, int64_t *indices, const float *in, const zf_maxpool_params *p,
                        zf_pool *pool) {
    mp_ctx c = {out, switches, indices, in, p, {{0}}, 0, 0, 0, 0, 0};
    zf_pool_geom_from(&c.g, &p->win);
    const zf_pool_geom *g = &c.g;
    c.fast = (switches || (!indices && g->out[2] <= MP_ROW_MAX)) && g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->pb[0] == 0 && g->d[1] == 1 &&
             g->d[2] == 1;
    if (c.fast) {
        mp_interior(&c.oh_lo, &c.oh_hi, g, 1);
        mp_interior(&c.ow_lo, &c.ow_hi, g, 2);
    }
    int64_t planes = p->N * p->C;
    if (planes * c.g.out[0] * c.g.out[1] * c.g.out[2] * c.g.k[0] * c.g.k[1] * c.g.k[2] < (1 << 15)) pool = NULL;
    zf_parallel_for(pool, planes, mp_planes, &c);
}

// --- zf_op adapter --------------------------------------------------------------------------------

static int mp_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_maxpool_params *p = params;
    memset(p, 0, sizeof *p);
    if (zf_window_parse(&p->attrs, n, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!p->attrs.n_kernel) return zf_fail(err, ZF_ERR_INPUT, "kernel_shape is required");
    int64_t so = 0;
    if (zf_onnx_attr_int(&so, n, "storage_order", 0, err)) return err ? err->code : ZF_ERR_INPUT;
    if (so != 0 && so != 1) return zf_fail(err, ZF_ERR_INPUT, "storage_order must be 0 or 1, got %lld", (long long)so);
    p->storage_order = (int)so;
    return 0;
}

static int mp_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_maxpool_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0);
    if (zf_cu_need_f32(x, "X", 3, 2 + ZF_WINDOW_MAX, err)) return err ? err->code : ZF_ERR_INPUT;
    if (zf_maxpool_setup(p, x->ndim, x->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    int64_t d[ZF_MAX_DIMS] = {p->N, p->C};
    for (int i = 0; i < p->win.nsp; i++) d[2 + i] = p->win.out[i];
    long long pl = 1;
    for (int i = 0; i < p->win.nsp; i++) pl *= p->win.in[i];
    if (pl > INT32_MAX) return zf_fail(err, ZF_ERR_INPUT, "input plane of %lld elements is too large for switches", pl);
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, x->ndim, d);
    zf_tensor *ind = zf_cu_out(n, v, 1);
    if (ind) zf_cu_set(ind, ZF_I64, x->ndim, d);
    n->scratch_bytes = 0;
    return 0;
}

static int mp_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    zf_tensor *ind = zf_cu_out(n, v, 1);
    zf_maxpool_forward(zf_f32(zf_cu_out(n, v, 0)), n->switches, ind ? zf_i64(ind) : NULL, zf_f32(zf_cu_in(n, v, 0)),
                       n->params, ex->pool);
    return 0;
}

static void mp_rf(const zf_node *n, zf_value *v) {
    const zf_maxpool_params *p = n->params;
    zf_pool_rf(&v[n->out[0]].rf, &v[n->in[0]].rf, &p->win);
    if (n->n_out > 1 && n->out[1] >= 0) v[n->out[1]].rf.valid = 0;
}

// One comparison per window tap.
static int64_t mp_flops(const zf_node *n, const zf_value *v) {
    const zf_maxpool_params *p = n->params;
    int64_t taps = 1;
    for (int a = 0; a < p->win.nsp; a++) taps *= p->win.k[a];
    return zf_tensor_numel(&v[n->out[0]].t) * taps;
}

// --- projection (core/project.h, ops/proj.h): unpool through the switches (Zeiler & Fergus
// sec. 2.1), every rule --------------------------------------------------------------------------

// mp_project zeroes the input's box itself, a channel at a time just before unpooling into it (the
// plane is still in cache when the signal lands), instead of the walker zeroing it all first.
static void mp_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_maxpool_params *p = n->params;
    zf_proj_box_pool(a, &p->win);
    a->in[0].overwrite = 1;
}

typedef struct {
    zf_proj_slot *x;
    const zf_proj_slot *y;
    const int32_t *switches;
    int64_t in_plane, out_plane;
    const float *relu_x;        // fused ReLU (zf_proj_args.relu_x): its forward input, else NULL
    zf_rule rule;
} mp_proj_ctx;

// The sub-box holds whole channels' rows: each writes only its own channel's input plane. One
// channel at a time, its plane is zeroed, unpooled into and rectified while it stays in L1.
static void mp_project_box(void *vc, const zf_box *b) {
    const mp_proj_ctx *c = vc;
    for (int64_t ch = b->lo[1]; ch < b->hi[1]; ch++) {
        zf_box cb = *b;
        cb.lo[1] = ch;
        cb.hi[1] = ch + 1;
        if (c->x->fresh) {   // this channel of the input box, zeroed here (see mp_box_back)
            zf_box xb = c->x->box;
            xb.lo[1] = ch;
            xb.hi[1] = ch + 1;
            zf_box_zero(c->x->g, c->x->t, &xb);
        }
        zf_box_iter it;
        for (zf_box_iter_begin(&it, c->y->t, &cb); !it.done; zf_box_iter_next(&it)) {
            float *gi = c->x->g + it.off / c->out_plane * c->in_plane;   // the row's (n, c) plane
            const float *go = c->y->g + it.off;
            const int32_t *sw = c->switches + it.off;
            for (int64_t i = 0; i < it.len; i++)
                if (sw[i] >= 0) gi[sw[i]] += go[i];
        }
        if (!c->relu_x) continue;
        // The fused ReLU, once the channel holds all its unpooled signal: only the switch positions
        // can be nonzero (a position several windows chose is rectified again, unchanged).
        for (zf_box_iter_begin(&it, c->y->t, &cb); !it.done; zf_box_iter_next(&it)) {
            const int64_t base = it.off / c->out_plane * c->in_plane;
            float *gi = c->x->g + base;
            const float *xi = c->relu_x + base;
            const int32_t *sw = c->switches + it.off;
            const zf_rule rule = c->rule;
            if (rule == ZF_RULE_DECONVNET) {   // xi is not read: the forward values stay out of the cache
                for (int64_t i = 0; i < it.len; i++)
                    if (sw[i] >= 0) gi[sw[i]] = zf_proj_relu_one(gi[sw[i]], 0.0f, ZF_RULE_DECONVNET);
            } else {
                for (int64_t i = 0; i < it.len; i++)
                    if (sw[i] >= 0) gi[sw[i]] = zf_proj_relu_one(gi[sw[i]], xi[sw[i]], rule);
            }
        }
    }
}

// Bit k set when zf_proj_relu_one(go[k], x[k], rule) != 0 (it is then go[k]), k < 8.
static inline unsigned relu_mask8(const float *go, const float *x, zf_rule rule) {
#if defined(__AVX__)
    const __m256 g = _mm256_loadu_ps(go), z = _mm256_setzero_ps();
    if (rule == ZF_RULE_DECONVNET) return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(g, z, _CMP_GT_OQ));
    const __m256 xp = _mm256_cmp_ps(_mm256_loadu_ps(x), z, _CMP_GT_OQ);
    if (rule == ZF_RULE_GUIDED) return (unsigned)_mm256_movemask_ps(_mm256_and_ps(xp, _mm256_cmp_ps(g, z, _CMP_GT_OQ)));
    return (unsigned)_mm256_movemask_ps(_mm256_and_ps(xp, _mm256_cmp_ps(g, z, _CMP_NEQ_UQ)));
#else
    unsigned m = 0;
    for (int k = 0; k < 8; k++) m |= (unsigned)(zf_proj_relu_one(go[k], x[k], rule) != 0.0f) << k;
    return m;
#endif
}

// The fused ReLU's input listed instead of written (zf_proj_lists, one thread): each channel is
// unpooled into L->plane (in L1), rectified at the switch positions, and its nonzeros appended to
// the lists in order; the plane's box rows are zeroed again after.
static void mp_project_lists(const mp_proj_ctx *c, zf_proj_lists *L) {
    const zf_box *xb = &c->x->box;
    const int64_t W = c->x->t->dims[3], by0 = xb->lo[2], by1 = xb->hi[2], bx0 = xb->lo[3], bw = xb->hi[3] - bx0;
    float *pl = L->plane;
    int32_t e = 0;
    for (int64_t ch = xb->lo[1]; ch < xb->hi[1]; ch++) {
        L->first[ch - xb->lo[1]] = e;
        zf_box cb = c->y->box;
        cb.lo[1] = ch;
        cb.hi[1] = ch + 1;
        zf_box_iter it;
        for (zf_box_iter_begin(&it, c->y->t, &cb); !it.done; zf_box_iter_next(&it)) {
            const float *go = c->y->g + it.off;
            const int32_t *sw = c->switches + it.off;
            for (int64_t i = 0; i < it.len; i++)
                if (sw[i] >= 0) pl[sw[i]] += go[i];
        }
        // The ReLU rule as the rows are listed: only the switch positions hold signal, so this equals
        // rectifying them (deconvnet: go > 0; guided: go > 0 and x > 0; gradient: x > 0).
        const float *xi = c->relu_x + (xb->lo[0] * c->x->t->dims[1] + ch) * c->in_plane;
        for (int64_t y = by0; y < by1; y++) {
            float *row = pl + y * W + bx0;
            const float *xr = xi + y * W + bx0;
            const int32_t q0 = (int32_t)((y - by0) * bw);
            int64_t i = 0;
            for (; i + 8 <= bw; i += 8) {
                unsigned mask = relu_mask8(row + i, xr + i, c->rule);
                while (mask) {
                    const int b = __builtin_ctz(mask);
                    L->pos[e] = q0 + (int32_t)(i + b);
                    L->val[e++] = row[i + b];
                    mask &= mask - 1;
                }
            }
            for (; i < bw; i++)   // deconvnet: the forward values are not read
                if (c->rule == ZF_RULE_DECONVNET ? row[i] > 0.0f : zf_proj_relu_one(row[i], xr[i], c->rule) != 0.0f) {
                    L->pos[e] = q0 + (int32_t)i;
                    L->val[e++] = row[i];
                }
            memset(row, 0, (size_t)bw * sizeof *row);
        }
    }
    L->first[xb->hi[1] - xb->lo[1]] = e;
    L->box = *xb;
    L->filled = 1;
}

static int mp_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_maxpool_params *p = n->params;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!x->on || !y->on) return 0;
    if (!a->switches) return zf_fail(err, ZF_ERR_RUNTIME, "internal error: no switches recorded");
    mp_proj_ctx c = {x, y, a->switches, 1, 1, a->relu_x ? zf_f32(a->relu_x) : NULL, a->rule};
    for (int i = 0; i < p->win.nsp; i++) {
        c.in_plane *= p->win.in[i];
        c.out_plane *= p->win.out[i];
    }
    if (a->lists && a->relu_x && x->fresh && p->win.nsp == 2 && x->t->ndim == 4 && y->box.lo[1] == x->box.lo[1] &&
        y->box.hi[1] == x->box.hi[1]) {
        mp_project_lists(&c, a->lists);
        return 0;
    }
    // Split the channels (axis 1): windows overlap, so rows of one plane could collide. The
    // chunks are whole channels, so with fresh each zeroes exactly the planes it unpools into.
    const int nd = y->t->ndim;
    zf_box_parallel(nd > 2 ? a->pool : NULL, &y->box, 1, zf_box_numel(&y->box, nd), ZF_PROJ_PAR_MIN / 4,
                    mp_project_box, &c);
    return 0;
}

// --- backward (training, core/train.h): the gradient goes where the switch says, the same routing
// as the deconvnet's unpooling ------------------------------------------------------------------------

typedef struct {
    float *dx;
    const float *dy;
    const int32_t *sw;
    int64_t in_plane, out_plane;
} mpb_ctx;

static void mpb_planes(void *vc, int64_t q0, int64_t q1) {
    const mpb_ctx *c = vc;
    for (int64_t q = q0; q < q1; q++) {
        float *dx = c->dx + q * c->in_plane;
        const float *dy = c->dy + q * c->out_plane;
        const int32_t *sw = c->sw + q * c->out_plane;
        for (int64_t o = 0; o < c->out_plane; o++)
            if (sw[o] >= 0) dx[sw[o]] += dy[o];
    }
}

void zf_maxpool_backward(float *dx, const float *dy, const int32_t *switches, const zf_maxpool_params *p,
                         zf_pool *pool) {
    mpb_ctx c = {dx, dy, switches, 1, 1};
    for (int i = 0; i < p->win.nsp; i++) {
        c.in_plane *= p->win.in[i];
        c.out_plane *= p->win.out[i];
    }
    int64_t planes = p->N * p->C;
    zf_parallel_for(planes * c.out_plane < (1 << 15) ? NULL : pool, planes, mpb_planes, &c);
}

static int mp_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err) {
    const float *dy = zf_grad_out(grad, n, 0);
    float *dx = zf_grad_in(grad, n, 0);
    if (!dy || !dx) return 0;
    if (!n->switches) return zf_fail(err, ZF_ERR_RUNTIME, "internal error: no switches recorded");
    zf_maxpool_backward(dx, dy, n->switches, n->params, ex->pool);
    return 0;
}

const zf_op zf_op_maxpool = {
    .type = "MaxPool",
    .params_size = sizeof(zf_maxpool_params),
    .has_switches = 1,
    .parse = mp_parse,
    .shape = mp_shape,
    .forward = mp_forward,
    .rf = mp_rf,
    .flops = mp_flops,
    .box_back = mp_box_back,
    .project = mp_project,
    .backward = mp_backward,
};
