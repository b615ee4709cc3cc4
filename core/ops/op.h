// op.h: the interface every operator implements, and the registry.
//
//   const zf_op *op = zf_op_find("Conv");     // NULL if unsupported
//   op->parse(params, onnx_node, opset, &err);  // attributes -> op's own small params struct
//   op->shape(node, values, &err);              // output dtypes/shapes, scratch size
//   op->forward(node, values, &exec, &err);     // compute outputs into preallocated tensors
//   op->rf(node, values);                       // receptive field of outputs from inputs
//   op->box_back(node, &pa); op->project(node, &pa, &err);   // projection rules (ops/proj.h)
//   op->backward(node, values, grad, &exec, &err);   // training: inputs' gradients (core/train.h)
//
// One op, one file pair under core/ops/ (kann/ggml style): the kernel function itself is written
// outputs-first with a shape comment, e.g.
//   // in (N,C,H,W), w (K,C/g,kh,kw), b (K) -> out (N,K,OH,OW)
//   void zf_conv2d_forward(float *out, const float *in, const float *w, const float *b, const zf_conv_params *p, ...);
// and the zf_op table entry adapts it to this interface. Adding an op: see docs/adding-an-op.md.
#ifndef ZF_OP_H
#define ZF_OP_H
#include <stddef.h>
#include "../graph.h"
#include "../parallel.h"

struct zf_proj_args;

// Training mode of a forward pass (core/train.h); zf_exec.train points here while training.
typedef struct zf_train_ctx {
    uint64_t seed;         // this step's: a Dropout mask is a hash of (seed, output tensor, element), so the
                           // backward pass redraws it instead of storing it
    float bn_momentum;     // BatchNormalization running statistics: r = (1 - m) r + m batch (0: unchanged)
} zf_train_ctx;

typedef struct zf_exec {
    int threads;
    struct zf_pool *pool;  // parallel loops (zf_parallel_for); NULL means run serially
    void *scratch;         // at least node->scratch_bytes bytes, 64-byte aligned
    // NULL for inference. While training: Dropout drops units, BatchNormalization normalizes with the
    // batch's statistics and updates its running ones.
    const zf_train_ctx *train;
    // zf_model.weights_gen for the model's own forward passes (node caches valid when equal); 0
    // elsewhere (occlusion's partial passes, constant folding): no cache is read or written.
    uint64_t weights_gen;
} zf_exec;

typedef struct zf_op {
    const char *type;      // ONNX op_type
    size_t params_size;    // sizeof the op's params struct (0: none)
    int has_switches;      // 1 for MaxPool: the planner allocates node->switches (numel of output 0)
    // Attributes (and opset, for ops whose semantics changed) -> params. Messages need not name the
    // node: the caller prefixes "file: node 'x' (Op): ". NULL when the op has no attributes.
    int (*parse)(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err);
    // Sets dtype/ndim/dims of every output value from the inputs (constant inputs' data may be read,
    // e.g. Reshape's shape) and node->scratch_bytes. Rejects inconsistent inputs with a message.
    int (*shape)(zf_node *n, zf_value *v, zf_error *err);
    // Computes the outputs into their allocated tensors. Allocates nothing. Fails only on
    // data-dependent errors (e.g. Gather index out of range).
    int (*forward)(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err);
    // Receptive field of the outputs from the inputs' (see zf_rf in graph.h). NULL: outputs copy
    // input 0's rf (elementwise ops).
    void (*rf)(const zf_node *n, zf_value *v);
    // Floating-point operations of one forward pass (multiply-add = 2). NULL: one per output
    // element. Used by `zfviz info` and `zfviz bench`.
    int64_t (*flops)(const zf_node *n, const zf_value *v);
    // Projection back to the input (deconvnet, guided backprop, gradient; core/project.h and
    // core/ops/proj.h). box_back: from the outputs' boxes, the box of each wanted input (NULL:
    // elementwise with broadcasting). project: adds each wanted input's share of the outputs'
    // signal inside that box; NULL means projection through this op is not defined.
    // proj_scratch: floats of scratch project needs for this node (NULL: none).
    void (*box_back)(const zf_node *n, struct zf_proj_args *a);
    int (*project)(const zf_node *n, struct zf_proj_args *a, zf_error *err);
    size_t (*proj_scratch)(const zf_node *n, const zf_value *v);
    // Optional: project for na independent walks at once (zf_project_maps, each a[i] as project
    // would get it, each with its own buffers and scratch, no pool), e.g. to read the weights once
    // for all of them. NULL: project is called for each.
    int (*project_lanes)(const zf_node *n, struct zf_proj_args **a, int na, zf_error *err);
    // Optional: read-only data project keeps per node and projector (e.g. the weights in the order
    // its sparse kernel reads them): proj_cache_bytes (0: none this node) and proj_cache_fill, which
    // writes it from the node's inputs. The projector builds it on its first walk and again after
    // zf_model_weights_changed, and hands it over as zf_proj_args.cache; project must also work
    // without it (cache NULL: not built, or out of memory).
    size_t (*proj_cache_bytes)(const zf_node *n, const zf_value *v);
    void (*proj_cache_fill)(void *cache, const zf_node *n, const zf_value *v);
    // Optional: bytes of zf_node.cache this node keeps across forward passes (after shapes and
    // parse options are final), 0 for none.
    size_t (*cache_bytes)(const zf_node *n, const zf_value *v);
    // Training (core/train.h): from the gradients of the outputs (grad[n->out[k]], NULL when none
    // flows back) ADDS the gradient of every input that wants one (grad[n->in[k]] != NULL), over the
    // whole batch, parameters included (Conv W and B, Gemm B and C, BatchNormalization scale and B).
    // grad is indexed by value; ex->scratch holds node->scratch_bytes; ex->train is the step's
    // context. Reads the recorded forward values (and switches). NULL: no backward rule.
    int (*backward)(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err);
} zf_op;

// Gradient buffers of node input / output k in op->backward (NULL: not wanted / none flows back).
static inline float *zf_grad_in(float *const *grad, const zf_node *n, int k) {
    return k < n->n_in && n->in[k] >= 0 ? grad[n->in[k]] : NULL;
}
static inline const float *zf_grad_out(float *const *grad, const zf_node *n, int k) {
    return k < n->n_out && n->out[k] >= 0 ? grad[n->out[k]] : NULL;
}

// op->flops or its default.
int64_t zf_node_flops(const zf_node *n, const zf_value *v);

// The registry: every supported op, looked up by ONNX type.
const zf_op *zf_op_find(const char *type);
// "Add, AveragePool, BatchNormalization, ..." for error messages.
const char *zf_op_supported_list(void);

// Helpers shared by ops.
// Multidirectional (numpy) broadcast of two shapes; error if incompatible.
int zf_broadcast_shape(int *ndim, int64_t *dims, int na, const int64_t *a, int nb, const int64_t *b, zf_error *err);
// Receptive field of a kernel op (conv/pool) along both spatial axes, from input rf.
void zf_rf_kernel(zf_rf *out, const zf_rf *in, const int64_t k[2], const int64_t s[2], const int64_t pad_begin[2],
                  const int64_t dil[2]);
// Union of several rfs (Add, Concat): bounding box, larger jump.
void zf_rf_union(zf_rf *out, const zf_rf *a, const zf_rf *b);
void zf_rf_global(zf_rf *out, const zf_rf *in);

#endif
