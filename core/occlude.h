// occlude.h: occlusion sensitivity (Zeiler & Fergus 2014, fig. 7) with Captum's window rule,
// computed by exact incremental inference (Krypton, SIGMOD 2019; core/incremental.h).
//
//   zf_occlude_opts o = zf_occlude_defaults();       // patch/stride from the input size, gray fill
//   o.fill_value[c] = zf_preprocess_gray_value(&pp, c, C);   // what mid-gray becomes (per channel)
//   zf_occluder *oc = NULL;
//   if (zf_occlude_create(&oc, &m, &o, &err)) return err.code;    // plans once per model
//   if (zf_occlude_set_input(oc, &x, &err)) return err.code;        // clean forward, target, baseline
//   zf_occlude_result r = {0};
//   if (zf_occlude_map(oc, &r, &err)) return err.code;              // r.map_prob (H,W), r.pos_label ...
//   zf_occlude_point pt; zf_occlude_at(oc, 100, 60, &pt, &err);     // one square, cheap (viewer)
//   zf_occlude_result_free(&r); zf_occlude_free(oc);
//
// Positions follow Captum's Occlusion: per axis ceil((D - P) / S) + 1 squares starting at k*S, the
// last clipped at the border. Inside the square the input shows the baseline (fill); the map value
// of a pixel is the mean, over every square covering it, of (clean - occluded) for the measure, so
// a positive value means "hiding this lowers the score". Measures, all from one pass: the target
// class's probability and logit, the total activation of one feature map (--layer/--unit), and the
// most probable class at each position (a label map, fig. 7(e)).
#ifndef ZF_OCCLUDE_H
#define ZF_OCCLUDE_H
#include <stdint.h>
#include "graph.h"
#include "progress.h"

typedef enum {
    ZF_FILL_GRAY = 0,   // fill_value: what preprocessing maps mid-gray to (the paper's gray square)
    ZF_FILL_MEAN,       // each channel's mean over the input
    ZF_FILL_ZERO,       // 0 in model input units (Captum's default baseline)
    ZF_FILL_BLUR,       // the input blurred (Gaussian, sigma = patch / 4)
    ZF_FILL_VALUE,      // fill_value per channel, model input units
} zf_fill;

typedef struct zf_occlude_opts {
    int patch;              // square side in input pixels; 0: 32 at 224, scaled with min(H, W)
    int stride;             // step; 0: 8 at 224, scaled likewise (so the default squares always overlap)
    zf_fill fill;
    float fill_value[3];    // GRAY and VALUE: per input channel (model units); channels > 3 reuse [2]
    int batch;              // positions per batch; 0: automatic (128, 64 with approx; within max_bytes)
    size_t max_bytes;       // memory for batch buffers; 0: 2 GB
    int naive;              // run every position through the whole network (the slow, simple path)
    int no_winograd;        // incremental 3x3 convolutions as im2col + GEMM, not Winograd (comparisons)
    int64_t target;         // class index; -1: the top class on the clean input
    int layer;              // value index of a feature map to measure (zf_model_find); -1: none
    int64_t unit;           // its channel; -1: the map holding the layer's largest clean activation
    int approx;             // Krypton's adaptive drill-down: coarse grid first, then exact positions
                            // only where the coarse map is strongest (approximate; off by default)
    int approx_factor;      // coarse stride = factor * stride (default 2)
    double approx_keep;     // fraction of the other (non-coarse) positions then computed exactly,
                            // those with the largest interpolated drop (default 0.2)
    zf_progress *progress;  // optional: counts positions
    double *profile;        // optional, n_nodes entries: seconds per node of the incremental plan, added
} zf_occlude_opts;

typedef struct zf_occlude_result {
    int H, W;               // input size = map size
    int patch, stride;
    int ny, nx;             // positions per axis (row-major pos arrays below)
    int64_t *ys, *xs;       // square starts per axis
    int64_t classes;
    int64_t target;         // the measured class
    int64_t clean_label;    // top class on the clean input
    float clean_label_prob;
    float clean_prob, clean_logit;   // target's, clean input
    float *pos_prob, *pos_logit;     // (ny*nx) target's probability / logit with the square at each position
    int64_t *pos_label;              // (ny*nx) most probable class per position
    float *pos_label_prob;           // (ny*nx) its probability
    float *map_prob, *map_logit;     // (H*W) mean over covering squares of clean - occluded
    int layer;                       // -1 when no feature map was measured
    int64_t unit;
    double clean_unit;               // total activation of the map, clean input
    float *pos_unit, *map_unit;      // as above (NULL without a layer)
    int drop_pos;                    // position with the lowest target probability
    float drop;                      // clean_prob - pos_prob[drop_pos]
    int approx;                      // 1: computed with the adaptive drill-down (approximate)
    int computed;                    // positions evaluated by the network (all unless approx)
    int batch;                       // positions per batch used
    double seconds;                  // wall time of the map
    double flops_incremental, flops_full;   // per position (multiply-add = 2)
} zf_occlude_result;

// One square's measures (zf_occlude_at).
typedef struct zf_occlude_point {
    float prob, logit;               // target's
    int64_t label;                   // most probable class
    float label_prob;
    double unit;                     // total activation of the measured map (0 without a layer)
} zf_occlude_point;

typedef struct zf_occluder zf_occluder;

zf_occlude_opts zf_occlude_defaults(void);
// Captum's positions along an axis of D pixels: count, and starts (NULL to only count).
int zf_occlude_positions(int64_t *starts, int64_t D, int patch, int stride);

// Plans the incremental passes for m's input size (m must stay alive and unchanged; occlusion
// writes nothing into it except through the clean forward of zf_occlude_set_input and the naive
// path's forward passes, after which the clean activations are restored).
int zf_occlude_create(zf_occluder **out, zf_model *m, const zf_occlude_opts *o, zf_error *err);
// Changes the fill for the next zf_occlude_set_input (e.g. image inputs fill in pixel units, tensor
// inputs in model units).
void zf_occlude_set_fill(zf_occluder *oc, zf_fill fill, const float value[3]);
// The clean input x (1,C,H,W): runs the clean forward pass, chooses the target (and unit), builds the
// baseline.
int zf_occlude_set_input(zf_occluder *oc, const zf_tensor *x, zf_error *err);
// The whole map; r is filled (free with zf_occlude_result_free).
int zf_occlude_map(zf_occluder *oc, zf_occlude_result *r, zf_error *err);
// The square with its top-left corner at (y, x) (may hang over the border; -patch < y < H), computed
// incrementally with a batch of one (planned on first use). Cheap enough to follow a mouse.
int zf_occlude_at(zf_occluder *oc, int y, int x, zf_occlude_point *pt, zf_error *err);
// The clean input's measures (after zf_occlude_set_input).
void zf_occlude_clean(const zf_occluder *oc, zf_occlude_point *pt, int64_t *target, int64_t *unit);
// The resolved square side and step, and the number of positions per axis.
void zf_occlude_geometry(const zf_occluder *oc, int *patch, int *stride, int *ny, int *nx);
// One line per node: how the incremental plan computes it ("conv1 Conv box-kernel box 19x19 of 110x110").
void zf_occlude_describe(const zf_occluder *oc, void (*line)(void *ctx, const char *text), void *ctx);
void zf_occlude_result_free(zf_occlude_result *r);
void zf_occlude_free(zf_occluder *oc);

// Fills map (H*W) with the mean over the squares covering each pixel of pos (ny*nx) values
// (Captum's averaging). Pixels no square covers get 0.
void zf_occlude_accumulate(float *map, const float *pos, int H, int W, const int64_t *ys, int ny, const int64_t *xs,
                           int nx, int patch);

#endif
