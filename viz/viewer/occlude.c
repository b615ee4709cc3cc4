// occlude.c: see occlude.h. Live probes go through core/occlude's incremental engine (only the
// square's cone is recomputed); the full map, which records every map of a layer, and anything the
// engine refuses (several outputs, an output other than the scored one) use one forward pass per
// position on the occluder's own plan.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/occlude.h"
#include "occlude.h"
#include "internal.h"

struct zfv_occluder {
    zf_model m;
    zf_tensor x;           // the occluded input (reused)
    float gray[3];
    // incremental engine for live probes, built for one (layer, unit, size, class, input)
    zf_occluder *inc;
    int inc_failed;        // the engine refused this key: plain path until the key changes
    int inc_value, inc_size;
    int64_t inc_unit, inc_cls;
    zf_tensor inc_x;       // the clean input the engine was given
};

int zfv_occluder_create(zfv_occluder **out, zf_model *plan, const zf_preprocess *pp, zf_error *err) {
    *out = NULL;
    zfv_occluder *o = zf_calloc(1, sizeof *o, err);
    if (!o) { zf_model_free(plan); memset(plan, 0, sizeof *plan); return ZF_ERR_RUNTIME; }
    o->m = *plan;
    memset(plan, 0, sizeof *plan);
    if (o->m.n_inputs != 1) {
        zfv_occluder_free(o);
        return zf_fail(err, ZF_ERR_INPUT, "occlusion needs a model with one input");
    }
    const zf_tensor *in = &o->m.values[o->m.inputs[0]].t;
    if (zf_tensor_alloc(&o->x, ZF_F32, in->ndim, in->dims, err)) { zfv_occluder_free(o); return ZF_ERR_RUNTIME; }
    int C = in->ndim == 4 ? (int)in->dims[1] : 1;
    for (int c = 0; c < 3 && c < C; c++) o->gray[c] = zf_preprocess_gray_value(pp, c, C);
    *out = o;
    return 0;
}

void zfv_occluder_free(zfv_occluder *o) {
    if (!o) return;
    zf_occlude_free(o->inc);
    zf_tensor_free(&o->inc_x);
    zf_model_free(&o->m);
    zf_tensor_free(&o->x);
    free(o);
}

void zfv_occlusion_grid(int *oh, int *ow, int H, int W, int stride) {
    if (stride < 1) stride = 1;
    *oh = (H + stride - 1) / stride;
    *ow = (W + stride - 1) / stride;
}

void zfv_occlusion_center(int *cy, int *cx, int i, int j, int stride, int H, int W) {
    int y = i * stride + stride / 2, x = j * stride + stride / 2;
    *cy = y < H ? y : H - 1;
    *cx = x < W ? x : W - 1;
}

// The engine for (t, size, x), (re)built when any of them changed. 0: ready; 1: use the plain path.
static int inc_ready(zfv_occluder *o, const zf_tensor *x, int size, const zfv_occlusion_target *t) {
    int same_x = o->inc_x.data && zf_tensor_same_shape(&o->inc_x, x) &&
                 !memcmp(o->inc_x.data, x->data, (size_t)zf_tensor_numel(x) * sizeof(float));
    int same_key = o->inc_value == t->value && o->inc_unit == t->channel && o->inc_size == size && o->inc_cls == t->cls;
    if (same_key && same_x && (o->inc || o->inc_failed)) return o->inc ? 0 : 1;
    zf_error e = {0};
    if (!same_key || o->inc_failed) {
        zf_occlude_free(o->inc);
        o->inc = NULL;
        o->inc_failed = 0;
        o->inc_value = t->value, o->inc_unit = t->channel, o->inc_size = size, o->inc_cls = t->cls;
        zf_tensor_free(&o->inc_x);
        if (o->m.n_outputs < 1 || o->m.outputs[0] != t->out_value || t->cls < 0) { o->inc_failed = 1; return 1; }
        zf_occlude_opts op = zf_occlude_defaults();
        op.patch = size;
        op.stride = size;   // the full-map positions are never used here: keep the plan small
        op.batch = 1;
        op.fill = ZF_FILL_VALUE;
        memcpy(op.fill_value, o->gray, sizeof op.fill_value);
        op.target = t->cls;
        op.layer = t->value;
        op.unit = t->value >= 0 ? t->channel : -1;
        if (t->value >= 0 && t->channel < 0) op.layer = -1, op.unit = -1;
        if (zf_occlude_create(&o->inc, &o->m, &op, &e)) { o->inc = NULL; o->inc_failed = 1; return 1; }
    }
    zf_tensor_free(&o->inc_x);
    if (zf_tensor_copy(&o->inc_x, x, &e) || zf_occlude_set_input(o->inc, x, &e)) {
        zf_occlude_free(o->inc);
        o->inc = NULL;
        o->inc_failed = 1;
        zf_tensor_free(&o->inc_x);
        if (!zf_tensor_copy(&o->inc_x, x, &e)) return 1;   // remember the input: do not retry it
        return 1;
    }
    return 0;
}

int zfv_occlude_at(zfv_probe *r, float *map, float *sums, zfv_occluder *o, const zf_tensor *x, int cy, int cx,
                   int size, const zfv_occlusion_target *t, zf_error *err) {
    memset(r, 0, sizeof *r);
    if (size < 1) size = 1;
    if (!sums && x->ndim == 4 && zf_tensor_same_shape(&o->x, x) && !inc_ready(o, x, size, t)) {
        int P = 0;
        zf_occlude_geometry(o->inc, &P, NULL, NULL, NULL);
        zf_occlude_point pt;
        if (zf_occlude_at(o->inc, cy - P / 2, cx - P / 2, &pt, err)) return err->code;
        r->prob = pt.prob;
        r->top = pt.label;
        r->top_prob = pt.label_prob;
        r->map_sum = (float)pt.unit;
        r->map_max = NAN;
        r->incremental = 1;
        (void)map;
        return 0;
    }
    if (!zf_tensor_same_shape(&o->x, x) || x->ndim != 4)
        return zf_fail(err, ZF_ERR_INPUT, "occlusion: input shape does not match the plan");
    int64_t C = x->dims[1], H = x->dims[2], W = x->dims[3];
    memcpy(o->x.data, x->data, (size_t)zf_tensor_numel(x) * sizeof(float));
    if (size < 1) size = 1;
    int64_t y0 = cy - size / 2, x0 = cx - size / 2, y1 = y0 + size, x1 = x0 + size;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > H) y1 = H;
    if (x1 > W) x1 = W;
    float *d = zf_f32(&o->x);
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = y0; y < y1; y++)
            for (int64_t xx = x0; xx < x1; xx++) d[(c * H + y) * W + xx] = o->gray[c < 3 ? c : 2];
    if (zf_model_forward(&o->m, 1, &o->x, err)) return err->code;

    const zf_tensor *out = &o->m.values[t->out_value].t;
    int64_t n = zf_tensor_numel(out);
    int64_t cls[1];
    float p[1];
    if (zfv_top_classes(cls, p, 1, zf_f32(out), n, t->is_prob, t->is_logprob) == 1) {
        r->top = cls[0];
        r->top_prob = p[0];
    }
    // p(cls): the same normalization as zfv_top_classes.
    const float *y = zf_f32(out);
    if (t->cls >= 0 && t->cls < n) {
        if (t->is_prob) r->prob = y[t->cls];
        else if (t->is_logprob) r->prob = expf(y[t->cls]);
        else {
            float mx = -INFINITY;
            for (int64_t k = 0; k < n; k++) if (y[k] > mx) mx = y[k];
            double s = 0;
            for (int64_t k = 0; k < n; k++) s += exp((double)y[k] - mx);
            r->prob = (float)(exp((double)y[t->cls] - mx) / s);
        }
    }
    if (t->value >= 0) {
        const zf_tensor *v = &o->m.values[t->value].t;
        int64_t ch = v->ndim >= 2 ? v->dims[1] : 1, hw = 1;
        for (int k = 2; k < v->ndim; k++) hw *= v->dims[k];
        const float *a = zf_f32(v);
        if (sums)
            for (int64_t c = 0; c < ch; c++) {
                double s = 0;
                for (int64_t i = 0; i < hw; i++) s += a[c * hw + i];
                sums[c] = (float)s;
            }
        if (t->channel >= 0 && t->channel < ch) {
            const float *m = a + t->channel * hw;
            double s = 0;
            float mx = -INFINITY;
            for (int64_t i = 0; i < hw; i++) { s += m[i]; if (m[i] > mx) mx = m[i]; }
            r->map_sum = (float)s;
            r->map_max = mx;
            if (map) { memcpy(map, m, (size_t)hw * sizeof(float)); r->have_map = 1; }
        }
    }
    return 0;
}
