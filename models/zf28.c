// zf28.c: a ZF-style network for 28x28 one-channel images (Fashion-MNIST): the recipe of Zeiler &
// Fergus 2014 (ECCV / arXiv:1311.2901v3, fig. 3) scaled down. Five convolutions; overlapping 3x3
// stride-2 max-pools with switches after conv1, conv2 (ceil mode, as ZFNet's first two) and conv5;
// LRN after the first two pools; two hidden fully connected layers with dropout 0.5. At 28x28 the
// first layers keep stride 1 (ZFNet's conv1/conv2 use stride 2 on 224x224 images): 28 -> 14 -> 7 -> 3.
// Widths (32, 64, 64, 64, 64, fc 128) keep a training epoch on two cores to minutes and the model
// near 1 MB; docs/training.md has the accuracy it reaches.
#include "builder.h"

int zf_build_zf28(zf_builder *b) {
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv1", x, zf_b_ch(b, 32, 1), 5, 1, 2, 1, 1);     // 28x28
    x = zf_b_relu(b, "relu1", x);
    x = zf_b_maxpool(b, "pool1", x, 3, 2, 0, 1);                         // 14x14
    x = zf_b_lrn(b, "norm1", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_conv(b, "conv2", x, zf_b_ch(b, 64, 1), 5, 1, 2, 1, 1);     // 14x14
    x = zf_b_relu(b, "relu2", x);
    x = zf_b_maxpool(b, "pool2", x, 3, 2, 0, 1);                         // 7x7
    x = zf_b_lrn(b, "norm2", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_conv(b, "conv3", x, zf_b_ch(b, 64, 1), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu3", x);
    x = zf_b_conv(b, "conv4", x, zf_b_ch(b, 64, 1), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu4", x);
    x = zf_b_conv(b, "conv5", x, zf_b_ch(b, 64, 1), 3, 1, 1, 1, 1);     // 7x7
    x = zf_b_relu(b, "relu5", x);
    x = zf_b_maxpool(b, "pool5", x, 3, 2, 0, 0);                         // 3x3
    x = zf_b_flatten(b, "flatten", x);                                   // 576
    x = zf_b_fc(b, "fc6", x, zf_b_ch(b, 128, 1));
    x = zf_b_relu(b, "relu6", x);
    x = zf_b_dropout(b, "drop6", x, 0.5f);
    x = zf_b_fc(b, "fc7", x, zf_b_ch(b, 128, 1));
    x = zf_b_relu(b, "relu7", x);
    x = zf_b_dropout(b, "drop7", x, 0.5f);
    x = zf_b_fc(b, "fc8", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
