// topk.c: per-unit top-k activations over a dataset (see topk.h): heaps, the streaming and
// projection passes, and the JSON index (writer and a small strict reader).
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "topk.h"
#include "ops/op.h"

// --- layers ---------------------------------------------------------------------------------------

static int is_map(const zf_value *x) {
    return x->producer >= 0 && !x->is_const && x->t.dtype == ZF_F32 && x->t.ndim == 4 && x->t.data;
}

// The node consuming value v as its first input with op type `type` (-1: none).
static int consumer(const zf_model *m, int v, const char *type) {
    for (int i = 0; i < m->n_nodes; i++) {
        const zf_node *n = &m->nodes[i];
        if (n->n_in > 0 && n->in[0] == v && n->n_out > 0 && !strcmp(n->op->type, type)) return i;
    }
    return -1;
}

int zf_topk_default_layers(int *values, int max, const zf_model *m, int all) {
    int k = 0;
    for (int i = 0; i < m->n_nodes && k < max; i++) {
        const zf_node *n = &m->nodes[i];
        for (int o = 0; o < n->n_out && k < max; o++) {
            int v = n->out[o];
            if (v < 0 || !is_map(&m->values[v])) continue;
            if (all) {
                const zf_rf *rf = &m->values[v].rf;
                if (rf->valid && !rf->global) values[k++] = v;
                continue;
            }
            if (o != 0 || strcmp(n->op->type, "Conv")) continue;
            int pick = v, c = consumer(m, v, "BatchNormalization");
            int from = c >= 0 ? m->nodes[c].out[0] : v;
            int r = from >= 0 ? consumer(m, from, "Relu") : -1;
            if (r >= 0 && m->nodes[r].out[0] >= 0 && is_map(&m->values[m->nodes[r].out[0]])) pick = m->nodes[r].out[0];
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= values[j] == pick;
            if (!dup) values[k++] = pick;
        }
    }
    return k;
}

// Map geometry of a tensor (N,C[,L | ,H,W]) per item.
static void geometry(int64_t *C, int64_t *H, int64_t *W, const zf_tensor *t) {
    *C = t->dims[1];
    *H = t->ndim == 4 ? t->dims[2] : 1;
    *W = t->ndim == 4 ? t->dims[3] : t->ndim == 3 ? t->dims[2] : 1;
}

static void layer_free(zf_topk_layer *l) {
    free(l->name);
    free(l->units);
    free(l->count);
    free(l->top);
    free(l->picture);
    free(l->unit_box);
    if (l->unit_pictures)
        for (int u = 0; u < l->n_units; u++) free(l->unit_pictures[u]);
    free(l->unit_pictures);
    memset(l, 0, sizeof *l);
}

void zf_topk_free(zf_topk *t) {
    if (!t) return;
    for (int l = 0; l < t->n_layers; l++) layer_free(&t->layers[l]);
    free(t->layers);
    free(t->model);
    free(t->data);
    free(t->preprocess);
    free(t->rule);
    free(t->flat_layer);
    memset(t, 0, sizeof *t);
}

// Allocates units/count/top of a layer for n units and k entries each.
static int layer_alloc(zf_topk_layer *L, int n, int k, zf_error *err) {
    long long cells;
    if (n < 1 || zf_mul_overflow(n, k, &cells) || cells > (1LL << 34))
        return zf_fail(err, ZF_ERR_INPUT, "layer '%s': %d units x k %d entries is too many", L->name ? L->name : "?", n, k);
    L->n_units = n;
    L->units = zf_calloc((size_t)n, sizeof *L->units, err);
    L->count = zf_calloc((size_t)n, sizeof *L->count, err);
    L->top = zf_calloc((size_t)cells, sizeof *L->top, err);
    return L->units && L->count && L->top ? 0 : ZF_ERR_RUNTIME;
}

int zf_topk_init(zf_topk *t, const zf_model *m, const int *layers, int n_layers, const int64_t *units, int n_units,
                 int k, zf_error *err) {
    memset(t, 0, sizeof *t);
    if (k < 1 || k > ZF_TOPK_MAX_K) return zf_fail(err, ZF_ERR_INPUT, "k must be 1..%d, got %d", ZF_TOPK_MAX_K, k);
    if (n_layers < 1) return zf_fail(err, ZF_ERR_INPUT, "no layers to rank");
    t->k = k;
    if (!(t->layers = zf_calloc((size_t)n_layers, sizeof *t->layers, err))) return ZF_ERR_RUNTIME;
    t->n_layers = n_layers;
    int64_t batch = m->n_inputs > 0 && m->values[m->inputs[0]].t.ndim > 0 ? m->values[m->inputs[0]].t.dims[0] : 1;
    for (int l = 0; l < n_layers; l++) {
        zf_topk_layer *L = &t->layers[l];
        int v = layers[l];
        if (v < 0 || v >= m->n_values) {
            zf_topk_free(t);
            return zf_fail(err, ZF_ERR_INPUT, "no such layer (index %d)", v);
        }
        const zf_value *x = &m->values[v];
        const zf_tensor *tt = &x->t;
        if (!(L->name = zf_strdup(x->name, err))) { zf_topk_free(t); return ZF_ERR_RUNTIME; }
        L->value = v;
        if (tt->dtype != ZF_F32 || tt->ndim < 2 || tt->ndim > 4 || !tt->data || x->is_const || x->producer < 0 ||
            tt->dims[0] != batch) {
            char s[128];
            zf_fail(err, ZF_ERR_INPUT, "layer '%s' %s has no maps to rank (a computed float (N,C[,H,W]) tensor with "
                    "the batch axis first is needed)", x->name, zf_shape_str(s, sizeof s, tt->ndim, tt->dims));
            zf_topk_free(t);
            return ZF_ERR_INPUT;
        }
        for (int j = 0; j < l; j++)
            if (t->layers[j].value == v) {
                zf_fail(err, ZF_ERR_INPUT, "layer '%s' is given twice", x->name);
                zf_topk_free(t);
                return ZF_ERR_INPUT;
            }
        geometry(&L->channels, &L->height, &L->width, tt);
        L->rf = x->rf;
        int n = units ? n_units : (L->channels > INT32_MAX ? INT32_MAX : (int)L->channels);
        if (layer_alloc(L, n, k, err)) { zf_topk_free(t); return err ? err->code : ZF_ERR_RUNTIME; }
        for (int u = 0; u < n; u++) {
            int64_t c = units ? units[u] : u;
            if (c < 0 || c >= L->channels) {
                zf_fail(err, ZF_ERR_INPUT, "layer '%s': unit %lld is out of range (it has %lld %s)", x->name,
                        (long long)c, (long long)L->channels, tt->ndim == 2 ? "units" : "maps");
                zf_topk_free(t);
                return ZF_ERR_INPUT;
            }
            L->units[u] = c;
        }
    }
    return 0;
}

static int set_str(char **dst, const char *s, zf_error *err) {
    free(*dst);
    *dst = NULL;
    if (!s) return 0;
    return (*dst = zf_strdup(s, err)) ? 0 : ZF_ERR_RUNTIME;
}

int zf_topk_set_source(zf_topk *t, const char *model, uint64_t model_hash, const char *data, int64_t count,
                       const char *preprocess, zf_error *err) {
    if (set_str(&t->model, model, err) || set_str(&t->data, data, err) || set_str(&t->preprocess, preprocess, err))
        return ZF_ERR_RUNTIME;
    t->model_hash = model_hash;
    t->count = count;
    return 0;
}

// --- heaps ----------------------------------------------------------------------------------------

// a ranks above b: larger value, then lower image index (images are unique within a unit).
static inline int better(const zf_topk_entry *a, const zf_topk_entry *b) {
    return a->value > b->value || (a->value == b->value && a->image < b->image);
}

// Min-heap on `better`: h[0] is the weakest entry held.
static void sift_down(zf_topk_entry *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&h[w], &h[l])) w = l;
        if (r < n && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        zf_topk_entry tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

static void sift_up(zf_topk_entry *h, int i) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!better(&h[p], &h[i])) return;
        zf_topk_entry tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

static void heapify(zf_topk_entry *h, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(h, n, i);
}

static void push(zf_topk_entry *h, int *count, int k, const zf_topk_entry *e) {
    if (*count < k) {
        h[*count] = *e;
        sift_up(h, (*count)++);
    } else if (better(e, &h[0])) {
        h[0] = *e;
        sift_down(h, k, 0);
    }
}

static int cmp_entry(const void *a, const void *b) {
    const zf_topk_entry *x = a, *y = b;
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

void zf_topk_sort(zf_topk *t) {
    for (int l = 0; l < t->n_layers; l++) {
        zf_topk_layer *L = &t->layers[l];
        for (int u = 0; u < L->n_units; u++) qsort(L->top + (size_t)u * t->k, (size_t)L->count[u], sizeof *L->top, cmp_entry);
    }
}

// The maximum of x[0..n) and its first position (-1 when every value is NaN). Eight independent
// running maxima keep the loop free of a serial dependency (the compiler vectorizes it); NaN never
// wins a comparison, so it is skipped, and the first position is found in a second, early-exit scan.
static float map_max(int64_t *pos, const float *x, int64_t n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float best = m[0];
    for (int j = 1; j < 8; j++) best = m[j] > best ? m[j] : best;
    *pos = -1;
    for (i = 0; i < n; i++)
        if (x[i] == best) {
            *pos = i;
            break;
        }
    return best;
}

typedef struct {
    zf_topk *t;
    const zf_model *m;
    const int64_t *items;
    const uint8_t *ok;
    int64_t n;
    int *layer_of;          // per flattened unit: its layer
    int *unit_of;           // and its index in the layer
} update_ctx;

// Units [begin, end) of the flattened (layer, unit) list: each has its own heap, so threads never
// share one.
static void update_range(void *p, int64_t begin, int64_t end) {
    update_ctx *c = p;
    zf_topk *t = c->t;
    for (int64_t f = begin; f < end; f++) {
        zf_topk_layer *L = &t->layers[c->layer_of[f]];
        int u = c->unit_of[f];
        const float *data = zf_f32(&c->m->values[L->value].t);
        int64_t plane = L->height * L->width;
        zf_topk_entry *heap = L->top + (size_t)u * t->k;
        for (int64_t b = 0; b < c->n; b++) {
            if (c->ok && !c->ok[b]) continue;
            const float *x = data + (b * L->channels + L->units[u]) * plane;
            int64_t pos;
            float best = map_max(&pos, x, plane);
            if (pos < 0 || (L->count[u] == t->k && best < heap[0].value)) continue;
            zf_topk_entry e = {c->items[b], (int32_t)(pos / L->width), (int32_t)(pos % L->width), x[pos]};
            push(heap, &L->count[u], t->k, &e);
        }
    }
}

void zf_topk_update(zf_topk *t, const zf_model *m, const int64_t *items, const uint8_t *ok, int64_t n) {
    int64_t total = 0;
    for (int l = 0; l < t->n_layers; l++) total += t->layers[l].n_units;
    // The flattened unit list, cached in the run (rebuilt when the layers change).
    if (!t->flat_layer || t->n_flat != total) {
        free(t->flat_layer);
        t->flat_layer = malloc((size_t)(total ? total : 1) * 2 * sizeof *t->flat_layer);
        t->n_flat = 0;
        if (!t->flat_layer) {   // no memory for the list: one unit at a time, serially
            for (int l = 0; l < t->n_layers; l++)
                for (int u = 0; u < t->layers[l].n_units; u++) {
                    update_ctx c = {t, m, items, ok, n, &l, &u};
                    update_range(&c, 0, 1);
                }
            return;
        }
        int64_t f = 0;
        for (int l = 0; l < t->n_layers; l++)
            for (int u = 0; u < t->layers[l].n_units; u++, f++) {
                t->flat_layer[f] = l;
                t->flat_layer[total + f] = u;
            }
        t->n_flat = total;
    }
    update_ctx c = {t, m, items, ok, n, t->flat_layer, t->flat_layer + total};
    zf_parallel_for(m->pool, total, update_range, &c);
}

// --- streaming pass -------------------------------------------------------------------------------

static int model_batch(zf_tensor *x, const zf_model *m, zf_error *err) {
    if (m->n_inputs < 1) return zf_fail(err, ZF_ERR_INPUT, "%s: the model has no graph input", m->path);
    const zf_tensor *in = &m->values[m->inputs[0]].t;
    if (in->dtype != ZF_F32 || in->ndim != 4 || (in->dims[1] != 1 && in->dims[1] != 3)) {
        char s[128];
        return zf_fail(err, ZF_ERR_INPUT, "%s: input %s is not an image batch (B,C,H,W) with C 1 or 3", m->path,
                       zf_shape_str(s, sizeof s, in->ndim, in->dims));
    }
    return zf_tensor_alloc(x, ZF_F32, 4, in->dims, err);
}

int zf_topk_run(zf_topk *t, zf_model *m, zf_dataset *ds, const zf_preprocess *pp, const zf_topk_run_opts *o,
                zf_error *err) {
    static const zf_topk_run_opts none = {0};
    if (!o) o = &none;
    if (t->count == 0 && t->next == 0) t->count = ds->count;
    if (t->count > ds->count)
        return zf_fail(err, ZF_ERR_INPUT, "%s: %lld items, the run expects %lld", ds->name, (long long)ds->count,
                       (long long)t->count);
    for (int l = 0; l < t->n_layers; l++) {
        zf_topk_layer *L = &t->layers[l];
        if (L->value < 0) L->value = zf_model_find(m, L->name);
        if (L->value < 0) return zf_fail(err, ZF_ERR_INPUT, "%s: no layer '%s'", m->path, L->name);
        for (int u = 0; u < L->n_units; u++) heapify(L->top + (size_t)u * t->k, L->count[u]);
    }
    zf_tensor x = {0};
    int rc = model_batch(&x, m, err);
    if (rc) return rc;
    int64_t B = x.dims[0];
    int64_t *idx = zf_malloc((size_t)B * sizeof *idx, err);
    uint8_t *ok = zf_malloc((size_t)B, err);
    if (!idx || !ok) { rc = ZF_ERR_RUNTIME; goto done; }
    int every = o->save_every > 0 ? o->save_every : 32;
    int64_t batches = 0;
    while (t->next < t->count) {
        int64_t s = t->next, nb = t->count - s < B ? t->count - s : B;
        for (int64_t b = 0; b < nb; b++) idx[b] = s + b;
        if ((rc = zf_data_fill(&x, ok, ds, idx, nb, pp, m->pool, err))) goto done;
        if ((rc = zf_model_forward(m, 1, &x, err))) goto done;
        zf_topk_update(t, m, idx, ok, nb);
        t->next = s + nb;
        batches++;
        if (o->progress) zf_progress_add(o->progress, nb);
        if (o->stop_after > 0 && batches >= o->stop_after) break;
        if (o->save_path && t->next < t->count && batches % every == 0 && (rc = zf_topk_save(o->save_path, t, err)))
            goto done;
    }
    if (t->next >= t->count) zf_topk_sort(t);
    if (o->save_path) rc = zf_topk_save(o->save_path, t, err);
done:
    free(idx);
    free(ok);
    zf_tensor_free(&x);
    return rc;
}

// --- projection pass ------------------------------------------------------------------------------

typedef struct { int64_t image; int layer, unit, rank; } ref;

static int cmp_ref(const void *a, const void *b) {
    const ref *x = a, *y = b;
    if (x->image != y->image) return x->image < y->image ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

int zf_topk_project(zf_topk *t, const int *layers, int n_layers, zf_model *m, zf_projector *pj, zf_dataset *ds,
                    const zf_preprocess *pp, zf_rule rule, zf_progress *progress, zf_topk_entry_fn fn, void *user,
                    zf_error *err) {
    size_t n = 0;
    for (int i = 0; i < n_layers; i++) {
        int l = layers[i];
        if (l < 0 || l >= t->n_layers) return zf_fail(err, ZF_ERR_INPUT, "no layer %d in the top-k run", l);
        zf_topk_layer *L = &t->layers[l];
        if (L->value < 0) L->value = zf_model_find(m, L->name);
        if (L->value < 0) return zf_fail(err, ZF_ERR_INPUT, "%s: no layer '%s'", m->path, L->name);
        for (int u = 0; u < L->n_units; u++) n += (size_t)L->count[u];
    }
    zf_tensor x = {0}, proj = {0};
    int rc = model_batch(&x, m, err);
    if (rc) return rc;
    int64_t B = x.dims[0];
    ref *refs = zf_malloc((n ? n : 1) * sizeof *refs, err);
    int64_t *idx = zf_malloc((size_t)B * sizeof *idx, err);
    uint8_t *ok = zf_malloc((size_t)B, err);
    size_t *first = zf_malloc(((size_t)B + 1) * sizeof *first, err);
    if (!refs || !idx || !ok || !first) { rc = ZF_ERR_RUNTIME; goto done; }
    size_t r = 0;
    for (int i = 0; i < n_layers; i++) {
        const zf_topk_layer *L = &t->layers[layers[i]];
        for (int u = 0; u < L->n_units; u++)
            for (int k = 0; k < L->count[u]; k++) refs[r++] = (ref){L->top[(size_t)u * t->k + k].image, layers[i], u, k};
    }
    qsort(refs, n, sizeof *refs, cmp_ref);
    for (size_t i = 0; i < n;) {
        // The next B distinct images; first[b] is where image b's references start.
        int64_t nb = 0;
        size_t j = i;
        while (j < n && nb < B) {
            first[nb] = j;
            idx[nb++] = refs[j].image;
            while (j < n && refs[j].image == idx[nb - 1]) j++;
        }
        first[nb] = j;
        if ((rc = zf_data_fill(&x, ok, ds, idx, nb, pp, m->pool, err))) goto done;
        if ((rc = zf_model_forward(m, 1, &x, err))) goto done;
        for (int64_t b = 0; b < nb; b++) {
            for (size_t q = first[b]; q < first[b + 1]; q++) {
                const ref *f = &refs[q];
                const zf_topk_layer *L = &t->layers[f->layer];
                const zf_topk_entry *e = &L->top[(size_t)f->unit * t->k + f->rank];
                if (progress) zf_progress_add(progress, 1);
                if (!ok[b]) continue;
                zf_project_opts po = zf_project_defaults();
                po.rule = rule;
                po.value = L->value;
                po.item = b;
                po.channel = L->units[f->unit];
                po.seed = ZF_SEED_AT;
                po.y = e->y;
                po.x = e->x;
                zf_project_info info;
                if ((rc = zf_project(&proj, &info, pj, &po, err))) goto done;
                if ((rc = fn(user, f->layer, f->unit, f->rank, e, &proj, &info, &x, b, err))) goto done;
            }
        }
        i = j;
    }
done:
    free(refs);
    free(idx);
    free(ok);
    free(first);
    zf_tensor_free(&x);
    zf_tensor_free(&proj);
    return rc;
}

void zf_topk_patch_box(int64_t box[2][2], const zf_rf *rf, int64_t y, int64_t x, int64_t H, int64_t W) {
    int64_t p[2] = {y, x}, lim[2] = {H, W};
    for (int a = 0; a < 2; a++) {
        if (!rf || !rf->valid || rf->global || rf->size[a] >= lim[a]) {
            box[a][0] = 0;
            box[a][1] = lim[a];
        } else {
            box[a][0] = p[a] * rf->jump[a] + rf->offset[a];
            box[a][1] = box[a][0] + rf->size[a];
        }
    }
}

// --- identity -------------------------------------------------------------------------------------

static int str_eq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

int zf_topk_same_run(const zf_topk *a, const zf_topk *b, char *why, size_t n) {
#define DIFF(...) do { if (why && n) snprintf(why, n, __VA_ARGS__); return 0; } while (0)
    if (a->model_hash != b->model_hash) DIFF("the model differs (%s there, %s here)", a->model ? a->model : "?",
                                             b->model ? b->model : "?");
    if (!str_eq(a->data, b->data)) DIFF("the dataset is '%s' there, '%s' here", a->data ? a->data : "", b->data ? b->data : "");
    if (a->count != b->count) DIFF("%lld items there, %lld here", (long long)a->count, (long long)b->count);
    if (!str_eq(a->preprocess, b->preprocess))
        DIFF("preprocessing is '%s' there, '%s' here", a->preprocess ? a->preprocess : "", b->preprocess ? b->preprocess : "");
    if (a->k != b->k) DIFF("k is %d there, %d here", a->k, b->k);
    if (a->n_layers != b->n_layers) DIFF("%d layers there, %d here", a->n_layers, b->n_layers);
    for (int l = 0; l < a->n_layers; l++) {
        const zf_topk_layer *x = &a->layers[l], *y = &b->layers[l];
        if (!str_eq(x->name, y->name)) DIFF("layer %d is '%s' there, '%s' here", l + 1, x->name, y->name);
        if (x->n_units != y->n_units || memcmp(x->units, y->units, (size_t)x->n_units * sizeof *x->units))
            DIFF("layer '%s': other units", x->name);
    }
    return 1;
#undef DIFF
}

const zf_topk_layer *zf_topk_find_layer(const zf_topk *t, const char *name) {
    for (int l = 0; l < t->n_layers; l++)
        if (name && !strcmp(t->layers[l].name, name)) return &t->layers[l];
    return NULL;
}

int zf_topk_find_unit(const zf_topk_layer *l, int64_t channel) {
    if (!l) return -1;
    for (int u = 0; u < l->n_units; u++)
        if (l->units[u] == channel) return u;
    return -1;
}

const char *zf_topk_default_dir(char *buf, size_t n, const char *model_path) {
    size_t len = strlen(model_path);
    if (len >= 5 && !strcmp(model_path + len - 5, ".onnx")) len -= 5;
    snprintf(buf, n, "%.*s.topk", (int)len, model_path);
    return buf;
}

int zf_file_hash(uint64_t *hash, const char *path, zf_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * 0x100000001b3ULL;
    int bad = ferror(f);
    fclose(f);
    if (bad) return zf_fail(err, ZF_ERR_INPUT, "%s: read error", path);
    *hash = h;
    return 0;
}

// --- JSON out -------------------------------------------------------------------------------------

static void put_str(FILE *f, const char *s) {
    if (!s) { fputs("null", f); return; }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

// Float32 values print with 9 significant digits (exact round trip); infinities as +-1e39, which
// read back as float infinities (JSON has no literal for them). NaN is never stored.
static void put_float(FILE *f, float v) {
    if (isinf(v)) fputs(v > 0 ? "1e39" : "-1e39", f);
    else fprintf(f, "%.9g", v);
}

static int write_atomic(const char *path, const char *data, size_t len, zf_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(errno));
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(e));
    }
    return 0;
}

int zf_topk_save(const char *path, const zf_topk *t, zf_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    zf_topk_entry *sorted = malloc(((size_t)t->k + 1) * sizeof *sorted);
    if (!sorted) { fclose(f); free(buf); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
    fprintf(f, "{\n  \"kind\": \"%s\",\n  \"version\": %d,\n  \"complete\": %s,\n", ZF_TOPK_KIND, ZF_TOPK_VERSION,
            t->complete ? "true" : "false");
    fputs("  \"model\": {\"path\": ", f);
    put_str(f, t->model);
    fprintf(f, ", \"hash\": \"fnv1a64:%016llx\"},\n  \"data\": {\"spec\": ", (unsigned long long)t->model_hash);
    put_str(f, t->data);
    fprintf(f, ", \"count\": %lld},\n  \"preprocess\": ", (long long)t->count);
    put_str(f, t->preprocess);
    fprintf(f, ",\n  \"k\": %d,\n  \"rule\": ", t->k);
    put_str(f, t->rule);
    fprintf(f, ",\n  \"next\": %lld,\n  \"layers\": [", (long long)t->next);
    for (int l = 0; l < t->n_layers; l++) {
        const zf_topk_layer *L = &t->layers[l];
        const zf_rf *rf = &L->rf;
        fprintf(f, "%s\n    {\"name\": ", l ? "," : "");
        put_str(f, L->name);
        fprintf(f, ", \"shape\": [%lld, %lld, %lld],\n     \"rf\": {\"valid\": %s, \"global\": %s, \"size\": [%lld, %lld], "
                "\"jump\": [%lld, %lld], \"offset\": [%lld, %lld]},\n     \"picture\": ",
                (long long)L->channels, (long long)L->height, (long long)L->width, rf->valid ? "true" : "false",
                rf->global ? "true" : "false", (long long)rf->size[0], (long long)rf->size[1], (long long)rf->jump[0],
                (long long)rf->jump[1], (long long)rf->offset[0], (long long)rf->offset[1]);
        put_str(f, L->picture);
        fputs(",\n     \"units\": [", f);
        for (int u = 0; u < L->n_units; u++) {
            fprintf(f, "%s\n      {\"unit\": %lld, \"picture\": ", u ? "," : "", (long long)L->units[u]);
            put_str(f, L->unit_pictures ? L->unit_pictures[u] : NULL);
            if (L->unit_box) {
                const int32_t *b = L->unit_box + 4 * (size_t)u;
                fprintf(f, ", \"box\": [%d, %d, %d, %d]", b[0], b[1], b[2], b[3]);
            } else {
                fputs(", \"box\": null", f);
            }
            fputs(", \"top\": [", f);
            int c = L->count[u];
            memcpy(sorted, L->top + (size_t)u * t->k, (size_t)c * sizeof *sorted);
            qsort(sorted, (size_t)c, sizeof *sorted, cmp_entry);
            for (int k = 0; k < c; k++) {
                fprintf(f, "%s[%lld, %d, %d, ", k ? ", " : "", (long long)sorted[k].image, sorted[k].y, sorted[k].x);
                put_float(f, sorted[k].value);
                fputc(']', f);
            }
            fputs("]}", f);
        }
        fputs("]}", f);
    }
    fputs("\n  ]\n}\n", f);
    free(sorted);
    int bad = ferror(f);
    if (fclose(f) || bad || !buf) {
        free(buf);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory formatting the index", path);
    }
    int rc = write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

// --- JSON in --------------------------------------------------------------------------------------
// A small strict reader (RFC 8259) into a tree: enough for the index, with a nesting limit.

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int type;
    double num;
    char *str;            // J_STR
    int n;                // J_ARR / J_OBJ items
    struct jv *items;
    char **keys;          // J_OBJ
} jv;

typedef struct {
    const char *p, *end;
    const char *what;     // file name for messages
    const char *start;
    zf_error *err;
} jparser;

#define J_MAX_DEPTH 16

static void jfree(jv *v) {
    if (!v) return;
    free(v->str);
    for (int i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static int jerr(jparser *P, const char *msg) {
    // Line of the error, for people editing files by hand.
    int line = 1;
    for (const char *q = P->start; q < P->p && q < P->end; q++) line += *q == '\n';
    return zf_fail(P->err, ZF_ERR_INPUT, "%s:%d: invalid JSON: %s", P->what, line, msg);
}

static void jws(jparser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) P->p++;
}

static int jvalue(jparser *P, jv *out, int depth);

static int jstring(jparser *P, char **out) {
    P->p++;   // opening quote
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s) return zf_fail(P->err, ZF_ERR_RUNTIME, "out of memory");
    for (;;) {
        if (P->p >= P->end) { free(s); return jerr(P, "unterminated string"); }
        unsigned char c = (unsigned char)*P->p++;
        if (c == '"') break;
        if (c < 0x20) { free(s); return jerr(P, "control character in a string"); }
        unsigned cp = c;
        int raw = 1;
        if (c == '\\') {
            if (P->p >= P->end) { free(s); return jerr(P, "unterminated string"); }
            char e = *P->p++;
            raw = 0;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (P->end - P->p < 4) { free(s); return jerr(P, "bad \\u escape"); }
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *P->p++;
                    cp <<= 4;
                    if (h >= '0' && h <= '9') cp |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') cp |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') cp |= (unsigned)(h - 'A' + 10);
                    else { free(s); return jerr(P, "bad \\u escape"); }
                }
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = '?';   // no NULs or lone surrogates
                break;
            }
            default: free(s); return jerr(P, "bad escape in a string");
            }
        }
        if (n + 4 >= cap) {
            char *g = realloc(s, cap *= 2);
            if (!g) { free(s); return zf_fail(P->err, ZF_ERR_RUNTIME, "out of memory"); }
            s = g;
        }
        if (raw || cp < 0x80) s[n++] = (char)cp;
        else if (cp < 0x800) { s[n++] = (char)(0xC0 | cp >> 6); s[n++] = (char)(0x80 | (cp & 63)); }
        else { s[n++] = (char)(0xE0 | cp >> 12); s[n++] = (char)(0x80 | ((cp >> 6) & 63)); s[n++] = (char)(0x80 | (cp & 63)); }
    }
    s[n] = 0;
    *out = s;
    return 0;
}

static int jnumber(jparser *P, jv *out) {
    const char *q = P->p;
    if (q < P->end && *q == '-') q++;
    if (q >= P->end || *q < '0' || *q > '9') return jerr(P, "unexpected character");
    if (*q == '0') q++;
    else while (q < P->end && *q >= '0' && *q <= '9') q++;
    if (q < P->end && *q == '.') {
        q++;
        if (q >= P->end || *q < '0' || *q > '9') return jerr(P, "bad number");
        while (q < P->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < P->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < P->end && (*q == '+' || *q == '-')) q++;
        if (q >= P->end || *q < '0' || *q > '9') return jerr(P, "bad number");
        while (q < P->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    size_t len = (size_t)(q - P->p);
    if (len >= sizeof buf) return jerr(P, "number too long");
    memcpy(buf, P->p, len);
    buf[len] = 0;
    out->type = J_NUM;
    out->num = strtod(buf, NULL);
    P->p = q;
    return 0;
}

static int jappend(jparser *P, jv *v, int *cap, int keyed) {
    if (v->n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 4;
    jv *items = realloc(v->items, (size_t)nc * sizeof *items);
    if (!items) return zf_fail(P->err, ZF_ERR_RUNTIME, "out of memory");
    v->items = items;
    if (keyed) {
        char **keys = realloc(v->keys, (size_t)nc * sizeof *keys);
        if (!keys) return zf_fail(P->err, ZF_ERR_RUNTIME, "out of memory");
        v->keys = keys;
    }
    *cap = nc;
    return 0;
}

static int jvalue(jparser *P, jv *out, int depth) {
    memset(out, 0, sizeof *out);
    jws(P);
    if (P->p >= P->end) return jerr(P, "unexpected end of file");
    if (depth > J_MAX_DEPTH) return jerr(P, "nested too deeply");
    char c = *P->p;
    if (c == '"') {
        out->type = J_STR;
        return jstring(P, &out->str);
    }
    if (c == '{' || c == '[') {
        int obj = c == '{', cap = 0;
        out->type = obj ? J_OBJ : J_ARR;
        P->p++;
        jws(P);
        if (P->p < P->end && *P->p == (obj ? '}' : ']')) { P->p++; return 0; }
        for (;;) {
            if (jappend(P, out, &cap, obj)) return ZF_ERR_RUNTIME;
            char *key = NULL;
            if (obj) {
                jws(P);
                if (P->p >= P->end || *P->p != '"') return jerr(P, "expected a key");
                if (jstring(P, &key)) return P->err ? P->err->code : ZF_ERR_INPUT;
                jws(P);
                if (P->p >= P->end || *P->p != ':') { free(key); return jerr(P, "expected ':'"); }
                P->p++;
                out->keys[out->n] = key;
            }
            int rc = jvalue(P, &out->items[out->n], depth + 1);
            out->n++;   // counted even on failure, so jfree releases it
            if (rc) return rc;
            jws(P);
            if (P->p < P->end && *P->p == ',') { P->p++; continue; }
            if (P->p < P->end && *P->p == (obj ? '}' : ']')) { P->p++; return 0; }
            return jerr(P, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    static const struct { const char *word; int type; } words[] = {{"null", J_NULL}, {"true", J_TRUE}, {"false", J_FALSE}};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(words[i].word);
        if ((size_t)(P->end - P->p) >= len && !memcmp(P->p, words[i].word, len)) {
            out->type = words[i].type;
            P->p += len;
            return 0;
        }
    }
    return jnumber(P, out);
}

static const jv *jget(const jv *o, const char *key) {
    if (!o || o->type != J_OBJ) return NULL;
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}

// An integer in [lo, hi].
static int jint(const jv *v, long long lo, long long hi, long long *out) {
    if (!v || v->type != J_NUM || v->num != floor(v->num) || v->num < (double)lo || v->num > (double)hi) return 1;
    *out = (long long)v->num;
    return 0;
}

// A string or null (-> NULL).
static int jstr(const jv *v, char **out, zf_error *err) {
    *out = NULL;
    if (!v || v->type == J_NULL) return 0;
    if (v->type != J_STR) return 1;
    return (*out = zf_strdup(v->str, err)) ? 0 : ZF_ERR_RUNTIME;
}

static int jpair(const jv *v, int64_t out[2], long long lo, long long hi) {
    long long a, b;
    if (!v || v->type != J_ARR || v->n != 2 || jint(&v->items[0], lo, hi, &a) || jint(&v->items[1], lo, hi, &b)) return 1;
    out[0] = a;
    out[1] = b;
    return 0;
}

#define MAX_DIM (1LL << 40)

static int load_layer(zf_topk_layer *L, const jv *o, int k, const char *path, zf_error *err) {
#define BAD(...) return zf_fail(err, ZF_ERR_INPUT, __VA_ARGS__)
    L->value = -1;
    const jv *name = jget(o, "name"), *shape = jget(o, "shape"), *rf = jget(o, "rf"), *units = jget(o, "units");
    if (!name || name->type != J_STR) BAD("%s: a layer has no name", path);
    if (!(L->name = zf_strdup(name->str, err))) return ZF_ERR_RUNTIME;
    long long c, h, w;
    if (!shape || shape->type != J_ARR || shape->n != 3 || jint(&shape->items[0], 1, MAX_DIM, &c) ||
        jint(&shape->items[1], 1, MAX_DIM, &h) || jint(&shape->items[2], 1, MAX_DIM, &w))
        BAD("%s: layer '%s': bad shape", path, L->name);
    L->channels = c, L->height = h, L->width = w;
    const jv *valid = jget(rf, "valid"), *global = jget(rf, "global");
    if (!rf || !valid || !global || (valid->type != J_TRUE && valid->type != J_FALSE) ||
        (global->type != J_TRUE && global->type != J_FALSE) || jpair(jget(rf, "size"), L->rf.size, 0, MAX_DIM) ||
        jpair(jget(rf, "jump"), L->rf.jump, 0, MAX_DIM) || jpair(jget(rf, "offset"), L->rf.offset, -MAX_DIM, MAX_DIM))
        BAD("%s: layer '%s': bad receptive field", path, L->name);
    L->rf.valid = valid->type == J_TRUE;
    L->rf.global = global->type == J_TRUE;
    if (jstr(jget(o, "picture"), &L->picture, err)) BAD("%s: layer '%s': bad picture", path, L->name);
    if (!units || units->type != J_ARR || units->n < 1) BAD("%s: layer '%s': no units", path, L->name);
    int rc = layer_alloc(L, units->n, k, err);
    if (rc) return rc;
    if (!(L->unit_pictures = zf_calloc((size_t)L->n_units, sizeof *L->unit_pictures, err))) return ZF_ERR_RUNTIME;
    for (int u = 0; u < units->n; u++) {
        const jv *U = &units->items[u], *top = jget(U, "top");
        long long ch;
        if (jint(jget(U, "unit"), 0, c - 1, &ch)) BAD("%s: layer '%s': unit %d: bad channel", path, L->name, u);
        L->units[u] = ch;
        if (jstr(jget(U, "picture"), &L->unit_pictures[u], err)) BAD("%s: layer '%s': unit %lld: bad picture", path, L->name, ch);
        const jv *box = jget(U, "box");
        if (box && box->type != J_NULL) {
            long long bv[4];
            if (box->type != J_ARR || box->n != 4 || jint(&box->items[0], 0, INT32_MAX, &bv[0]) ||
                jint(&box->items[1], 0, INT32_MAX, &bv[1]) || jint(&box->items[2], 1, INT32_MAX, &bv[2]) ||
                jint(&box->items[3], 1, INT32_MAX, &bv[3]))
                BAD("%s: layer '%s': unit %lld: bad box (x, y, width, height expected)", path, L->name, ch);
            if (!L->unit_box && !(L->unit_box = zf_calloc((size_t)L->n_units * 4, sizeof *L->unit_box, err)))
                return ZF_ERR_RUNTIME;
            for (int q = 0; q < 4; q++) L->unit_box[4 * (size_t)u + q] = (int32_t)bv[q];
        }
        if (!top || top->type != J_ARR || top->n > k) BAD("%s: layer '%s': unit %lld: bad top list", path, L->name, ch);
        for (int j = 0; j < top->n; j++) {
            const jv *e = &top->items[j];
            long long img, y, x;
            if (e->type != J_ARR || e->n != 4 || jint(&e->items[0], 0, 1LL << 50, &img) ||
                jint(&e->items[1], 0, h - 1, &y) || jint(&e->items[2], 0, w - 1, &x) || e->items[3].type != J_NUM)
                BAD("%s: layer '%s': unit %lld: entry %d is not [image, y, x, value] inside the map", path, L->name, ch, j + 1);
            L->top[(size_t)u * k + j] = (zf_topk_entry){img, (int32_t)y, (int32_t)x, (float)e->items[3].num};
        }
        L->count[u] = top->n;
    }
    for (int u = 1; u < L->n_units; u++)
        for (int v = 0; v < u; v++)
            if (L->units[u] == L->units[v]) BAD("%s: layer '%s': unit %lld listed twice", path, L->name, (long long)L->units[u]);
    return 0;
#undef BAD
}

int zf_topk_load(zf_topk *t, const char *path, zf_error *err) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap > ((size_t)1 << 31)) { fclose(f); free(buf); return zf_fail(err, ZF_ERR_INPUT, "%s: too large", path); }
            char *g = realloc(buf, cap = cap * 2 + 65536);
            if (!g) { fclose(f); free(buf); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
            buf = g;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return zf_fail(err, ZF_ERR_INPUT, "%s: read error", path); }
    jparser P = {buf, buf + len, path, buf, err};
    jv root;
    int rc = jvalue(&P, &root, 0);
    if (!rc) {
        jws(&P);
        if (P.p != P.end) rc = jerr(&P, "text after the value");
    }
    free(buf);
    if (rc) { jfree(&root); return rc; }
#define BAD(...) do { rc = zf_fail(err, ZF_ERR_INPUT, __VA_ARGS__); goto fail; } while (0)
    const jv *kind = jget(&root, "kind");
    if (!kind || kind->type != J_STR || strcmp(kind->str, ZF_TOPK_KIND)) BAD("%s: not a zfviz top-k index", path);
    long long ver, k, count, next;
    if (jint(jget(&root, "version"), 0, 1000, &ver) || ver != ZF_TOPK_VERSION)
        BAD("%s: top-k index version not supported (this zfviz reads version %d)", path, ZF_TOPK_VERSION);
    if (jint(jget(&root, "k"), 1, ZF_TOPK_MAX_K, &k)) BAD("%s: bad k", path);
    t->k = (int)k;
    const jv *complete = jget(&root, "complete"), *model = jget(&root, "model"), *data = jget(&root, "data");
    if (!complete || (complete->type != J_TRUE && complete->type != J_FALSE)) BAD("%s: bad 'complete'", path);
    t->complete = complete->type == J_TRUE;
    const jv *hash = jget(model, "hash");
    if (!model || (rc = jstr(jget(model, "path"), &t->model, err))) BAD("%s: bad model", path);
    if (!hash || hash->type != J_STR || strncmp(hash->str, "fnv1a64:", 8) || strlen(hash->str) != 24)
        BAD("%s: bad model hash", path);
    char *end;
    t->model_hash = strtoull(hash->str + 8, &end, 16);
    if (*end) BAD("%s: bad model hash", path);
    if (!data || jstr(jget(data, "spec"), &t->data, err) || jint(jget(data, "count"), 0, 1LL << 50, &count))
        BAD("%s: bad data", path);
    t->count = count;
    if (jstr(jget(&root, "preprocess"), &t->preprocess, err) || jstr(jget(&root, "rule"), &t->rule, err))
        BAD("%s: bad preprocess or rule", path);
    if (jint(jget(&root, "next"), 0, count, &next)) BAD("%s: bad 'next'", path);
    t->next = next;
    const jv *layers = jget(&root, "layers");
    if (!layers || layers->type != J_ARR || layers->n < 1) BAD("%s: no layers", path);
    if (!(t->layers = zf_calloc((size_t)layers->n, sizeof *t->layers, err))) { rc = ZF_ERR_RUNTIME; goto fail; }
    t->n_layers = layers->n;
    for (int l = 0; l < layers->n; l++)
        if ((rc = load_layer(&t->layers[l], &layers->items[l], t->k, path, err))) goto fail;
    jfree(&root);
    zf_topk_sort(t);
    return 0;
fail:
    jfree(&root);
    zf_topk_free(t);
    return rc ? rc : ZF_ERR_INPUT;
#undef BAD
}
