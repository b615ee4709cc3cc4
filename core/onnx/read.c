// read.c: ModelProto -> zf_onnx_model (GraphProto, NodeProto, AttributeProto incl. subgraphs,
// ValueInfoProto, opset imports, metadata). Field numbers follow onnx/onnx.proto.
//
// Every repeated element is a length-delimited message or value that was bounds-checked before it
// is stored, so what the reader allocates stays proportional to the file size. Each nesting level
// adds its context to an error on the way out ("node 'conv1' (Conv): attribute 'pads': ...") and
// the entry point adds the file name.
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

typedef struct rd {
    const char *base_dir;
    zf_error *err;
    int mapped;                // the buffer is a read-only file mapping: decoded ranges can be released
} rd;

// Prepends context to err's message, unless the message is already long: deep nesting must not push
// the actual problem (at the end of the chain) out of the fixed-size buffer.
static int ctx(zf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctx(zf_error *err, const char *fmt, ...) {
    if (!err->code) err->code = ZF_ERR_INPUT;
    if (strlen(err->msg) > 300) return err->code;
    char prefix[200], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}

static int get_string(zf_pb *r, int wire, const char *what, char **out) {
    const uint8_t *d;
    size_t n;
    if (zf_pb_expect(r, wire, ZF_PB_LEN, what) || zf_pb_bytes(r, &d, &n)) return ZF_ERR_INPUT;
    char *s = zf_malloc(n + 1, r->err);
    if (!s) return ZF_ERR_RUNTIME;
    memcpy(s, d, n);
    s[n] = 0;
    free(*out);
    *out = s;
    return 0;
}

static int get_varint(zf_pb *r, int wire, const char *what, uint64_t *v) {
    if (zf_pb_expect(r, wire, ZF_PB_VARINT, what) || zf_pb_varint(r, v)) return ZF_ERR_INPUT;
    return 0;
}

static int get_sub(zf_pb *r, int wire, const char *what, zf_pb *sub) {
    if (zf_pb_expect(r, wire, ZF_PB_LEN, what) || zf_pb_sub(r, sub)) return ZF_ERR_INPUT;
    return 0;
}

static int ensure_str(char **s, zf_error *err) {
    if (!*s && !(*s = zf_strdup("", err))) return ZF_ERR_RUNTIME;
    return 0;
}

// Room for `add` more elements after n (arrays with a local capacity); add is bounded by the bytes of
// the payload that holds them, checked here against int counts.
static int reserve(void **arr, int *cap, int n, size_t add, size_t size, zf_error *err) {
    if (!add) return 0;
    if (add > (size_t)(INT_MAX / 4) || n > INT_MAX / 4) return zf_fail(err, ZF_ERR_INPUT, "too many values (%zu)", add);
    return zf_onnx__grow(arr, cap, n + (int)add - 1, size, err);
}

// ---- ValueInfoProto --------------------------------------------------------------------------------

static int parse_dim(zf_pb r, zf_onnx_value_info *v, int k) {
    uint32_t f;
    int wire, rc;
    uint64_t x;
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f == 1) {   // dim_value (oneof with dim_param)
            if (get_varint(&r, wire, "dim_value", &x)) return 1;
            if ((int64_t)x < 0) return zf_fail(r.err, ZF_ERR_INPUT, "dimension %d is negative (%lld)", k, (long long)(int64_t)x);
            free(v->dim_params[k]);
            v->dim_params[k] = NULL;
            v->dims[k] = (int64_t)x;
        } else if (f == 2) {
            if (get_string(&r, wire, "dim_param", &v->dim_params[k])) return 1;
            v->dims[k] = -1;
        } else if (zf_pb_skip(&r, wire)) {
            return 1;
        }
    }
    return rc < 0;
}

static void drop_shape(zf_onnx_value_info *v) {
    for (int i = 0; i < ZF_MAX_DIMS; i++) {
        free(v->dim_params[i]);
        v->dim_params[i] = NULL;
        v->dims[i] = 0;
    }
    v->ndim = -1;
}

// strict: graph inputs/outputs must have a shape the engine can represent; intermediate value_info
// with a higher rank just loses its (optional) shape.
static int parse_shape(zf_pb r, zf_onnx_value_info *v, int strict) {
    uint32_t f;
    int wire, rc, too_many = 0;
    drop_shape(v);
    v->ndim = 0;
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f != 1) {
            if (zf_pb_skip(&r, wire)) return 1;
            continue;
        }
        zf_pb d;
        if (get_sub(&r, wire, "dim", &d)) return 1;
        if (v->ndim >= ZF_MAX_DIMS) {
            if (strict) return zf_fail(r.err, ZF_ERR_INPUT, "shape has more than %d dimensions", ZF_MAX_DIMS);
            too_many = 1;
            continue;
        }
        int k = v->ndim++;
        v->dims[k] = -1;
        if (parse_dim(d, v, k)) return 1;
    }
    if (rc < 0) return 1;
    if (too_many) drop_shape(v);
    return 0;
}

static int parse_type(zf_pb r, zf_onnx_value_info *v, int strict) {
    uint32_t f;
    int wire, rc;
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f != 1) {   // sequence, map, optional, sparse types: left as elem_type 0, no shape
            if (zf_pb_skip(&r, wire)) return 1;
            continue;
        }
        zf_pb tt;
        if (get_sub(&r, wire, "tensor_type", &tt)) return 1;
        uint32_t g;
        int w2, rc2;
        while ((rc2 = zf_pb_next(&tt, &g, &w2)) > 0) {
            if (g == 1) {
                uint64_t x;
                if (get_varint(&tt, w2, "elem_type", &x)) return 1;
                v->elem_type = (int)(int32_t)x;
            } else if (g == 2) {
                zf_pb s;
                if (get_sub(&tt, w2, "shape", &s) || parse_shape(s, v, strict)) return 1;
            } else if (zf_pb_skip(&tt, w2)) {
                return 1;
            }
        }
        if (rc2 < 0) return 1;
    }
    return rc < 0;
}

static int parse_value_info(zf_pb r, zf_onnx_value_info *v, int strict) {
    uint32_t f;
    int wire, rc;
    v->ndim = -1;
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f == 1) {
            if (get_string(&r, wire, "name", &v->name)) return 1;
        } else if (f == 2) {
            zf_pb t;
            if (get_sub(&r, wire, "type", &t) || parse_type(t, v, strict)) return 1;
        } else if (zf_pb_skip(&r, wire)) {
            return 1;
        }
    }
    if (rc < 0) return 1;
    if (!v->name || !v->name[0]) return zf_fail(r.err, ZF_ERR_INPUT, "has no name");
    return 0;
}

// ---- AttributeProto ------------------------------------------------------------------------------

static int parse_graph(zf_pb r, zf_onnx_graph *g, int depth, rd *c);

static const char *attr_type_str(int64_t t) {
    static const char *names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
                                  "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO",
                                  "TYPE_PROTOS"};
    return t >= 0 && t < (int64_t)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

typedef struct attr_lists {
    float *floats; int nf, capf;
    int64_t *ints; int ni, capi;
    char **strs; int ns, caps;
} attr_lists;

static void lists_free(attr_lists *l) {
    free(l->floats);
    free(l->ints);
    for (int i = 0; i < l->ns; i++) free(l->strs[i]);
    free(l->strs);
    memset(l, 0, sizeof *l);
}

static int parse_attr_fields(zf_pb *r, zf_onnx_attr *a, attr_lists *l, int64_t *type, int has[8], int depth, rd *c) {
    uint32_t f;
    int wire, rc;
    uint64_t x;
    uint32_t u;
    while ((rc = zf_pb_next(r, &f, &wire)) > 0) {
        switch (f) {
        case 1:
            if (get_string(r, wire, "name", &a->name)) return 1;
            break;
        case 2:
            if (zf_pb_expect(r, wire, ZF_PB_I32, "f") || zf_pb_fixed32(r, &u)) return 1;
            memcpy(&a->f, &u, 4);
            has[ZF_ATTR_FLOAT] = 1;
            break;
        case 3:
            if (get_varint(r, wire, "i", &x)) return 1;
            a->i = (int64_t)x;
            has[ZF_ATTR_INT] = 1;
            break;
        case 4: {
            const uint8_t *d;
            size_t n;
            if (zf_pb_expect(r, wire, ZF_PB_LEN, "s") || zf_pb_bytes(r, &d, &n)) return 1;
            char *s = zf_malloc(n + 1, r->err);
            if (!s) return 1;
            memcpy(s, d, n);
            s[n] = 0;
            free(a->s);
            a->s = s;
            a->s_len = n;
            has[ZF_ATTR_STRING] = 1;
            break;
        }
        case 5: {
            zf_pb t;
            char *tn = NULL;
            if (get_sub(r, wire, "t", &t)) return 1;
            zf_tensor_free(&a->t);
            int e = zf_onnx__parse_tensor(&a->t, &tn, &t, c->base_dir, r->err);
            free(tn);
            if (e) return ctx(r->err, "tensor");
            has[ZF_ATTR_TENSOR] = 1;
            break;
        }
        case 6: {
            zf_pb gp;
            if (get_sub(r, wire, "g", &gp)) return 1;
            zf_onnx_graph *g = zf_calloc(1, sizeof *g, r->err);
            if (!g) return 1;
            if (parse_graph(gp, g, depth + 1, c)) {
                zf_onnx__graph_clear(g);
                free(g);
                return 1;
            }
            if (a->g) {
                zf_onnx__graph_clear(a->g);
                free(a->g);
            }
            a->g = g;
            has[ZF_ATTR_GRAPH] = 1;
            break;
        }
        case 7:   // floats: packed or one fixed32 per key
            if (wire == ZF_PB_LEN) {
                const uint8_t *d;
                size_t n;
                if (zf_pb_bytes(r, &d, &n)) return 1;
                if (n % 4) return zf_fail(r->err, ZF_ERR_INPUT, "packed floats has %zu bytes, not a multiple of 4", n);
                if (reserve((void **)&l->floats, &l->capf, l->nf, n / 4, sizeof *l->floats, r->err)) return 1;
                for (size_t i = 0; i < n / 4; i++) {
                    uint32_t b = zf_le32(d + 4 * i);
                    memcpy(&l->floats[l->nf++], &b, 4);
                }
            } else {
                if (zf_pb_expect(r, wire, ZF_PB_I32, "floats") || zf_pb_fixed32(r, &u) ||
                    reserve((void **)&l->floats, &l->capf, l->nf, 1, sizeof *l->floats, r->err))
                    return 1;
                memcpy(&l->floats[l->nf++], &u, 4);
            }
            break;
        case 8:   // ints: packed or one varint per key
            if (wire == ZF_PB_LEN) {
                const uint8_t *d;
                size_t n, cnt;
                if (zf_pb_bytes(r, &d, &n) || zf_pb_count_varints(r, d, n, &cnt) ||
                    reserve((void **)&l->ints, &l->capi, l->ni, cnt, sizeof *l->ints, r->err))
                    return 1;
                for (size_t i = 0; i < cnt; i++) l->ints[l->ni++] = (int64_t)zf_pb_read_varint_unchecked(&d);
            } else {
                if (get_varint(r, wire, "ints", &x) ||
                    reserve((void **)&l->ints, &l->capi, l->ni, 1, sizeof *l->ints, r->err))
                    return 1;
                l->ints[l->ni++] = (int64_t)x;
            }
            break;
        case 9:
            if (reserve((void **)&l->strs, &l->caps, l->ns, 1, sizeof *l->strs, r->err)) return 1;
            if (get_string(r, wire, "strings", &l->strs[l->ns])) return 1;
            l->ns++;
            break;
        case 10: case 11: case 22: case 23: case 14: case 15: {
            static const struct { int field; int type; } map[] = {{10, 9}, {11, 10}, {22, 11}, {23, 12}, {14, 13}, {15, 14}};
            int t = 0;
            for (int i = 0; i < 6; i++) if (map[i].field == (int)f) t = map[i].type;
            return zf_fail(r->err, ZF_ERR_INPUT, "holds a %s value, which zfviz does not support", attr_type_str(t));
        }
        case 20:
            if (get_varint(r, wire, "type", &x)) return 1;
            *type = (int64_t)x;
            break;
        default:   // doc_string, ref_attr_name (function bodies only)
            if (zf_pb_skip(r, wire)) return 1;
        }
    }
    return rc < 0;
}

static int parse_attr(zf_pb r, zf_onnx_attr *a, int depth, rd *c) {
    attr_lists l;
    memset(&l, 0, sizeof l);
    int64_t type = -1;
    int has[8] = {0};
    if (parse_attr_fields(&r, a, &l, &type, has, depth, c)) {
        lists_free(&l);
        return 1;
    }
    has[ZF_ATTR_FLOATS] = l.nf > 0;
    has[ZF_ATTR_INTS] = l.ni > 0;
    if (type < 0) {   // IR version 1 files have no type: infer it from the field that is set
        static const zf_attr_type order[] = {ZF_ATTR_FLOAT, ZF_ATTR_INT, ZF_ATTR_STRING, ZF_ATTR_TENSOR, ZF_ATTR_GRAPH,
                                             ZF_ATTR_FLOATS, ZF_ATTR_INTS};
        type = l.ns > 0 ? ZF_ATTR_STRINGS : ZF_ATTR_UNDEFINED;
        for (int i = 6; i >= 0; i--)
            if (has[order[i]]) type = order[i];
    }
    int rc = 0;
    if (type > ZF_ATTR_STRINGS && type <= 14)
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has type %s, which zfviz does not support", attr_type_str(type));
    else if (type < 0 || type > 14)
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has unknown type %lld", (long long)type);
    else if (type == ZF_ATTR_UNDEFINED)
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has no value");
    else if (type == ZF_ATTR_TENSOR && !has[ZF_ATTR_TENSOR])
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has type TENSOR but no tensor");
    else if (type == ZF_ATTR_GRAPH && !has[ZF_ATTR_GRAPH])
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has type GRAPH but no graph");
    else if (!a->name || !a->name[0])
        rc = zf_fail(r.err, ZF_ERR_INPUT, "has no name");
    if (rc) {
        lists_free(&l);
        return rc;
    }
    a->type = (zf_attr_type)type;
    // Keep only the value of the attribute's type, so the struct is unambiguous (one count `n`).
    if (type == ZF_ATTR_FLOATS) { a->floats = l.floats; a->n = l.nf; l.floats = NULL; }
    if (type == ZF_ATTR_INTS) { a->ints = l.ints; a->n = l.ni; l.ints = NULL; }
    if (type == ZF_ATTR_STRINGS) { a->strings = l.strs; a->n = l.ns; l.strs = NULL; l.ns = 0; }
    lists_free(&l);
    if (type != ZF_ATTR_TENSOR) zf_tensor_free(&a->t);
    if (type != ZF_ATTR_GRAPH && a->g) {
        zf_onnx__graph_clear(a->g);
        free(a->g);
        a->g = NULL;
    }
    if (type == ZF_ATTR_STRING) {
        if (!a->s && !(a->s = zf_strdup("", r.err))) return 1;
    } else {
        free(a->s);
        a->s = NULL;
        a->s_len = 0;
    }
    return 0;
}

// ---- NodeProto / GraphProto ------------------------------------------------------------------------

static const char *node_label(char *buf, size_t n, const zf_onnx_node *nd, int k) {
    char a[ZF_SAFE_NAME_SIZE], b[ZF_SAFE_NAME_SIZE];
    if (nd->name && nd->name[0])
        snprintf(buf, n, "node '%s' (%s)", zf_onnx__safe(a, sizeof a, nd->name), zf_onnx__safe(b, sizeof b, nd->op_type ? nd->op_type : "?"));
    else if (nd->op_type)
        snprintf(buf, n, "node #%d (%s)", k, zf_onnx__safe(b, sizeof b, nd->op_type));
    else
        snprintf(buf, n, "node #%d", k);
    return buf;
}

static const char *named(char *buf, size_t n, const char *kind, const char *name, int k) {
    char a[ZF_SAFE_NAME_SIZE];
    if (name && name[0]) snprintf(buf, n, "%s '%s'", kind, zf_onnx__safe(a, sizeof a, name));
    else snprintf(buf, n, "%s #%d", kind, k);
    return buf;
}

static int add_string(char ***arr, int *n, int *cap, zf_pb *r, int wire, const char *what) {
    if (reserve((void **)arr, cap, *n, 1, sizeof **arr, r->err) || get_string(r, wire, what, &(*arr)[*n])) return 1;
    (*n)++;
    return 0;
}

static int parse_node(zf_pb r, zf_onnx_node *n, int depth, rd *c) {
    uint32_t f;
    int wire, rc, cap_in = 0, cap_out = 0, cap_attr = 0;
    char label[200];
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        switch (f) {
        case 1:
            if (add_string(&n->inputs, &n->n_inputs, &cap_in, &r, wire, "input")) return 1;
            break;
        case 2:
            if (add_string(&n->outputs, &n->n_outputs, &cap_out, &r, wire, "output")) return 1;
            break;
        case 3:
            if (get_string(&r, wire, "name", &n->name)) return 1;
            break;
        case 4:
            if (get_string(&r, wire, "op_type", &n->op_type)) return 1;
            break;
        case 7:
            if (get_string(&r, wire, "domain", &n->domain)) return 1;
            break;
        case 5: {
            zf_pb a;
            if (get_sub(&r, wire, "attribute", &a) ||
                reserve((void **)&n->attrs, &cap_attr, n->n_attrs, 1, sizeof *n->attrs, r.err))
                return 1;
            int k = n->n_attrs++;
            if (parse_attr(a, &n->attrs[k], depth, c))
                return ctx(r.err, "%s", named(label, sizeof label, "attribute", n->attrs[k].name, k));
            break;
        }
        default:
            if (zf_pb_skip(&r, wire)) return 1;
        }
    }
    if (rc < 0) return 1;
    if (!n->op_type || !n->op_type[0]) return zf_fail(r.err, ZF_ERR_INPUT, "has no op_type");
    if (ensure_str(&n->name, r.err) || ensure_str(&n->domain, r.err)) return 1;
    return 0;
}

static int add_value_info(zf_onnx_value_info **arr, int *n, int *cap, zf_pb *r, int wire, const char *kind, int strict) {
    zf_pb v;
    char label[200];
    if (get_sub(r, wire, kind, &v) || reserve((void **)arr, cap, *n, 1, sizeof **arr, r->err)) return 1;
    int k = (*n)++;
    if (parse_value_info(v, &(*arr)[k], strict)) return ctx(r->err, "%s", named(label, sizeof label, kind, (*arr)[k].name, k));
    return 0;
}

static int parse_graph(zf_pb r, zf_onnx_graph *g, int depth, rd *c) {
    uint32_t f;
    int wire, rc;
    char label[200];
    if (depth > ZF_ONNX_MAX_DEPTH)
        return zf_fail(r.err, ZF_ERR_INPUT, "subgraphs nested more than %d levels deep", ZF_ONNX_MAX_DEPTH);
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        switch (f) {
        case 1: {
            zf_pb nd;
            if (get_sub(&r, wire, "node", &nd) ||
                reserve((void **)&g->nodes, &g->cap_nodes, g->n_nodes, 1, sizeof *g->nodes, r.err))
                return 1;
            int k = g->n_nodes++;
            if (parse_node(nd, &g->nodes[k], depth, c))
                return ctx(r.err, "%s", node_label(label, sizeof label, &g->nodes[k], k));
            break;
        }
        case 2:
            if (get_string(&r, wire, "name", &g->name)) return 1;
            break;
        case 5: {
            zf_pb t;
            const uint8_t *t_start = r.p;
            if (get_sub(&r, wire, "initializer", &t) ||
                reserve((void **)&g->initializers, &g->cap_initializers, g->n_initializers, 1, sizeof *g->initializers, r.err))
                return 1;
            int k = g->n_initializers++;
            zf_onnx_initializer *in = &g->initializers[k];
            if ((c->mapped ? zf_onnx__parse_tensor_mapped : zf_onnx__parse_tensor)(&in->t, &in->name, &t, c->base_dir,
                                                                                  r.err))
                return ctx(r.err, "%s", named(label, sizeof label, "initializer", in->name, k));
            if (!in->name[0]) return zf_fail(r.err, ZF_ERR_INPUT, "initializer #%d has no name", k);
            // The weights now live in the tensor: drop the file's copy of them from memory, so loading
            // peaks at about the size of the weights instead of twice it.
            if (c->mapped) zf_onnx__release(t_start, (size_t)(r.p - t_start));
            break;
        }
        case 11:
            if (add_value_info(&g->inputs, &g->n_inputs, &g->cap_inputs, &r, wire, "input", 1)) return 1;
            break;
        case 12:
            if (add_value_info(&g->outputs, &g->n_outputs, &g->cap_outputs, &r, wire, "output", 1)) return 1;
            break;
        case 13:
            if (add_value_info(&g->value_info, &g->n_value_info, &g->cap_value_info, &r, wire, "value_info", 0)) return 1;
            break;
        case 15:
            return zf_fail(r.err, ZF_ERR_INPUT, "has sparse initializers (GraphProto.sparse_initializer), which zfviz does not support");
        default:   // doc_string, quantization_annotation, metadata_props
            if (zf_pb_skip(&r, wire)) return 1;
        }
    }
    if (rc < 0) return 1;
    return ensure_str(&g->name, r.err);
}

// ---- ModelProto ------------------------------------------------------------------------------------

static int parse_opset(zf_pb r, zf_onnx_model *m) {
    uint32_t f;
    int wire, rc;
    char *domain = NULL;
    uint64_t version = 0;
    int bad = 0;
    while (!bad && (rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f == 1) bad = get_string(&r, wire, "domain", &domain);
        else if (f == 2) bad = get_varint(&r, wire, "version", &version);
        else bad = zf_pb_skip(&r, wire);
    }
    bad = bad || rc < 0;
    int dflt = !domain || !domain[0] || !strcmp(domain, "ai.onnx");
    char safe[ZF_SAFE_NAME_SIZE];
    if (!bad && (int64_t)version < 1)
        bad = zf_fail(r.err, ZF_ERR_INPUT, "domain '%s' has invalid version %lld",
                      zf_onnx__safe(safe, sizeof safe, dflt ? "" : domain), (long long)(int64_t)version);
    if (!bad && zf_onnx_opset_set(m, domain, (int64_t)version)) bad = zf_fail(r.err, ZF_ERR_RUNTIME, "out of memory");
    free(domain);
    return bad;
}

static int parse_meta(zf_pb r, zf_onnx_model *m) {
    uint32_t f;
    int wire, rc;
    char *k = NULL, *v = NULL;
    while ((rc = zf_pb_next(&r, &f, &wire)) > 0) {
        if (f == 1 || f == 2) {
            if (get_string(&r, wire, f == 1 ? "key" : "value", f == 1 ? &k : &v)) { rc = -1; break; }
        } else if (zf_pb_skip(&r, wire)) {
            rc = -1;
            break;
        }
    }
    if (rc >= 0 && zf_onnx_meta_set(m, k ? k : "", v ? v : "")) {
        zf_fail(r.err, ZF_ERR_RUNTIME, "out of memory");
        rc = -1;
    }
    free(k);
    free(v);
    return rc < 0;
}

// Files people pass by mistake, for a clearer message than a wire-format error.
static const char *sniff(const uint8_t *b, size_t n) {
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "looks like a PNG image";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return "looks like a JPEG image";
    if (n >= 4 && !memcmp(b, "GIF8", 4)) return "looks like a GIF image";
    if (n >= 4 && !memcmp(b, "PK\x03\x04", 4)) return "looks like a zip archive (a PyTorch .pt file?)";
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return "looks like a gzip file";
    if (n >= 5 && !memcmp(b, "%PDF-", 5)) return "looks like a PDF";
    if (n >= 1 && b[0] == 0x80) return "looks like a Python pickle";
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return "looks like a NumPy .npy file";
    return NULL;
}

static int parse_model(zf_pb r, zf_onnx_model *m, rd *c) {
    uint32_t f;
    int wire, rc = 0, seen = 0, top_error = 0;
    while (!rc && (rc = zf_pb_next(&r, &f, &wire)) > 0) {
        rc = 0;
        zf_pb s;
        uint64_t x;
        // A known field with the wrong wire type means some other kind of file (a TensorProto .pb
        // starts with field 1 too), not a damaged model.
        int want = f == 1 ? ZF_PB_VARINT : (f == 2 || f == 3 || f == 6 || f == 7 || f == 8 || f == 14) ? ZF_PB_LEN : -1;
        if (want >= 0 && wire != want) {
            static const char *names[15] = {[1] = "ir_version", [2] = "producer_name", [3] = "producer_version",
                                            [6] = "doc_string", [7] = "graph", [8] = "opset_import", [14] = "metadata_props"};
            zf_pb_expect(&r, wire, want, names[f]);
            seen = 0;
            top_error = rc = 1;
            break;
        }
        switch (f) {
        case 1:
            if (get_varint(&r, wire, "ir_version", &x)) { top_error = 1; rc = 1; break; }
            m->ir_version = (int64_t)x;
            seen = 1;
            break;
        case 2: rc = top_error = get_string(&r, wire, "producer_name", &m->producer_name) != 0; break;
        case 3: rc = top_error = get_string(&r, wire, "producer_version", &m->producer_version) != 0; break;
        case 6: rc = top_error = get_string(&r, wire, "doc_string", &m->doc_string) != 0; break;
        case 7:
            if (get_sub(&r, wire, "graph", &s)) { top_error = 1; rc = 1; break; }
            zf_onnx__graph_clear(&m->graph);
            seen = 1;
            if (parse_graph(s, &m->graph, 0, c)) rc = 1;   // the main graph's errors need no prefix
            break;
        case 8:
            if (get_sub(&r, wire, "opset_import", &s)) { top_error = 1; rc = 1; break; }
            seen = 1;
            if (parse_opset(s, m)) rc = ctx(r.err, "opset_import");
            break;
        case 14:
            if (get_sub(&r, wire, "metadata_props", &s)) { top_error = 1; rc = 1; break; }
            if (parse_meta(s, m)) rc = ctx(r.err, "metadata_props");
            break;
        default:
            if (zf_pb_skip(&r, wire)) { top_error = 1; rc = 1; }
        }
    }
    if (rc < 0) top_error = 1;
    if (rc) {
        // A wire-format error at the outermost level before anything model-like was seen: this
        // is not a damaged model but some other file.
        if (top_error && !seen) {
            char old[sizeof r.err->msg];
            memcpy(old, r.err->msg, sizeof old);
            snprintf(r.err->msg, sizeof r.err->msg, "not an ONNX model (%s)", old);
        }
        return 1;
    }
    if (!m->graph.name) return zf_fail(r.err, ZF_ERR_INPUT, "not an ONNX model (no graph)");
    if (ensure_str(&m->producer_name, r.err) || ensure_str(&m->producer_version, r.err) ||
        ensure_str(&m->doc_string, r.err))
        return 1;
    return 0;
}

static int read_buffer(zf_onnx_model *m, const uint8_t *buf, size_t len, const char *what, const char *base_dir,
                       int mapped, zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    err->code = 0;
    err->msg[0] = 0;
    memset(m, 0, sizeof *m);
    if (!what) what = "model";
    if (!len) return zf_fail(err, ZF_ERR_INPUT, "%s: not an ONNX model (empty file)", what);
    const char *kind = sniff(buf, len);
    if (kind) return zf_fail(err, ZF_ERR_INPUT, "%s: not an ONNX model (%s)", what, kind);
    rd c = {base_dir, err, mapped};
    if (parse_model(zf_pb_init(buf, len, err), m, &c)) {
        zf_onnx_free(m);
        if (!err->code) err->code = ZF_ERR_INPUT;
        return zf_error_prefix(err, "%s", what);
    }
    return 0;
}

int zf_onnx_read_buffer(zf_onnx_model *m, const uint8_t *buf, size_t len, const char *what, const char *base_dir,
                        zf_error *err) {
    return read_buffer(m, buf, len, what, base_dir, 0, err);
}

int zf_onnx_read(zf_onnx_model *m, const char *path, zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    memset(m, 0, sizeof *m);
    const uint8_t *buf;
    size_t len;
    if (zf_onnx__map_file(&buf, &len, path, err)) return err->code;
    char *dir = zf_onnx__dirname(path, err);
    int rc = dir ? read_buffer(m, buf, len, path, dir, 1, err) : err->code;
    free(dir);
    zf_onnx__unmap_file(buf, len);
    return rc;
}
