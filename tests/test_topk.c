// test_topk.c: per-unit top-k activations over a dataset (core/topk.h).
//   1. Brute force: a seeded LeNet over 300 items (a synthetic IDX dataset, and Fashion-MNIST when
//      Debian's package is installed), streamed at batch 7 (the last batch padded) for every
//      layer with maps plus a fully connected one, against a batch-1 pass that keeps every
//      image's per-unit maximum and sorts them all: same images, positions and values (values to
//      1e-5; images may differ only between values closer than that).
//   2. Ties: a dataset of identical images gives every unit the first k images (batch 1: the engine
//      computes every image alike); on hand-made maps, ties between images go to the lower index in
//      any arrival order, between positions to the first, NaN never wins, skipped slots add nothing.
//   3. Resume: a run stopped after 3 batches, saved, loaded and continued equals an uninterrupted
//      run bit for bit; the progress file records where it stopped.
//   4. The index file: save/load round trip, zf_topk_same_run, damaged and hostile files rejected
//      with a message naming the file.
//   5. The projection pass: every entry projected from its position reproduces its value and
//      position, inside the receptive field box; images are visited once each, in order, for one
//      layer and for all layers at once.
//   6. Layer choice, unit and k errors, patch boxes, the default folder.
// Exit 0 pass, 1 fail, 77 never (the synthetic dataset always runs).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/data.h"
#include "core/graph.h"
#include "core/project.h"
#include "core/topk.h"
#include "core/onnx/onnx.h"
#include "models/models.h"

static int failures;
static char tmpdir[256];

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            failures++;                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

// --- fixtures -------------------------------------------------------------------------------------

static int build_lenet(zf_model *m, int64_t batch, uint64_t seed) {
    zf_error err = {0};
    zf_build_opts bo = zf_build_defaults("lenet");
    bo.seed = seed;
    zf_onnx_model om = {0};
    if (zf_model_build(&om, "lenet", &bo, &err)) {
        printf("FAIL build: %s\n", err.msg);
        zf_onnx_free(&om);
        return 1;
    }
    zf_load_opts lo = zf_load_defaults();
    lo.batch = batch;
    lo.threads = 2;
    int rc = zf_model_from_onnx(m, &om, "lenet", &lo, &err);
    zf_onnx_free(&om);
    if (rc) printf("FAIL load: %s\n", err.msg);
    return rc;
}

// A 28x28 IDX image file of n items: smooth random blobs (so maxima move around), or all equal.
static void write_idx(const char *path, int n, int same) {
    FILE *f = fopen(path, "wb");
    if (!f) { printf("cannot write %s\n", path); exit(1); }
    unsigned char hdr[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                             (unsigned char)n, 0, 0, 0, 28, 0, 0, 0, 28};
    fwrite(hdr, 1, 16, f);
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < n; i++) {
        double cy[3], cx[3], a[3];
        for (int k = 0; k < 3; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            cy[k] = (s % 2800) / 100.0;
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            cx[k] = (s % 2800) / 100.0;
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            a[k] = 80 + (s % 176);
        }
        if (same) cy[0] = 10, cx[0] = 12, cy[1] = 20, cx[1] = 5, cy[2] = 3, cx[2] = 22, a[0] = a[1] = a[2] = 200;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                double v = 0;
                for (int k = 0; k < 3; k++) v += a[k] * exp(-((y - cy[k]) * (y - cy[k]) + (x - cx[k]) * (x - cx[k])) / 18.0);
                if (!same) {
                    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                    v += (double)(s % 31);
                }
                unsigned char c = (unsigned char)(v > 255 ? 255 : v);
                fputc(c, f);
            }
    }
    fclose(f);
}

// --- 1. brute force -------------------------------------------------------------------------------

typedef struct { float value; int64_t image; int32_t y, x; } cand;

static int cmp_cand(const void *a, const void *b) {
    const cand *p = a, *q = b;
    if (p->value != q->value) return p->value > q->value ? -1 : 1;
    return (p->image > q->image) - (p->image < q->image);
}

static void brute_force(const char *spec, int k) {
    zf_error err = {0};
    zf_dataset ds = {0};
    if (zf_data_open(&ds, spec, &err)) { CHECK(0, "%s: %s", spec, err.msg); return; }
    zf_model mb = {0}, m1 = {0};
    if (build_lenet(&mb, 7, 5) || build_lenet(&m1, 1, 5)) { failures++; goto out; }
    int layers[32], nl = zf_topk_default_layers(layers, 31, &mb, 1);
    CHECK(nl == 6, "lenet has %d layers with maps, expected 6 (conv1 relu1 pool1 conv2 relu2 pool2)", nl);
    layers[nl++] = zf_model_find(&mb, "fc3");   // an (N, units) tensor too
    zf_topk t = {0};
    if (zf_topk_init(&t, &mb, layers, nl, NULL, 0, k, &err)) { CHECK(0, "init: %s", err.msg); goto out; }
    zf_topk_set_source(&t, "lenet", 1, spec, ds.count, "raw", &err);
    zf_preprocess pp = zf_preprocess_raw();
    if (zf_topk_run(&t, &mb, &ds, &pp, NULL, &err)) { CHECK(0, "run: %s", err.msg); zf_topk_free(&t); goto out; }
    CHECK(t.next == ds.count, "next %lld after the run, expected %lld", (long long)t.next, (long long)ds.count);

    // Reference: every image's per-unit maximum at batch 1, all kept, fully sorted.
    int64_t N = ds.count;
    cand **all = calloc((size_t)nl, sizeof *all);
    zf_tensor x = {0};
    zf_tensor_alloc(&x, ZF_F32, 4, (int64_t[]){1, 1, 28, 28}, &err);
    for (int l = 0; l < nl; l++) all[l] = calloc((size_t)(t.layers[l].n_units * N), sizeof **all);
    for (int64_t i = 0; i < N; i++) {
        uint8_t ok;
        if (zf_data_fill(&x, &ok, &ds, &i, 1, &pp, NULL, &err) || zf_model_forward(&m1, 1, &x, &err)) {
            CHECK(0, "reference forward: %s", err.msg);
            break;
        }
        for (int l = 0; l < nl; l++) {
            const zf_tensor *tt = &m1.values[zf_model_find(&m1, t.layers[l].name)].t;
            int64_t C = tt->dims[1], H = tt->ndim == 4 ? tt->dims[2] : 1, W = tt->ndim == 4 ? tt->dims[3] : 1;
            for (int64_t c = 0; c < C; c++) {
                const float *p = zf_f32(tt) + c * H * W;
                int64_t best = 0;
                for (int64_t q = 1; q < H * W; q++)
                    if (p[q] > p[best]) best = q;
                all[l][c * N + i] = (cand){p[best], i, (int32_t)(best / W), (int32_t)(best % W)};
            }
        }
    }
    int checked = 0, swaps = 0;
    double max_err = 0;
    for (int l = 0; l < nl; l++) {
        zf_topk_layer *L = &t.layers[l];
        int first_bad = 1;
        for (int u = 0; u < L->n_units; u++) {
            cand *c = all[l] + u * N;
            qsort(c, (size_t)N, sizeof *c, cmp_cand);
            CHECK(L->count[u] == k, "%s unit %d holds %d entries", L->name, u, L->count[u]);
            for (int r = 0; r < L->count[u]; r++) {
                const zf_topk_entry *e = &L->top[(size_t)u * k + r];
                double d = fabs(e->value - c[r].value);
                if (d > max_err) max_err = d;
                int same_img = e->image == c[r].image;
                // Batched and batch-1 GEMMs may round differently: near-equal values may swap.
                int near = 0;
                if (!same_img)
                    for (int q = 0; q < N && !near; q++)
                        near = c[q].image == e->image && fabs(c[q].value - c[r].value) <= 1e-5 * (1 + fabs(c[r].value));
                swaps += !same_img && near;
                int pos_ok = !same_img || (e->y == c[r].y && e->x == c[r].x) || d <= 1e-5;
                if ((d > 1e-5 * (1 + fabs(c[r].value)) || (!same_img && !near) || !pos_ok) && first_bad) {
                    CHECK(0, "%s %s unit %d rank %d: topk (image %lld at %d,%d, %.9g), brute force (image %lld at %d,%d, %.9g)",
                          spec, L->name, u, r, (long long)e->image, e->y, e->x, e->value, (long long)c[r].image, c[r].y,
                          c[r].x, c[r].value);
                    first_bad = 0;
                }
                checked++;
            }
        }
        free(all[l]);
    }
    free(all);
    printf("brute force %s: %d layers, %d entries checked, max |value error| %.3g, %d near-tie swaps\n", spec, nl,
           checked, max_err, swaps);
    zf_tensor_free(&x);
    zf_topk_free(&t);
out:
    zf_model_free(&mb);
    zf_model_free(&m1);
    zf_data_close(&ds);
}

// --- 2. ties --------------------------------------------------------------------------------------

// Identical images through the engine at batch 1 (every image computed alike): exact ties, so the
// first k images win.
static void ties_engine(const char *spec) {
    zf_error err = {0};
    zf_dataset ds = {0};
    zf_model m = {0};
    if (zf_data_open(&ds, spec, &err)) { CHECK(0, "%s: %s", spec, err.msg); return; }
    if (build_lenet(&m, 1, 2)) { failures++; zf_data_close(&ds); return; }
    int layers[8], nl = zf_topk_default_layers(layers, 8, &m, 0);
    zf_topk t = {0};
    zf_preprocess pp = zf_preprocess_raw();
    if (zf_topk_init(&t, &m, layers, nl, (int64_t[]){0, 3, 5}, 3, 4, &err) || zf_topk_run(&t, &m, &ds, &pp, NULL, &err)) {
        CHECK(0, "ties: %s", err.msg);
    } else {
        int bad = 0;
        for (int l = 0; l < t.n_layers && !bad; l++)
            for (int u = 0; u < t.layers[l].n_units && !bad; u++)
                for (int r = 0; r < 4 && !bad; r++) {
                    const zf_topk_entry *e = &t.layers[l].top[u * 4 + r], *e0 = &t.layers[l].top[u * 4];
                    if (e->image != r || e->value != e0->value || e->y != e0->y || e->x != e0->x) {
                        CHECK(0, "ties: %s unit %lld rank %d is image %lld (%.9g at %d,%d), expected image %d",
                              t.layers[l].name, (long long)t.layers[l].units[u], r, (long long)e->image, e->value, e->y,
                              e->x, r);
                        bad = 1;
                    }
                }
    }
    zf_topk_free(&t);
    zf_model_free(&m);
    zf_data_close(&ds);
}

// zf_topk_update on hand-made maps (a two-value model: input, one (B,2,2,3) tensor): ties between
// images go to the lower index whatever order batches arrive in, ties between positions to the
// first in row-major order, NaN never wins, an all-NaN map adds nothing, unreadable slots are skipped.
static void ties_exact(void) {
    zf_value vals[2];
    memset(vals, 0, sizeof vals);
    float in_data[4 * 1 * 2 * 3] = {0}, data[4 * 2 * 2 * 3];
    vals[0].name = "input";
    vals[0].t = (zf_tensor){ZF_F32, 4, {4, 1, 2, 3}, in_data, 0};
    vals[0].producer = -1;
    vals[0].is_input = 1;
    vals[1].name = "maps";
    vals[1].t = (zf_tensor){ZF_F32, 4, {4, 2, 2, 3}, data, 0};
    vals[1].producer = 0;
    int inputs[1] = {0};
    zf_model m;
    memset(&m, 0, sizeof m);
    m.path = "hand-made";
    m.n_values = 2;
    m.values = vals;
    m.n_inputs = 1;
    m.inputs = inputs;
    zf_error err = {0};
    for (int order = 0; order < 2; order++) {
        zf_topk t = {0};
        int v = 1;
        if (zf_topk_init(&t, &m, &v, 1, NULL, 0, 3, &err)) { CHECK(0, "init: %s", err.msg); return; }
        // 5 batches of 4 images (20 images); batch order forward or backward.
        for (int bi = 0; bi < 5; bi++) {
            int b = order ? 4 - bi : bi;
            int64_t items[4];
            uint8_t ok[4] = {1, 1, 1, 1};
            for (int s = 0; s < 4; s++) {
                int64_t img = b * 4 + s;
                items[s] = img;
                float *c0 = data + s * 12, *c1 = c0 + 6;
                // Channel 0: every image peaks at 2.5, twice (positions 1 and 4): image order and
                // position order decide. Channel 1: NaN everywhere for even images, else img/10
                // at position 5 with a NaN before it.
                for (int q = 0; q < 6; q++) c0[q] = (float)q * 0.1f;
                c0[1] = c0[4] = 2.5f;
                for (int q = 0; q < 6; q++) c1[q] = NAN;
                if (img % 2) { c1[5] = (float)img / 10; c1[0] = -1.0f; }
            }
            if (b == 0) ok[0] = 0;   // image 0 unreadable
            zf_topk_update(&t, &m, items, ok, 4);
        }
        zf_topk_sort(&t);
        zf_topk_layer *L = &t.layers[0];
        CHECK(L->count[0] == 3 && L->top[0].image == 1 && L->top[1].image == 2 && L->top[2].image == 3,
              "order %d channel 0: images %lld %lld %lld, expected 1 2 3", order, (long long)L->top[0].image,
              (long long)L->top[1].image, (long long)L->top[2].image);
        CHECK(L->top[0].y == 0 && L->top[0].x == 1 && L->top[0].value == 2.5f, "order %d: position %d,%d value %g", order,
              L->top[0].y, L->top[0].x, L->top[0].value);
        const zf_topk_entry *e = L->top + 3;
        CHECK(L->count[1] == 3 && e[0].image == 19 && e[1].image == 17 && e[2].image == 15 && e[0].y == 1 && e[0].x == 2,
              "order %d channel 1: images %lld %lld %lld at %d,%d", order, (long long)e[0].image, (long long)e[1].image,
              (long long)e[2].image, e[0].y, e[0].x);
        zf_topk_free(&t);
    }
}

// --- 3. resume, 4. the file -----------------------------------------------------------------------

static int same_entries(const zf_topk *a, const zf_topk *b, int exact, const char *what) {
    if (a->n_layers != b->n_layers || a->k != b->k) { CHECK(0, "%s: %d/%d layers, k %d/%d", what, a->n_layers, b->n_layers, a->k, b->k); return 0; }
    for (int l = 0; l < a->n_layers; l++) {
        const zf_topk_layer *x = &a->layers[l], *y = &b->layers[l];
        if (strcmp(x->name, y->name) || x->n_units != y->n_units) { CHECK(0, "%s: layer %d differs", what, l); return 0; }
        for (int u = 0; u < x->n_units; u++) {
            if (x->count[u] != y->count[u] || x->units[u] != y->units[u]) {
                CHECK(0, "%s: %s unit %d: count %d vs %d", what, x->name, u, x->count[u], y->count[u]);
                return 0;
            }
            for (int r = 0; r < x->count[u]; r++) {
                const zf_topk_entry *p = &x->top[(size_t)u * a->k + r], *q = &y->top[(size_t)u * b->k + r];
                if (p->image != q->image || p->y != q->y || p->x != q->x || (exact ? memcmp(&p->value, &q->value, 4) != 0 : p->value != q->value)) {
                    CHECK(0, "%s: %s unit %d rank %d: (%lld %d,%d %.9g) vs (%lld %d,%d %.9g)", what, x->name, u, r,
                          (long long)p->image, p->y, p->x, p->value, (long long)q->image, q->y, q->x, q->value);
                    return 0;
                }
            }
        }
    }
    return 1;
}

static void resume_and_file(const char *spec) {
    zf_error err = {0};
    zf_dataset ds = {0};
    zf_model m = {0};
    if (zf_data_open(&ds, spec, &err)) { CHECK(0, "%s: %s", spec, err.msg); return; }
    if (build_lenet(&m, 16, 9)) { failures++; zf_data_close(&ds); return; }
    int layers[16], nl = zf_topk_default_layers(layers, 16, &m, 1);
    zf_preprocess pp = zf_preprocess_raw();
    char prog[400], index[400];
    snprintf(prog, sizeof prog, "%s/%s", tmpdir, ZF_TOPK_PROGRESS);
    snprintf(index, sizeof index, "%s/%s", tmpdir, ZF_TOPK_INDEX);
    zf_topk full = {0}, part = {0}, loaded = {0}, again = {0};
    if (zf_topk_init(&full, &m, layers, nl, NULL, 0, 9, &err) || zf_topk_set_source(&full, "m", 42, spec, ds.count, "raw", &err) ||
        zf_topk_run(&full, &m, &ds, &pp, NULL, &err)) {
        CHECK(0, "full run: %s", err.msg);
        goto out;
    }
    // Interrupted after 3 batches (48 items), saved every 2 batches and at the stop.
    zf_topk_run_opts ro = {.save_path = prog, .save_every = 2, .stop_after = 3};
    if (zf_topk_init(&part, &m, layers, nl, NULL, 0, 9, &err) || zf_topk_set_source(&part, "m", 42, spec, ds.count, "raw", &err) ||
        zf_topk_run(&part, &m, &ds, &pp, &ro, &err)) {
        CHECK(0, "partial run: %s", err.msg);
        goto out;
    }
    CHECK(part.next == 48, "stopped at %lld, expected 48", (long long)part.next);
    if (zf_topk_load(&loaded, prog, &err)) { CHECK(0, "load progress: %s", err.msg); goto out; }
    CHECK(loaded.next == 48 && !loaded.complete, "progress file: next %lld complete %d", (long long)loaded.next, loaded.complete);
    char why[256] = "";
    CHECK(zf_topk_same_run(&loaded, &part, why, sizeof why), "progress file is not the same run: %s", why);
    // Continue from the file (layer value indices resolved by name).
    if (zf_topk_run(&loaded, &m, &ds, &pp, &(zf_topk_run_opts){.save_path = prog}, &err)) { CHECK(0, "resume: %s", err.msg); goto out; }
    CHECK(loaded.next == ds.count, "resumed run ended at %lld", (long long)loaded.next);
    same_entries(&full, &loaded, 1, "resumed vs uninterrupted");

    // Round trip of a finished index, with pictures.
    full.complete = 1;
    full.rule = strdup("deconvnet");
    full.layers[0].picture = strdup("topk-conv1.png");
    full.layers[0].unit_pictures = calloc((size_t)full.layers[0].n_units, sizeof(char *));
    full.layers[0].unit_pictures[1] = strdup("conv1/unit \"1\".png");
    full.layers[1].top[0].value = INFINITY;   // survives as +inf
    if (zf_topk_save(index, &full, &err) || zf_topk_load(&again, index, &err)) {
        CHECK(0, "round trip: %s", err.msg);
        goto out;
    }
    zf_topk_sort(&full);
    same_entries(&full, &again, 1, "round trip");
    CHECK(again.complete && again.k == 9 && again.model_hash == 42 && !strcmp(again.data, spec) && again.count == ds.count &&
              !strcmp(again.preprocess, "raw") && !strcmp(again.rule, "deconvnet"),
          "round trip header: complete %d k %d hash %llx data %s count %lld", again.complete, again.k,
          (unsigned long long)again.model_hash, again.data, (long long)again.count);
    const zf_topk_layer *c1 = zf_topk_find_layer(&again, "conv1");
    CHECK(c1 && c1->picture && !strcmp(c1->picture, "topk-conv1.png") && c1->unit_pictures && !c1->unit_pictures[0] &&
              c1->unit_pictures[1] && !strcmp(c1->unit_pictures[1], "conv1/unit \"1\".png"),
          "round trip pictures");
    CHECK(c1 && c1->rf.valid && !c1->rf.global && c1->rf.size[0] == 5 && c1->rf.jump[1] == 1 && c1->height == 24,
          "round trip geometry");
    CHECK(zf_topk_find_unit(c1, 7) == 7 && zf_topk_find_unit(c1, 99) == -1 && !zf_topk_find_layer(&again, "nope"), "find");
    CHECK(isinf(again.layers[1].top[0].value), "+inf value read back as %g", again.layers[1].top[0].value);
    CHECK(zf_topk_same_run(&full, &again, why, sizeof why), "round trip is not the same run: %s", why);
    again.k = 4;
    CHECK(!zf_topk_same_run(&full, &again, why, sizeof why) && strstr(why, "k is 9 there, 4 here"), "k change: '%s'", why);
    again.k = 9;
    again.model_hash = 43;
    CHECK(!zf_topk_same_run(&full, &again, why, sizeof why) && strstr(why, "model"), "model change: '%s'", why);

    // Damaged and hostile files.
    struct { const char *text, *want; } bad[] = {
        {"", "unexpected end of file"},
        {"{\"kind\": \"zfviz-topk\", ", "expected a key"},
        {"[1, 2", "expected ',' or ']'"},
        {"{\"kind\": \"zfviz-occlusion\"}", "not a zfviz top-k index"},
        {"{\"kind\": \"zfviz-topk\", \"version\": 7}", "version not supported"},
        {"{\"a\": \"x\\q\"}", "bad escape"},
        {"{} x", "text after the value"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "nested too deeply"},
        {"{\"kind\": \"zfviz-topk\", \"version\": 1, \"k\": 2, \"complete\": true, \"model\": {\"path\": \"m\", \"hash\": "
         "\"fnv1a64:000000000000002a\"}, \"data\": {\"spec\": \"d\", \"count\": 5}, \"preprocess\": \"raw\", \"rule\": null, "
         "\"next\": 5, \"layers\": [{\"name\": \"c\", \"shape\": [2, 3, 3], \"rf\": {\"valid\": true, \"global\": false, "
         "\"size\": [3, 3], \"jump\": [1, 1], \"offset\": [0, 0]}, \"picture\": null, \"units\": [{\"unit\": 0, "
         "\"picture\": null, \"top\": [[1, 5, 0, 1.5]]}]}]}", "entry 1 is not [image, y, x, value] inside the map"},
        {"{\"kind\": \"zfviz-topk\", \"version\": 1, \"k\": 2, \"complete\": true, \"model\": {\"path\": \"m\", \"hash\": "
         "\"fnv1a64:000000000000002a\"}, \"data\": {\"spec\": \"d\", \"count\": 5}, \"preprocess\": \"raw\", \"rule\": null, "
         "\"next\": 5, \"layers\": [{\"name\": \"c\", \"shape\": [2, 3, 3], \"rf\": {\"valid\": true, \"global\": false, "
         "\"size\": [3, 3], \"jump\": [1, 1], \"offset\": [0, 0]}, \"picture\": null, \"units\": [{\"unit\": 0, "
         "\"picture\": null, \"top\": [[1, 0, 0, 1.5], [2, 0, 0, 1], [3, 0, 0, 1]]}]}]}", "bad top list"},
        {"{\"kind\": \"zfviz-topk\", \"version\": 1, \"k\": 2, \"complete\": true, \"model\": {\"path\": \"m\", \"hash\": "
         "\"fnv1a64:000000000000002a\"}, \"data\": {\"spec\": \"d\", \"count\": 5}, \"preprocess\": \"raw\", \"rule\": null, "
         "\"next\": 9, \"layers\": []}", "bad 'next'"},
    };
    char path[400];
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "wb");
        fputs(bad[i].text, f);
        fclose(f);
        zf_topk b = {0};
        zf_error e = {0};
        int rc = zf_topk_load(&b, path, &e);
        CHECK(rc == ZF_ERR_INPUT && strstr(e.msg, path) && strstr(e.msg, bad[i].want),
              "bad file %zu: rc %d, message '%s' (expected the path and '%s')", i, rc, e.msg, bad[i].want);
        zf_topk_free(&b);
    }
    // Every truncation of a real index fails cleanly (or, at the very end, succeeds).
    FILE *f = fopen(index, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "read back");
    fclose(f);
    int trunc_bad = 0;
    for (long cut = 0; cut < len; cut += 1 + cut / 50) {
        FILE *g = fopen(path, "wb");
        fwrite(buf, 1, (size_t)cut, g);
        fclose(g);
        zf_topk b = {0};
        zf_error e = {0};
        int rc = zf_topk_load(&b, path, &e);
        if (cut < len - 2 && rc != ZF_ERR_INPUT && !trunc_bad) {
            CHECK(0, "truncated at %ld of %ld: rc %d", cut, len, rc);
            trunc_bad = 1;
        }
        zf_topk_free(&b);
    }
    free(buf);
    zf_error e = {0};
    snprintf(path, sizeof path, "%s/none.json", tmpdir);
    zf_topk none = {0};
    CHECK(zf_topk_load(&none, path, &e) == ZF_ERR_INPUT && strstr(e.msg, "cannot open"), "missing file: '%s'", e.msg);
out:
    zf_topk_free(&full);
    zf_topk_free(&part);
    zf_topk_free(&loaded);
    zf_topk_free(&again);
    zf_model_free(&m);
    zf_data_close(&ds);
}

// --- 5. projection pass ---------------------------------------------------------------------------

typedef struct {
    zf_topk *t;
    int l;
    int64_t calls, last_image, bad, order_bad, outside;
    double max_err;
} proj_ctx;

static int check_entry(void *user, int layer, int unit, int rank, const zf_topk_entry *e, const zf_tensor *proj,
                       const zf_project_info *info, const zf_tensor *x, int64_t item, zf_error *err) {
    proj_ctx *c = user;
    if (layer != c->l) c->bad++;
    c->calls++;
    if (e->image < c->last_image) c->order_bad++;
    c->last_image = e->image;
    double d = fabs(info->value - e->value);
    if (d > c->max_err) c->max_err = d;
    if (d > 1e-5 * (1 + fabs(e->value)) || info->y != e->y || info->x != e->x) {
        if (!c->bad)
            printf("FAIL projection of %s unit %d rank %d: seed %.9g at %lld,%lld; entry %.9g at %d,%d\n",
                   c->t->layers[c->l].name, unit, rank, info->value, (long long)info->y, (long long)info->x, e->value, e->y, e->x);
        c->bad++;
    }
    // Nonzero only inside the patch box (the receptive field).
    int64_t box[2][2];
    zf_topk_patch_box(box, &c->t->layers[c->l].rf, e->y, e->x, x->dims[2], x->dims[3]);
    const float *p = zf_f32(proj);
    for (int64_t yy = 0; yy < x->dims[2]; yy++)
        for (int64_t xx = 0; xx < x->dims[3]; xx++)
            if (p[yy * x->dims[3] + xx] != 0 && (yy < box[0][0] || yy >= box[0][1] || xx < box[1][0] || xx >= box[1][1]))
                c->outside++;
    return 0;
}

typedef struct { zf_topk *t; int64_t calls, last_image, bad; } multi_ctx;

static int count_entry(void *user, int layer, int unit, int rank, const zf_topk_entry *e, const zf_tensor *proj,
                       const zf_project_info *info, const zf_tensor *x, int64_t item, zf_error *err) {
    multi_ctx *c = user;
    c->calls++;
    const zf_topk_layer *L = &c->t->layers[layer];
    if (e->image < c->last_image || e != &L->top[(size_t)unit * c->t->k + rank] ||
        fabs(info->value - e->value) > 1e-5 * (1 + fabs(e->value)))
        c->bad++;
    c->last_image = e->image;
    return 0;
}

static void projection_pass(const char *spec) {
    zf_error err = {0};
    zf_dataset ds = {0};
    zf_model m = {0};
    zf_projector *pj = NULL;
    if (zf_data_open(&ds, spec, &err)) { CHECK(0, "%s: %s", spec, err.msg); return; }
    if (build_lenet(&m, 8, 3)) { failures++; zf_data_close(&ds); return; }
    int layers[16], nl = zf_topk_default_layers(layers, 16, &m, 1);
    zf_topk t = {0};
    zf_preprocess pp = zf_preprocess_raw();
    if (zf_topk_init(&t, &m, layers, nl, NULL, 0, 9, &err) || zf_topk_run(&t, &m, &ds, &pp, NULL, &err) ||
        zf_projector_create(&pj, &m, &err)) {
        CHECK(0, "projection pass setup: %s", err.msg);
        goto out;
    }
    for (int l = 0; l < t.n_layers; l++) {
        proj_ctx c = {&t, l, 0, -1, 0, 0, 0, 0};
        if (zf_topk_project(&t, &l, 1, &m, pj, &ds, &pp, ZF_RULE_DECONVNET, NULL, check_entry, &c, &err)) {
            CHECK(0, "project %s: %s", t.layers[l].name, err.msg);
            continue;
        }
        int64_t want = 0;
        for (int u = 0; u < t.layers[l].n_units; u++) want += t.layers[l].count[u];
        CHECK(c.calls == want, "%s: %lld entries projected, expected %lld", t.layers[l].name, (long long)c.calls, (long long)want);
        CHECK(!c.order_bad, "%s: images visited out of order %lld times", t.layers[l].name, (long long)c.order_bad);
        CHECK(!c.bad, "%s: %lld projections disagree with their entries", t.layers[l].name, (long long)c.bad);
        CHECK(!c.outside, "%s: %lld nonzero pixels outside the patch box", t.layers[l].name, (long long)c.outside);
        printf("projection pass %s: %lld entries, max |seed - entry| %.3g\n", t.layers[l].name, (long long)c.calls, c.max_err);
    }
    {   // All layers in one pass: each image forwarded once, entries of every layer handed over.
        int all[16];
        int64_t want = 0;
        for (int l = 0; l < t.n_layers; l++) {
            all[l] = l;
            for (int u = 0; u < t.layers[l].n_units; u++) want += t.layers[l].count[u];
        }
        multi_ctx c = {&t, 0, -1, 0};
        if (zf_topk_project(&t, all, t.n_layers, &m, pj, &ds, &pp, ZF_RULE_GUIDED, NULL, count_entry, &c, &err))
            CHECK(0, "project all layers: %s", err.msg);
        CHECK(c.calls == want && !c.bad, "all layers at once: %lld calls (expected %lld), %lld out of order or wrong",
              (long long)c.calls, (long long)want, (long long)c.bad);
    }
out:
    zf_projector_free(pj);
    zf_topk_free(&t);
    zf_model_free(&m);
    zf_data_close(&ds);
}

// --- 6. small things ------------------------------------------------------------------------------

static void small_things(void) {
    zf_model m = {0};
    if (build_lenet(&m, 4, 1)) { failures++; return; }
    int v[16];
    int n = zf_topk_default_layers(v, 16, &m, 0);
    CHECK(n == 2 && !strcmp(m.values[v[0]].name, "relu1") && !strcmp(m.values[v[1]].name, "relu2"),
          "default layers: %d (%s, %s)", n, n > 0 ? m.values[v[0]].name : "-", n > 1 ? m.values[v[1]].name : "-");
    n = zf_topk_default_layers(v, 16, &m, 1);
    const char *want[] = {"conv1", "relu1", "pool1", "conv2", "relu2", "pool2"};
    int ok = n == 6;
    for (int i = 0; i < n && ok; i++) ok = !strcmp(m.values[v[i]].name, want[i]);
    CHECK(ok, "all layers: %d", n);
    CHECK(zf_topk_default_layers(v, 3, &m, 1) == 3, "max respected");
    zf_topk t = {0};
    zf_error err = {0};
    int relu2 = zf_model_find(&m, "relu2"), prob = zf_model_find(&m, "prob"), input = m.inputs[0];
    CHECK(zf_topk_init(&t, &m, &relu2, 1, (int64_t[]){3, 64}, 2, 9, &err) == ZF_ERR_INPUT &&
              strstr(err.msg, "layer 'relu2': unit 64 is out of range (it has 64 maps)"),
          "unit out of range: '%s'", err.msg);
    CHECK(zf_topk_init(&t, &m, &relu2, 1, NULL, 0, 0, &err) == ZF_ERR_INPUT && strstr(err.msg, "k must be"), "k 0: '%s'", err.msg);
    CHECK(zf_topk_init(&t, &m, (int[]){relu2, relu2}, 2, NULL, 0, 9, &err) == ZF_ERR_INPUT && strstr(err.msg, "twice"),
          "layer twice: '%s'", err.msg);
    CHECK(zf_topk_init(&t, &m, &input, 1, NULL, 0, 9, &err) == ZF_ERR_INPUT && strstr(err.msg, "no maps to rank"),
          "graph input: '%s'", err.msg);
    CHECK(zf_topk_init(&t, &m, &prob, 1, (int64_t[]){9}, 1, 9, &err) == 0, "prob unit 9: %s", err.msg);
    zf_topk_free(&t);
    // Patch boxes: relu2 (rf 14, jump 2); conv1 with padding (offset -1); a global tensor.
    int64_t box[2][2];
    zf_topk_patch_box(box, &m.values[relu2].rf, 3, 1, 28, 28);
    CHECK(box[0][0] == 6 && box[0][1] == 20 && box[1][0] == 2 && box[1][1] == 16, "relu2 box %lld:%lld,%lld:%lld",
          (long long)box[0][0], (long long)box[0][1], (long long)box[1][0], (long long)box[1][1]);
    zf_rf rf = {{3, 40}, {2, 2}, {-1, -1}, 0, 1};
    zf_topk_patch_box(box, &rf, 0, 5, 28, 28);
    CHECK(box[0][0] == -1 && box[0][1] == 2 && box[1][0] == 0 && box[1][1] == 28, "padded/oversized box %lld:%lld,%lld:%lld",
          (long long)box[0][0], (long long)box[0][1], (long long)box[1][0], (long long)box[1][1]);
    zf_topk_patch_box(box, &m.values[prob].rf, 0, 0, 28, 20);
    CHECK(box[0][0] == 0 && box[0][1] == 28 && box[1][0] == 0 && box[1][1] == 20, "global box");
    char buf[256];
    CHECK(!strcmp(zf_topk_default_dir(buf, sizeof buf, "assets/models/default.onnx"), "assets/models/default.topk") &&
              !strcmp(zf_topk_default_dir(buf, sizeof buf, "m"), "m.topk"),
          "default dir: %s", buf);
    uint64_t h = 0;
    snprintf(buf, sizeof buf, "%s/h.txt", tmpdir);
    FILE *f = fopen(buf, "wb");
    fputs("a", f);
    fclose(f);
    CHECK(!zf_file_hash(&h, buf, &err) && h == 0xaf63dc4c8601ec8cULL, "FNV-1a 64 of 'a': %016llx", (unsigned long long)h);
    zf_model_free(&m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zf-test-topk-%ld", (long)getpid());
    mkdir(tmpdir, 0700);
    char idx[300], same[300], spec[400], spec_same[400];
    snprintf(idx, sizeof idx, "%s/blobs.idx", tmpdir);
    snprintf(same, sizeof same, "%s/same.idx", tmpdir);
    write_idx(idx, 300, 0);
    write_idx(same, 20, 1);
    snprintf(spec, sizeof spec, "idx:%s", idx);
    snprintf(spec_same, sizeof spec_same, "idx:%s", same);

    small_things();
    brute_force(spec, 9);
    struct stat st;
    if (!stat(ZF_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &st)) brute_force("fashion-mnist@300", 9);
    else printf("note: Fashion-MNIST not installed (%s): brute force on the synthetic set only\n", ZF_FASHION_MNIST_PACKAGE);
    ties_engine(spec_same);
    ties_exact();
    resume_and_file(spec);
    projection_pass(spec);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) printf("note: could not remove %s\n", tmpdir);
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("all top-k tests passed\n");
    return 0;
}
