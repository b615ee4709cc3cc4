// op_util.h: small helpers the shape, activation, binary and softmax ops share: axis
// normalization, reading a constant int64 input at shape time, running a loop on the pool when it
// is large enough to pay for the threads, and the "does the spatial layout survive" rf rule.
//
//   int64_t axis = p->axis;
//   if (zf_axis_normalize(&axis, x->ndim, "axis", err)) return err->code;   // -1 -> ndim-1
//   const int64_t *pads; int64_t n_pads;
//   if (zf_const_i64_input(&pads, &n_pads, n, v, 1, "pads", err)) return err->code;
//   zf_exec_range(ex, numel, body, &ctx);            // parallel when large, inline otherwise
#ifndef ZF_OP_UTIL_H
#define ZF_OP_UTIL_H
#include <stdint.h>
#include "op.h"

// Loops shorter than this run inline: a pool round trip costs more than the work.
#define ZF_PARALLEL_MIN 32768

// Maps axis from [-ndim, ndim) to [0, ndim); error names `what` when out of range.
int zf_axis_normalize(int64_t *axis, int ndim, const char *what, zf_error *err);

// 1 when node input i is present (index in range and not an omitted optional input).
int zf_has_input(const zf_node *n, int i);
// The data of node input i, which must be an int64 tensor whose data is known at shape time
// (an initializer or a folded constant). `what` names it in the message: "shape input is not
// constant" (the graph layer prefixes file, node and op). *count gets numel.
int zf_const_i64_input(const int64_t **data, int64_t *count, const zf_node *n, const zf_value *v, int i,
                       const char *what, zf_error *err);

// Runs fn over [0, n) on ex->pool when there is one and n >= ZF_PARALLEL_MIN, inline otherwise.
void zf_exec_range(const zf_exec *ex, int64_t n, zf_range_fn fn, void *ctx);

// Strided copy (Transpose, Slice, Pad): for every index tuple i over dims (nd axes),
//   out[obase + sum_d i_d*ostr[d]] = in[ibase + sum_d i_d*istr[d]]   (element offsets, elem bytes: 4 or 8).
// Strides may be negative (Slice with negative steps). Size-1 axes are dropped and neighbours that
// stay contiguous on both sides merged, so plain copies become a few memcpy calls.
void zf_strided_copy(void *out, int64_t obase, const int64_t *ostr, const void *in, int64_t ibase,
                     const int64_t *istr, int nd, const int64_t *dims, size_t elem, const zf_exec *ex);
// Row-major element strides of dims.
void zf_contiguous_strides(int64_t *strides, int nd, const int64_t *dims);

// Receptive field of a tensor that only moved its data around (Reshape, Squeeze, Flatten, ...):
// the input's rf when the last two axes (H, W) are the same in both shapes, so every unit keeps
// its spatial position; global when the layout is lost; invalid when the input's rf was.
void zf_rf_layout(zf_rf *out, const zf_rf *in, const zf_tensor *in_t, const zf_tensor *out_t);

// Backward rule of ops that keep every element in place (Identity, Dropout at inference, Flatten,
// Reshape, Squeeze, Unsqueeze): input 0's gradient += output 0's.
int zf_copy_backward(const zf_node *n, zf_value *v, float *const *grad, const zf_exec *ex, zf_error *err);

#endif
