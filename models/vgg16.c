// vgg16.c: VGG-16, configuration D of Simonyan & Zisserman 2015 "Very Deep Convolutional Networks
// for Large-Scale Image Recognition" (ICLR, arXiv:1409.1556), Table 1: thirteen 3x3 convs (pad 1,
// stride 1), five 2x2/2 max-pools, fc 4096-4096-classes with dropout 0.5 after fc6 and fc7.
// Caffe layer names (conv1_1 ... conv5_3, fc6 ...).
#include <stdio.h>
#include "builder.h"

int zf_build_vgg16(zf_builder *b) {
    static const int convs[5] = {2, 2, 3, 3, 3};
    static const int width[5] = {64, 128, 256, 512, 512};
    zf_bt x = zf_b_input(b);
    char n[32];
    for (int s = 0; s < 5; s++) {
        for (int i = 1; i <= convs[s]; i++) {
            snprintf(n, sizeof n, "conv%d_%d", s + 1, i);
            x = zf_b_conv(b, n, x, zf_b_ch(b, width[s], 1), 3, 1, 1, 1, 1);
            snprintf(n, sizeof n, "relu%d_%d", s + 1, i);
            x = zf_b_relu(b, n, x);
        }
        snprintf(n, sizeof n, "pool%d", s + 1);
        x = zf_b_maxpool(b, n, x, 2, 2, 0, 0);                           // 112, 56, 28, 14, 7
    }
    x = zf_b_flatten(b, "flatten", x);                                   // 25088
    x = zf_b_fc(b, "fc6", x, zf_b_ch(b, 4096, 1));
    x = zf_b_relu(b, "relu6", x);
    x = zf_b_dropout(b, "drop6", x, 0.5f);
    x = zf_b_fc(b, "fc7", x, zf_b_ch(b, 4096, 1));
    x = zf_b_relu(b, "relu7", x);
    x = zf_b_dropout(b, "drop7", x, 0.5f);
    x = zf_b_fc(b, "fc8", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
