// registry.c: architecture table, option defaults and validation, model-level fields and metadata.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models.h"
#include "builder.h"

typedef struct arch {
    const char *name;
    int (*build)(zf_builder *b);
    int channels, size, classes;   // defaults
    const char *paper;
} arch;

static const arch archs[] = {
    {"lenet", zf_build_lenet, 1, 28, 10, "LeCun et al. 1998 (Proc. IEEE), in the Keras MNIST-example form"},
    {"alexnet", zf_build_alexnet, 3, 227, 1000,
     "Krizhevsky, Sutskever & Hinton 2012 (NIPS), BVLC Caffe bvlc_alexnet form"},
    {"zfnet", zf_build_zfnet, 3, 224, 1000, "Zeiler & Fergus 2014 (ECCV, arXiv:1311.2901v3), Fig. 3"},
    {"vgg16", zf_build_vgg16, 3, 224, 1000,
     "Simonyan & Zisserman 2015 (ICLR, arXiv:1409.1556), Table 1 configuration D"},
    {"googlenet", zf_build_googlenet, 3, 224, 1000,
     "Szegedy et al. 2015 (CVPR, arXiv:1409.4842), Table 1, without auxiliary classifiers"},
    {"resnet50", zf_build_resnet50, 3, 224, 1000,
     "He, Zhang, Ren & Sun 2016 (CVPR, arXiv:1512.03385), Table 1, bottleneck v1 (stride on the first 1x1)"},
    {"densenet121", zf_build_densenet121, 3, 224, 1000,
     "Huang, Liu, van der Maaten & Weinberger 2017 (CVPR, arXiv:1608.06993), Table 1, DenseNet-BC k=32"},
    {"zf28", zf_build_zf28, 1, 28, 10,
     "Zeiler & Fergus 2014 (ECCV, arXiv:1311.2901v3) recipe scaled to 28x28 Fashion-MNIST (zfviz's default model)"},
};
#define N_ARCHS ((int)(sizeof archs / sizeof archs[0]))

static const char *const arch_names[N_ARCHS + 1] = {"lenet",     "alexnet",  "zfnet",       "vgg16",
                                                    "googlenet", "resnet50", "densenet121", "zf28", NULL};
_Static_assert(sizeof arch_names / sizeof arch_names[0] == N_ARCHS + 1, "arch_names must list every arch");

static const char *const fashion_mnist[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *const *zf_arch_names(void) { return arch_names; }

static const arch *find(const char *name) {
    for (int i = 0; name && i < N_ARCHS; i++)
        if (!strcmp(archs[i].name, name)) return &archs[i];
    return NULL;
}

const char *zf_arch_paper(const char *name) {
    const arch *a = find(name);
    return a ? a->paper : NULL;
}

zf_build_opts zf_build_defaults(const char *name) {
    const arch *a = find(name);
    zf_build_opts o = {.seed = 1, .classes = 1000, .channels = 3, .height = 224, .width = 224, .width_mult = 1.0};
    if (a) {
        o.classes = a->classes;
        o.channels = a->channels;
        o.height = o.width = a->size;
    }
    return o;
}

// Resolves the architecture and fills b from the options (zero fields -> defaults), validating them.
static int setup(zf_builder *b, const arch **out, const char *name, const zf_build_opts *o, zf_error *err) {
    const arch *a = find(name);
    if (!a) {
        char list[256] = "";
        for (int i = 0; i < N_ARCHS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", archs[i].name);
        return zf_fail(err, ZF_ERR_INPUT, "unknown architecture '%s' (known: %s)", name ? name : "", list);
    }
    zf_build_opts d = zf_build_defaults(name), u = o ? *o : d;
    if (!u.classes) u.classes = d.classes;
    if (!u.channels) u.channels = d.channels;
    if (!u.height) u.height = d.height;
    if (!u.width) u.width = d.width;
    if (u.width_mult == 0) u.width_mult = d.width_mult;
    if (u.classes < 1 || u.classes > 1000000)
        return zf_fail(err, ZF_ERR_INPUT, "%s: classes must be in 1..1000000, got %d", name, u.classes);
    if (u.channels != 1 && u.channels != 3)
        return zf_fail(err, ZF_ERR_INPUT, "%s: input channels must be 1 or 3, got %d", name, u.channels);
    if (u.height < 1 || u.width < 1 || u.height > 8192 || u.width > 8192)
        return zf_fail(err, ZF_ERR_INPUT, "%s: input size must be in 1..8192, got %dx%d", name, u.height, u.width);
    if (!(u.width_mult > 0 && u.width_mult <= 4))
        return zf_fail(err, ZF_ERR_INPUT, "%s: width multiplier must be in (0, 4], got %g", name, u.width_mult);
    *b = (zf_builder){.arch = a->name, .seed = u.seed, .classes = u.classes, .channels = u.channels,
                      .height = u.height, .width = u.width, .width_mult = u.width_mult, .err = err};
    *out = a;
    return 0;
}

// "alexnet: <message>" (err may be NULL: then just the status).
static int fail_prefixed(const zf_builder *b, zf_error *err) {
    return err ? zf_error_prefix(err, "%s", b->arch) : b->status;
}

int zf_model_count_params(int64_t *params, const char *name, const zf_build_opts *o, zf_error *err) {
    zf_builder b;
    const arch *a;
    if (setup(&b, &a, name, o, err)) return err ? err->code : ZF_ERR_INPUT;
    if (a->build(&b)) return fail_prefixed(&b, err);
    *params = b.params;
    return 0;
}

static int meta(zf_onnx_model *m, const char *k, const char *v, zf_error *err) {
    if (zf_onnx_meta_set(m, k, v)) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory setting metadata");
    return 0;
}

static int labels(zf_onnx_model *m, const zf_builder *b, zf_error *err) {
    int fashion = b->classes == 10 && b->channels == 1;
    size_t cap = (size_t)b->classes * 16 + 16, k = 0;
    char *s = zf_malloc(cap, err);
    if (!s) return ZF_ERR_RUNTIME;
    s[0] = 0;
    for (int i = 0; i < b->classes; i++) {
        if (fashion) k += (size_t)snprintf(s + k, cap - k, "%s%s", i ? "\n" : "", fashion_mnist[i]);
        else k += (size_t)snprintf(s + k, cap - k, "%sclass%d", i ? "\n" : "", i);
    }
    int rc = meta(m, "zfviz.labels", s, err);
    free(s);
    return rc;
}

int zf_model_build(zf_onnx_model *out, const char *name, const zf_build_opts *o, zf_error *err) {
    zf_builder b;
    const arch *a;
    if (setup(&b, &a, name, o, err)) return err ? err->code : ZF_ERR_INPUT;
    // A dry run first: bad sizes are reported before any weight is allocated, and the whole model
    // must fit one protobuf message (2 GiB).
    zf_builder dry = b;
    if (a->build(&dry)) return fail_prefixed(&dry, err);
    if (dry.params > (1LL << 29) - (1LL << 20))
        return zf_fail(err, ZF_ERR_INPUT,
                       "%s: %lld parameters do not fit a 2 GiB ONNX file; use a smaller input size or width multiplier",
                       a->name, (long long)dry.params);

    out->ir_version = 8;
    out->opset = 13;
    if (zf_onnx_set_string_field(&out->producer_name, "zfviz") ||
        zf_onnx_set_string_field(&out->doc_string, a->paper) ||
        zf_onnx_set_string_field(&out->graph.name, a->name))
        return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    b.m = out;
    if (a->build(&b)) return fail_prefixed(&b, err);

    char info[256];
    snprintf(info, sizeof info, "seed=%llu classes=%d channels=%d size=%dx%d width_mult=%g params=%lld",
             (unsigned long long)b.seed, b.classes, b.channels, b.height, b.width, b.width_mult,
             (long long)b.params);
    const char *pre = (!strcmp(a->name, "lenet") || !strcmp(a->name, "zf28") || b.channels == 1) ? "raw" : "torchvision";
    if (meta(out, "zfviz.arch", a->name, err) || meta(out, "zfviz.preprocess", pre, err) ||
        meta(out, "zfviz.build", info, err) || labels(out, &b, err))
        return err ? err->code : ZF_ERR_RUNTIME;
    return 0;
}
