// models.h: the classic CNN architectures (LeNet, AlexNet, ZFNet, VGG-16, GoogLeNet, ResNet-50,
// DenseNet-121) as builder code emitting an ONNX model with seeded He-normal weights.
//
//   zf_build_opts o = zf_build_defaults("zfnet");      // 3x224x224, 1000 classes, seed 1
//   o.width_mult = 0.25;                                // a small test version
//   zf_onnx_model om = {0};
//   if (zf_model_build(&om, "zfnet", &o, &err)) return err.code;
//   zf_model m = {0};                                   // then run it like any loaded file:
//   zf_model_from_onnx(&m, &om, "zfnet", &lo, &err);    // or zf_onnx_write(&om, "zfnet.onnx", &err)
//
// The graph input is "input" (N,C,H,W) with symbolic batch "N"; the output is "prob" (N,classes),
// a Softmax. Node names equal their output tensor names (conv1, relu1, pool1, ...; docs/models.md
// lists every architecture's layers), weights are "<layer>.weight" / "<layer>.bias" (BatchNorm adds
// "<layer>.running_mean" / "<layer>.running_var"), so `--layer conv5` works on built and loaded
// models alike. Metadata: "zfviz.arch", "zfviz.preprocess" ("raw" or "torchvision"),
// "zfviz.labels" (class names joined by '\n') and "zfviz.build" (the options used).
// The same seed always gives the same weights: each initializer draws from its own stream seeded
// by (seed, tensor name), so it does not depend on the order in which layers are built.
#ifndef ZF_MODELS_H
#define ZF_MODELS_H
#include <stddef.h>   // core/error.h uses size_t without including it
#include <stdint.h>
#include "core/error.h"
#include "core/onnx/onnx.h"

typedef struct zf_build_opts {
    uint64_t seed;        // weight initialization stream
    int classes;          // output classes (fc width of the last layer)
    int channels;         // input channels: 1 or 3
    int height, width;    // input size; non-square allowed; FC widths follow the actual map size
    double width_mult;    // scales every hidden channel count and FC width (0 < f <= 4); classes and
                          // input channels stay; counts are rounded, at least 1 (or the group count)
} zf_build_opts;

// The architecture's defaults: seed 1, width 1.0, and the paper's input and classes (lenet:
// 1x28x28 and 10; alexnet: 3x227x227 and 1000; the others 3x224x224 and 1000). An unknown name
// gets the 3x224x224 / 1000 defaults.
zf_build_opts zf_build_defaults(const char *arch);

// Builds `arch` into *out (which must be zeroed; free with zf_onnx_free, also after an error).
// o may be NULL for the defaults; a zero classes/channels/height/width/width_mult field takes the
// architecture's default. Errors: unknown arch or bad option (ZF_ERR_INPUT, message lists the known
// names or says which layer the input is too small for), out of memory (ZF_ERR_RUNTIME).
int zf_model_build(zf_onnx_model *out, const char *arch, const zf_build_opts *o, zf_error *err);

// Trainable parameters of the architecture with these options (conv/fc weights and biases,
// BatchNorm scale and shift; not BatchNorm running statistics), computed by running the same builder
// without allocating weights. Cheap even for VGG-16. Also validates the options like zf_model_build.
int zf_model_count_params(int64_t *params, const char *arch, const zf_build_opts *o, zf_error *err);

// NULL-terminated list of the architecture names, in the order of docs/models.md.
const char *const *zf_arch_names(void);
// One line naming the source paper, e.g. "Zeiler & Fergus 2014 (ECCV, arXiv:1311.2901v3), Fig. 3";
// NULL for an unknown name.
const char *zf_arch_paper(const char *arch);

#endif
