// zfnet.c: ZFNet, Zeiler & Fergus 2014 "Visualizing and Understanding Convolutional Networks"
// (ECCV / arXiv:1311.2901v3), Fig. 3. The paper gives sizes, not paddings; these reproduce them at
// 224x224: conv1 pad 1 -> 110, ceil-mode pool -> 55, conv2 pad 0 -> 26, ceil-mode pool -> 13,
// conv3-5 pad 1 -> 13, floor pool -> 6. Dense conv3-5 (the paper drops AlexNet's GPU split).
// The paper gives no contrast-normalization constants: LRN follows AlexNet (5, 1e-4, 0.75, 1).
#include "builder.h"

int zf_build_zfnet(zf_builder *b) {
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv1", x, zf_b_ch(b, 96, 1), 7, 2, 1, 1, 1);     // 110x110
    x = zf_b_relu(b, "relu1", x);
    x = zf_b_maxpool(b, "pool1", x, 3, 2, 0, 1);                         // 55x55
    x = zf_b_lrn(b, "norm1", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_conv(b, "conv2", x, zf_b_ch(b, 256, 1), 5, 2, 0, 1, 1);    // 26x26
    x = zf_b_relu(b, "relu2", x);
    x = zf_b_maxpool(b, "pool2", x, 3, 2, 0, 1);                         // 13x13
    x = zf_b_lrn(b, "norm2", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_conv(b, "conv3", x, zf_b_ch(b, 384, 1), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu3", x);
    x = zf_b_conv(b, "conv4", x, zf_b_ch(b, 384, 1), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu4", x);
    x = zf_b_conv(b, "conv5", x, zf_b_ch(b, 256, 1), 3, 1, 1, 1, 1);   // 13x13
    x = zf_b_relu(b, "relu5", x);
    x = zf_b_maxpool(b, "pool5", x, 3, 2, 0, 0);                         // 6x6
    x = zf_b_flatten(b, "flatten", x);                                   // 9216
    x = zf_b_fc(b, "fc6", x, zf_b_ch(b, 4096, 1));
    x = zf_b_relu(b, "relu6", x);
    x = zf_b_dropout(b, "drop6", x, 0.5f);
    x = zf_b_fc(b, "fc7", x, zf_b_ch(b, 4096, 1));
    x = zf_b_relu(b, "relu7", x);
    x = zf_b_dropout(b, "drop7", x, 0.5f);
    x = zf_b_fc(b, "fc8", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
