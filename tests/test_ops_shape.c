// test_ops_shape: the elementwise, softmax and shape ops (activation.c, binary.c, softmax.c,
// shape_ops.c, index_ops.c) through their zf_op interface: broadcasting, Reshape 0/-1, Slice with
// negative steps and clamped ends, both Softmax semantics, Pad with negative pads and the other
// modes, Gather with negative and out-of-range indices, Cast, and a folded shape chain through the
// graph. Expected values come from numpy (the expression is given beside each array); inputs are
// fill() patterns numpy reproduces as ((((i*7 + seed) % 13) - 6) / 4).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "core/onnx/onnx.h"
#include "core/parallel.h"
#include "core/ops/activation.h"
#include "core/ops/binary.h"
#include "core/ops/index_ops.h"
#include "core/ops/shape_ops.h"
#include "core/ops/softmax.h"

static int failures;

#define CHECK(cond, ...)                                                                                         \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                          \
            printf(__VA_ARGS__);                                                                                 \
            printf("\n");                                                                                        \
            failures++;                                                                                          \
        }                                                                                                        \
    } while (0)

static void fill(float *x, int64_t n, int seed) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)((((i * 7 + seed) % 13) - 6) / 4.0);
}

// A tensor viewing caller memory (not owned).
static zf_tensor view(zf_dtype dt, int nd, const int64_t *dims, const void *data) {
    zf_tensor t = {.dtype = dt, .ndim = nd, .data = (void *)data};
    for (int i = 0; i < nd; i++) t.dims[i] = dims[i];
    return t;
}
#define TF(nd, dims, data) view(ZF_F32, nd, (const int64_t[])dims, data)
#define TI(nd, dims, data) view(ZF_I64, nd, (const int64_t[])dims, (const int64_t[])data)
#define D(...) {__VA_ARGS__}
static const zf_tensor OMITTED = {.ndim = -1};

static int same_dims(const zf_tensor *t, int nd, const int64_t *dims) {
    if (t->ndim != nd) return 0;
    for (int i = 0; i < nd; i++) if (t->dims[i] != dims[i]) return 0;
    return 1;
}

// Compares shape and values; prints the first mismatch and the max error.
static void check_t(const char *what, const zf_tensor *t, zf_dtype dt, int nd, const int64_t *dims, const void *want) {
    char b1[160], b2[160];
    if (t->dtype != dt || !same_dims(t, nd, dims)) {
        CHECK(0, "%s: got %s %s, expected %s %s", what, t->dtype == ZF_I64 ? "int64" : "float",
              zf_shape_str(b1, sizeof b1, t->ndim, t->dims), dt == ZF_I64 ? "int64" : "float",
              zf_shape_str(b2, sizeof b2, nd, dims));
        return;
    }
    int64_t n = zf_tensor_numel(t), first = -1;
    double maxerr = 0, g0 = 0, w0 = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = dt == ZF_F32 ? zf_f32(t)[i] : (double)zf_i64(t)[i];
        double w = dt == ZF_F32 ? ((const float *)want)[i] : (double)((const int64_t *)want)[i];
        double e = fabs(g - w);
        if (isnan(e) || e > maxerr) maxerr = isnan(e) ? INFINITY : e;
        if (first < 0 && !(e <= 1e-6 + 1e-5 * fabs(w))) { first = i; g0 = g; w0 = w; }
    }
    CHECK(first < 0, "%s: first mismatch at flat index %lld: got %.9g expected %.9g (max abs error %.3g)", what,
          (long long)first, g0, w0, maxerr);
}
#define CHECK_F(what, t, nd, dims, ...) \
    check_t(what, t, ZF_F32, nd, (const int64_t[])dims, (const float[])__VA_ARGS__)
#define CHECK_I(what, t, nd, dims, ...) \
    check_t(what, t, ZF_I64, nd, (const int64_t[])dims, (const int64_t[])__VA_ARGS__)

// --- running one op -----------------------------------------------------------------------------

#define MAXV 8
typedef struct rig {
    zf_value v[MAXV];
    int in[MAXV], out[MAXV];
    zf_node n;
    void *params;
} rig;

// Parses `on` (may be NULL: no attributes), runs shape() and forward() on inputs (data != NULL
// means constant; OMITTED marks an absent optional input). Outputs land in r->v[nin + k].t
// (owned). Returns the first failing status; err has the message.
static int run(rig *r, const zf_op *op, const zf_onnx_node *on, int64_t opset, int nin, const zf_tensor *ins, int nout,
               const zf_exec *ex, zf_error *err) {
    memset(r, 0, sizeof *r);
    zf_onnx_node empty = {.name = "", .op_type = (char *)op->type, .domain = ""};
    if (!on) on = &empty;
    r->params = op->params_size ? calloc(1, op->params_size) : NULL;
    if (op->parse && op->parse(r->params, on, opset, err)) return err->code;
    for (int i = 0; i < nin; i++) {
        if (ins[i].ndim < 0) { r->in[i] = -1; continue; }
        r->in[i] = i;
        r->v[i].t = ins[i];
        r->v[i].t.owns = 0;
        r->v[i].is_const = ins[i].data != NULL;
    }
    for (int k = 0; k < nout; k++) r->out[k] = nin + k;
    r->n = (zf_node){.name = "t", .op = op, .n_in = nin, .in = r->in, .n_out = nout, .out = r->out,
            .params = r->params};
    if (op->shape(&r->n, r->v, err)) return err->code;
    for (int k = 0; k < nout; k++) {
        zf_tensor *t = &r->v[nin + k].t;
        if (zf_tensor_alloc(t, t->dtype, t->ndim, t->dims, err)) return err->code;
    }
    zf_exec sx = {.threads = 1};
    return op->forward(&r->n, r->v, ex ? ex : &sx, err);
}

static void rig_free(rig *r) {
    for (int i = 0; i < MAXV; i++) zf_tensor_free(&r->v[i].t);
    free(r->params);
    r->params = NULL;
}

// A node of an ONNX graph to set attributes on (pointer valid until the next add).
static zf_onnx_node *mknode(zf_onnx_model *m, const char *type) {
    const char *out = "y";
    return zf_onnx_add_node(&m->graph, type, "n", 0, NULL, 1, &out);
}

// Runs op and expects failure with `needle` in the message.
static void expect_error(const char *what, const zf_op *op, const zf_onnx_node *on, int64_t opset, int nin,
                         const zf_tensor *ins, const char *needle) {
    rig r;
    zf_error err = {0};
    int rc = run(&r, op, on, opset, nin, ins, 1, NULL, &err);
    CHECK(rc != 0, "%s: expected an error containing '%s', got success", what, needle);
    if (rc) CHECK(strstr(err.msg, needle) != NULL, "%s: error '%s' does not mention '%s'", what, err.msg, needle);
    rig_free(&r);
}

#define RUN_OK(r, op, on, opset, nin, ins, nout)                                                                 \
    do {                                                                                                         \
        zf_error e_ = {0};                                                                                       \
        if (run(r, op, on, opset, nin, ins, nout, NULL, &e_)) CHECK(0, "%s: %s", (op)->type, e_.msg);            \
    } while (0)

// --- binary ops and broadcasting ----------------------------------------------------------------

static void test_binary(void) {
    rig r;
    float a[24], b[24], c[24];
    // numpy: fill((2,3,4),0) + fill((3,1),1)
    fill(a, 24, 0); fill(b, 3, 1);
    RUN_OK(&r, &zf_op_add, NULL, 14, 2, ((zf_tensor[]){TF(3, D(2, 3, 4), a), TF(2, D(3, 1), b)}), 1);
    CHECK_F("Add (2,3,4)+(3,1)", &r.v[2].t, 3, D(2, 3, 4), {-2.75f, -1.0f, -2.5f, -0.75f, -0.5f, 1.25f, -0.25f, 1.5f,
            -1.5f, 0.25f, -1.25f, 0.5f, -1.25f, -2.75f, -1.0f, -2.5f, 1.0f, -0.5f, 1.25f, -0.25f, 0.0f, -1.5f, 0.25f,
            -1.25f});
    rig_free(&r);
    // numpy: fill((2,1,4),2) * fill((1,3,1),3): both inputs broadcast
    fill(a, 8, 2); fill(b, 3, 3);
    RUN_OK(&r, &zf_op_mul, NULL, 14, 2, ((zf_tensor[]){TF(3, D(2, 1, 4), a), TF(3, D(1, 3, 1), b)}), 1);
    CHECK_F("Mul (2,1,4)*(1,3,1)", &r.v[2].t, 3, D(2, 3, 4), {0.75f, -0.5625f, 0.5625f, -0.75f, -1.0f, 0.75f, -0.75f,
            1.0f, 0.5f, -0.375f, 0.375f, -0.5f, 0.375f, -0.9375f, 0.1875f, -1.125f, -0.5f, 1.25f, -0.25f, 1.5f, 0.25f,
            -0.625f, 0.125f, -0.75f});
    rig_free(&r);
    // numpy: fill((2,3,1),5) + fill((1,4),6) + fill((3,1),7)
    fill(a, 6, 5); fill(b, 4, 6); fill(c, 3, 7);
    RUN_OK(&r, &zf_op_sum, NULL, 13, 3,
           ((zf_tensor[]){TF(3, D(2, 3, 1), a), TF(2, D(1, 4), b), TF(2, D(3, 1), c)}), 1);
    CHECK_F("Sum of three", &r.v[3].t, 3, D(2, 3, 4), {0.0f, -1.5f, 0.25f, -1.25f, 0.25f, -1.25f, 0.5f, -1.0f, 0.5f,
            -1.0f, 0.75f, -0.75f, -1.25f, -2.75f, -1.0f, -2.5f, -1.0f, -2.5f, -0.75f, -2.25f, -0.75f, -2.25f, -0.5f,
            -2.0f});
    rig_free(&r);
    RUN_OK(&r, &zf_op_sum, NULL, 13, 1, ((zf_tensor[]){TF(2, D(2, 3), a)}), 1);
    check_t("Sum of one", &r.v[1].t, ZF_F32, 2, (const int64_t[]){2, 3}, a);
    rig_free(&r);

    // int64 shape arithmetic: Sub with a scalar, truncating Div, Mul, Equal -> 0/1
    RUN_OK(&r, &zf_op_sub, NULL, 14, 2, ((zf_tensor[]){TI(2, D(2, 3), D(-7, 7, -8, 9, 0, 5)), TI(0, D(0), D(4))}), 1);
    CHECK_I("Sub int64 - scalar", &r.v[2].t, 2, D(2, 3), D(-11, 3, -12, 5, -4, 1));
    rig_free(&r);
    RUN_OK(&r, &zf_op_div, NULL, 14, 2, ((zf_tensor[]){TI(2, D(2, 3), D(-7, 7, -8, 9, 0, 5)), TI(1, D(1), D(2))}), 1);
    CHECK_I("Div int64 truncates", &r.v[2].t, 2, D(2, 3), D(-3, 3, -4, 4, 0, 2));
    rig_free(&r);
    RUN_OK(&r, &zf_op_mul, NULL, 14, 2, ((zf_tensor[]){TI(1, D(3), D(2, 3, 4)), TI(2, D(2, 1), D(10, -1))}), 1);
    CHECK_I("Mul int64 broadcast", &r.v[2].t, 2, D(2, 3), D(20, 30, 40, -2, -3, -4));
    rig_free(&r);
    RUN_OK(&r, &zf_op_equal, NULL, 13, 2, ((zf_tensor[]){TI(2, D(2, 3), D(1, 2, 3, 3, 2, 1)), TI(1, D(3), D(1, 2, 1))}),
            1);
    CHECK_I("Equal int64 -> 0/1", &r.v[2].t, 2, D(2, 3), D(1, 1, 0, 0, 1, 1));
    rig_free(&r);
    RUN_OK(&r, &zf_op_equal, NULL, 13, 2, ((zf_tensor[]){TF(1, D(3), ((float[]){0.5f, -1, 2})), TF(0, D(0),
            ((float[]){2}))}), 1);
    CHECK_I("Equal float -> int64", &r.v[2].t, 1, D(3), D(0, 0, 1));
    rig_free(&r);
    // Pow: float base, int64 exponent (x**2) and float exponent (numpy: [4,9,16]**[0.5,1,2])
    RUN_OK(&r, &zf_op_pow, NULL, 15, 2, ((zf_tensor[]){TF(1, D(3), ((float[]){-1.5f, 2, 3})), TI(0, D(0), D(2))}), 1);
    CHECK_F("Pow float^int64", &r.v[2].t, 1, D(3), {2.25f, 4, 9});
    rig_free(&r);
    RUN_OK(&r, &zf_op_pow, NULL, 15, 2,
           ((zf_tensor[]){TF(1, D(3), ((float[]){4, 9, 16})), TF(1, D(3), ((float[]){0.5f, 1, 2}))}), 1);
    CHECK_F("Pow float^float", &r.v[2].t, 1, D(3), {2, 9, 256});
    rig_free(&r);

    expect_error("Div int64 by zero", &zf_op_div, NULL, 14, 2,
                 (zf_tensor[]){TI(1, D(2), D(4, 5)), TI(1, D(2), D(1, 0))}, "division by zero");
    expect_error("Add incompatible", &zf_op_add, NULL, 14, 2,
                 (zf_tensor[]){TF(2, D(2, 3), a), TF(1, D(4), b)}, "broadcast");
    expect_error("Add mixed types", &zf_op_add, NULL, 14, 2,
                 (zf_tensor[]){TF(1, D(2), a), TI(1, D(2), D(1, 2))}, "element types");

    // Legacy (opset < 7) broadcast=1 axis=1: B (3,4) lines up with A's axes 1 and 2.
    float big[120], lb[12];
    fill(big, 120, 9); fill(lb, 12, 10);
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Add");
    zf_onnx_set_int(on, "broadcast", 1);
    zf_onnx_set_int(on, "axis", 1);
    RUN_OK(&r, &zf_op_add, on, 6, 2, ((zf_tensor[]){TF(4, D(2, 3, 4, 5), big), TF(2, D(3, 4), lb)}), 1);
    float want[120];
    for (int i = 0; i < 120; i++) want[i] = big[i] + lb[(i / 5) % 12];   // (n,c,h,w) + b[c,h]
    check_t("Add legacy axis", &r.v[2].t, ZF_F32, 4, (const int64_t[]){2, 3, 4, 5}, want);
    rig_free(&r);
    zf_onnx_free(&om);

    // The plan collapses (1,64,56,56) * (1,64,1,1) to rows of 3136 with a per-row scalar.
    zf_bcast bc;
    zf_error err = {0};
    CHECK(!zf_bcast_plan(&bc, 4, (int64_t[]){1, 64, 56, 56}, 4, (int64_t[]){1, 64, 56, 56}, 4,
                         (int64_t[]){1, 64, 1, 1}, &err), "plan: %s", err.msg);
    CHECK(bc.ndim == 2 && bc.dims[0] == 64 && bc.dims[1] == 3136 && bc.sa[1] == 1 && bc.sb[0] == 1 && bc.sb[1] == 0,
          "plan for per-channel Mul: ndim %d dims (%lld,%lld) sb (%lld,%lld)", bc.ndim, (long long)bc.dims[0],
          (long long)bc.dims[1], (long long)bc.sb[0], (long long)bc.sb[1]);
}

// Parallel and serial runs agree exactly (threads split the flat range mid-row).
static void test_parallel(void) {
    zf_pool *pool = zf_pool_create(2);
    if (!pool) { CHECK(0, "zf_pool_create failed"); return; }
    zf_exec px = {.threads = 2, .pool = pool};
    int64_t n = 3 * 64 * 27 * 31;
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * 64);
    fill(a, n, 11); fill(b, 64, 12);
    zf_tensor ins[2] = {TF(4, D(3, 64, 27, 31), a), TF(4, D(1, 64, 1, 1), b)};
    const zf_op *ops[3] = {&zf_op_add, &zf_op_transpose, &zf_op_softmax};
    zf_onnx_model om = {0};
    zf_onnx_node *tn = mknode(&om, "Transpose");
    zf_onnx_set_ints(tn, "perm", 4, (int64_t[]){0, 2, 3, 1});
    for (int k = 0; k < 3; k++) {
        rig r1, r2;
        zf_error e1 = {0}, e2 = {0};
        const zf_onnx_node *on = k == 1 ? &om.graph.nodes[0] : NULL;
        int nin = k == 0 ? 2 : 1;
        int rc1 = run(&r1, ops[k], on, 13, nin, ins, 1, NULL, &e1);
        int rc2 = run(&r2, ops[k], on, 13, nin, ins, 1, &px, &e2);
        CHECK(!rc1 && !rc2, "%s: %s %s", ops[k]->type, e1.msg, e2.msg);
        if (!rc1 && !rc2)
            CHECK(!memcmp(r1.v[nin].t.data, r2.v[nin].t.data, sizeof(float) * (size_t)n),
                  "%s: parallel result differs from serial", ops[k]->type);
        rig_free(&r1);
        rig_free(&r2);
    }
    // Transpose (3,64,27,31) -> (3,27,31,64) spot check: out[n,h,w,c] = in[n,c,h,w]
    rig r;
    RUN_OK(&r, &zf_op_transpose, &om.graph.nodes[0], 13, 1, ins, 1);
    const float *t = zf_f32(&r.v[1].t);
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; i += 97) {
        int64_t c = i % 64, w = (i / 64) % 31, h = (i / (64 * 31)) % 27, b0 = i / (64 * 31 * 27);
        bad = t[i] != a[((b0 * 64 + c) * 27 + h) * 31 + w];
    }
    CHECK(!bad, "Transpose (0,2,3,1) mismatch");
    rig_free(&r);
    zf_onnx_free(&om);
    free(a);
    free(b);
    zf_pool_destroy(pool);
}

// --- softmax ------------------------------------------------------------------------------------

static void test_softmax(void) {
    rig r;
    float x[24];
    fill(x, 24, 4);
    for (int i = 0; i < 24; i++) x[i] *= 3;
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Softmax");
    zf_onnx_set_int(on, "axis", 1);
    // opset 11: coerced to (2,12), numpy: softmax(x.reshape(2,12), axis=1)
    RUN_OK(&r, &zf_op_softmax, on, 11, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), x)}), 1);
    CHECK_F("Softmax opset 11 axis 1", &r.v[1].t, 3, D(2, 3, 4), {0.00148249441f, 0.28251344f, 0.00313844066f,
            0.598080933f, 0.006644079f, 7.3809053e-05f, 0.0140655152f, 0.000156253765f, 0.0297766961f, 0.000330789218f,
            0.0630372688f, 0.000700280769f, 0.117810585f, 0.00130875735f, 0.249405012f, 0.00277063949f, 0.527990401f,
            0.0058654435f, 6.51591909e-05f, 0.0124171441f, 0.000137942014f, 0.0262870956f, 0.000292023236f,
            0.0556497797f});
    rig_free(&r);
    // opset 13: along axis 1 only, numpy: softmax(x, axis=1)
    RUN_OK(&r, &zf_op_softmax, on, 13, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), x)}), 1);
    CHECK_F("Softmax opset 13 axis 1", &r.v[1].t, 3, D(2, 3, 4), {0.0391125716f, 0.998569906f, 0.0391125716f,
            0.998569906f, 0.175290391f, 0.000260884932f, 0.175290391f, 0.000260884932f, 0.785597026f, 0.00116920518f,
            0.785597026f, 0.00116920518f, 0.182386562f, 0.0391125716f, 0.998569906f, 0.0391125716f, 0.817399859f,
            0.175290391f, 0.000260884932f, 0.175290391f, 0.000213552717f, 0.785597026f, 0.00116920518f, 0.785597026f});
    rig_free(&r);
    zf_onnx_free(&om);
    // LogSoftmax opset 13 default axis -1, numpy: log(softmax(x, axis=-1))
    RUN_OK(&r, &zf_op_logsoftmax, NULL, 13, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), x)}), 1);
    CHECK_F("LogSoftmax opset 13", &r.v[1].t, 3, D(2, 3, 4), {-6.39210463f, -1.14210474f, -5.64210463f, -0.392104805f,
            -1.1479187f, -5.6479187f, -0.397918761f, -4.8979187f, -1.1479187f, -5.6479187f, -0.397918761f, -4.8979187f,
            -1.1479187f, -5.6479187f, -0.397918761f, -4.8979187f, -0.0341599993f, -4.53416014f, -9.03415966f,
            -3.7841599f, -6.39210463f, -1.14210474f, -5.64210463f, -0.392104805f});
    rig_free(&r);
    // Large values must not overflow: softmax([10000, 10001, 10002])
    RUN_OK(&r, &zf_op_softmax, NULL, 13, 1, ((zf_tensor[]){TF(1, D(3), ((float[]){10000, 10001, 10002}))}), 1);
    CHECK_F("Softmax large", &r.v[1].t, 1, D(3), {0.0900305732f, 0.244728471f, 0.665240956f});
    rig_free(&r);
}

// --- activations --------------------------------------------------------------------------------

static void test_activation(void) {
    rig r;
    const float x[6] = {-100, -2, -0.5f, 0, 1.5f, 100};
    RUN_OK(&r, &zf_op_relu, NULL, 14, 1, ((zf_tensor[]){TF(1, D(6), x)}), 1);
    CHECK_F("Relu", &r.v[1].t, 1, D(6), {0, 0, 0, 0, 1.5f, 100});
    rig_free(&r);
    // numpy: 1/(1+exp(-x)) in float64
    RUN_OK(&r, &zf_op_sigmoid, NULL, 13, 1, ((zf_tensor[]){TF(1, D(6), x)}), 1);
    CHECK_F("Sigmoid", &r.v[1].t, 1, D(6), {3.72007598e-44f, 0.119202922f, 0.377540669f, 0.5f, 0.817574476f, 1.0f});
    rig_free(&r);
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "LeakyRelu");
    zf_onnx_set_float(on, "alpha", 0.1f);
    RUN_OK(&r, &zf_op_leakyrelu, on, 16, 1, ((zf_tensor[]){TF(1, D(6), x)}), 1);
    CHECK_F("LeakyRelu", &r.v[1].t, 1, D(6), {-10, -0.2f, -0.05f, 0, 1.5f, 100});
    rig_free(&r);
    zf_onnx_free(&om);
    // Clip opset 13 with min input only; opset 6 with attributes
    RUN_OK(&r, &zf_op_clip, NULL, 13, 3, ((zf_tensor[]){TF(1, D(6), x), TF(0, D(0), ((float[]){-1})), OMITTED}), 1);
    CHECK_F("Clip min input", &r.v[3].t, 1, D(6), {-1, -1, -0.5f, 0, 1.5f, 100});
    rig_free(&r);
    on = mknode(&om, "Clip");
    zf_onnx_set_float(on, "min", -1);
    zf_onnx_set_float(on, "max", 1);
    RUN_OK(&r, &zf_op_clip, on, 6, 1, ((zf_tensor[]){TF(1, D(6), x)}), 1);
    CHECK_F("Clip attributes", &r.v[1].t, 1, D(6), {-1, -1, -0.5f, 0, 1, 1});
    rig_free(&r);
    zf_onnx_free(&om);
    RUN_OK(&r, &zf_op_clip, NULL, 13, 3, ((zf_tensor[]){TI(1, D(4), D(-5, 0, 3, 9)), TI(0, D(0), D(0)), TI(0, D(0),
            D(4))}), 1);
    CHECK_I("Clip int64", &r.v[3].t, 1, D(4), D(0, 0, 3, 4));
    rig_free(&r);
    // Dropout (inference): identity and an all-true mask
    RUN_OK(&r, &zf_op_dropout, NULL, 13, 1, ((zf_tensor[]){TF(2, D(2, 3), x)}), 2);
    check_t("Dropout output", &r.v[1].t, ZF_F32, 2, (const int64_t[]){2, 3}, x);
    CHECK_I("Dropout mask", &r.v[2].t, 2, D(2, 3), D(1, 1, 1, 1, 1, 1));
    rig_free(&r);
    RUN_OK(&r, &zf_op_identity, NULL, 13, 1, ((zf_tensor[]){TI(1, D(2), D(7, -7))}), 1);
    CHECK_I("Identity int64", &r.v[1].t, 1, D(2), D(7, -7));
    rig_free(&r);
    expect_error("Sigmoid int64", &zf_op_sigmoid, NULL, 13, 1, (zf_tensor[]){TI(1, D(2), D(7, -7))}, "float");
}

// --- shape ops ----------------------------------------------------------------------------------

static void test_reshape(void) {
    zf_error err = {0};
    int nd;
    int64_t d[ZF_MAX_DIMS];
    const int64_t in[4] = {2, 3, 4, 5};
    // (2,3,4,5) with shape (0,-1): 0 copies 2, -1 -> 60
    CHECK(!zf_reshape_dims(&nd, d, 4, in, 2, (int64_t[]){0, -1}, 0, &err) && nd == 2 && d[0] == 2 && d[1] == 60,
          "reshape (0,-1): %s", err.msg);
    CHECK(!zf_reshape_dims(&nd, d, 4, in, 4, (int64_t[]){0, 0, -1, 5}, 0, &err) && nd == 4 && d[2] == 4,
          "reshape (0,0,-1,5): %s", err.msg);
    CHECK(!zf_reshape_dims(&nd, d, 4, in, 1, (int64_t[]){-1}, 0, &err) && nd == 1 && d[0] == 120,
          "reshape (-1): %s", err.msg);
    CHECK(zf_reshape_dims(&nd, d, 4, in, 2, (int64_t[]){-1, -1}, 0, &err) && strstr(err.msg, "more than one -1"),
          "two -1 accepted (%s)", err.msg);
    CHECK(zf_reshape_dims(&nd, d, 4, in, 2, (int64_t[]){7, -1}, 0, &err) && strstr(err.msg, "cannot be inferred"),
          "120/7 accepted (%s)", err.msg);
    CHECK(zf_reshape_dims(&nd, d, 4, in, 2, (int64_t[]){10, 10}, 0, &err) && strstr(err.msg, "cannot reshape"),
          "wrong count accepted (%s)", err.msg);
    CHECK(zf_reshape_dims(&nd, d, 2, (int64_t[]){2, 3}, 3, (int64_t[]){0, 0, 0}, 0, &err) && strstr(err.msg, "rank 2"),
          "0 beyond input rank accepted (%s)", err.msg);
    // allowzero: a 0 is a real zero-size dim (input (0,3) -> (3,0))
    CHECK(!zf_reshape_dims(&nd, d, 2, (int64_t[]){0, 3}, 2, (int64_t[]){3, 0}, 1, &err) && d[0] == 3 && d[1] == 0,
          "allowzero: %s", err.msg);

    rig r;
    float x[24];
    fill(x, 24, 1);
    RUN_OK(&r, &zf_op_reshape, NULL, 14, 2, ((zf_tensor[]){TF(3, D(2, 3, 4), x), TI(2 - 1, D(3), D(0, -1, 2))}), 1);
    check_t("Reshape (0,-1,2)", &r.v[2].t, ZF_F32, 3, (const int64_t[]){2, 6, 2}, x);
    rig_free(&r);
    zf_tensor shape_not_const = {.dtype = ZF_I64, .ndim = 1, .dims = {2}};
    expect_error("Reshape non-constant shape", &zf_op_reshape, NULL, 14, 2,
                 (zf_tensor[]){TF(3, D(2, 3, 4), x), shape_not_const}, "shape input is not constant");
    // Opset < 5: shape attribute
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Reshape");
    zf_onnx_set_ints(on, "shape", 2, (int64_t[]){4, -1});
    RUN_OK(&r, &zf_op_reshape, on, 4, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), x)}), 1);
    check_t("Reshape attribute", &r.v[1].t, ZF_F32, 2, (const int64_t[]){4, 6}, x);
    rig_free(&r);
    zf_onnx_free(&om);
}

static void test_shape_misc(void) {
    rig r;
    float x[120];
    fill(x, 120, 2);
    zf_onnx_model om = {0};
    // Flatten
    zf_onnx_node *on = mknode(&om, "Flatten");
    zf_onnx_set_int(on, "axis", -1);
    RUN_OK(&r, &zf_op_flatten, on, 13, 1, ((zf_tensor[]){TF(4, D(2, 3, 4, 5), x)}), 1);
    check_t("Flatten axis -1", &r.v[1].t, ZF_F32, 2, (const int64_t[]){24, 5}, x);
    rig_free(&r);
    zf_onnx_free(&om);
    on = mknode(&om, "Flatten");
    zf_onnx_set_int(on, "axis", 4);
    RUN_OK(&r, &zf_op_flatten, on, 13, 1, ((zf_tensor[]){TF(4, D(2, 3, 4, 5), x)}), 1);
    check_t("Flatten axis 4", &r.v[1].t, ZF_F32, 2, (const int64_t[]){120, 1}, x);
    rig_free(&r);
    zf_onnx_free(&om);
    // Squeeze: all ones, then axes as input (opset 13) and as attribute (opset 11)
    RUN_OK(&r, &zf_op_squeeze, NULL, 13, 1, ((zf_tensor[]){TF(4, D(1, 3, 1, 2), x)}), 1);
    check_t("Squeeze all", &r.v[1].t, ZF_F32, 2, (const int64_t[]){3, 2}, x);
    rig_free(&r);
    RUN_OK(&r, &zf_op_squeeze, NULL, 13, 2, ((zf_tensor[]){TF(4, D(1, 3, 1, 2), x), TI(1, D(1), D(-2))}), 1);
    check_t("Squeeze axes input", &r.v[2].t, ZF_F32, 3, (const int64_t[]){1, 3, 2}, x);
    rig_free(&r);
    expect_error("Squeeze non-1 axis", &zf_op_squeeze, NULL, 13, 2,
                 (zf_tensor[]){TF(4, D(1, 3, 1, 2), x), TI(1, D(1), D(1))}, "cannot squeeze axis 1");
    on = mknode(&om, "Unsqueeze");
    zf_onnx_set_ints(on, "axes", 2, (int64_t[]){0, -1});
    RUN_OK(&r, &zf_op_unsqueeze, on, 11, 1, ((zf_tensor[]){TF(2, D(3, 2), x)}), 1);
    check_t("Unsqueeze attribute", &r.v[1].t, ZF_F32, 4, (const int64_t[]){1, 3, 2, 1}, x);
    rig_free(&r);
    zf_onnx_free(&om);
    RUN_OK(&r, &zf_op_unsqueeze, NULL, 13, 2, ((zf_tensor[]){TF(2, D(3, 2), x), TI(1, D(2), D(1, 3))}), 1);
    check_t("Unsqueeze input", &r.v[2].t, ZF_F32, 4, (const int64_t[]){3, 1, 2, 1}, x);
    rig_free(&r);
    // Transpose: explicit perm and the reversed default
    float a[24];
    for (int i = 0; i < 24; i++) a[i] = (float)i;
    on = mknode(&om, "Transpose");
    zf_onnx_set_ints(on, "perm", 3, (int64_t[]){1, 0, 2});
    RUN_OK(&r, &zf_op_transpose, on, 13, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), a)}), 1);
    CHECK_F("Transpose (1,0,2)", &r.v[1].t, 3, D(3, 2, 4), {0.0f, 1.0f, 2.0f, 3.0f, 12.0f, 13.0f, 14.0f, 15.0f, 4.0f,
            5.0f, 6.0f, 7.0f, 16.0f, 17.0f, 18.0f, 19.0f, 8.0f, 9.0f, 10.0f, 11.0f, 20.0f, 21.0f, 22.0f,
            23.0f});   // x.transpose(1,0,2)
    rig_free(&r);
    zf_onnx_free(&om);
    RUN_OK(&r, &zf_op_transpose, NULL, 13, 1, ((zf_tensor[]){TF(3, D(2, 3, 4), a)}), 1);
    CHECK_F("Transpose default", &r.v[1].t, 3, D(4, 3, 2), {0.0f, 12.0f, 4.0f, 16.0f, 8.0f, 20.0f, 1.0f, 13.0f, 5.0f,
            17.0f, 9.0f, 21.0f, 2.0f, 14.0f, 6.0f, 18.0f, 10.0f, 22.0f, 3.0f, 15.0f, 7.0f, 19.0f, 11.0f,
            23.0f});   // x.transpose()
    rig_free(&r);
    // Shape with start/end (opset 15)
    on = mknode(&om, "Shape");
    zf_onnx_set_int(on, "start", 1);
    zf_onnx_set_int(on, "end", -1);
    RUN_OK(&r, &zf_op_shape, on, 15, 1, ((zf_tensor[]){TF(4, D(2, 3, 4, 5), NULL)}), 1);
    CHECK_I("Shape start 1 end -1", &r.v[1].t, 1, D(2), D(3, 4));
    rig_free(&r);
    zf_onnx_free(&om);
    on = mknode(&om, "Shape");
    zf_onnx_set_int(on, "start", -10);
    RUN_OK(&r, &zf_op_shape, on, 15, 1, ((zf_tensor[]){TF(4, D(2, 3, 4, 5), NULL)}), 1);
    CHECK_I("Shape start clamped", &r.v[1].t, 1, D(4), D(2, 3, 4, 5));
    rig_free(&r);
    zf_onnx_free(&om);
    // Constant: value_ints, value_float, value tensor
    on = mknode(&om, "Constant");
    zf_onnx_set_ints(on, "value_ints", 2, (int64_t[]){3, -1});
    RUN_OK(&r, &zf_op_constant, on, 13, 0, NULL, 1);
    CHECK_I("Constant value_ints", &r.v[0].t, 1, D(2), D(3, -1));
    rig_free(&r);
    zf_onnx_free(&om);
    on = mknode(&om, "Constant");
    zf_onnx_set_float(on, "value_float", 2.5f);
    RUN_OK(&r, &zf_op_constant, on, 13, 0, NULL, 1);
    CHECK_F("Constant value_float", &r.v[0].t, 0, D(0), {2.5f});
    rig_free(&r);
    zf_onnx_free(&om);
    on = mknode(&om, "Constant");
    zf_tensor ct = TF(2, D(2, 2), ((float[]){1, 2, 3, 4}));
    zf_onnx_set_tensor(on, "value", &ct);
    RUN_OK(&r, &zf_op_constant, on, 13, 0, NULL, 1);
    CHECK_F("Constant value", &r.v[0].t, 2, D(2, 2), {1, 2, 3, 4});
    rig_free(&r);
    zf_onnx_free(&om);
    // ConstantOfShape with an int64 value
    on = mknode(&om, "ConstantOfShape");
    zf_tensor cv = TI(1, D(1), D(7));
    zf_onnx_set_tensor(on, "value", &cv);
    RUN_OK(&r, &zf_op_constant_of_shape, on, 13, 1, ((zf_tensor[]){TI(1, D(2), D(2, 3))}), 1);
    CHECK_I("ConstantOfShape", &r.v[1].t, 2, D(2, 3), D(7, 7, 7, 7, 7, 7));
    rig_free(&r);
    zf_onnx_free(&om);
    RUN_OK(&r, &zf_op_constant_of_shape, NULL, 13, 1, ((zf_tensor[]){TI(1, D(0), D(0))}), 1);
    CHECK_F("ConstantOfShape scalar default", &r.v[1].t, 0, D(0), {0});
    rig_free(&r);
    // Cast: float -> INT8 (truncate, wrap), BOOL, INT64; int64 -> FLOAT
    const float cf[5] = {-1.7f, 0, 0.5f, 300.9f, -0.0f};
    const int64_t to[3] = {ZF_ONNX_INT8, ZF_ONNX_BOOL, ZF_ONNX_INT64};
    const int64_t want[3][5] = {{-1, 0, 0, 44, 0}, {1, 0, 1, 1, 0}, {-1, 0, 0, 300, 0}};
    for (int k = 0; k < 3; k++) {
        on = mknode(&om, "Cast");
        zf_onnx_set_int(on, "to", to[k]);
        RUN_OK(&r, &zf_op_cast, on, 13, 1, ((zf_tensor[]){TF(1, D(5), cf)}), 1);
        check_t("Cast float->int", &r.v[1].t, ZF_I64, 1, (const int64_t[]){5}, want[k]);
        rig_free(&r);
        zf_onnx_free(&om);
    }
    on = mknode(&om, "Cast");
    zf_onnx_set_int(on, "to", ZF_ONNX_FLOAT);
    RUN_OK(&r, &zf_op_cast, on, 13, 1, ((zf_tensor[]){TI(1, D(2), D(-3, 1000000))}), 1);
    CHECK_F("Cast int64->float", &r.v[1].t, 1, D(2), {-3, 1e6f});
    rig_free(&r);
    zf_onnx_free(&om);
    on = mknode(&om, "Cast");
    zf_onnx_set_int(on, "to", ZF_ONNX_STRING);
    expect_error("Cast to string", &zf_op_cast, on, 13, 1, (zf_tensor[]){TF(1, D(5), cf)}, "not supported");
    zf_onnx_free(&om);
    // Concat along a middle axis, negative axis
    on = mknode(&om, "Concat");
    zf_onnx_set_int(on, "axis", -2);
    RUN_OK(&r, &zf_op_concat, on, 13, 2,
           ((zf_tensor[]){TF(3, D(1, 1, 2), ((float[]){1, 2})), TF(3, D(1, 2, 2), ((float[]){3, 4, 5, 6}))}), 1);
    CHECK_F("Concat axis -2", &r.v[2].t, 3, D(1, 3, 2), {1, 2, 3, 4, 5, 6});
    rig_free(&r);
    expect_error("Concat mismatch", &zf_op_concat, on, 13, 2,
                 (zf_tensor[]){TF(2, D(1, 2), a), TF(2, D(2, 3), a)}, "does not match");
    zf_onnx_free(&om);
}

// --- Slice, Pad, Gather -------------------------------------------------------------------------

static void test_slice(void) {
    int64_t s, len;
    // zf_slice_axis on an axis of 5 (numpy range semantics)
    zf_slice_axis(&s, &len, -1, INT64_MIN, -1, 5);
    CHECK(s == 4 && len == 5, "[-1:INT64_MIN:-1] -> start %lld len %lld", (long long)s, (long long)len);
    zf_slice_axis(&s, &len, 1, INT64_MAX, 1, 5);
    CHECK(s == 1 && len == 4, "[1:INT64_MAX] -> start %lld len %lld", (long long)s, (long long)len);
    zf_slice_axis(&s, &len, 10, 20, 1, 5);
    CHECK(len == 0, "[10:20] -> len %lld", (long long)len);
    zf_slice_axis(&s, &len, 2, 0, 1, 5);
    CHECK(len == 0, "[2:0] -> len %lld", (long long)len);
    zf_slice_axis(&s, &len, 100, -100, -2, 5);
    CHECK(s == 4 && len == 3, "[100:-100:-2] -> start %lld len %lld", (long long)s, (long long)len);
    zf_slice_axis(&s, &len, 0, 5, INT64_MAX, 5);
    CHECK(s == 0 && len == 1, "[0:5:INT64_MAX] -> len %lld", (long long)len);
    zf_slice_axis(&s, &len, 4, -6, INT64_MIN, 5);
    CHECK(s == 4 && len == 1, "[4:-6:INT64_MIN] -> len %lld", (long long)len);

    rig r;
    float x[15];
    for (int i = 0; i < 15; i++) x[i] = (float)i;
    zf_tensor X = TF(2, D(3, 5), x);
    // x[0:2, 1:4]
    RUN_OK(&r, &zf_op_slice, NULL, 13, 4, ((zf_tensor[]){X, TI(1, D(2), D(0, 1)), TI(1, D(2), D(2, 4)),
                                                         TI(1, D(2), D(0, 1))}), 1);
    CHECK_F("Slice x[0:2,1:4]", &r.v[4].t, 2, D(2, 3), {1, 2, 3, 6, 7, 8});
    rig_free(&r);
    // x[:, ::-1] as starts -1, ends INT64_MIN, step -1
    RUN_OK(&r, &zf_op_slice, NULL, 13, 5, ((zf_tensor[]){X, TI(1, D(1), D(-1)), TI(1, D(1), D(INT64_MIN)),
                                                         TI(1, D(1), D(1)), TI(1, D(1), D(-1))}), 1);
    CHECK_F("Slice x[:, ::-1]", &r.v[5].t, 2, D(3, 5), {4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 14, 13, 12, 11, 10});
    rig_free(&r);
    // x[:, 4:-1000:-2]
    RUN_OK(&r, &zf_op_slice, NULL, 13, 5, ((zf_tensor[]){X, TI(1, D(1), D(4)), TI(1, D(1), D(-1000)),
                                                         TI(1, D(1), D(-1)), TI(1, D(1), D(-2))}), 1);
    CHECK_F("Slice x[:, 4:-1000:-2]", &r.v[5].t, 2, D(3, 3), {4, 2, 0, 9, 7, 5, 14, 12, 10});
    rig_free(&r);
    // x[:, ::3] as starts -100, ends 100 (clamped), axes -1, steps 3
    RUN_OK(&r, &zf_op_slice, NULL, 13, 5, ((zf_tensor[]){X, TI(1, D(1), D(-100)), TI(1, D(1), D(100)),
                                                         TI(1, D(1), D(-1)), TI(1, D(1), D(3))}), 1);
    CHECK_F("Slice x[:, ::3]", &r.v[5].t, 2, D(3, 2), {0, 3, 5, 8, 10, 13});
    rig_free(&r);
    // x[-2::-1, :] with the steps input but no axes input
    RUN_OK(&r, &zf_op_slice, NULL, 13, 5, ((zf_tensor[]){X, TI(1, D(1), D(-2)), TI(1, D(1), D(-1000)), OMITTED,
                                                         TI(1, D(1), D(-1))}), 1);
    CHECK_F("Slice x[-2::-1]", &r.v[5].t, 2, D(2, 5), {5, 6, 7, 8, 9, 0, 1, 2, 3, 4});
    rig_free(&r);
    // Empty result x[:, 10:20]
    RUN_OK(&r, &zf_op_slice, NULL, 13, 4, ((zf_tensor[]){X, TI(1, D(1), D(10)), TI(1, D(1), D(20)),
                                                         TI(1, D(1), D(1))}), 1);
    CHECK(same_dims(&r.v[4].t, 2, (int64_t[]){3, 0}), "Slice x[:, 10:20] is not (3,0)");
    rig_free(&r);
    // Opset 1 attributes: x[1:, 1:3]
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Slice");
    zf_onnx_set_ints(on, "starts", 2, (int64_t[]){1, 1});
    zf_onnx_set_ints(on, "ends", 2, (int64_t[]){INT64_MAX, 3});
    RUN_OK(&r, &zf_op_slice, on, 1, 1, ((zf_tensor[]){X}), 1);
    CHECK_F("Slice attributes", &r.v[1].t, 2, D(2, 2), {6, 7, 11, 12});
    rig_free(&r);
    zf_onnx_free(&om);
    expect_error("Slice step 0", &zf_op_slice, NULL, 13, 5,
                 (zf_tensor[]){X, TI(1, D(1), D(0)), TI(1, D(1), D(2)), TI(1, D(1), D(0)), TI(1, D(1), D(0))},
                 "steps[0] is 0");
}

static void test_pad(void) {
    rig r;
    float x[6] = {0, 1, 2, 3, 4, 5};
    zf_tensor X = TF(2, D(2, 3), x);
    zf_tensor cval = TF(0, D(0), ((float[]){9}));
    // pads (begin0, begin1, end0, end1) = (0, 1, 1, -1): numpy np.pad(x, ((0,1),(1,0)), constant 9)[:, :-1]
    RUN_OK(&r, &zf_op_pad, NULL, 13, 3, ((zf_tensor[]){X, TI(1, D(4), D(0, 1, 1, -1)), cval}), 1);
    CHECK_F("Pad constant with a crop", &r.v[3].t, 2, D(3, 3), {9.0f, 0.0f, 1.0f, 9.0f, 3.0f, 4.0f, 9.0f, 9.0f, 9.0f});
    rig_free(&r);
    // Crop only: x[1:, :-1]
    RUN_OK(&r, &zf_op_pad, NULL, 13, 2, ((zf_tensor[]){X, TI(1, D(4), D(-1, 0, 0, -1))}), 1);
    CHECK_F("Pad negative only", &r.v[2].t, 2, D(1, 2), {3.0f, 4.0f});
    rig_free(&r);
    expect_error("Pad crops too much", &zf_op_pad, NULL, 13, 2, (zf_tensor[]){X, TI(1, D(4), D(0, -2, 0, -2))},
                 "crop more");
    const char *modes[3] = {"reflect", "edge", "wrap"};
    const int64_t pads[3][4] = {{1, 2, 1, 2}, {0, 2, 1, 0}, {0, 1, 0, 4}};
    const int64_t dims[3][2] = {{4, 7}, {3, 5}, {2, 8}};
    const float *want[3] = {(const float[]){5.0f, 4.0f, 3.0f, 4.0f, 5.0f, 4.0f, 3.0f, 2.0f, 1.0f, 0.0f, 1.0f, 2.0f,
            1.0f, 0.0f, 5.0f, 4.0f, 3.0f, 4.0f, 5.0f, 4.0f, 3.0f, 2.0f, 1.0f, 0.0f, 1.0f, 2.0f, 1.0f, 0.0f},
            (const float[]){0.0f, 0.0f, 0.0f, 1.0f, 2.0f, 3.0f, 3.0f, 3.0f, 4.0f, 5.0f, 3.0f, 3.0f, 3.0f, 4.0f, 5.0f},
            (const float[]){2, 0, 1, 2, 0, 1, 2, 0, 5, 3, 4, 5, 3, 4, 5, 3}};
    for (int k = 0; k < 3; k++) {
        zf_onnx_model om = {0};
        zf_onnx_node *on = mknode(&om, "Pad");
        zf_onnx_set_string(on, "mode", modes[k]);
        RUN_OK(&r, &zf_op_pad, on, 19, 2, ((zf_tensor[]){X, view(ZF_I64, 1, (const int64_t[]){4}, pads[k])}), 1);
        char what[64];
        // numpy np.pad(x, pads, mode) for reflect and edge. Wrap is periodic (the data "forms a torus",
        // ONNX spec), hand-computed: numpy 1.24 gets pads wider than the axis wrong.
        snprintf(what, sizeof what, "Pad %s", modes[k]);
        check_t(what, &r.v[2].t, ZF_F32, 2, dims[k], want[k]);
        rig_free(&r);
        zf_onnx_free(&om);
    }
    // Opset 2 attributes, with axes beyond: pads (1,0,0,0) value 7
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Pad");
    zf_onnx_set_ints(on, "pads", 4, (int64_t[]){1, 0, 0, 0});
    zf_onnx_set_float(on, "value", 7);
    RUN_OK(&r, &zf_op_pad, on, 2, 1, ((zf_tensor[]){X}), 1);
    CHECK_F("Pad attributes", &r.v[1].t, 2, D(3, 3), {7, 7, 7, 0, 1, 2, 3, 4, 5});
    rig_free(&r);
    zf_onnx_free(&om);
    // Opset 18 axes input: pad only axis -1 by (2, 0)
    RUN_OK(&r, &zf_op_pad, NULL, 18, 4, ((zf_tensor[]){X, TI(1, D(2), D(2, 0)), OMITTED, TI(1, D(1), D(-1))}), 1);
    CHECK_F("Pad axes input", &r.v[4].t, 2, D(2, 5), {0, 0, 0, 1, 2, 0, 0, 3, 4, 5});
    rig_free(&r);
}

static void test_gather(void) {
    rig r;
    float d[12];
    for (int i = 0; i < 12; i++) d[i] = (float)i;
    zf_tensor Dt = TF(2, D(3, 4), d);
    // np.take(d, [[-1,0],[1,-3]], axis=0)
    RUN_OK(&r, &zf_op_gather, NULL, 13, 2, ((zf_tensor[]){Dt, TI(2, D(2, 2), D(-1, 0, 1, -3))}), 1);
    CHECK_F("Gather axis 0 negative", &r.v[2].t, 3, D(2, 2, 4), {8.0f, 9.0f, 10.0f, 11.0f, 0.0f, 1.0f, 2.0f, 3.0f, 4.0f,
            5.0f, 6.0f, 7.0f, 0.0f, 1.0f, 2.0f, 3.0f});
    rig_free(&r);
    zf_onnx_model om = {0};
    zf_onnx_node *on = mknode(&om, "Gather");
    zf_onnx_set_int(on, "axis", 1);
    // np.take(d, [-1,2], axis=1)
    RUN_OK(&r, &zf_op_gather, on, 13, 2, ((zf_tensor[]){Dt, TI(1, D(2), D(-1, 2))}), 1);
    CHECK_F("Gather axis 1", &r.v[2].t, 2, D(3, 2), {3.0f, 2.0f, 7.0f, 6.0f, 11.0f, 10.0f});
    rig_free(&r);
    zf_onnx_free(&om);
    // Scalar index of a shape vector (the Shape -> Gather idiom): rank drops to 0
    RUN_OK(&r, &zf_op_gather, NULL, 13, 2, ((zf_tensor[]){TI(1, D(4), D(1, 3, 224, 224)), TI(0, D(0), D(-3))}), 1);
    CHECK_I("Gather scalar index", &r.v[2].t, 0, D(0), D(3));
    rig_free(&r);
    expect_error("Gather index 3 of 3", &zf_op_gather, NULL, 13, 2, (zf_tensor[]){Dt, TI(1, D(2), D(0, 3))},
                 "index 3 is out of range");
    expect_error("Gather index -4 of 3", &zf_op_gather, NULL, 13, 2, (zf_tensor[]){Dt, TI(1, D(1), D(-4))},
                 "index -4 is out of range");
    expect_error("Gather float indices", &zf_op_gather, NULL, 13, 2, (zf_tensor[]){Dt, TF(1, D(1), d)}, "integers");
}

// --- through the graph: a PyTorch-style flatten (Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape) is folded at load time, and receptive fields follow the layout rules.
static void test_graph(void) {
    zf_onnx_model om = {0};
    om.opset = 13;
    zf_onnx_graph *g = &om.graph;
    zf_onnx_add_input(g, "x", 1, 4, (int64_t[]){1, 2, 3, 3});
    zf_tensor t0 = {0}, t1 = {0}, t2 = {0};
    zf_error err = {0};
    zf_tensor_alloc(&t0, ZF_I64, 0, NULL, &err);
    zf_tensor_alloc(&t1, ZF_I64, 1, (int64_t[]){1}, &err);
    zf_tensor_alloc(&t2, ZF_I64, 1, (int64_t[]){1}, &err);
    zf_i64(&t2)[0] = -1;
    zf_onnx_add_initializer(g, "zero", &t0);
    zf_onnx_add_initializer(g, "axes0", &t1);
    zf_onnx_add_initializer(g, "minus1", &t2);
#define NODE(type, name, ni, ins, no, outs) \
    zf_onnx_add_node(g, type, name, ni, (const char *const[])ins, no, (const char *const[])outs)
    NODE("Relu", "relu", 1, {"x"}, 1, {"r"});
    NODE("Shape", "shape", 1, {"r"}, 1, {"s"});
    NODE("Gather", "gather", 2, D("s", "zero"), 1, {"n0"});
    NODE("Unsqueeze", "unsq", 2, D("n0", "axes0"), 1, {"n0u"});
    zf_onnx_set_int(NODE("Concat", "cat", 2, D("n0u", "minus1"), 1, {"shp"}), "axis", 0);
    NODE("Reshape", "reshape", 2, D("r", "shp"), 1, {"y"});
    zf_onnx_set_int(NODE("Softmax", "softmax", 1, {"y"}, 1, {"z"}), "axis", 1);
#undef NODE
    zf_onnx_add_output(g, "z", 1, 2, (int64_t[]){1, 18});
    zf_model m = {0};
    zf_load_opts o = zf_load_defaults();
    o.threads = 1;
    if (zf_model_from_onnx(&m, &om, "graph-test", &o, &err)) {
        CHECK(0, "load: %s", err.msg);
        zf_onnx_free(&om);
        return;
    }
    CHECK(m.n_nodes == 3, "expected 3 nodes after folding the shape chain, got %d", m.n_nodes);
    float x[18];
    fill(x, 18, 8);
    zf_tensor in = TF(4, D(1, 2, 3, 3), x);
    if (zf_model_forward(&m, 1, &in, &err)) {
        CHECK(0, "forward: %s", err.msg);
    } else {
        int z = zf_model_find(&m, "z");
        CHECK(z >= 0, "z not found");
        // numpy: softmax(maximum(fill((1,2,3,3),8), 0).reshape(1,18), axis=1)
        if (z >= 0) CHECK_F("graph output", &m.values[z].t, 2, D(1, 18), {0.0528029054f, 0.0320265815f, 0.0678002685f,
                0.0320265815f, 0.0870572701f, 0.0320265815f, 0.11178375f, 0.0320265815f, 0.14353317f, 0.0320265815f,
                0.0320265815f, 0.0411229432f, 0.0320265815f, 0.0528029054f, 0.0320265815f, 0.0678002685f, 0.0320265815f,
                0.0870572701f});
        int r = zf_model_find(&m, "r"), y = zf_model_find(&m, "y"), s = zf_model_find(&m, "shp");
        if (r >= 0 && y >= 0) {
            CHECK(m.values[r].rf.valid && !m.values[r].rf.global, "Relu output should keep a local rf");
            CHECK(m.values[y].rf.valid && m.values[y].rf.global, "Reshape to (1,18) should make the rf global");
        }
        if (s >= 0) CHECK(!m.values[s].rf.valid, "the folded shape should carry no rf");
    }
    zf_model_free(&m);
    zf_onnx_free(&om);
}

// Receptive-field rules of the layout ops, on hand-made values.
static void test_rf(void) {
    zf_value v[3] = {0};
    zf_rf base = {.size = {11, 11}, .jump = {4, 4}, .offset = {-2, -2}, .valid = 1};
    v[0].t = (zf_tensor){.dtype = ZF_F32, .ndim = 4, .dims = {1, 8, 6, 6}};
    v[0].rf = base;
    int in[2] = {0, 1}, out[1] = {2};
    zf_slice_params sp = {.start = {0, 0, 1, 0}, .step = {1, 1, 2, 1}};
    zf_node n = {.op = &zf_op_slice, .n_in = 1, .in = in, .n_out = 1, .out = out, .params = &sp};
    v[2].t = (zf_tensor){.dtype = ZF_F32, .ndim = 4, .dims = {1, 8, 3, 6}};
    zf_op_slice.rf(&n, v);
    CHECK(v[2].rf.valid && !v[2].rf.global && v[2].rf.offset[0] == 2 && v[2].rf.jump[0] == 8 &&
          v[2].rf.offset[1] == -2 && v[2].rf.jump[1] == 4, "Slice rf: offset %lld jump %lld",
          (long long)v[2].rf.offset[0], (long long)v[2].rf.jump[0]);
    zf_pad_params pp = {.begin = {0, 0, 2, -1}};
    n.op = &zf_op_pad;
    n.params = &pp;
    zf_op_pad.rf(&n, v);
    CHECK(v[2].rf.offset[0] == -10 && v[2].rf.offset[1] == 2, "Pad rf offsets %lld %lld",
          (long long)v[2].rf.offset[0], (long long)v[2].rf.offset[1]);
    // Reshape (1,8,6,6) -> (1,2,4,6,6) keeps the layout; -> (1,8,36) does not.
    n.op = &zf_op_reshape;
    v[2].t = (zf_tensor){.dtype = ZF_F32, .ndim = 5, .dims = {1, 2, 4, 6, 6}};
    zf_op_reshape.rf(&n, v);
    CHECK(v[2].rf.valid && !v[2].rf.global && v[2].rf.size[0] == 11, "Reshape keeping (H,W) lost the rf");
    v[2].t = (zf_tensor){.dtype = ZF_F32, .ndim = 3, .dims = {1, 8, 36}};
    zf_op_reshape.rf(&n, v);
    CHECK(v[2].rf.valid && v[2].rf.global, "Reshape to (1,8,36) should be global");
    // Channel Concat: union of the inputs' boxes
    zf_concat_params cp = {.axis = 1};
    v[1].t = v[0].t;
    v[1].rf = (zf_rf){.size = {3, 3}, .jump = {8, 8}, .offset = {-6, 0}, .valid = 1};
    n = (zf_node){.op = &zf_op_concat, .n_in = 2, .in = in, .n_out = 1, .out = out, .params = &cp};
    v[2].t = (zf_tensor){.dtype = ZF_F32, .ndim = 4, .dims = {1, 16, 6, 6}};
    zf_op_concat.rf(&n, v);
    CHECK(v[2].rf.valid && !v[2].rf.global && v[2].rf.offset[0] == -6 && v[2].rf.size[0] == 15 &&
          v[2].rf.jump[0] == 8, "Concat rf offset %lld size %lld", (long long)v[2].rf.offset[0],
          (long long)v[2].rf.size[0]);
}

int main(void) {
    test_binary();
    test_parallel();
    test_softmax();
    test_activation();
    test_reshape();
    test_shape_misc();
    test_slice();
    test_pad();
    test_gather();
    test_rf();
    test_graph();
    if (failures) {
        printf("test_ops_shape: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_ops_shape: all passed\n");
    return 0;
}
