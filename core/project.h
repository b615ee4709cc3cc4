// project.h: project a recorded unit back to the input image: Zeiler & Fergus's deconvnet (2014,
// sec. 2.1), guided backpropagation (Springenberg et al. 2015) or the plain gradient (Simonyan et
// al. 2014), computed only inside the unit's receptive field.
//
//   zf_projector *pj = NULL;
//   if (zf_projector_create(&pj, &m, &err)) return err.code;    // once per loaded model
//   if (zf_model_forward(&m, 1, &x, &err)) return err.code;      // once per image
//   zf_project_opts o = zf_project_defaults();                   // deconvnet, strongest activation
//   o.value = zf_model_find(&m, "conv5"); o.channel = 12;        // of map 12 of conv5
//   zf_tensor proj = {0}; zf_project_info info;
//   if (zf_project(&proj, &info, pj, &o, &err)) return err.code; // proj (1,3,224,224): input space
//   zf_projector_free(pj); zf_tensor_free(&proj);
//
// The three rules share one backward walk and differ only at rectifiers and normalization:
//   deconvnet  ReLU passes relu(signal) whatever the forward sign; LRN is skipped (identity).
//   guided     ReLU passes relu(signal) where the forward input was positive; LRN's true gradient.
//   gradient   ReLU passes the signal where the forward input was positive; LRN's true gradient.
// Everywhere else the signal follows the gradient: max-pools unpool through the switches recorded
// in the forward pass, convolutions and fully connected layers apply their transposed weights (no
// bias), BatchNormalization its scale, Add sends the signal to both inputs, Concat splits it, and
// so on; each op's rule lives in its own file under core/ops/ (see core/ops/proj.h).
//
// The seed keeps the chosen activations at their recorded values and zeroes every other one, as
// the paper does, so projections scale with the activation. Captum's neuron attributions seed with
// 1 instead: they equal these divided by the activation when no LRN is crossed.
//
// Box-sparse: a unit's projection is nonzero only inside its receptive field, so every layer's
// signal lives in a box (per axis [lo, hi) of that tensor) derived from the layer above by the same
// window arithmetic as the receptive field; each rule computes only inside its boxes. `dense`
// computes on whole tensors instead (the check that boxes lose nothing). The projector allocates
// one signal buffer per tensor when created; zf_project allocates nothing (except `out` the first
// time, when it is not already the right shape). One projection at a time per projector; the
// model's thread pool runs its loops. docs/deconvolution.md explains the choices.
#ifndef ZF_PROJECT_H
#define ZF_PROJECT_H
#include <stdint.h>
#include "graph.h"

typedef enum { ZF_RULE_DECONVNET = 0, ZF_RULE_GUIDED, ZF_RULE_GRADIENT, ZF_RULE_COUNT } zf_rule;

typedef enum {
    ZF_SEED_MAX = 0,   // the single strongest activation of the map (the paper's figures)
    ZF_SEED_MAP,       // the whole map, every position at its recorded value
    ZF_SEED_AT,        // the activation at (y, x)
} zf_seed;

typedef struct zf_project_opts {
    zf_rule rule;
    int value;         // the tensor examined (a value index: zf_model_find)
    int64_t item;      // batch item
    int64_t channel;   // map (axis 1) of that tensor; the unit of an (N, units) tensor
    zf_seed seed;
    int64_t y, x;      // ZF_SEED_AT: position in the map ((N,C,L) tensors: x only, y 0)
    int dense;         // 1: compute on whole tensors (reference for the box-sparse result)
    int target;        // value projected onto; -1: the model's first graph input
} zf_project_opts;

typedef struct zf_project_info {
    float value;       // the seed activation (ZF_SEED_MAP: the map's maximum)
    int64_t y, x;      // its position (ZF_SEED_MAP: the maximum's); (N, units) tensors: 0, 0
    int empty;         // 1: no signal reached the target (everything was rectified away); out is 0
    // Box of the target's spatial axes (H then W) outside which out is zero: [box[a][0], box[a][1]).
    // Whole target when it has no (N,C,H,W) layout.
    int64_t box[2][2];
    // The unit's receptive field from the plan (zf_rf), clipped to the target; the whole target for
    // ZF_SEED_MAP, global tensors, or when the rf is unknown. box lies inside it.
    int64_t rf[2][2];
    int64_t nodes;     // nodes the walk went through
} zf_project_info;

typedef struct zf_projector zf_projector;

zf_project_opts zf_project_defaults(void);   // deconvnet, max, item 0, channel 0, target -1
// "deconvnet", "guided", "gradient".
const char *zf_rule_name(zf_rule r);
// Name -> rule; the error lists the names. The caller prefixes the flag.
int zf_rule_parse(zf_rule *r, const char *name, zf_error *err);

// Signal buffers for every tensor that depends on the model's float inputs (one batch item each),
// sized for the planned shapes. m must outlive the projector and keep its plan.
int zf_projector_create(zf_projector **out, zf_model *m, zf_error *err);
void zf_projector_free(zf_projector *pj);
// Optional: zf_project adds each node's seconds (box arithmetic, zeroing, the rule) to
// seconds[node index] (n_nodes entries, caller-owned); NULL turns it off.
void zf_projector_set_profile(zf_projector *pj, double *seconds);

// Projects one unit of the last zf_model_forward. out gets the target's shape with batch 1
// ((1,C,H,W) for an image), reallocated only when its shape differs. info may be NULL.
// Errors (ZF_ERR_INPUT): the tensor is not float or has no producer, channel/position/item out of
// range, "layer 'conv5': projection through node 'x' (Op) is not defined", a tensor on the way
// without the batch axis first (batch > 1 only).
int zf_project(zf_tensor *out, zf_project_info *info, zf_projector *pj, const zf_project_opts *opts,
               zf_error *err);

// Projects maps channels[0..n) of one tensor, each separately, as zf_project with o->channel =
// channels[k] would: out gets n results of the target's item shape back to back (NULL: infos only),
// infos n entries (or NULL). Faster than n zf_project calls: the maps are spread over the model's
// threads, one map per thread at a time, each thread walking a few maps together node by node so that
// a layer's weights are read once for them. The extra signal buffers ("lanes", one per map in
// flight) are allocated on first use and kept until zf_projector_free. Errors as zf_project's;
// zf_projector_signal does not report these walks.
int zf_project_maps(float *out, zf_project_info *infos, zf_projector *pj, const zf_project_opts *o,
                    const int64_t *channels, int n, zf_error *err);

// After zf_project: the signal that reached value v (one batch item, v's shape with batch 1) and
// the box outside which it is zero (lo/hi per axis, axis 0 = batch). NULL when v received none.
// Valid until the next zf_project. Box-sparse walks skip some intermediate signals: the output of a
// ReLU whose only consumer is a MaxPool (the pool rectifies while unpooling) and the output of an
// identity rule (deconvnet's LRN) that handed its buffer down report NULL; dense walks keep all.
const float *zf_projector_signal(const zf_projector *pj, int v, int64_t lo[ZF_MAX_DIMS], int64_t hi[ZF_MAX_DIMS]);

// The n maps (axis-1 channels) of value v, batch item `item`, with the strongest maximum
// activation, strongest first; writes min(n, channels) entries and returns that count (-1 and err
// when v is not a float tensor of rank >= 2 or item is out of range). maxima may be NULL.
int zf_project_top_maps(int64_t *channels, float *maxima, int n, const zf_model *m, int v, int64_t item,
                        zf_error *err);

#endif
