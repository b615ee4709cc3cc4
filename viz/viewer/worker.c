// worker.c: the viewer's model thread. The UI writes the state it wants to see (zfv_request); the
// worker compares it with what it last computed and does the most urgent stale thing first: load
// and run a new image, copy the selected layer, project the selected unit, probe the live
// occlusion position, then (in slices, so it never delays the others) the full occlusion map.
// Results go into worker-private buffers and are published by swapping them with the shared ones
// under the mutex: nobody copies under the lock.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/progress.h"
#include "internal.h"

#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)

static int grow(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    void *q = realloc(*p, need);
    if (!q) return 1;
    *p = q;
    *cap = need;
    return 0;
}

static double ms_since(double t0) { return (zf_seconds() - t0) * 1e3; }

// --- jobs (run without the lock) --------------------------------------------------------------------
static void job_image(zfv_worker *w, const char *path, uint64_t seq) {
    zfv_image_result *r = &w->work.img;
    zf_error err = {0};
    double t0 = zf_seconds();
    r->seq = seq;
    r->ok = 0;
    r->msg[0] = 0;
    snprintf(r->path, sizeof r->path, "%s", path);
    const zfv_info *I = w->info;
    zf_image img = {0};
    zf_tensor x = {0};
    int rc = 0;
    if (path[0]) {
        rc = zf_image_load(&img, path, &err);
    } else if (!(rc = zf_image_alloc(&img, I->in_w, I->in_h, 1, &err))) {
        for (size_t i = 0; i < (size_t)I->in_w * I->in_h; i++) img.data[i] = 0.5f;
    }
    if (!rc && (rc = zf_image_to_tensor(&x, &img, &I->pp, I->in_c, I->in_h, I->in_w, &err)))
        zf_error_prefix(&err, "%s", path);
    r->load_ms = ms_since(t0);
    double t1 = zf_seconds();
    if (!rc) rc = zf_model_forward(&w->m, 1, &x, &err);
    r->forward_ms = ms_since(t1);
    if (!rc) rc = zf_image_from_tensor(&r->shown, &x, 0, &I->pp, &err);
    if (!rc) {
        zf_tensor_free(&w->x);
        w->x = x;
        memset(&x, 0, sizeof x);
        w->gen++;
        const zf_tensor *out = &w->m.values[I->out_value].t;
        r->n_top = zfv_top_classes(r->top, r->prob, 5, zf_f32(out), I->n_classes, I->out_is_prob, I->out_is_logprob);
        w->top_cls = r->n_top ? r->top[0] : 0;
        r->ok = 1;
    } else {
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    }
    r->gen = w->gen;
    zf_image_free(&img);
    zf_tensor_free(&x);
}

static void job_layer(zfv_worker *w, int layer) {
    zfv_layer_result *r = &w->work.lay;
    double t0 = zf_seconds();
    r->gen = w->gen;
    r->layer = layer;
    r->C = r->H = r->W = 0;
    if (layer < 0 || layer >= w->info->n_layers) return;
    const zfv_layer *L = &w->info->layers[layer];
    const zf_tensor *t = &w->m.values[L->value].t;
    size_t hw = (size_t)L->H * L->W, n = (size_t)L->C * hw;
    if (grow((void **)&r->data, &r->cap, n * sizeof(float)) ||
        grow((void **)&r->mn, &r->mcap, (size_t)L->C * (2 * sizeof(float) + sizeof(int64_t)))) {
        return;   // out of memory: the grid stays empty
    }
    r->mx = r->mn + L->C;
    r->argmax = (int64_t *)(r->mx + L->C);
    memcpy(r->data, zf_f32(t), n * sizeof(float));   // item 0 of the batch
    float lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < L->C; c++) {
        const float *m = r->data + c * hw;
        float mn = INFINITY, mx = -INFINITY;
        int64_t am = 0;
        for (size_t i = 0; i < hw; i++) {
            if (m[i] < mn) mn = m[i];
            if (m[i] > mx) { mx = m[i]; am = (int64_t)i; }
        }
        r->mn[c] = mn, r->mx[c] = mx, r->argmax[c] = am;
        if (mn < lo) lo = mn;
        if (mx > hi) hi = mx;
    }
    r->lo = lo, r->hi = hi;
    r->C = L->C, r->H = L->H, r->W = L->W;
    r->ms = ms_since(t0);
}

static void job_project(zfv_worker *w, const zfv_proj_key *k) {
    zfv_proj_result *r = &w->work.prj;
    double t0 = zf_seconds();
    r->key = *k;
    r->ok = 0;
    r->msg[0] = 0;
    r->C = r->H = r->W = 0;
    zf_error err = {0};
    if (k->layer < 0 || k->layer >= w->info->n_layers) { snprintf(r->msg, sizeof r->msg, "no layer"); return; }
    if (!w->pj && !w->pj_failed && zf_projector_create(&w->pj, &w->m, &err)) {
        w->pj_failed = 1;
        snprintf(w->pj_msg, sizeof w->pj_msg, "%s", err.msg);
    }
    if (w->pj_failed) { snprintf(r->msg, sizeof r->msg, "%s", w->pj_msg); return; }
    zf_project_opts o = zf_project_defaults();
    o.rule = (zf_rule)k->rule;
    o.value = w->info->layers[k->layer].value;
    o.channel = k->unit;
    if (k->seed_at) {
        o.seed = ZF_SEED_AT;
        o.y = k->y;
        o.x = k->x;
    }
    zf_tensor out = {0};
    if (zf_project(&out, &r->info, w->pj, &o, &err)) {
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        zf_tensor_free(&out);
        return;
    }
    // out is (1,C,H,W) in input space; keep it as (C,H,W).
    int C = out.ndim == 4 ? (int)out.dims[1] : 1;
    int H = out.ndim == 4 ? (int)out.dims[2] : 1;
    int W = out.ndim == 4 ? (int)out.dims[3] : (int)zf_tensor_numel(&out);
    size_t n = (size_t)C * H * W;
    if (grow((void **)&r->data, &r->cap, n * sizeof(float))) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
    } else {
        memcpy(r->data, out.data, n * sizeof(float));
        r->C = C, r->H = H, r->W = W;
        r->ok = 1;
    }
    zf_tensor_free(&out);
    r->ms = ms_since(t0);
}

static int ensure_occluder(zfv_worker *w, char *msg, size_t n) {
    if (w->occ) return 0;
    if (!w->occ_failed) {
        zf_error err = {0};
        zf_model plan;
        if (zfv_model_load(&plan, w->src, &err) || zfv_occluder_create(&w->occ, &plan, &w->info->pp, &err)) {
            w->occ_failed = 1;
            snprintf(w->occ_msg, sizeof w->occ_msg, "occlusion plan: %s", err.msg);
        }
    }
    if (w->occ_failed) { snprintf(msg, n, "%s", w->occ_msg); return 1; }
    return 0;
}

static zfv_occlusion_target target_of(const zfv_worker *w, int layer, int64_t unit) {
    zfv_occlusion_target t = {.value = -1, .channel = unit, .out_value = w->info->out_value, .cls = w->top_cls,
                              .is_prob = w->info->out_is_prob, .is_logprob = w->info->out_is_logprob};
    if (layer >= 0 && layer < w->info->n_layers) t.value = w->info->layers[layer].value;
    return t;
}

static void job_occlude(zfv_worker *w, const zfv_occl_key *k) {
    zfv_occl_result *r = &w->work.occ;
    double t0 = zf_seconds();
    r->key = *k;
    r->ok = 0;
    r->msg[0] = 0;
    r->H = r->W = 0;
    if (ensure_occluder(w, r->msg, sizeof r->msg)) return;
    zfv_occlusion_target t = target_of(w, k->layer, k->unit);
    int H = 0, W = 0;
    if (t.value >= 0) {
        H = w->info->layers[k->layer].H;
        W = w->info->layers[k->layer].W;
        if (grow((void **)&r->map, &r->cap, (size_t)H * W * sizeof(float))) {
            snprintf(r->msg, sizeof r->msg, "out of memory");
            return;
        }
    }
    zf_error err = {0};
    if (zfv_occlude_at(&r->probe, t.value >= 0 ? r->map : NULL, NULL, w->occ, &w->x, k->cy, k->cx, k->size, &t, &err)) {
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        return;
    }
    r->H = H, r->W = W;
    r->ok = 1;
    r->ms = ms_since(t0);
}

// Higher-priority work waiting? (under the lock)
static int urgent_stale(zfv_worker *w);

// One slice of the full map: positions until done, or until something more urgent is requested.
// Returns 1 when the map is complete (or failed).
static int job_map_slice(zfv_worker *w, const zfv_map_key *k) {
    zfv_map_result *r = &w->work.map;
    if (memcmp(&r->key, k, sizeof *k) || !r->total) {   // a new map: start over
        r->key = *k;
        r->ok = 0;
        r->msg[0] = 0;
        r->done = r->total = 0;
        r->ms = 0;
        r->cls = w->top_cls;
        if (ensure_occluder(w, r->msg, sizeof r->msg)) return 1;
        zfv_occlusion_grid(&r->OH, &r->OW, w->info->in_h, w->info->in_w, k->stride);
        r->C = k->layer >= 0 && k->layer < w->info->n_layers ? w->info->layers[k->layer].C : 0;
        size_t pos = (size_t)r->OH * r->OW;
        if (grow((void **)&r->prob, &r->pcap, pos * sizeof(float)) ||
            grow((void **)&r->sums, &r->scap, (pos * (size_t)(r->C ? r->C : 1)) * sizeof(float))) {
            snprintf(r->msg, sizeof r->msg, "out of memory");
            return 1;
        }
        r->total = (int64_t)pos;
        atomic_store(&w->map_total, r->total);
        atomic_store(&w->map_done, 0);
    }
    zfv_occlusion_target t = target_of(w, k->layer, -1);
    double t0 = zf_seconds();
    while (r->done < r->total) {
        int i = (int)(r->done / r->OW), j = (int)(r->done % r->OW), cy, cx;
        zfv_occlusion_center(&cy, &cx, i, j, k->stride, w->info->in_h, w->info->in_w);
        zfv_probe p;
        zf_error err = {0};
        if (zfv_occlude_at(&p, NULL, r->C ? r->sums + r->done * r->C : NULL, w->occ, &w->x, cy, cx, k->size, &t, &err)) {
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
            r->ms += ms_since(t0);
            return 1;
        }
        r->prob[r->done] = p.prob;
        r->done++;
        atomic_store(&w->map_done, r->done);
        pthread_mutex_lock(&w->mu);
        int stop = urgent_stale(w) || w->req.quit || !w->req.map_want;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
    }
    r->ms += ms_since(t0);
    if (r->done < r->total) return 0;
    r->ok = 1;
    return 1;
}

// --- the loop ---------------------------------------------------------------------------------------
static zfv_proj_key proj_key(const zfv_worker *w) {
    zfv_proj_key k;
    memset(&k, 0, sizeof k);
    k.gen = w->gen;
    k.layer = w->req.layer;
    k.unit = w->req.unit;
    k.rule = w->req.rule;
    k.seed_at = w->req.seed_at;
    if (k.seed_at) k.y = w->req.seed_y, k.x = w->req.seed_x;
    return k;
}

static zfv_occl_key occl_key(const zfv_worker *w) {
    zfv_occl_key k;
    memset(&k, 0, sizeof k);
    k.gen = w->gen;
    k.layer = w->req.layer;
    k.unit = w->req.unit;
    k.size = w->req.occl_size;
    k.cy = w->req.occl_cy;
    k.cx = w->req.occl_cx;
    return k;
}

static zfv_map_key map_key(const zfv_worker *w) {
    zfv_map_key k;
    memset(&k, 0, sizeof k);
    k.gen = w->gen;
    k.layer = w->req.map_layer;
    k.size = w->req.occl_size;
    k.stride = w->req.map_stride;
    return k;
}

static int image_stale(zfv_worker *w) { return w->req.image_seq != w->img_done; }
static int layer_stale(zfv_worker *w) { return w->lay_done_layer != w->req.layer || w->lay_done_gen != w->gen; }
static int proj_stale(zfv_worker *w) {
    if (w->req.layer < 0 || !w->gen) return 0;
    zfv_proj_key k = proj_key(w);
    return !w->prj_any || memcmp(&k, &w->prj_done, sizeof k);
}
static int occl_stale(zfv_worker *w) {
    if (!w->req.occl_on || w->req.occl_cy < 0 || !w->gen) return 0;
    zfv_occl_key k = occl_key(w);
    return !w->occ_any || memcmp(&k, &w->occ_done, sizeof k);
}
static int map_stale(zfv_worker *w) {
    if (!w->req.map_want || !w->gen) return 0;
    zfv_map_key k = map_key(w);
    return !w->map_any || memcmp(&k, &w->map_key_done, sizeof k);
}
static int urgent_stale(zfv_worker *w) {
    return image_stale(w) || layer_stale(w) || proj_stale(w) || occl_stale(w);
}

static void publish(zfv_worker *w, int bit) {
    // under the lock
    switch (bit) {
    case ZFV_FRESH_IMG: SWAP(w->work.img, w->pub.img); break;
    case ZFV_FRESH_LAY: SWAP(w->work.lay, w->pub.lay); break;
    case ZFV_FRESH_PRJ: SWAP(w->work.prj, w->pub.prj); break;
    case ZFV_FRESH_OCC: SWAP(w->work.occ, w->pub.occ); break;
    case ZFV_FRESH_MAP: SWAP(w->work.map, w->pub.map); break;
    }
    w->fresh |= bit;
}

static void *worker_main(void *arg) {
    zfv_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->req.quit) break;
        int job = ZFV_JOB_NONE;
        if (image_stale(w)) job = ZFV_JOB_IMAGE;
        else if (layer_stale(w)) job = ZFV_JOB_LAYER;
        else if (proj_stale(w)) job = ZFV_JOB_PROJECT;
        else if (occl_stale(w)) job = ZFV_JOB_OCCLUDE;
        else if (map_stale(w)) job = ZFV_JOB_MAP;
        if (job == ZFV_JOB_NONE) {
            w->idle = 1;
            w->busy_job = 0;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        w->idle = 0;
        w->busy_job = job;
        int bit = 0;
        if (job == ZFV_JOB_IMAGE) {
            char *path = strdup(w->req.image_path);
            uint64_t seq = w->req.image_seq;
            pthread_mutex_unlock(&w->mu);
            job_image(w, path ? path : "", seq);
            free(path);
            pthread_mutex_lock(&w->mu);
            w->img_done = seq;
            bit = ZFV_FRESH_IMG;
        } else if (job == ZFV_JOB_LAYER) {
            int layer = w->req.layer;
            uint64_t gen = w->gen;
            pthread_mutex_unlock(&w->mu);
            job_layer(w, layer);
            pthread_mutex_lock(&w->mu);
            w->lay_done_layer = layer;
            w->lay_done_gen = gen;
            bit = ZFV_FRESH_LAY;
        } else if (job == ZFV_JOB_PROJECT) {
            zfv_proj_key k = proj_key(w);
            pthread_mutex_unlock(&w->mu);
            job_project(w, &k);
            pthread_mutex_lock(&w->mu);
            w->prj_done = k;
            w->prj_any = 1;
            bit = ZFV_FRESH_PRJ;
        } else if (job == ZFV_JOB_OCCLUDE) {
            zfv_occl_key k = occl_key(w);
            pthread_mutex_unlock(&w->mu);
            job_occlude(w, &k);
            pthread_mutex_lock(&w->mu);
            w->occ_done = k;
            w->occ_any = 1;
            bit = ZFV_FRESH_OCC;
        } else {
            zfv_map_key k = map_key(w);
            pthread_mutex_unlock(&w->mu);
            int complete = job_map_slice(w, &k);
            pthread_mutex_lock(&w->mu);
            if (complete) {
                w->map_key_done = k;
                w->map_any = 1;
                bit = ZFV_FRESH_MAP;
                // keep a copy in work so a resumed key check sees it finished
            }
        }
        if (bit) {
            publish(w, bit);
            if (bit == ZFV_FRESH_MAP) w->work.map.total = 0;   // work now holds an old buffer
            pthread_mutex_unlock(&w->mu);
            if (w->notify) w->notify(w->notify_ctx);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int zfv_worker_start(zfv_worker *w, const zfv_info *info, const zfv_source *src, zf_model *m,
                     void (*notify)(void *), void *ctx, zf_error *err) {
    memset(w, 0, sizeof *w);
    w->info = info;
    w->src = src;
    w->m = *m;
    memset(m, 0, sizeof *m);
    w->notify = notify;
    w->notify_ctx = ctx;
    w->lay_done_layer = -2;
    w->req.layer = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        zf_model_free(&w->m);
        return zf_fail(err, ZF_ERR_RUNTIME, "cannot start the viewer's worker thread");
    }
    w->started = 1;
    return 0;
}

void zfv_worker_stop(zfv_worker *w) {
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->req.quit = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started = 0;
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    zf_projector_free(w->pj);
    zfv_occluder_free(w->occ);
    zf_model_free(&w->m);
    zf_tensor_free(&w->x);
    zfv_results_free(&w->work);
    zfv_results_free(&w->pub);
}

void zfv_worker_request(zfv_worker *w, const zfv_request *r) {
    pthread_mutex_lock(&w->mu);
    int quit = w->req.quit;
    if (memcmp(&w->req, r, sizeof *r)) {
        w->req = *r;
        w->req.quit |= quit;
        w->idle = 0;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

int zfv_worker_take(zfv_worker *w, zfv_results *r) {
    pthread_mutex_lock(&w->mu);
    int f = w->fresh;
    if (f & ZFV_FRESH_IMG) SWAP(w->pub.img, r->img);
    if (f & ZFV_FRESH_LAY) SWAP(w->pub.lay, r->lay);
    if (f & ZFV_FRESH_PRJ) SWAP(w->pub.prj, r->prj);
    if (f & ZFV_FRESH_OCC) SWAP(w->pub.occ, r->occ);
    if (f & ZFV_FRESH_MAP) SWAP(w->pub.map, r->map);
    w->fresh = 0;
    pthread_mutex_unlock(&w->mu);
    return f;
}

int zfv_worker_synced(zfv_worker *w, int *job) {
    pthread_mutex_lock(&w->mu);
    int s = w->idle && !w->fresh;
    if (job) *job = w->busy_job;
    pthread_mutex_unlock(&w->mu);
    return s;
}

void zfv_results_free(zfv_results *r) {
    zf_image_free(&r->img.shown);
    free(r->lay.data);
    free(r->lay.mn);
    free(r->prj.data);
    free(r->occ.map);
    free(r->map.prob);
    free(r->map.sums);
    memset(r, 0, sizeof *r);
}
