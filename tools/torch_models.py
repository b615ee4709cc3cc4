"""PyTorch definitions of the seven classic CNNs zfviz cross-checks against (test oracle only).

    import torch_models as tm
    net = tm.build("zfnet", width_mult=0.25, size=96, classes=10, in_channels=3, seed=0)
    x = torch.randn(1, 3, 96, 96)
    y = net(x)                     # eval() mode, BatchNorm with non-trivial running statistics

Each builder follows its paper (and the layer specs zfviz's models/ builders use):
  lenet        Keras-style LeNet: conv 32 5x5, relu, pool 2, conv 64 5x5, relu, pool 2, fc 100, fc C
  alexnet      bvlc_alexnet (227 input): grouped conv2/4/5, LRN(5, 1e-4, 0.75, k=1) after conv1/conv2
  zfnet        Zeiler & Fergus 2014 v3 fig. 3: conv1 7x7/2 p1, ceil-mode pools 1-2, LRN after them
  vgg16        Simonyan & Zisserman config D (same as torchvision vgg16 minus its adaptive avg-pool,
               which is the identity at 224)
  googlenet    Szegedy et al. 2014 Inception v1 with real 5x5 branches (torchvision uses 3x3), LRN
               after the stem pools, ceil-mode pools as in bvlc_googlenet, no auxiliary heads
  resnet50     He et al. 2016 bottleneck ResNet-50, v1.5 (stride on the 3x3 conv, as torchvision)
  densenet121  torchvision's DenseNet-121 (growth 32, blocks 6-12-24-16, bn_size 4)

width_mult scales every channel count (and the hidden fc widths, unless fc_mult is given: the 4096-wide
fc layers dominate the size of small AlexNet/ZFNet/VGG cases) so that small reference cases exist;
size is the input side; classes the output size; in_channels the input depth. Weights are He-normal with
small biases (so deep activations stay O(1) and depend on the input, not only on biases), and every
BatchNorm gets a random affine transform and running statistics measured on a random batch
(see calibrate_batchnorm).
"""
import math

import torch
import torch.nn as nn

ARCHS = ("lenet", "alexnet", "zfnet", "vgg16", "googlenet", "resnet50", "densenet121")

# Paper input sides (lenet: MNIST-sized).
DEFAULT_SIZE = {"lenet": 28, "alexnet": 227, "zfnet": 224, "vgg16": 224, "googlenet": 224,
                "resnet50": 224, "densenet121": 224}
DEFAULT_IN_CHANNELS = {"lenet": 1}


def ch(c, w, multiple=1):
    """Scaled channel count, at least `multiple`, rounded to a multiple of `multiple` (groups)."""
    v = max(1, int(round(c * w / multiple))) * multiple
    return v


def lrn():
    # Caffe/bvlc: local_size 5, alpha 1e-4, beta 0.75, k 1 (torch, like Caffe and ONNX, divides alpha by size).
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


def flat_features(features, in_channels, size):
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, size, size)).numel()


class Plain(nn.Module):
    """features -> flatten -> classifier (LeNet, AlexNet, ZFNet, VGG)."""

    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.flatten = nn.Flatten(1)
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def lenet(width_mult=1.0, size=28, classes=10, in_channels=1, fc_mult=None):
    c1, c2, fc = ch(32, width_mult), ch(64, width_mult), ch(100, fc_mult or width_mult)
    features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2))
    n = flat_features(features, in_channels, size)
    return Plain(features, nn.Sequential(nn.Linear(n, fc), nn.ReLU(), nn.Linear(fc, classes)))


def classifier_4096(n, fc_mult, classes):
    f = ch(4096, fc_mult)
    return nn.Sequential(nn.Linear(n, f), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(f, f), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(f, classes))


def alexnet(width_mult=1.0, size=227, classes=1000, in_channels=3, fc_mult=None):
    w = width_mult
    c1, c2, c3, c4, c5 = ch(96, w, 2), ch(256, w, 2), ch(384, w, 2), ch(384, w, 2), ch(256, w, 2)
    features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c1, c2, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c4, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(c4, c5, 3, padding=1, groups=2), nn.ReLU(),
        nn.MaxPool2d(3, 2))
    n = flat_features(features, in_channels, size)
    return Plain(features, classifier_4096(n, fc_mult or w, classes))


def zfnet(width_mult=1.0, size=224, classes=1000, in_channels=3, fc_mult=None):
    w = width_mult
    c1, c2, c3, c4, c5 = ch(96, w), ch(256, w), ch(384, w), ch(384, w), ch(256, w)
    features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 7, stride=2, padding=1), nn.ReLU(),      # 224 -> 110
        nn.MaxPool2d(3, 2, ceil_mode=True), lrn(),                          # -> 55
        nn.Conv2d(c1, c2, 5, stride=2), nn.ReLU(),                          # -> 26
        nn.MaxPool2d(3, 2, ceil_mode=True), lrn(),                          # -> 13
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(3, 2))                                                 # -> 6
    n = flat_features(features, in_channels, size)
    return Plain(features, classifier_4096(n, fc_mult or w, classes))


def vgg16(width_mult=1.0, size=224, classes=1000, in_channels=3, fc_mult=None):
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, c = [], in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            o = ch(v, width_mult)
            layers += [nn.Conv2d(c, o, 3, padding=1), nn.ReLU()]
            c = o
    features = nn.Sequential(*layers)
    n = flat_features(features, in_channels, size)
    return Plain(features, classifier_4096(n, fc_mult or width_mult, classes))


class BasicConv(nn.Module):
    """conv + relu (GoogLeNet has no BatchNorm: the 2014 network predates it)."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.branch1 = BasicConv(cin, c1, 1)
        self.branch2 = nn.Sequential(BasicConv(cin, c3r, 1), BasicConv(c3r, c3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv(cin, c5r, 1), BasicConv(c5r, c5, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), BasicConv(cin, cp, 1))
        self.out_channels = c1 + c3 + c5 + cp

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    # Table 1 of Szegedy et al. 2014: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
    CFG = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
           "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
           "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
           "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
           "5b": (384, 192, 384, 48, 128, 128)}

    def __init__(self, width_mult=1.0, classes=1000, in_channels=3):
        super().__init__()
        w = width_mult
        c64, c192 = ch(64, w), ch(192, w)
        self.conv1 = BasicConv(in_channels, c64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.lrn1 = lrn()
        self.conv2 = BasicConv(c64, c64, 1)
        self.conv3 = BasicConv(c64, c192, 3, padding=1)
        self.lrn2 = lrn()
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        c = c192
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            m = Inception(c, *[ch(v, w) for v in self.CFG[name]])
            setattr(self, "inception" + name, m)
            c = m.out_channels
            if name == "3b":
                self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
            if name == "4e":
                self.maxpool4 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)   # the paper's 7x7 average pool at 224 input
        self.flatten = nn.Flatten(1)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.inception3b(self.inception3a(x))
        x = self.maxpool3(x)
        for n in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, "inception" + n)(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(self.flatten(self.avgpool(x))))


def googlenet(width_mult=1.0, size=224, classes=1000, in_channels=3, fc_mult=None):
    return GoogLeNet(width_mult, classes, in_channels)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: 1x1, 3x3 (carries the stride), 1x1 x4; one ReLU module per use."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu3 = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu3(out + identity)


class ResNet50(nn.Module):
    def __init__(self, width_mult=1.0, classes=1000, in_channels=3):
        super().__init__()
        c = ch(64, width_mult)
        self.conv1 = nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        for i, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            wd = ch(width, width_mult)
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(c, wd, stride if b == 0 else 1))
                c = wd * 4
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


def resnet50(width_mult=1.0, size=224, classes=1000, in_channels=3, fc_mult=None):
    return ResNet50(width_mult, classes, in_channels)


def densenet121(width_mult=1.0, size=224, classes=1000, in_channels=3, fc_mult=None):
    import torchvision
    init = ch(64, width_mult)
    net = torchvision.models.DenseNet(growth_rate=ch(32, width_mult), block_config=(6, 12, 24, 16),
                                      num_init_features=init, bn_size=4, num_classes=classes)
    if in_channels != 3:
        net.features.conv0 = nn.Conv2d(in_channels, init, 7, stride=2, padding=3, bias=False)
    return net


BUILDERS = {"lenet": lenet, "alexnet": alexnet, "zfnet": zfnet, "vgg16": vgg16,
            "googlenet": googlenet, "resnet50": resnet50, "densenet121": densenet121}


def init_weights(net, gen):
    """He-normal conv/linear weights, small uniform biases, random BatchNorm affine transforms."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.2)
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.4)
        elif isinstance(m, nn.ReLU):
            m.inplace = False     # forward hooks must see each module's own output
    for m in net.modules():
        if isinstance(m, Bottleneck):
            # Residual branches start small (as trained ResNets' last BN scales are, and as
            # torchvision's zero_init_residual makes them): the identity path carries the signal,
            # so rounding errors do not grow block after block.
            with torch.no_grad():
                m.bn3.weight.mul_(0.3)


def calibrate_batchnorm(net, in_channels, size, gen, batch=4):
    """Running statistics measured on a random batch, one BatchNorm at a time in execution order
    (a pre-hook sets each layer's statistics from its actual input, after the earlier layers are
    final). Each channel gets running_mean = c * mean with c uniform in [0, 0.5] and running_var =
    the second moment about that mean, so outputs have unit second moment but are not centered.
    Full centering would amplify small perturbations by ~1.2 per BatchNorm (the ReLU mean removed
    each time), making a 50-layer random network too ill-conditioned for a 1e-4 float32 test."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return

    def set_stats(m, inp):
        x = inp[0].detach()
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dim=dims)
        c = torch.rand(mean.shape, generator=gen) * 0.5
        rm = c * mean
        shape = [1, -1] + [1] * (x.dim() - 2)
        rv = ((x - rm.reshape(shape)) ** 2).mean(dim=dims)
        m.running_mean.copy_(rm)
        m.running_var.copy_(rv)

    hooks = [m.register_forward_pre_hook(set_stats) for m in bns]
    net.eval()
    with torch.no_grad():
        net(torch.randn((batch, in_channels, size, size), generator=gen))
    for h in hooks:
        h.remove()


def build(arch, width_mult=1.0, size=None, classes=1000, in_channels=None, seed=0, fc_mult=None):
    if arch not in BUILDERS:
        raise ValueError("unknown architecture %r (one of %s)" % (arch, ", ".join(ARCHS)))
    size = size or DEFAULT_SIZE[arch]
    in_channels = in_channels or DEFAULT_IN_CHANNELS.get(arch, 3)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = BUILDERS[arch](width_mult=width_mult, size=size, classes=classes, in_channels=in_channels,
                         fc_mult=fc_mult)
    init_weights(net, gen)
    calibrate_batchnorm(net, in_channels, size, gen)
    net.eval()
    return net
