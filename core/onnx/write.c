// write.c: zf_onnx_model -> ModelProto bytes, written atomically.
//
// The encoder writes back to front (see pb.h), so every function below prepends its message's fields
// in reverse field order; the result reads in ascending field order like protobuf's own output.
// Tensors are written as raw_data (little-endian), which is what exporters produce and what
// onnx.checker expects for large weights.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static int enc_graph(zf_pbw *w, const zf_onnx_graph *g, int depth, zf_error *err);

static int wctx(zf_error *err, const char *kind, const char *name, int k) {
    char safe[ZF_SAFE_NAME_SIZE];
    if (strlen(err->msg) > 300) return err->code ? err->code : ZF_ERR_RUNTIME;
    if (name && name[0]) return zf_error_prefix(err, "%s '%s'", kind, zf_onnx__safe(safe, sizeof safe, name));
    return zf_error_prefix(err, "%s #%d", kind, k);
}

// ValueInfoProto { name = 1; type = 2 { tensor_type = 1 { elem_type = 1; shape = 2 { dim = 1 {
// dim_value = 1 | dim_param = 2 } } } } }
static void enc_value_info(zf_pbw *w, const zf_onnx_value_info *v) {
    size_t m_type = zf_pbw_begin(w);
    size_t m_tensor = zf_pbw_begin(w);
    if (v->ndim >= 0) {
        size_t m_shape = zf_pbw_begin(w);
        for (int i = (v->ndim < ZF_MAX_DIMS ? v->ndim : ZF_MAX_DIMS) - 1; i >= 0; i--) {
            size_t m_dim = zf_pbw_begin(w);
            if (v->dim_params[i] && v->dim_params[i][0]) zf_pbw_string(w, 2, v->dim_params[i]);
            else if (v->dims[i] >= 0) zf_pbw_int(w, 1, v->dims[i]);
            zf_pbw_end(w, 1, m_dim);
        }
        zf_pbw_end(w, 2, m_shape);
    }
    zf_pbw_int(w, 1, v->elem_type);
    zf_pbw_end(w, 1, m_tensor);
    zf_pbw_end(w, 2, m_type);
    zf_pbw_string(w, 1, v->name ? v->name : "");
}

// AttributeProto { name = 1; f = 2; i = 3; s = 4; t = 5; g = 6; floats = 7; ints = 8; strings = 9;
// type = 20 }: repeated numbers unpacked, as proto2 (and onnx's own serializer) writes them.
static int enc_attr(zf_pbw *w, const zf_onnx_attr *a, int depth, zf_error *err) {
    zf_pbw_int(w, 20, a->type);
    size_t m;
    switch (a->type) {
    case ZF_ATTR_FLOAT: zf_pbw_float(w, 2, a->f); break;
    case ZF_ATTR_INT: zf_pbw_int(w, 3, a->i); break;
    case ZF_ATTR_STRING:
        if (a->s) zf_pbw_bytes(w, 4, a->s, a->s_len ? a->s_len : strlen(a->s));
        else zf_pbw_bytes(w, 4, "", 0);
        break;
    case ZF_ATTR_TENSOR:
        m = zf_pbw_begin(w);
        if (zf_onnx__encode_tensor(w, &a->t, NULL, err)) return err->code;
        zf_pbw_end(w, 5, m);
        break;
    case ZF_ATTR_GRAPH:
        if (!a->g) return zf_fail(err, ZF_ERR_RUNTIME, "GRAPH attribute without a graph");
        m = zf_pbw_begin(w);
        if (enc_graph(w, a->g, depth + 1, err)) return err->code;
        zf_pbw_end(w, 6, m);
        break;
    case ZF_ATTR_FLOATS:
        for (int i = a->n - 1; i >= 0; i--) zf_pbw_float(w, 7, a->floats[i]);
        break;
    case ZF_ATTR_INTS:
        for (int i = a->n - 1; i >= 0; i--) zf_pbw_int(w, 8, a->ints[i]);
        break;
    case ZF_ATTR_STRINGS:
        for (int i = a->n - 1; i >= 0; i--) zf_pbw_string(w, 9, a->strings[i] ? a->strings[i] : "");
        break;
    default: return zf_fail(err, ZF_ERR_RUNTIME, "has no valid type (%d)", (int)a->type);
    }
    zf_pbw_string(w, 1, a->name ? a->name : "");
    return 0;
}

// NodeProto { input = 1; output = 2; name = 3; op_type = 4; attribute = 5; domain = 7 }
static int enc_node(zf_pbw *w, const zf_onnx_node *n, int depth, zf_error *err) {
    if (n->domain && n->domain[0]) zf_pbw_string(w, 7, n->domain);
    for (int i = n->n_attrs - 1; i >= 0; i--) {
        size_t m = zf_pbw_begin(w);
        if (enc_attr(w, &n->attrs[i], depth, err)) return wctx(err, "attribute", n->attrs[i].name, i);
        zf_pbw_end(w, 5, m);
    }
    if (!n->op_type || !n->op_type[0]) return zf_fail(err, ZF_ERR_RUNTIME, "has no op_type");
    zf_pbw_string(w, 4, n->op_type);
    if (n->name && n->name[0]) zf_pbw_string(w, 3, n->name);
    for (int i = n->n_outputs - 1; i >= 0; i--) zf_pbw_string(w, 2, n->outputs[i] ? n->outputs[i] : "");
    for (int i = n->n_inputs - 1; i >= 0; i--) zf_pbw_string(w, 1, n->inputs[i] ? n->inputs[i] : "");
    return 0;
}

// GraphProto { node = 1; name = 2; initializer = 5; input = 11; output = 12; value_info = 13 }
static int enc_graph(zf_pbw *w, const zf_onnx_graph *g, int depth, zf_error *err) {
    if (depth > ZF_ONNX_MAX_DEPTH)
        return zf_fail(err, ZF_ERR_RUNTIME, "subgraphs nested more than %d levels deep", ZF_ONNX_MAX_DEPTH);
    size_t m;
    for (int i = g->n_value_info - 1; i >= 0; i--) {
        m = zf_pbw_begin(w);
        enc_value_info(w, &g->value_info[i]);
        zf_pbw_end(w, 13, m);
    }
    for (int i = g->n_outputs - 1; i >= 0; i--) {
        m = zf_pbw_begin(w);
        enc_value_info(w, &g->outputs[i]);
        zf_pbw_end(w, 12, m);
    }
    for (int i = g->n_inputs - 1; i >= 0; i--) {
        m = zf_pbw_begin(w);
        enc_value_info(w, &g->inputs[i]);
        zf_pbw_end(w, 11, m);
    }
    for (int i = g->n_initializers - 1; i >= 0; i--) {
        const zf_onnx_initializer *in = &g->initializers[i];
        m = zf_pbw_begin(w);
        if (zf_onnx__encode_tensor(w, &in->t, in->name, err)) return wctx(err, "initializer", in->name, i);
        zf_pbw_end(w, 5, m);
    }
    // onnx.checker requires a non-empty graph name.
    zf_pbw_string(w, 2, g->name && g->name[0] ? g->name : "graph");
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        m = zf_pbw_begin(w);
        if (enc_node(w, &g->nodes[i], depth, err)) {
            const zf_onnx_node *n = &g->nodes[i];
            char a[ZF_SAFE_NAME_SIZE], b[ZF_SAFE_NAME_SIZE];
            if (strlen(err->msg) > 300) return err->code;
            if (n->name && n->name[0])
                return zf_error_prefix(err, "node '%s' (%s)", zf_onnx__safe(a, sizeof a, n->name), zf_onnx__safe(b, sizeof b, n->op_type));
            return zf_error_prefix(err, "node #%d (%s)", i, zf_onnx__safe(b, sizeof b, n->op_type));
        }
        zf_pbw_end(w, 1, m);
    }
    return 0;
}

static void enc_opset(zf_pbw *w, const char *domain, int64_t version) {
    size_t m = zf_pbw_begin(w);
    zf_pbw_int(w, 2, version);
    zf_pbw_string(w, 1, domain);
    zf_pbw_end(w, 8, m);
}

// ModelProto { ir_version = 1; producer_name = 2; producer_version = 3; doc_string = 6; graph = 7;
// opset_import = 8; metadata_props = 14 }
static int enc_model(zf_pbw *w, const zf_onnx_model *md, zf_error *err) {
    for (int i = md->n_metadata - 1; i >= 0; i--) {
        size_t m = zf_pbw_begin(w);
        zf_pbw_string(w, 2, md->metadata[i].value ? md->metadata[i].value : "");
        zf_pbw_string(w, 1, md->metadata[i].key ? md->metadata[i].key : "");
        zf_pbw_end(w, 14, m);
    }
    for (int i = md->n_opsets - 1; i >= 0; i--) enc_opset(w, md->opsets[i].domain, md->opsets[i].version);
    enc_opset(w, "", md->opset > 0 ? md->opset : 13);
    size_t m = zf_pbw_begin(w);
    if (enc_graph(w, &md->graph, 0, err)) return zf_error_prefix(err, "graph");
    zf_pbw_end(w, 7, m);
    if (md->doc_string && md->doc_string[0]) zf_pbw_string(w, 6, md->doc_string);
    if (md->producer_version && md->producer_version[0]) zf_pbw_string(w, 3, md->producer_version);
    if (md->producer_name && md->producer_name[0]) zf_pbw_string(w, 2, md->producer_name);
    zf_pbw_int(w, 1, md->ir_version > 0 ? md->ir_version : 8);
    return 0;
}

// Bytes of tensor data in g and its subgraphs plus a little per node: the bulk of the file.
static size_t estimate(const zf_onnx_graph *g, int depth) {
    size_t n = 4096;
    if (depth > ZF_ONNX_MAX_DEPTH) return n;
    for (int i = 0; i < g->n_initializers; i++)
        n += (size_t)zf_tensor_numel(&g->initializers[i].t) * zf_dtype_size(g->initializers[i].t.dtype) + 64;
    for (int i = 0; i < g->n_nodes; i++) {
        n += 256;
        for (int k = 0; k < g->nodes[i].n_attrs; k++) {
            const zf_onnx_attr *a = &g->nodes[i].attrs[k];
            if (a->type == ZF_ATTR_TENSOR) n += (size_t)zf_tensor_numel(&a->t) * zf_dtype_size(a->t.dtype);
            if (a->type == ZF_ATTR_GRAPH && a->g) n += estimate(a->g, depth + 1);
        }
    }
    return n;
}

int zf_onnx_write(const zf_onnx_model *m, const char *path, zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    err->code = 0;
    err->msg[0] = 0;
    zf_pbw w = {0};
    zf_pbw_presize(&w, estimate(&m->graph, 0));
    if (enc_model(&w, m, err)) {
        zf_pbw_free(&w);
        if (!err->code) err->code = ZF_ERR_RUNTIME;
        return zf_error_prefix(err, "%s", path);
    }
    if (w.failed) {
        zf_pbw_free(&w);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory encoding the model", path);
    }
    int rc = zf_onnx__write_file(path, zf_pbw_data(&w), w.used, err);
    zf_pbw_free(&w);
    return rc;
}
