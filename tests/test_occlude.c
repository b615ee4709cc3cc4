// test_occlude.c: occlusion maps (core/occlude.h) and incremental inference (core/incremental.h).
//   - Captum's window rule: ceil((D - P) / S) + 1 positions at k*S, the last clipped; the averaged
//     map of a constant difference is that constant everywhere;
//   - incremental == naive (every position through the whole network) on all seven architectures,
//     built by models/ at reduced width and input size, and on the PyTorch-exported reference models
//     of tests/refs/ (opset 11/13, symbolic and static batch, fused LRN, BatchNorm, concat, residual
//     adds): target probability and logit maps, the label map, a feature map's total activation;
//   - zf_occlude_at (batch of one, any start) equals the grid and the naive path;
//   - against PyTorch: tests/refs-occlusion/<arch>/ (tools/torch_occlusion.py) computes Captum-style
//     occlusion for LeNet and ZFNet; our raw maps match within 1e-4 of the map's range;
//   - the approximate drill-down computes fewer positions and stays close on a smooth case.
// Exit 0 pass, 1 fail.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "core/occlude.h"
#include "core/onnx/onnx.h"
#include "core/rng.h"
#include "models/models.h"

static int failures;

#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            failures++;                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
            printf(__VA_ARGS__);                                   \
            printf("\n");                                          \
        }                                                          \
    } while (0)

static float range_of(const float *a, int64_t n) {
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
    }
    return hi > lo ? hi - lo : 0.0f;
}

// Max |a - b| relative to b's range (absolute floor `abs_floor`); prints the first mismatch.
static int compare(const char *what, const float *a, const float *b, int64_t n, int W, double rel, double abs_floor) {
    double range = range_of(b, n), tol = rel * range > abs_floor ? rel * range : abs_floor, mx = 0;
    int64_t first = -1, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= tol) && first < 0) first = i;
        if (!(d <= mx)) { mx = d; worst = i; }
    }
    if (first >= 0) {
        printf("FAIL %s: first mismatch at (%lld,%lld): %.7g vs %.7g; max error %.3g at %lld (range %.4g, tol %.3g)\n",
               what, (long long)(first / W), (long long)(first % W), a[first], b[first], mx, (long long)worst, range,
               tol);
        failures++;
        return 1;
    }
    printf("  %-44s max error %.3g (range %.4g)\n", what, mx, range);
    return 0;
}

static void test_positions(void) {
    int64_t s[64];
    CHECK(zf_occlude_positions(s, 224, 32, 8) == 25 && s[24] == 192, "224/32/8: 25 positions, last at 192");
    CHECK(zf_occlude_positions(s, 28, 10, 4) == 6 && s[5] == 20, "28/10/4: ceil(18/4)+1 = 6, last at 20 (clipped)");
    CHECK(zf_occlude_positions(s, 28, 28, 4) == 1, "patch = side: one position");
    CHECK(zf_occlude_positions(s, 10, 3, 3) == 4 && s[3] == 9, "10/3/3: 4 positions, last clipped to 1 pixel");
    // Averaging a constant difference gives the constant everywhere (every pixel is covered).
    int64_t ys[6], xs[6];
    int ny = zf_occlude_positions(ys, 28, 10, 4), nx = zf_occlude_positions(xs, 28, 10, 4);
    float pos[36], map[28 * 28];
    for (int i = 0; i < ny * nx; i++) pos[i] = 0.25f;
    zf_occlude_accumulate(map, pos, 28, 28, ys, ny, xs, nx, 10);
    int ok = 1;
    for (int i = 0; i < 28 * 28; i++) ok &= fabsf(map[i] - 0.25f) < 1e-6f;
    CHECK(ok, "mean of a constant difference is the constant");
    // A single position's difference lands only under its square, divided by the coverage.
    memset(pos, 0, sizeof pos);
    pos[0] = 1.0f;
    zf_occlude_accumulate(map, pos, 28, 28, ys, ny, xs, nx, 10);
    CHECK(map[0] == 1.0f && fabsf(map[5 * 28 + 5] - 0.25f) < 1e-6f && map[10 * 28 + 10] == 0.0f,
          "one square: 1 where only it covers, 1/4 where 4 squares overlap, 0 outside (%g %g %g)", map[0],
          map[5 * 28 + 5], map[10 * 28 + 10]);
}

static void random_input(zf_tensor *x, const int64_t *dims, uint64_t seed) {
    zf_error err = {0};
    zf_tensor_alloc(x, ZF_F32, 4, dims, &err);
    zf_rng r;
    zf_rng_seed(&r, seed);
    // A smooth image plus noise, so squares change the output by different amounts.
    float *d = zf_f32(x);
    int64_t H = dims[2], W = dims[3];
    for (int64_t c = 0; c < dims[1]; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t xx = 0; xx < W; xx++)
                d[(c * H + y) * W + xx] = (float)(sin(0.3 * y + c) * cos(0.2 * xx) + 0.5 * zf_rng_normal(&r));
}

static void count_wino(void *ctx, const char *text) { *(int *)ctx += strstr(text, "Winograd") != NULL; }

// Layers of the last incremental plan checked that ran as Winograd F(4x4,3x3) (core/winograd.c).
static int last_wino;

// Incremental vs naive on one model; patch/stride given; returns 0 when they match.
static int check_model(zf_model *m, const char *name, int patch, int stride, const char *layer, zf_fill fill, int batch) {
    zf_error err = {0};
    const zf_tensor *xt = &m->values[m->inputs[0]].t;
    zf_tensor x = {0};
    random_input(&x, xt->dims, 7);
    zf_occlude_opts o = zf_occlude_defaults();
    o.patch = patch;
    o.stride = stride;
    o.fill = fill;
    o.fill_value[0] = 0.1f; o.fill_value[1] = -0.2f; o.fill_value[2] = 0.3f;
    o.batch = batch;
    o.layer = layer ? zf_model_find(m, layer) : -1;
    CHECK(!layer || o.layer >= 0, "%s: layer %s not found", name, layer);
    zf_occluder *inc = NULL, *nv = NULL;
    zf_occlude_result ri = {0}, rn = {0};
    int bad = failures;
    if (zf_occlude_create(&inc, m, &o, &err) || zf_occlude_set_input(inc, &x, &err) || zf_occlude_map(inc, &ri, &err)) {
        CHECK(0, "%s incremental: %s", name, err.msg);
        goto done;
    }
    o.naive = 1;
    if (zf_occlude_create(&nv, m, &o, &err) || zf_occlude_set_input(nv, &x, &err) || zf_occlude_map(nv, &rn, &err)) {
        CHECK(0, "%s naive: %s", name, err.msg);
        goto done;
    }
    last_wino = 0;
    zf_occlude_describe(inc, count_wino, &last_wino);
    printf("%s: %dx%d input, patch %d stride %d, %dx%d positions, batch %d: incremental %.3fs, naive %.3fs, "
           "%.2fx fewer flops, %d layers as Winograd\n", name, ri.H, ri.W, ri.patch, ri.stride, ri.ny, ri.nx, ri.batch,
           ri.seconds, rn.seconds, ri.flops_incremental > 0 ? ri.flops_full / ri.flops_incremental : 0, last_wino);
    int64_t hw = (int64_t)ri.H * ri.W, np = (int64_t)ri.ny * ri.nx;
    char what[128];
    snprintf(what, sizeof what, "%s prob map", name);
    compare(what, ri.map_prob, rn.map_prob, hw, ri.W, 1e-4, 1e-6);
    snprintf(what, sizeof what, "%s logit map", name);
    compare(what, ri.map_logit, rn.map_logit, hw, ri.W, 1e-4, 1e-5);
    snprintf(what, sizeof what, "%s per-position probability", name);
    compare(what, ri.pos_prob, rn.pos_prob, np, ri.nx, 1e-4, 1e-6);
    if (ri.map_unit) {
        snprintf(what, sizeof what, "%s unit map (%s:%lld)", name, layer, (long long)ri.unit);
        compare(what, ri.map_unit, rn.map_unit, hw, ri.W, 1e-4, 1e-4);
    }
    int64_t lab_diff = 0;
    for (int64_t i = 0; i < np; i++)
        if (ri.pos_label[i] != rn.pos_label[i] && fabsf(ri.pos_label_prob[i] - rn.pos_label_prob[i]) > 1e-5f) lab_diff++;
    CHECK(!lab_diff, "%s: %lld label-map cells differ", name, (long long)lab_diff);
    CHECK(ri.target == rn.target && ri.clean_prob == rn.clean_prob, "%s: clean measures differ", name);
    // One square at a grid position and one off the grid, against the grid / a naive run.
    zf_occlude_point pt;
    int k = (int)(np / 2);
    if (zf_occlude_at(inc, (int)ri.ys[k / ri.nx], (int)ri.xs[k % ri.nx], &pt, &err)) {
        CHECK(0, "%s zf_occlude_at: %s", name, err.msg);
    } else {
        CHECK(fabsf(pt.prob - rn.pos_prob[k]) <= 1e-4f * (range_of(rn.pos_prob, np) + 1e-3f) + 1e-6f,
              "%s: zf_occlude_at on the grid %.7g vs naive %.7g", name, pt.prob, rn.pos_prob[k]);
    }
    int y = -(patch / 2), xx = ri.W - patch / 3;   // hanging over two borders
    zf_occlude_point a, b;
    if (zf_occlude_at(inc, y, xx, &a, &err) || zf_occlude_at(nv, y, xx, &b, &err)) {
        CHECK(0, "%s zf_occlude_at off-grid: %s", name, err.msg);
    } else {
        CHECK(fabsf(a.prob - b.prob) <= 1e-5f + 1e-4f * fabsf(b.prob) && fabsf(a.logit - b.logit) <= 1e-4f * (1 + fabsf(b.logit)),
              "%s: square at (%d,%d): incremental %.7g/%.7g, batch-of-one plan on the naive occluder %.7g/%.7g", name,
              y, xx, a.prob, a.logit, b.prob, b.logit);
    }
done:
    zf_occlude_result_free(&ri);
    zf_occlude_result_free(&rn);
    zf_occlude_free(inc);
    zf_occlude_free(nv);
    zf_tensor_free(&x);
    return failures != bad;
}

static void test_builders(void) {
    static const struct {
        const char *arch;
        double width;
        int size, patch, stride;
        const char *layer;
        zf_fill fill;
        int min_wino;           // layers that must run as Winograd (the plan's box sizes decide)
    } cases[] = {
        {"lenet", 0.5, 28, 6, 3, "conv2", ZF_FILL_GRAY},
        {"alexnet", 0.0625, 99, 20, 9, "conv5", ZF_FILL_VALUE},
        {"zfnet", 0.0625, 80, 16, 6, "conv5", ZF_FILL_GRAY},
        // The benchmark's geometry (patch 32 at 224): conv2 on its phases, conv3-conv5 boxes of 7x7 to 11x11.
        {"zfnet", 0.0625, 224, 32, 48, "conv5", ZF_FILL_GRAY, 4},
        {"vgg16", 0.0625, 48, 10, 5, "conv4_3", ZF_FILL_MEAN, 1},
        {"googlenet", 0.0625, 64, 16, 10, "inception_4a", ZF_FILL_BLUR},
        {"resnet50", 0.0625, 48, 12, 8, NULL, ZF_FILL_ZERO},
        {"densenet121", 0.0625, 40, 10, 8, NULL, ZF_FILL_GRAY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        zf_error err = {0};
        zf_build_opts bo = zf_build_defaults(cases[i].arch);
        bo.width_mult = cases[i].width;
        bo.height = bo.width = cases[i].size;
        bo.classes = 10;
        zf_onnx_model om = {0};
        zf_model m = {0};
        zf_load_opts lo = zf_load_defaults();
        lo.threads = 2;
        if (zf_model_build(&om, cases[i].arch, &bo, &err) || zf_model_from_onnx(&m, &om, cases[i].arch, &lo, &err)) {
            CHECK(0, "%s: %s", cases[i].arch, err.msg);
        } else {
            const char *layer = cases[i].layer && zf_model_find(&m, cases[i].layer) >= 0 ? cases[i].layer : NULL;
            CHECK(!cases[i].layer || layer, "%s: no layer %s", cases[i].arch, cases[i].layer);
            check_model(&m, cases[i].arch, cases[i].patch, cases[i].stride, layer, cases[i].fill, i % 2 ? 7 : 0);
            CHECK(last_wino >= cases[i].min_wino, "%s at %d: %d layers ran as Winograd, expected at least %d",
                  cases[i].arch, cases[i].size, last_wino, cases[i].min_wino);
        }
        zf_model_free(&m);
        zf_onnx_free(&om);
    }
}

// The PyTorch-exported models of tests/refs (different op spellings: Flatten or Reshape, fused LRN
// from its decomposition, BatchNorm folded or not).
static void test_torch_exports(void) {
    static const char *const archs[] = {"lenet", "alexnet", "zfnet", "vgg16", "googlenet", "resnet50", "densenet121"};
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/refs/%s/model.onnx", archs[i]);
        FILE *f = fopen(path, "rb");
        if (!f) { printf("  (no %s: skipped)\n", path); continue; }
        fclose(f);
        zf_error err = {0};
        zf_model m = {0};
        zf_load_opts lo = zf_load_defaults();
        lo.threads = 2;
        if (zf_model_load(&m, path, &lo, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        const zf_tensor *xt = &m.values[m.inputs[0]].t;
        if (xt->dims[0] != 1) {
            printf("  %s: static batch %lld, occlusion needs batch 1: skipped\n", path, (long long)xt->dims[0]);
        } else {
            int side = (int)(xt->dims[2] < xt->dims[3] ? xt->dims[2] : xt->dims[3]);
            int patch = side / 4 > 1 ? side / 4 : 2, stride = patch / 2 + 1;
            char name[64];
            snprintf(name, sizeof name, "torch-%s", archs[i]);
            check_model(&m, name, patch, stride, NULL, ZF_FILL_GRAY, 0);
        }
        zf_model_free(&m);
    }
}

// tests/refs-occlusion/<arch>/: model.onnx, input.pb (1,C,H,W), params.txt ("patch P stride S
// fill V target T"), prob.pb and logit.pb (H,W): Captum-style maps computed by PyTorch.
static void test_torch_refs(void) {
    static const char *const archs[] = {"lenet", "zfnet"};
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        char dir[128], path[256];
        snprintf(dir, sizeof dir, "tests/refs-occlusion/%s", archs[i]);
        snprintf(path, sizeof path, "%s/params.txt", dir);
        FILE *f = fopen(path, "r");
        if (!f) { CHECK(0, "%s missing (tools/torch_occlusion.py writes it)", path); continue; }
        int patch = 0, stride = 0;
        float fillv = 0;
        long long target = -1;
        int n = fscanf(f, "patch %d stride %d fill %f target %lld", &patch, &stride, &fillv, &target);
        fclose(f);
        CHECK(n == 4, "%s: malformed", path);
        if (n != 4) continue;
        zf_error err = {0};
        zf_model m = {0};
        zf_tensor x = {0}, refp = {0}, refl = {0};
        zf_occluder *oc = NULL;
        zf_occlude_result r = {0};
        zf_load_opts lo = zf_load_defaults();
        lo.threads = 2;
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        if (zf_model_load(&m, path, &lo, &err)) { CHECK(0, "%s", err.msg); goto next; }
        snprintf(path, sizeof path, "%s/input.pb", dir);
        if (zf_tensor_read_pb(&x, NULL, path, &err)) { CHECK(0, "%s", err.msg); goto next; }
        snprintf(path, sizeof path, "%s/prob.pb", dir);
        if (zf_tensor_read_pb(&refp, NULL, path, &err)) { CHECK(0, "%s", err.msg); goto next; }
        snprintf(path, sizeof path, "%s/logit.pb", dir);
        if (zf_tensor_read_pb(&refl, NULL, path, &err)) { CHECK(0, "%s", err.msg); goto next; }
        zf_occlude_opts o = zf_occlude_defaults();
        o.patch = patch;
        o.stride = stride;
        o.fill = ZF_FILL_VALUE;
        o.fill_value[0] = o.fill_value[1] = o.fill_value[2] = fillv;
        o.target = target;
        if (zf_occlude_create(&oc, &m, &o, &err) || zf_occlude_set_input(oc, &x, &err) || zf_occlude_map(oc, &r, &err)) {
            CHECK(0, "%s: %s", dir, err.msg);
            goto next;
        }
        int64_t hw = (int64_t)r.H * r.W;
        CHECK(zf_tensor_numel(&refp) == hw && zf_tensor_numel(&refl) == hw, "%s: reference maps are not %dx%d", dir, r.H,
              r.W);
        if (zf_tensor_numel(&refp) == hw) {
            char what[128];
            printf("%s: %dx%d, patch %d stride %d, %dx%d positions, target %lld\n", dir, r.H, r.W, patch, stride, r.ny,
                   r.nx, target);
            snprintf(what, sizeof what, "%s vs PyTorch: probability map", archs[i]);
            compare(what, r.map_prob, zf_f32(&refp), hw, r.W, 1e-4, 0);
            snprintf(what, sizeof what, "%s vs PyTorch: logit map", archs[i]);
            compare(what, r.map_logit, zf_f32(&refl), hw, r.W, 1e-4, 0);
        }
    next:
        zf_occlude_result_free(&r);
        zf_occlude_free(oc);
        zf_model_free(&m);
        zf_tensor_free(&x);
        zf_tensor_free(&refp);
        zf_tensor_free(&refl);
    }
}

static void test_approx(void) {
    zf_error err = {0};
    zf_build_opts bo = zf_build_defaults("lenet");
    bo.width_mult = 0.5;
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_load_opts lo = zf_load_defaults();
    lo.threads = 2;
    if (zf_model_build(&om, "lenet", &bo, &err) || zf_model_from_onnx(&m, &om, "lenet", &lo, &err)) {
        CHECK(0, "lenet: %s", err.msg);
        zf_onnx_free(&om);
        return;
    }
    zf_tensor x = {0};
    random_input(&x, m.values[m.inputs[0]].t.dims, 3);
    zf_occlude_opts o = zf_occlude_defaults();
    o.patch = 8;
    o.stride = 2;
    zf_occluder *oc = NULL;
    zf_occlude_result ex = {0}, ap = {0};
    if (zf_occlude_create(&oc, &m, &o, &err) || zf_occlude_set_input(oc, &x, &err) || zf_occlude_map(oc, &ex, &err)) {
        CHECK(0, "%s", err.msg);
    } else {
        zf_occlude_free(oc);
        oc = NULL;
        o.approx = 1;
        if (zf_occlude_create(&oc, &m, &o, &err) || zf_occlude_set_input(oc, &x, &err) || zf_occlude_map(oc, &ap, &err)) {
            CHECK(0, "%s", err.msg);
        } else {
            int64_t np = (int64_t)ex.ny * ex.nx, hw = (int64_t)ex.H * ex.W;
            CHECK(ap.approx && ap.computed < np && ap.computed > 0, "approx computed %d of %lld", ap.computed, (long long)np);
            double mx = 0;
            for (int64_t i = 0; i < hw; i++) mx = fmax(mx, fabs(ap.map_prob[i] - ex.map_prob[i]));
            float range = range_of(ex.map_prob, hw);
            printf("approximate drill-down: %d of %lld positions, max |approx - exact| %.3g (map range %.3g)\n",
                   ap.computed, (long long)np, mx, range);
            CHECK(mx <= 0.5 * range + 1e-6, "approx map is far from the exact one");
            // The positions it computed are exact ones.
            int64_t same = 0;
            for (int64_t i = 0; i < np; i++) same += fabsf(ap.pos_prob[i] - ex.pos_prob[i]) < 1e-6f;
            CHECK(same >= ap.computed, "only %lld positions equal the exact ones, %d were computed", (long long)same,
                  ap.computed);
        }
    }
    zf_occlude_result_free(&ex);
    zf_occlude_result_free(&ap);
    zf_occlude_free(oc);
    zf_tensor_free(&x);
    zf_model_free(&m);
    zf_onnx_free(&om);
}

int main(void) {
    test_positions();
    test_builders();
    test_torch_exports();
    test_torch_refs();
    test_approx();
    if (failures) {
        printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    printf("all occlusion checks passed\n");
    return 0;
}
