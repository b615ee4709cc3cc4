// onnx.h: ONNX files in and out, as plain C structs (no protobuf library).
//
//   zf_onnx_model m = {0};
//   zf_error err = {0};
//   if (zf_onnx_read(&m, "model.onnx", &err)) { fprintf(stderr, "%s\n", err.msg); return 2; }
//   for (int i = 0; i < m.graph.n_nodes; i++) printf("%s %s\n", m.graph.nodes[i].op_type, m.graph.nodes[i].name);
//   zf_onnx_write(&m, "copy.onnx", &err);
//   zf_onnx_free(&m);
//
// The reader decodes the protobuf wire format itself with a bounds check on every length, count and
// nested message; it keeps what a CNN runtime needs (ModelProto, GraphProto, NodeProto,
// AttributeProto incl. subgraphs, TensorProto with raw_data or typed fields and external data,
// ValueInfoProto, opset imports, metadata_props) and skips unknown fields. The same structs are
// filled by the model builders in models/ through the zf_onnx_add_* functions below, so "built here"
// and "loaded from a file" share one import path into the engine.
#ifndef ZF_ONNX_H
#define ZF_ONNX_H
#include <stddef.h>
#include <stdint.h>
#include "../tensor.h"

// AttributeProto.AttributeType numbers.
typedef enum {
    ZF_ATTR_UNDEFINED = 0, ZF_ATTR_FLOAT = 1, ZF_ATTR_INT = 2, ZF_ATTR_STRING = 3, ZF_ATTR_TENSOR = 4,
    ZF_ATTR_GRAPH = 5, ZF_ATTR_FLOATS = 6, ZF_ATTR_INTS = 7, ZF_ATTR_STRINGS = 8,
} zf_attr_type;

struct zf_onnx_graph;

typedef struct zf_onnx_attr {
    char *name;
    zf_attr_type type;
    float f;                        // FLOAT
    int64_t i;                      // INT
    char *s; size_t s_len;          // STRING (NUL-terminated too)
    zf_tensor t;                    // TENSOR (owned)
    struct zf_onnx_graph *g;        // GRAPH (owned)
    int n;                          // count for FLOATS / INTS / STRINGS
    float *floats;
    int64_t *ints;
    char **strings;
} zf_onnx_attr;

typedef struct zf_onnx_node {
    char *name;                     // may be "" (never NULL after reading)
    char *op_type;
    char *domain;                   // "" for the default ONNX domain
    int n_inputs;  char **inputs;   // "" marks an omitted optional input
    int n_outputs; char **outputs;
    int n_attrs;   zf_onnx_attr *attrs;
} zf_onnx_node;

// ValueInfoProto with a tensor type. dims[i] < 0 means unknown; dim_params[i] the symbolic name or NULL.
typedef struct zf_onnx_value_info {
    char *name;
    int elem_type;                  // TensorProto.DataType (1 = float, 7 = int64, ...)
    int ndim;                       // -1 when the shape is absent
    int64_t dims[ZF_MAX_DIMS];
    char *dim_params[ZF_MAX_DIMS];
} zf_onnx_value_info;

typedef struct zf_onnx_initializer {
    char *name;
    zf_tensor t;                    // owned, converted to ZF_F32 / ZF_I64
} zf_onnx_initializer;

typedef struct zf_onnx_graph {
    char *name;
    int n_nodes;        zf_onnx_node *nodes;
    int n_initializers; zf_onnx_initializer *initializers;
    int n_inputs;       zf_onnx_value_info *inputs;     // may include initializers (old exporters)
    int n_outputs;      zf_onnx_value_info *outputs;
    int n_value_info;   zf_onnx_value_info *value_info;
    // capacities, used by the zf_onnx_add_* builders
    int cap_nodes, cap_initializers, cap_inputs, cap_outputs, cap_value_info;
} zf_onnx_graph;

typedef struct zf_onnx_kv { char *key, *value; } zf_onnx_kv;

typedef struct zf_onnx_opset { char *domain; int64_t version; } zf_onnx_opset;

typedef struct zf_onnx_model {
    int64_t ir_version;
    int64_t opset;                  // version of the default domain ("" or "ai.onnx"); 0 if absent
    char *producer_name, *producer_version, *doc_string;
    int n_metadata; zf_onnx_kv *metadata;
    int cap_metadata;
    zf_onnx_graph graph;
    // Opset imports of the other domains ("ai.onnx.ml", "com.microsoft", ...): kept so that writing
    // a model back keeps them; the default domain lives in `opset` only.
    int n_opsets; zf_onnx_opset *opsets;
} zf_onnx_model;

// --- reading and writing ------------------------------------------------------------------------
// Reads path (external data files resolved relative to its folder). *m is overwritten (not freed:
// zf_onnx_free a previous model first) and left zeroed on failure. Errors name the file:
// "m.onnx: truncated varint at byte 1234", "m.onnx: initializer 'w': raw_data has 12 bytes, shape
// (3,3) needs 36". Every size is checked against the bytes actually present before allocating.
int zf_onnx_read(zf_onnx_model *m, const char *path, zf_error *err);
// Same from memory; `what` names the source in messages, `base_dir` resolves external data (may be NULL).
int zf_onnx_read_buffer(zf_onnx_model *m, const uint8_t *buf, size_t len, const char *what,
                        const char *base_dir, zf_error *err);
// Writes ir_version 8 (or m->ir_version if set), float tensors as raw_data. Written atomically
// (temp file + rename).
int zf_onnx_write(const zf_onnx_model *m, const char *path, zf_error *err);
void zf_onnx_free(zf_onnx_model *m);

// TensorProto files (.pb), the ONNX test-data format. *name may be NULL to ignore the name;
// the returned name is malloc'ed ("" when absent). On success t's previous owned storage is freed
// (like zf_tensor_alloc) and replaced; on failure t is untouched.
int zf_tensor_read_pb(zf_tensor *t, char **name, const char *path, zf_error *err);
int zf_tensor_read_pb_buffer(zf_tensor *t, char **name, const uint8_t *buf, size_t len, const char *what,
                             zf_error *err);
int zf_tensor_write_pb(const char *path, const zf_tensor *t, const char *name, zf_error *err);

// --- lookup helpers (used by op attribute parsers) ----------------------------------------------
const zf_onnx_attr *zf_onnx_attr_find(const zf_onnx_node *n, const char *name);
// Return the attribute value or the default when absent; a present attribute of the wrong type is
// an error (returns nonzero, message names node and attribute).
int zf_onnx_attr_int(int64_t *out, const zf_onnx_node *n, const char *name, int64_t dflt, zf_error *err);
int zf_onnx_attr_float(float *out, const zf_onnx_node *n, const char *name, float dflt, zf_error *err);
// ints: copies up to max values into out, count into *n_out (0 when absent).
int zf_onnx_attr_ints(int64_t *out, int *n_out, int max, const zf_onnx_node *n, const char *name, zf_error *err);
// string: *out points into the attribute (or dflt).
int zf_onnx_attr_string(const char **out, const zf_onnx_node *n, const char *name, const char *dflt, zf_error *err);
// The graph's first data input (a graph input that is not also an initializer, as old exporters
// list them), or NULL; *count (may be NULL) receives how many data inputs there are.
const zf_onnx_value_info *zf_onnx_data_input(const zf_onnx_graph *g, int *count);
const char *zf_onnx_meta_get(const zf_onnx_model *m, const char *key);   // NULL if absent

// --- building (models/ and the trainer's writer use these) --------------------------------------
// All strings are copied. Functions return NULL / nonzero only on out-of-memory.
zf_onnx_node *zf_onnx_add_node(zf_onnx_graph *g, const char *op_type, const char *name,
                               int n_inputs, const char *const *inputs, int n_outputs, const char *const *outputs);
int zf_onnx_set_int(zf_onnx_node *n, const char *name, int64_t v);
int zf_onnx_set_float(zf_onnx_node *n, const char *name, float v);
int zf_onnx_set_ints(zf_onnx_node *n, const char *name, int count, const int64_t *v);
int zf_onnx_set_string(zf_onnx_node *n, const char *name, const char *v);
int zf_onnx_set_tensor(zf_onnx_node *n, const char *name, const zf_tensor *t);    // deep copy
// Takes ownership of t's storage (t is left empty).
int zf_onnx_add_initializer(zf_onnx_graph *g, const char *name, zf_tensor *t);
int zf_onnx_add_input(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims);
int zf_onnx_add_output(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims);
int zf_onnx_meta_set(zf_onnx_model *m, const char *key, const char *value);       // replaces
int zf_onnx_set_string_field(char **field, const char *v);                        // producer_name etc.
// Added for subgraphs, the remaining attribute types and the trainer's writer.
int zf_onnx_set_floats(zf_onnx_node *n, const char *name, int count, const float *v);
int zf_onnx_set_strings(zf_onnx_node *n, const char *name, int count, const char *const *v);
// A new empty subgraph attribute (If's then_branch/else_branch), owned by the node. The returned
// pointer stays valid while the node lives (unlike node pointers, which adding nodes may move).
zf_onnx_graph *zf_onnx_set_graph(zf_onnx_node *n, const char *name);
int zf_onnx_add_value_info(zf_onnx_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims);
// Symbolic dimension ("N") of a value info; dims[axis] becomes -1 (unknown).
int zf_onnx_set_dim_param(zf_onnx_value_info *v, int axis, const char *param);
// Opset import: the default domain ("" or "ai.onnx") sets m->opset, others go to m->opsets.
int zf_onnx_opset_set(zf_onnx_model *m, const char *domain, int64_t version);
// Frees a graph's contents (not g itself) and leaves it empty.
void zf_onnx_graph_free(zf_onnx_graph *g);

#endif
