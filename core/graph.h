// graph.h: a loaded model as an execution plan: values (every tensor, recorded), nodes in execution
// order, receptive-field geometry, one activation arena allocated when the plan is built.
//
//   zf_model m = {0};
//   zf_load_opts o = zf_load_defaults();               // batch 1, all cores, fold + fuse on
//   if (zf_model_load(&m, "zfnet.onnx", &o, &err)) return err.code;
//   if (zf_model_forward(&m, 1, &image, &err)) return err.code;   // image: (1,3,224,224) float
//   int v = zf_model_find(&m, "conv5");                 // tensor name, node name or index
//   const zf_tensor *act = &m.values[v].t;              // recorded activation
//   zf_model_free(&m);
//
// Loading runs: topological sort (cycles rejected) -> If with constant condition inlined -> shape
// inference and constant folding in one pass (any node whose inputs are all constant, and Shape,
// is computed at load time and becomes a constant) -> pattern fusion (PyTorch's LRN decomposition
// back into one LRN node) -> dead-node removal -> receptive fields -> arena allocation.
// zf_model_forward allocates nothing.
#ifndef ZF_GRAPH_H
#define ZF_GRAPH_H
#include <stdint.h>
#include "tensor.h"
#include "onnx/onnx.h"

// Receptive field of a tensor's spatial axes (axis 0 = H, 1 = W) with respect to the model input:
// the unit at index i covers input pixels [i*jump + offset, i*jump + offset + size) (offset may be
// negative: the box starts in padding). `global` marks tensors whose every unit sees the whole input
// (after a fully connected layer or a global pool). `valid` is 0 for tensors that carry no spatial
// layout (shapes, indices).
typedef struct zf_rf {
    int64_t size[2], jump[2], offset[2];
    int global;
    int valid;
} zf_rf;

typedef struct zf_value {
    char *name;            // ONNX tensor name
    zf_tensor t;           // dtype + shape known after planning; data in the arena or owned (constants)
    int producer;          // index of the producing node, -1 for graph inputs and constants
    int is_const;          // initializer, Constant or folded: data valid from load time
    int is_input;          // fed by the caller of zf_model_forward
    zf_rf rf;
} zf_value;

struct zf_op;

typedef struct zf_node {
    char *name;            // ONNX node name ("" allowed in files; the loader names unnamed nodes "<op>_<k>")
    const struct zf_op *op;
    int n_in;  int *in;    // value indices; -1 marks an omitted optional input
    int n_out; int *out;
    void *params;          // op->params_size bytes, filled by op->parse
    int32_t *switches;     // MaxPool only: per output element, the argmax position h*W+w inside its input
                           // (n,c) plane, -1 when the window saw only padding. Allocated by the planner
                           // when op->has_switches.
    size_t scratch_bytes;  // temporary memory forward needs, set by op->shape
    // What an op keeps from one forward pass to the next (Conv: its Winograd-transformed filters),
    // op->cache_bytes bytes, 64-byte aligned, allocated by the planner (untouched until used) and
    // freed with the model; cache_gen is the zf_model.weights_gen it was computed for (0: never).
    void *cache;
    size_t cache_bytes;
    uint64_t cache_gen;
} zf_node;

typedef struct zf_load_opts {
    int64_t batch;         // replaces a symbolic/unknown first input dimension (default 1)
    int threads;           // 0 = all cores
    int fuse;              // pattern fusion, e.g. LRN (default 1); constant folding always runs
    int no_winograd;       // 1: every convolution as im2col + GEMM, none as Winograd (default 0:
                           // 3x3 stride-1 layers with enough output tiles run as Winograd F(4x4,3x3),
                           // equal up to rounding: core/winograd.h)
    int n_input_shapes;    // optional: explicit shapes for the graph inputs in order. An int64 input
    const zf_tensor *input_shapes;   // given with data is a shape parameter: frozen as a constant
                                     // at load time (forward then checks it is fed the same values)
} zf_load_opts;

typedef struct zf_model {
    char *path;            // what it was loaded from (for messages)
    int n_values; zf_value *values;
    int n_nodes;  zf_node *nodes;   // execution order, constants already folded away
    int n_inputs;  int *inputs;     // value indices of the graph inputs (initializers excluded)
    int n_outputs; int *outputs;
    int n_listed; int *listed;      // what `zfviz info` lists, in order: graph inputs, then every
                                    // node output in execution order; "#k"/"k" names listed[k]
    int n_metadata; zf_onnx_kv *metadata;   // copied from the file (preprocessing, labels)
    int64_t opset;
    int n_log; char **log;          // what folding and fusion did, one line each (zfviz info prints it)
    int threads;
    void *arena; size_t arena_bytes;        // every recorded activation
    void *scratch; size_t scratch_bytes;    // shared temporary for forward
    struct zf_pool *pool;
    double *profile;       // optional (caller-owned, n_nodes entries): forward adds each node's seconds
    uint64_t weights_gen;  // 1 at load; bumped by zf_model_weights_changed (node caches follow it)
} zf_model;

zf_load_opts zf_load_defaults(void);
int zf_model_load(zf_model *m, const char *path, const zf_load_opts *opts, zf_error *err);
// Builds a plan from an already parsed model (models/ builders, tests). `what` names it in errors.
int zf_model_from_onnx(zf_model *m, const zf_onnx_model *om, const char *what, const zf_load_opts *opts,
                       zf_error *err);
// Runs every node; inputs[i] must match the planned shape of graph input i.
int zf_model_forward(zf_model *m, int n_inputs, const zf_tensor *inputs, zf_error *err);
// The same, up to the node that computes value (a value index; -1: every node): the tensors after it
// keep what they held. zfviz deconv projects from a conv layer without running the classifier.
int zf_model_forward_to(zf_model *m, int n_inputs, const zf_tensor *inputs, int value, zf_error *err);
// Value index by tensor name, node name (its first output), node index "#12" or plain index "12";
// -1 when not found.
int zf_model_find(const zf_model *m, const char *name);
const char *zf_model_meta(const zf_model *m, const char *key);
// Call after changing any initializer's data in place (the trainer does, after every step): what
// nodes computed from the weights (zf_node.cache) is computed again at the next forward pass.
void zf_model_weights_changed(zf_model *m);
void zf_model_free(zf_model *m);

#endif
