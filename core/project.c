// project.c: the backward walk shared by the deconvnet, guided backpropagation and the gradient
// (see project.h). The rules themselves live with their ops (core/ops/*.c, interface in
// core/ops/proj.h); this file seeds the chosen unit, visits the nodes in reverse execution order
// from the seed's producer, and keeps every tensor's signal buffer and box.
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "project.h"
#include "progress.h"
#include "ops/op.h"
#include "ops/proj.h"

struct zf_projector {
    zf_model *m;
    int64_t batch;          // dims[0] of the first graph input: the planned batch
    float **g;              // per value: signal buffer of one batch item (NULL: not tracked)
    zf_box *box;            // per value: where g may be nonzero (when has)
    char *has;              // per value: received signal in the current projection
    char *dep;              // per value: depends on the current target
    char *batched;          // per value: batch axis first (views take one item)
    zf_tensor *view;        // per value: one batch item of the recorded tensor
    float *scratch;
    size_t scratch_floats;
    zf_proj_slot *slots;    // n_in + n_out of the widest node
    void *mem;              // every signal buffer
    size_t mem_bytes;
    double *profile;        // optional, n_nodes: seconds per node, added by zf_project
    int *fuse;              // per node: a MaxPool's input 0 comes from this Relu node, fused (see below), or -1
    zf_pool *pool;          // runs the rules' loops: the model's pool, NULL for lanes (one thread each)
    zf_projector **lanes;   // zf_project_maps: n_lanes single-threaded projectors, created on first use
    int n_lanes;
    void **pcache;          // per node: zf_op.proj_cache data (NULL: none); a lane borrows its parent's
    uint64_t pcache_gen;    // the zf_model.weights_gen it was built for (0: not yet)
    int lane;               // one of zf_project_maps' lanes: borrows pcache, and may hand a MaxPool's
                            // unpooled signal to the Conv before it as lists (fuse_conv), not written out
    int *fuse_conv;         // per MaxPool node with a fused ReLU: the Conv producing the ReLU's input, or -1
    zf_proj_lists lists;
    void *lists_mem;
    size_t lists_pos, lists_entries, lists_chans;   // the capacity the fusable chains need (0: none)
    // The projection under way (walk_begin .. walk_end).
    zf_project_opts o;
    zf_project_info *info;
    const char *layer;
    int target, start;
    zf_proj_args a;
    double t0;              // the node's start (profile)
};

zf_project_opts zf_project_defaults(void) {
    zf_project_opts o;
    memset(&o, 0, sizeof o);
    o.rule = ZF_RULE_DECONVNET;
    o.seed = ZF_SEED_MAX;
    o.target = -1;
    o.value = -1;
    return o;
}

static const char *const rule_names[ZF_RULE_COUNT] = {"deconvnet", "guided", "gradient"};

const char *zf_rule_name(zf_rule r) { return r >= 0 && r < ZF_RULE_COUNT ? rule_names[r] : "?"; }

int zf_rule_parse(zf_rule *r, const char *name, zf_error *err) {
    for (int i = 0; i < ZF_RULE_COUNT; i++)
        if (name && !strcasecmp(name, rule_names[i])) {
            *r = (zf_rule)i;
            return 0;
        }
    return zf_fail(err, ZF_ERR_INPUT, "unknown rule '%s' (deconvnet, guided, gradient)", name ? name : "");
}

// --- create / free --------------------------------------------------------------------------------

static int64_t item_numel(const zf_projector *pj, int v) {
    return zf_tensor_numel(&pj->view[v]);
}

// Tensors that get a signal buffer: every float tensor the forward pass computes, and the inputs.
static int tracked(const zf_value *x) {
    return !x->is_const && x->t.dtype == ZF_F32 && (x->producer >= 0 || x->is_input) && x->t.data;
}

// A ReLU whose output only feeds a MaxPool (ZFNet's relu1 -> pool1, relu2 -> pool2): the pool's rule
// unpools straight into the ReLU's input and rectifies just the switch positions (zf_proj_args.
// relu_x), so the walk skips the ReLU and its output's signal buffer, two passes over the largest
// boxes of the walk. Whether it applies at a projection also depends on the walk (zf_project).
static int find_fusions(zf_projector *pj, zf_error *err) {
    const zf_model *m = pj->m;
    int *uses = zf_calloc((size_t)m->n_values + 1, sizeof *uses, err);
    if (!uses) return ZF_ERR_RUNTIME;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) uses[m->nodes[i].in[k]]++;
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        pj->fuse[i] = -1;
        pj->fuse_conv[i] = -1;
        if (strcmp(n->op->type, "MaxPool") || !n->switches || n->n_in < 1 || n->in[0] < 0) continue;
        const int y = n->in[0], r = m->values[y].producer;
        if (r < 0 || uses[y] != 1) continue;
        const zf_node *rn = &m->nodes[r];
        if (strcmp(rn->op->type, "Relu") || rn->n_in < 1 || rn->n_out != 1 || rn->out[0] != y) continue;
        const int x = rn->in[0];
        if (x < 0 || !pj->g[x] || !pj->g[y] || pj->batched[x] != pj->batched[y] ||
            !zf_tensor_same_shape(&pj->view[x], &pj->view[y]))
            continue;
        pj->fuse[i] = r;
        // The Conv before the ReLU, its output used by nothing else: for zf_project_maps' lanes.
        const int c = m->values[x].producer;
        pj->fuse_conv[i] = -1;
        if (c < 0 || uses[x] != 1 || strcmp(m->nodes[c].op->type, "Conv") || pj->view[x].ndim != 4) continue;
        pj->fuse_conv[i] = c;
        const size_t np = (size_t)(pj->view[x].dims[2] * pj->view[x].dims[3]), ne = (size_t)item_numel(pj, x);
        if (np > pj->lists_pos) pj->lists_pos = np;
        if (ne > pj->lists_entries) pj->lists_entries = ne;
        if ((size_t)pj->view[x].dims[1] > pj->lists_chans) pj->lists_chans = (size_t)pj->view[x].dims[1];
    }
    free(uses);
    return 0;
}

int zf_projector_create(zf_projector **out, zf_model *m, zf_error *err) {
    *out = NULL;
    if (m->n_inputs < 1) return zf_fail(err, ZF_ERR_INPUT, "%s: the model has no graph input", m->path);
    zf_projector *pj = zf_calloc(1, sizeof *pj, err);
    if (!pj) return ZF_ERR_RUNTIME;
    pj->m = m;
    pj->pool = m->pool;
    const zf_tensor *in0 = &m->values[m->inputs[0]].t;
    pj->batch = in0->ndim > 0 ? in0->dims[0] : 1;
    int nv = m->n_values;
    pj->g = zf_calloc((size_t)nv + 1, sizeof *pj->g, err);
    pj->box = zf_calloc((size_t)nv + 1, sizeof *pj->box, err);
    pj->has = zf_calloc((size_t)nv + 1, 1, err);
    pj->dep = zf_calloc((size_t)nv + 1, 1, err);
    pj->batched = zf_calloc((size_t)nv + 1, 1, err);
    pj->view = zf_calloc((size_t)nv + 1, sizeof *pj->view, err);
    pj->fuse = zf_calloc((size_t)m->n_nodes + 1, sizeof *pj->fuse, err);
    pj->fuse_conv = zf_calloc((size_t)m->n_nodes + 1, sizeof *pj->fuse_conv, err);
    if (!pj->g || !pj->box || !pj->has || !pj->dep || !pj->batched || !pj->view || !pj->fuse || !pj->fuse_conv)
        goto oom;
    size_t total = 0;
    for (int v = 0; v < nv; v++) {
        zf_value *x = &m->values[v];
        pj->view[v] = x->t;
        pj->view[v].owns = 0;
        if (!tracked(x)) continue;
        if (pj->batch > 1 && x->t.ndim > 0 && x->t.dims[0] == pj->batch) {
            pj->batched[v] = 1;
            pj->view[v].dims[0] = 1;
        }
        total += ((size_t)item_numel(pj, v) + 15) & ~(size_t)15;   // 64-byte aligned buffers
    }
    pj->mem_bytes = total * sizeof(float);
    if (total && !(pj->mem = aligned_alloc(64, total * sizeof(float)))) {
        zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory allocating %zu MB of projection buffers", m->path,
                (total * sizeof(float)) >> 20);
        zf_projector_free(pj);
        return ZF_ERR_RUNTIME;
    }
    float *p = pj->mem;
    for (int v = 0; v < nv; v++) {
        if (!tracked(&m->values[v])) continue;
        pj->g[v] = p;
        p += ((size_t)item_numel(pj, v) + 15) & ~(size_t)15;
    }
    // Scratch: the largest any rule asks for; slots for the widest node.
    int widest = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        if (n->n_in + n->n_out > widest) widest = n->n_in + n->n_out;
        if (n->op->proj_scratch) {
            size_t s = n->op->proj_scratch(n, m->values);
            if (s > pj->scratch_floats) pj->scratch_floats = s;
        }
    }
    if (!(pj->slots = zf_calloc((size_t)widest, sizeof *pj->slots, err))) goto oom;
    if (find_fusions(pj, err)) goto oom;
    if (pj->scratch_floats) {
        size_t bytes = (pj->scratch_floats * sizeof(float) + 63) & ~(size_t)63;
        if (!(pj->scratch = aligned_alloc(64, bytes))) {
            zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory allocating %zu MB of projection scratch", m->path,
                    bytes >> 20);
            zf_projector_free(pj);
            return ZF_ERR_RUNTIME;
        }
    }
    *out = pj;
    return 0;
oom:
    zf_projector_free(pj);
    return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
}

void zf_projector_free(zf_projector *pj) {
    if (!pj) return;
    for (int i = 0; i < pj->n_lanes; i++) zf_projector_free(pj->lanes[i]);
    free(pj->lanes);
    if (pj->pcache && !pj->lane)
        for (int i = 0; i < pj->m->n_nodes; i++) free(pj->pcache[i]);
    if (!pj->lane) free(pj->pcache);
    free(pj->g);
    free(pj->box);
    free(pj->has);
    free(pj->dep);
    free(pj->batched);
    free(pj->view);
    free(pj->fuse);
    free(pj->fuse_conv);
    free(pj->lists_mem);
    free(pj->slots);
    free(pj->scratch);
    free(pj->mem);
    free(pj);
}

// The ops' projection caches (zf_op.proj_cache_bytes), built for the model's current weights. A
// cache that cannot be allocated stays NULL: its rule then runs without it.
static void pcache_update(zf_projector *pj) {
    zf_model *m = pj->m;
    if (pj->lane || pj->pcache_gen == m->weights_gen) return;
    if (!pj->pcache && !(pj->pcache = calloc((size_t)m->n_nodes + 1, sizeof *pj->pcache))) return;
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        size_t bytes = n->op->proj_cache_bytes ? n->op->proj_cache_bytes(n, m->values) : 0;
        if (!bytes) continue;
        if (!pj->pcache[i] && !(pj->pcache[i] = aligned_alloc(64, (bytes + 63) & ~(size_t)63))) continue;
        n->op->proj_cache_fill(pj->pcache[i], n, m->values);
    }
    pj->pcache_gen = m->weights_gen;
}

// --- seeds ----------------------------------------------------------------------------------------

// Positions of the map: rank 4 (1,C,H,W) -> H x W; rank 3 (1,C,L) -> 1 x L; rank 2 -> 1 x 1.
static void map_geometry(int64_t *h, int64_t *w, const zf_tensor *t) {
    *h = t->ndim >= 4 ? t->dims[2] : 1;
    *w = t->ndim >= 4 ? t->dims[3] : t->ndim == 3 ? t->dims[2] : 1;
}

static const char *value_label(const zf_model *m, int v) { return m->values[v].name; }

int zf_project_top_maps(int64_t *channels, float *maxima, int n, const zf_model *m, int v, int64_t item,
                        zf_error *err) {
    if (v < 0 || v >= m->n_values) {
        zf_fail(err, ZF_ERR_INPUT, "no such tensor");
        return -1;
    }
    const zf_tensor *t = &m->values[v].t;
    if (t->dtype != ZF_F32 || t->ndim < 2 || t->ndim > 4 || !t->data) {
        zf_fail(err, ZF_ERR_INPUT, "layer '%s' has no maps to rank (a float (N,C[,H[,W]]) tensor is needed)",
                m->values[v].name);
        return -1;
    }
    if (item < 0 || item >= t->dims[0]) {
        zf_fail(err, ZF_ERR_INPUT, "batch item %lld is out of range (batch %lld)", (long long)item,
                (long long)t->dims[0]);
        return -1;
    }
    if (n <= 0) return 0;
    float *mx_buf = maxima ? maxima : zf_malloc((size_t)n * sizeof *mx_buf, err);
    if (!mx_buf) return -1;
    int64_t C = t->dims[1], plane = zf_tensor_numel(t) / (t->dims[0] * C);
    const float *x = zf_f32(t) + item * C * plane;
    int k = 0;
    // Insertion into a sorted list of at most n; ties keep the lower channel first.
    for (int64_t c = 0; c < C; c++) {
        float mx = -INFINITY;
        for (int64_t i = 0; i < plane; i++)
            if (x[c * plane + i] > mx) mx = x[c * plane + i];
        if (k == n && !(mx > mx_buf[n - 1])) continue;
        int pos = k < n ? k : n - 1;
        while (pos > 0 && mx_buf[pos - 1] < mx) {
            channels[pos] = channels[pos - 1];
            mx_buf[pos] = mx_buf[pos - 1];
            pos--;
        }
        channels[pos] = c;
        mx_buf[pos] = mx;
        if (k < n) k++;
    }
    if (!maxima) free(mx_buf);
    return k;
}

// --- the walk -------------------------------------------------------------------------------------

static void compute_dep(zf_projector *pj, int target) {
    const zf_model *m = pj->m;
    memset(pj->dep, 0, (size_t)m->n_values);
    pj->dep[target] = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        int d = 0;
        for (int k = 0; k < n->n_in && !d; k++) d = n->in[k] >= 0 && pj->dep[n->in[k]];
        if (!d) continue;
        for (int k = 0; k < n->n_out; k++) {
            int o = n->out[k];
            if (o >= 0 && pj->g[o]) pj->dep[o] = 1;
        }
    }
}

static int check_batched(const zf_projector *pj, int v, const char *layer, zf_error *err) {
    if (pj->batch <= 1 || pj->batched[v]) return 0;
    char s[128];
    const zf_tensor *t = &pj->m->values[v].t;
    return zf_fail(err, ZF_ERR_INPUT,
                   "layer '%s': tensor '%s' %s does not have the batch axis first; project with batch 1", layer,
                   pj->m->values[v].name, zf_shape_str(s, sizeof s, t->ndim, t->dims));
}

// Checks o, seeds the unit and prepares the walk's state in pj (info must stay valid until walk_end).
static int walk_begin(zf_projector *pj, zf_project_info *info, const zf_project_opts *o, zf_error *err) {
    zf_model *m = pj->m;
    memset(info, 0, sizeof *info);
    info->y = info->x = -1;
    int v = o->value;
    if (v < 0 || v >= m->n_values) return zf_fail(err, ZF_ERR_INPUT, "no tensor to project (index %d)", v);
    const char *layer = value_label(m, v);
    if (o->rule < 0 || o->rule >= ZF_RULE_COUNT) return zf_fail(err, ZF_ERR_INPUT, "unknown projection rule %d", o->rule);
    if (o->seed != ZF_SEED_MAX && o->seed != ZF_SEED_MAP && o->seed != ZF_SEED_AT)
        return zf_fail(err, ZF_ERR_INPUT, "unknown seed mode %d", (int)o->seed);
    int target = o->target >= 0 ? o->target : m->inputs[0];
    if (target < 0 || target >= m->n_values || !pj->g[target])
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s': the projection target is not a float tensor of the model", layer);
    if (!pj->g[v])
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s' is %s: nothing to project", layer,
                       m->values[v].t.dtype != ZF_F32 ? "an int64 tensor (shapes or indices)" : "a constant");
    compute_dep(pj, target);
    if (!pj->dep[v])
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s' does not depend on '%s': nothing to project back", layer,
                       m->values[target].name);
    if (o->item < 0 || o->item >= (pj->batched[v] ? pj->batch : 1))
        return zf_fail(err, ZF_ERR_INPUT, "batch item %lld is out of range (batch %lld)", (long long)o->item,
                       (long long)(pj->batched[v] ? pj->batch : 1));
    if (check_batched(pj, v, layer, err) || check_batched(pj, target, layer, err)) return err ? err->code : ZF_ERR_INPUT;
    // Views of this batch item.
    for (int i = 0; i < m->n_values; i++) {
        if (!pj->batched[i]) continue;
        pj->view[i].data = (char *)m->values[i].t.data + (size_t)(o->item * item_numel(pj, i)) * sizeof(float);
    }

    // The seed: map `channel` of v, all other activations zero.
    const zf_tensor *t = &pj->view[v];
    if (t->ndim < 2 || t->ndim > 4)
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s' has shape rank %d: only (N,C), (N,C,L) and (N,C,H,W) tensors "
                       "can be projected", layer, t->ndim);
    int64_t C = t->dims[1], H, W;
    map_geometry(&H, &W, t);
    if (o->channel < 0 || o->channel >= C)
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s': unit %lld is out of range (it has %lld %s)", layer,
                       (long long)o->channel, (long long)C, t->ndim == 2 ? "units" : "maps");
    const float *act = zf_f32(t) + o->channel * H * W;
    int64_t pos = -1;
    if (o->seed == ZF_SEED_AT) {
        int64_t yy = t->ndim == 4 ? o->y : 0;
        if (yy < 0 || yy >= H || o->x < 0 || o->x >= W)
            return zf_fail(err, ZF_ERR_INPUT, "layer '%s': position %lld,%lld is outside the %lldx%lld map", layer,
                           (long long)o->y, (long long)o->x, (long long)H, (long long)W);
        pos = yy * W + o->x;
    } else {
        float best = 0;
        for (int64_t i = 0; i < H * W; i++)
            if (pos < 0 || act[i] > best) {
                best = act[i];
                pos = i;
            }
    }
    info->value = act[pos];
    info->y = pos / W;
    info->x = pos % W;
    zf_box seed;
    memset(&seed, 0, sizeof seed);
    seed.hi[0] = 1;
    seed.lo[1] = o->channel;
    seed.hi[1] = o->channel + 1;
    if (t->ndim == 4) {
        seed.lo[2] = info->y; seed.hi[2] = info->y + 1;
        seed.lo[3] = info->x; seed.hi[3] = info->x + 1;
    } else if (t->ndim == 3) {
        seed.lo[2] = info->x; seed.hi[2] = info->x + 1;
    }
    if (o->seed == ZF_SEED_MAP)
        for (int d = 2; d < t->ndim; d++) { seed.lo[d] = 0; seed.hi[d] = t->dims[d]; }
    memset(pj->has, 0, (size_t)m->n_values);
    zf_box full;
    zf_box_full(&full, t);
    zf_box_grow(pj->g[v], t, &pj->box[v], 0, o->dense ? &full : &seed);
    float *gs = pj->g[v] + o->channel * H * W;
    if (o->seed == ZF_SEED_MAP) memcpy(gs, act, (size_t)(H * W) * sizeof(float));
    else gs[pos] = act[pos];
    pj->has[v] = 1;

    pj->lists.filled = 0;
    zf_proj_args *a = &pj->a;
    memset(a, 0, sizeof *a);
    a->rule = o->rule;
    a->scratch = pj->scratch;
    a->pool = pj->pool;
    a->dense = o->dense;
    pj->o = *o;
    pj->info = info;
    pj->layer = layer;
    pj->target = target;
    pj->start = v == target ? -1 : m->values[v].producer;
    return 0;
}

// The lists' buffers (zf_proj_lists), allocated on first use: 0 when there are none.
static int lists_alloc(zf_projector *pj) {
    if (pj->lists_mem) return 1;
    if (!pj->lists_pos) return 0;
    const size_t np = pj->lists_pos, ne = pj->lists_entries, nc = pj->lists_chans + 1;
    char *b = calloc(1, nc * sizeof(int32_t) + ne * (sizeof(int32_t) + sizeof(float)) + np * sizeof(float));
    if (!b) return 0;
    pj->lists_mem = b;
    pj->lists.first = (int32_t *)b;
    pj->lists.pos = pj->lists.first + nc;
    pj->lists.val = (float *)(pj->lists.pos + ne);
    pj->lists.plane = pj->lists.val + ne;   // zero (calloc), and kept so by its user
    return 1;
}

// Node ni's step of the walk begun by walk_begin (nodes are visited from pj->start down to 0),
// up to the rule itself: the boxes, the zeroing, the identity rules. *run: 1 when the node's
// project rule is still to be called on pj->a (then walk_post).
static int walk_prep(zf_projector *pj, int ni, int *run, zf_error *err) {
    const zf_model *m = pj->m;
    const zf_project_opts *o = &pj->o;
    const char *layer = pj->layer;
    zf_project_info *info = pj->info;
    zf_proj_args *ap = &pj->a;
    zf_box full;
    const zf_node *n = &m->nodes[ni];
    *run = 0;
    int any_out = 0, any_in = 0;
    for (int k = 0; k < n->n_out; k++) any_out |= n->out[k] >= 0 && pj->has[n->out[k]];
    for (int k = 0; k < n->n_in; k++) any_in |= n->in[k] >= 0 && pj->dep[n->in[k]];
    if (!any_out || !any_in) return 0;
    const zf_op *op = n->op;
    if (!op->project)
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s': projection through node '%s' (%s) is not defined", layer,
                       n->name, n->op->type);
    zf_proj_slot *in = pj->slots, *outs = pj->slots + n->n_in;
    // The fused ReLU (find_fusions): when its input wants signal and has none yet (a later
    // consumer may still add to it: the rule only rectifies what this pool brings), and the
    // boxes are not the dense reference's.
    int fx = -1;
    ap->relu_x = NULL;
    if (pj->fuse[ni] >= 0 && !o->dense) {
        const int x = m->nodes[pj->fuse[ni]].in[0];
        if (pj->dep[x] && !pj->has[x] && !pj->has[n->in[0]]) {
            fx = x;
            ap->relu_x = &pj->view[x];
        }
    }
    for (int k = 0; k < n->n_in; k++) {
        int x = k == 0 && fx >= 0 ? fx : n->in[k];
        memset(&in[k], 0, sizeof in[k]);
        if (x < 0) continue;
        in[k].t = &pj->view[x];
        in[k].on = in[k].want = pj->dep[x];
        in[k].g = in[k].on ? pj->g[x] : NULL;
        if (in[k].on && check_batched(pj, x, layer, err)) return err ? err->code : ZF_ERR_INPUT;
    }
    for (int k = 0; k < n->n_out; k++) {
        int y = n->out[k];
        memset(&outs[k], 0, sizeof outs[k]);
        if (y < 0) continue;
        outs[k].t = &pj->view[y];
        outs[k].on = pj->has[y];
        outs[k].g = outs[k].on ? pj->g[y] : NULL;
        if (outs[k].on) outs[k].box = pj->box[y];
    }
    ap->n_in = n->n_in;
    ap->n_out = n->n_out;
    ap->in = in;
    ap->out = outs;
    ap->switches = NULL;
    ap->cache = pj->pcache ? pj->pcache[ni] : NULL;
    // Lists in place of the fused ReLU's input (lanes only; not when it is the target), and the
    // Conv that produced it reading them.
    ap->lists = NULL;
    if (fx >= 0 && pj->lane && pj->fuse_conv[ni] >= 0 && fx != pj->target && lists_alloc(pj)) {
        pj->lists.value = fx;
        pj->lists.filled = 0;
        ap->lists = &pj->lists;
    } else if (pj->lists.filled && n->n_out > 0 && n->out[0] == pj->lists.value) {
        ap->lists = &pj->lists;
    }
    if (n->switches && n->n_out > 0 && n->out[0] >= 0)
        ap->switches = n->switches + (pj->batched[n->out[0]] ? o->item * item_numel(pj, n->out[0]) : 0);
    pj->t0 = pj->profile ? zf_seconds() : 0;
    if (op->box_back) op->box_back(n, ap);
    else zf_proj_box_elementwise(n, ap);
    // An identity rule (slot.alias): input 0 takes over output 0's buffer (the buffers are
    // swapped, both the same size) in place of a copy, when input 0 holds no signal yet, is the
    // only input that takes signal and is not output 0 itself. Output 0's signal is gone then
    // (every consumer has been walked; zf_projector_signal reports none for it).
    if (n->n_in >= 1 && n->n_out >= 1 && in[0].on && in[0].alias && !o->dense && n->in[0] >= 0 &&
        n->out[0] >= 0 && fx < 0) {
        const int x = n->in[0], y = n->out[0];
        int only = x != y && !pj->has[x] && zf_tensor_same_shape(in[0].t, outs[0].t) &&
                   !memcmp(&in[0].box, &outs[0].box, sizeof in[0].box) && pj->batched[x] == pj->batched[y];
        for (int k = 1; k < n->n_in && only; k++) only = !in[k].on || zf_box_is_empty(&in[k].box, in[k].t->ndim);
        if (only) {
            float *t = pj->g[x];
            pj->g[x] = pj->g[y];
            pj->g[y] = t;
            pj->box[x] = pj->box[y];
            pj->has[x] = 1;
            pj->has[y] = 0;
            if (pj->profile) pj->profile[ni] += zf_seconds() - pj->t0;
            info->nodes++;
            return 0;
        }
    }
    for (int k = 0; k < n->n_in; k++) {
        if (!in[k].on) continue;
        int x = k == 0 && fx >= 0 ? fx : n->in[k];
        if (zf_box_is_empty(&in[k].box, in[k].t->ndim)) {
            in[k].on = 0;
            continue;
        }
        if (o->dense) {
            zf_box_full(&full, in[k].t);
            zf_box_grow(pj->g[x], in[k].t, &pj->box[x], pj->has[x], &full);
        } else if (!pj->has[x] && in[k].t->ndim > 0) {   // the common case: a first box, zeroed on the pool
            pj->box[x] = in[k].box;
            // Stored rather than added (no zeroing) when the rule offers to and x is not also
            // another input of this node.
            int twice = 0;
            for (int j = 0; j < n->n_in; j++) twice |= j != k && n->in[j] == x;
            if (in[k].overwrite && !twice) in[k].fresh = 1;
            else zf_box_zero_pool(pj->g[x], in[k].t, &pj->box[x], ap->pool);
        } else {
            zf_box_grow(pj->g[x], in[k].t, &pj->box[x], pj->has[x], &in[k].box);
        }
        pj->has[x] = 1;
    }
    *run = 1;
    return 0;
}

static void walk_post(zf_projector *pj, int ni) {
    const zf_node *n = &pj->m->nodes[ni];
    if (pj->a.lists && n->n_out > 0 && n->out[0] == pj->lists.value) pj->lists.filled = 0;   // the Conv used them
    if (pj->profile) pj->profile[ni] += zf_seconds() - pj->t0;
    pj->info->nodes++;
}

static int rule_failed(const zf_projector *pj, int ni, zf_error *err) {
    const zf_node *n = &pj->m->nodes[ni];
    return zf_error_prefix(err, "layer '%s': projecting through node '%s' (%s)", pj->layer, n->name, n->op->type);
}

static int walk_node(zf_projector *pj, int ni, zf_error *err) {
    int run, rc = walk_prep(pj, ni, &run, err);
    if (rc || !run) return rc;
    const zf_node *n = &pj->m->nodes[ni];
    if (n->op->project(n, &pj->a, err)) return rule_failed(pj, ni, err);
    walk_post(pj, ni);
    return 0;
}

// The result: the target's signal into dst (the target's item numel floats; NULL: info only), zero
// outside its box; the boxes in info.
static void walk_end(zf_projector *pj, float *dst) {
    const zf_model *m = pj->m;
    const zf_project_opts *o = &pj->o;
    zf_project_info *info = pj->info;
    const int target = pj->target, v = o->value;
    const zf_tensor *tt = &pj->view[target], *t = &pj->view[v];
    if (dst) memset(dst, 0, (size_t)zf_tensor_numel(tt) * sizeof(float));
    int rank4 = tt->ndim == 4;
    int64_t TH = rank4 ? tt->dims[2] : 1, TW = rank4 ? tt->dims[3] : 1;
    if (pj->has[target]) {
        const zf_box *b = &pj->box[target];
        zf_box_iter it;
        for (zf_box_iter_begin(&it, tt, b); !it.done; zf_box_iter_next(&it))
            if (dst) memcpy(dst + it.off, pj->g[target] + it.off, (size_t)it.len * sizeof(float));
        info->box[0][0] = rank4 ? b->lo[2] : 0; info->box[0][1] = rank4 ? b->hi[2] : 1;
        info->box[1][0] = rank4 ? b->lo[3] : 0; info->box[1][1] = rank4 ? b->hi[3] : 1;
    } else {
        info->empty = 1;
    }
    // The plan's receptive field of the seed unit.
    info->rf[0][0] = 0; info->rf[0][1] = TH;
    info->rf[1][0] = 0; info->rf[1][1] = TW;
    const zf_rf *rf = &m->values[v].rf;
    if (rank4 && target == m->inputs[0] && rf->valid && !rf->global && o->seed != ZF_SEED_MAP && t->ndim == 4) {
        int64_t p[2] = {info->y, info->x}, lim[2] = {TH, TW};
        for (int ax = 0; ax < 2; ax++) {
            int64_t lo = p[ax] * rf->jump[ax] + rf->offset[ax], hi = lo + rf->size[ax];
            info->rf[ax][0] = lo < 0 ? 0 : lo > lim[ax] ? lim[ax] : lo;
            info->rf[ax][1] = hi < 0 ? 0 : hi > lim[ax] ? lim[ax] : hi;
        }
    }
}

int zf_project(zf_tensor *out, zf_project_info *info, zf_projector *pj, const zf_project_opts *o, zf_error *err) {
    zf_project_info local;
    if (!info) info = &local;
    int rc = walk_begin(pj, info, o, err);
    if (rc) return rc;
    pcache_update(pj);
    for (int ni = pj->start; ni >= 0; ni--)
        if ((rc = walk_node(pj, ni, err))) return rc;
    const zf_tensor *tt = &pj->view[pj->target];
    if (!out->data || !zf_tensor_same_shape(out, tt) || !out->owns)
        if (zf_tensor_alloc(out, ZF_F32, tt->ndim, tt->dims, err)) return err ? err->code : ZF_ERR_RUNTIME;
    walk_end(pj, zf_f32(out));
    return 0;
}


// --- many maps -----------------------------------------------------------------------------------

// Maps in flight per thread in zf_project_maps. Each thread has its own maps (no pool inside a
// walk: the walks of one map are too small to split well) and walks up to this many of them
// together, node by node, handing an op all of them at once when it has project_lanes: the
// transposed conv3 and conv4 of ZFNet then read their weights (3.5 and 5.3 MB) once per group, not
// once per map. Measured on ZFNet-224's conv5, one thread: conv3 1.1-1.35 -> 0.77-0.9 ms per map,
// conv4 0.95-1.07 -> 0.53-0.68 (4 or 8 lanes alike; 16 no better).
#define MAPS_PER_THREAD 4
#define LANES_BYTES ((size_t)384 << 20)

typedef struct {
    zf_projector *pj;
    const zf_project_opts *o;
    const int64_t *channels;
    int n, per_thread;
    float *out;
    int64_t out_numel;
    zf_project_info *infos;
    atomic_int next;     // the next map to hand out
    atomic_int failed;   // set by the first error
    zf_error err;        // that error (written once, by the thread that set failed)
} maps_ctx;

static void maps_worker(void *ctx_, int64_t begin, int64_t end) {
    maps_ctx *c = ctx_;
    const int K = c->per_thread;
    zf_project_info dummy[MAPS_PER_THREAD];
    for (int64_t t = begin; t < end; t++) {
        zf_projector **lane = c->pj->lanes + t * K;
        for (;;) {
            if (atomic_load(&c->failed)) return;
            int k0 = atomic_fetch_add(&c->next, K);
            if (k0 >= c->n) break;
            int nk = c->n - k0 < K ? c->n - k0 : K;
            zf_error e = {0};
            int rc = 0, start = 0;
            for (int j = 0; j < nk && !rc; j++) {
                zf_project_opts o = *c->o;
                o.channel = c->channels[k0 + j];
                rc = walk_begin(lane[j], c->infos ? &c->infos[k0 + j] : &dummy[j], &o, &e);
                start = lane[j]->start;
            }
            for (int ni = start; ni >= 0 && !rc; ni--) {
                // Every lane up to its rule, then the rules, together when the op can.
                const zf_node *node = &c->pj->m->nodes[ni];
                zf_proj_args *args[MAPS_PER_THREAD];
                int who[MAPS_PER_THREAD], na = 0;
                for (int j = 0; j < nk && !rc; j++) {
                    int run = 0;
                    rc = walk_prep(lane[j], ni, &run, &e);
                    if (run) { who[na] = j; args[na++] = &lane[j]->a; }
                }
                if (rc || !na) continue;
                if (na > 1 && node->op->project_lanes) {
                    if (node->op->project_lanes(node, args, na, &e)) rc = rule_failed(lane[who[0]], ni, &e);
                } else {
                    for (int i = 0; i < na && !rc; i++)
                        if (node->op->project(node, args[i], &e)) rc = rule_failed(lane[who[i]], ni, &e);
                }
                for (int i = 0; i < na && !rc; i++) walk_post(lane[who[i]], ni);
            }
            if (rc) {
                if (!atomic_exchange(&c->failed, 1)) c->err = e;
                return;
            }
            for (int j = 0; j < nk; j++) walk_end(lane[j], c->out ? c->out + (int64_t)(k0 + j) * c->out_numel : NULL);
        }
    }
}

int zf_project_maps(float *out, zf_project_info *infos, zf_projector *pj, const zf_project_opts *o,
                    const int64_t *channels, int n, zf_error *err) {
    if (n <= 0) return 0;
    if (pj->profile || n == 1) {   // one map, or per-node timings: the plain walk, on the pool
        zf_tensor t = {0};
        for (int k = 0; k < n; k++) {
            zf_project_opts ok = *o;
            ok.channel = channels[k];
            int rc = zf_project(&t, infos ? &infos[k] : NULL, pj, &ok, err);
            if (!rc && out) memcpy(out + (int64_t)k * zf_tensor_numel(&t), t.data, (size_t)zf_tensor_numel(&t) * sizeof(float));
            if (rc) { zf_tensor_free(&t); return rc; }
        }
        zf_tensor_free(&t);
        return 0;
    }
    const int T = pj->pool ? zf_pool_threads(pj->pool) : 1;
    int K = (n + T - 1) / T;
    if (K > MAPS_PER_THREAD) K = MAPS_PER_THREAD;
    // Each lane has its own signal buffers and scratch (ZFNet: 31 MB, VGG-16: ~110 MB), though
    // a walk touches only its boxes: at most LANES_BYTES in all, and one lane per thread anyway.
    const size_t lane = pj->mem_bytes + pj->scratch_floats * sizeof(float) + 1;
    while (K > 1 && (size_t)(T * K) * lane > LANES_BYTES) K--;
    if (pj->n_lanes < T * K) {
        zf_projector **l = realloc(pj->lanes, (size_t)(T * K) * sizeof *l);
        if (!l) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        pj->lanes = l;
        for (; pj->n_lanes < T * K; pj->n_lanes++) {
            int rc = zf_projector_create(&pj->lanes[pj->n_lanes], pj->m, err);
            if (rc) return rc;
            pj->lanes[pj->n_lanes]->pool = NULL;
            pj->lanes[pj->n_lanes]->lane = 1;
        }
    }
    // The lanes read their parent's projection caches.
    pcache_update(pj);
    for (int i = 0; i < pj->n_lanes; i++) pj->lanes[i]->pcache = pj->pcache;
    maps_ctx c;
    memset(&c, 0, sizeof c);
    c.pj = pj;
    c.o = o;
    c.channels = channels;
    c.n = n;
    c.per_thread = K;
    c.out = out;
    c.infos = infos;
    atomic_init(&c.next, 0);
    atomic_init(&c.failed, 0);
    int target = o->target >= 0 ? o->target : pj->m->inputs[0];
    c.out_numel = target >= 0 && target < pj->m->n_values ? item_numel(pj, target) : 0;
    zf_parallel_for(T > 1 ? pj->pool : NULL, T, maps_worker, &c);
    if (atomic_load(&c.failed)) {
        if (err) *err = c.err;
        return c.err.code ? c.err.code : ZF_ERR_INPUT;
    }
    return 0;
}

void zf_projector_set_profile(zf_projector *pj, double *seconds) { pj->profile = seconds; }

const float *zf_projector_signal(const zf_projector *pj, int v, int64_t lo[ZF_MAX_DIMS], int64_t hi[ZF_MAX_DIMS]) {
    if (v < 0 || v >= pj->m->n_values || !pj->has[v]) return NULL;
    if (lo) memcpy(lo, pj->box[v].lo, sizeof pj->box[v].lo);
    if (hi) memcpy(hi, pj->box[v].hi, sizeof pj->box[v].hi);
    return pj->g[v];
}
