// winograd.h: 3x3 stride-1 convolution as Winograd F(4x4, 3x3) or F(3x3, 3x3) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016): 36 multiplies per 4x4 block of outputs
// and input channel instead of 144 (25 per 3x3 instead of 81). Occlusion's incremental passes
// (core/incremental.c) transform the filters once per map and run hundreds of batches; the forward
// pass runs Winograd on layers with enough output tiles (zf_wino_in_forward) and keeps their
// transformed filters until the weights change (zf_wino_conv_cached; zf_conv2d_forward alone,
// through zf_wino_conv, transforms them on every call).
//
//   zf_conv_params p;  ... zf_conv_setup(&p, x, wd, &err) ...
//   if (zf_wino_applies(&p)) {
//       float *U = malloc(zf_wino_filter_bytes(&p));
//       zf_wino_filters(U, w, &p, pool);                     // once per set of weights
//       float *scratch = malloc(zf_wino_scratch_bytes(&p));
//       zf_wino_forward(out, scratch, in, U, bias, &p, pool); // = zf_conv2d_forward up to rounding
//   }
//
// Results differ from the direct convolution by rounding only (the transforms use the points 0, +-1,
// +-2): tests/test_ops_compute.c allows 2e-5 of the outputs' largest magnitude; occlusion maps of ZFNet
// and VGG-16 stay within 1e-5 of their range of the direct computation.
#ifndef ZF_WINOGRAD_H
#define ZF_WINOGRAD_H
#include <stddef.h>
#include "ops/conv.h"
#include "parallel.h"

// 1 when p is a 3x3, stride 1, undilated, ungrouped convolution with at least 16 input and output
// channels, whose output size wastes little of the 4x4 blocks (Winograd does at least 1.8x fewer
// multiplies than the direct form), and whose tensors index with 32 bits.
int zf_wino_applies(const zf_conv_params *p);
// w (K, C, 3, 3) -> U: 36 matrices (K, C), zf_wino_filter_bytes(p) bytes (4x the weights).
size_t zf_wino_filter_bytes(const zf_conv_params *p);
// The tile size used for p: 4 (F(4x4, 3x3)) or 3 (F(3x3, 3x3), when it wastes less on the output's size).
int zf_wino_tile(const zf_conv_params *p);
void zf_wino_filters(float *U, const float *w, const zf_conv_params *p, zf_pool *pool);
// 1 when the forward pass runs p as Winograd with its transformed filters kept between passes (a
// Conv node whose weights are an initializer): p (or, for a grouped p, one group of it) applies,
// p->no_winograd is 0, and there are enough tiles (N * tiles >= 40: VGG-16's layers of 28x28 and
// larger at batch 1, the 13x13 ones at batch 8; kernels split over four copies need 128, or 40 for
// the stride-2 phases). Grouped layers run group by group on copies. Scratch is sized by this.
int zf_wino_in_forward(const zf_conv_params *p);
// The same for zf_conv2d_forward, which transforms the filters on every call (weights that are not
// initializers): as zf_wino_in_forward, except that the stride-2 phases need 128 tiles too.
int zf_wino_per_call(const zf_conv_params *p);
// The scratch zf_wino_conv needs: the filters, then zf_wino_scratch_bytes.
size_t zf_wino_conv_bytes(const zf_conv_params *p);
// in (N, C, H, W), w (K, C, 3, 3), b (K) or NULL -> out; scratch: zf_wino_conv_bytes(p), 64-byte
// aligned. The filters' transform, then zf_wino_forward.
void zf_wino_conv(float *out, float *scratch, const float *in, const float *w, const float *b,
                  const zf_conv_params *p, zf_pool *pool);
// The model's forward pass keeps each layer's transformed filters (Conv's zf_node.cache) while the
// weights do not change: zf_wino_cache_bytes(p) bytes (every group's; 0 when p does not run as
// Winograd), and zf_wino_conv_cached, which computes them into `cache` first when `transform` is 1
// and reads them as they are otherwise (scratch: zf_wino_conv_bytes(p) as for zf_wino_conv).
size_t zf_wino_cache_bytes(const zf_conv_params *p);
void zf_wino_conv_cached(float *out, float *scratch, const float *in, const float *w, const float *b,
                         const zf_conv_params *p, zf_pool *pool, float *cache, int transform);
// Kernels of 4x4 to 6x6 at stride 1, or 5x5 / 6x6 at stride 2 (undilated), as a 3x3 stride-1
// convolution q over four copies of each group's input channels (4C/group channels, (OH + 2) x
// (OW + 2), no padding): shifted by 0 or 3 rows and columns, or the four stride-2 phases. 1 when p
// splits so and q is one zf_wino_applies to (tile counts aside); q receives it.
int zf_wino_split(zf_conv_params *q, const zf_conv_params *p);
// The copies of group g: in (N, C, H, W) -> dst (N, q->C, q->H, q->W), zero where they fall in p's
// padding or past the input.
void zf_wino_split_copies(float *dst, const float *in, const zf_conv_params *p, const zf_conv_params *q, int64_t g,
                          zf_pool *pool);
// q's transformed filters for group g, read from p's kernel w (K, C/group, kh, kw) in place (as
// zf_wino_filters(U, the split kernel, q)).
void zf_wino_split_filters(float *U, const float *w, const zf_conv_params *p, const zf_conv_params *q, int64_t g,
                           zf_pool *pool);
// in (N, C, H, W), U from zf_wino_filters, b (K) or NULL -> out (N, K, OH, OW), p's padding honored;
// scratch: zf_wino_scratch_bytes(p) bytes, 64-byte aligned.
size_t zf_wino_scratch_bytes(const zf_conv_params *p);
void zf_wino_forward(float *out, float *scratch, const float *in, const float *U, const float *b,
                     const zf_conv_params *p, zf_pool *pool);

#endif
