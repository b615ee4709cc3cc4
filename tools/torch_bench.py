#!/usr/bin/python3
"""PyTorch CPU forward time of one of the seven architectures, for `make bench`'s zfviz/torch ratio.

    /usr/bin/python3 tools/torch_bench.py zfnet --batch 1 --threads 2 --repeat 10
    torch-forward: median 41.2 ms, min 39.8 ms

Same definitions as the reference cases (tools/torch_models.py; paper sizes and widths by default),
float32, eval mode, torch.inference_mode, torch.set_num_threads(T); two untimed warm-up runs.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("arch", choices=torch_models.ARCHS)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--size", type=int, default=None, help="input side (default: the paper's)")
    ap.add_argument("--width-mult", type=float, default=1.0)
    ap.add_argument("--classes", type=int, default=1000)
    args = ap.parse_args()
    if args.batch < 1 or args.threads < 1 or args.repeat < 1:
        ap.error("--batch, --threads and --repeat must be >= 1")

    torch.set_num_threads(args.threads)
    net = torch_models.build(args.arch, args.width_mult, args.size, args.classes)
    size = args.size or torch_models.DEFAULT_SIZE[args.arch]
    cin = torch_models.DEFAULT_IN_CHANNELS.get(args.arch, 3)
    x = torch.randn((args.batch, cin, size, size), generator=torch.Generator().manual_seed(1))
    times = []
    with torch.inference_mode():
        for _ in range(2):
            net(x)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t0) * 1e3)
    print("torch-forward: median %.3f ms, min %.3f ms" % (statistics.median(times), min(times)))


if __name__ == "__main__":
    main()
