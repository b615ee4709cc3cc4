// train.c: the trainer (see train.h): backward walk, loss, optimizers, epochs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train.h"
#include "rng.h"
#include "ops/op.h"
#include "parallel.h"

// Inputs of each op that are parameters when they are float constants (initializers).
typedef struct { const char *type; int inputs[4]; } param_role;
static const param_role param_roles[] = {
    {"Conv", {1, 2, -1, -1}},
    {"Gemm", {1, 2, -1, -1}},
    {"BatchNormalization", {1, 2, -1, -1}},
};

static int is_param_input(const zf_node *n, int k) {
    for (size_t r = 0; r < sizeof param_roles / sizeof param_roles[0]; r++) {
        if (strcmp(param_roles[r].type, n->op->type)) continue;
        for (int i = 0; i < 4; i++)
            if (param_roles[r].inputs[i] == k) return 1;
    }
    return 0;
}

zf_train_opts zf_train_defaults(void) {
    zf_train_opts o = {0};
    o.optimizer = ZF_OPT_SGD;
    o.lr = 1e-2;
    o.momentum = 0.9;
    o.weight_decay = 5e-4;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
    o.renorm = 0.1;
    o.bn_momentum = 0.1;
    o.seed = 1;
    return o;
}

float *zf_trainer_grad(const zf_trainer *t, int v) {
    return v >= 0 && v < t->m->n_values ? t->grad[v] : NULL;
}

void zf_trainer_free(zf_trainer *t) {
    if (!t) return;
    free(t->grad);
    free(t->params);
    free(t->arena);
    free(t->order);
    free(t->labels);
    free(t->ok);
    free(t->aug);
    free(t->idx);
    memset(t, 0, sizeof *t);
}

#define ALIGN16(x) (((x) + 15) & ~(size_t)15)

int zf_trainer_init(zf_trainer *t, zf_model *m, const zf_train_opts *o, zf_error *err) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->o = o ? *o : zf_train_defaults();
    int rc = 0;
    const int nv = m->n_values;
    uint8_t *param = calloc((size_t)nv + 1, 1), *req = calloc((size_t)nv + 1, 1), *reach = calloc((size_t)nv + 1, 1);
    int64_t *filters = calloc((size_t)nv + 1, sizeof *filters);
    t->grad = calloc((size_t)nv + 1, sizeof *t->grad);
    if (!param || !req || !reach || !filters || !t->grad) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        goto done;
    }
    if ((m->n_inputs != 1 && !t->o.output_grad) || m->n_inputs < 1 || m->n_outputs < 1) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: training needs one input and an output, the model has %d and %d", m->path,
                     m->n_inputs, m->n_outputs);
        goto done;
    }
    // The loss reads the logits: the input of a final Softmax/LogSoftmax, or the output itself.
    int out = m->outputs[0];
    t->logits = out;
    t->n_back = m->n_nodes;
    int p = m->values[out].producer;
    if (!t->o.output_grad && p >= 0 &&
        (!strcmp(m->nodes[p].op->type, "Softmax") || !strcmp(m->nodes[p].op->type, "LogSoftmax")) &&
        m->values[out].t.ndim == 2) {
        t->logits = m->nodes[p].in[0];
        t->n_back = p;
    }
    const zf_tensor *lt = &m->values[t->logits].t;
    if (lt->dtype != ZF_F32 || lt->ndim < 1 || lt->dims[0] < 1) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: output '%s' is not a float (N, classes) tensor", m->path,
                     m->values[t->logits].name);
        goto done;
    }
    t->batch = lt->dims[0];
    t->classes = zf_tensor_numel(lt) / t->batch;
    // Parameters; then what depends on them (requires a gradient) and what the loss depends on.
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int vi = n->in[k];
            if (vi < 0 || !is_param_input(n, k)) continue;
            const zf_value *v = &m->values[vi];
            if (!v->is_const || v->t.dtype != ZF_F32 || !v->t.data) continue;
            param[vi] = 1;
            if (!strcmp(n->op->type, "Conv") && k == 1 && v->t.ndim == 4) filters[vi] = v->t.dims[0];
        }
    }
    for (int i = 0; i < nv; i++) req[i] = param[i] || (t->o.input_grad && m->values[i].is_input && m->values[i].t.dtype == ZF_F32);
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        int any = 0;
        for (int k = 0; k < n->n_in; k++) any |= n->in[k] >= 0 && req[n->in[k]];
        for (int o2 = 0; o2 < n->n_out; o2++)
            if (any && n->out[o2] >= 0 && m->values[n->out[o2]].t.dtype == ZF_F32) req[n->out[o2]] = 1;
    }
    reach[t->logits] = 1;
    for (int i = t->n_back - 1; i >= 0; i--) {
        const zf_node *n = &m->nodes[i];
        int any = 0;
        for (int o2 = 0; o2 < n->n_out; o2++) any |= n->out[o2] >= 0 && reach[n->out[o2]];
        if (any)
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) reach[n->in[k]] = 1;
    }
    // Every node between a parameter and the loss needs a backward rule.
    for (int i = 0; i < t->n_back; i++) {
        const zf_node *n = &m->nodes[i];
        int in_g = 0, out_g = 0;
        for (int k = 0; k < n->n_in; k++) in_g |= n->in[k] >= 0 && req[n->in[k]] && reach[n->in[k]];
        for (int o2 = 0; o2 < n->n_out; o2++) out_g |= n->out[o2] >= 0 && req[n->out[o2]] && reach[n->out[o2]];
        if (in_g && out_g && !n->op->backward) {
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: node '%s' (%s): no backward rule; zfviz cannot train through this op",
                         m->path, n->name, n->op->type);
            goto done;
        }
    }
    // The arena: activation gradients, parameter gradients (both cleared every step), then the
    // optimizer state.
    size_t acts = 0, pars = 0;
    for (int i = 0; i < nv; i++) {
        if (!req[i] || !reach[i]) continue;
        size_t f = ALIGN16((size_t)zf_tensor_numel(&m->values[i].t));
        if (param[i]) {
            pars += f;
            t->n_params++;
        } else {
            acts += f;
        }
    }
    size_t state = t->o.optimizer == ZF_OPT_ADAM ? 2 * pars : t->o.momentum != 0 ? pars : 0;
    t->zero_floats = acts + pars;
    t->arena_floats = acts + pars + state;
    if (t->arena_floats && !(t->arena = aligned_alloc(64, t->arena_floats * sizeof(float)))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory allocating %zu MB of gradients", (t->arena_floats * 4) >> 20);
        goto done;
    }
    if (t->arena) memset(t->arena, 0, t->arena_floats * sizeof(float));
    if (!(t->params = calloc((size_t)t->n_params + 1, sizeof *t->params))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        goto done;
    }
    float *pa = t->arena, *pp = t->arena + acts, *ps = t->arena + acts + pars;
    int np = 0;
    for (int i = 0; i < nv; i++) {
        if (!req[i] || !reach[i]) continue;
        size_t cnt = (size_t)zf_tensor_numel(&m->values[i].t), f = ALIGN16(cnt);
        if (!param[i]) {
            t->grad[i] = pa;
            pa += f;
            continue;
        }
        zf_param *q = &t->params[np++];
        q->value = i;
        q->grad = t->grad[i] = pp;
        pp += f;
        q->numel = (int64_t)cnt;
        q->decay = m->values[i].t.ndim >= 2;
        q->filters = filters[i];
        if (state) {
            q->m1 = ps;
            ps += f;
            if (t->o.optimizer == ZF_OPT_ADAM) {
                q->m2 = ps;
                ps += f;
            }
        }
    }
    const zf_tensor *x = &m->values[m->inputs[0]].t;
    if (!t->o.output_grad && (x->ndim < 1 || x->dims[0] != t->batch)) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: input batch %lld differs from output batch %lld", m->path,
                     (long long)x->dims[0], (long long)t->batch);
        goto done;
    }
    if (!(t->labels = calloc((size_t)t->batch, sizeof *t->labels)) || !(t->ok = calloc((size_t)t->batch, 1)) ||
        !(t->idx = calloc((size_t)t->batch, sizeof *t->idx)) ||
        !(t->aug = malloc((size_t)(zf_tensor_numel(x) / t->batch + 1) * sizeof(float)))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        goto done;
    }
done:
    free(param);
    free(req);
    free(reach);
    free(filters);
    if (rc) {
        zf_trainer_free(t);
        t->m = m;
    }
    return rc;
}

int zf_train_forward(zf_trainer *t, const zf_tensor *x, uint64_t seed, zf_error *err) {
    zf_model *m = t->m;
    zf_value *in = &m->values[m->inputs[0]];
    if (x && x->data != in->t.data) {
        if (!zf_tensor_same_shape(x, &in->t)) {
            char a[128], b[128];
            return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' expects %s, got %s", m->path, in->name,
                           zf_shape_str(a, sizeof a, in->t.ndim, in->t.dims), zf_shape_str(b, sizeof b, x->ndim, x->dims));
        }
        memcpy(in->t.data, x->data, (size_t)zf_tensor_numel(x) * zf_dtype_size(x->dtype));
    }
    t->ctx.seed = seed;
    t->ctx.bn_momentum = (float)t->o.bn_momentum;
    // zf_model_forward's loop with the training context: Dropout drops, BatchNormalization uses the
    // batch's statistics.
    zf_exec ex = {.threads = m->threads, .pool = m->pool, .scratch = m->scratch, .train = &t->ctx,
                  .weights_gen = m->weights_gen};
    for (int i = 0; i < m->n_nodes; i++) {
        zf_node *n = &m->nodes[i];
        if (n->op->forward(n, m->values, &ex, err))
            return zf_error_prefix(err, "%s: node '%s' (%s)", m->path, n->name, n->op->type);
    }
    return 0;
}

void zf_train_zero_grad(zf_trainer *t) {
    if (t->zero_floats) memset(t->arena, 0, t->zero_floats * sizeof(float));
}

int zf_train_backward(zf_trainer *t, zf_error *err) {
    zf_model *m = t->m;
    zf_exec ex = {.threads = m->threads, .pool = m->pool, .scratch = m->scratch, .train = &t->ctx,
                  .weights_gen = m->weights_gen};
    for (int i = t->n_back - 1; i >= 0; i--) {
        const zf_node *n = &m->nodes[i];
        int in_g = 0, out_g = 0;
        for (int k = 0; k < n->n_in; k++) in_g |= n->in[k] >= 0 && t->grad[n->in[k]];
        for (int o = 0; o < n->n_out; o++) out_g |= n->out[o] >= 0 && t->grad[n->out[o]];
        if (!in_g || !out_g) continue;
        if (!n->op->backward)
            return zf_fail(err, ZF_ERR_INPUT, "%s: node '%s' (%s): no backward rule", m->path, n->name, n->op->type);
        if (n->op->backward(n, m->values, t->grad, &ex, err))
            return zf_error_prefix(err, "%s: node '%s' (%s) backward", m->path, n->name, n->op->type);
    }
    return 0;
}

int zf_softmax_xent(float *dlogits, double *loss, int64_t *correct, const float *logits, const int32_t *labels,
                    int64_t n, int64_t B, int64_t K, zf_error *err) {
    int64_t valid = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] >= K)
            return zf_fail(err, ZF_ERR_INPUT, "label %d of item %lld is not below the %lld classes", labels[i],
                           (long long)i, (long long)K);
        valid += labels[i] >= 0;
    }
    double total = 0.0;
    int64_t right = 0;
    const double inv = valid ? 1.0 / (double)valid : 0.0;
    for (int64_t i = 0; i < B; i++) {
        const float *x = logits + i * K;
        float *d = dlogits ? dlogits + i * K : NULL;
        if (i >= n || labels[i] < 0) {
            if (d) memset(d, 0, (size_t)K * sizeof(float));
            continue;
        }
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (x[k] > x[best]) best = k;
        double mx = x[best], s = 0.0;
        for (int64_t k = 0; k < K; k++) s += exp((double)x[k] - mx);
        double lse = mx + log(s);
        total += lse - (double)x[labels[i]];
        right += best == labels[i];
        if (d)
            for (int64_t k = 0; k < K; k++)
                d[k] = (float)((exp((double)x[k] - lse) - (k == labels[i] ? 1.0 : 0.0)) * inv);
    }
    if (loss) *loss = valid ? total * inv : 0.0;
    if (correct) *correct = right;
    return 0;
}

// Step seed of the dropout masks: a hash of (seed, step).
static uint64_t step_seed(const zf_trainer *t) {
    return zf_rng_mix(t->o.seed * 0x9E3779B97F4A7C15ULL ^ zf_rng_mix((uint64_t)t->steps + 1));
}

int zf_train_gradients(zf_trainer *t, const zf_tensor *x, const int32_t *labels, int64_t n, zf_train_stats *st,
                       zf_error *err) {
    if (n < 0 || n > t->batch) return zf_fail(err, ZF_ERR_INPUT, "%lld items for a batch of %lld", (long long)n, (long long)t->batch);
    double t0 = zf_seconds();
    if (zf_train_forward(t, x, step_seed(t), err)) return err->code;
    zf_train_zero_grad(t);
    double loss = 0;
    int64_t right = 0;
    if (t->o.output_grad)
        return zf_fail(err, ZF_ERR_INPUT, "output_grad: seed the output gradient and call zf_train_backward");
    if (!t->grad[t->logits]) return zf_fail(err, ZF_ERR_INPUT, "%s: the model has no parameters to train", t->m->path);
    if (zf_softmax_xent(t->grad[t->logits], &loss, &right, zf_f32(&t->m->values[t->logits].t), labels, n, t->batch,
                        t->classes, err))
        return err->code;
    if (zf_train_backward(t, err)) return err->code;
    if (st) {
        int64_t valid = 0;
        for (int64_t i = 0; i < n; i++) valid += labels[i] >= 0;
        st->loss = loss;
        st->accuracy = valid ? (double)right / (double)valid : 0.0;
        st->items = valid;
        st->steps = 1;
        st->seconds = zf_seconds() - t0;
    }
    return 0;
}

void zf_train_update(zf_trainer *t) {
    const zf_train_opts *o = &t->o;
    const float lr = (float)o->lr, mom = (float)o->momentum, wd = (float)o->weight_decay;
    const double step = (double)(t->steps + 1);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const float bc1 = (float)(1.0 - pow(o->beta1, step)), bc2 = (float)(1.0 - pow(o->beta2, step));
    for (int pi = 0; pi < t->n_params; pi++) {
        zf_param *q = &t->params[pi];
        float *w = zf_f32(&t->m->values[q->value].t), *g = q->grad;
        const float d = q->decay ? wd : 0.0f;
        if (o->optimizer == ZF_OPT_ADAM) {
            float *m1 = q->m1, *m2 = q->m2;
            const float a = lr / bc1, r2 = 1.0f / bc2;
            for (int64_t i = 0; i < q->numel; i++) {
                float gi = g[i] + d * w[i];
                m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
                m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
                w[i] -= a * m1[i] / (sqrtf(m2[i] * r2) + eps);
            }
        } else if (q->m1) {
            // PyTorch's SGD: buf = momentum * buf + (g + wd * w); w -= lr * buf
            float *b = q->m1;
            for (int64_t i = 0; i < q->numel; i++) {
                b[i] = mom * b[i] + g[i] + d * w[i];
                w[i] -= lr * b[i];
            }
        } else {
            for (int64_t i = 0; i < q->numel; i++) w[i] -= lr * (g[i] + d * w[i]);
        }
        // Zeiler & Fergus, sec. 3: "renormalize each filter in the convolutional layers whose RMS
        // value exceeds a fixed radius of 10^-1 to this fixed radius".
        if (o->renorm > 0 && q->filters > 0) {
            const int64_t len = q->numel / q->filters;
            for (int64_t f = 0; f < q->filters; f++) {
                float *wf = w + f * len;
                double s = 0.0;
                for (int64_t i = 0; i < len; i++) s += (double)wf[i] * wf[i];
                double rms = sqrt(s / (double)len);
                if (rms > o->renorm) {
                    float k = (float)(o->renorm / rms);
                    for (int64_t i = 0; i < len; i++) wf[i] *= k;
                }
            }
        }
    }
    zf_model_weights_changed(t->m);
    t->steps++;
}

int zf_train_step(zf_trainer *t, const zf_tensor *x, const int32_t *labels, int64_t n, zf_train_stats *st,
                  zf_error *err) {
    if (zf_train_gradients(t, x, labels, n, st, err)) return err->code;
    zf_train_update(t);
    return 0;
}

// --- epochs -------------------------------------------------------------------------------------

// Flips item b of x (B,C,H,W) horizontally and/or moves it by (dy, dx) pixels, filling with pad[c].
static void augment(float *item, float *tmp, int64_t C, int64_t H, int64_t W, int flip, int dy, int dx,
                    const float *pad) {
    const int64_t plane = H * W;
    if (flip)
        for (int64_t c = 0; c < C; c++)
            for (int64_t h = 0; h < H; h++) {
                float *r = item + c * plane + h * W;
                for (int64_t a = 0, b = W - 1; a < b; a++, b--) {
                    float s = r[a];
                    r[a] = r[b];
                    r[b] = s;
                }
            }
    if (!dy && !dx) return;
    memcpy(tmp, item, (size_t)(C * plane) * sizeof(float));
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                int64_t sh = h - dy, sw = w - dx;
                item[c * plane + h * W + w] =
                    sh >= 0 && sh < H && sw >= 0 && sw < W ? tmp[c * plane + sh * W + sw] : pad[c < 3 ? c : 0];
            }
}

static void set_label(zf_progress *p, const char *fmt, int a, int b, double loss, double acc) {
    if (p) snprintf(p->label, sizeof p->label, fmt, a, b, loss, 100.0 * acc);
}

int zf_train_epoch(zf_trainer *t, const zf_train_data *d, int epoch, int epochs, zf_train_stats *st,
                   zf_progress *prog, zf_error *err) {
    zf_model *m = t->m;
    zf_dataset *ds = d->ds;
    const int64_t n = ds->count, B = t->batch;
    if (!ds->labels) return zf_fail(err, ZF_ERR_INPUT, "%s: no labels to train on", ds->name);
    if (n < B)
        return zf_fail(err, ZF_ERR_INPUT, "%s: %lld items, fewer than the batch of %lld", ds->name, (long long)n,
                       (long long)B);
    if (t->order_n != n) {
        free(t->order);
        t->order_n = 0;
        if (!(t->order = malloc((size_t)n * sizeof *t->order))) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        t->order_n = n;
    }
    zf_data_permutation(t->order, n, zf_rng_mix(t->o.seed ^ zf_rng_mix(0x7E57ULL + (uint64_t)epoch)));
    zf_rng r;
    zf_rng_seed(&r, zf_rng_mix(t->o.seed + 0xA0C0ULL * (uint64_t)epoch));
    zf_tensor *x = &m->values[m->inputs[0]].t;
    const int64_t C = x->dims[1], H = x->ndim == 4 ? x->dims[2] : 1, W = x->ndim == 4 ? x->dims[3] : 1;
    float pad[3] = {0, 0, 0};
    for (int c = 0; c < 3 && c < C; c++) {
        float mean, sd;
        zf_preprocess_channel(&mean, &sd, d->pp, c, (int)C);
        pad[c] = (0.0f - mean) / sd;   // a black pixel
    }
    const int64_t steps = n / B;
    double loss = 0.0, t0 = zf_seconds();
    int64_t right = 0, items = 0;
    if (prog) {
        zf_progress_start(prog, "", steps * B);
        set_label(prog, "epoch %d/%d", epoch, epochs, 0, 0);
    }
    for (int64_t s = 0; s < steps; s++) {
        const int64_t *idx = t->order + s * B;
        if (zf_data_fill(x, t->ok, ds, idx, B, d->pp, m->pool, err)) return err->code;
        for (int64_t b = 0; b < B; b++) t->labels[b] = t->ok[b] ? ds->labels[idx[b]] : -1;
        if (d->flip || d->shift)
            for (int64_t b = 0; b < B; b++) {
                int flip = d->flip && zf_rng_below(&r, 2);
                int dy = d->shift ? (int)zf_rng_below(&r, 2 * (uint64_t)d->shift + 1) - d->shift : 0;
                int dx = d->shift ? (int)zf_rng_below(&r, 2 * (uint64_t)d->shift + 1) - d->shift : 0;
                augment(zf_f32(x) + b * C * H * W, t->aug, C, H, W, flip, dy, dx, pad);
            }
        zf_train_stats one;
        if (zf_train_step(t, NULL, t->labels, B, &one, err)) return err->code;
        if (!isfinite(one.loss))
            return zf_fail(err, ZF_ERR_INPUT, "epoch %d, step %lld: the loss is %g (diverged; try a lower --lr)", epoch,
                           (long long)s + 1, one.loss);
        loss += one.loss * (double)one.items;
        right += (int64_t)llround(one.accuracy * (double)one.items);
        items += one.items;
        if (prog) {
            set_label(prog, "epoch %d/%d  loss %.4f  acc %5.2f%%", epoch, epochs, items ? loss / items : 0,
                      items ? (double)right / items : 0);
            zf_progress_add(prog, B);
        }
    }
    if (prog) zf_progress_finish(prog);
    if (st) {
        st->loss = items ? loss / (double)items : 0.0;
        st->accuracy = items ? (double)right / (double)items : 0.0;
        st->items = items;
        st->steps = steps;
        st->seconds = zf_seconds() - t0;
    }
    return 0;
}

int zf_train_evaluate(zf_trainer *t, zf_dataset *ds, const zf_preprocess *pp, zf_train_stats *st, zf_progress *prog,
                      zf_error *err) {
    zf_model *m = t->m;
    if (!ds->labels) return zf_fail(err, ZF_ERR_INPUT, "%s: no labels to evaluate against", ds->name);
    const int64_t n = ds->count, B = t->batch;
    zf_tensor *x = &m->values[m->inputs[0]].t;
    const float *logits = zf_f32(&m->values[t->logits].t);
    double loss = 0.0, t0 = zf_seconds();
    int64_t right = 0, items = 0;
    if (prog) zf_progress_start(prog, "evaluate", n);
    for (int64_t s = 0; s < n; s += B) {
        int64_t nb = n - s < B ? n - s : B;
        for (int64_t b = 0; b < nb; b++) t->idx[b] = s + b;
        if (zf_data_fill(x, t->ok, ds, t->idx, nb, pp, m->pool, err)) return err->code;
        if (zf_model_forward(m, 1, x, err)) return err->code;
        for (int64_t b = 0; b < B; b++) t->labels[b] = b < nb && t->ok[b] ? ds->labels[s + b] : -1;
        double l;
        int64_t r2;
        if (zf_softmax_xent(NULL, &l, &r2, logits, t->labels, nb, B, t->classes, err)) return err->code;
        int64_t valid = 0;
        for (int64_t b = 0; b < nb; b++) valid += t->labels[b] >= 0;
        loss += l * (double)valid;
        right += r2;
        items += valid;
        if (prog) zf_progress_add(prog, nb);
    }
    if (prog) zf_progress_finish(prog);
    if (st) {
        st->loss = items ? loss / (double)items : 0.0;
        st->accuracy = items ? (double)right / (double)items : 0.0;
        st->items = items;
        st->steps = (n + B - 1) / B;
        st->seconds = zf_seconds() - t0;
    }
    return 0;
}

int zf_train_copy_to_onnx(zf_onnx_model *om, const zf_model *m, zf_error *err) {
    for (int i = 0; i < om->graph.n_initializers; i++) {
        zf_onnx_initializer *in = &om->graph.initializers[i];
        if (in->t.dtype != ZF_F32) continue;
        for (int j = 0; j < m->n_values; j++) {
            const zf_value *v = &m->values[j];
            if (!v->is_const || v->producer != -1 || strcmp(v->name, in->name)) continue;
            if (v->t.dtype != ZF_F32 || zf_tensor_numel(&v->t) != zf_tensor_numel(&in->t))
                return zf_fail(err, ZF_ERR_RUNTIME, "initializer '%s' changed shape", in->name);
            memcpy(in->t.data, v->t.data, (size_t)zf_tensor_numel(&in->t) * sizeof(float));
            break;
        }
    }
    return 0;
}
