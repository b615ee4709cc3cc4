// test_models.c: the architecture builders in models/.
//   - parameter counts of the full-size models against published totals (torchvision's
//     sum(p.numel()) for VGG-16, ResNet-50, DenseNet-121; BVLC Caffe for AlexNet and GoogLeNet), and
//     the layer widths of the papers' tables read from the weight shapes of full-size builds;
//   - the initializers of a built model add up to the same count (dry run and real build agree);
//   - ZFNet's map sizes at 224x224 are Zeiler & Fergus Fig. 3's: 110, 55, 26, 13, 13, 13, 13, 6
//     (checked on the engine's own shape inference, not the builder's);
//   - every architecture at reduced width runs through the engine (zf_model_from_onnx +
//     zf_model_forward) to a (1, classes) softmax summing to 1, also at a non-square size;
//   - same seed -> identical weights, different seed -> different; He-normal scale;
//   - metadata, and errors for bad options.
// Exit 0 pass, 1 fail; 77 if an op the models use is not registered at run time (other checks still run).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "core/ops/op.h"
#include "core/rng.h"
#include "models/models.h"

static int failures, skips;

// core/ops/registry.h declares the ops weak while they are written in parallel, and a linker does
// not extract an archive member for a weak reference: these strong references pull in the ops the
// seven architectures use, so the engine checks run when the test is linked against libzfviz.a.
extern const zf_op zf_op_conv, zf_op_relu, zf_op_maxpool, zf_op_averagepool, zf_op_global_averagepool, zf_op_lrn,
    zf_op_batchnorm, zf_op_gemm, zf_op_dropout, zf_op_flatten, zf_op_concat, zf_op_add, zf_op_softmax;
static const zf_op *const used_ops[] = {&zf_op_conv, &zf_op_relu, &zf_op_maxpool, &zf_op_averagepool,
                                        &zf_op_global_averagepool, &zf_op_lrn, &zf_op_batchnorm, &zf_op_gemm,
                                        &zf_op_dropout, &zf_op_flatten, &zf_op_concat, &zf_op_add, &zf_op_softmax};

#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            failures++;                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
            printf(__VA_ARGS__);                                   \
            printf("\n");                                          \
        }                                                          \
    } while (0)

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

// Trainable parameters stored in the model: everything but BatchNorm running statistics and
// dropout ratios.
static int64_t stored_params(const zf_onnx_model *m, const char *prefix, int weights_only) {
    int64_t n = 0;
    for (int i = 0; i < m->graph.n_initializers; i++) {
        const char *name = m->graph.initializers[i].name;
        if (ends_with(name, ".running_mean") || ends_with(name, ".running_var") || ends_with(name, ".ratio")) continue;
        if (weights_only && !ends_with(name, ".weight")) continue;
        if (prefix && strncmp(name, prefix, strlen(prefix))) continue;
        n += zf_tensor_numel(&m->graph.initializers[i].t);
    }
    return n;
}

static const zf_tensor *find_init(const zf_onnx_model *m, const char *name) {
    for (int i = 0; i < m->graph.n_initializers; i++)
        if (!strcmp(m->graph.initializers[i].name, name)) return &m->graph.initializers[i].t;
    return NULL;
}

static void test_param_counts(void) {
    static const struct { const char *arch; int64_t params; } lit[] = {
        {"lenet", 155606},          // hand count: 832 + 51264 + 102500 + 1010 (Keras model.summary())
        {"alexnet", 60965224},      // bvlc_alexnet (grouped conv2/4/5); torchvision's variant has 61100840
        {"zfnet", 62357608},        // hand count from Fig. 3: 14208+614656+885120+1327488+884992+37752832+16781312+4097000
        {"vgg16", 138357544},       // torchvision vgg16
        {"googlenet", 6998552},     // bvlc_googlenet without the two auxiliary classifiers
        {"resnet50", 25557032},     // torchvision resnet50 (v1.5; v1 has the same count)
        {"densenet121", 7978856},   // torchvision densenet121
    };
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        int64_t p = -1;
        zf_error err = {0};
        int rc = zf_model_count_params(&p, lit[i].arch, NULL, &err);
        CHECK(rc == 0, "%s: count failed: %s", lit[i].arch, err.msg);
        CHECK(p == lit[i].params, "%s: %lld parameters, literature %lld (diff %lld)", lit[i].arch, (long long)p,
              (long long)lit[i].params, (long long)(p - lit[i].params));
        printf("%-12s %11lld parameters (expected %lld)\n", lit[i].arch, (long long)p, (long long)lit[i].params);
    }
    // Non-default options change the count where they should and only there.
    zf_build_opts o = zf_build_defaults("vgg16");
    o.classes = 10;
    int64_t p = 0;
    CHECK(!zf_model_count_params(&p, "vgg16", &o, NULL) && p == 138357544 - 4097000 + 40970,
          "vgg16 with 10 classes: %lld", (long long)p);
    o = zf_build_defaults("zfnet");
    o.height = 160;   // conv1 79, pool1 39, conv2 18, pool2 9, pool5 4: fc6 from 4*4*256
    o.width = 160;
    CHECK(!zf_model_count_params(&p, "zfnet", &o, NULL) && p == 62357608 - (9216LL - 4096) * 4096,
          "zfnet at 160x160: %lld", (long long)p);
}

static const zf_onnx_node *find_node(const zf_onnx_model *m, const char *name) {
    for (int i = 0; i < m->graph.n_nodes; i++)
        if (!strcmp(m->graph.nodes[i].name, name)) return &m->graph.nodes[i];
    return NULL;
}

// Checks that initializer `name` has the given dims (ndim values, -1 ends the list early).
static void expect_dims(const zf_onnx_model *m, const char *arch, const char *name, int ndim, int64_t d0, int64_t d1,
                        int64_t d2, int64_t d3) {
    const zf_tensor *t = find_init(m, name);
    int64_t want[4] = {d0, d1, d2, d3};
    int ok = t && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->dims[i] == want[i];
    char buf[64] = "(missing)";
    if (t) zf_shape_str(buf, sizeof buf, t->ndim, t->dims);
    CHECK(ok, "%s: %s is %s, expected (%lld,%lld,%lld,%lld) up to rank %d", arch, name, buf, (long long)d0, (long long)d1,
          (long long)d2, (long long)d3, ndim);
}

// Full-size builds of the cheaper models (up to 100 MB of weights): stored counts, and the widths the
// papers' tables give, read from the weight shapes.
static void test_full_builds(void) {
    static const struct { const char *arch; int64_t params; } full[] = {
        {"lenet", 155606}, {"googlenet", 6998552}, {"resnet50", 25557032}, {"densenet121", 7978856}};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        const char *a = full[i].arch;
        zf_onnx_model m = {0};
        zf_error err = {0};
        int rc = zf_model_build(&m, a, NULL, &err);
        CHECK(rc == 0, "%s build: %s", a, err.msg);
        if (rc) {
            zf_onnx_free(&m);
            continue;
        }
        CHECK(stored_params(&m, NULL, 0) == full[i].params, "%s stores %lld parameters", a,
              (long long)stored_params(&m, NULL, 0));
        if (!strcmp(a, "lenet")) {
            expect_dims(&m, a, "conv2.weight", 4, 64, 32, 5, 5);
            expect_dims(&m, a, "fc3.weight", 2, 100, 1024, 0, 0);   // 4x4x64 after pool2
        } else if (!strcmp(a, "googlenet")) {
            // Szegedy et al. Table 1, "depth" of each inception module's output.
            static const struct { const char *mod; int64_t depth; } t1[] = {
                {"inception_3a", 256}, {"inception_3b", 480}, {"inception_4a", 512}, {"inception_4b", 512},
                {"inception_4c", 512}, {"inception_4d", 528}, {"inception_4e", 832}, {"inception_5a", 832},
                {"inception_5b", 1024}};
            static const char *const br[4] = {"1x1", "3x3", "5x5", "pool_proj"};
            for (size_t j = 0; j < sizeof t1 / sizeof t1[0]; j++) {
                int64_t depth = 0;
                for (int k = 0; k < 4; k++) {
                    char w[64];
                    snprintf(w, sizeof w, "%s.%s.weight", t1[j].mod, br[k]);
                    const zf_tensor *t = find_init(&m, w);
                    depth += t ? t->dims[0] : 0;
                }
                CHECK(depth == t1[j].depth, "googlenet %s: depth %lld, Table 1 %lld", t1[j].mod, (long long)depth,
                      (long long)t1[j].depth);
            }
            expect_dims(&m, a, "inception_4a.5x5.weight", 4, 48, 16, 5, 5);   // real 5x5, not torchvision's 3x3
            expect_dims(&m, a, "fc.weight", 2, 1000, 1024, 0, 0);
        } else if (!strcmp(a, "resnet50")) {
            expect_dims(&m, a, "res2a_branch2c.weight", 4, 256, 64, 1, 1);
            expect_dims(&m, a, "res3a_branch2a.weight", 4, 128, 256, 1, 1);
            expect_dims(&m, a, "res4f_branch2b.weight", 4, 256, 256, 3, 3);
            expect_dims(&m, a, "res5a_branch1.weight", 4, 2048, 1024, 1, 1);
            expect_dims(&m, a, "fc.weight", 2, 1000, 2048, 0, 0);
            // Paper v1: the stride sits on the first 1x1 of the block, not on the 3x3 (v1.5).
            int64_t s[2] = {0, 0};
            int n = 0;
            const zf_onnx_node *c = find_node(&m, "res3a_branch2a");
            CHECK(c && !zf_onnx_attr_ints(s, &n, 2, c, "strides", NULL) && n == 2 && s[0] == 2 && s[1] == 2,
                  "resnet50: res3a_branch2a is not stride 2");
            c = find_node(&m, "res3a_branch2b");
            CHECK(c && !zf_onnx_attr_ints(s, &n, 2, c, "strides", NULL) && n == 2 && s[0] == 1,
                  "resnet50: res3a_branch2b is not stride 1");
            CHECK(!find_init(&m, "res2a_branch2a.bias"), "resnet50: convs followed by BN must not have a bias");
        } else if (!strcmp(a, "densenet121")) {
            expect_dims(&m, a, "conv0.weight", 4, 64, 3, 7, 7);
            expect_dims(&m, a, "denseblock1.denselayer6.conv1.weight", 4, 128, 64 + 5 * 32, 1, 1);
            expect_dims(&m, a, "denseblock4.denselayer16.conv2.weight", 4, 32, 128, 3, 3);
            expect_dims(&m, a, "transition1.conv.weight", 4, 128, 256, 1, 1);
            expect_dims(&m, a, "transition2.conv.weight", 4, 256, 512, 1, 1);
            expect_dims(&m, a, "transition3.conv.weight", 4, 512, 1024, 1, 1);
            expect_dims(&m, a, "fc.weight", 2, 1000, 1024, 0, 0);
        }
        zf_onnx_free(&m);
    }
}

// Dry count == what the built model stores, for every architecture at a reduced width.
static void test_stored_equals_counted(void) {
    for (const char *const *a = zf_arch_names(); *a; a++) {
        zf_build_opts o = zf_build_defaults(*a);
        o.width_mult = 0.125;
        zf_onnx_model m = {0};
        zf_error err = {0};
        int64_t p = -1;
        int rc = zf_model_build(&m, *a, &o, &err);
        CHECK(rc == 0, "%s build: %s", *a, err.msg);
        CHECK(!zf_model_count_params(&p, *a, &o, &err), "%s count: %s", *a, err.msg);
        if (!rc) {
            CHECK(stored_params(&m, NULL, 0) == p, "%s x0.125: stored %lld, counted %lld", *a,
                  (long long)stored_params(&m, NULL, 0), (long long)p);
            CHECK(m.opset == 13, "%s: opset %lld", *a, (long long)m.opset);
            CHECK(m.graph.n_inputs == 1 && !strcmp(m.graph.inputs[0].name, "input") && m.graph.inputs[0].ndim == 4 &&
                      m.graph.inputs[0].dim_params[0] && !strcmp(m.graph.inputs[0].dim_params[0], "N"),
                  "%s: graph input is not input(N,C,H,W)", *a);
            CHECK(m.graph.n_outputs == 1 && !strcmp(m.graph.outputs[0].name, "prob"), "%s: output is not 'prob'", *a);
            if (!strcmp(*a, "vgg16")) {   // configuration D: thirteen convs, every one 3x3
                int convs = 0;
                for (int i = 0; i < m.graph.n_initializers; i++) {
                    const zf_tensor *t = &m.graph.initializers[i].t;
                    if (t->ndim != 4) continue;
                    convs++;
                    CHECK(t->dims[2] == 3 && t->dims[3] == 3, "vgg16: %s is %lldx%lld", m.graph.initializers[i].name,
                          (long long)t->dims[2], (long long)t->dims[3]);
                }
                CHECK(convs == 13, "vgg16 has %d convs", convs);
            }
            const char *arch = zf_onnx_meta_get(&m, "zfviz.arch");
            CHECK(arch && !strcmp(arch, *a), "%s: zfviz.arch = %s", *a, arch ? arch : "(none)");
            // Node names equal their output names (so --layer works either way), and are unique.
            for (int i = 0; i < m.graph.n_nodes; i++) {
                const zf_onnx_node *n = &m.graph.nodes[i];
                CHECK(n->n_outputs == 1 && !strcmp(n->name, n->outputs[0]), "%s: node '%s' outputs '%s'", *a, n->name,
                      n->n_outputs ? n->outputs[0] : "");
                for (int j = 0; j < i; j++)
                    if (!strcmp(m.graph.nodes[j].name, n->name)) CHECK(0, "%s: node name '%s' repeated", *a, n->name);
            }
        }
        zf_onnx_free(&m);
    }
}

static void test_seeds_and_metadata(void) {
    zf_build_opts o = zf_build_defaults("zfnet");
    o.width_mult = 0.125;
    zf_onnx_model a = {0}, b = {0}, c = {0};
    zf_error err = {0};
    CHECK(!zf_model_build(&a, "zfnet", &o, &err), "build: %s", err.msg);
    CHECK(!zf_model_build(&b, "zfnet", &o, &err), "build: %s", err.msg);
    o.seed = 2;
    CHECK(!zf_model_build(&c, "zfnet", &o, &err), "build: %s", err.msg);
    if (!failures) {
        int same = a.graph.n_initializers == b.graph.n_initializers, differ = 0;
        for (int i = 0; same && i < a.graph.n_initializers; i++) {
            const zf_tensor *x = &a.graph.initializers[i].t, *y = &b.graph.initializers[i].t;
            size_t bytes = (size_t)zf_tensor_numel(x) * 4;
            if (!zf_tensor_same_shape(x, y) || memcmp(x->data, y->data, bytes)) {
                printf("seed 1 twice: '%s' differs\n", a.graph.initializers[i].name);
                same = 0;
            }
            const zf_tensor *z = find_init(&c, a.graph.initializers[i].name);
            if (ends_with(a.graph.initializers[i].name, ".weight") && z && memcmp(x->data, z->data, bytes)) differ++;
        }
        CHECK(same, "same seed gave different weights");
        CHECK(differ == 8, "seed 2 changed %d of 8 weight tensors", differ);
        // He-normal: std sqrt(2 / fan_in); fc6 at x0.125 is 512 x 9216/8 -> 589824 samples, so the
        // sample std is within 1% with overwhelming probability.
        const zf_tensor *w = find_init(&a, "fc6.weight");
        CHECK(w && w->ndim == 2, "fc6.weight missing");
        if (w) {
            double s = 0, s2 = 0;
            int64_t n = zf_tensor_numel(w);
            for (int64_t i = 0; i < n; i++) s += zf_f32(w)[i], s2 += (double)zf_f32(w)[i] * zf_f32(w)[i];
            double mean = s / n, sd = sqrt(s2 / n - mean * mean), want = sqrt(2.0 / (double)w->dims[1]);
            CHECK(fabs(sd / want - 1) < 0.01 && fabs(mean) < 0.01 * want, "fc6.weight mean %g std %g, want 0 and %g",
                  mean, sd, want);
        }
        const zf_tensor *bias = find_init(&a, "conv3.bias");
        CHECK(bias && bias->ndim == 1 && zf_f32(bias)[0] == 0, "conv3.bias not zero");
        const char *pre = zf_onnx_meta_get(&a, "zfviz.preprocess"), *lab = zf_onnx_meta_get(&a, "zfviz.labels");
        CHECK(pre && !strcmp(pre, "torchvision"), "zfnet preprocess '%s'", pre ? pre : "(none)");
        CHECK(lab && !strncmp(lab, "class0\nclass1\n", 14) && ends_with(lab, "\nclass999"), "zfnet labels wrong");
    }
    zf_onnx_free(&a);
    zf_onnx_free(&b);
    zf_onnx_free(&c);

    zf_onnx_model l = {0};
    CHECK(!zf_model_build(&l, "lenet", NULL, &err), "lenet: %s", err.msg);
    const char *pre = zf_onnx_meta_get(&l, "zfviz.preprocess"), *lab = zf_onnx_meta_get(&l, "zfviz.labels");
    CHECK(pre && !strcmp(pre, "raw"), "lenet preprocess '%s'", pre ? pre : "(none)");
    CHECK(lab && !strcmp(lab, "T-shirt/top\nTrouser\nPullover\nDress\nCoat\nSandal\nShirt\nSneaker\nBag\nAnkle boot"),
          "lenet labels '%s'", lab ? lab : "(none)");
    zf_onnx_free(&l);
}

static void test_errors(void) {
    zf_onnx_model m = {0};
    zf_error err = {0};
    int rc = zf_model_build(&m, "inception_v9", NULL, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "known:") && strstr(err.msg, "densenet121"),
          "unknown arch: rc %d '%s'", rc, err.msg);
    zf_onnx_free(&m);
    zf_build_opts o = zf_build_defaults("zfnet");
    o.height = 30;
    rc = zf_model_build(&m, "zfnet", &o, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "zfnet: input 30x224 is too small: layer 'pool2'"),
          "small input: rc %d '%s'", rc, err.msg);
    CHECK(m.graph.n_initializers == 0, "a failed size check still allocated weights");
    zf_onnx_free(&m);
    o = zf_build_defaults("vgg16");
    o.channels = 2;
    rc = zf_model_build(&m, "vgg16", &o, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "channels"), "channels 2: rc %d '%s'", rc, err.msg);
    zf_onnx_free(&m);
    o = zf_build_defaults("vgg16");
    o.height = o.width = 4096;   // fc6 would hold 128*128*512*4096 weights
    rc = zf_model_build(&m, "vgg16", &o, &err);
    CHECK(rc == ZF_ERR_INPUT && strstr(err.msg, "fc6"), "huge vgg16: rc %d '%s'", rc, err.msg);
    zf_onnx_free(&m);
}

// 1 when every op of the model is registered (else prints which is missing).
static int engine_has_ops(const zf_onnx_model *om, const char *what) {
    for (int i = 0; i < om->graph.n_nodes; i++)
        if (!zf_op_find(om->graph.nodes[i].op_type)) {
            printf("skip engine check of %s: op %s not registered yet\n", what, om->graph.nodes[i].op_type);
            skips++;
            return 0;
        }
    return 1;
}

// Builds arch with o, runs a random input through the engine, checks the softmax output.
// Leaves the model in *m (caller frees) when keep != NULL.
static int run_engine(zf_model *keep, const char *arch, const zf_build_opts *o) {
    char what[96];
    snprintf(what, sizeof what, "%s x%g %dx%dx%d", arch, o->width_mult, o->channels, o->height, o->width);
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_tensor in = {0};
    zf_error err = {0};
    int ok = 0;
    if (zf_model_build(&om, arch, o, &err)) {
        CHECK(0, "%s: build: %s", what, err.msg);
        goto done;
    }
    if (!engine_has_ops(&om, what)) goto done;
    zf_load_opts lo = zf_load_defaults();
    if (zf_model_from_onnx(&m, &om, what, &lo, &err)) {
        CHECK(0, "%s: load: %s", what, err.msg);
        goto done;
    }
    int64_t dims[4] = {1, o->channels, o->height, o->width};
    if (zf_tensor_alloc(&in, ZF_F32, 4, dims, &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        goto done;
    }
    zf_rng r;
    zf_rng_seed(&r, 7);
    for (int64_t i = 0; i < zf_tensor_numel(&in); i++) zf_f32(&in)[i] = (float)(2 * zf_rng_uniform(&r) - 1);
    if (zf_model_forward(&m, 1, &in, &err)) {
        CHECK(0, "%s: forward: %s", what, err.msg);
        goto done;
    }
    const zf_tensor *p = &m.values[m.outputs[0]].t;
    CHECK(p->ndim == 2 && p->dims[0] == 1 && p->dims[1] == o->classes, "%s: output shape ndim %d (%lld,%lld)", what,
          p->ndim, (long long)p->dims[0], (long long)(p->ndim > 1 ? p->dims[1] : -1));
    double sum = 0;
    int finite = 1;
    for (int64_t i = 0; i < zf_tensor_numel(p); i++) {
        sum += zf_f32(p)[i];
        finite &= isfinite(zf_f32(p)[i]) && zf_f32(p)[i] >= 0;
    }
    CHECK(finite && fabs(sum - 1) < 1e-4, "%s: softmax sums to %.7f (finite and >= 0: %d)", what, sum, finite);
    printf("engine %-34s ok: %d nodes, prob sums to %.7f\n", what, m.n_nodes, sum);
    ok = 1;
done:
    zf_tensor_free(&in);
    zf_onnx_free(&om);
    if (ok && keep) *keep = m;
    else zf_model_free(&m);
    return ok;
}

// Map sizes (H = W) at the default input, from the engine's own shape inference. ZFNet: Zeiler &
// Fergus 2014 Fig. 3; AlexNet: 227 -> 55 -> 27 -> 13 -> 6; the others: their papers' tables.
static const struct { const char *arch, *layer; int64_t size; } map_sizes[] = {
    {"zfnet", "conv1", 110}, {"zfnet", "pool1", 55}, {"zfnet", "norm1", 55}, {"zfnet", "conv2", 26},
    {"zfnet", "pool2", 13}, {"zfnet", "conv3", 13}, {"zfnet", "conv4", 13}, {"zfnet", "conv5", 13},
    {"zfnet", "pool5", 6},
    {"lenet", "conv1", 24}, {"lenet", "pool1", 12}, {"lenet", "conv2", 8}, {"lenet", "pool2", 4},
    {"alexnet", "conv1", 55}, {"alexnet", "pool1", 27}, {"alexnet", "conv2", 27}, {"alexnet", "pool2", 13},
    {"alexnet", "conv5", 13}, {"alexnet", "pool5", 6},
    {"vgg16", "conv1_2", 224}, {"vgg16", "pool1", 112}, {"vgg16", "pool2", 56}, {"vgg16", "pool3", 28},
    {"vgg16", "pool4", 14}, {"vgg16", "conv5_3", 14}, {"vgg16", "pool5", 7},
    {"googlenet", "conv1", 112}, {"googlenet", "pool1", 56}, {"googlenet", "conv2", 56}, {"googlenet", "pool2", 28},
    {"googlenet", "inception_3b", 28}, {"googlenet", "pool3", 14}, {"googlenet", "inception_4e", 14},
    {"googlenet", "pool4", 7}, {"googlenet", "inception_5b", 7}, {"googlenet", "pool5", 1},
    {"resnet50", "conv1", 112}, {"resnet50", "pool1", 56}, {"resnet50", "res2c", 56}, {"resnet50", "res3a", 28},
    {"resnet50", "res4f", 14}, {"resnet50", "res5c", 7}, {"resnet50", "pool5", 1},
    {"densenet121", "conv0", 112}, {"densenet121", "pool0", 56}, {"densenet121", "denseblock1.denselayer6.concat", 56},
    {"densenet121", "transition1.pool", 28}, {"densenet121", "transition2.pool", 14},
    {"densenet121", "transition3.pool", 7}, {"densenet121", "norm5", 7}, {"densenet121", "pool5", 1},
};

static void test_engine(void) {
    for (const char *const *a = zf_arch_names(); *a; a++) {
        zf_build_opts o = zf_build_defaults(*a);
        if (strcmp(*a, "lenet")) o.width_mult = 0.125;   // lenet is cheap at full width
        zf_model m = {0};
        if (!run_engine(&m, *a, &o)) continue;
        for (size_t i = 0; i < sizeof map_sizes / sizeof map_sizes[0]; i++) {
            if (strcmp(map_sizes[i].arch, *a)) continue;
            int v = zf_model_find(&m, map_sizes[i].layer);
            CHECK(v >= 0, "%s: layer %s not found", *a, map_sizes[i].layer);
            if (v < 0) continue;
            const zf_tensor *t = &m.values[v].t;
            CHECK(t->ndim == 4 && t->dims[2] == map_sizes[i].size && t->dims[3] == map_sizes[i].size,
                  "%s %s: map %lldx%lld, expected %lldx%lld", *a, map_sizes[i].layer,
                  (long long)(t->ndim == 4 ? t->dims[2] : -1), (long long)(t->ndim == 4 ? t->dims[3] : -1),
                  (long long)map_sizes[i].size, (long long)map_sizes[i].size);
        }
        if (!strcmp(*a, "zfnet")) {
            // x0.125 width: 12, 32, 48, 48, 32 maps; fc6 reads 6*6*32.
            static const struct { const char *layer; int64_t ch; } w[] = {
                {"conv1", 12}, {"conv2", 32}, {"conv3", 48}, {"conv4", 48}, {"conv5", 32}, {"flatten", 6 * 6 * 32}};
            for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
                int v = zf_model_find(&m, w[i].layer);
                CHECK(v >= 0 && m.values[v].t.dims[1] == w[i].ch, "zfnet x0.125 %s: %lld channels, expected %lld",
                      w[i].layer, (long long)(v >= 0 ? m.values[v].t.dims[1] : -1), (long long)w[i].ch);
            }
        }
        zf_model_free(&m);
    }
    // Non-square, gray, other class counts: FC widths must follow the real map size.
    static const struct { const char *arch; int c, h, w, classes; } odd[] = {
        {"zfnet", 1, 160, 256, 10}, {"alexnet", 3, 195, 227, 7}, {"vgg16", 3, 64, 96, 5},
        {"googlenet", 3, 160, 224, 3}, {"resnet50", 1, 96, 128, 2}, {"densenet121", 3, 64, 80, 4},
        {"lenet", 1, 32, 40, 10},
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        zf_build_opts o = zf_build_defaults(odd[i].arch);
        o.channels = odd[i].c;
        o.height = odd[i].h;
        o.width = odd[i].w;
        o.classes = odd[i].classes;
        o.width_mult = !strcmp(odd[i].arch, "lenet") ? 1 : 0.0625;
        run_engine(NULL, odd[i].arch, &o);
    }
}

int main(void) {
    printf("ops used:");
    for (size_t i = 0; i < sizeof used_ops / sizeof used_ops[0]; i++) printf(" %s", used_ops[i]->type);
    printf("\n");
    test_param_counts();
    test_full_builds();
    test_stored_equals_counted();
    test_seeds_and_metadata();
    test_errors();
    test_engine();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    if (skips) {
        printf("SKIP: %d engine check(s) skipped (ops not registered yet); all other checks passed\n", skips);
        return 77;
    }
    printf("all model checks passed\n");
    return 0;
}
