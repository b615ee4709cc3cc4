// lenet.c: the small "LeNet" of the Keras MNIST examples (LeCun et al. 1998 in spirit, with ReLU and
// max-pooling): 28x28x1 -> conv 32 5x5 -> pool 2 -> conv 64 5x5 -> pool 2 -> dense 100 -> dense 10.
#include "builder.h"

int zf_build_lenet(zf_builder *b) {
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv1", x, zf_b_ch(b, 32, 1), 5, 1, 0, 1, 1);   // 24x24
    x = zf_b_relu(b, "relu1", x);
    x = zf_b_maxpool(b, "pool1", x, 2, 2, 0, 0);                        // 12x12
    x = zf_b_conv(b, "conv2", x, zf_b_ch(b, 64, 1), 5, 1, 0, 1, 1);   // 8x8
    x = zf_b_relu(b, "relu2", x);
    x = zf_b_maxpool(b, "pool2", x, 2, 2, 0, 0);                        // 4x4
    x = zf_b_flatten(b, "flatten", x);                                  // 1024
    x = zf_b_fc(b, "fc3", x, zf_b_ch(b, 100, 1));
    x = zf_b_relu(b, "relu3", x);
    x = zf_b_fc(b, "fc4", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
