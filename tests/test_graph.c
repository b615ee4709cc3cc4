// test_graph: the planner. PyTorch's LRN decomposition folded and fused (against PyTorch's output),
// receptive-field arithmetic on a small chain, and hostile graphs (cycle, missing initializer,
// duplicate names, unsupported op, non-constant If, absurd shapes) each rejected with a one-line
// message and ZF_ERR_INPUT.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "core/ops/op.h"
#include "core/onnx/onnx.h"

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static double max_rel_err(const zf_tensor *a, const zf_tensor *b, int64_t *where) {
    int64_t n = zf_tensor_numel(b);
    double m = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(zf_f32(b)[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(zf_f32(a)[i] - zf_f32(b)[i]);
        if (e > m) { m = e; *where = i; }
    }
    return mx > 0 ? m / mx : m;
}

static int count_op(const zf_model *m, const char *type) {
    int c = 0;
    for (int i = 0; i < m->n_nodes; i++) c += !strcmp(m->nodes[i].op->type, type);
    return c;
}

static void test_lrn_fusion(void) {
    const char *dir = "tests/data/lrn-torch";
    zf_tensor x = {0}, y = {0};
    zf_error err = {0};
    char p[256];
    snprintf(p, sizeof p, "%s/input.pb", dir);
    if (zf_tensor_read_pb(&x, NULL, p, &err)) { CHECK(0, "%s", err.msg); return; }
    snprintf(p, sizeof p, "%s/output.pb", dir);
    if (zf_tensor_read_pb(&y, NULL, p, &err)) { CHECK(0, "%s", err.msg); zf_tensor_free(&x); return; }
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    for (int fuse = 1; fuse >= 0; fuse--) {
        zf_model m = {0};
        zf_load_opts o = zf_load_defaults();
        o.fuse = fuse;
        o.threads = 1;
        if (zf_model_load(&m, p, &o, &err) || zf_model_forward(&m, 1, &x, &err)) {
            CHECK(0, "fuse=%d: %s", fuse, err.msg);
            zf_model_free(&m);
            continue;
        }
        int64_t where = 0;
        const zf_tensor *out = &m.values[m.outputs[0]].t;
        CHECK(zf_tensor_same_shape(out, &y), "fuse=%d: output shape differs", fuse);
        double e = zf_tensor_same_shape(out, &y) ? max_rel_err(out, &y, &where) : 1;
        CHECK(e <= 1e-5, "fuse=%d: output differs from PyTorch: max rel error %.3g at %lld", fuse, e, (long long)where);
        if (fuse) {
            // Conv, Relu, LRN, MaxPool and nothing else: the shape subgraph folded, the rest fused.
            CHECK(m.n_nodes == 4 && count_op(&m, "LRN") == 1, "fused graph has %d nodes (LRN %d), expected 4 (1)",
                  m.n_nodes, count_op(&m, "LRN"));
            int logged = 0;
            for (int i = 0; i < m.n_log; i++) logged |= strstr(m.log[i], "fused LRN (size 5") != NULL;
            CHECK(logged, "no 'fused LRN' line in the load log");
        } else {
            CHECK(count_op(&m, "LRN") == 0 && count_op(&m, "Pow") == 1, "unfused graph should keep Pow, not LRN");
        }
        printf("lrn-torch fuse=%d: %d nodes, max rel error %.2g\n", fuse, m.n_nodes, e);
        zf_model_free(&m);
    }
    zf_tensor_free(&x);
    zf_tensor_free(&y);
}

// --- small graphs built in memory ---------------------------------------------------------------

static zf_tensor filled(int ndim, const int64_t *dims, float v) {
    zf_tensor t = {0};
    zf_tensor_alloc(&t, ZF_F32, ndim, dims, NULL);
    for (int64_t i = 0; i < zf_tensor_numel(&t); i++) zf_f32(&t)[i] = v;
    return t;
}

static void add_conv(zf_onnx_graph *g, const char *name, const char *in, const char *out, int cin, int cout, int k,
                     int s, int p) {
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    int64_t wd[4] = {cout, cin, k, k}, bd[1] = {cout};
    zf_tensor w = filled(4, wd, 0.01f), b = filled(1, bd, 0.1f);
    zf_onnx_add_initializer(g, wn, &w);
    zf_onnx_add_initializer(g, bn, &b);
    const char *ins[3] = {in, wn, bn}, *outs[1] = {out};
    zf_onnx_node *n = zf_onnx_add_node(g, "Conv", name, 3, ins, 1, outs);
    int64_t ks[2] = {k, k}, ss[2] = {s, s}, ps[4] = {p, p, p, p};
    zf_onnx_set_ints(n, "kernel_shape", 2, ks);
    zf_onnx_set_ints(n, "strides", 2, ss);
    zf_onnx_set_ints(n, "pads", 4, ps);
}

static void test_rf(void) {
    zf_onnx_model om = {0};
    om.opset = 13;
    zf_onnx_graph *g = &om.graph;
    int64_t in_dims[4] = {1, 1, 32, 32};
    zf_onnx_add_input(g, "x", 1, 4, in_dims);
    add_conv(g, "conv1", "x", "c1", 1, 2, 3, 1, 1);
    const char *pi[1] = {"c1"}, *po[1] = {"p1"};
    zf_onnx_node *pool = zf_onnx_add_node(g, "MaxPool", "pool1", 1, pi, 1, po);
    int64_t k2[2] = {2, 2};
    zf_onnx_set_ints(pool, "kernel_shape", 2, k2);
    zf_onnx_set_ints(pool, "strides", 2, k2);
    add_conv(g, "conv2", "p1", "c2", 2, 2, 3, 2, 1);
    zf_onnx_add_output(g, "c2", 1, -1, NULL);
    zf_model m = {0};
    zf_error err = {0};
    zf_load_opts o = zf_load_defaults();
    o.threads = 1;
    if (zf_model_from_onnx(&m, &om, "rf-test", &o, &err)) {
        CHECK(0, "%s", err.msg);
    } else {
        // conv1: size 3, jump 1, offset -1; pool: size 4, jump 2, offset -1;
        // conv2 (k3 s2 p1 on jump 2): size 4 + 2*2 = 8, jump 4, offset -1 - 2 = -3.
        struct { const char *name; int64_t size, jump, offset; } want[] = {
            {"c1", 3, 1, -1}, {"p1", 4, 2, -1}, {"c2", 8, 4, -3}};
        for (int i = 0; i < 3; i++) {
            int v = zf_model_find(&m, want[i].name);
            CHECK(v >= 0, "tensor %s not found", want[i].name);
            if (v < 0) continue;
            const zf_rf *rf = &m.values[v].rf;
            for (int a = 0; a < 2; a++)
                CHECK(rf->valid && rf->size[a] == want[i].size && rf->jump[a] == want[i].jump &&
                          rf->offset[a] == want[i].offset,
                      "%s axis %d: rf size %lld jump %lld offset %lld, expected %lld %lld %lld", want[i].name, a,
                      (long long)rf->size[a], (long long)rf->jump[a], (long long)rf->offset[a],
                      (long long)want[i].size, (long long)want[i].jump, (long long)want[i].offset);
        }
        CHECK(zf_model_find(&m, "#0") == zf_model_find(&m, "x"), "#0 should name the input");
        CHECK(zf_model_find(&m, "pool1") == zf_model_find(&m, "p1"), "node name should find its output");
        CHECK(zf_model_find(&m, "nope") == -1, "unknown name found");
    }
    zf_model_free(&m);
    zf_onnx_free(&om);
}

// Expects loading to fail with ZF_ERR_INPUT, one line, containing `needle`.
static void expect_reject(zf_onnx_model *om, const char *what, const char *needle) {
    zf_model m = {0};
    zf_error err = {0};
    zf_load_opts o = zf_load_defaults();
    o.threads = 1;
    int rc = zf_model_from_onnx(&m, om, what, &o, &err);
    CHECK(rc == ZF_ERR_INPUT, "%s: expected rejection (code 2), got %d (%s)", what, rc, err.msg);
    CHECK(!strchr(err.msg, '\n'), "%s: message has a newline", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECK(strstr(err.msg, what) == err.msg, "%s: message '%s' does not start with the model's name", what, err.msg);
    if (rc == ZF_ERR_INPUT) printf("rejected %-14s %s\n", what, err.msg);
    zf_model_free(&m);
    zf_onnx_free(om);
    memset(om, 0, sizeof *om);
}

static void relu(zf_onnx_graph *g, const char *name, const char *in, const char *out) {
    const char *i[1] = {in}, *o[1] = {out};
    zf_onnx_add_node(g, "Relu", name, 1, i, 1, o);
}

static void test_hostile(void) {
    int64_t d4[4] = {1, 1, 8, 8};
    zf_onnx_model om = {0};

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    relu(&om.graph, "a", "y2", "y1");
    relu(&om.graph, "b", "y1", "y2");
    zf_onnx_add_output(&om.graph, "y2", 1, -1, NULL);
    expect_reject(&om, "cycle.onnx", "cycle");

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    {
        const char *ins[2] = {"x", "missing.w"}, *outs[1] = {"y"};
        zf_onnx_node *n = zf_onnx_add_node(&om.graph, "Conv", "conv", 2, ins, 1, outs);
        int64_t k[2] = {3, 3};
        zf_onnx_set_ints(n, "kernel_shape", 2, k);
    }
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "noinit.onnx", "missing.w");

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    relu(&om.graph, "a", "x", "y");
    relu(&om.graph, "b", "x", "y");
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "dup.onnx", "defined twice");

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    {
        const char *ins[1] = {"x"}, *outs[1] = {"y"};
        zf_onnx_add_node(&om.graph, "NonMaxSuppression", "nms", 1, ins, 1, outs);
    }
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "unsupported.onnx", "unsupported op type 'NonMaxSuppression'");

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    {
        const char *ins[1] = {"x"}, *outs[1] = {"y"};
        zf_onnx_add_node(&om.graph, "If", "iff", 1, ins, 1, outs);
    }
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "if.onnx", "not a constant");

    om.opset = 13;
    {
        int64_t huge[4] = {1, 3, 1000000000, 1000000000};
        zf_onnx_add_input(&om.graph, "x", 1, 4, huge);
    }
    relu(&om.graph, "a", "x", "y");
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "huge.onnx", "too large");

    om.opset = 13;
    {
        int64_t over[4] = {4, 3, 1000000000000000000LL, 1000000000};   // the product passes 2^63
        zf_onnx_add_input(&om.graph, "x", 1, 4, over);
    }
    relu(&om.graph, "a", "x", "y");
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "over.onnx", "overflows 64 bits");

    om.opset = 13;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    relu(&om.graph, "a", "x", "y");
    zf_onnx_add_output(&om.graph, "z", 1, -1, NULL);
    expect_reject(&om, "noout.onnx", "'z'");

    om.opset = 99;
    zf_onnx_add_input(&om.graph, "x", 1, 4, d4);
    relu(&om.graph, "a", "x", "y");
    zf_onnx_add_output(&om.graph, "y", 1, -1, NULL);
    expect_reject(&om, "opset.onnx", "opset 99");
}

int main(void) {
    test_lrn_fusion();
    test_rf();
    test_hostile();
    if (failures) { printf("test_graph: %d failure(s)\n", failures); return 1; }
    printf("test_graph: all checks passed\n");
    return 0;
}
