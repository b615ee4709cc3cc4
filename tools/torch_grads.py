#!/usr/bin/python3
"""PyTorch's gradients of LeNet on one batch: the reference tests/test_train.c compares zfviz's
backward pass with (tests/refs-grad/lenet).

    /usr/bin/python3 tools/torch_grads.py --zfviz build/zfviz -o tests/refs-grad/lenet
    -> input.pb (16,1,28,28), labels.pb (16) int64, meta.pb [width_mult, seed, loss],
       grad-conv1.weight.pb ... grad-fc4.bias.pb (TensorProto, float32)

The weights are zfviz's own: `zfviz export --arch lenet --width-mult W --seed S` writes them and
this script loads them into PyTorch's LeNet (tools/torch_models.py, the same layers), so the test
rebuilds the identical model from (W, S) and nothing but the batch and the gradients is stored.
The batch is the first 16 Fashion-MNIST test images (raw pixels 0..1) with their labels. The loss
is the mean softmax cross-entropy of the logits (nn.CrossEntropyLoss), computed with the model in
float64 from the float32 weights and input, so the references carry no float32 rounding of their own.
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper as nph
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402

DIR = "/usr/share/datasets/fashion-mnist"
# zfviz's LeNet parameter names in PyTorch's parameter order (features.0, features.3, classifier.0, .2).
NAMES = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc3.weight", "fc3.bias", "fc4.weight",
         "fc4.bias"]


def read_idx(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)[:count]


def save(path, arr, name):
    with open(path, "wb") as f:
        f.write(nph.from_array(arr, name).SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zfviz", default="build/zfviz", help="the zfviz binary (exports the weights)")
    ap.add_argument("--width-mult", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("-o", "--output", default="tests/refs-grad/lenet")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lenet.onnx")
        subprocess.run([args.zfviz, "export", "--arch", "lenet", "--width-mult", str(args.width_mult), "--seed",
                        str(args.seed), "--classes", "10", "-o", path], check=True, stdout=subprocess.DEVNULL)
        inits = {t.name: nph.to_array(t) for t in onnx.load(path).graph.initializer}

    net = torch_models.build("lenet", args.width_mult, 28, 10).double()
    params = list(net.parameters())
    assert len(params) == len(NAMES), "LeNet layout changed"
    with torch.no_grad():
        for p, name in zip(params, NAMES):
            w = inits[name]
            assert tuple(p.shape) == w.shape, "%s: torch %s, zfviz %s" % (name, tuple(p.shape), w.shape)
            p.copy_(torch.from_numpy(w.astype(np.float64)))

    images = read_idx(os.path.join(DIR, "t10k-images-idx3-ubyte.gz"), args.batch)
    labels = read_idx(os.path.join(DIR, "t10k-labels-idx1-ubyte.gz"), args.batch).astype(np.int64)
    x32 = (images.astype(np.float32) / np.float32(255)).reshape(args.batch, 1, 28, 28)
    net.train()
    logits = net(torch.from_numpy(x32.astype(np.float64)))
    loss = F.cross_entropy(logits, torch.from_numpy(labels))
    net.zero_grad()
    loss.backward()

    os.makedirs(args.output, exist_ok=True)
    save(os.path.join(args.output, "input.pb"), x32, "input")
    save(os.path.join(args.output, "labels.pb"), labels, "labels")
    save(os.path.join(args.output, "meta.pb"),
         np.array([args.width_mult, args.seed, loss.item()], dtype=np.float32), "width_mult,seed,loss")
    for p, name in zip(params, NAMES):
        save(os.path.join(args.output, "grad-%s.pb" % name), p.grad.numpy().astype(np.float32), name)
    print("loss %.8f; wrote %s" % (loss.item(), args.output))


if __name__ == "__main__":
    main()
