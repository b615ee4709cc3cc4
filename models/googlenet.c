// googlenet.c: GoogLeNet / Inception v1, Szegedy et al. 2015 "Going Deeper with Convolutions" (CVPR,
// arXiv:1409.4842), Table 1 and Fig. 3, at inference (no auxiliary classifiers). As in the paper and
// Caffe's bvlc_googlenet: real 5x5 convs in the 5x5 branch, LRN after pool1 and after conv2 (before
// pool2), ceil-mode 3x3/2 max-pools (112 -> 56 -> 28 -> 14 -> 7), ReLU after every conv including
// the 1x1 reductions, average pool over the final 7x7 map, dropout 0.4, one linear layer.
#include <stdio.h>
#include "builder.h"

// One inception module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3/1 max-pool -> 1x1, concatenated in that
// order (Table 1's columns: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
static zf_bt inception(zf_builder *b, const char *m, zf_bt x, int c1, int r3, int c3, int r5, int c5, int pp) {
    char n[64], r[64];
    zf_bt br[4];
#define CONV_RELU(dst, src, label, ch, k, pad)                                   \
    do {                                                                         \
        snprintf(n, sizeof n, "%s.%s", m, label);                                \
        snprintf(r, sizeof r, "%s.relu_%s", m, label);                           \
        dst = zf_b_relu(b, r, zf_b_conv(b, n, src, zf_b_ch(b, ch, 1), k, 1, pad, 1, 1)); \
    } while (0)
    CONV_RELU(br[0], x, "1x1", c1, 1, 0);
    CONV_RELU(br[1], x, "3x3_reduce", r3, 1, 0);
    CONV_RELU(br[1], br[1], "3x3", c3, 3, 1);
    CONV_RELU(br[2], x, "5x5_reduce", r5, 1, 0);
    CONV_RELU(br[2], br[2], "5x5", c5, 5, 2);
    snprintf(n, sizeof n, "%s.pool", m);
    br[3] = zf_b_maxpool(b, n, x, 3, 1, 1, 0);
    CONV_RELU(br[3], br[3], "pool_proj", pp, 1, 0);
#undef CONV_RELU
    return zf_b_concat(b, m, 4, br);
}

int zf_build_googlenet(zf_builder *b) {
    zf_bt x = zf_b_input(b);
    x = zf_b_conv(b, "conv1", x, zf_b_ch(b, 64, 1), 7, 2, 3, 1, 1);            // 112x112
    x = zf_b_relu(b, "relu1", x);
    x = zf_b_maxpool(b, "pool1", x, 3, 2, 0, 1);                                // 56x56
    x = zf_b_lrn(b, "norm1", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_conv(b, "conv2_reduce", x, zf_b_ch(b, 64, 1), 1, 1, 0, 1, 1);
    x = zf_b_relu(b, "relu2_reduce", x);
    x = zf_b_conv(b, "conv2", x, zf_b_ch(b, 192, 1), 3, 1, 1, 1, 1);
    x = zf_b_relu(b, "relu2", x);
    x = zf_b_lrn(b, "norm2", x, 5, 1e-4f, 0.75f, 1.0f);
    x = zf_b_maxpool(b, "pool2", x, 3, 2, 0, 1);                                // 28x28
    x = inception(b, "inception_3a", x, 64, 96, 128, 16, 32, 32);               // 256
    x = inception(b, "inception_3b", x, 128, 128, 192, 32, 96, 64);             // 480
    x = zf_b_maxpool(b, "pool3", x, 3, 2, 0, 1);                                // 14x14
    x = inception(b, "inception_4a", x, 192, 96, 208, 16, 48, 64);              // 512
    x = inception(b, "inception_4b", x, 160, 112, 224, 24, 64, 64);             // 512
    x = inception(b, "inception_4c", x, 128, 128, 256, 24, 64, 64);             // 512
    x = inception(b, "inception_4d", x, 112, 144, 288, 32, 64, 64);             // 528
    x = inception(b, "inception_4e", x, 256, 160, 320, 32, 128, 128);           // 832
    x = zf_b_maxpool(b, "pool4", x, 3, 2, 0, 1);                                // 7x7
    x = inception(b, "inception_5a", x, 256, 160, 320, 32, 128, 128);           // 832
    x = inception(b, "inception_5b", x, 384, 192, 384, 48, 128, 128);           // 1024
    // The paper's "avg pool 7x7/1": the window is the whole final map (7x7 at 224x224), so other
    // input sizes still end in 1x1.
    x = zf_b_avgpool(b, "pool5", x, (int)x.h, (int)x.w, 1, 0);
    x = zf_b_dropout(b, "drop5", x, 0.4f);
    x = zf_b_flatten(b, "flatten", x);
    x = zf_b_fc(b, "fc", x, b->classes);
    return zf_b_output(b, zf_b_softmax(b, "prob", x));
}
