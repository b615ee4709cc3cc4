// resnet50.c: ResNet-50, He, Zhang, Ren & Sun 2016 "Deep Residual Learning for Image Recognition"
// (CVPR, arXiv:1512.03385), Table 1 with the bottleneck blocks of Fig. 5: [3, 4, 6, 3] blocks of
// 1x1 -> 3x3 -> 1x1 (x4 expansion), conv-BN-ReLU order, ReLU after the addition, projection
// shortcuts (1x1 conv + BN, option B) where the shape changes. Stride 2 sits on the first 1x1 conv
// of stages 3-5, as in the paper and the authors' Caffe models (torchvision's "v1.5" puts it on the
// 3x3; same parameter count). Layer names follow the authors' Caffe prototxt (res2a_branch2a, ...).
#include <stdio.h>
#include "builder.h"

static zf_bt conv_bn(zf_builder *b, zf_bt x, const char *conv, const char *bn, int64_t ch, int k, int stride,
                     int pad) {
    return zf_b_bn(b, bn, zf_b_conv(b, conv, x, ch, k, stride, pad, 1, 0));
}

// Block `id` (e.g. "3a"): out = relu(F(x) + shortcut(x)), F = 1x1 (mid, stride) -> 3x3 (mid) -> 1x1 (4 mid).
static zf_bt bottleneck(zf_builder *b, const char *id, zf_bt x, int64_t mid, int stride, int project) {
    char c[64], n[64];
    zf_bt f = x, s = x;
    static const char *const part[3] = {"2a", "2b", "2c"};
    for (int i = 0; i < 3; i++) {
        snprintf(c, sizeof c, "res%s_branch%s", id, part[i]);
        snprintf(n, sizeof n, "bn%s_branch%s", id, part[i]);
        if (i == 0) f = conv_bn(b, f, c, n, mid, 1, stride, 0);
        else if (i == 1) f = conv_bn(b, f, c, n, mid, 3, 1, 1);
        else f = conv_bn(b, f, c, n, 4 * mid, 1, 1, 0);
        if (i < 2) {
            snprintf(n, sizeof n, "res%s_branch%s_relu", id, part[i]);
            f = zf_b_relu(b, n, f);
        }
    }
    if (project) {
        snprintf(c, sizeof c, "res%s_branch1", id);
        snprintf(n, sizeof n, "bn%s_branch1", id);
        s = conv_bn(b, x, c, n, 4 * mid, 1, stride, 0);
    }
    snprintf(n, sizeof n, "res%s", id);
    zf_bt y = zf_b_add(b, n, f, s);
    snprintf(n, sizeof n, "res%s_relu", id);
    return zf_b_relu(b, n, y);
}

int zf_build_resnet50(zf_builder *b) {
    static const int blocks[4] = {3, 4, 6, 3};
    zf_bt x = zf_b_input(b);
    x = conv_bn(b, x, "conv1", "bn_conv1", zf_b_ch(b, 64, 1), 7, 2, 3);       // 112x112
    x = zf_b_relu(b, "conv1_relu", x);
    x = zf_b_maxpool(b, "pool1", x, 3, 2, 1, 0);                                // 56x56
    for (int s = 0; s < 4; s++) {
        int64_t mid = zf_b_ch(b, 64LL << s, 1);
        for (int i = 0; i < blocks[s]; i++) {
            char id[8];
            snprintf(id, sizeof id, "%d%c", s + 2, 'a' + i);
            // The first block of every stage changes the width (and, from stage 3, halves the map).
            x = bottleneck(b, id, x, mid, i == 0 && s > 0 ? 2 : 1, i == 0);
        }
    }
    x = zf_b_global_avgpool(b, "pool5", x);
    x = zf_b_flatten(b, "flatten", x);
    x = zf_b_fc(b, "fc", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
