// incremental.c: exact incremental inference for occlusion (see incremental.h).
//
// Planning walks the nodes once. Every non-constant tensor gets a representation:
//   BOX   rank-4 (1,C,H,W) tensor: per position a (C,h,w) box at an origin that depends on the
//         square's start (rows on the row index, columns on the column index); h = H and w = W
//         means the whole tensor.
//   FLAT  anything else (flattened features, logits): per position the whole clean-shaped tensor.
// and every node a mode:
//   KERNEL     Conv / MaxPool / AveragePool on a box: the input region under the output box is
//              materialized (clean activation + changed box + explicit padding) and the op runs on
//              it with zero padding (Krypton's "read region": x_R = x_O*S - P, width K + (W_O-1)*S).
//   POINTWISE  ops that act on each (h, w) independently: run on the boxes, inputs brought to the
//              union box.
//   BATCHED    every input whole: the op runs once over the batch (its params re-planned for
//              batch B by its own shape()), e.g. one GEMM for a fully connected layer.
//   VIEW       Reshape/Flatten/Squeeze/Unsqueeze that keep each position's bytes: aliases.
//   LOOP       anything else: the original op once per position on whole tensors.
// Node params are copied and re-planned for the batched shapes, so the model itself (its recorded
// clean activations, its switches) is never written.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "incremental.h"
#include "ops/op.h"
#include "ops/conv.h"
#include "ops/maxpool.h"
#include "ops/averagepool.h"
#include "ops/index_ops.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "ops/gemm.h"
#include "parallel.h"
#include "winograd.h"
#include "progress.h"

#define ALIGN16(x) (((x) + 15) & ~(size_t)15)

enum { IV_NONE = 0, IV_BOX, IV_FLAT };
enum { N_SKIP = 0, N_KERNEL, N_POINTWISE, N_BATCHED, N_VIEW, N_LOOP };
enum { K_CONV, K_MAX, K_AVG };
enum { F_DIRECT = 0, F_REGION, F_REBOX, F_WHOLE };

static const char *const mode_names[] = {"skip", "box-kernel", "box-pointwise", "batched", "view", "loop"};

typedef struct ival {
    int kind;
    int64_t C, H, W;            // BOX: clean dims
    int h, w;                   // BOX: box size
    int *lo[2], *hi[2], *org[2];   // BOX: per start index: changed range and box origin
    int is_whole;               // BOX with h == H and w == W
    int64_t n1;                 // floats per position
    float *buf;                 // B * n1
    zf_tensor bt;               // batched header
    int needs_whole;            // a consumer needs the whole tensor of a partial box
    float *whole;               // (B, C, H, W) when needs_whole (else == buf for whole boxes)
    zf_tensor wt;               // header of whole
    int whole_ready;
    int alias_of;               // VIEW output: value whose buffer (or whole) it shares; -1 otherwise
} ival;

typedef struct feed {
    int slot;                   // input slot of the node
    int type;
    float *buf;                 // REGION / REBOX: in the feed arena
    size_t off;                 // offset of buf in the feed arena
    zf_tensor t;
} feed;

typedef struct inode {
    int mode;
    zf_node fake;               // the node with its own params, re-planned for the batched shapes
    int kind;                   // KERNEL: K_CONV / K_MAX / K_AVG
    int64_t k[2], s[2], d[2], pb[2], pe[2], in[2];
    int cip;                    // AveragePool count_include_pad
    float pad;
    int rh, rw;                 // KERNEL: region size
    int nfeed;
    feed *feeds;                // one per input slot at most
    int wino;                   // KERNEL conv run as Winograd (core/winograd.h): 1 directly, 2 on
                                // the input's four stride-2 phases (a 5x5 or 6x6 stride-2 kernel)
    zf_conv_params wp;          // the convolution Winograd runs (phases: 4C channels, 3x3, stride 1)
    float *wino_U;              // its transformed filters
    float *phases;              // wino 2: the regions' phases (B, 4C, OH + 2, OW + 2)
    double flops_inc, flops_full;   // per position
} inode;

struct zf_inc {
    zf_model *m;
    int B, dry;
    unsigned flags;             // ZF_INC_*
    int n[2];
    int64_t *starts[2];
    int patch[2];
    zf_value *vals;             // copy of m->values; tensors point at the batch buffers
    ival *iv;
    inode *nd;
    int input;
    void *scratch;
    size_t scratch_bytes;
    float *arena;
    size_t arena_floats;
    float *feeds;
    size_t feed_floats;
    int *biy, *bix;             // the batch's start indices (B)
    int *t0, *t1, *t2, *t3;     // per-position temporaries (B each)
    size_t bytes;               // what was (or would be) allocated
    size_t wino_bytes;          // of which the Winograd filters and phase buffers
    double *profile;            // optional, n_nodes: seconds per node, added by zf_inc_run
    zf_exec ex;
};

// --- small helpers --------------------------------------------------------------------------------

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

static int is_type(const zf_node *n, const char *t) { return !strcmp(n->op->type, t); }

static int in_is_const(const zf_inc *inc, const zf_node *n, int k) {
    return n->in[k] < 0 || inc->m->values[n->in[k]].is_const;
}

static const zf_tensor *clean_t(const zf_inc *inc, int v) { return &inc->m->values[v].t; }

static int clean_is_box(const zf_tensor *t) { return t->ndim == 4 && t->dims[0] == 1 && t->dtype == ZF_F32; }

static int alloc_axes(ival *v, const int n[2], zf_error *err) {
    for (int a = 0; a < 2; a++) {
        v->lo[a] = zf_calloc((size_t)n[a] * 3, sizeof(int), err);
        if (!v->lo[a]) return ZF_ERR_RUNTIME;
        v->hi[a] = v->lo[a] + n[a];
        v->org[a] = v->hi[a] + n[a];
    }
    return 0;
}

// From lo/hi per start: the box size (largest changed range, at least 1) and origins.
static void settle_box(ival *v, const int n[2]) {
    int64_t D[2] = {v->H, v->W};
    int size[2];
    for (int a = 0; a < 2; a++) {
        int mx = 1;
        for (int i = 0; i < n[a]; i++)
            if (v->hi[a][i] - v->lo[a][i] > mx) mx = v->hi[a][i] - v->lo[a][i];
        if (mx > D[a]) mx = (int)D[a];
        size[a] = mx;
        for (int i = 0; i < n[a]; i++) {
            int o = v->lo[a][i];
            if (o > D[a] - mx) o = (int)D[a] - mx;
            if (o < 0) o = 0;
            v->org[a][i] = o;
        }
    }
    v->h = size[0];
    v->w = size[1];
    v->is_whole = v->h == v->H && v->w == v->W;
    v->n1 = v->C * v->h * v->w;
}

static void set_whole_box(ival *v, const int n[2]) {
    int64_t D[2] = {v->H, v->W};
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < n[a]; i++) { v->lo[a][i] = 0; v->hi[a][i] = (int)D[a]; }
    settle_box(v, n);
}

static void set_header(zf_tensor *t, int64_t B, const zf_tensor *clean, int box, int64_t C, int h, int w) {
    memset(t, 0, sizeof *t);
    t->dtype = ZF_F32;
    if (box) {
        t->ndim = 4;
        t->dims[0] = B; t->dims[1] = C; t->dims[2] = h; t->dims[3] = w;
    } else if (clean->ndim >= 1 && clean->dims[0] == 1) {
        *t = *clean;
        t->data = NULL;
        t->owns = 0;
        t->dims[0] = B;
    } else {
        t->ndim = 2;
        t->dims[0] = B;
        t->dims[1] = zf_tensor_numel(clean);
    }
}

// Output representation of a node that computes whole tensors (BATCHED, LOOP, VIEW).
static int make_whole_output(zf_inc *inc, int vo, zf_error *err) {
    ival *o = &inc->iv[vo];
    const zf_tensor *c = clean_t(inc, vo);
    if (c->dtype != ZF_F32)
        return zf_fail(err, ZF_ERR_INPUT, "%s: tensor '%s' is int64 and depends on the input: not supported by occlusion",
                       inc->m->path, inc->vals[vo].name);
    if (clean_is_box(c)) {
        o->kind = IV_BOX;
        o->C = c->dims[1]; o->H = c->dims[2]; o->W = c->dims[3];
        if (alloc_axes(o, inc->n, err)) return ZF_ERR_RUNTIME;
        set_whole_box(o, inc->n);
        set_header(&o->bt, inc->B, c, 1, o->C, o->h, o->w);
    } else {
        o->kind = IV_FLAT;
        o->n1 = zf_tensor_numel(c);
        set_header(&o->bt, inc->B, c, 0, 0, 0, 0);
    }
    return 0;
}

static int copy_params(zf_node *fake, const zf_node *n, zf_error *err) {
    *fake = *n;
    fake->switches = NULL;
    fake->params = NULL;
    if (n->op->params_size) {
        if (!(fake->params = zf_malloc(n->op->params_size, err))) return ZF_ERR_RUNTIME;
        memcpy(fake->params, n->params, n->op->params_size);
    }
    return 0;
}

// Ops that compute each spatial position from the same position of their inputs.
static int is_pointwise_op(const zf_node *n) {
    static const char *const t[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Dropout", "Identity", "Sqrt",
                                    "Exp", "BatchNormalization", "LRN", "Add", "Sub", "Mul", "Div", "Pow", "Sum",
                                    "Concat"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (is_type(n, t[i])) return 1;
    return 0;
}

static int is_broadcast_op(const zf_node *n) {
    return is_type(n, "Add") || is_type(n, "Sub") || is_type(n, "Mul") || is_type(n, "Div") || is_type(n, "Pow") ||
           is_type(n, "Sum");
}

// Ops whose semantics do not mix batch items, so running them on (B, ...) equals B runs.
static int is_batch_safe_op(const zf_inc *inc, const zf_node *n) {
    static const char *const t[] = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LRN",
                                    "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Dropout",
                                    "Identity", "Sqrt", "Exp", "Add", "Sub", "Mul", "Div", "Pow", "Sum", "Concat",
                                    "Gemm", "MatMul", "Flatten", "Softmax", "LogSoftmax"};
    int ok = 0;
    for (size_t i = 0; i < sizeof t / sizeof *t && !ok; i++) ok = is_type(n, t[i]);
    if (!ok) return 0;
    int r0 = n->in[0] >= 0 ? clean_t(inc, n->in[0])->ndim : 0;
    if (is_type(n, "Concat")) {
        int64_t ax = ((const zf_concat_params *)n->params)->axis;
        if (ax < 0) ax += r0;
        return ax != 0;
    }
    if (is_type(n, "Flatten")) {
        int64_t ax = ((const zf_flatten_params *)n->params)->axis;
        if (ax < 0) ax += r0;
        return ax >= 1;
    }
    if (is_type(n, "Softmax") || is_type(n, "LogSoftmax")) {
        int64_t ax = ((const zf_softmax_params *)n->params)->axis;
        if (ax < 0) ax += r0;
        return ax >= 1;
    }
    if (is_type(n, "Gemm")) {
        const zf_gemm_params *p = n->params;
        return !p->trans_a && in_is_const(inc, n, 1) && (n->n_in < 3 || in_is_const(inc, n, 2));
    }
    if (is_type(n, "MatMul")) return r0 >= 2 && in_is_const(inc, n, 1);
    if (is_type(n, "MaxPool") || is_type(n, "Dropout")) return n->n_out < 2 || n->out[1] < 0;
    if (is_broadcast_op(n)) {
        // Non-constant inputs must carry the batch axis at the same place as the output.
        int ro = clean_t(inc, n->out[0])->ndim;
        for (int k = 0; k < n->n_in; k++)
            if (!in_is_const(inc, n, k) && clean_t(inc, n->in[k])->ndim != ro) return 0;
    }
    return 1;
}

static int is_view_op(const zf_node *n) {
    return is_type(n, "Reshape") || is_type(n, "Flatten") || is_type(n, "Squeeze") || is_type(n, "Unsqueeze") ||
           is_type(n, "Identity");
}

// A constant input of a broadcasting op is box-safe when it is constant along N, H and W.
static int const_box_safe(const zf_tensor *t) {
    if (t->ndim > 4) return 0;
    for (int i = 0; i < t->ndim; i++) {
        int axis = 4 - t->ndim + i;   // aligned output axis
        if (axis != 1 && t->dims[i] != 1) return 0;
    }
    return 1;
}

// --- planning ---------------------------------------------------------------------------------------

static int n_outputs_used(const zf_node *n) {
    int c = 0;
    for (int o = 0; o < n->n_out; o++) c += n->out[o] >= 0;
    return c;
}

static int kernel_geometry(inode *in, const zf_node *n) {
    if (is_type(n, "Conv")) {
        const zf_conv_params *p = n->params;
        in->kind = K_CONV;
        in->k[0] = p->kh; in->k[1] = p->kw; in->s[0] = p->sh; in->s[1] = p->sw;
        in->d[0] = p->dh; in->d[1] = p->dw; in->pb[0] = p->ph; in->pb[1] = p->pw;
        in->pe[0] = p->ph_end; in->pe[1] = p->pw_end; in->in[0] = p->H; in->in[1] = p->W;
        in->pad = 0.0f;
        return 1;
    }
    const zf_window *w = NULL;
    if (is_type(n, "MaxPool")) {
        const zf_maxpool_params *p = n->params;
        w = &p->win;
        in->kind = K_MAX;
        in->pad = -INFINITY;
        if (n_outputs_used(n) != 1 || n->out[0] < 0) return 0;
    } else if (is_type(n, "AveragePool")) {
        const zf_averagepool_params *p = n->params;
        w = &p->win;
        in->kind = K_AVG;
        in->pad = 0.0f;
        in->cip = p->count_include_pad;
    } else {
        return 0;
    }
    if (w->nsp != 2) return 0;
    for (int a = 0; a < 2; a++) {
        in->k[a] = w->k[a]; in->s[a] = w->s[a]; in->d[a] = w->d[a];
        in->pb[a] = w->pb[a]; in->pe[a] = w->pe[a]; in->in[a] = w->in[a];
    }
    return 1;
}

// Runs the fake node's shape() with the feeds' input headers; 0 when every output came out with the
// planned batched shape, nonzero otherwise (the caller falls back or reports). Headers are restored.
static int reshape_fake(zf_inc *inc, inode *in, const zf_node *n) {
    zf_value *v = inc->vals;
    zf_error e = {0};
    for (int f = 0; f < in->nfeed; f++) v[n->in[in->feeds[f].slot]].t = in->feeds[f].t;
    int rc = n->op->shape(&in->fake, v, &e);
    for (int o = 0; o < n->n_out && !rc; o++) {
        int vo = n->out[o];
        if (vo >= 0 && !zf_tensor_same_shape(&inc->iv[vo].bt, &v[vo].t)) rc = -1;
    }
    for (int f = 0; f < in->nfeed; f++) {
        int vi = n->in[in->feeds[f].slot];
        v[vi].t = inc->iv[vi].bt;
    }
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0) v[n->out[o]].t = inc->iv[n->out[o]].bt;
    if (!rc && in->fake.scratch_bytes > inc->scratch_bytes) inc->scratch_bytes = in->fake.scratch_bytes;
    return rc;
}

static void add_feed(inode *in, int slot, int type, const zf_tensor *t) {
    feed *f = &in->feeds[in->nfeed++];
    memset(f, 0, sizeof *f);
    f->slot = slot;
    f->type = type;
    f->t = *t;
}

static size_t feed_floats(const feed *f) { return f->type == F_REGION || f->type == F_REBOX ? (size_t)zf_tensor_numel(&f->t) : 0; }

// Whole-tensor feeds (BATCHED and LOOP) for every non-constant input.
static int whole_feeds(zf_inc *inc, inode *in, const zf_node *n) {
    in->nfeed = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (in_is_const(inc, n, k)) continue;
        ival *iv = &inc->iv[n->in[k]];
        if (iv->kind == IV_NONE) return 1;
        if (iv->kind == IV_BOX && !iv->is_whole) {
            iv->needs_whole = 1;
            zf_tensor t;
            set_header(&t, inc->B, clean_t(inc, n->in[k]), 1, iv->C, (int)iv->H, (int)iv->W);
            add_feed(in, k, F_WHOLE, &t);
        } else {
            add_feed(in, k, F_DIRECT, &iv->bt);
        }
    }
    return 0;
}

static int plan_kernel(zf_inc *inc, int ni, inode *in, zf_error *err) {
    const zf_node *n = &inc->m->nodes[ni];
    ival *x = &inc->iv[n->in[0]], *y = &inc->iv[n->out[0]];
    const zf_tensor *yc = clean_t(inc, n->out[0]);
    y->kind = IV_BOX;
    y->C = yc->dims[1]; y->H = yc->dims[2]; y->W = yc->dims[3];
    if (alloc_axes(y, inc->n, err)) return ZF_ERR_RUNTIME;
    int64_t OD[2] = {y->H, y->W};
    for (int a = 0; a < 2; a++) {
        int64_t span = (in->k[a] - 1) * in->d[a];
        for (int i = 0; i < inc->n[a]; i++) {
            int64_t lo = x->lo[a][i], hi = x->hi[a][i];
            int64_t olo = 0, ohi = 0;
            if (hi > lo) {
                olo = ceil_div(lo + in->pb[a] - span, in->s[a]);
                ohi = floor_div(hi - 1 + in->pb[a], in->s[a]) + 1;
                if (olo < 0) olo = 0;
                if (ohi > OD[a]) ohi = OD[a];
                if (ohi < olo) ohi = olo;
            }
            y->lo[a][i] = (int)olo;
            y->hi[a][i] = (int)ohi;
        }
    }
    settle_box(y, inc->n);
    set_header(&y->bt, inc->B, yc, 1, y->C, y->h, y->w);
    in->rh = (int)((y->h - 1) * in->s[0] + (in->k[0] - 1) * in->d[0] + 1);
    in->rw = (int)((y->w - 1) * in->s[1] + (in->k[1] - 1) * in->d[1] + 1);
    if (copy_params(&in->fake, n, err)) return ZF_ERR_RUNTIME;
    zf_window_attrs *at = NULL;
    if (in->kind == K_CONV) at = &((zf_conv_params *)in->fake.params)->attrs;
    else if (in->kind == K_MAX) at = &((zf_maxpool_params *)in->fake.params)->attrs;
    // The box's convolution runs as this plan's own Winograd (filters transformed once, below) or
    // as im2col: never zf_conv2d_forward's per-call Winograd.
    if (in->kind == K_CONV) ((zf_conv_params *)in->fake.params)->no_winograd = 1;
    if (at) {
        memset(at->pads, 0, sizeof at->pads);
        at->n_pads = 0;
        at->auto_pad = ZF_AUTO_PAD_NOTSET;
        at->ceil_mode = 0;
    }
    zf_tensor rt;
    set_header(&rt, inc->B, clean_t(inc, n->in[0]), 1, x->C, in->rh, in->rw);
    in->nfeed = 0;
    add_feed(in, 0, F_REGION, &rt);
    in->mode = N_KERNEL;
    if (in->kind == K_AVG) return 0;   // our own kernel (divisors from global coordinates)
    if (reshape_fake(inc, in, n)) return zf_fail(err, ZF_ERR_RUNTIME, "%s: node '%s' (%s): internal error planning the box", inc->m->path,
                          n->name, n->op->type);
    // Convolutions with constant weights as Winograd F(4x4, 3x3) or F(3x3, 3x3), the filters
    // transformed once here: 3x3 stride 1 directly (multiplies of ZFNet's conv3-conv5 boxes cut
    // 3.1-3.4x), 5x5 or 6x6 stride 2 as a 3x3 stride-1 convolution over the input's four phases
    // (x[2i+p][2j+q] for p, q in {0, 1}: 4C channels, the kernel split likewise; ZFNet's conv2:
    // 2.8x fewer).
    const zf_conv_params *fp = in->fake.params;
    if (in->kind == K_CONV && !(inc->flags & ZF_INC_NO_WINOGRAD) && in_is_const(inc, n, 1) &&
        (n->n_in < 3 || in_is_const(inc, n, 2))) {
        if (zf_wino_applies(fp)) {
            in->wino = 1;
            in->wp = *fp;
        } else {
            zf_conv_params q;
            if (fp->group == 1 && zf_wino_split(&q, fp)) {
                in->wino = 2;
                in->wp = q;
                inc->wino_bytes += ALIGN16((size_t)(q.N * q.C * q.H * q.W)) * sizeof(float);   // the regions' copies
            }
        }
    }
    if (in->wino) {   // the filters are transformed by build() unless dry
        inc->wino_bytes += (zf_wino_filter_bytes(&in->wp) + 63) & ~(size_t)63;
        if (zf_wino_scratch_bytes(&in->wp) > inc->scratch_bytes) inc->scratch_bytes = zf_wino_scratch_bytes(&in->wp);
    }
    return 0;
}

static int same_box(const ival *a, const ival *b, const int n[2]) {
    if (a->h != b->h || a->w != b->w) return 0;
    for (int ax = 0; ax < 2; ax++)
        if (memcmp(a->org[ax], b->org[ax], (size_t)n[ax] * sizeof(int))) return 0;
    return 1;
}

static int plan_pointwise(zf_inc *inc, int ni, inode *in, zf_error *err) {
    const zf_node *n = &inc->m->nodes[ni];
    ival *y = &inc->iv[n->out[0]];
    const zf_tensor *yc = clean_t(inc, n->out[0]);
    y->kind = IV_BOX;
    y->C = yc->dims[1]; y->H = yc->dims[2]; y->W = yc->dims[3];
    if (alloc_axes(y, inc->n, err)) return ZF_ERR_RUNTIME;
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < inc->n[a]; i++) {
            int lo = 0, hi = 0, any = 0;
            for (int k = 0; k < n->n_in; k++) {
                if (in_is_const(inc, n, k)) continue;
                const ival *x = &inc->iv[n->in[k]];
                if (x->hi[a][i] <= x->lo[a][i]) continue;
                if (!any || x->lo[a][i] < lo) lo = x->lo[a][i];
                if (!any || x->hi[a][i] > hi) hi = x->hi[a][i];
                any = 1;
            }
            y->lo[a][i] = lo;
            y->hi[a][i] = hi;
        }
    settle_box(y, inc->n);
    set_header(&y->bt, inc->B, yc, 1, y->C, y->h, y->w);
    in->nfeed = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (in_is_const(inc, n, k)) continue;
        const ival *x = &inc->iv[n->in[k]];
        if (same_box(x, y, inc->n)) {
            add_feed(in, k, F_DIRECT, &x->bt);
        } else {
            zf_tensor t;
            set_header(&t, inc->B, clean_t(inc, n->in[k]), 1, x->C, y->h, y->w);
            add_feed(in, k, F_REBOX, &t);
        }
    }
    if (copy_params(&in->fake, n, err)) return ZF_ERR_RUNTIME;
    in->mode = N_POINTWISE;
    if (reshape_fake(inc, in, n)) return zf_fail(err, ZF_ERR_RUNTIME, "%s: node '%s' (%s): internal error planning the box", inc->m->path,
                          n->name, n->op->type);
    return 0;
}

static int plan_node(zf_inc *inc, int ni, zf_error *err) {
    zf_model *m = inc->m;
    const zf_node *n = &m->nodes[ni];
    inode *in = &inc->nd[ni];
    in->flops_full = (double)zf_node_flops(n, m->values);
    if (!(in->feeds = zf_calloc((size_t)n->n_in + 1, sizeof *in->feeds, err))) return ZF_ERR_RUNTIME;
    int n_var = 0, all_whole = 1, all_box = 1, any_none = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (in_is_const(inc, n, k)) continue;
        n_var++;
        const ival *x = &inc->iv[n->in[k]];
        if (x->kind == IV_NONE) any_none = 1;
        if (x->kind != IV_BOX) all_box = 0;
        if (!(x->kind == IV_FLAT || (x->kind == IV_BOX && x->is_whole))) all_whole = 0;
    }
    if (!n_var) {   // nothing here depends on the input: outputs stay clean
        in->mode = N_SKIP;
        return 0;
    }
    const zf_tensor *yc = n->out[0] >= 0 ? clean_t(inc, n->out[0]) : NULL;
    // Boxes: kernels and pointwise ops on rank-4 inputs whose boxes are not whole.
    if (!any_none && all_box && !all_whole && yc && clean_is_box(yc) && n_outputs_used(n) == 1) {
        if (kernel_geometry(in, n)) {
            int ok = 1;
            for (int k = 1; k < n->n_in; k++) ok &= in_is_const(inc, n, k);
            if (ok) return plan_kernel(inc, ni, in, err);
        } else if (is_pointwise_op(n)) {
            int ok = 1;
            for (int k = 0; k < n->n_in && ok; k++) {
                if (in_is_const(inc, n, k)) {
                    if (is_broadcast_op(n) && n->in[k] >= 0) ok = const_box_safe(clean_t(inc, n->in[k]));
                    continue;
                }
                const zf_tensor *xc = clean_t(inc, n->in[k]);
                ok = clean_is_box(xc) && xc->dims[2] == yc->dims[2] && xc->dims[3] == yc->dims[3];
                if (is_type(n, "BatchNormalization") || is_type(n, "Clip") || is_type(n, "Dropout") || is_type(n, "LRN"))
                    ok &= k == 0;
            }
            if (ok && is_type(n, "Concat")) {
                int64_t ax = ((const zf_concat_params *)n->params)->axis;
                ok = ax == 1 || ax == -3;
            }
            if (ok) return plan_pointwise(inc, ni, in, err);
        }
    }
    // Whole tensors.
    int outs_ok = 1;
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0 && make_whole_output(inc, n->out[o], err)) return err->code;
    for (int o = 0; o < n->n_out && outs_ok; o++)
        if (n->out[o] >= 0) outs_ok = clean_t(inc, n->out[o])->dims[0] == 1 && clean_t(inc, n->out[o])->ndim >= 1;
    if (!any_none && outs_ok && is_batch_safe_op(inc, n)) {
        int ok = 1;
        for (int k = 0; k < n->n_in; k++)
            if (!in_is_const(inc, n, k)) ok &= clean_t(inc, n->in[k])->ndim >= 1 && clean_t(inc, n->in[k])->dims[0] == 1;
        if (ok && !whole_feeds(inc, in, n)) {
            if (copy_params(&in->fake, n, err)) return ZF_ERR_RUNTIME;
            if (!reshape_fake(inc, in, n)) {
                in->mode = N_BATCHED;
                return 0;
            }
            free(in->fake.params);
            in->fake.params = NULL;
        }
    }
    if (!any_none && n_var == 1 && is_view_op(n) && n_outputs_used(n) == 1 && n->out[0] >= 0) {
        int vi = -1;
        for (int k = 0; k < n->n_in; k++) if (!in_is_const(inc, n, k)) vi = n->in[k];
        const zf_tensor *xc = clean_t(inc, vi);
        if (xc->ndim >= 1 && xc->dims[0] == 1 && yc->dims[0] == 1 && zf_tensor_numel(xc) == zf_tensor_numel(yc)) {
            ival *x = &inc->iv[vi];
            if (x->kind == IV_BOX && !x->is_whole) x->needs_whole = 1;
            inc->iv[n->out[0]].alias_of = vi;
            in->mode = N_VIEW;
            return 0;
        }
    }
    // Per position, original params.
    in->nfeed = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (in_is_const(inc, n, k)) continue;
        ival *x = &inc->iv[n->in[k]];
        if (x->kind == IV_NONE) {
            add_feed(in, k, F_DIRECT, clean_t(inc, n->in[k]));
            continue;
        }
        if (x->kind == IV_BOX && !x->is_whole) x->needs_whole = 1;
        add_feed(in, k, x->kind == IV_BOX && !x->is_whole ? F_WHOLE : F_DIRECT, &x->bt);
    }
    if (copy_params(&in->fake, n, err)) return ZF_ERR_RUNTIME;
    if (n->scratch_bytes > inc->scratch_bytes) inc->scratch_bytes = n->scratch_bytes;
    in->mode = N_LOOP;
    return 0;
}

// --- creation -------------------------------------------------------------------------------------

void zf_inc_free(zf_inc *inc) {
    if (!inc) return;
    if (inc->iv)
        for (int i = 0; i < inc->m->n_values; i++) free(inc->iv[i].lo[0]), free(inc->iv[i].lo[1]);
    if (inc->nd)
        for (int i = 0; i < inc->m->n_nodes; i++) {
            free(inc->nd[i].fake.params);
            free(inc->nd[i].feeds);
            free(inc->nd[i].wino_U);
            free(inc->nd[i].phases);
        }
    free(inc->iv);
    free(inc->nd);
    free(inc->vals);
    free(inc->starts[0]);
    free(inc->starts[1]);
    free(inc->scratch);
    free(inc->arena);
    free(inc->feeds);
    free(inc->biy);
    free(inc);
}

static int build(zf_inc **out, zf_model *m, int B, const int64_t *sy, int ny, const int64_t *sx, int nx, int ph, int pw,
                 unsigned flags, int dry, zf_error *err) {
    *out = NULL;
    if (m->n_inputs != 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a model with one input, this one has %d", m->path,
                       m->n_inputs);
    const zf_tensor *x = &m->values[m->inputs[0]].t;
    if (!clean_is_box(x))
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a (1,C,H,W) float input", m->path);
    if (B < 1 || ny < 1 || nx < 1 || ph < 1 || pw < 1)
        return zf_fail(err, ZF_ERR_INPUT, "occlusion: batch, positions and patch must be positive");
    zf_inc *inc = zf_calloc(1, sizeof *inc, err);
    if (!inc) return ZF_ERR_RUNTIME;
    inc->m = m;
    inc->B = B;
    inc->dry = dry;
    inc->flags = flags;
    inc->n[0] = ny; inc->n[1] = nx;
    inc->patch[0] = ph; inc->patch[1] = pw;
    inc->input = m->inputs[0];
    int rc = ZF_ERR_RUNTIME;
    if (!(inc->starts[0] = zf_malloc((size_t)ny * sizeof(int64_t), err)) ||
        !(inc->starts[1] = zf_malloc((size_t)nx * sizeof(int64_t), err)) ||
        !(inc->vals = zf_malloc((size_t)m->n_values * sizeof *inc->vals, err)) ||
        !(inc->iv = zf_calloc((size_t)m->n_values, sizeof *inc->iv, err)) ||
        !(inc->nd = zf_calloc((size_t)m->n_nodes + 1, sizeof *inc->nd, err)) ||
        !(inc->biy = zf_calloc((size_t)B * 6, sizeof(int), err)))
        goto fail;
    memcpy(inc->starts[0], sy, (size_t)ny * sizeof(int64_t));
    memcpy(inc->starts[1], sx, (size_t)nx * sizeof(int64_t));
    memcpy(inc->vals, m->values, (size_t)m->n_values * sizeof *inc->vals);
    inc->bix = inc->biy + B;
    inc->t0 = inc->bix + B; inc->t1 = inc->t0 + B; inc->t2 = inc->t1 + B; inc->t3 = inc->t2 + B;
    for (int i = 0; i < m->n_values; i++) inc->iv[i].alias_of = -1;
    // The input: the square clipped to the image.
    ival *xi = &inc->iv[inc->input];
    xi->kind = IV_BOX;
    xi->C = x->dims[1]; xi->H = x->dims[2]; xi->W = x->dims[3];
    if (alloc_axes(xi, inc->n, err)) goto fail;
    int64_t D[2] = {xi->H, xi->W};
    int P[2] = {ph, pw};
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < inc->n[a]; i++) {
            int64_t s = inc->starts[a][i], lo = s < 0 ? 0 : s, hi = s + P[a] > D[a] ? D[a] : s + P[a];
            if (hi <= lo) {
                rc = zf_fail(err, ZF_ERR_INPUT, "occlusion: square at %lld misses the %lld-pixel image", (long long)s,
                             (long long)D[a]);
                goto fail;
            }
            xi->lo[a][i] = (int)lo;
            xi->hi[a][i] = (int)hi;
        }
    settle_box(xi, inc->n);
    set_header(&xi->bt, B, x, 1, xi->C, xi->h, xi->w);
    for (int i = 0; i < m->n_nodes; i++)
        if ((rc = plan_node(inc, i, err))) goto fail;
    rc = ZF_ERR_RUNTIME;
    // The graph outputs (and a Softmax's logits) are read whole by the caller.
    for (int i = 0; i < m->n_outputs; i++) {
        int vo = m->outputs[i];
        inc->iv[vo].needs_whole = 1;
        int pr = m->values[vo].producer;
        if (pr >= 0 && m->nodes[pr].n_in > 0 && m->nodes[pr].in[0] >= 0) inc->iv[m->nodes[pr].in[0]].needs_whole = 1;
    }
    // Sizes: value buffers (aliases share), whole expansions, the feed arena, scratch.
    size_t total = 0, feed_max = 0;
    for (int i = 0; i < m->n_values; i++) {
        ival *v = &inc->iv[i];
        if (v->kind == IV_NONE || v->alias_of >= 0) continue;
        total += ALIGN16((size_t)B * (size_t)v->n1);
        if (v->kind == IV_BOX && !v->is_whole && v->needs_whole) total += ALIGN16((size_t)B * (size_t)(v->C * v->H * v->W));
    }
    for (int i = 0; i < m->n_nodes; i++) {
        inode *in = &inc->nd[i];
        size_t s = 0;
        for (int f = 0; f < in->nfeed; f++) {
            in->feeds[f].off = s;
            s += ALIGN16(feed_floats(&in->feeds[f]));
        }
        if (s > feed_max) feed_max = s;
    }
    inc->arena_floats = total;
    inc->feed_floats = feed_max;
    inc->scratch_bytes = (inc->scratch_bytes + 63) & ~(size_t)63;
    inc->bytes = (total + feed_max) * sizeof(float) + inc->scratch_bytes + inc->wino_bytes;
    if (dry) { *out = inc; return 0; }
    for (int i = 0; i < m->n_nodes; i++) {
        inode *in = &inc->nd[i];
        if (!in->wino) continue;
        const zf_conv_params *fp = in->fake.params, *q = &in->wp;
        const float *w = zf_f32(clean_t(inc, m->nodes[i].in[1]));
        if (!(in->wino_U = aligned_alloc(64, (zf_wino_filter_bytes(q) + 63) & ~(size_t)63)) ||
            (in->wino == 2 && !(in->phases = aligned_alloc(64, ALIGN16((size_t)(q->N * q->C * q->H * q->W)) * sizeof(float))))) {
            rc = zf_fail(err, ZF_ERR_RUNTIME, "occlusion: out of memory (%zu MB of Winograd filters)", inc->wino_bytes >> 20);
            goto fail;
        }
        if (in->wino == 2) zf_wino_split_filters(in->wino_U, w, fp, q, 0, m->pool);
        else zf_wino_filters(in->wino_U, w, q, m->pool);
    }
    if ((total && !(inc->arena = aligned_alloc(64, total * sizeof(float)))) ||
        (feed_max && !(inc->feeds = aligned_alloc(64, feed_max * sizeof(float)))) ||
        (inc->scratch_bytes && !(inc->scratch = aligned_alloc(64, inc->scratch_bytes)))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "occlusion: out of memory (%zu MB of batch buffers)", inc->bytes >> 20);
        goto fail;
    }
    memset(inc->arena, 0, total * sizeof(float));
    float *p = inc->arena;
    for (int i = 0; i < m->n_values; i++) {
        ival *v = &inc->iv[i];
        if (v->kind == IV_NONE || v->alias_of >= 0) continue;
        v->buf = p;
        p += ALIGN16((size_t)B * (size_t)v->n1);
        if (v->kind == IV_BOX && !v->is_whole && v->needs_whole) {
            v->whole = p;
            p += ALIGN16((size_t)B * (size_t)(v->C * v->H * v->W));
            set_header(&v->wt, B, clean_t(inc, i), 1, v->C, (int)v->H, (int)v->W);
            v->wt.data = v->whole;
        } else if (v->kind == IV_BOX && v->is_whole) {
            v->whole = v->buf;
        }
    }
    // Views share their source's whole buffer (in node order, so chains resolve).
    for (int i = 0; i < m->n_nodes; i++) {
        if (inc->nd[i].mode != N_VIEW) continue;
        int vo = m->nodes[i].out[0];
        ival *src = &inc->iv[inc->iv[vo].alias_of];
        inc->iv[vo].buf = src->kind == IV_BOX ? src->whole : src->buf;
        if (inc->iv[vo].kind == IV_BOX) inc->iv[vo].whole = inc->iv[vo].buf;
    }
    for (int i = 0; i < m->n_values; i++) {
        ival *v = &inc->iv[i];
        if (v->kind == IV_NONE) continue;
        v->bt.data = v->buf;
        inc->vals[i].t = v->bt;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        inode *in = &inc->nd[i];
        for (int f = 0; f < in->nfeed; f++) {
            feed *fd = &in->feeds[f];
            int vi = m->nodes[i].in[fd->slot];
            if (fd->type == F_REGION || fd->type == F_REBOX) fd->t.data = fd->buf = inc->feeds + fd->off;
            else if (fd->type == F_WHOLE) fd->t.data = inc->iv[vi].whole;
            else if (inc->iv[vi].kind != IV_NONE) fd->t.data = inc->iv[vi].buf;
        }
    }
    inc->ex.threads = m->threads;
    inc->ex.pool = m->pool;
    inc->ex.scratch = inc->scratch;
    *out = inc;
    return 0;
fail:
    zf_inc_free(inc);
    return err && err->code ? err->code : rc;
}

int zf_inc_create(zf_inc **out, zf_model *m, int B, const int64_t *sy, int ny, const int64_t *sx, int nx, int ph, int pw,
                  unsigned flags, zf_error *err) {
    return build(out, m, B, sy, ny, sx, nx, ph, pw, flags, 0, err);
}

int zf_inc_bytes(size_t *bytes, zf_model *m, int B, const int64_t *sy, int ny, const int64_t *sx, int nx, int ph, int pw,
                 unsigned flags, zf_error *err) {
    zf_inc *inc = NULL;
    int rc = build(&inc, m, B, sy, ny, sx, nx, ph, pw, flags, 1, err);
    if (rc) return rc;
    *bytes = inc->bytes;
    zf_inc_free(inc);
    return 0;
}

int zf_inc_batch(const zf_inc *inc) { return inc->B; }

// --- running --------------------------------------------------------------------------------------

// Materializes, for each position p and channel, the region [ry[p], ry[p]+rh) x [rx[p], rx[p]+rw) of
// a tensor: the changed box where it has one, the clean activation elsewhere, `pad` outside.
typedef struct gather_ctx {
    float *dst;
    int rh, rw;
    const int *ry, *rx;
    float pad;
    const float *clean;
    int64_t C, H, W;
    const float *box;           // (B, C, h, w) or NULL
    int h, w;
    const int *oy, *ox;
} gather_ctx;

static void fill(float *d, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) d[i] = v;
}

static void gather_planes(void *vc, int64_t q0, int64_t q1) {
    const gather_ctx *g = vc;
    for (int64_t q = q0; q < q1; q++) {
        int64_t p = q / g->C, c = q % g->C;
        float *d = g->dst + q * (int64_t)g->rh * g->rw;
        const float *cl = g->clean + c * g->H * g->W;
        int64_t y0 = g->ry[p], x0 = g->rx[p];
        int64_t ja = -x0 > 0 ? -x0 : 0, jb = g->W - x0 < g->rw ? g->W - x0 : g->rw;
        if (ja > g->rw) ja = g->rw;
        if (jb < ja) jb = ja;
        int64_t by0 = 0, by1 = 0, ba = 0, bb = 0;
        const float *bx = NULL;
        if (g->box) {
            bx = g->box + q * (int64_t)g->h * g->w;
            by0 = g->oy[p];
            by1 = by0 + g->h;
            ba = g->ox[p] - x0;
            bb = ba + g->w;
            if (ba < ja) ba = ja;
            if (bb > jb) bb = jb;
        }
        for (int64_t r = 0; r < g->rh; r++, d += g->rw) {
            int64_t y = y0 + r;
            if (y < 0 || y >= g->H) {
                fill(d, g->rw, g->pad);
                continue;
            }
            if (ja) fill(d, ja, g->pad);
            if (jb > ja) memcpy(d + ja, cl + y * g->W + x0 + ja, (size_t)(jb - ja) * sizeof(float));
            if (jb < g->rw) fill(d + jb, g->rw - jb, g->pad);
            if (bx && y >= by0 && y < by1 && bb > ba)
                memcpy(d + ba, bx + (y - by0) * g->w + (x0 + ba - g->ox[p]), (size_t)(bb - ba) * sizeof(float));
        }
    }
}

static void gather(zf_inc *inc, float *dst, int rh, int rw, const int *ry, const int *rx, float pad, int v) {
    const ival *x = &inc->iv[v];
    for (int p = 0; p < inc->B; p++) {
        inc->t2[p] = x->org[0][inc->biy[p]];
        inc->t3[p] = x->org[1][inc->bix[p]];
    }
    gather_ctx g = {dst, rh, rw, ry, rx, pad, zf_f32(clean_t(inc, v)), x->C, x->H, x->W, x->buf, x->h, x->w,
                    inc->t2, inc->t3};
    int64_t planes = (int64_t)inc->B * x->C;
    zf_pool *pool = planes * rh * rw < (1 << 14) ? NULL : inc->ex.pool;
    zf_parallel_for(pool, planes, gather_planes, &g);
}

static void ensure_whole(zf_inc *inc, int v) {
    ival *x = &inc->iv[v];
    if (x->kind != IV_BOX || x->is_whole || x->whole_ready) return;
    for (int p = 0; p < inc->B; p++) inc->t0[p] = inc->t1[p] = 0;
    gather(inc, x->whole, (int)x->H, (int)x->W, inc->t0, inc->t1, 0.0f, v);
    x->whole_ready = 1;
}

// The input's boxes: baseline inside the square, the clean image elsewhere in the box.
typedef struct input_ctx {
    zf_inc *inc;
    const float *baseline;
} input_ctx;

static void input_planes(void *vc, int64_t q0, int64_t q1) {
    const input_ctx *ic = vc;
    zf_inc *inc = ic->inc;
    const ival *x = &inc->iv[inc->input];
    const float *clean = zf_f32(clean_t(inc, inc->input));
    for (int64_t q = q0; q < q1; q++) {
        int64_t p = q / x->C, c = q % x->C;
        int iy = inc->biy[p], ix = inc->bix[p];
        int oy = x->org[0][iy], ox = x->org[1][ix];
        int ylo = x->lo[0][iy], yhi = x->hi[0][iy], xlo = x->lo[1][ix], xhi = x->hi[1][ix];
        float *d = x->buf + q * (int64_t)x->h * x->w;
        for (int r = 0; r < x->h; r++, d += x->w) {
            int64_t y = oy + r;
            const float *src = (y >= ylo && y < yhi ? ic->baseline : clean) + (c * x->H + y) * x->W + ox;
            memcpy(d, src, (size_t)x->w * sizeof(float));
            if (y >= ylo && y < yhi) {   // columns of the box outside the square show the clean image
                const float *cr = clean + (c * x->H + y) * x->W + ox;
                for (int j = 0; j < x->w; j++)
                    if (ox + j < xlo || ox + j >= xhi) d[j] = cr[j];
            }
        }
    }
}

// Average pooling on a materialized region; divisors counted in the tensor's own coordinates.
typedef struct avg_ctx {
    zf_inc *inc;
    const inode *in;
    const float *region;
    float *out;
    int64_t C, ho, wo;
    const int *oy, *ox;
} avg_ctx;

static int64_t count_axis(int64_t start, const inode *in, int a) {
    int64_t lo = in->cip ? -in->pb[a] : 0, hi = in->cip ? in->in[a] + in->pe[a] : in->in[a], c = 0;
    for (int64_t t = 0; t < in->k[a]; t++) {
        int64_t g = start + t * in->d[a];
        c += g >= lo && g < hi;
    }
    return c;
}

static void avg_planes(void *vc, int64_t q0, int64_t q1) {
    const avg_ctx *a = vc;
    const inode *in = a->in;
    for (int64_t q = q0; q < q1; q++) {
        int64_t p = q / a->C;
        const float *r = a->region + q * (int64_t)in->rh * in->rw;
        float *o = a->out + q * a->ho * a->wo;
        for (int64_t i = 0; i < a->ho; i++) {
            int64_t ny = count_axis((a->oy[p] + i) * in->s[0] - in->pb[0], in, 0);
            for (int64_t j = 0; j < a->wo; j++) {
                int64_t cnt = ny * count_axis((a->ox[p] + j) * in->s[1] - in->pb[1], in, 1);
                float sum = 0.0f;
                for (int64_t ti = 0; ti < in->k[0]; ti++) {
                    const float *row = r + (i * in->s[0] + ti * in->d[0]) * in->rw + j * in->s[1];
                    for (int64_t tj = 0; tj < in->k[1]; tj++) sum += row[tj * in->d[1]];
                }
                o[i * a->wo + j] = cnt > 0 ? sum / (float)cnt : 0.0f;
            }
        }
    }
}

static int run_node(zf_inc *inc, int ni, zf_error *err) {
    zf_model *m = inc->m;
    const zf_node *n = &m->nodes[ni];
    inode *in = &inc->nd[ni];
    zf_value *v = inc->vals;
    int rc = 0;
    switch (in->mode) {
    case N_SKIP:
    case N_VIEW:
        if (in->mode == N_VIEW)
            for (int k = 0; k < n->n_in; k++)
                if (!in_is_const(inc, n, k)) ensure_whole(inc, n->in[k]);
        return 0;
    case N_KERNEL: {
        const ival *y = &inc->iv[n->out[0]];
        for (int p = 0; p < inc->B; p++) {
            inc->t0[p] = (int)(y->org[0][inc->biy[p]] * in->s[0] - in->pb[0]);
            inc->t1[p] = (int)(y->org[1][inc->bix[p]] * in->s[1] - in->pb[1]);
        }
        gather(inc, in->feeds[0].buf, in->rh, in->rw, inc->t0, inc->t1, in->pad, n->in[0]);
        if (in->kind == K_AVG) {
            for (int p = 0; p < inc->B; p++) {
                inc->t0[p] = y->org[0][inc->biy[p]];
                inc->t1[p] = y->org[1][inc->bix[p]];
            }
            avg_ctx a = {inc, in, in->feeds[0].buf, y->buf, y->C, y->h, y->w, inc->t0, inc->t1};
            zf_parallel_for(inc->ex.pool, (int64_t)inc->B * y->C, avg_planes, &a);
            return 0;
        }
        if (in->wino_U) {
            const float *bias = n->n_in > 2 && n->in[2] >= 0 ? zf_f32(clean_t(inc, n->in[2])) : NULL;
            const float *x = in->feeds[0].buf;
            if (in->wino == 2) {
                zf_wino_split_copies(in->phases, x, in->fake.params, &in->wp, 0, inc->ex.pool);
                x = in->phases;
            }
            zf_wino_forward(y->buf, inc->scratch, x, in->wino_U, bias, &in->wp, inc->ex.pool);
            return 0;
        }
        break;
    }
    case N_POINTWISE: {
        const ival *y = &inc->iv[n->out[0]];
        for (int f = 0; f < in->nfeed; f++) {
            if (in->feeds[f].type != F_REBOX) continue;
            for (int p = 0; p < inc->B; p++) {
                inc->t0[p] = y->org[0][inc->biy[p]];
                inc->t1[p] = y->org[1][inc->bix[p]];
            }
            gather(inc, in->feeds[f].buf, y->h, y->w, inc->t0, inc->t1, 0.0f, n->in[in->feeds[f].slot]);
        }
        break;
    }
    case N_BATCHED:
        for (int f = 0; f < in->nfeed; f++)
            if (in->feeds[f].type == F_WHOLE) ensure_whole(inc, n->in[in->feeds[f].slot]);
        break;
    case N_LOOP: {
        for (int f = 0; f < in->nfeed; f++)
            if (in->feeds[f].type == F_WHOLE) ensure_whole(inc, n->in[in->feeds[f].slot]);
        zf_exec ex = inc->ex;
        for (int p = 0; p < inc->B && !rc; p++) {
            for (int f = 0; f < in->nfeed; f++) {
                int vi = n->in[in->feeds[f].slot];
                zf_tensor t = *clean_t(inc, vi);
                t.owns = 0;
                if (inc->iv[vi].kind != IV_NONE) t.data = (float *)in->feeds[f].t.data + (size_t)p * (size_t)inc->iv[vi].n1;
                v[vi].t = t;
            }
            for (int o = 0; o < n->n_out; o++) {
                int vo = n->out[o];
                if (vo < 0) continue;
                zf_tensor t = *clean_t(inc, vo);
                t.owns = 0;
                t.data = inc->iv[vo].buf + (size_t)p * (size_t)inc->iv[vo].n1;
                v[vo].t = t;
            }
            rc = n->op->forward(&in->fake, v, &ex, err);
        }
        for (int f = 0; f < in->nfeed; f++) {
            int vi = n->in[in->feeds[f].slot];
            v[vi].t = inc->iv[vi].kind != IV_NONE ? inc->iv[vi].bt : *clean_t(inc, vi);
        }
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0) v[n->out[o]].t = inc->iv[n->out[o]].bt;
        if (rc) return zf_error_prefix(err, "%s: node '%s' (%s)", m->path, n->name, n->op->type);
        return 0;
    }
    }
    for (int f = 0; f < in->nfeed; f++) v[n->in[in->feeds[f].slot]].t = in->feeds[f].t;
    rc = n->op->forward(&in->fake, v, &inc->ex, err);
    for (int f = 0; f < in->nfeed; f++) {
        int vi = n->in[in->feeds[f].slot];
        v[vi].t = inc->iv[vi].bt;
    }
    if (rc) return zf_error_prefix(err, "%s: node '%s' (%s)", m->path, n->name, n->op->type);
    return 0;
}

int zf_inc_run(zf_inc *inc, int nb, const int *iy, const int *ix, const float *baseline, zf_error *err) {
    if (nb < 1 || nb > inc->B) return zf_fail(err, ZF_ERR_RUNTIME, "occlusion: batch of %d positions (1..%d)", nb, inc->B);
    for (int p = 0; p < inc->B; p++) {
        int q = p < nb ? p : nb - 1;   // a short batch repeats its last position
        if (iy[q] < 0 || iy[q] >= inc->n[0] || ix[q] < 0 || ix[q] >= inc->n[1])
            return zf_fail(err, ZF_ERR_RUNTIME, "occlusion: position index out of range");
        inc->biy[p] = iy[q];
        inc->bix[p] = ix[q];
    }
    for (int i = 0; i < inc->m->n_values; i++) inc->iv[i].whole_ready = 0;
    const ival *x = &inc->iv[inc->input];
    input_ctx ic = {inc, baseline};
    zf_parallel_for((int64_t)inc->B * x->C * x->h * x->w < (1 << 14) ? NULL : inc->ex.pool, (int64_t)inc->B * x->C,
                    input_planes, &ic);
    for (int i = 0; i < inc->m->n_nodes; i++) {
        double t0 = inc->profile ? zf_seconds() : 0;
        if (run_node(inc, i, err)) return err ? err->code : ZF_ERR_RUNTIME;
        if (inc->profile) inc->profile[i] += zf_seconds() - t0;
    }
    return 0;
}

void zf_inc_set_profile(zf_inc *inc, double *seconds) { inc->profile = seconds; }

const float *zf_inc_output(zf_inc *inc, int v, int p, zf_error *err) {
    if (v < 0 || v >= inc->m->n_values || p < 0 || p >= inc->B) {
        zf_fail(err, ZF_ERR_RUNTIME, "occlusion: no such value or position");
        return NULL;
    }
    ival *x = &inc->iv[v];
    if (x->kind == IV_NONE) return zf_f32(clean_t(inc, v));
    if (x->kind == IV_BOX && !x->is_whole) {
        if (!x->whole) {
            zf_fail(err, ZF_ERR_RUNTIME, "occlusion: tensor '%s' is only kept as a box", inc->vals[v].name);
            return NULL;
        }
        ensure_whole(inc, v);
        return x->whole + (size_t)p * (size_t)(x->C * x->H * x->W);
    }
    return x->buf + (size_t)p * (size_t)x->n1;
}

double zf_inc_channel_sum(zf_inc *inc, int v, int p, int64_t c) {
    ival *x = &inc->iv[v];
    const zf_tensor *ct = clean_t(inc, v);
    if (x->kind == IV_BOX) {
        if (c < 0 || c >= x->C) return 0;
        const float *cl = zf_f32(ct) + c * x->H * x->W;
        double s = 0;
        for (int64_t i = 0; i < x->H * x->W; i++) s += cl[i];
        if (x->is_whole) {
            const float *b = x->buf + (size_t)p * (size_t)x->n1 + c * x->H * x->W;
            s = 0;
            for (int64_t i = 0; i < x->H * x->W; i++) s += b[i];
            return s;
        }
        int oy = x->org[0][inc->biy[p]], ox = x->org[1][inc->bix[p]];
        const float *b = x->buf + (size_t)p * (size_t)x->n1 + c * x->h * x->w;
        for (int r = 0; r < x->h; r++)
            for (int j = 0; j < x->w; j++) s += (double)b[r * x->w + j] - cl[(oy + r) * x->W + ox + j];
        return s;
    }
    const float *d = x->kind == IV_FLAT ? x->buf + (size_t)p * (size_t)x->n1 : zf_f32(ct);
    int64_t n1 = zf_tensor_numel(ct), ch = ct->ndim >= 2 ? ct->dims[1] : n1;
    if (ch < 1 || c < 0 || c >= ch) return 0;
    int64_t inner = n1 / (ct->ndim >= 2 ? ct->dims[0] * ch : ch);
    double s = 0;
    for (int64_t i = 0; i < inner; i++) s += d[c * inner + i];
    return s;
}

void zf_inc_stats(const zf_inc *inc, double *inc_flops, double *full_flops) {
    double a = 0, b = 0;
    for (int i = 0; i < inc->m->n_nodes; i++) {
        const inode *in = &inc->nd[i];
        const zf_node *n = &inc->m->nodes[i];
        b += in->flops_full;
        if (in->mode == N_SKIP || in->mode == N_VIEW) continue;
        if (in->mode == N_LOOP) { a += in->flops_full; continue; }
        // The batched node's own count (its params describe the box or batch), per position.
        a += (double)zf_node_flops(&in->fake, inc->vals) / inc->B;
        (void)n;
    }
    if (inc_flops) *inc_flops = a;
    if (full_flops) *full_flops = b;
}

void zf_inc_describe(const zf_inc *inc, void (*line)(void *ctx, const char *text), void *ctx) {
    char buf[256];
    for (int i = 0; i < inc->m->n_nodes; i++) {
        const zf_node *n = &inc->m->nodes[i];
        const inode *in = &inc->nd[i];
        int vo = n->out[0];
        const ival *y = vo >= 0 ? &inc->iv[vo] : NULL;
        if (y && y->kind == IV_BOX)
        {
            char wino[64] = "";
            if (in->wino)
                snprintf(wino, sizeof wino, ", Winograd F(%dx%d,3x3)%s", zf_wino_tile(&in->wp), zf_wino_tile(&in->wp),
                         in->wino == 2 ? ((const zf_conv_params *)in->fake.params)->sh == 2 ? " on 4 phases" : " on 4 shifted copies" : "");
            snprintf(buf, sizeof buf, "%-24s %-18s %-13s box %dx%d of %lldx%lld%s", n->name, n->op->type,
                     mode_names[in->mode], y->h, y->w, (long long)y->H, (long long)y->W, wino);
        }
        else
            snprintf(buf, sizeof buf, "%-24s %-18s %-13s", n->name, n->op->type, mode_names[in->mode]);
        line(ctx, buf);
    }
}
