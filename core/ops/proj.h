// proj.h: what an op's projection rule sees, and the box arithmetic the rules share. core/project.c
// walks the nodes backwards and, at each node, calls op->box_back then op->project.
//
//   // in an op file: the signal of output 0 flows to input 0 unchanged where the input was > 0
//   static int step_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
//       zf_proj_slot *x = &a->in[0], *y = &a->out[0];
//       if (!x->on) return 0;
//       zf_box_iter it;
//       for (zf_box_iter_begin(&it, x->t, &x->box); !it.done; zf_box_iter_next(&it))
//           for (int64_t i = it.off; i < it.off + it.len; i++)
//               if (zf_f32(x->t)[i] > 0) x->g[i] += y->g[i];
//       return 0;
//   }
//
// A slot holds one batch item of a node input or output: the forward tensor (dims[0] = 1 when the
// model runs a batch), the signal buffer of the same shape, and a box: per axis [lo, hi).
//   outputs: on = the output carries signal; its buffer is valid inside box (undefined outside).
//   inputs:  on = the input wants signal (a float tensor downstream of the model input). box_back
//            sets box to what this node sends it (on = 0 when nothing); the walker then zeroes the
//            part of the input's buffer that was not yet in use and project ADDS into that box
//            (several consumers, or the same tensor twice among the inputs, accumulate). A rule
//            that writes its whole box may set overwrite in box_back: when the input held no signal
//            yet, the walker then skips the zeroing and sets fresh, and project stores instead.
// box_back must cover every element project writes: the sparse result equals the dense one (where
// every box is the whole tensor) only then, and tests/test_deconv.c checks it on every architecture.
#ifndef ZF_OPS_PROJ_H
#define ZF_OPS_PROJ_H
#include <stddef.h>
#include <stdint.h>
#include "op.h"
#include "../project.h"

typedef struct zf_box {
    int64_t lo[ZF_MAX_DIMS], hi[ZF_MAX_DIMS];
} zf_box;

typedef struct zf_proj_slot {
    const zf_tensor *t;     // forward value, one batch item (NULL for an omitted optional input)
    float *g;               // signal, same shape as t (NULL when not wanted)
    zf_box box;
    int on;
    int want;               // inputs: downstream of the model input (stays set when box_back clears on;
                            // a rule that cannot reach such an input, e.g. Conv weights, reports it)
    int overwrite;          // inputs: box_back sets it to promise that project writes every element of
                            // box (stores, not adds) when the walker sets fresh
    int fresh;              // inputs: the buffer held no signal before this node and was NOT zeroed
                            // (only when overwrite): project must store, not add
    int alias;              // input 0: box_back sets it when project would only copy output 0's signal
                            // into it (same shape, same box: LRN under deconvnet). When input 0 holds
                            // no signal yet, the walker then swaps the two buffers and skips project.
} zf_proj_slot;

// The nonzeros of one value's signal box, listed channel by channel (zf_project_maps' lanes: a
// MaxPool whose ReLU is fused hands them to the Conv before it, which would otherwise scan the box
// for them; core/project.c). Channel j (= channel - box.lo[1]) has entries [first[j], first[j+1]),
// each a position q = (row - box.lo[2]) * width + (col - box.lo[3]) of the box and its value, in
// increasing q. While they are filled (filled = 1), the value's signal buffer does NOT hold the box:
// the Conv writes it from the lists when it needs it dense.
typedef struct zf_proj_lists {
    int value;                  // set by the walker: the value listed
    int filled;                 // set by the MaxPool once listed
    zf_box box;
    int32_t *first;             // box channels + 1 (the last: the number of entries)
    int32_t *pos;               // channels x positions entries
    float *val;
    float *plane;               // one channel plane of the value, all zero between uses
} zf_proj_lists;

typedef struct zf_proj_args {
    zf_rule rule;
    int n_in, n_out;        // = node's
    zf_proj_slot *in, *out;
    const int32_t *switches;   // MaxPool: this batch item's switches (numel of output 0 item)
    float *scratch;            // op->proj_scratch floats, 64-byte aligned
    zf_pool *pool;
    int dense;                 // boxes are whole tensors; rules may skip sparsity tests
    // MaxPool only, NULL otherwise: the walker fused the ReLU that produced input 0 (this pool is its
    // only consumer). in[0] then holds the ReLU's input (its signal buffer and box; the box was empty
    // of signal, so in[0].fresh) and relu_x its forward value: project unpools into it, then applies
    // zf_proj_relu_one at the positions the switches point to. Every other position stays +0, which
    // the ReLU rule maps to +0, so this equals unpooling and then rectifying the whole box.
    const zf_tensor *relu_x;
    const void *cache;         // the node's zf_op.proj_cache data, or NULL
    // MaxPool with relu_x: list its unpooled input here instead of writing it (may decline, leaving
    // filled 0). Conv: the lists of its output's signal. NULL otherwise.
    zf_proj_lists *lists;
} zf_proj_args;

// The ReLU rule for one element: go is the signal arriving at the output, xi the forward input.
//   deconvnet: relu(go); guided: go where go > 0 and xi > 0; gradient: go where xi > 0 (else +0).
// Idempotent: applying it twice to the same element changes nothing.
static inline float zf_proj_relu_one(float go, float xi, zf_rule rule) {
    if (rule == ZF_RULE_DECONVNET) return go > 0.0f ? go : 0.0f;
    if (rule == ZF_RULE_GUIDED) return xi > 0.0f && go > 0.0f ? go : 0.0f;
    return xi > 0.0f ? go : 0.0f;
}

// --- boxes ------------------------------------------------------------------------------------
void zf_box_full(zf_box *b, const zf_tensor *t);
int zf_box_is_empty(const zf_box *b, int ndim);
int64_t zf_box_numel(const zf_box *b, int ndim);
// a = bounding box of a and b.
void zf_box_union(zf_box *a, const zf_box *b, int ndim);
// Zeroes g (shape of t) inside b.
void zf_box_zero(float *g, const zf_tensor *t, const zf_box *b);
// Same on the pool (boxes of at least ZF_PROJ_PAR_MIN elements).
void zf_box_zero_pool(float *g, const zf_tensor *t, const zf_box *b, zf_pool *pool);
// cur (valid when had) grows to cur U add; the newly covered part of g is zeroed.
void zf_box_grow(float *g, const zf_tensor *t, zf_box *cur, int had, const zf_box *add);
// Bounding box of the elements whose row-major flat index lies in [first, last] (reshapes).
void zf_box_of_flat(zf_box *b, const zf_tensor *t, int64_t first, int64_t last);
// Flat indices of the box's first and last elements in t.
void zf_box_flat_range(int64_t *first, int64_t *last, const zf_tensor *t, const zf_box *b);

// A sliding window (Conv, pools): output units [olo, ohi) read inputs [olo*s - pb, (ohi-1)*s - pb +
// (k-1)*d + 1), the receptive-field arithmetic of zf_rf_kernel, clipped to [0, n).
void zf_box_window(int64_t *lo, int64_t *hi, int64_t olo, int64_t ohi, int64_t k, int64_t s, int64_t pb, int64_t d,
                   int64_t n);

// Rows of a box: for every index tuple of the box's axes but the last, the flat offset of its
// first element (at lo of the last axis) in t; every row has hi - lo of the last axis elements.
//   zf_box_iter it;
//   for (zf_box_iter_begin(&it, t, &box); !it.done; zf_box_iter_next(&it))
//       for (int64_t i = 0; i < it.len; i++) g[it.off + i] = ...;
typedef struct zf_box_iter {
    int nd;
    int64_t idx[ZF_MAX_DIMS], stride[ZF_MAX_DIMS];
    const zf_box *b;
    int64_t off, len;
    int done;
} zf_box_iter;
void zf_box_iter_begin(zf_box_iter *it, const zf_tensor *t, const zf_box *b);
void zf_box_iter_next(zf_box_iter *it);

// Runs fn on sub-boxes of b that split axis `axis` ([lo, hi) of that axis in chunks), in parallel on
// pool; on the caller, with b whole, when b has fewer than min_numel elements or pool is NULL.
// Rules whose writes stay inside the planes of their own channels split axis 1 (pools), purely
// elementwise ones any axis (zf_box_split_axis: the outermost with more than one index).
typedef void (*zf_box_fn)(void *ctx, const zf_box *b);
void zf_box_parallel(zf_pool *pool, const zf_box *b, int axis, int64_t numel, int64_t min_numel, zf_box_fn fn,
                     void *ctx);
int zf_box_split_axis(const zf_box *b, int ndim);
// Elementwise loops below this many elements run on the caller (a wake-up of the pool costs more).
#define ZF_PROJ_PAR_MIN ((int64_t)1 << 15)

// --- shared rule pieces -----------------------------------------------------------------------
// Elementwise box_back: each wanted input gets output 0's box, broadcast axes (size 1 against a
// larger output axis) [0, 1). Used when op->box_back is NULL.
void zf_proj_box_elementwise(const zf_node *n, zf_proj_args *a);
// in.g += out.g inside in.box (same shapes): Identity, Dropout, Cast. Honors fresh (a copy), so a
// box_back whose rule ends in it may set overwrite.
int zf_proj_identity(const zf_node *n, zf_proj_args *a, zf_error *err);
// Reshape-like ops (Flatten, Reshape, Squeeze, Unsqueeze): the same flat layout, so the signal is
// copied element for element; box_back is the bounding box of the output box's flat range.
void zf_proj_box_reshape(const zf_node *n, zf_proj_args *a);
int zf_proj_reshape(const zf_node *n, zf_proj_args *a, zf_error *err);
// Widens an output's box to the whole tensor (zeroing what was outside it), for rules that read
// whole rows (MatMul, Softmax). Changes nothing the signal means: it was zero outside the box.
void zf_proj_out_full(zf_proj_slot *y);
// ZF_ERR_INPUT when an input in [from, n_in) is wanted but the rule cannot reach it (Conv weights
// computed from the image): "input 1 depends on the model input, but ...".
int zf_proj_only_data(const zf_node *n, const zf_proj_args *a, int from, zf_error *err);

// Grouped convolutions (Conv, ConvTranspose): only input 0 takes the signal; its box is item 0 and
// the channels of every group the output box's channels touch (spatial axes left to the caller).
// Returns 0 when nothing flows (input 0 not wanted, or no signal out).
int zf_proj_box_grouped(zf_proj_args *a, int64_t Kg, int64_t Cg);
// Pools (MaxPool, AveragePool): input 0's box from the window geometry over the spatial axes of the
// (1, C, spatial...) item view; channels as the output's.
struct zf_window;
void zf_proj_box_pool(zf_proj_args *a, const struct zf_window *win);

#endif
