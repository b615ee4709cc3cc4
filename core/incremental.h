// incremental.h: exact incremental inference for occlusion (Krypton, Nakandala et al., SIGMOD 2019):
// a batch of occluded copies of one image goes through the network recomputing, layer by layer,
// only the box of each tensor that the occluding square can reach; the rest is read from the clean
// image's recorded activations. Internal to core/ (core/occlude.c drives it).
//
//   zf_inc *inc = NULL;                       // m: a model whose clean forward has been run
//   int64_t ys[] = {0, 8, 16}, xs[] = {0, 8, 16};
//   if (zf_inc_create(&inc, m, 16, ys, 3, xs, 3, 32, 32, 0, &err)) return err.code;
//   int iy[16], ix[16];  ... positions of the batch as indices into ys / xs ...
//   zf_inc_run(inc, nb, iy, ix, baseline, &err);        // baseline (C,H,W): what the square shows
//   const float *y = zf_inc_output(inc, m->outputs[0], p, &err);   // position p's output
//   zf_inc_free(inc);
//
// The geometry is separable: the square at start (ys[i], xs[j]) changes, in every tensor, a box whose
// row range depends only on i and column range only on j. Each tensor keeps, per batch, a buffer
// (B, C, h, w) whose box size h x w is the largest over the starts (so positions batch into one GEMM)
// and whose origin per start is the changed range pushed inside the tensor. Convolutions and pools
// read a region of their input materialized from the clean activation plus the changed box (outside
// the tensor: the pad value, 0 or -inf), then run the op's own kernel with zero padding. Elementwise
// ops (ReLU, BatchNorm, LRN, Add, Concat, ...) run the op's forward on the boxes (inputs brought to the
// union box). Once a box covers its whole tensor, the ops run batched on full tensors (fully
// connected layers become one GEMM over the batch); ops that cannot run batched loop per position.
// Everything is allocated by zf_inc_create; zf_inc_run allocates nothing.
#ifndef ZF_INCREMENTAL_H
#define ZF_INCREMENTAL_H
#include <stdint.h>
#include "graph.h"

typedef struct zf_inc zf_inc;

// starts_y (ny) and starts_x (nx): the square's top-left per axis (may be negative or overlap the
// border: the square is clipped to the image). patch_h x patch_w: the square. B: positions per batch.
// The model must have one (1,C,H,W) float input; its clean forward need not have run yet (only
// shapes are read here), but must have run before zf_inc_run.
// flags: ZF_INC_NO_WINOGRAD runs 3x3 convolutions as im2col + GEMM instead of Winograd F(4x4, 3x3)
// (core/winograd.h; same results up to rounding; for comparisons). The Winograd filters are
// transformed here from the model's weights, which must not change during the plan's life.
#define ZF_INC_NO_WINOGRAD 1u
int zf_inc_create(zf_inc **out, zf_model *m, int B, const int64_t *starts_y, int ny, const int64_t *starts_x, int nx,
                  int patch_h, int patch_w, unsigned flags, zf_error *err);
// Bytes zf_inc_create would allocate for batch B (to choose B within a memory budget).
int zf_inc_bytes(size_t *bytes, zf_model *m, int B, const int64_t *starts_y, int ny, const int64_t *starts_x, int nx,
                 int patch_h, int patch_w, unsigned flags, zf_error *err);
// Runs nb <= B positions: position p has its square at (starts_y[iy[p]], starts_x[ix[p]]), showing
// baseline (C,H,W) inside it and the clean input outside.
int zf_inc_run(zf_inc *inc, int nb, const int *iy, const int *ix, const float *baseline, zf_error *err);
// Position p's whole value v after a run (clean layout of v, batch item 0), or NULL with err set when v
// is not recorded by the plan. Expands a box into the whole tensor when needed.
const float *zf_inc_output(zf_inc *inc, int v, int p, zf_error *err);
// Position p's sum over channel c of value v (rank 4: over H,W; otherwise element c of item 0),
// from the clean sum plus what changed in the box.
double zf_inc_channel_sum(zf_inc *inc, int v, int p, int64_t c);
int zf_inc_batch(const zf_inc *inc);
// Multiply-adds of one position through the incremental plan vs a full forward pass, and a
// one-line-per-node description of what the plan does (for docs and `--explain`).
void zf_inc_stats(const zf_inc *inc, double *inc_flops, double *full_flops);
void zf_inc_describe(const zf_inc *inc, void (*line)(void *ctx, const char *text), void *ctx);
// Optional: zf_inc_run adds each node's seconds to seconds[node] (n_nodes entries; NULL: off).
void zf_inc_set_profile(zf_inc *inc, double *seconds);
void zf_inc_free(zf_inc *inc);

#endif
