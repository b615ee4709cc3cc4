// test_deconv.c: projections back to the input (core/project.h).
//   1. Every op's rule: a one- or two-op graph per case; the gradient rule against central finite
//      differences of the seeded unit (seed value times d unit / d input); deconvnet and guided
//      against the gradient where the graph has no rectifier, and against their definitions at
//      ReLU (relu(signal), relu(signal) where the input was > 0); box-sparse == dense for every rule.
//   2. The seven architectures (models/ builders, reduced width): box-sparse == dense for the three
//      rules at several layers, the projection is zero outside the reported box, and the box lies
//      inside the unit's receptive field from the plan.
//   3. PyTorch: tests/refs-deconv/<arch>/ (tools/torch_deconv.py): the three rules computed with
//      backward hooks in float64, seeded with the strongest activation; max |zfviz - torch| /
//      max |torch| <= 1e-4.
//   4. Bad input: unknown tensor, unit / position / item out of range, an int64 tensor, a rule that
//      is not defined (BatchNormalization in training mode), a Conv whose weights depend on the input.
// Exit 0 pass, 1 fail.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include "core/graph.h"
#include "core/project.h"
#include "core/onnx/onnx.h"
#include "models/models.h"

static int failures;
// Whether the plan's receptive field is exact for the case (not for reflect/edge padding, whose
// mirrored positions the plan does not model, nor ConvTranspose right after the input, whose
// fractional jump the plan rounds).
static int check_rf = 1;
static int check_fd = 1;     // finite differences in run_case (off for cases with many inputs)
static int n_cases, n_fd;   // op cases run, finite-difference comparisons against a nonzero reference
static int n_maps_checked;  // maps compared by check_maps

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            failures++;                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// --- a tiny graph builder -------------------------------------------------------------------------

static uint64_t rng_state = 12345;
static double urand(void) {   // xorshift64*, uniform in [0, 1)
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double nrand(void) {
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

typedef struct graph {
    zf_onnx_model m;
    int64_t in_dims[4];
    int in_nd;
    int k;   // names
} graph;

static void g_init(graph *g, int nd, const int64_t *dims) {
    memset(g, 0, sizeof *g);
    zf_onnx_opset_set(&g->m, "", 13);
    g->in_nd = nd;
    memcpy(g->in_dims, dims, (size_t)nd * sizeof *dims);
    zf_onnx_add_input(&g->m.graph, "x", 1, nd, dims);
}

// A constant: normal values times scale (+ shift), or `positive` uniform in [0.5, 1.5).
static const char *g_const(graph *g, int nd, const int64_t *dims, double scale, int positive) {
    static char names[64][32];
    char *name = names[g->k++ % 64];
    snprintf(name, 32, "c%d", g->k);
    zf_tensor t = {0};
    zf_tensor_alloc(&t, ZF_F32, nd, dims, NULL);
    for (int64_t i = 0; i < zf_tensor_numel(&t); i++) zf_f32(&t)[i] = positive ? (float)(0.5 + urand()) : (float)(scale * nrand());
    zf_onnx_add_initializer(&g->m.graph, name, &t);
    return name;
}

static const char *g_ints(graph *g, int n, const int64_t *v) {
    static char names[64][32];
    char *name = names[g->k++ % 64];
    snprintf(name, 32, "i%d", g->k);
    zf_tensor t = {0};
    int64_t d = n;
    zf_tensor_alloc(&t, ZF_I64, 1, &d, NULL);
    memcpy(t.data, v, (size_t)n * sizeof *v);
    zf_onnx_add_initializer(&g->m.graph, name, &t);
    return name;
}

static zf_onnx_node *g_node(graph *g, const char *op, const char *out, int nin, const char *a, const char *b,
                            const char *c) {
    const char *ins[3] = {a, b, c};
    const char *outs[1] = {out};
    return zf_onnx_add_node(&g->m.graph, op, out, nin, ins, 1, outs);
}

static void g_output(graph *g, const char *name) { zf_onnx_add_output(&g->m.graph, name, 1, -1, NULL); }

// --- checks on one loaded model -------------------------------------------------------------------

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

// max |a - b| / max(max |b|, floor)
static double rel_err(const float *a, const float *b, int64_t n, double floor_) {
    double m = max_abs(b, n), e = 0;
    for (int64_t i = 0; i < n; i++) e = fabs((double)a[i] - b[i]) > e ? fabs((double)a[i] - b[i]) : e;
    return e / (m > floor_ ? m : floor_);
}

static int first_mismatch(const float *a, const float *b, int64_t n, double tol) {
    double m = max_abs(b, n);
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > tol * (m > 1e-30 ? m : 1e-30)) return (int)i;
    return -1;
}

// Loads the graph with the input shape fixed, fills x with well-separated values (no two within
// 0.04, none near 0) so finite differences never straddle a kink of ReLU or max-pool.
static int load(zf_model *m, zf_tensor *x, graph *g, const char *what, int positive) {
    zf_error err = {0};
    zf_tensor shape = {0};
    shape.dtype = ZF_F32;
    shape.ndim = g->in_nd;
    memcpy(shape.dims, g->in_dims, sizeof g->in_dims[0] * (size_t)g->in_nd);
    zf_load_opts lo = zf_load_defaults();
    lo.threads = 1;
    lo.n_input_shapes = 1;
    lo.input_shapes = &shape;
    if (zf_model_from_onnx(m, &g->m, what, &lo, &err)) {
        CHECK(0, "%s: load: %s", what, err.msg);
        return 1;
    }
    memset(x, 0, sizeof *x);
    zf_tensor_alloc(x, ZF_F32, g->in_nd, g->in_dims, NULL);
    int64_t n = zf_tensor_numel(x);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(urand() * (double)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    double step = 4.0 / (double)n < 0.04 ? 0.04 : 4.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double v = ((double)perm[i] - (double)n / 2 + 0.37) * step;
        if (n * step > 6) v *= 6 / (n * step);
        zf_f32(x)[i] = (float)(positive ? fabs(v) + 0.2 : v);
    }
    free(perm);
    if (zf_model_forward(m, 1, x, &err)) {
        CHECK(0, "%s: forward: %s", what, err.msg);
        return 1;
    }
    return 0;
}

typedef struct seed_spec {
    zf_seed seed;
    int64_t channel, y, x;
} seed_spec;

// Seeds: the strongest unit of the first and last map, a corner position, the whole first map.
static int seeds_for(seed_spec *s, const zf_tensor *t) {
    int64_t C = t->dims[1];
    int k = 0;
    s[k++] = (seed_spec){ZF_SEED_MAX, 0, 0, 0};
    if (C > 1) s[k++] = (seed_spec){ZF_SEED_MAX, C - 1, 0, 0};
    if (t->ndim >= 3) {
        int64_t H = t->ndim == 4 ? t->dims[2] : 1, W = t->dims[t->ndim - 1];
        s[k++] = (seed_spec){ZF_SEED_AT, C / 2, H - 1, W - 1};
        s[k++] = (seed_spec){ZF_SEED_AT, 0, H / 2, 0};
        s[k++] = (seed_spec){ZF_SEED_MAP, 0, 0, 0};
    }
    return k;
}

// The unit's value on the current forward pass (after zf_model_forward).
static double unit_value(const zf_model *m, int v, const seed_spec *s, const zf_project_info *info) {
    const zf_tensor *t = &m->values[v].t;
    int64_t H = t->ndim == 4 ? t->dims[2] : 1, W = t->ndim >= 3 ? t->dims[t->ndim - 1] : 1;
    const float *a = zf_f32(t) + s->channel * H * W;
    if (s->seed == ZF_SEED_MAP) {
        // The seed keeps the map at its values: the projection is d/dx of sum a_i * y_i (a fixed).
        return NAN;
    }
    return a[info->y * W + info->x];
}

// Runs every check on model m for tensor `v`.
//   rectified: the graph has a ReLU-like op or LRN, so deconvnet/guided may differ from the gradient
//   relu_direct: the op under test is a single ReLU on the input (check the three definitions)
//   fd: compare the gradient rule with finite differences
static void check_tensor(zf_model *m, zf_tensor *x, int v, const char *what, int rectified, int relu_direct, int fd) {
    zf_error err = {0};
    zf_projector *pj = NULL;
    if (zf_projector_create(&pj, m, &err)) {
        CHECK(0, "%s: projector: %s", what, err.msg);
        return;
    }
    const zf_tensor *t = &m->values[v].t;
    seed_spec seeds[8];
    int ns = seeds_for(seeds, t);
    // One batch item of the input (the projections' shape).
    int64_t n = zf_tensor_numel(x) / (x->ndim ? x->dims[0] : 1);
    zf_tensor p[ZF_RULE_COUNT] = {{0}}, dense = {0};
    float *fdv = malloc((size_t)n * sizeof *fdv);
    for (int si = 0; si < ns; si++) {
        const seed_spec *s = &seeds[si];
        zf_project_info info[ZF_RULE_COUNT];
        for (int r = 0; r < ZF_RULE_COUNT; r++) {
            zf_project_opts o = zf_project_defaults();
            o.rule = (zf_rule)r;
            o.value = v;
            o.channel = s->channel;
            o.seed = s->seed;
            o.y = s->y;
            o.x = s->x;
            if (zf_project(&p[r], &info[r], pj, &o, &err)) {
                CHECK(0, "%s: seed %d rule %s: %s", what, si, zf_rule_name(o.rule), err.msg);
                goto done;
            }
            o.dense = 1;
            zf_project_info di;
            if (zf_project(&dense, &di, pj, &o, &err)) {
                CHECK(0, "%s: dense: %s", what, err.msg);
                goto done;
            }
            double e = rel_err(zf_f32(&p[r]), zf_f32(&dense), n, 1e-30);
            CHECK(e <= 1e-6, "%s: seed %d rule %s: box-sparse differs from dense by %.3g", what, si,
                  zf_rule_name(o.rule), e);
            // Zero outside the reported box (rank-4 inputs).
            if (x->ndim == 4 && !info[r].empty) {
                int64_t C = x->dims[1], H = x->dims[2], W = x->dims[3], bad = 0;

                for (int64_t c = 0; c < C; c++)
                    for (int64_t yy = 0; yy < H; yy++)
                        for (int64_t xx = 0; xx < W; xx++) {
                            int in = yy >= info[r].box[0][0] && yy < info[r].box[0][1] && xx >= info[r].box[1][0] &&
                                     xx < info[r].box[1][1];
                            if (!in && zf_f32(&dense)[(c * H + yy) * W + xx] != 0.0f) bad++;
                        }
                CHECK(!bad, "%s: seed %d rule %s: %lld nonzeros outside the box", what, si, zf_rule_name(o.rule),
                      (long long)bad);
                for (int ax = 0; ax < 2 && check_rf; ax++)
                    CHECK(info[r].box[ax][0] >= info[r].rf[ax][0] && info[r].box[ax][1] <= info[r].rf[ax][1],
                          "%s: seed %d: box [%lld,%lld) outside the receptive field [%lld,%lld) on axis %d", what, si,
                          (long long)info[r].box[ax][0], (long long)info[r].box[ax][1],
                          (long long)info[r].rf[ax][0], (long long)info[r].rf[ax][1], ax);
            }
        }
        const float *pd = zf_f32(&p[ZF_RULE_DECONVNET]), *pgd = zf_f32(&p[ZF_RULE_GUIDED]),
                    *pg = zf_f32(&p[ZF_RULE_GRADIENT]);
        if (!rectified) {
            double e1 = rel_err(pd, pg, n, 1e-30), e2 = rel_err(pgd, pg, n, 1e-30);
            CHECK(e1 <= 1e-6 && e2 <= 1e-6, "%s: seed %d: no rectifier, yet deconvnet/guided differ from the gradient "
                  "(%.3g, %.3g)", what, si, e1, e2);
        }
        if (relu_direct) {
            // y = relu(x): the seed sits at one unit (or a map) with the activation as signal.
            int bad = 0;
            int64_t plane = n / x->dims[1];
            for (int64_t i = 0; i < n; i++) {
                float seed = 0;
                if (i / plane == s->channel) {
                    int64_t q = i % plane;
                    if (s->seed == ZF_SEED_MAP || q == info[0].y * (x->ndim == 4 ? x->dims[3] : 1) + info[0].x)
                        seed = zf_f32(&m->values[v].t)[i];
                }
                float xi = zf_f32(x)[i];
                float want_d = seed > 0 ? seed : 0, want_gd = xi > 0 && seed > 0 ? seed : 0, want_g = xi > 0 ? seed : 0;
                bad += pd[i] != want_d || pgd[i] != want_gd || pg[i] != want_g;
            }
            CHECK(!bad, "%s: seed %d: ReLU rules differ from their definitions at %d elements", what, si, bad);
        }
        if (fd && s->seed != ZF_SEED_MAP) {
            // Central differences of the seeded unit times its value.
            double a = unit_value(m, v, s, &info[ZF_RULE_GRADIENT]);
            const double h = 1e-3;
            int64_t H = t->ndim == 4 ? t->dims[2] : 1, W = t->ndim >= 3 ? t->dims[t->ndim - 1] : 1;
            int64_t at = s->channel * H * W + info[ZF_RULE_GRADIENT].y * W + info[ZF_RULE_GRADIENT].x;
            for (int64_t i = 0; i < n; i++) {
                float keep = zf_f32(x)[i];
                zf_f32(x)[i] = (float)(keep + h);
                zf_model_forward(m, 1, x, &err);
                double yp = zf_f32(&m->values[v].t)[at];
                zf_f32(x)[i] = (float)(keep - h);
                zf_model_forward(m, 1, x, &err);
                double ym = zf_f32(&m->values[v].t)[at];
                zf_f32(x)[i] = keep;
                fdv[i] = (float)(a * (yp - ym) / (2 * h));
            }
            zf_model_forward(m, 1, x, &err);
            n_fd += max_abs(fdv, n) > 1e-6;
            double e = rel_err(pg, fdv, n, 1e-6);
            int i0 = first_mismatch(pg, fdv, n, 2e-3);
            CHECK(e <= 2e-3, "%s: seed %d (unit %lld at %lld,%lld, value %.4g): gradient rule vs finite differences: "
                  "max rel err %.3g, first at %d: %.6g vs %.6g", what, si, (long long)s->channel,
                  (long long)info[2].y, (long long)info[2].x, a, e, i0, i0 >= 0 ? pg[i0] : 0, i0 >= 0 ? fdv[i0] : 0);
        }
    }
done:
    for (int r = 0; r < ZF_RULE_COUNT; r++) zf_tensor_free(&p[r]);
    zf_tensor_free(&dense);
    free(fdv);
    zf_projector_free(pj);
}

// Builds, loads and checks one case; the graph's output tensor is "y".
static void run_case(graph *g, const char *what, int rectified, int relu_direct, int positive) {
    g_output(g, "y");
    n_cases++;
    zf_model m = {0};
    zf_tensor x = {0};
    if (!load(&m, &x, g, what, positive)) {
        int v = zf_model_find(&m, "y");
        CHECK(v >= 0, "%s: no tensor y", what);
        if (v >= 0) check_tensor(&m, &x, v, what, rectified, relu_direct, check_fd);
    }
    zf_tensor_free(&x);
    zf_model_free(&m);
    zf_onnx_free(&g->m);
}

static const int64_t X4[4] = {1, 3, 6, 7};

static void op_cases(void) {
    graph g;
    zf_onnx_node *nd;
    // Conv: stride, padding, dilation, groups.
    {
        int64_t wd[4] = {4, 3, 3, 3}, bd[1] = {4};
        g_init(&g, 4, X4);
        const char *w = g_const(&g, 4, wd, 0.5, 0), *b = g_const(&g, 1, bd, 0.5, 0);
        nd = g_node(&g, "Conv", "y", 3, "x", w, b);
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){1, 0, 2, 1});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 1});
        run_case(&g, "Conv stride 2x1 pads 1,0,2,1", 0, 0, 0);
    }
    {
        int64_t X[4] = {1, 4, 7, 6}, wd[4] = {6, 2, 3, 2};
        g_init(&g, 4, X);
        const char *w = g_const(&g, 4, wd, 0.5, 0);
        nd = g_node(&g, "Conv", "y", 2, "x", w, NULL);
        zf_onnx_set_int(nd, "group", 2);
        zf_onnx_set_ints(nd, "dilations", 2, (int64_t[]){2, 1});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){1, 1, 1, 1});
        run_case(&g, "Conv group 2 dilation 2x1", 0, 0, 0);
    }
    {
        int64_t wd[4] = {5, 3, 1, 1};
        g_init(&g, 4, X4);
        g_node(&g, "Conv", "y", 2, "x", g_const(&g, 4, wd, 0.5, 0), NULL);
        run_case(&g, "Conv 1x1", 0, 0, 0);
    }
    {
        // 5x5 over 16 channels, then ReLU and a pool: the transposed conv's sparse product on groups
        // of 8 input channels (200 taps: blocks of 64, 64 and 72), as ZFNet's conv2.
        int64_t X[4] = {1, 16, 10, 10}, wd[4] = {8, 16, 5, 5};
        g_init(&g, 4, X);
        nd = g_node(&g, "Conv", "h", 2, "x", g_const(&g, 4, wd, 0.1, 0), NULL);
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){2, 2, 2, 2});
        g_node(&g, "Relu", "r", 1, "h", NULL, NULL);
        nd = g_node(&g, "MaxPool", "y", 1, "r", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        run_case(&g, "Conv 5x5 x16 channels, ReLU, MaxPool", 1, 0, 0);
    }
    {
        // The fused sparse kernel over several tiles of output rows (ckk 6400: 652 positions a
        // tile, 30x30 here), groups, stride 2, padding, input channels not a multiple of 8.
        int64_t X[4] = {1, 2 * 253, 59, 59}, wd[4] = {16, 253, 5, 5};
        g_init(&g, 4, X);
        nd = g_node(&g, "Conv", "h", 2, "x", g_const(&g, 4, wd, 0.02, 0), NULL);
        zf_onnx_set_int(nd, "group", 2);
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){2, 1, 2, 2});
        g_node(&g, "Relu", "r", 1, "h", NULL, NULL);
        nd = g_node(&g, "MaxPool", "y", 1, "r", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){3, 3});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        check_fd = 0;   // 1.8M inputs: sparse == dense only
        run_case(&g, "Conv 5x5/2 group 2 x253 channels (tiles), ReLU, MaxPool", 1, 0, 0);
        check_fd = 1;
    }
    {
        // The fused sparse kernel with dilation and asymmetric padding (14x14 positions).
        int64_t X[4] = {1, 16, 14, 14}, wd[4] = {8, 16, 3, 3};
        g_init(&g, 4, X);
        nd = g_node(&g, "Conv", "h", 2, "x", g_const(&g, 4, wd, 0.1, 0), NULL);
        zf_onnx_set_ints(nd, "dilations", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){2, 1, 2, 3});
        g_node(&g, "Relu", "r", 1, "h", NULL, NULL);
        nd = g_node(&g, "MaxPool", "y", 1, "r", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        run_case(&g, "Conv 3x3 dilation 2, ReLU, MaxPool", 1, 0, 0);
    }
    // ConvTranspose: stride 2, padding, output_padding, groups.
    {
        int64_t X[4] = {1, 4, 3, 4}, wd[4] = {4, 3, 3, 3};
        g_init(&g, 4, X);
        nd = g_node(&g, "ConvTranspose", "y", 2, "x", g_const(&g, 4, wd, 0.5, 0), NULL);
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){1, 0, 0, 1});
        zf_onnx_set_ints(nd, "output_padding", 2, (int64_t[]){1, 0});
        zf_onnx_set_int(nd, "group", 2);
        check_rf = 0;
        run_case(&g, "ConvTranspose stride 2 group 2", 0, 0, 0);
        check_rf = 1;
    }
    // Pools.
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "MaxPool", "y", 1, "x", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){3, 3});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        zf_onnx_set_int(nd, "ceil_mode", 1);
        run_case(&g, "MaxPool 3x3/2 ceil (overlapping)", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "MaxPool", "y", 1, "x", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){2, 3});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){1, 1, 1, 1});
        zf_onnx_set_ints(nd, "dilations", 2, (int64_t[]){1, 2});
        run_case(&g, "MaxPool padded, dilated", 0, 0, 0);
    }
    for (int cip = 0; cip < 2; cip++) {
        g_init(&g, 4, X4);
        nd = g_node(&g, "AveragePool", "y", 1, "x", NULL, NULL);
        zf_onnx_set_ints(nd, "kernel_shape", 2, (int64_t[]){3, 2});
        zf_onnx_set_ints(nd, "strides", 2, (int64_t[]){2, 2});
        zf_onnx_set_ints(nd, "pads", 4, (int64_t[]){1, 1, 1, 0});
        zf_onnx_set_int(nd, "ceil_mode", 1);
        zf_onnx_set_int(nd, "count_include_pad", cip);
        run_case(&g, cip ? "AveragePool count_include_pad" : "AveragePool", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "GlobalAveragePool", "y", 1, "x", NULL, NULL);
        run_case(&g, "GlobalAveragePool", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "GlobalMaxPool", "y", 1, "x", NULL, NULL);
        run_case(&g, "GlobalMaxPool", 0, 0, 0);
    }
    // LRN: the deconvnet skips it, guided and gradient take its gradient.
    {
        int64_t X[4] = {1, 7, 3, 4};
        g_init(&g, 4, X);
        nd = g_node(&g, "LRN", "y", 1, "x", NULL, NULL);
        zf_onnx_set_int(nd, "size", 3);
        zf_onnx_set_float(nd, "alpha", 0.5f);
        zf_onnx_set_float(nd, "beta", 0.75f);
        zf_onnx_set_float(nd, "bias", 1.5f);
        run_case(&g, "LRN", 1, 0, 0);
    }
    {
        int64_t cd[1] = {3};
        g_init(&g, 4, X4);
        const char *s = g_const(&g, 1, cd, 1, 0), *b = g_const(&g, 1, cd, 1, 0), *mu = g_const(&g, 1, cd, 1, 0),
                   *var = g_const(&g, 1, cd, 1, 1);
        const char *ins[5] = {"x", s, b, mu, var}, *outs[1] = {"y"};
        zf_onnx_add_node(&g.m.graph, "BatchNormalization", "y", 5, ins, 1, outs);
        run_case(&g, "BatchNormalization", 0, 0, 0);
    }
    // Fully connected.
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            char what[64];
            snprintf(what, sizeof what, "Gemm transA %d transB %d", ta, tb);
            int64_t X[2] = {1, 5}, wd[2] = {tb ? 4 : 5, tb ? 5 : 4}, cd[1] = {4};
            g_init(&g, 2, X);
            const char *A = "x";
            if (ta) {   // A (K, M) = (5, 1): the input transposed
                nd = g_node(&g, "Transpose", "xt", 1, "x", NULL, NULL);
                A = "xt";
            }
            nd = g_node(&g, "Gemm", "y", 3, A, g_const(&g, 2, wd, 0.5, 0), g_const(&g, 1, cd, 0.5, 0));
            zf_onnx_set_int(nd, "transA", ta);
            zf_onnx_set_int(nd, "transB", tb);
            zf_onnx_set_float(nd, "alpha", 0.7f);
            run_case(&g, what, 0, 0, 0);
        }
    {
        // Gemm with both operands from the input: y = A Tanh(A)^T with A = x reshaped to (3, 4).
        int64_t X[2] = {1, 12};
        g_init(&g, 2, X);
        g_node(&g, "Reshape", "a", 2, "x", g_ints(&g, 2, (int64_t[]){3, 4}), NULL);
        g_node(&g, "Tanh", "t", 1, "a", NULL, NULL);
        nd = g_node(&g, "Gemm", "y", 2, "a", "t", NULL);
        zf_onnx_set_int(nd, "transB", 1);
        run_case(&g, "Gemm both inputs live", 0, 0, 0);
    }
    {
        int64_t X[3] = {1, 3, 5}, wd[2] = {5, 4};
        g_init(&g, 3, X);
        g_node(&g, "MatMul", "y", 2, "x", g_const(&g, 2, wd, 0.5, 0), NULL);
        run_case(&g, "MatMul (1,3,5) x (5,4)", 0, 0, 0);
    }
    for (int b = 1; b <= 2; b++) {
        int64_t X[3] = {b, 3, 4};
        g_init(&g, 3, X);
        g_node(&g, "Sigmoid", "s", 1, "x", NULL, NULL);
        nd = g_node(&g, "Transpose", "st", 1, "s", NULL, NULL);
        zf_onnx_set_ints(nd, "perm", 3, (int64_t[]){0, 2, 1});
        g_node(&g, "MatMul", "y", 2, "x", "st", NULL);
        run_case(&g, b == 1 ? "MatMul (1,3,4) x (1,4,3), both live" : "MatMul batch 2, both live", 0, 0, 0);
    }
    // Activations.
    {
        g_init(&g, 4, X4);
        g_node(&g, "Relu", "y", 1, "x", NULL, NULL);
        run_case(&g, "Relu", 1, 1, 0);
    }
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "LeakyRelu", "y", 1, "x", NULL, NULL);
        zf_onnx_set_float(nd, "alpha", 0.1f);
        run_case(&g, "LeakyRelu", 1, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "Clip", "y", 3, "x", g_const(&g, 0, NULL, 0, 0), NULL);
        // min from a scalar constant (normal value), no max
        run_case(&g, "Clip", 1, 0, 0);
    }
    const char *smooth[] = {"Sigmoid", "Tanh", "Exp", "Identity"};
    for (int i = 0; i < 4; i++) {
        g_init(&g, 4, X4);
        g_node(&g, smooth[i], "y", 1, "x", NULL, NULL);
        run_case(&g, smooth[i], 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "Sqrt", "y", 1, "x", NULL, NULL);
        run_case(&g, "Sqrt", 0, 0, 1);
    }
    {
        g_init(&g, 4, X4);
        const char *ins[1] = {"x"}, *outs[2] = {"y", "mask"};
        zf_onnx_add_node(&g.m.graph, "Dropout", "y", 1, ins, 2, outs);
        run_case(&g, "Dropout", 0, 0, 0);
    }
    for (int lg = 0; lg < 2; lg++)
        for (int ax = 1; ax <= 3; ax += 2) {
            char what[64];
            snprintf(what, sizeof what, "%s axis %d", lg ? "LogSoftmax" : "Softmax", ax);
            g_init(&g, 4, X4);
            nd = g_node(&g, lg ? "LogSoftmax" : "Softmax", "y", 1, "x", NULL, NULL);
            zf_onnx_set_int(nd, "axis", ax);
            run_case(&g, what, 0, 0, 0);
        }
    // Shapes and indices.
    {
        g_init(&g, 4, X4);
        g_node(&g, "Flatten", "f", 1, "x", NULL, NULL);
        nd = g_node(&g, "Reshape", "r", 2, "f", g_ints(&g, 3, (int64_t[]){1, 7, 18}), NULL);
        nd = g_node(&g, "Unsqueeze", "u", 2, "r", g_ints(&g, 1, (int64_t[]){2}), NULL);
        nd = g_node(&g, "Squeeze", "y", 2, "u", g_ints(&g, 1, (int64_t[]){2}), NULL);
        run_case(&g, "Flatten Reshape Unsqueeze Squeeze", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "Transpose", "y", 1, "x", NULL, NULL);
        zf_onnx_set_ints(nd, "perm", 4, (int64_t[]){0, 3, 1, 2});
        run_case(&g, "Transpose", 0, 0, 0);
    }
    {
        int64_t wd[4] = {2, 3, 1, 1};
        g_init(&g, 4, X4);
        g_node(&g, "Conv", "a", 2, "x", g_const(&g, 4, wd, 0.5, 0), NULL);
        g_node(&g, "Sigmoid", "b", 1, "x", NULL, NULL);
        nd = g_node(&g, "Concat", "y", 3, "a", "b", "x");
        zf_onnx_set_int(nd, "axis", 1);
        run_case(&g, "Concat channels (x twice)", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "Tanh", "t", 1, "x", NULL, NULL);
        nd = g_node(&g, "Concat", "y", 2, "x", "t", NULL);
        zf_onnx_set_int(nd, "axis", 3);
        run_case(&g, "Concat along W", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        const char *ins[5] = {"x", g_ints(&g, 2, (int64_t[]){1, -1}), g_ints(&g, 2, (int64_t[]){5, 0}),
                              g_ints(&g, 2, (int64_t[]){2, 3}), g_ints(&g, 2, (int64_t[]){1, -2})};
        const char *outs[1] = {"y"};
        zf_onnx_add_node(&g.m.graph, "Slice", "y", 5, ins, 1, outs);
        run_case(&g, "Slice with a negative step", 0, 0, 0);
    }
    const char *modes[] = {"constant", "reflect", "edge"};
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "Pad %s", modes[i]);
        g_init(&g, 4, X4);
        nd = g_node(&g, "Pad", "y", 2, "x", g_ints(&g, 8, (int64_t[]){0, 0, 2, 1, 0, 1, 1, 3}), NULL);
        zf_onnx_set_string(nd, "mode", modes[i]);
        check_rf = i == 0;
        run_case(&g, what, 0, 0, 0);
        check_rf = 1;
    }
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "Gather", "y", 2, "x", g_ints(&g, 3, (int64_t[]){2, 0, 2}), NULL);
        zf_onnx_set_int(nd, "axis", 1);
        run_case(&g, "Gather channels (one twice)", 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        nd = g_node(&g, "Cast", "y", 1, "x", NULL, NULL);
        zf_onnx_set_int(nd, "to", 1);
        run_case(&g, "Cast to float", 0, 0, 0);
    }
    // Binary ops: both operands live (x and Sigmoid(x)), and broadcast from constants and live tensors.
    const char *bin[] = {"Add", "Sub", "Mul", "Div", "Pow"};
    for (int i = 0; i < 5; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s both live", bin[i]);
        g_init(&g, 4, X4);
        g_node(&g, "Sigmoid", "s", 1, "x", NULL, NULL);
        if (!strcmp(bin[i], "Pow")) g_node(&g, "Pow", "y", 2, "s", "x", NULL);
        else g_node(&g, bin[i], "y", 2, "x", "s", NULL);
        run_case(&g, what, 0, 0, 0);
        snprintf(what, sizeof what, "%s broadcast constant", bin[i]);
        int64_t cd[3] = {3, 1, 7};
        g_init(&g, 4, X4);
        g_node(&g, "Sigmoid", "s", 1, "x", NULL, NULL);
        const char *c = g_const(&g, 3, cd, 0, 1);
        if (!strcmp(bin[i], "Pow")) g_node(&g, "Pow", "y", 2, "s", c, NULL);
        else g_node(&g, bin[i], "y", 2, "x", c, NULL);
        run_case(&g, what, 0, 0, 0);
        snprintf(what, sizeof what, "%s broadcast live (x op pool(x))", bin[i]);
        g_init(&g, 4, X4);
        g_node(&g, "GlobalAveragePool", "p", 1, "x", NULL, NULL);
        g_node(&g, "Sigmoid", "s", 1, "p", NULL, NULL);
        if (!strcmp(bin[i], "Pow")) {
            g_node(&g, "Sigmoid", "sx", 1, "x", NULL, NULL);
            g_node(&g, "Pow", "y", 2, "sx", "s", NULL);
        } else {
            g_node(&g, bin[i], "y", 2, "x", "s", NULL);
        }
        run_case(&g, what, 0, 0, 0);
    }
    {
        g_init(&g, 4, X4);
        g_node(&g, "Tanh", "t", 1, "x", NULL, NULL);
        g_node(&g, "GlobalAveragePool", "p", 1, "x", NULL, NULL);
        g_node(&g, "Sum", "y", 3, "x", "t", "p");
        run_case(&g, "Sum of three (one broadcast)", 0, 0, 0);
    }
}

// --- 2. the seven architectures: sparse == dense, zero outside the box ----------------------------

// zf_project_maps (several maps spread over threads, walked together, conv_project_lanes) against
// zf_project one map at a time: the same numbers (the shared product adds the other walks' rows
// with zero signal, which changes nothing but the sign of a zero), the same infos.
static void check_maps(zf_model *m, int v, const char *what) {
    zf_error err = {0};
    const zf_tensor *t = &m->values[v].t;
    int n = (int)(t->dims[1] < 13 ? t->dims[1] : 13);
    zf_projector *pj = NULL;
    if (zf_projector_create(&pj, m, &err)) {
        CHECK(0, "%s: projector: %s", what, err.msg);
        return;
    }
    const zf_tensor *it = &m->values[m->inputs[0]].t;
    const int64_t per = zf_tensor_numel(it) / it->dims[0];
    int64_t ch[13];
    float *many = calloc((size_t)(n * per), sizeof *many);
    zf_project_info infos[13], one_info;
    zf_tensor one = {0};
    n = zf_project_top_maps(ch, NULL, n, m, v, 0, &err);
    for (int rule = 0; rule < ZF_RULE_COUNT && many; rule++) {
        zf_project_opts o = zf_project_defaults();
        o.value = v;
        o.rule = (zf_rule)rule;
        memset(infos, 0, sizeof infos);
        if (zf_project_maps(many, infos, pj, &o, ch, n, &err)) {
            CHECK(0, "%s: zf_project_maps: %s", what, err.msg);
            break;
        }
        for (int k = 0; k < n; k++) {
            o.channel = ch[k];
            if (zf_project(&one, &one_info, pj, &o, &err)) {
                CHECK(0, "%s: zf_project: %s", what, err.msg);
                break;
            }
            int bad = first_mismatch(many + k * per, zf_f32(&one), per, 0);
            CHECK(bad < 0, "%s, rule %s, map %lld of %d: element %d is %g, one at a time %g", what,
                  zf_rule_name((zf_rule)rule), (long long)ch[k], n, bad, bad < 0 ? 0 : many[k * per + bad],
                  bad < 0 ? 0 : zf_f32(&one)[bad]);
            CHECK(infos[k].value == one_info.value && infos[k].y == one_info.y && infos[k].x == one_info.x &&
                  !memcmp(infos[k].box, one_info.box, sizeof one_info.box) &&
                  !memcmp(infos[k].rf, one_info.rf, sizeof one_info.rf) && infos[k].empty == one_info.empty &&
                  infos[k].nodes == one_info.nodes,
                  "%s, rule %s, map %lld: the infos differ", what, zf_rule_name((zf_rule)rule), (long long)ch[k]);
        }
        n_maps_checked += n;
    }
    // An error in one of the walks comes back as zf_project's.
    ch[n / 2] = t->dims[1];
    zf_project_opts o = zf_project_defaults();
    o.value = v;
    CHECK(zf_project_maps(many, infos, pj, &o, ch, n, &err) == ZF_ERR_INPUT && strstr(err.msg, "out of range"),
          "%s: zf_project_maps took map %lld of %lld (%s)", what, (long long)t->dims[1], (long long)t->dims[1], err.msg);
    free(many);
    zf_tensor_free(&one);
    zf_projector_free(pj);
}

static void arch_cases(void) {
    static const struct { const char *arch; int size; double w; } A[] = {
        {"lenet", 28, 0.25},      {"alexnet", 67, 0.0625},   {"zfnet", 64, 0.0625},     {"vgg16", 32, 0.0625},
        {"googlenet", 64, 0.0625}, {"resnet50", 32, 0.0625}, {"densenet121", 32, 0.0625},
    };
    for (size_t ai = 0; ai < sizeof A / sizeof A[0]; ai++) {
        double t0 = now_ms();
        zf_error err = {0};
        zf_build_opts bo = zf_build_defaults(A[ai].arch);
        bo.width_mult = A[ai].w;
        bo.height = bo.width = A[ai].size;
        bo.classes = 10;
        zf_onnx_model om = {0};
        if (zf_model_build(&om, A[ai].arch, &bo, &err)) {
            CHECK(0, "%s: build: %s", A[ai].arch, err.msg);
            zf_onnx_free(&om);
            continue;
        }
        zf_model m = {0};
        zf_load_opts lo = zf_load_defaults();
        lo.threads = 2;
        int rc = zf_model_from_onnx(&m, &om, A[ai].arch, &lo, &err);
        zf_onnx_free(&om);
        if (rc) {
            CHECK(0, "%s: load: %s", A[ai].arch, err.msg);
            continue;
        }
        zf_tensor x = {0};
        const zf_tensor *it = &m.values[m.inputs[0]].t;
        zf_tensor_alloc(&x, ZF_F32, it->ndim, it->dims, NULL);
        for (int64_t i = 0; i < zf_tensor_numel(&x); i++) zf_f32(&x)[i] = (float)nrand();
        if (zf_model_forward(&m, 1, &x, &err)) {
            CHECK(0, "%s: forward: %s", A[ai].arch, err.msg);
        } else {
            // Four maps spread over the depth, the first fully connected output and the last.
            int maps[64], n4 = 0, fcs[64], n2 = 0;
            for (int k = 1; k < m.n_listed; k++) {
                const zf_tensor *t = &m.values[m.listed[k]].t;
                if (t->dtype != ZF_F32) continue;
                if (t->ndim == 4 && n4 < 64) maps[n4++] = m.listed[k];
                if (t->ndim == 2 && n2 < 64) fcs[n2++] = m.listed[k];
            }
            int pick[6], np = 0;
            if (n4) {
                pick[np++] = maps[0];
                pick[np++] = maps[n4 / 3];
                pick[np++] = maps[2 * n4 / 3];
                pick[np++] = maps[n4 - 1];
            }
            if (n2) {
                pick[np++] = fcs[0];
                pick[np++] = fcs[n2 - 1];
            }
            for (int k = 0; k < np; k++) {
                char what[256];
                snprintf(what, sizeof what, "%s %s", A[ai].arch, m.values[pick[k]].name);
                check_tensor(&m, &x, pick[k], what, 1, 0, 0);
            }
            if (n4 >= 2) {   // zf_model_forward_to (deconv's forward): up to a map, then nothing
                const int mid = maps[n4 / 2], out = m.outputs[0];
                const zf_tensor *tm = &m.values[mid].t, *to = &m.values[out].t;
                const size_t bm = (size_t)zf_tensor_numel(tm) * sizeof(float), bo = (size_t)zf_tensor_numel(to) * sizeof(float);
                float *m0 = malloc(bm), *o0 = malloc(bo);
                zf_tensor x2 = {0};
                zf_tensor_alloc(&x2, ZF_F32, x.ndim, x.dims, NULL);
                if (m0 && o0 && x2.data) {
                    memcpy(m0, tm->data, bm);
                    memcpy(o0, to->data, bo);
                    for (int64_t i = 0; i < zf_tensor_numel(&x); i++) zf_f32(&x2)[i] = 0.5f * zf_f32(&x)[i] + 0.25f;
                    CHECK(!zf_model_forward_to(&m, 1, &x2, mid, &err), "%s: forward_to: %s", A[ai].arch, err.msg);
                    CHECK(memcmp(m0, tm->data, bm) && !memcmp(o0, to->data, bo),
                          "%s: zf_model_forward_to(%s) did not stop there", A[ai].arch, m.values[mid].name);
                    CHECK(!zf_model_forward_to(&m, 1, &x, mid, &err) && !memcmp(m0, tm->data, bm),
                          "%s: zf_model_forward_to(%s) differs from the whole pass", A[ai].arch, m.values[mid].name);
                    CHECK(!zf_model_forward(&m, 1, &x, &err), "%s: forward: %s", A[ai].arch, err.msg);
                }
                free(m0);
                free(o0);
                zf_tensor_free(&x2);
            }
            for (int k = 2; k < 4 && k < np && n4; k++) {   // the deeper two maps: many at once
                char what[256];
                snprintf(what, sizeof what, "%s %s (zf_project_maps)", A[ai].arch, m.values[pick[k]].name);
                check_maps(&m, pick[k], what);
            }
        }
        printf("  %s: sparse == dense checks done (%.0f ms)\n", A[ai].arch, now_ms() - t0);
        zf_tensor_free(&x);
        zf_model_free(&m);
    }
}

// --- 3. PyTorch references ------------------------------------------------------------------------

static int torch_case_dir(const char *dir) {
    char path[4096];
    zf_error err = {0};
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    zf_tensor x = {0};
    zf_model m = {0};
    zf_projector *pj = NULL;
    int n = 0;
    snprintf(path, sizeof path, "%s/input.pb", dir);
    if (zf_tensor_read_pb(&x, NULL, path, &err)) {
        CHECK(0, "%s", err.msg);
        goto done;
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    zf_load_opts lo = zf_load_defaults();
    lo.n_input_shapes = 1;
    lo.input_shapes = &x;
    lo.threads = 2;
    if (zf_model_load(&m, path, &lo, &err) || zf_model_forward(&m, 1, &x, &err) ||
        zf_projector_create(&pj, &m, &err)) {
        CHECK(0, "%s", err.msg);
        goto done;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char layer[512], rule[32], file[256];
        long long item, ch, y, xx;
        double value;
        if (line[0] == '#' || sscanf(line, "%511s %31s %lld %lld %lld %lld %lf %255s", layer, rule, &item, &ch, &y, &xx,
                                     &value, file) != 8)
            continue;
        zf_project_opts o = zf_project_defaults();
        o.value = zf_model_find(&m, layer);
        o.item = item;
        o.channel = ch;
        zf_rule_parse(&o.rule, rule, NULL);
        zf_tensor ref = {0}, p = {0};
        zf_project_info info;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (o.value < 0) {
            CHECK(0, "%s: no tensor '%s'", dir, layer);
        } else if (zf_tensor_read_pb(&ref, NULL, path, &err)) {
            CHECK(0, "%s", err.msg);
        } else if (zf_project(&p, &info, pj, &o, &err)) {
            CHECK(0, "%s: %s %s: %s", dir, layer, rule, err.msg);
        } else if (!zf_tensor_same_shape(&p, &ref)) {
            CHECK(0, "%s: %s: projection shape differs from the reference", dir, file);
        } else {
            int64_t cnt = zf_tensor_numel(&ref);
            double e = rel_err(zf_f32(&p), zf_f32(&ref), cnt, 1e-30);
            int i0 = first_mismatch(zf_f32(&p), zf_f32(&ref), cnt, 1e-4);
            CHECK(info.y == y && info.x == xx, "%s: %s: strongest unit at %lld,%lld, torch says %lld,%lld", dir, layer,
                  (long long)info.y, (long long)info.x, y, xx);
            CHECK(fabs(info.value - value) <= 1e-4 * fabs(value) + 1e-6, "%s: %s: seed value %.7g, torch %.7g", dir,
                  layer, info.value, value);
            CHECK(e <= 1e-4 && max_abs(zf_f32(&ref), cnt) > 0, "%s: %s %s item %lld unit %lld: max rel err %.3g "
                  "(first mismatch at %d: zfviz %.7g, torch %.7g)", dir, layer, rule, item, ch, e, i0,
                  i0 >= 0 ? zf_f32(&p)[i0] : 0, i0 >= 0 ? zf_f32(&ref)[i0] : 0);
            printf("  %-12s %-52s %-9s max rel err %.2g\n", strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir, layer,
                   rule, e);
            n++;
        }
        zf_tensor_free(&ref);
        zf_tensor_free(&p);
    }
done:
    fclose(f);
    zf_projector_free(pj);
    zf_model_free(&m);
    zf_tensor_free(&x);
    return n;
}

static void torch_cases(void) {
    const char *root = "tests/refs-deconv";
    DIR *d = opendir(root);
    CHECK(d != NULL, "%s: missing (tools/torch_deconv.py writes it)", root);
    if (!d) return;
    struct dirent *e;
    int total = 0, archs = 0;
    char names[32][256];
    int nn = 0;
    while ((e = readdir(d)) && nn < 32)
        if (e->d_name[0] != '.') snprintf(names[nn++], sizeof names[0], "%s/%s", root, e->d_name);
    closedir(d);
    for (int i = 0; i < nn; i++) {
        int k = torch_case_dir(names[i]);
        total += k;
        archs += k > 0;
    }
    CHECK(archs >= 4 && total >= 12, "only %d PyTorch cases in %d architectures", total, archs);
}

// --- 4. bad input ---------------------------------------------------------------------------------

static void error_cases(void) {
    zf_error err = {0};
    graph g;
    // A BatchNormalization in training mode sits between the input and y.
    int64_t cd[1] = {3};
    g_init(&g, 4, X4);
    const char *ins[5] = {"x", g_const(&g, 1, cd, 1, 1), g_const(&g, 1, cd, 1, 0), g_const(&g, 1, cd, 1, 0),
                          g_const(&g, 1, cd, 1, 1)};
    const char *outs[1] = {"b"};
    zf_onnx_node *bn = zf_onnx_add_node(&g.m.graph, "BatchNormalization", "bn", 5, ins, 1, outs);
    zf_onnx_set_int(bn, "training_mode", 1);
    g_node(&g, "Relu", "y", 1, "b", NULL, NULL);
    g_output(&g, "y");
    zf_model m = {0};
    zf_tensor x = {0};
    if (load(&m, &x, &g, "errors", 0)) return;
    zf_projector *pj = NULL;
    CHECK(!zf_projector_create(&pj, &m, &err), "projector: %s", err.msg);
    zf_tensor p = {0};
    zf_project_opts o = zf_project_defaults();
    o.value = -1;
    CHECK(zf_project(&p, NULL, pj, &o, &err) == ZF_ERR_INPUT, "unknown tensor accepted");
    o.value = zf_model_find(&m, "y");
    o.channel = 3;
    CHECK(zf_project(&p, NULL, pj, &o, &err) == ZF_ERR_INPUT && strstr(err.msg, "out of range"),
          "unit 3 of 3 maps accepted (%s)", err.msg);
    o.channel = 0;
    o.seed = ZF_SEED_AT;
    o.y = 6;
    CHECK(zf_project(&p, NULL, pj, &o, &err) == ZF_ERR_INPUT && strstr(err.msg, "outside"),
          "position 6,0 of a 6x7 map accepted (%s)", err.msg);
    o.seed = ZF_SEED_MAX;
    o.item = 1;
    CHECK(zf_project(&p, NULL, pj, &o, &err) == ZF_ERR_INPUT, "batch item 1 of 1 accepted");
    o.item = 0;
    int rc = zf_project(&p, NULL, pj, &o, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "BatchNormalization") && strstr(err.msg, "'bn'"),
          "training-mode BatchNormalization: rc %d, '%s'", rc, err.msg);
    printf("  error message: %s\n", err.msg);
    zf_projector_free(pj);
    zf_tensor_free(&p);
    zf_tensor_free(&x);
    zf_model_free(&m);
    zf_onnx_free(&g.m);

    // Conv weights from the input: not a projection the rules define.
    g_init(&g, 4, X4);
    {
        const char *si[4] = {"x", g_ints(&g, 2, (int64_t[]){0, 0}), g_ints(&g, 2, (int64_t[]){3, 3}),
                             g_ints(&g, 2, (int64_t[]){2, 3})};
        const char *so[1] = {"w"};
        zf_onnx_add_node(&g.m.graph, "Slice", "w", 4, si, 1, so);
    }
    g_node(&g, "Conv", "y", 2, "x", "w", NULL);
    g_output(&g, "y");
    if (load(&m, &x, &g, "conv weights", 0)) return;
    CHECK(!zf_projector_create(&pj, &m, &err), "projector: %s", err.msg);
    o = zf_project_defaults();
    o.value = zf_model_find(&m, "y");
    rc = zf_project(&p, NULL, pj, &o, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "input 1"), "Conv with live weights: rc %d, '%s'", rc, err.msg);
    printf("  error message: %s\n", err.msg);
    zf_projector_free(pj);
    zf_tensor_free(&p);
    zf_tensor_free(&x);
    zf_model_free(&m);
    zf_onnx_free(&g.m);
}

int main(int argc, char **argv) {
    double t0 = now_ms();
    printf("1. op rules (finite differences, sparse == dense)\n");
    op_cases();
    CHECK(n_cases >= 50 && n_fd >= 150, "only %d op cases, %d finite-difference comparisons", n_cases, n_fd);
    printf("   %d cases, %d finite-difference comparisons, %.0f ms\n2. architectures\n", n_cases, n_fd, now_ms() - t0);
    arch_cases();
    CHECK(n_maps_checked >= 7 * 2 * 3 * 8, "only %d maps compared with zf_project_maps", n_maps_checked);
    printf("3. PyTorch references\n");
    torch_cases();
    printf("4. errors\n");
    error_cases();
    printf("%s (%d failure%s, %.1f s)\n", failures ? "FAILED" : "ok", failures, failures == 1 ? "" : "s",
           (now_ms() - t0) / 1e3);
    return failures ? 1 : 0;
}
