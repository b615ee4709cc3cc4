// graph.c: from a parsed ONNX model to an execution plan, and the recorded forward pass.
//
// Loading walks the ONNX nodes in dependency order. Each node is parsed, its output shapes
// inferred, and, when every input is constant (or the node only reads shapes), computed on the spot
// and turned into a constant ("folding"). An If whose condition folded to a constant is replaced by
// the nodes of the branch it takes. What remains is the plan: nodes in execution order, every tensor
// with a known shape and a slot in one arena. Then fusion passes (PyTorch's LRN decomposition),
// dead-node removal, receptive fields, allocation.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <libgen.h>
#include "graph.h"
#include "ops/op.h"
#include "ops/conv.h"
#include "parallel.h"

#define ZF_MIN_OPSET 7
#define ZF_MAX_OPSET 25
#define ZF_MAX_IF_DEPTH 16

// ---------------------------------------------------------------------------------------------
// name -> value index, open addressing; several names may map to one value (If outputs).

typedef struct name_map {
    char **keys;   // borrowed from values or from the onnx model (which outlives the load)
    int *vals;
    size_t cap, n;
} name_map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static int map_get(const name_map *mp, const char *k) {
    if (!mp->cap) return -1;
    for (size_t i = hash_str(k) & (mp->cap - 1);; i = (i + 1) & (mp->cap - 1)) {
        if (!mp->keys[i]) return -1;
        if (!strcmp(mp->keys[i], k)) return mp->vals[i];
    }
}

static int map_put(name_map *mp, char *k, int v, zf_error *err) {
    if ((mp->n + 1) * 2 > mp->cap) {
        size_t nc = mp->cap ? mp->cap * 2 : 256;
        char **nk = zf_calloc(nc, sizeof *nk, err);
        int *nv = zf_calloc(nc, sizeof *nv, err);
        if (!nk || !nv) { free(nk); free(nv); return ZF_ERR_RUNTIME; }
        for (size_t i = 0; i < mp->cap; i++) {
            if (!mp->keys[i]) continue;
            size_t j = hash_str(mp->keys[i]) & (nc - 1);
            while (nk[j]) j = (j + 1) & (nc - 1);
            nk[j] = mp->keys[i];
            nv[j] = mp->vals[i];
        }
        free(mp->keys); free(mp->vals);
        mp->keys = nk; mp->vals = nv; mp->cap = nc;
    }
    size_t i = hash_str(k) & (mp->cap - 1);
    while (mp->keys[i] && strcmp(mp->keys[i], k)) i = (i + 1) & (mp->cap - 1);
    if (!mp->keys[i]) mp->n++;
    mp->keys[i] = k;
    mp->vals[i] = v;
    return 0;
}

static void map_free(name_map *mp) { free(mp->keys); free(mp->vals); memset(mp, 0, sizeof *mp); }

// ---------------------------------------------------------------------------------------------
// The loader's state.

typedef struct loader {
    zf_model *m;
    const char *what;
    const zf_load_opts *opts;
    zf_error *err;
    name_map names;
    int cap_values, cap_nodes;
    const zf_onnx_node **src;   // per engine node: the ONNX node it came from (valid during load)
    int n_folded;
    char folded_ops[256];       // distinct op types folded, for the log
    int unnamed;
} loader;

static int add_log(zf_model *m, zf_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_log(zf_model *m, zf_error *err, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nl = realloc(m->log, (size_t)(m->n_log + 1) * sizeof *nl);
    if (!nl) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    m->log = nl;
    if (!(m->log[m->n_log] = zf_strdup(buf, err))) return ZF_ERR_RUNTIME;
    m->n_log++;
    return 0;
}

static int new_value(loader *L, const char *name, int *out) {
    zf_model *m = L->m;
    if (m->n_values == L->cap_values) {
        int nc = L->cap_values ? L->cap_values * 2 : 256;
        zf_value *nv = realloc(m->values, (size_t)nc * sizeof *nv);
        if (!nv) return zf_fail(L->err, ZF_ERR_RUNTIME, "out of memory");
        m->values = nv;
        L->cap_values = nc;
        // keys in the name map point at value names, which are separately allocated: still valid
    }
    zf_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->producer = -1;
    if (!(v->name = zf_strdup(name, L->err))) return ZF_ERR_RUNTIME;
    *out = m->n_values++;
    if (name[0]) {
        if (map_get(&L->names, name) >= 0)
            return zf_fail(L->err, ZF_ERR_INPUT, "%s: tensor '%s' is defined twice", L->what, name);
        return map_put(&L->names, v->name, *out, L->err);
    }
    return 0;
}

static int new_node(loader *L, int *out) {
    zf_model *m = L->m;
    if (m->n_nodes == L->cap_nodes) {
        int nc = L->cap_nodes ? L->cap_nodes * 2 : 128;
        zf_node *nn = realloc(m->nodes, (size_t)nc * sizeof *nn);
        const zf_onnx_node **ns = realloc(L->src, (size_t)nc * sizeof *ns);
        if (nn) m->nodes = nn;
        if (ns) L->src = ns;
        if (!nn || !ns) return zf_fail(L->err, ZF_ERR_RUNTIME, "out of memory");
        L->cap_nodes = nc;
    }
    memset(&m->nodes[m->n_nodes], 0, sizeof m->nodes[0]);
    L->src[m->n_nodes] = NULL;
    *out = m->n_nodes++;
    return 0;
}

static void free_node(zf_node *n) {
    free(n->name); free(n->in); free(n->out); free(n->params); free(n->cache);
    memset(n, 0, sizeof *n);
}

// Adds an initializer as a constant value (data copied, or moved when `take`).
static int add_initializer(loader *L, zf_onnx_initializer *init, int take) {
    int vi;
    if (map_get(&L->names, init->name) >= 0) {
        // Old exporters list initializers among the graph inputs too; the initializer wins.
        vi = map_get(&L->names, init->name);
        zf_value *v = &L->m->values[vi];
        if (!v->is_input || v->t.data)
            return zf_fail(L->err, ZF_ERR_INPUT, "%s: initializer '%s' is defined twice", L->what, init->name);
        v->is_input = 0;
    } else if (new_value(L, init->name, &vi)) {
        return L->err->code;
    }
    zf_value *v = &L->m->values[vi];
    v->is_const = 1;
    if (take) {
        v->t = init->t;
        memset(&init->t, 0, sizeof init->t);
    } else if (zf_tensor_copy(&v->t, &init->t, L->err)) {
        return L->err->code;
    }
    return 0;
}

// Free variables of a subgraph: names its nodes read that it does not define itself.
// Calls fn(ctx, name) for each; stops at the first nonzero return.
typedef int (*name_fn)(void *ctx, const char *name);
static int subgraph_free_names(const zf_onnx_graph *g, name_fn fn, void *ctx, int depth) {
    if (depth > ZF_MAX_IF_DEPTH) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const zf_onnx_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            const char *nm = n->inputs[k];
            if (!nm[0]) continue;
            int local = 0;
            for (int j = 0; j < g->n_initializers && !local; j++) local = !strcmp(g->initializers[j].name, nm);
            for (int j = 0; j < i && !local; j++)
                for (int o = 0; o < g->nodes[j].n_outputs && !local; o++) local = !strcmp(g->nodes[j].outputs[o], nm);
            for (int j = 0; j < g->n_inputs && !local; j++) local = !strcmp(g->inputs[j].name, nm);
            if (!local) { int r = fn(ctx, nm); if (r) return r; }
        }
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ZF_ATTR_GRAPH && n->attrs[a].g) {
                int r = subgraph_free_names(n->attrs[a].g, fn, ctx, depth + 1);
                if (r) return r;
            }
    }
    for (int o = 0; o < g->n_outputs; o++) {
        const char *nm = g->outputs[o].name;
        int local = 0;
        for (int j = 0; j < g->n_initializers && !local; j++) local = !strcmp(g->initializers[j].name, nm);
        for (int j = 0; j < g->n_nodes && !local; j++)
            for (int k = 0; k < g->nodes[j].n_outputs && !local; k++) local = !strcmp(g->nodes[j].outputs[k], nm);
        if (!local) { int r = fn(ctx, nm); if (r) return r; }
    }
    return 0;
}

static int name_missing(void *ctx, const char *name) {
    loader *L = ctx;
    return map_get(&L->names, name) < 0;
}

// 1 when every tensor the node reads (including an If's branch free variables) is defined.
static int node_ready(loader *L, const zf_onnx_node *n) {
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k][0] && map_get(&L->names, n->inputs[k]) < 0) return 0;
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == ZF_ATTR_GRAPH && n->attrs[a].g && subgraph_free_names(n->attrs[a].g, name_missing, L, 0))
            return 0;
    return 1;
}

static const char *node_label(const zf_onnx_node *n) { return n->name && n->name[0] ? n->name : "(unnamed)"; }

static int process_graph(loader *L, const zf_onnx_graph *g, int depth, int take);

static void note_folded(loader *L, const char *type) {
    L->n_folded++;
    size_t len = strlen(type);
    const char *p = L->folded_ops;
    while ((p = strstr(p, type))) {
        if ((p == L->folded_ops || p[-1] == ' ') && (p[len] == ',' || p[len] == 0)) return;
        p += len;
    }
    size_t k = strlen(L->folded_ops);
    if (k + len + 3 < sizeof L->folded_ops)
        snprintf(L->folded_ops + k, sizeof L->folded_ops - k, "%s%s", k ? ", " : "", type);
}

// Runs one node now on constant inputs, making its outputs constants.
static int fold_node(loader *L, int ni) {
    zf_model *m = L->m;
    zf_node *n = &m->nodes[ni];
    for (int o = 0; o < n->n_out; o++) {
        if (n->out[o] < 0) continue;
        zf_value *v = &m->values[n->out[o]];
        if (zf_tensor_alloc(&v->t, v->t.dtype, v->t.ndim, v->t.dims, L->err)) return L->err->code;
    }
    void *scratch = NULL;
    int32_t *sw = NULL;
    if (n->scratch_bytes && !(scratch = aligned_alloc(64, (n->scratch_bytes + 63) & ~(size_t)63)))
        return zf_fail(L->err, ZF_ERR_RUNTIME, "out of memory (scratch %zu bytes)", n->scratch_bytes);
    if (n->op->has_switches) {
        int64_t cnt = zf_tensor_numel(&m->values[n->out[0]].t);
        if (!(sw = zf_calloc((size_t)cnt, sizeof *sw, L->err))) { free(scratch); return ZF_ERR_RUNTIME; }
        n->switches = sw;
    }
    zf_exec ex = {.threads = 1, .pool = NULL, .scratch = scratch};
    int rc = n->op->forward(n, m->values, &ex, L->err);
    free(scratch);
    free(sw);
    n->switches = NULL;
    if (rc) return rc;
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0) { m->values[n->out[o]].is_const = 1; m->values[n->out[o]].producer = -1; }
    note_folded(L, n->op->type);
    return 0;
}

static int process_if(loader *L, const zf_onnx_node *on, int depth, int take) {
    const char *lbl = node_label(on);
    if (depth >= ZF_MAX_IF_DEPTH)
        return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s' (If): subgraphs nested deeper than %d", L->what, lbl,
                       ZF_MAX_IF_DEPTH);
    if (on->n_inputs < 1 || !on->inputs[0][0])
        return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s' (If): missing condition input", L->what, lbl);
    int ci = map_get(&L->names, on->inputs[0]);
    const zf_value *c = &L->m->values[ci];
    if (!c->is_const || !c->t.data || zf_tensor_numel(&c->t) != 1)
        return zf_fail(L->err, ZF_ERR_INPUT,
                       "%s: node '%s' (If): condition '%s' is not a constant scalar; only If nodes that compute "
                       "shapes (constant condition) are supported", L->what, lbl, on->inputs[0]);
    int cond = c->t.dtype == ZF_F32 ? zf_f32(&c->t)[0] != 0 : zf_i64(&c->t)[0] != 0;
    const zf_onnx_attr *br = zf_onnx_attr_find(on, cond ? "then_branch" : "else_branch");
    if (!br || br->type != ZF_ATTR_GRAPH || !br->g)
        return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s' (If): missing %s", L->what, lbl,
                       cond ? "then_branch" : "else_branch");
    const zf_onnx_graph *g = br->g;
    if (g->n_outputs != on->n_outputs)
        return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s' (If): branch has %d outputs, node has %d", L->what, lbl,
                       g->n_outputs, on->n_outputs);
    if (process_graph(L, g, depth + 1, 0)) return L->err->code;
    // The If's outputs become other names of the branch's outputs.
    for (int o = 0; o < on->n_outputs; o++) {
        if (!on->outputs[o][0]) continue;
        int vi = map_get(&L->names, g->outputs[o].name);
        if (vi < 0)
            return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s' (If): branch output '%s' is not computed", L->what,
                           lbl, g->outputs[o].name);
        if (map_get(&L->names, on->outputs[o]) >= 0)
            return zf_fail(L->err, ZF_ERR_INPUT, "%s: tensor '%s' is defined twice", L->what, on->outputs[o]);
        if (map_put(&L->names, on->outputs[o], vi, L->err)) return L->err->code;
    }
    note_folded(L, "If");
    return 0;
}

static int process_node(loader *L, const zf_onnx_node *on, int depth, int take) {
    zf_model *m = L->m;
    const char *lbl = node_label(on);
    if (!strcmp(on->op_type, "If") && (!on->domain[0] || !strcmp(on->domain, "ai.onnx")))
        return process_if(L, on, depth, take);
    const zf_op *op = NULL;
    if (!on->domain[0] || !strcmp(on->domain, "ai.onnx")) op = zf_op_find(on->op_type);
    if (!op)
        return zf_fail(L->err, ZF_ERR_INPUT, "%s: node '%s': unsupported op type '%s%s%s'; supported: %s", L->what, lbl,
                       on->domain[0] ? on->domain : "", on->domain[0] ? "." : "", on->op_type, zf_op_supported_list());
    int ni = -1;
    if (new_node(L, &ni)) return L->err->code;
    zf_node *n = &m->nodes[ni];
    L->src[ni] = on;
    n->op = op;
    char auto_name[64];
    if (!on->name[0]) snprintf(auto_name, sizeof auto_name, "%s_%d", on->op_type, L->unnamed++);
    if (!(n->name = zf_strdup(on->name[0] ? on->name : auto_name, L->err))) return L->err->code;
    if (op->params_size && !(n->params = zf_calloc(1, op->params_size, L->err))) return L->err->code;
    if (op->parse && op->parse(n->params, on, m->opset, L->err))
        return zf_error_prefix(L->err, "%s: node '%s' (%s)", L->what, lbl, on->op_type);
    if (op == &zf_op_conv) ((zf_conv_params *)n->params)->no_winograd = L->opts->no_winograd;
    n->n_in = on->n_inputs;
    n->n_out = on->n_outputs;
    n->in = zf_calloc((size_t)(n->n_in + 1), sizeof *n->in, L->err);
    n->out = zf_calloc((size_t)(n->n_out + 1), sizeof *n->out, L->err);
    if (!n->in || !n->out) return L->err->code;
    for (int k = 0; k < on->n_inputs; k++)
        n->in[k] = on->inputs[k][0] ? map_get(&L->names, on->inputs[k]) : -1;
    for (int k = 0; k < on->n_outputs; k++) {
        n->out[k] = -1;
        if (!on->outputs[k][0]) continue;
        int vi;
        if (new_value(L, on->outputs[k], &vi)) return L->err->code;
        n = &m->nodes[ni];
        n->out[k] = vi;
        m->values[vi].producer = ni;
        m->values[vi].t.dtype = ZF_F32;
    }
    if (op->shape(n, m->values, L->err))
        return zf_error_prefix(L->err, "%s: node '%s' (%s)", L->what, lbl, on->op_type);
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        zf_tensor *t = &m->values[n->out[k]].t;
        int64_t cnt;
        if (zf_shape_numel(&cnt, t->ndim, t->dims, L->err))
            return zf_error_prefix(L->err, "%s: node '%s' (%s): output '%s'", L->what, lbl, on->op_type,
                                   on->outputs[k]);
    }
    // Fold when every input is constant, or the op only reads shapes.
    int all_const = 1;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !m->values[n->in[k]].is_const) all_const = 0;
    if (all_const || !strcmp(op->type, "Shape")) {
        if (fold_node(L, ni)) return zf_error_prefix(L->err, "%s: node '%s' (%s)", L->what, lbl, on->op_type);
        free_node(&m->nodes[ni]);
        m->n_nodes--;
    }
    return 0;
}

// Processes the nodes of g (the main graph or an If branch) in dependency order.
static int process_graph(loader *L, const zf_onnx_graph *g, int depth, int take) {
    for (int i = 0; i < g->n_initializers; i++)
        if (add_initializer(L, &g->initializers[i], take)) return L->err->code;
    if (g->n_nodes == 0) return 0;
    char *done = zf_calloc((size_t)g->n_nodes, 1, L->err);
    if (!done) return L->err->code;
    int remaining = g->n_nodes, rc = 0;
    while (remaining > 0 && !rc) {
        int progress = 0;
        for (int i = 0; i < g->n_nodes && !rc; i++) {
            if (done[i] || !node_ready(L, &g->nodes[i])) continue;
            rc = process_node(L, &g->nodes[i], depth, take);
            done[i] = 1;
            remaining--;
            progress = 1;
        }
        if (!progress && !rc) {
            // Either an input nobody produces, or a cycle.
            for (int i = 0; i < g->n_nodes; i++) {
                if (done[i]) continue;
                const zf_onnx_node *n = &g->nodes[i];
                for (int k = 0; k < n->n_inputs; k++) {
                    const char *nm = n->inputs[k];
                    if (!nm[0] || map_get(&L->names, nm) >= 0) continue;
                    int produced = 0;
                    for (int j = 0; j < g->n_nodes && !produced; j++)
                        for (int o = 0; o < g->nodes[j].n_outputs && !produced; o++)
                            produced = !strcmp(g->nodes[j].outputs[o], nm);
                    if (!produced) {
                        rc = zf_fail(L->err, ZF_ERR_INPUT,
                                     "%s: node '%s' (%s): input '%s' is not produced by any node, initializer or "
                                     "graph input", L->what, node_label(n), n->op_type, nm);
                        break;
                    }
                }
                if (rc) break;
            }
            if (!rc) {
                int first = 0;
                while (done[first]) first++;
                rc = zf_fail(L->err, ZF_ERR_INPUT, "%s: the graph has a cycle (node '%s' (%s) depends on itself)",
                             L->what, node_label(&g->nodes[first]), g->nodes[first].op_type);
            }
        }
    }
    free(done);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Fusion: PyTorch 1.13 writes nn.LocalResponseNorm as
//   Div(X, Pow(Add(Mul(R(AveragePool3d(Pad(R(Mul(X, X))), kernel (size,1,1))), alpha), k), beta))
// where R is any chain of Reshape/Unsqueeze/Squeeze/Identity. We replace the Div by LRN(X).

static int producer_of(const zf_model *m, int vi) { return vi >= 0 ? m->values[vi].producer : -1; }

static int is_op(const zf_model *m, int ni, const char *type) {
    return ni >= 0 && m->nodes[ni].op && !strcmp(m->nodes[ni].op->type, type);
}

static int const_scalar(const zf_model *m, int vi, double *out) {
    if (vi < 0) return 0;
    const zf_value *v = &m->values[vi];
    if (!v->is_const || !v->t.data || zf_tensor_numel(&v->t) != 1) return 0;
    *out = v->t.dtype == ZF_F32 ? zf_f32(&v->t)[0] : (double)zf_i64(&v->t)[0];
    return 1;
}

// Of a binary node, which input is a constant scalar (stored in *c); returns the other input or -2.
static int other_than_scalar(const zf_model *m, const zf_node *n, double *c) {
    if (n->n_in != 2) return -2;
    if (const_scalar(m, n->in[1], c)) return n->in[0];
    if (const_scalar(m, n->in[0], c)) return n->in[1];
    return -2;
}

static int skip_reshapes(const zf_model *m, int vi) {
    for (int guard = 0; guard < 16; guard++) {
        int p = producer_of(m, vi);
        if (!(is_op(m, p, "Reshape") || is_op(m, p, "Unsqueeze") || is_op(m, p, "Squeeze") || is_op(m, p, "Identity")))
            return vi;
        vi = m->nodes[p].in[0];
    }
    return vi;
}

static int try_fuse_lrn(loader *L, int di) {
    zf_model *m = L->m;
    zf_node *d = &m->nodes[di];
    if (d->n_in != 2 || d->n_out != 1 || d->out[0] < 0) return 0;
    int x = d->in[0];
    if (x < 0 || m->values[x].t.ndim != 4 || m->values[x].t.dtype != ZF_F32) return 0;
    double beta, k, alpha;
    int pw = producer_of(m, d->in[1]);
    if (!is_op(m, pw, "Pow") || !const_scalar(m, m->nodes[pw].in[1], &beta)) return 0;
    int ad = producer_of(m, m->nodes[pw].in[0]);
    if (!is_op(m, ad, "Add")) return 0;
    int a_in = other_than_scalar(m, &m->nodes[ad], &k);
    int mu = producer_of(m, a_in);
    if (a_in < 0 || !is_op(m, mu, "Mul")) return 0;
    int m_in = other_than_scalar(m, &m->nodes[mu], &alpha);
    if (m_in < 0) return 0;
    int ap = producer_of(m, skip_reshapes(m, m_in));
    if (!is_op(m, ap, "AveragePool") || !L->src[ap]) return 0;
    int64_t ks[8], st[8], pads[16];
    int nk = 0, ns = 0, np = 0;
    if (zf_onnx_attr_ints(ks, &nk, 8, L->src[ap], "kernel_shape", NULL) ||
        zf_onnx_attr_ints(st, &ns, 8, L->src[ap], "strides", NULL) ||
        zf_onnx_attr_ints(pads, &np, 16, L->src[ap], "pads", NULL))
        return 0;
    if (nk != 3 || ks[1] != 1 || ks[2] != 1 || ks[0] < 1) return 0;
    for (int i = 0; i < ns; i++) if (st[i] != 1) return 0;
    for (int i = 0; i < np; i++) if (pads[i] != 0) return 0;
    int64_t size = ks[0];
    // Pads on the channel axis (axis 2 of the 5-D tensor), possibly split over several Pad nodes.
    int64_t before = 0, after = 0;
    int vi = skip_reshapes(m, m->nodes[ap].in[0]);
    int pads_seen = 0;
    while (is_op(m, producer_of(m, vi), "Pad")) {
        const zf_node *p = &m->nodes[producer_of(m, vi)];
        const zf_value *in = &m->values[p->in[0]];
        int r = in->t.ndim;
        if (p->n_in < 2 || p->in[1] < 0) return 0;   // opset < 11 attribute form: not what torch 1.13 writes
        const zf_value *pv = &m->values[p->in[1]];
        if (!pv->is_const || pv->t.dtype != ZF_I64 || zf_tensor_numel(&pv->t) != 2 * r) return 0;
        double cval = 0;
        if (p->n_in > 2 && p->in[2] >= 0 && (!const_scalar(m, p->in[2], &cval) || cval != 0)) return 0;
        if (p->n_in > 3 && p->in[3] >= 0) return 0;  // axes input: not expected
        const int64_t *pp = zf_i64(&pv->t);
        for (int a = 0; a < r; a++) {
            if (a == 2) { before += pp[a]; after += pp[a + r]; }
            else if (pp[a] || pp[a + r]) return 0;
        }
        if (r != 5) return 0;
        vi = skip_reshapes(m, p->in[0]);
        pads_seen++;
    }
    if (!pads_seen || before != size / 2 || after != (size - 1) / 2) return 0;
    int sq = producer_of(m, vi);
    if (!is_op(m, sq, "Mul") || m->nodes[sq].in[0] != x || m->nodes[sq].in[1] != x) return 0;
    // Build the LRN node in place of the Div.
    const zf_op *lrn = zf_op_find("LRN");
    if (!lrn) return 0;
    zf_onnx_attr attrs[4] = {
        {.name = "size", .type = ZF_ATTR_INT, .i = size},
        {.name = "alpha", .type = ZF_ATTR_FLOAT, .f = (float)alpha},
        {.name = "beta", .type = ZF_ATTR_FLOAT, .f = (float)beta},
        {.name = "bias", .type = ZF_ATTR_FLOAT, .f = (float)k},
    };
    char *ins[1] = {m->values[x].name};
    char *outs[1] = {m->values[d->out[0]].name};
    zf_onnx_node fake = {.name = d->name, .op_type = "LRN", .domain = "", .n_inputs = 1, .inputs = ins,
                         .n_outputs = 1, .outputs = outs, .n_attrs = 4, .attrs = attrs};
    void *params = lrn->params_size ? zf_calloc(1, lrn->params_size, L->err) : NULL;
    if (lrn->params_size && !params) return L->err->code;
    if (lrn->parse && lrn->parse(params, &fake, m->opset, L->err)) { free(params); return L->err->code; }
    free(d->params);
    d->params = params;
    d->op = lrn;
    d->n_in = 1;
    L->src[di] = NULL;
    if (lrn->shape(d, m->values, L->err)) return L->err->code;
    return add_log(m, L->err, "fused LRN (size %lld, alpha %g, beta %g, bias %g) from PyTorch's decomposition into "
                   "node '%s'", (long long)size, alpha, beta, k, d->name) ? L->err->code : 0;
}

// Removes nodes none of whose outputs are needed by a live node or a graph output.
static int remove_dead(loader *L) {
    zf_model *m = L->m;
    char *live = zf_calloc((size_t)m->n_values + 1, 1, L->err);
    if (!live) return L->err->code;
    for (int i = 0; i < m->n_outputs; i++) live[m->outputs[i]] = 1;
    int removed = 0;
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        zf_node *n = &m->nodes[i];
        int needed = 0;
        for (int o = 0; o < n->n_out; o++) if (n->out[o] >= 0 && live[n->out[o]]) needed = 1;
        if (!needed) { n->op = NULL; removed++; continue; }
        for (int k = 0; k < n->n_in; k++) if (n->in[k] >= 0) live[n->in[k]] = 1;
    }
    free(live);
    if (!removed) return 0;
    int w = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        if (!m->nodes[i].op) {
            for (int o = 0; o < m->nodes[i].n_out; o++)
                if (m->nodes[i].out[o] >= 0) m->values[m->nodes[i].out[o]].producer = -2;   // dead
            free_node(&m->nodes[i]);
            continue;
        }
        m->nodes[w] = m->nodes[i];
        L->src[w] = L->src[i];
        for (int o = 0; o < m->nodes[w].n_out; o++)
            if (m->nodes[w].out[o] >= 0) m->values[m->nodes[w].out[o]].producer = w;
        w++;
    }
    m->n_nodes = w;
    return add_log(m, L->err, "removed %d node%s whose outputs nothing uses", removed, removed == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------------------------

zf_load_opts zf_load_defaults(void) {
    zf_load_opts o = {0};
    o.batch = 1;
    o.threads = 0;
    o.fuse = 1;
    return o;
}

static int setup_inputs(loader *L, const zf_onnx_graph *g) {
    zf_model *m = L->m;
    const zf_load_opts *o = L->opts;
    m->inputs = zf_calloc((size_t)g->n_inputs + 1, sizeof *m->inputs, L->err);
    if (!m->inputs) return L->err->code;
    for (int i = 0; i < g->n_inputs; i++) {
        const zf_onnx_value_info *vi = &g->inputs[i];
        int is_init = 0;
        for (int j = 0; j < g->n_initializers && !is_init; j++) is_init = !strcmp(g->initializers[j].name, vi->name);
        if (is_init) continue;
        int k = m->n_inputs, idx;
        if (new_value(L, vi->name, &idx)) return L->err->code;
        zf_value *v = &m->values[idx];
        v->is_input = 1;
        if (k < o->n_input_shapes) {
            const zf_tensor *s = &o->input_shapes[k];
            if (s->dtype == ZF_I64 && s->data) {
                // Shape parameters (Reshape's shape, Squeeze's axes fed as inputs): known at plan time.
                if (zf_tensor_copy(&v->t, s, L->err)) return L->err->code;
                v->is_const = 1;
            } else {
                v->t.dtype = s->dtype;
                v->t.ndim = s->ndim;
                memcpy(v->t.dims, s->dims, sizeof s->dims);
            }
        } else {
            if (vi->ndim < 0)
                return zf_fail(L->err, ZF_ERR_INPUT, "%s: graph input '%s' has no shape", L->what, vi->name);
            v->t.ndim = vi->ndim;
            v->t.dtype = (vi->elem_type == 1 || vi->elem_type == 10 || vi->elem_type == 11) ? ZF_F32 : ZF_I64;
            for (int d = 0; d < vi->ndim; d++) {
                int64_t dim = vi->dims[d];
                if (d == 0 && (dim <= 0 || o->batch != 1)) dim = o->batch > 0 ? o->batch : 1;
                if (dim <= 0)
                    return zf_fail(L->err, ZF_ERR_INPUT, "%s: graph input '%s' has an unknown dimension %d (%s)",
                                   L->what, vi->name, d, vi->dim_params[d] ? vi->dim_params[d] : "no value");
                v->t.dims[d] = dim;
            }
        }
        int64_t cnt;
        if (zf_shape_numel(&cnt, v->t.ndim, v->t.dims, L->err))
            return zf_error_prefix(L->err, "%s: graph input '%s'", L->what, vi->name);
        m->inputs[m->n_inputs++] = idx;
    }
    return 0;
}

static void compute_rf(zf_model *m) {
    for (int i = 0; i < m->n_values; i++) memset(&m->values[i].rf, 0, sizeof m->values[i].rf);
    for (int i = 0; i < m->n_inputs; i++) {
        zf_value *v = &m->values[m->inputs[i]];
        if (v->t.ndim != 4) continue;
        v->rf.valid = 1;
        for (int a = 0; a < 2; a++) { v->rf.size[a] = 1; v->rf.jump[a] = 1; v->rf.offset[a] = 0; }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        zf_node *n = &m->nodes[i];
        zf_rf base = {0};
        if (n->n_in > 0 && n->in[0] >= 0) base = m->values[n->in[0]].rf;
        for (int o = 0; o < n->n_out; o++) if (n->out[o] >= 0) m->values[n->out[o]].rf = base;
        if (n->op->rf) n->op->rf(n, m->values);
    }
}

static int allocate(loader *L) {
    zf_model *m = L->m;
    size_t total = 0, scratch = 0;
#define ALIGN64(x) (((x) + 63) & ~(size_t)63)
    for (int i = 0; i < m->n_values; i++) {
        zf_value *v = &m->values[i];
        if (v->is_const || v->producer == -2 || (v->producer < 0 && !v->is_input)) continue;
        total += ALIGN64((size_t)zf_tensor_numel(&v->t) * zf_dtype_size(v->t.dtype));
    }
    for (int i = 0; i < m->n_nodes; i++) {
        zf_node *n = &m->nodes[i];
        if (n->op->has_switches && n->out[0] >= 0)
            total += ALIGN64((size_t)zf_tensor_numel(&m->values[n->out[0]].t) * sizeof(int32_t));
        if (n->scratch_bytes > scratch) scratch = n->scratch_bytes;
    }
    m->arena_bytes = total;
    m->scratch_bytes = ALIGN64(scratch);
    if (total && !(m->arena = aligned_alloc(64, total)))
        return zf_fail(L->err, ZF_ERR_RUNTIME, "%s: out of memory allocating %zu MB of activations", L->what,
                       total >> 20);
    if (total) memset(m->arena, 0, total);
    if (m->scratch_bytes && !(m->scratch = aligned_alloc(64, m->scratch_bytes)))
        return zf_fail(L->err, ZF_ERR_RUNTIME, "%s: out of memory allocating %zu MB of scratch", L->what,
                       m->scratch_bytes >> 20);
    char *p = m->arena;
    for (int i = 0; i < m->n_values; i++) {
        zf_value *v = &m->values[i];
        if (v->is_const || v->producer == -2 || (v->producer < 0 && !v->is_input)) continue;
        v->t.data = p;
        v->t.owns = 0;
        p += ALIGN64((size_t)zf_tensor_numel(&v->t) * zf_dtype_size(v->t.dtype));
    }
    for (int i = 0; i < m->n_nodes; i++) {
        zf_node *n = &m->nodes[i];
        if (n->op->has_switches && n->out[0] >= 0) {
            n->switches = (int32_t *)p;
            p += ALIGN64((size_t)zf_tensor_numel(&m->values[n->out[0]].t) * sizeof(int32_t));
        }
    }
    m->weights_gen = 1;
    for (int i = 0; i < m->n_nodes; i++) {   // node caches: allocated, not touched (no RSS until used)
        zf_node *n = &m->nodes[i];
        n->cache_bytes = n->op->cache_bytes ? ALIGN64(n->op->cache_bytes(n, m->values)) : 0;
        if (n->cache_bytes && !(n->cache = aligned_alloc(64, n->cache_bytes)))
            return zf_fail(L->err, ZF_ERR_RUNTIME, "%s: out of memory allocating %zu MB for node '%s'", L->what,
                           n->cache_bytes >> 20, n->name);
    }
#undef ALIGN64
    return 0;
}

static int build(zf_model *m, zf_onnx_model *om, const char *what, const zf_load_opts *opts, int take,
                 zf_error *err) {
    zf_error dummy;
    if (!err) err = &dummy;
    zf_load_opts defaults = zf_load_defaults();
    if (!opts) opts = &defaults;
    memset(m, 0, sizeof *m);
    loader L = {.m = m, .what = what, .opts = opts, .err = err};
    int rc = 0;
    if (!(m->path = zf_strdup(what, err))) return err->code;
    m->opset = om->opset ? om->opset : 13;
    if (m->opset < ZF_MIN_OPSET || m->opset > ZF_MAX_OPSET) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: opset %lld is not supported (supported: %d to %d)", what,
                     (long long)m->opset, ZF_MIN_OPSET, ZF_MAX_OPSET);
        goto done;
    }
    if (opts->batch < 1 || opts->batch > 65536) {
        rc = zf_fail(err, ZF_ERR_INPUT, "batch %lld is outside 1..65536", (long long)opts->batch);
        goto done;
    }
    if (!om->opset && (rc = add_log(m, err, "no opset import for the default domain: assuming 13"))) goto done;
    // Metadata.
    if (om->n_metadata) {
        if (!(m->metadata = zf_calloc((size_t)om->n_metadata, sizeof *m->metadata, err))) { rc = err->code; goto done; }
        for (int i = 0; i < om->n_metadata; i++) {
            if (!(m->metadata[i].key = zf_strdup(om->metadata[i].key, err)) ||
                !(m->metadata[i].value = zf_strdup(om->metadata[i].value, err))) { rc = err->code; goto done; }
            m->n_metadata++;
        }
    }
    const zf_onnx_graph *g = &om->graph;
    if ((rc = setup_inputs(&L, g))) goto done;
    if ((rc = process_graph(&L, g, 0, take))) goto done;
    if (L.n_folded && (rc = add_log(m, err, "folded %d constant node%s at load time (%s)", L.n_folded,
                                    L.n_folded == 1 ? "" : "s", L.folded_ops)))
        goto done;
    // Graph outputs.
    if (g->n_outputs < 1) { rc = zf_fail(err, ZF_ERR_INPUT, "%s: the graph has no outputs", what); goto done; }
    if (!(m->outputs = zf_calloc((size_t)g->n_outputs, sizeof *m->outputs, err))) { rc = err->code; goto done; }
    for (int i = 0; i < g->n_outputs; i++) {
        int vi = map_get(&L.names, g->outputs[i].name);
        if (vi < 0) {
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: graph output '%s' is not computed by any node", what,
                         g->outputs[i].name);
            goto done;
        }
        m->outputs[m->n_outputs++] = vi;
    }
    if (opts->fuse)
        for (int i = 0; i < m->n_nodes; i++)
            if (is_op(m, i, "Div") && (rc = try_fuse_lrn(&L, i))) goto done;
    if ((rc = remove_dead(&L))) goto done;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0 && m->values[m->nodes[i].in[k]].producer == -2) {
                rc = zf_fail(err, ZF_ERR_RUNTIME, "%s: internal error: node '%s' reads a removed tensor", what,
                             m->nodes[i].name);
                goto done;
            }
    compute_rf(m);
    if ((rc = allocate(&L))) goto done;
    // The listing: inputs, then node outputs in execution order.
    if (!(m->listed = zf_calloc((size_t)m->n_values + 1, sizeof *m->listed, err))) { rc = err->code; goto done; }
    for (int i = 0; i < m->n_inputs; i++) m->listed[m->n_listed++] = m->inputs[i];
    for (int i = 0; i < m->n_nodes; i++)
        for (int o = 0; o < m->nodes[i].n_out; o++)
            if (m->nodes[i].out[o] >= 0) m->listed[m->n_listed++] = m->nodes[i].out[o];
    m->threads = opts->threads > 0 ? opts->threads : zf_cpu_count();
    if (m->threads > 1 && !(m->pool = zf_pool_create(m->threads))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "cannot start %d threads", m->threads);
        goto done;
    }
    // GEMMs are split over the pool (zf_sgemm): OpenBLAS itself runs on the calling thread.
    zf_blas_set_threads(1);
done:
    // Keep the names map only for the load; zf_model_find searches linearly (not a hot path), but
    // If-output aliases live only in the map, so record them as extra names is not needed after load.
    map_free(&L.names);
    free(L.src);
    if (rc) zf_model_free(m);
    return rc;
}

int zf_model_from_onnx(zf_model *m, const zf_onnx_model *om, const char *what, const zf_load_opts *opts,
                       zf_error *err) {
    return build(m, (zf_onnx_model *)om, what ? what : "model", opts, 0, err);
}

int zf_model_load(zf_model *m, const char *path, const zf_load_opts *opts, zf_error *err) {
    zf_onnx_model om = {0};
    memset(m, 0, sizeof *m);
    int rc = zf_onnx_read(&om, path, err);
    if (!rc) rc = build(m, &om, path, opts, 1, err);
    zf_onnx_free(&om);
    return rc;
}

int zf_model_forward(zf_model *m, int n_inputs, const zf_tensor *inputs, zf_error *err) {
    return zf_model_forward_to(m, n_inputs, inputs, -1, err);
}

int zf_model_forward_to(zf_model *m, int n_inputs, const zf_tensor *inputs, int value, zf_error *err) {
    if (n_inputs != m->n_inputs)
        return zf_fail(err, ZF_ERR_INPUT, "%s: the model has %d input%s, got %d", m->path, m->n_inputs,
                       m->n_inputs == 1 ? "" : "s", n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        zf_value *v = &m->values[m->inputs[i]];
        if (!zf_tensor_same_shape(&v->t, &inputs[i])) {
            char a[128], b[128];
            return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' expects %s %s, got %s %s", m->path, v->name,
                           v->t.dtype == ZF_F32 ? "float" : "int64", zf_shape_str(a, sizeof a, v->t.ndim, v->t.dims),
                           inputs[i].dtype == ZF_F32 ? "float" : "int64",
                           zf_shape_str(b, sizeof b, inputs[i].ndim, inputs[i].dims));
        }
        if (v->is_const) {
            if (zf_tensor_numel(&v->t) && memcmp(v->t.data, inputs[i].data, (size_t)zf_tensor_numel(&v->t) * zf_dtype_size(v->t.dtype)))
                return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' is a shape parameter fixed when the model was "
                               "loaded; load it again to change it", m->path, v->name);
            continue;
        }
        size_t bytes = (size_t)zf_tensor_numel(&v->t) * zf_dtype_size(v->t.dtype);
        if (bytes && v->t.data != inputs[i].data) memcpy(v->t.data, inputs[i].data, bytes);
    }
    zf_exec ex = {.threads = m->threads, .pool = m->pool, .scratch = m->scratch, .weights_gen = m->weights_gen};
    // Nodes run in execution order: value's producer is the last one it needs.
    const int last = value >= 0 && value < m->n_values && m->values[value].producer >= 0 ? m->values[value].producer
                                                                                        : m->n_nodes - 1;
    for (int i = 0; i <= last; i++) {
        zf_node *n = &m->nodes[i];
        struct timespec t0, t1;
        if (m->profile) clock_gettime(CLOCK_MONOTONIC, &t0);
        if (n->op->forward(n, m->values, &ex, err))
            return zf_error_prefix(err, "%s: node '%s' (%s)", m->path, n->name, n->op->type);
        if (m->profile) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            m->profile[i] += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        }
    }
    return 0;
}

int zf_model_find(const zf_model *m, const char *name) {
    if (!name || !name[0]) return -1;
    for (int i = 0; i < m->n_values; i++)
        if (!strcmp(m->values[i].name, name) && (m->values[i].t.data || m->values[i].is_const)) return i;
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].name, name) && m->nodes[i].n_out > 0) return m->nodes[i].out[0];
    const char *p = name[0] == '#' ? name + 1 : name;
    if (*p) {
        char *end;
        long k = strtol(p, &end, 10);
        if (!*end && k >= 0 && k < m->n_listed) return m->listed[k];
    }
    return -1;
}

void zf_model_weights_changed(zf_model *m) { m->weights_gen++; }

const char *zf_model_meta(const zf_model *m, const char *key) {
    for (int i = 0; i < m->n_metadata; i++)
        if (!strcmp(m->metadata[i].key, key)) return m->metadata[i].value;
    return NULL;
}

void zf_model_free(zf_model *m) {
    if (!m) return;
    if (m->pool) zf_pool_destroy(m->pool);
    for (int i = 0; i < m->n_nodes; i++) free_node(&m->nodes[i]);
    free(m->nodes);
    for (int i = 0; i < m->n_values; i++) {
        free(m->values[i].name);
        zf_tensor_free(&m->values[i].t);
    }
    free(m->values);
    for (int i = 0; i < m->n_metadata; i++) { free(m->metadata[i].key); free(m->metadata[i].value); }
    free(m->metadata);
    for (int i = 0; i < m->n_log; i++) free(m->log[i]);
    free(m->log);
    free(m->inputs); free(m->outputs); free(m->listed);
    free(m->arena); free(m->scratch); free(m->path);
    memset(m, 0, sizeof *m);
}
