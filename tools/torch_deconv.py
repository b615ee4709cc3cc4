#!/usr/bin/python3
"""PyTorch reference for zfviz's projections (deconvnet, guided backprop, gradient), and its timing.

    /usr/bin/python3 tools/torch_deconv.py refs [-o tests/refs-deconv]    # the committed cases
    /usr/bin/python3 tools/torch_deconv.py bench -o DIR --threads 2        # make bench (deconv.sh)

The three rules with backward hooks, as Captum implements them (tools/torch_models.py nets):
  deconvnet  every nn.ReLU returns relu(grad_output) (the forward sign ignored) and every
             nn.LocalResponseNorm passes grad_output through (Zeiler & Fergus skip normalization)
  guided     every nn.ReLU returns relu(grad_input) (forward mask and positive signal)
  gradient   no hooks
Max-pools route to their argmax and convolutions/linear layers apply their transposed weights: the
plain backward. The seed is the chosen activation at its value (the strongest of its map), every
other activation of the tensor zero, as zfviz seeds it.

refs: for each case folder, the model exported by torch.onnx (opset 13, symbolic batch), input.pb,
and for each (layer, rule) a TensorProto of the projection of one batch item (1,C,H,W), computed in
float64 from the float32 weights and input in the files, plus cases.txt:
  # layer rule item channel y x value file
  /features/features.13/Relu_output_0 deconvnet 0 5 1 2 3.1415 000.pb
read by tests/test_deconv.c. The tensor name is the ONNX name holding the module's output (the
scope rule of tools/make_refs.py); BatchNorms the exporter folded into their Conv are folded in the
PyTorch net too, so both compute the same function.

bench: ZFNet-224 (tools/torch_models.py, width 1, seed 0), exported to DIR/zfnet.onnx with the
input DIR/input.pb; times Captum-style projections (a forward and a hooked backward per unit) of
the strongest conv5 unit and of all 256 conv5 maps, and the same with the forward done once
(retain_graph). Prints "torch-deconv: ..." lines and "layer: NAME" for zfviz.
"""
import argparse
import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import onnx
import onnx.numpy_helper as nph
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_refs  # noqa: E402
import torch_models  # noqa: E402

RULES = ("deconvnet", "guided", "gradient")


def install_hooks(net, rule):
    """Backward hooks of `rule` on every ReLU and LRN module; returns the handles."""
    hooks = []
    for m in net.modules():
        if isinstance(m, nn.ReLU) and rule == "deconvnet":
            hooks.append(m.register_full_backward_hook(lambda mod, gin, gout: (gout[0].clamp(min=0),)))
        elif isinstance(m, nn.ReLU) and rule == "guided":
            hooks.append(m.register_full_backward_hook(lambda mod, gin, gout: (gin[0].clamp(min=0),)))
        elif isinstance(m, nn.LocalResponseNorm) and rule == "deconvnet":
            hooks.append(m.register_full_backward_hook(lambda mod, gin, gout: (gout[0],)))
    return hooks


def strongest(out, item, channel):
    """(flat index, value) of the strongest activation of map `channel` of batch item `item`
    (the first one on ties, as zfviz)."""
    plane = out[item, channel].reshape(-1)
    i = int(torch.argmax(plane))
    return i, plane[i].item()


def project(net, x, module, item, channel, rule):
    """Projection of the strongest unit of map `channel` of module's output, batch item `item`.
    Returns (projection of that item (1,C,H,W), (y, x) of the unit, its value)."""
    hooks = install_hooks(net, rule)
    store = {}
    fh = module.register_forward_hook(lambda m, i, o: store.__setitem__("out", o))
    try:
        xg = x.detach().clone().requires_grad_(True)
        net(xg)
        out = store["out"]
        idx, value = strongest(out.detach(), item, channel)
        seed = torch.zeros_like(out)
        seed[item, channel].view(-1)[idx] = value
        out.backward(seed)
        w = out.shape[-1] if out.dim() >= 3 else 1
        pos = (idx // w, idx % w) if out.dim() == 4 else (0, idx if out.dim() == 3 else 0)
        return xg.grad[item:item + 1].detach(), pos, value
    finally:
        fh.remove()
        for h in hooks:
            h.remove()


def onnx_name_of(model, qualname):
    """The ONNX tensor holding module `qualname`'s output: the one tensor produced inside its scope
    and read outside it (tools/make_refs.py's rule)."""
    graph = model.graph
    prefix = make_refs.scope_prefix(qualname)
    nodes = [i for i, n in enumerate(graph.node) if n.name.startswith(prefix)]
    consumers = {}
    for i, n in enumerate(graph.node):
        for t in n.input:
            consumers.setdefault(t, set()).add(i)
    outs = {o.name for o in graph.output}
    esc = [o for i in nodes for o in graph.node[i].output
           if o in outs or any(c not in set(nodes) for c in consumers.get(o, ()))]
    if len(esc) != 1:
        raise SystemExit("torch_deconv: module %s: %d tensors leave scope %s" % (qualname, len(esc), prefix))
    return esc[0]


def export(net, x, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, path, opset_version=13, do_constant_folding=True, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    return onnx.load(path)


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(nph.from_array(np.ascontiguousarray(arr, dtype=np.float32), name).SerializeToString())


# (arch, build options, input batch, batch item projected, [(module, rules)])
CASES = [
    ("lenet", dict(width_mult=0.25, size=28), 2, 1,
     [("features.4", RULES), ("classifier.1", RULES)]),
    ("zfnet", dict(width_mult=0.0625, fc_mult=0.03125, size=64), 1, 0,
     [("features.13", RULES), ("features.5", ("deconvnet",))]),
    ("alexnet", dict(width_mult=0.0625, fc_mult=0.03125, size=67), 1, 0,
     [("features.13", RULES)]),
    ("googlenet", dict(width_mult=0.0625, size=64), 1, 0,
     [("inception4a.branch3.1.relu", RULES), ("inception3b.branch4.1.relu", ("deconvnet",))]),
    ("resnet50", dict(width_mult=0.03125, size=32), 1, 0,
     [("layer3.1.relu3", RULES)]),
]


def make_case(arch, opts, batch, item, layers, out_dir, log):
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".pb") or f == "cases.txt":
            os.remove(os.path.join(out_dir, f))
    net = torch_models.build(arch, classes=10, seed=0, **opts)
    size = opts["size"]
    cin = torch_models.DEFAULT_IN_CHANNELS.get(arch, 3)
    x = torch.randn((batch, cin, size, size), generator=torch.Generator().manual_seed(1))
    model = export(net, x, os.path.join(out_dir, "model.onnx"))
    model.doc_string = "zfviz deconv reference: tools/torch_deconv.py refs (%s %s)" % (arch, opts)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    save_pb(os.path.join(out_dir, "input.pb"), x.numpy(), model.graph.input[0].name)
    # float64 from the float32 weights in the file (folded BatchNorms folded here too)
    net64 = copy.deepcopy(net).double()
    x64 = x.double()
    calls, _, _ = make_refs.record_forward(net64, x64)
    make_refs.adopt_folded_batchnorms(net64, model, calls, log)
    modules = dict(net64.named_modules())
    lines = ["# layer rule item channel y x value file  (tools/torch_deconv.py; %s %s, input %s)"
             % (arch, opts, list(x.shape))]
    k = 0
    for qual, rules in layers:
        name = onnx_name_of(model, qual)
        store = {}
        h = modules[qual].register_forward_hook(lambda m, i, o: store.__setitem__("out", o.detach()))
        with torch.no_grad():
            net64(x64)
        h.remove()
        out = store["out"]
        maxima = out[item].reshape(out.shape[1], -1).max(dim=1).values
        channel = int(torch.argmax(maxima))          # the map with the strongest maximum
        for rule in rules:
            p, (py, px), value = project(net64, x64, modules[qual], item, channel, rule)
            fname = "%03d.pb" % k
            save_pb(os.path.join(out_dir, fname), p.numpy(), "projection")
            lines.append("%s %s %d %d %d %d %.9g %s" % (name, rule, item, channel, py, px, value, fname))
            log("  %s %-40s %-9s unit %d at %d,%d value %.4g, max |p| %.3g" % (arch, name, rule, channel, py, px,
                                                                               value, float(p.abs().max())))
            k += 1
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def cmd_refs(args):
    log = lambda s: print(s, flush=True)  # noqa: E731
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for arch, opts, batch, item, layers in CASES:
        if args.arch and arch not in args.arch:
            continue
        make_case(arch, opts, batch, item, layers, os.path.join(args.out, arch), log)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs)
    log("torch_deconv: %s: %.0f kB" % (args.out, total / 1024))


def bench_input(path, size):
    """The image (torchvision preprocessing: resize, center crop, ImageNet mean/std), or noise."""
    if path and os.path.exists(path):
        from PIL import Image
        import torchvision.transforms as T
        tf = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        return tf(Image.open(path).convert("RGB")).unsqueeze(0)
    return torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(1))


def cmd_bench(args):
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    net = torch_models.build("zfnet", seed=0)
    x = bench_input(args.image, 224)
    model_path = os.path.join(args.out, "zfnet.onnx")
    if not os.path.exists(model_path):
        export(net, x, model_path)
    model = onnx.load(model_path)
    save_pb(os.path.join(args.out, "input.pb"), x.numpy(), model.graph.input[0].name)
    conv5 = net.features[13]                        # the ReLU after conv5
    print("layer: %s" % onnx_name_of(model, "features.13"), flush=True)
    store = {}
    h = conv5.register_forward_hook(lambda m, i, o: store.__setitem__("out", o.detach()))
    with torch.no_grad():
        net(x)
    h.remove()
    out = store["out"]
    maxima = out[0].reshape(out.shape[1], -1).max(dim=1).values
    unit = int(torch.argmax(maxima))
    print("unit: %d" % unit, flush=True)
    project(net, x, conv5, 0, unit, args.rule)     # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        project(net, x, conv5, 0, unit, args.rule)
        times.append((time.perf_counter() - t0) * 1e3)
    print("torch-deconv: one projection (forward + hooked backward): median %.1f ms, min %.1f ms"
          % (statistics.median(times), min(times)), flush=True)
    n = out.shape[1] if args.maps <= 0 else min(args.maps, out.shape[1])
    t0 = time.perf_counter()
    for c in range(n):
        project(net, x, conv5, 0, c, args.rule)
    total = (time.perf_counter() - t0) * 1e3
    print("torch-deconv: %d maps (forward + backward each): %.0f ms total, %.1f ms each" % (n, total, total / n),
          flush=True)
    # The forward once, one backward per map (retain_graph): PyTorch's best case for this job.
    hooks = install_hooks(net, args.rule)
    store = {}
    fh = conv5.register_forward_hook(lambda m, i, o: store.__setitem__("out", o))
    xg = x.clone().requires_grad_(True)
    t0 = time.perf_counter()
    net(xg)
    o = store["out"]
    for c in range(n):
        idx, value = strongest(o.detach(), 0, c)
        seed = torch.zeros_like(o)
        seed[0, c].view(-1)[idx] = value
        xg.grad = None
        o.backward(seed, retain_graph=True)
    total = (time.perf_counter() - t0) * 1e3
    fh.remove()
    for hk in hooks:
        hk.remove()
    print("torch-deconv: %d maps (one forward, retained graph): %.0f ms total, %.1f ms each" % (n, total, total / n),
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("refs", help="write the reference cases")
    r.add_argument("-o", "--out", default="tests/refs-deconv")
    r.add_argument("--arch", nargs="*", help="only these architectures")
    b = sub.add_parser("bench", help="time PyTorch's hook-based projection on ZFNet-224")
    b.add_argument("-o", "--out", required=True, help="folder for zfnet.onnx and input.pb")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--repeat", type=int, default=10)
    b.add_argument("--maps", type=int, default=0, help="maps in the all-maps timing (default all 256)")
    b.add_argument("--rule", choices=RULES, default="deconvnet")
    b.add_argument("--image", default="/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg")
    args = ap.parse_args()
    cmd_refs(args) if args.cmd == "refs" else cmd_bench(args)


if __name__ == "__main__":
    main()
