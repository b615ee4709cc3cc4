#!/usr/bin/python3
"""Captum-style occlusion in PyTorch: the reference maps for tests/test_occlude.c, and the PyTorch
timing for `make bench` (tools/bench.d/occlusion.sh).

    /usr/bin/python3 tools/torch_occlusion.py refs lenet --width-mult 0.25 --size 28 --patch 7 --stride 3 \
        -o tests/refs-occlusion/lenet
    -> model.onnx, input.pb (1,C,H,W), params.txt, prob.pb and logit.pb (H,W)
    /usr/bin/python3 tools/torch_occlusion.py bench zfnet --patch 32 --stride 8 --per-eval 16 --threads 2
    torch-occlusion: 625 positions in 33.1 s (52.9 ms per position)

The window rule and the averaging are Captum's `Occlusion.attribute` (captum/attr/_core/occlusion.py,
which is not installed here, so it is written out): per axis ceil((D - P) / S) + 1 windows starting
at k*S, the last one clipped at the border (F.pad with a negative amount); the occluded input is
x * (1 - M) + baseline * M; the attribution of a pixel is the sum of (f(x) - f(occluded)) over the
windows covering it divided by their number. `perturbations_per_eval` positions go through the
network as one batch. References are computed in float64 from the float32 weights and input that
the ONNX file holds, so they carry no float32 error of their own. f is the target's logit (the
models end in a Linear layer) and, second map, its softmax probability.
"""
import argparse
import math
import os
import sys
import time
import warnings

import numpy as np
import onnx.numpy_helper as nph
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def positions(d, p, s):
    p = min(p, d)
    return [k * s for k in range(int(math.ceil((d - p) / s)) + 1)]


def occlusion(net, x, patch, stride, baseline, target, per_eval, limit=0):
    """Per-position target logits and probabilities, and Captum's averaged maps of clean - occluded.
    limit > 0: only the first `limit` positions (timing runs; the maps are then partial)."""
    _, c, h, w = x.shape
    ys, xs = positions(h, patch, stride), positions(w, patch, stride)
    with torch.no_grad():
        clean = net(x)[0]
        pos = [(y, x0) for y in ys for x0 in xs]
        if limit > 0:
            pos = pos[:limit]
        logits, probs = [], []
        for i in range(0, len(pos), per_eval):
            chunk = pos[i:i + per_eval]
            mask = torch.zeros((len(chunk), 1, h, w), dtype=x.dtype)
            for j, (y, x0) in enumerate(chunk):
                mask[j, :, y:y + patch, x0:x0 + patch] = 1     # slicing clips at the border
            out = net(x * (1 - mask) + baseline * mask)
            logits.append(out[:, target])
            probs.append(torch.softmax(out, dim=1)[:, target])
        logits, probs = torch.cat(logits), torch.cat(probs)
    clean_logit, clean_prob = clean[target], torch.softmax(clean, dim=0)[target]
    maps = []
    for clean_v, occ in ((clean_prob, probs), (clean_logit, logits)):
        total = torch.zeros((h, w), dtype=torch.float64)
        count = torch.full((h, w), 1e-30 if limit else 0.0, dtype=torch.float64)
        for k, (y, x0) in enumerate(pos):
            total[y:y + patch, x0:x0 + patch] += float(clean_v - occ[k])
            count[y:y + patch, x0:x0 + patch] += 1
        maps.append((total / count).numpy())
    return maps, len(ys), len(xs)


def cmd_refs(args):
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    net = torch_models.build(args.arch, args.width_mult, args.size, args.classes, None, args.seed, args.fc_mult)
    size = args.size or torch_models.DEFAULT_SIZE[args.arch]
    cin = torch_models.DEFAULT_IN_CHANNELS.get(args.arch, 3)
    gen = torch.Generator().manual_seed(args.seed + 1)
    # A smooth pattern plus noise: squares change the output by different amounts.
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    x = torch.stack([torch.sin(0.3 * yy + c) * torch.cos(0.2 * xx) for c in range(cin)])[None]
    x = x + 0.5 * torch.randn(x.shape, generator=gen)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, onnx_path, opset_version=13, do_constant_folding=True, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with open(os.path.join(args.out, "input.pb"), "wb") as f:
        f.write(nph.from_array(x.numpy().astype(np.float32), "input").SerializeToString())
    net64 = net.double()
    x64 = x.double()
    with torch.no_grad():
        target = int(net64(x64)[0].argmax())
    (prob, logit), ny, nx = occlusion(net64, x64, args.patch, args.stride, args.fill, target, args.per_eval)
    for name, m in (("prob", prob), ("logit", logit)):
        with open(os.path.join(args.out, name + ".pb"), "wb") as f:
            f.write(nph.from_array(m.astype(np.float32), name).SerializeToString())
    with open(os.path.join(args.out, "params.txt"), "w") as f:
        f.write("patch %d stride %d fill %g target %d\n" % (args.patch, args.stride, args.fill, target))
        f.write("# tools/torch_occlusion.py refs %s --width-mult %g --fc-mult %s --size %d --classes %d --seed %d\n"
                % (args.arch, args.width_mult, args.fc_mult, size, args.classes, args.seed))
    print("%s: %dx%d positions, target %d, prob map range %.4g, logit map range %.4g"
          % (args.out, ny, nx, target, prob.max() - prob.min(), logit.max() - logit.min()))


def cmd_bench(args):
    torch.set_num_threads(args.threads)
    net = torch_models.build(args.arch, args.width_mult, args.size, args.classes)
    size = args.size or torch_models.DEFAULT_SIZE[args.arch]
    cin = torch_models.DEFAULT_IN_CHANNELS.get(args.arch, 3)
    x = torch.randn((1, cin, size, size), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        target = int(net(x)[0].argmax())
        net(x.repeat(args.per_eval, 1, 1, 1))     # warm-up
    t0 = time.perf_counter()
    _, ny, nx = occlusion(net, x, args.patch, args.stride, 0.0, target, args.per_eval, args.limit)
    t = time.perf_counter() - t0
    n = ny * nx
    done = min(n, args.limit) if args.limit > 0 else n
    if done < n:
        print("torch-occlusion: %d positions in %.2f s (%.2f ms per position; timed %d of them, %.2f s measured)"
              % (n, t * n / done, 1e3 * t / done, done, t))
    else:
        print("torch-occlusion: %d positions in %.2f s (%.2f ms per position)" % (n, t, 1e3 * t / n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("refs", "bench"):
        p = sub.add_parser(name)
        p.add_argument("arch", choices=torch_models.ARCHS)
        p.add_argument("--size", type=int, default=None)
        p.add_argument("--width-mult", type=float, default=1.0)
        p.add_argument("--fc-mult", type=float, default=None)
        p.add_argument("--classes", type=int, default=10 if name == "refs" else 1000)
        p.add_argument("--patch", type=int, default=32)
        p.add_argument("--stride", type=int, default=8)
        p.add_argument("--per-eval", type=int, default=16, help="positions per batch (Captum's perturbations_per_eval)")
        p.add_argument("--seed", type=int, default=0)
        if name == "refs":
            p.add_argument("--fill", type=float, default=0.25, help="baseline value (model input units)")
            p.add_argument("-o", "--out", required=True)
        else:
            p.add_argument("--threads", type=int, default=1)
            p.add_argument("--limit", type=int, default=0, help="time only the first N positions and extrapolate")
    args = ap.parse_args()
    cmd_refs(args) if args.cmd == "refs" else cmd_bench(args)


if __name__ == "__main__":
    main()
