// builder.h: layer helpers the architecture files use to emit ONNX nodes (internal to models/).
//
//   zf_builder *b = ...;                                    // set up by registry.c
//   zf_bt x = zf_b_input(b);                                // "input" (N,C,H,W)
//   x = zf_b_conv(b, "conv1", x, 96, 7, 2, 1, 1, 1);        // 96 filters 7x7, stride 2, pad 1, bias
//   x = zf_b_relu(b, "relu1", x);
//   x = zf_b_maxpool(b, "pool1", x, 3, 2, 0, 1);            // 3x3 stride 2, ceil mode
//   ...
//   return zf_b_output(b, zf_b_softmax(b, "prob", zf_b_fc(b, "fc8", x, b->classes)));
//
// Each helper adds one node whose name equals its output tensor name, tracks the output shape (so
// FC widths follow the real map size and a too small input is reported by layer name), counts
// trainable parameters, and draws weights from a stream seeded by (seed, tensor name).
// Errors are sticky: after the first failure every helper returns its input unchanged and does
// nothing, so architecture code reads as a plain layer list; registry.c checks b->status once.
// In dry mode (b->m == NULL) nothing is emitted or allocated: only shapes and counts are tracked.
#ifndef ZF_MODELS_BUILDER_H
#define ZF_MODELS_BUILDER_H
#include <stddef.h>   // core/error.h uses size_t without including it
#include <stdint.h>
#include "core/error.h"
#include "core/onnx/onnx.h"

#define ZF_BT_NAME 128

// A tensor handle: name and shape without the batch axis; (c,h,w) for maps, (c) after flatten.
typedef struct zf_bt {
    char name[ZF_BT_NAME];
    int ndim;             // 4: (N,c,h,w); 2: (N,c)
    int64_t c, h, w;
} zf_bt;

typedef struct zf_builder {
    zf_onnx_model *m;     // NULL: dry run (shapes and parameter counts only)
    const char *arch;
    uint64_t seed;
    int classes, channels, height, width;
    double width_mult;
    int64_t params;       // trainable parameters so far
    int status;           // first error code (0 = fine)
    zf_error *err;
} zf_builder;

// Channel count c scaled by width_mult, rounded to a multiple of `multiple` (for grouped convs),
// at least `multiple`. Exactly c when width_mult == 1 and c is a multiple.
int64_t zf_b_ch(const zf_builder *b, int64_t c, int64_t multiple);

// The graph input "input" (N, channels, height, width), batch symbolic "N".
zf_bt zf_b_input(zf_builder *b);
// Declares t as the graph output (N, c) with symbolic batch. Returns b->status.
int zf_b_output(zf_builder *b, zf_bt t);

// in (N,C,H,W), weight (out_ch, C/group, k, k), bias (out_ch) if `bias` -> (N,out_ch,OH,OW),
// OH = (H + 2 pad - k) / stride + 1. He-normal weights (std sqrt(2 / fan_in)), zero bias.
zf_bt zf_b_conv(zf_builder *b, const char *name, zf_bt in, int64_t out_ch, int k, int stride, int pad,
                int group, int bias);
// in (N,C,H,W) -> (N,C,OH,OW); ceil_mode rounds the window count up (Caffe's pooling arithmetic).
zf_bt zf_b_maxpool(zf_builder *b, const char *name, zf_bt in, int k, int stride, int pad, int ceil_mode);
// Average pool with a kh x kw window (padding excluded from the count).
zf_bt zf_b_avgpool(zf_builder *b, const char *name, zf_bt in, int kh, int kw, int stride, int pad);
// in (N,C,H,W) -> (N,C,1,1)
zf_bt zf_b_global_avgpool(zf_builder *b, const char *name, zf_bt in);
// ONNX LRN: in / (bias + alpha/size * sum of squares over `size` channels)^beta (Caffe's convention).
zf_bt zf_b_lrn(zf_builder *b, const char *name, zf_bt in, int size, float alpha, float beta, float bias);
// Inference BatchNormalization, epsilon 1e-5; scale 1, shift 0, mean 0, variance 1.
zf_bt zf_b_bn(zf_builder *b, const char *name, zf_bt in);
zf_bt zf_b_relu(zf_builder *b, const char *name, zf_bt in);
// Dropout with its ratio as a scalar initializer "<name>.ratio" (identity at inference).
zf_bt zf_b_dropout(zf_builder *b, const char *name, zf_bt in, float ratio);
// in (N,C,H,W) -> (N, C*H*W)
zf_bt zf_b_flatten(zf_builder *b, const char *name, zf_bt in);
// Gemm with transB = 1: in (N,K), weight (out,K), bias (out) -> (N,out). He-normal weights.
zf_bt zf_b_fc(zf_builder *b, const char *name, zf_bt in, int64_t out);
// Channel concatenation of n maps of equal H,W.
zf_bt zf_b_concat(zf_builder *b, const char *name, int n, const zf_bt *in);
// Elementwise sum of two equal shapes (residual connection).
zf_bt zf_b_add(zf_builder *b, const char *name, zf_bt a, zf_bt c);
// Softmax over axis 1 of (N, C).
zf_bt zf_b_softmax(zf_builder *b, const char *name, zf_bt in);

// Records an error (first one wins) and returns it. printf-style message without the arch prefix.
int zf_b_fail(zf_builder *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// Architecture bodies (one file each); registry.c calls them.
int zf_build_lenet(zf_builder *b);
int zf_build_alexnet(zf_builder *b);
int zf_build_zfnet(zf_builder *b);
int zf_build_vgg16(zf_builder *b);
int zf_build_googlenet(zf_builder *b);
int zf_build_resnet50(zf_builder *b);
int zf_build_densenet121(zf_builder *b);
int zf_build_zf28(zf_builder *b);

#endif
