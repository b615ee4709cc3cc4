// alexnet.c: AlexNet (Krizhevsky, Sutskever & Hinton 2012) in the BVLC Caffe form "bvlc_alexnet":
// 227x227 input, LRN before pooling (conv-relu-norm-pool, as in the paper; CaffeNet swaps them),
// grouped conv2/conv4/conv5 (the paper's two-GPU split). LRN constants as in the BVLC prototxt:
// local_size 5, alpha 1e-4 (divided by the size, ONNX/Caffe convention), beta 0.75, k 1.
#include "builder.h"

int zf_build_alexnet(zf_builder *b) {
    // Every conv width is kept even: conv2, conv4 and conv5 split their input and output in 2 groups.
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv1", x, zf_b_ch(b, 96, 2), 11, 4, 0, 1, 1);    // 55x55
    x = zf_b_relu(b, "relu1", x);
    x = zf_b_lrn(b, "norm1", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_maxpool(b, "pool1", x, 3, 2, 0, 0);                         // 27x27
    x = zf_b_conv(b, "conv2", x, zf_b_ch(b, 256, 2), 5, 1, 2, 2, 1);    // 27x27
    x = zf_b_relu(b, "relu2", x);
    x = zf_b_lrn(b, "norm2", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_maxpool(b, "pool2", x, 3, 2, 0, 0);                         // 13x13
    x = zf_b_conv(b, "conv3", x, zf_b_ch(b, 384, 2), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu3", x);
    x = zf_b_conv(b, "conv4", x, zf_b_ch(b, 384, 2), 3, 1, 1, 2, 1);
    x = zf_b_relu(b, "relu4", x);
    x = zf_b_conv(b, "conv5", x, zf_b_ch(b, 256, 2), 3, 1, 1, 2, 1);
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
