// occlude.h: the viewer's occlusion probe (Zeiler & Fergus 2014, sec. 4.2 and Fig. 7): a mid-gray
// square painted over the input and one full forward pass per square position, on a plan of its own
// so the recorded forward pass of the clean image (grid, projections) stays untouched.
//
//   zfv_occluder *o = NULL;
//   if (zfv_occluder_create(&o, &plan, &pp, &err)) return err.code;   // takes the plan
//   zfv_probe p;
//   zfv_occlude_at(&p, map, NULL, o, &x, 112, 80, 37, value, 12, top_class, &err);   // square at (112, 80)
//   ... p.prob (class probability with the square), map (the watched map under occlusion) ...
//   zfv_occluder_free(o);
//
// Without sums (live probes), zfv_occlude_at uses core/occlude's incremental engine (recomputing
// only the square's receptive-field cone; rebuilt, with one clean forward, when the watched map, the
// square's size, the class or the input change): it gives p(class), the top class and the map's total
// but not the occluded map itself (have_map = 0, map_max NaN). With sums (the full map, every map's
// total), or when the engine refuses the model, it runs one whole forward pass per position and
// fills map. Positions of a full map are the centers of a stride grid, so
// map cell (i, j) covers input block [i*stride, (i+1)*stride) x [j*stride, (j+1)*stride) and the map
// overlays the image exactly; squares near the border are clipped to the image.
#ifndef ZF_VIEWER_OCCLUDE_H
#define ZF_VIEWER_OCCLUDE_H
#include <stdint.h>
#include "core/graph.h"
#include "core/image.h"

typedef struct zfv_occluder zfv_occluder;

typedef struct zfv_probe {
    float prob;            // p(cls) with the square
    int64_t top;           // the most probable class with the square
    float top_prob;
    float map_sum, map_max;   // the watched map (value, channel) under occlusion (map_max NaN: unknown)
    int have_map;          // 1: map was filled (plain path)
    int incremental;       // 1: answered by core/occlude's incremental engine
} zfv_probe;

// Takes ownership of *plan (zeroed on return, also on error). pp gives the gray value per channel.
int zfv_occluder_create(zfv_occluder **out, zf_model *plan, const zf_preprocess *pp, zf_error *err);
void zfv_occluder_free(zfv_occluder *o);

// Paints a size x size square centred on input pixel (cy, cx) of x (1,C,H,W) and runs the plan.
// value/channel: the watched map (value < 0: none). map (H*W of that map) and sums (one total per
// channel of the value) are optional outputs. out_value: the scored output; is_prob/is_logprob as in
// zfv_top_classes.
typedef struct zfv_occlusion_target {
    int value;             // watched tensor (-1: none)
    int64_t channel;
    int out_value;
    int64_t cls;
    int is_prob, is_logprob;
} zfv_occlusion_target;

int zfv_occlude_at(zfv_probe *r, float *map, float *sums, zfv_occluder *o, const zf_tensor *x, int cy, int cx,
                   int size, const zfv_occlusion_target *t, zf_error *err);
// Number of positions of a full map: ceil(H / stride) x ceil(W / stride).
void zfv_occlusion_grid(int *oh, int *ow, int H, int W, int stride);
// Center of map cell (i, j).
void zfv_occlusion_center(int *cy, int *cx, int i, int j, int stride, int H, int W);

#endif
