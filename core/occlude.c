// occlude.c: occlusion maps (see occlude.h): positions, baselines, measures, Captum's averaging, the
// naive path, Krypton's adaptive drill-down, and single squares for the viewer.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "occlude.h"
#include "incremental.h"
#include "ops/op.h"

struct zf_occluder {
    zf_model *m;
    zf_occlude_opts o;
    int C, H, W;
    int patch, stride;
    int ny, nx;
    int64_t *ys, *xs;
    zf_inc *inc;                // the grid plan (NULL on the naive path)
    zf_inc *one;                // batch-of-one plan over every start (zf_occlude_at), made on first use
    int64_t *one_ys, *one_xs;
    int B;
    int have_input;
    zf_tensor x;                // clean input (1,C,H,W)
    float *baseline;            // (C,H,W)
    zf_tensor xo;               // naive path: the occluded input
    int out_v, logit_v, prob_kind;   // prob_kind 0: output are logits; 1: Softmax; 2: LogSoftmax
    int64_t classes;
    int64_t target, unit;
    int layer;
    zf_occlude_point clean;
    int64_t clean_label;
    float clean_label_prob;
    float *work;                // classes floats
    int *biy;                   // 2*B: a batch's position indices
};

static unsigned inc_flags(const zf_occluder *oc) { return oc->o.no_winograd ? ZF_INC_NO_WINOGRAD : 0u; }

zf_occlude_opts zf_occlude_defaults(void) {
    zf_occlude_opts o;
    memset(&o, 0, sizeof o);
    o.fill = ZF_FILL_GRAY;
    o.fill_value[0] = o.fill_value[1] = o.fill_value[2] = 0.5f;
    o.target = -1;
    o.layer = -1;
    o.unit = -1;
    o.approx_factor = 2;
    o.approx_keep = 0.2;
    return o;
}

int zf_occlude_positions(int64_t *starts, int64_t D, int patch, int stride) {
    if (patch > D) patch = (int)D;
    int64_t n = (D - patch + stride - 1) / stride + 1;
    if (starts)
        for (int64_t k = 0; k < n; k++) starts[k] = k * stride;
    return (int)n;
}

void zf_occlude_accumulate(float *map, const float *pos, int H, int W, const int64_t *ys, int ny, const int64_t *xs,
                           int nx, int patch) {
    double *sum = calloc((size_t)H * W, sizeof *sum);
    int *cy = calloc((size_t)H, sizeof *cy), *cx = calloc((size_t)W, sizeof *cx);
    if (!sum || !cy || !cx) {
        for (int64_t i = 0; i < (int64_t)H * W; i++) map[i] = NAN;
        free(sum); free(cy); free(cx);
        return;
    }
    for (int i = 0; i < ny; i++)
        for (int64_t y = ys[i] < 0 ? 0 : ys[i]; y < ys[i] + patch && y < H; y++) cy[y]++;
    for (int j = 0; j < nx; j++)
        for (int64_t x = xs[j] < 0 ? 0 : xs[j]; x < xs[j] + patch && x < W; x++) cx[x]++;
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < nx; j++) {
            double v = pos[i * nx + j];
            for (int64_t y = ys[i] < 0 ? 0 : ys[i]; y < ys[i] + patch && y < H; y++) {
                double *row = sum + y * W;
                for (int64_t x = xs[j] < 0 ? 0 : xs[j]; x < xs[j] + patch && x < W; x++) row[x] += v;
            }
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int c = cy[y] * cx[x];
            map[(int64_t)y * W + x] = c ? (float)(sum[(int64_t)y * W + x] / c) : 0.0f;
        }
    free(sum); free(cy); free(cx);
}

// --- creation ----------------------------------------------------------------------------------------

static int scaled(int at224, int side) {
    int v = (int)lround((double)at224 * side / 224.0);
    return v < 1 ? 1 : v;
}

void zf_occlude_free(zf_occluder *oc) {
    if (!oc) return;
    zf_inc_free(oc->inc);
    zf_inc_free(oc->one);
    free(oc->ys); free(oc->xs); free(oc->one_ys); free(oc->one_xs);
    zf_tensor_free(&oc->x);
    zf_tensor_free(&oc->xo);
    free(oc->baseline);
    free(oc->work);
    free(oc->biy);
    free(oc);
}

int zf_occlude_create(zf_occluder **out, zf_model *m, const zf_occlude_opts *o, zf_error *err) {
    *out = NULL;
    zf_occlude_opts d = zf_occlude_defaults();
    if (!o) o = &d;
    if (m->n_inputs != 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a model with one input, this one has %d", m->path,
                       m->n_inputs);
    const zf_tensor *xt = &m->values[m->inputs[0]].t;
    if (xt->ndim != 4 || xt->dims[0] != 1 || xt->dtype != ZF_F32) {
        char s[128];
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a (1,C,H,W) float input, the model's is %s", m->path,
                       zf_shape_str(s, sizeof s, xt->ndim, xt->dims));
    }
    if (m->n_outputs < 1 || m->values[m->outputs[0]].t.dtype != ZF_F32 || m->values[m->outputs[0]].t.dims[0] != 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion needs a float (1, classes) output", m->path);
    zf_occluder *oc = zf_calloc(1, sizeof *oc, err);
    if (!oc) return ZF_ERR_RUNTIME;
    oc->m = m;
    oc->o = *o;
    oc->C = (int)xt->dims[1];
    oc->H = (int)xt->dims[2];
    oc->W = (int)xt->dims[3];
    int side = oc->H < oc->W ? oc->H : oc->W;
    oc->patch = o->patch > 0 ? o->patch : scaled(32, side);
    oc->stride = o->stride > 0 ? o->stride : scaled(8, side);
    if (oc->patch > side) oc->patch = side;
    int rc = ZF_ERR_RUNTIME;
    oc->ny = zf_occlude_positions(NULL, oc->H, oc->patch, oc->stride);
    oc->nx = zf_occlude_positions(NULL, oc->W, oc->patch, oc->stride);
    if (!(oc->ys = zf_malloc((size_t)oc->ny * sizeof(int64_t), err)) ||
        !(oc->xs = zf_malloc((size_t)oc->nx * sizeof(int64_t), err)) ||
        !(oc->baseline = zf_malloc((size_t)oc->C * oc->H * oc->W * sizeof(float), err)))
        goto fail;
    zf_occlude_positions(oc->ys, oc->H, oc->patch, oc->stride);
    zf_occlude_positions(oc->xs, oc->W, oc->patch, oc->stride);
    const zf_tensor *ot = &m->values[m->outputs[0]].t;
    oc->out_v = m->outputs[0];
    oc->classes = zf_tensor_numel(ot);
    oc->logit_v = oc->out_v;
    int prod = m->values[oc->out_v].producer;
    if (prod >= 0) {
        const zf_node *n = &m->nodes[prod];
        int kind = !strcmp(n->op->type, "Softmax") ? 1 : !strcmp(n->op->type, "LogSoftmax") ? 2 : 0;
        if (kind && n->in[0] >= 0 && zf_tensor_numel(&m->values[n->in[0]].t) == oc->classes) {
            oc->prob_kind = kind;
            oc->logit_v = n->in[0];
        }
    }
    if (!(oc->work = zf_malloc((size_t)oc->classes * sizeof(float), err))) goto fail;
    oc->layer = o->layer;
    if (oc->layer >= m->n_values) {
        rc = zf_fail(err, ZF_ERR_INPUT, "occlusion: layer index %d out of range", oc->layer);
        goto fail;
    }
    if (oc->layer >= 0) {
        const zf_value *lv = &m->values[oc->layer];
        if (lv->t.dtype != ZF_F32 || lv->is_const || !lv->t.data || lv->t.ndim < 2 || lv->t.dims[0] != 1) {
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: '%s' is not a feature map (a recorded (1,C,...) float tensor)",
                         m->path, lv->name);
            goto fail;
        }
        if (o->unit >= lv->t.dims[1]) {
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: '%s' has %lld maps, --unit %lld is out of range", m->path, lv->name,
                         (long long)lv->t.dims[1], (long long)o->unit);
            goto fail;
        }
    }
    if (o->target >= oc->classes) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: target class %lld is out of range (the model has %lld classes)", m->path,
                     (long long)o->target, (long long)oc->classes);
        goto fail;
    }
    if (!o->naive) {
        int64_t npos = (int64_t)oc->ny * oc->nx;
        // Batches of 128 keep the fully connected layers' GEMMs efficient; the drill-down evaluates
        // a few short lists, where a half-empty batch would cost as much as a full one.
        int B = o->batch > 0 ? o->batch : o->approx ? 64 : 128;
        if (B > npos) B = (int)npos;
        size_t budget = o->max_bytes ? o->max_bytes : ((size_t)2 << 30);
        const unsigned flags = inc_flags(oc);
        if (o->batch <= 0)
            for (;;) {
                size_t bytes = 0;
                if ((rc = zf_inc_bytes(&bytes, m, B, oc->ys, oc->ny, oc->xs, oc->nx, oc->patch, oc->patch, flags, err))) goto fail;
                if (bytes <= budget || B == 1) break;
                B /= 2;
            }
        // Batches of equal size: every batch runs whole (625 positions: 5 x 125, not 4 x 128 + 113
        // computed as 128).
        if (o->batch <= 0 && !o->approx) {
            const int64_t nb = (npos + B - 1) / B;
            B = (int)((npos + nb - 1) / nb);
        }
        oc->B = B;
        if (!(oc->biy = zf_malloc((size_t)B * 2 * sizeof(int), err))) goto fail;
        if ((rc = zf_inc_create(&oc->inc, m, B, oc->ys, oc->ny, oc->xs, oc->nx, oc->patch, oc->patch, flags, err))) goto fail;
        if (o->profile) zf_inc_set_profile(oc->inc, o->profile);
    } else {
        oc->B = 1;
        if (zf_tensor_alloc(&oc->xo, ZF_F32, 4, xt->dims, err)) goto fail;
    }
    *out = oc;
    return 0;
fail:
    zf_occlude_free(oc);
    return err && err->code ? err->code : rc;
}

// --- the clean input ---------------------------------------------------------------------------------

static void blur_axis(float *dst, const float *src, int n, int stride, int count, int cstride, const float *k, int r) {
    for (int c = 0; c < count; c++) {
        const float *s = src + (int64_t)c * cstride;
        float *d = dst + (int64_t)c * cstride;
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int t = -r; t <= r; t++) {
                int j = i + t;
                if (j < 0) j = 0;
                if (j >= n) j = n - 1;
                acc += k[t + r] * s[(int64_t)j * stride];
            }
            d[(int64_t)i * stride] = (float)acc;
        }
    }
}

static int make_baseline(zf_occluder *oc, zf_error *err) {
    const int C = oc->C, H = oc->H, W = oc->W;
    const float *x = zf_f32(&oc->x);
    int64_t hw = (int64_t)H * W;
    for (int c = 0; c < C; c++) {
        float v = 0.0f;
        switch (oc->o.fill) {
        case ZF_FILL_GRAY:
        case ZF_FILL_VALUE: v = oc->o.fill_value[c < 3 ? c : 2]; break;
        case ZF_FILL_ZERO: v = 0.0f; break;
        case ZF_FILL_MEAN: {
            double s = 0;
            for (int64_t i = 0; i < hw; i++) s += x[c * hw + i];
            v = (float)(s / (double)hw);
            break;
        }
        case ZF_FILL_BLUR: break;
        }
        if (oc->o.fill != ZF_FILL_BLUR)
            for (int64_t i = 0; i < hw; i++) oc->baseline[c * hw + i] = v;
    }
    if (oc->o.fill == ZF_FILL_BLUR) {
        double sigma = oc->patch / 4.0;
        if (sigma < 0.5) sigma = 0.5;
        int r = (int)ceil(3 * sigma);
        float *k = zf_malloc((size_t)(2 * r + 1) * sizeof(float), err);
        float *tmp = zf_malloc((size_t)C * hw * sizeof(float), err);
        if (!k || !tmp) { free(k); free(tmp); return ZF_ERR_RUNTIME; }
        double s = 0;
        for (int t = -r; t <= r; t++) s += k[t + r] = (float)exp(-0.5 * t * t / (sigma * sigma));
        for (int t = 0; t <= 2 * r; t++) k[t] = (float)(k[t] / s);
        // Rows (along W), then columns (along H); edges clamped.
        for (int c = 0; c < C; c++) blur_axis(tmp + c * hw, x + c * hw, W, 1, H, W, k, r);
        for (int c = 0; c < C; c++) blur_axis(oc->baseline + c * hw, tmp + c * hw, H, W, W, 1, k, r);
        free(k);
        free(tmp);
    }
    return 0;
}

// Target and label measures of one output vector y (classes) with its logits.
static void measure(const zf_occluder *oc, const float *y, const float *logits, zf_occlude_point *pt, int64_t target) {
    int64_t n = oc->classes, best = 0;
    for (int64_t c = 1; c < n; c++)
        if (y[c] > y[best]) best = c;
    pt->label = best;
    if (oc->prob_kind == 1) {
        pt->prob = y[target];
        pt->label_prob = y[best];
    } else if (oc->prob_kind == 2) {
        pt->prob = expf(y[target]);
        pt->label_prob = expf(y[best]);
    } else {
        double s = 0;
        float mx = y[best];
        for (int64_t c = 0; c < n; c++) s += exp((double)y[c] - mx);
        pt->prob = (float)(exp((double)y[target] - mx) / s);
        pt->label_prob = (float)(1.0 / s);
    }
    pt->logit = logits[target];
}

static double clean_channel_sum(const zf_tensor *t, int64_t c) {
    int64_t ch = t->dims[1], inner = zf_tensor_numel(t) / ch;
    double s = 0;
    for (int64_t i = 0; i < inner; i++) s += zf_f32(t)[c * inner + i];
    return s;
}

void zf_occlude_set_fill(zf_occluder *oc, zf_fill fill, const float value[3]) {
    oc->o.fill = fill;
    if (value) memcpy(oc->o.fill_value, value, sizeof oc->o.fill_value);
}

int zf_occlude_set_input(zf_occluder *oc, const zf_tensor *x, zf_error *err) {
    zf_model *m = oc->m;
    const zf_tensor *xt = &m->values[m->inputs[0]].t;
    if (!zf_tensor_same_shape(x, xt)) {
        char a[128], b[128];
        return zf_fail(err, ZF_ERR_INPUT, "%s: occlusion input is %s, the model expects %s", m->path,
                       zf_shape_str(a, sizeof a, x->ndim, x->dims), zf_shape_str(b, sizeof b, xt->ndim, xt->dims));
    }
    if (zf_tensor_copy(&oc->x, x, err)) return err->code;
    if (zf_model_forward(m, 1, &oc->x, err)) return err->code;
    if (make_baseline(oc, err)) return err->code;
    const float *y = zf_f32(&m->values[oc->out_v].t), *lg = zf_f32(&m->values[oc->logit_v].t);
    zf_occlude_point pt;
    measure(oc, y, lg, &pt, 0);
    oc->clean_label = pt.label;
    oc->clean_label_prob = pt.label_prob;
    oc->target = oc->o.target >= 0 ? oc->o.target : pt.label;
    measure(oc, y, lg, &oc->clean, oc->target);
    oc->unit = -1;
    oc->clean.unit = 0;
    if (oc->layer >= 0) {
        const zf_tensor *t = &m->values[oc->layer].t;
        oc->unit = oc->o.unit;
        if (oc->unit < 0) {   // the map holding the largest activation (the paper's "strongest")
            int64_t inner = zf_tensor_numel(t) / t->dims[1], bi = 0;
            for (int64_t i = 1; i < zf_tensor_numel(t); i++)
                if (zf_f32(t)[i] > zf_f32(t)[bi]) bi = i;
            oc->unit = bi / inner;
        }
        oc->clean.unit = clean_channel_sum(t, oc->unit);
    }
    oc->have_input = 1;
    return 0;
}

void zf_occlude_clean(const zf_occluder *oc, zf_occlude_point *pt, int64_t *target, int64_t *unit) {
    if (pt) *pt = oc->clean;
    if (target) *target = oc->target;
    if (unit) *unit = oc->unit;
}

// --- maps ------------------------------------------------------------------------------------------

static int alloc_result(zf_occluder *oc, zf_occlude_result *r, zf_error *err) {
    memset(r, 0, sizeof *r);
    int64_t np = (int64_t)oc->ny * oc->nx, hw = (int64_t)oc->H * oc->W;
    r->H = oc->H; r->W = oc->W; r->patch = oc->patch; r->stride = oc->stride; r->ny = oc->ny; r->nx = oc->nx;
    r->classes = oc->classes;
    r->target = oc->target;
    r->clean_label = oc->clean_label;
    r->clean_label_prob = oc->clean_label_prob;
    r->clean_prob = oc->clean.prob;
    r->clean_logit = oc->clean.logit;
    r->layer = oc->layer >= 0 ? oc->layer : -1;
    r->unit = oc->unit;
    r->clean_unit = oc->clean.unit;
    r->batch = oc->B;
    if (!(r->ys = zf_malloc((size_t)oc->ny * sizeof(int64_t), err)) ||
        !(r->xs = zf_malloc((size_t)oc->nx * sizeof(int64_t), err)) ||
        !(r->pos_prob = zf_calloc((size_t)np, sizeof(float), err)) ||
        !(r->pos_logit = zf_calloc((size_t)np, sizeof(float), err)) ||
        !(r->pos_label = zf_calloc((size_t)np, sizeof(int64_t), err)) ||
        !(r->pos_label_prob = zf_calloc((size_t)np, sizeof(float), err)) ||
        !(r->map_prob = zf_calloc((size_t)hw, sizeof(float), err)) ||
        !(r->map_logit = zf_calloc((size_t)hw, sizeof(float), err)))
        return ZF_ERR_RUNTIME;
    if (oc->layer >= 0 && (!(r->pos_unit = zf_calloc((size_t)np, sizeof(float), err)) ||
                           !(r->map_unit = zf_calloc((size_t)hw, sizeof(float), err))))
        return ZF_ERR_RUNTIME;
    memcpy(r->ys, oc->ys, (size_t)oc->ny * sizeof(int64_t));
    memcpy(r->xs, oc->xs, (size_t)oc->nx * sizeof(int64_t));
    if (oc->inc) zf_inc_stats(oc->inc, &r->flops_incremental, &r->flops_full);
    return 0;
}

static void store(zf_occlude_result *r, int64_t i, const zf_occlude_point *pt) {
    r->pos_prob[i] = pt->prob;
    r->pos_logit[i] = pt->logit;
    r->pos_label[i] = pt->label;
    r->pos_label_prob[i] = pt->label_prob;
    if (r->pos_unit) r->pos_unit[i] = (float)pt->unit;
}

// Evaluates the listed positions (indices into the ny x nx grid) incrementally, in batches.
static int eval_incremental(zf_occluder *oc, zf_occlude_result *r, const int64_t *list, int64_t count, zf_error *err) {
    int B = oc->B, *iy = oc->biy, *ix = oc->biy + B;
    for (int64_t s = 0; s < count; s += B) {
        int nb = count - s < B ? (int)(count - s) : B;
        for (int p = 0; p < nb; p++) {
            iy[p] = (int)(list[s + p] / oc->nx);
            ix[p] = (int)(list[s + p] % oc->nx);
        }
        if (zf_inc_run(oc->inc, nb, iy, ix, oc->baseline, err)) return err->code;
        for (int p = 0; p < nb; p++) {
            const float *y = zf_inc_output(oc->inc, oc->out_v, p, err);
            const float *lg = oc->logit_v == oc->out_v ? y : zf_inc_output(oc->inc, oc->logit_v, p, err);
            if (!y || !lg) return err->code;
            zf_occlude_point pt;
            measure(oc, y, lg, &pt, oc->target);
            pt.unit = oc->layer >= 0 ? zf_inc_channel_sum(oc->inc, oc->layer, p, oc->unit) : 0;
            store(r, list[s + p], &pt);
        }
        if (oc->o.progress) zf_progress_add(oc->o.progress, nb);
    }
    return 0;
}

static void paint_square(float *x, const float *clean, const float *baseline, int C, int H, int W, int64_t y0, int64_t x0,
                         int patch) {
    int64_t hw = (int64_t)H * W;
    memcpy(x, clean, (size_t)C * hw * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int64_t y = y0 < 0 ? 0 : y0; y < y0 + patch && y < H; y++)
            for (int64_t xx = x0 < 0 ? 0 : x0; xx < x0 + patch && xx < W; xx++)
                x[c * hw + y * W + xx] = baseline[c * hw + y * W + xx];
}

static int eval_naive(zf_occluder *oc, zf_occlude_result *r, zf_error *err) {
    zf_model *m = oc->m;
    int64_t np = (int64_t)oc->ny * oc->nx;
    int rc = 0;
    for (int64_t i = 0; i < np && !rc; i++) {
        paint_square(zf_f32(&oc->xo), zf_f32(&oc->x), oc->baseline, oc->C, oc->H, oc->W, oc->ys[i / oc->nx],
                     oc->xs[i % oc->nx], oc->patch);
        if ((rc = zf_model_forward(m, 1, &oc->xo, err))) break;
        zf_occlude_point pt;
        measure(oc, zf_f32(&m->values[oc->out_v].t), zf_f32(&m->values[oc->logit_v].t), &pt, oc->target);
        pt.unit = oc->layer >= 0 ? clean_channel_sum(&m->values[oc->layer].t, oc->unit) : 0;
        store(r, i, &pt);
        if (oc->o.progress) zf_progress_add(oc->o.progress, 1);
    }
    // Put the clean activations back: everything else reads them.
    zf_error e2 = {0};
    int rc2 = zf_model_forward(m, 1, &oc->x, &e2);
    if (!rc && rc2) { *err = e2; rc = rc2; }
    return rc;
}

// Bilinear interpolation of coarse values (cy x cx grid at starts gy, gx) at start (y, x).
static float interp(const float *v, const int64_t *gy, int cy, const int64_t *gx, int cx, int64_t y, int64_t x) {
    int i = 0, j = 0;
    while (i + 1 < cy && gy[i + 1] <= y) i++;
    while (j + 1 < cx && gx[j + 1] <= x) j++;
    int i1 = i + 1 < cy ? i + 1 : i, j1 = j + 1 < cx ? j + 1 : j;
    double ty = i1 > i ? (double)(y - gy[i]) / (double)(gy[i1] - gy[i]) : 0;
    double tx = j1 > j ? (double)(x - gx[j]) / (double)(gx[j1] - gx[j]) : 0;
    if (ty > 1) ty = 1;
    if (tx > 1) tx = 1;
    double a = v[i * cx + j] * (1 - tx) + v[i * cx + j1] * tx, b = v[i1 * cx + j] * (1 - tx) + v[i1 * cx + j1] * tx;
    return (float)(a * (1 - ty) + b * ty);
}

typedef struct { float key; int64_t i; } ranked;
static int by_key_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

// Krypton's adaptive drill-down: the coarse grid (every factor-th start, plus the last) exactly, the
// rest interpolated from it, then the fine positions where the interpolated drop is largest exactly.
static int eval_approx(zf_occluder *oc, zf_occlude_result *r, zf_error *err) {
    int f = oc->o.approx_factor > 1 ? oc->o.approx_factor : 2;
    int ny = oc->ny, nx = oc->nx, cy = 0, cx = 0;
    int64_t np = (int64_t)ny * nx;
    int *ci = malloc(sizeof(int) * (size_t)(ny + nx)), *cj = NULL;
    int64_t *gy = malloc(sizeof(int64_t) * (size_t)(ny + nx)), *gx = NULL;
    int64_t *list = calloc((size_t)np, sizeof(int64_t));
    char *done = calloc((size_t)np, 1);
    float *cv[4] = {NULL};
    ranked *rk = malloc(sizeof(ranked) * (size_t)np);
    int rc = ZF_ERR_RUNTIME;
    if (!ci || !gy || !list || !done || !rk) { zf_fail(err, rc, "out of memory"); goto done; }
    cj = ci + ny;
    gx = gy + ny;
    for (int i = 0; i < ny; i++) if (i % f == 0 || i == ny - 1) { ci[cy] = i; gy[cy++] = oc->ys[i]; }
    for (int j = 0; j < nx; j++) if (j % f == 0 || j == nx - 1) { cj[cx] = j; gx[cx++] = oc->xs[j]; }
    int64_t n = 0;
    for (int a = 0; a < cy; a++)
        for (int b = 0; b < cx; b++) list[n++] = (int64_t)ci[a] * nx + cj[b];
    if ((rc = eval_incremental(oc, r, list, n, err))) goto done;
    for (int64_t k = 0; k < n; k++) done[list[k]] = 1;
    for (int q = 0; q < 4; q++)
        if (!(cv[q] = malloc(sizeof(float) * (size_t)(cy * cx)))) { rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); goto done; }
    for (int a = 0; a < cy; a++)
        for (int b = 0; b < cx; b++) {
            int64_t k = (int64_t)ci[a] * nx + cj[b];
            cv[0][a * cx + b] = r->pos_prob[k];
            cv[1][a * cx + b] = r->pos_logit[k];
            cv[2][a * cx + b] = r->pos_unit ? r->pos_unit[k] : 0;
            cv[3][a * cx + b] = (float)k;
        }
    int64_t m = 0;
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < nx; j++) {
            int64_t k = (int64_t)i * nx + j;
            if (done[k]) continue;
            r->pos_prob[k] = interp(cv[0], gy, cy, gx, cx, oc->ys[i], oc->xs[j]);
            r->pos_logit[k] = interp(cv[1], gy, cy, gx, cx, oc->ys[i], oc->xs[j]);
            if (r->pos_unit) r->pos_unit[k] = interp(cv[2], gy, cy, gx, cx, oc->ys[i], oc->xs[j]);
            // Label: the nearest coarse position's.
            int a = 0, b = 0;
            while (a + 1 < cy && llabs(gy[a + 1] - oc->ys[i]) <= llabs(gy[a] - oc->ys[i])) a++;
            while (b + 1 < cx && llabs(gx[b + 1] - oc->xs[j]) <= llabs(gx[b] - oc->xs[j])) b++;
            int64_t near = (int64_t)ci[a] * nx + cj[b];
            r->pos_label[k] = r->pos_label[near];
            r->pos_label_prob[k] = r->pos_label_prob[near];
            rk[m].key = fabsf(oc->clean.prob - r->pos_prob[k]);
            rk[m++].i = k;
        }
    qsort(rk, (size_t)m, sizeof *rk, by_key_desc);
    int64_t keep = (int64_t)ceil(oc->o.approx_keep * (double)m);
    if (keep > m) keep = m;
    if (keep < 0) keep = 0;
    for (int64_t k = 0; k < keep; k++) list[k] = rk[k].i;
    if (oc->o.progress) zf_progress_add(oc->o.progress, np - n - keep);
    if ((rc = eval_incremental(oc, r, list, keep, err))) goto done;
    r->computed = (int)(n + keep);
    rc = 0;
done:
    free(ci); free(gy); free(list); free(done); free(rk);
    for (int q = 0; q < 4; q++) free(cv[q]);
    return rc;
}

int zf_occlude_map(zf_occluder *oc, zf_occlude_result *r, zf_error *err) {
    if (!oc->have_input) return zf_fail(err, ZF_ERR_RUNTIME, "occlusion: no input set");
    if (alloc_result(oc, r, err)) { zf_occlude_result_free(r); return err->code; }
    double t0 = zf_seconds();
    int64_t np = (int64_t)oc->ny * oc->nx;
    int rc;
    r->computed = (int)np;
    if (oc->o.naive) {
        rc = eval_naive(oc, r, err);
    } else if (oc->o.approx) {
        r->approx = 1;
        rc = eval_approx(oc, r, err);
    } else {
        int64_t *list = zf_malloc((size_t)np * sizeof *list, err);
        if (!list) rc = ZF_ERR_RUNTIME;
        else {
            for (int64_t i = 0; i < np; i++) list[i] = i;
            rc = eval_incremental(oc, r, list, np, err);
            free(list);
        }
    }
    if (rc) { zf_occlude_result_free(r); return rc; }
    r->seconds = zf_seconds() - t0;
    float *d = calloc((size_t)np, sizeof(float));
    if (!d) { zf_occlude_result_free(r); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
    for (int64_t i = 0; i < np; i++) d[i] = oc->clean.prob - r->pos_prob[i];
    zf_occlude_accumulate(r->map_prob, d, oc->H, oc->W, oc->ys, oc->ny, oc->xs, oc->nx, oc->patch);
    for (int64_t i = 0; i < np; i++) d[i] = oc->clean.logit - r->pos_logit[i];
    zf_occlude_accumulate(r->map_logit, d, oc->H, oc->W, oc->ys, oc->ny, oc->xs, oc->nx, oc->patch);
    if (r->pos_unit) {
        for (int64_t i = 0; i < np; i++) d[i] = (float)(oc->clean.unit - r->pos_unit[i]);
        zf_occlude_accumulate(r->map_unit, d, oc->H, oc->W, oc->ys, oc->ny, oc->xs, oc->nx, oc->patch);
    }
    free(d);
    r->drop_pos = 0;
    for (int64_t i = 1; i < np; i++)
        if (r->pos_prob[i] < r->pos_prob[r->drop_pos]) r->drop_pos = (int)i;
    r->drop = oc->clean.prob - r->pos_prob[r->drop_pos];
    return 0;
}

int zf_occlude_at(zf_occluder *oc, int y, int x, zf_occlude_point *pt, zf_error *err) {
    if (!oc->have_input) return zf_fail(err, ZF_ERR_RUNTIME, "occlusion: no input set");
    int P = oc->patch;
    if (y <= -P || y >= oc->H || x <= -P || x >= oc->W)
        return zf_fail(err, ZF_ERR_INPUT, "occlusion: square at (%d, %d) is outside the %dx%d input", y, x, oc->H, oc->W);
    if (!oc->one) {
        int ny = oc->H + P - 1, nx = oc->W + P - 1;
        if (!(oc->one_ys = zf_malloc((size_t)ny * sizeof(int64_t), err)) ||
            !(oc->one_xs = zf_malloc((size_t)nx * sizeof(int64_t), err)))
            return ZF_ERR_RUNTIME;
        for (int i = 0; i < ny; i++) oc->one_ys[i] = i - (P - 1);
        for (int j = 0; j < nx; j++) oc->one_xs[j] = j - (P - 1);
        if (zf_inc_create(&oc->one, oc->m, 1, oc->one_ys, ny, oc->one_xs, nx, P, P, inc_flags(oc), err)) return err->code;
    }
    int iy = y + P - 1, ix = x + P - 1;
    if (zf_inc_run(oc->one, 1, &iy, &ix, oc->baseline, err)) return err->code;
    const float *yv = zf_inc_output(oc->one, oc->out_v, 0, err);
    const float *lg = oc->logit_v == oc->out_v ? yv : zf_inc_output(oc->one, oc->logit_v, 0, err);
    if (!yv || !lg) return err->code;
    measure(oc, yv, lg, pt, oc->target);
    pt->unit = oc->layer >= 0 ? zf_inc_channel_sum(oc->one, oc->layer, 0, oc->unit) : 0;
    return 0;
}

void zf_occlude_geometry(const zf_occluder *oc, int *patch, int *stride, int *ny, int *nx) {
    if (patch) *patch = oc->patch;
    if (stride) *stride = oc->stride;
    if (ny) *ny = oc->ny;
    if (nx) *nx = oc->nx;
}

void zf_occlude_describe(const zf_occluder *oc, void (*line)(void *ctx, const char *text), void *ctx) {
    if (oc->inc) zf_inc_describe(oc->inc, line, ctx);
}

void zf_occlude_result_free(zf_occlude_result *r) {
    free(r->ys); free(r->xs);
    free(r->pos_prob); free(r->pos_logit); free(r->pos_label); free(r->pos_label_prob);
    free(r->map_prob); free(r->map_logit); free(r->pos_unit); free(r->map_unit);
    memset(r, 0, sizeof *r);
}
