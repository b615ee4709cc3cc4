#!/usr/bin/python3
"""PyTorch CPU training of LeNet on Fashion-MNIST, the peer `make bench` times zfviz train against.

    /usr/bin/python3 tools/torch_train.py --batch 128 --threads 2 --epochs 1
    torch-train: epoch 1: 41.3 s, loss 0.5432, accuracy 80.12%
    torch-train: median epoch 41.3 s

The same network as models/lenet.c (tools/torch_models.py: conv 32 5x5, pool, conv 64 5x5, pool,
fc 100, fc 10), the same recipe as zfviz train's defaults: SGD lr 1e-2, momentum 0.9, weight decay
5e-4 on weights only, softmax cross-entropy, full batches of a shuffled order, raw pixels 0..1. The
timed loop is what an epoch of `zfviz train` does (batch assembly from the decoded uint8 images,
forward, loss, backward, update); decoding the .gz files is not timed (zfviz does it once too).
torch.set_num_threads(T); float32.
"""
import argparse
import gzip
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402

DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="first N training images (0: all 60000)")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(os.path.join(DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DIR, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    images_t = torch.from_numpy(images.copy())
    labels_t = torch.from_numpy(labels.copy())
    net = torch_models.build("lenet", 1.0, 28, 10)
    net.train()
    decay = [p for p in net.parameters() if p.dim() >= 2]
    no_decay = [p for p in net.parameters() if p.dim() < 2]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9)
    n = len(labels)
    steps = n // args.batch
    times = []
    for e in range(1, args.epochs + 1):
        order = torch.randperm(n)
        t0 = time.perf_counter()
        total, right = 0.0, 0
        for s in range(steps):
            idx = order[s * args.batch:(s + 1) * args.batch]
            x = images_t[idx].unsqueeze(1).float().div_(255.0)
            y = labels_t[idx]
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            right += (logits.argmax(1) == y).sum().item()
        dt = time.perf_counter() - t0
        times.append(dt)
        print("torch-train: epoch %d: %.2f s, loss %.4f, accuracy %.2f%%" %
              (e, dt, total / (steps * args.batch), 100.0 * right / (steps * args.batch)), flush=True)
    print("torch-train: median epoch %.2f s" % statistics.median(times))


if __name__ == "__main__":
    main()
