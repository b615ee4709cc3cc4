// build.c: the zf_onnx_* builders, attribute lookups and freeing (see onnx.h).
//
// Ownership: every string and array in the structs is malloc'ed and owned by its parent; the graph
// arrays grow by doubling (their cap_* fields), node-level arrays (inputs, attributes) by realloc.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

// ---- small shared helpers ---------------------------------------------------------------------

int zf_onnx__grow(void **arr, int *cap, int n, size_t size, zf_error *err) {
    if (n < *cap && *arr) return 0;
    if (n >= INT_MAX / 2) return zf_fail(err, ZF_ERR_RUNTIME, "too many elements (%d)", n);
    int old = *arr ? *cap : 0;
    int nc = old > 0 ? old : 4;
    while (nc <= n) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * size);
    if (!p) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory growing an array to %d elements", nc);
    memset((char *)p + (size_t)old * size, 0, (size_t)(nc - old) * size);
    *arr = p;
    *cap = nc;
    return 0;
}

const char *zf_onnx__safe(char *buf, size_t n, const char *s) {
    size_t k = 0;
    if (!s) s = "";
    for (; *s && k + 1 < n && k < 64; s++) {
        unsigned char c = (unsigned char)*s;
        buf[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (*s && k + 4 < n) { memcpy(buf + k, "...", 3); k += 3; }
    buf[k] = 0;
    return buf;
}

// ---- freeing ------------------------------------------------------------------------------------

void zf_onnx__attr_clear(zf_onnx_attr *a) {
    free(a->name);
    free(a->s);
    zf_tensor_free(&a->t);
    if (a->g) {
        zf_onnx__graph_clear(a->g);
        free(a->g);
    }
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    memset(a, 0, sizeof *a);
}

void zf_onnx__node_clear(zf_onnx_node *n) {
    free(n->name);
    free(n->op_type);
    free(n->domain);
    for (int i = 0; i < n->n_inputs; i++) free(n->inputs[i]);
    free(n->inputs);
    for (int i = 0; i < n->n_outputs; i++) free(n->outputs[i]);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++) zf_onnx__attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void zf_onnx__value_info_clear(zf_onnx_value_info *v) {
    free(v->name);
    for (int i = 0; i < ZF_MAX_DIMS; i++) free(v->dim_params[i]);
    memset(v, 0, sizeof *v);
}

void zf_onnx__graph_clear(zf_onnx_graph *g) {
    free(g->name);
    for (int i = 0; i < g->n_nodes; i++) zf_onnx__node_clear(&g->nodes[i]);
    free(g->nodes);
    for (int i = 0; i < g->n_initializers; i++) {
        free(g->initializers[i].name);
        zf_tensor_free(&g->initializers[i].t);
    }
    free(g->initializers);
    for (int i = 0; i < g->n_inputs; i++) zf_onnx__value_info_clear(&g->inputs[i]);
    free(g->inputs);
    for (int i = 0; i < g->n_outputs; i++) zf_onnx__value_info_clear(&g->outputs[i]);
    free(g->outputs);
    for (int i = 0; i < g->n_value_info; i++) zf_onnx__value_info_clear(&g->value_info[i]);
    free(g->value_info);
    memset(g, 0, sizeof *g);
}

void zf_onnx_graph_free(zf_onnx_graph *g) {
    if (g) zf_onnx__graph_clear(g);
}

void zf_onnx_free(zf_onnx_model *m) {
    if (!m) return;
    free(m->producer_name);
    free(m->producer_version);
    free(m->doc_string);
    for (int i = 0; i < m->n_metadata; i++) {
        free(m->metadata[i].key);
        free(m->metadata[i].value);
    }
    free(m->metadata);
    for (int i = 0; i < m->n_opsets; i++) free(m->opsets[i].domain);
    free(m->opsets);
    zf_onnx__graph_clear(&m->graph);
    memset(m, 0, sizeof *m);
}

// ---- lookups ------------------------------------------------------------------------------------

static const char *attr_type_name(zf_attr_type t) {
    static const char *names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

const zf_onnx_attr *zf_onnx_attr_find(const zf_onnx_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

// Messages name the attribute only: the graph loader prefixes "file: node 'x' (Op): " (see op.h).
static int wrong_type(const zf_onnx_attr *a, zf_attr_type want, zf_error *err) {
    char safe[ZF_SAFE_NAME_SIZE];
    return zf_fail(err, ZF_ERR_INPUT, "attribute '%s' has type %s, expected %s", zf_onnx__safe(safe, sizeof safe, a->name),
                   attr_type_name(a->type), attr_type_name(want));
}

int zf_onnx_attr_int(int64_t *out, const zf_onnx_node *n, const char *name, int64_t dflt, zf_error *err) {
    const zf_onnx_attr *a = zf_onnx_attr_find(n, name);
    if (!a) { *out = dflt; return 0; }
    if (a->type != ZF_ATTR_INT) return wrong_type(a, ZF_ATTR_INT, err);
    *out = a->i;
    return 0;
}

int zf_onnx_attr_float(float *out, const zf_onnx_node *n, const char *name, float dflt, zf_error *err) {
    const zf_onnx_attr *a = zf_onnx_attr_find(n, name);
    if (!a) { *out = dflt; return 0; }
    if (a->type != ZF_ATTR_FLOAT) return wrong_type(a, ZF_ATTR_FLOAT, err);
    *out = a->f;
    return 0;
}

int zf_onnx_attr_ints(int64_t *out, int *n_out, int max, const zf_onnx_node *n, const char *name, zf_error *err) {
    const zf_onnx_attr *a = zf_onnx_attr_find(n, name);
    *n_out = 0;
    if (!a) return 0;
    if (a->type != ZF_ATTR_INTS) return wrong_type(a, ZF_ATTR_INTS, err);
    if (a->n > max) {
        char safe[ZF_SAFE_NAME_SIZE];
        return zf_fail(err, ZF_ERR_INPUT, "attribute '%s' has %d values, at most %d supported",
                       zf_onnx__safe(safe, sizeof safe, a->name), a->n, max);
    }
    if (a->n) memcpy(out, a->ints, (size_t)a->n * sizeof *out);
    *n_out = a->n;
    return 0;
}

int zf_onnx_attr_string(const char **out, const zf_onnx_node *n, const char *name, const char *dflt, zf_error *err) {
    const zf_onnx_attr *a = zf_onnx_attr_find(n, name);
    if (!a) { *out = dflt; return 0; }
    if (a->type != ZF_ATTR_STRING) return wrong_type(a, ZF_ATTR_STRING, err);
    *out = a->s ? a->s : "";
    return 0;
}

const char *zf_onnx_meta_get(const zf_onnx_model *m, const char *key) {
    for (int i = 0; i < m->n_metadata; i++)
        if (m->metadata[i].key && !strcmp(m->metadata[i].key, key)) return m->metadata[i].value;
    return NULL;
}

// ---- building ----------------------------------------------------------------------------------

static char *dup_or_empty(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int zf_onnx_set_string_field(char **field, const char *v) {
    char *p = dup_or_empty(v);
    if (!p) return ZF_ERR_RUNTIME;
    free(*field);
    *field = p;
    return 0;
}

static int copy_names(char ***out, int n, const char *const *names) {
    *out = NULL;
    if (n <= 0) return 0;
    char **a = calloc((size_t)n, sizeof *a);
    if (!a) return 1;
    for (int i = 0; i < n; i++)
        if (!(a[i] = dup_or_empty(names ? names[i] : ""))) {
            for (int j = 0; j < i; j++) free(a[j]);
            free(a);
            return 1;
        }
    *out = a;
    return 0;
}

zf_onnx_node *zf_onnx_add_node(zf_onnx_graph *g, const char *op_type, const char *name, int n_inputs,
                               const char *const *inputs, int n_outputs, const char *const *outputs) {
    if (n_inputs < 0 || n_outputs < 0) return NULL;
    if (zf_onnx__grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes, NULL)) return NULL;
    zf_onnx_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    int ok = (n->op_type = dup_or_empty(op_type)) && (n->name = dup_or_empty(name)) && (n->domain = dup_or_empty("")) &&
             !copy_names(&n->inputs, n_inputs, inputs);
    if (ok) n->n_inputs = n_inputs;   // copy_names leaves nothing behind on failure
    ok = ok && !copy_names(&n->outputs, n_outputs, outputs);
    if (!ok) {
        zf_onnx__node_clear(n);
        return NULL;
    }
    n->n_outputs = n_outputs;
    g->n_nodes++;
    return n;
}

// The attribute called name, emptied for a new value (created if absent). NULL on out-of-memory.
static zf_onnx_attr *attr_slot(zf_onnx_node *n, const char *name, zf_attr_type type) {
    zf_onnx_attr *a = (zf_onnx_attr *)zf_onnx_attr_find(n, name);
    char *nm = dup_or_empty(name);
    if (!nm) return NULL;
    if (!a) {
        if (n->n_attrs >= INT_MAX / 2) { free(nm); return NULL; }
        zf_onnx_attr *p = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *p);
        if (!p) { free(nm); return NULL; }
        n->attrs = p;
        a = &p[n->n_attrs++];
        memset(a, 0, sizeof *a);
    } else {
        zf_onnx__attr_clear(a);
    }
    a->name = nm;
    a->type = type;
    return a;
}

int zf_onnx_set_int(zf_onnx_node *n, const char *name, int64_t v) {
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_INT);
    if (!a) return ZF_ERR_RUNTIME;
    a->i = v;
    return 0;
}

int zf_onnx_set_float(zf_onnx_node *n, const char *name, float v) {
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_FLOAT);
    if (!a) return ZF_ERR_RUNTIME;
    a->f = v;
    return 0;
}

int zf_onnx_set_ints(zf_onnx_node *n, const char *name, int count, const int64_t *v) {
    if (count < 0) return ZF_ERR_RUNTIME;
    int64_t *c = malloc((size_t)(count ? count : 1) * sizeof *c);
    if (!c) return ZF_ERR_RUNTIME;
    if (count) memcpy(c, v, (size_t)count * sizeof *c);
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_INTS);
    if (!a) { free(c); return ZF_ERR_RUNTIME; }
    a->ints = c;
    a->n = count;
    return 0;
}

int zf_onnx_set_floats(zf_onnx_node *n, const char *name, int count, const float *v) {
    if (count < 0) return ZF_ERR_RUNTIME;
    float *c = malloc((size_t)(count ? count : 1) * sizeof *c);
    if (!c) return ZF_ERR_RUNTIME;
    if (count) memcpy(c, v, (size_t)count * sizeof *c);
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_FLOATS);
    if (!a) { free(c); return ZF_ERR_RUNTIME; }
    a->floats = c;
    a->n = count;
    return 0;
}

int zf_onnx_set_strings(zf_onnx_node *n, const char *name, int count, const char *const *v) {
    char **c;
    if (count < 0 || copy_names(&c, count, v)) return ZF_ERR_RUNTIME;
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_STRINGS);
    if (!a) {
        for (int i = 0; i < count; i++) free(c[i]);
        free(c);
        return ZF_ERR_RUNTIME;
    }
    a->strings = c;
    a->n = count;
    return 0;
}

int zf_onnx_set_string(zf_onnx_node *n, const char *name, const char *v) {
    char *c = dup_or_empty(v);
    if (!c) return ZF_ERR_RUNTIME;
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_STRING);
    if (!a) { free(c); return ZF_ERR_RUNTIME; }
    a->s = c;
    a->s_len = strlen(c);
    return 0;
}

int zf_onnx_set_tensor(zf_onnx_node *n, const char *name, const zf_tensor *t) {
    zf_tensor c = {0};
    if (zf_tensor_copy(&c, t, NULL)) return ZF_ERR_RUNTIME;
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_TENSOR);
    if (!a) { zf_tensor_free(&c); return ZF_ERR_RUNTIME; }
    a->t = c;
    return 0;
}

zf_onnx_graph *zf_onnx_set_graph(zf_onnx_node *n, const char *name) {
    zf_onnx_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    if (!(g->name = dup_or_empty(name))) { free(g); return NULL; }
    zf_onnx_attr *a = attr_slot(n, name, ZF_ATTR_GRAPH);
    if (!a) { free(g->name); free(g); return NULL; }
    a->g = g;
    return g;
}

int zf_onnx_add_initializer(zf_onnx_graph *g, const char *name, zf_tensor *t) {
    if (zf_onnx__grow((void **)&g->initializers, &g->cap_initializers, g->n_initializers, sizeof *g->initializers, NULL))
        return ZF_ERR_RUNTIME;
    zf_onnx_initializer *in = &g->initializers[g->n_initializers];
    memset(in, 0, sizeof *in);
    if (!(in->name = dup_or_empty(name))) return ZF_ERR_RUNTIME;
    if (t->owns) {
        in->t = *t;
        t->data = NULL;
        t->owns = 0;
    } else if (zf_tensor_copy(&in->t, t, NULL)) {   // borrowed storage: the model needs its own
        free(in->name);
        in->name = NULL;
        return ZF_ERR_RUNTIME;
    }
    g->n_initializers++;
    return 0;
}

static int add_vi(zf_onnx_value_info **arr, int *n, int *cap, const char *name, int elem_type, int ndim,
                  const int64_t *dims) {
    if (ndim > ZF_MAX_DIMS || (ndim > 0 && !dims)) return ZF_ERR_RUNTIME;
    if (zf_onnx__grow((void **)arr, cap, *n, sizeof **arr, NULL)) return ZF_ERR_RUNTIME;
    zf_onnx_value_info *v = &(*arr)[*n];
    memset(v, 0, sizeof *v);
    if (!(v->name = dup_or_empty(name))) return ZF_ERR_RUNTIME;
    v->elem_type = elem_type;
    v->ndim = ndim < 0 ? -1 : ndim;
    for (int i = 0; i < ndim; i++) v->dims[i] = dims[i] < 0 ? -1 : dims[i];
    (*n)++;
    return 0;
}

int zf_onnx_add_input(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims) {
    return add_vi(&g->inputs, &g->n_inputs, &g->cap_inputs, name, elem_type, ndim, dims);
}

int zf_onnx_add_output(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims) {
    return add_vi(&g->outputs, &g->n_outputs, &g->cap_outputs, name, elem_type, ndim, dims);
}

int zf_onnx_add_value_info(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims) {
    return add_vi(&g->value_info, &g->n_value_info, &g->cap_value_info, name, elem_type, ndim, dims);
}

int zf_onnx_set_dim_param(zf_onnx_value_info *v, int axis, const char *param) {
    if (axis < 0 || axis >= v->ndim) return ZF_ERR_RUNTIME;
    char *c = NULL;
    if (param && !(c = dup_or_empty(param))) return ZF_ERR_RUNTIME;
    free(v->dim_params[axis]);
    v->dim_params[axis] = c;
    v->dims[axis] = -1;
    return 0;
}

int zf_onnx_meta_set(zf_onnx_model *m, const char *key, const char *value) {
    for (int i = 0; i < m->n_metadata; i++)
        if (m->metadata[i].key && !strcmp(m->metadata[i].key, key)) return zf_onnx_set_string_field(&m->metadata[i].value, value);
    if (zf_onnx__grow((void **)&m->metadata, &m->cap_metadata, m->n_metadata, sizeof *m->metadata, NULL))
        return ZF_ERR_RUNTIME;
    zf_onnx_kv *kv = &m->metadata[m->n_metadata];
    kv->key = dup_or_empty(key);
    kv->value = dup_or_empty(value);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        kv->key = kv->value = NULL;
        return ZF_ERR_RUNTIME;
    }
    m->n_metadata++;
    return 0;
}

int zf_onnx_opset_set(zf_onnx_model *m, const char *domain, int64_t version) {
    if (!domain || !domain[0] || !strcmp(domain, "ai.onnx")) {
        m->opset = version;
        return 0;
    }
    for (int i = 0; i < m->n_opsets; i++)
        if (!strcmp(m->opsets[i].domain, domain)) {
            m->opsets[i].version = version;
            return 0;
        }
    zf_onnx_opset *p = realloc(m->opsets, (size_t)(m->n_opsets + 1) * sizeof *p);
    if (!p) return ZF_ERR_RUNTIME;
    m->opsets = p;
    if (!(p[m->n_opsets].domain = dup_or_empty(domain))) return ZF_ERR_RUNTIME;
    p[m->n_opsets++].version = version;
    return 0;
}

const zf_onnx_value_info *zf_onnx_data_input(const zf_onnx_graph *g, int *count) {
    const zf_onnx_value_info *first = NULL;
    int n = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        int init = 0;
        for (int j = 0; j < g->n_initializers && !init; j++) init = !strcmp(g->initializers[j].name, g->inputs[i].name);
        if (init) continue;
        if (!first) first = &g->inputs[i];
        n++;
    }
    if (count) *count = n;
    return first;
}
