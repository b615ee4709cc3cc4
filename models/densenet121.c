// densenet121.c: DenseNet-121 (DenseNet-BC), Huang, Liu, van der Maaten & Weinberger 2017 "Densely
// Connected Convolutional Networks" (CVPR, arXiv:1608.06993), Table 1: growth rate k = 32, dense
// blocks of 6-12-24-16 bottleneck layers BN-ReLU-conv1x1(4k)-BN-ReLU-conv3x3(k), each concatenated
// to its input; transitions BN-ReLU-conv1x1 (compression 0.5)-avgpool 2x2/2; stem conv 7x7/2 (2k)
// + BN + ReLU + max-pool 3x3/2; head BN-ReLU-global average pool-fc. Convs have no bias.
// Names follow torchvision's module names (denseblock1.denselayer1.conv1 ...), flattened.
#include <stdio.h>
#include "builder.h"

int zf_build_densenet121(zf_builder *b) {
    static const int layers[4] = {6, 12, 24, 16};
    int64_t k = zf_b_ch(b, 32, 1);
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv0", x, 2 * k, 7, 2, 3, 1, 0);                        // 112x112
    x = zf_b_bn(b, "norm0", x);
    x = zf_b_relu(b, "relu0", x);
    x = zf_b_maxpool(b, "pool0", x, 3, 2, 1, 0);                                // 56x56
    char n[64];
    for (int blk = 1; blk <= 4; blk++) {
        for (int l = 1; l <= layers[blk - 1]; l++) {
            zf_bt y = x;
#define L(part) (snprintf(n, sizeof n, "denseblock%d.denselayer%d.%s", blk, l, part), n)
            y = zf_b_bn(b, L("norm1"), y);
            y = zf_b_relu(b, L("relu1"), y);
            y = zf_b_conv(b, L("conv1"), y, 4 * k, 1, 1, 0, 1, 0);
            y = zf_b_bn(b, L("norm2"), y);
            y = zf_b_relu(b, L("relu2"), y);
            y = zf_b_conv(b, L("conv2"), y, k, 3, 1, 1, 1, 0);
            zf_bt cat[2] = {x, y};
            x = zf_b_concat(b, L("concat"), 2, cat);                            // + k channels
#undef L
        }
        if (blk == 4) break;
#define T(part) (snprintf(n, sizeof n, "transition%d.%s", blk, part), n)
        x = zf_b_bn(b, T("norm"), x);
        x = zf_b_relu(b, T("relu"), x);
        x = zf_b_conv(b, T("conv"), x, x.c / 2 > 0 ? x.c / 2 : 1, 1, 1, 0, 1, 0);   // 28, 14, 7
        x = zf_b_avgpool(b, T("pool"), x, 2, 2, 2, 0);
#undef T
    }
    x = zf_b_bn(b, "norm5", x);
    x = zf_b_relu(b, "relu5", x);
    x = zf_b_global_avgpool(b, "pool5", x);
    x = zf_b_flatten(b, "flatten", x);
    x = zf_b_fc(b, "fc", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
