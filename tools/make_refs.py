#!/usr/bin/python3
"""Writes a PyTorch reference case for zfviz: an exported ONNX model, its input, and the PyTorch
output of every layer under the ONNX tensor name that holds it (read by tests/test_torch_refs.c).

    /usr/bin/python3 tools/make_refs.py zfnet --width-mult 0.125 --size 64 --classes 10 -o tests/refs/zfnet
    -> tests/refs/zfnet/model.onnx, input.pb, refs/000.pb ... (TensorProto, name = ONNX tensor name)

How a layer is tied to a tensor name: torch 1.13 names every exported node after the module scope it
came from ("/features/features.0/Conv" for module features.0), so a leaf module's output is the one
tensor produced inside its scope and read outside it (or a graph output). Modules that export to
nothing are handled explicitly: identities (Dropout in eval) are skipped, and a BatchNorm folded
into the preceding Conv by the exporter takes over that Conv's output name (the Conv's own pre-BN
value exists nowhere in the file and is skipped). Every mapping is then verified twice: the shape
against ONNX shape inference, and the values by evaluating the exported graph independently (a
small float64 interpreter below) and comparing with PyTorch at each mapped name. A mismatch is an
error, never a silent skip.

References are computed by PyTorch in float64 from the float32 weights and input that the ONNX
file holds, then rounded to float32, so they carry no float32 accumulation error of their own.
--sample keeps only a subset (first conv, every pool, last conv, output, every k-th layer) for the
full-size runs.
"""
import argparse
import copy
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper as nph
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


# --- a small independent ONNX interpreter (float64), used only to verify the name mapping ---------

def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pool_pads(a, nd):
    pads = list(a.get("pads", [0] * (2 * nd)))
    return pads[:nd], pads[nd:]


def pad_input(x, begin, end, value):
    # F.pad wants (last-dim begin, last-dim end, ...)
    spec = []
    for b, e in zip(reversed(begin), reversed(end)):
        spec += [b, e]
    return F.pad(x, spec, value=value) if any(spec) else x


def run_pool(x, a, kind):
    k = list(a["kernel_shape"])
    nd = len(k)
    s = list(a.get("strides", [1] * nd))
    begin, end = pool_pads(a, nd)
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("auto_pad")
    ceil = bool(a.get("ceil_mode", 0))
    if kind == "max":
        xp = pad_input(x, begin, end, float("-inf"))
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        return fn(xp, k, s, 0, ceil_mode=ceil)
    # AveragePool: count_include_pad=0 divides by the number of real (non-pad) elements.
    include = bool(a.get("count_include_pad", 0))
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
    xp = pad_input(x, begin, end, 0.0)
    sums = fn(xp, k, s, 0, ceil_mode=ceil, count_include_pad=True) * float(np.prod(k))
    if include:
        cnt = fn(pad_input(torch.ones_like(x), begin, end, 1.0), k, s, 0, ceil_mode=ceil,
                 count_include_pad=True) * float(np.prod(k))
    else:
        cnt = fn(pad_input(torch.ones_like(x), begin, end, 0.0), k, s, 0, ceil_mode=ceil,
                 count_include_pad=True) * float(np.prod(k))
    return sums / cnt


def to_tensor(arr):
    arr = np.asarray(arr)
    if arr.dtype in (np.float32, np.float16, np.float64):
        return torch.from_numpy(arr.astype(np.float64))
    if arr.dtype == np.bool_:
        return torch.from_numpy(arr.copy())
    return torch.from_numpy(arr.astype(np.int64))


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def eval_graph(graph, env, opset):
    """Evaluates every node of graph into env (name -> torch tensor). Returns env."""
    for init in graph.initializer:
        env[init.name] = to_tensor(nph.to_array(init))
    for node in graph.node:
        a = attrs_of(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            w = x[1]
            nd = w.dim() - 2
            begin, end = pool_pads(a, nd)
            xp = pad_input(x[0], begin, end, 0.0)
            fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
            y = fn(xp, w, x[2] if len(x) > 2 else None, list(a.get("strides", [1] * nd)), 0,
                   list(a.get("dilations", [1] * nd)), a.get("group", 1))
        elif op == "Relu":
            y = torch.clamp(x[0], min=0)
        elif op == "MaxPool":
            y = run_pool(x[0], a, "max")
        elif op == "AveragePool":
            y = run_pool(x[0], a, "avg")
        elif op == "GlobalAveragePool":
            y = x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)
        elif op == "Gemm":
            A, B = x[0], x[1]
            if a.get("transA", 0):
                A = A.t()
            if a.get("transB", 0):
                B = B.t()
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "MatMul":
            y = x[0] @ x[1]
        elif op == "Flatten":
            ax = a.get("axis", 1)
            ax = ax + x[0].dim() if ax < 0 else ax
            y = x[0].reshape(int(np.prod(x[0].shape[:ax])), -1)
        elif op == "Concat":
            y = torch.cat(x, dim=a["axis"])
        elif op == "BatchNormalization":
            sh = [1, -1] + [1] * (x[0].dim() - 2)
            y = (x[0] - x[3].reshape(sh)) / torch.sqrt(x[4].reshape(sh) + a.get("epsilon", 1e-5)) \
                * x[1].reshape(sh) + x[2].reshape(sh)
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
            fn = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
                  "Pow": torch.pow, "Equal": torch.eq}[op]
            if op == "Div" and not x[0].is_floating_point():
                y = torch.div(x[0], x[1], rounding_mode="trunc")
            else:
                y = fn(x[0], x[1])
        elif op == "Constant":
            y = to_tensor(nph.to_array(a["value"]))
        elif op == "Identity" or op == "Dropout":
            y = x[0]
        elif op in ("Unsqueeze", "Squeeze"):
            axes = a["axes"] if "axes" in a else (ints(x[1]) if len(x) > 1 and x[1] is not None else None)
            if op == "Unsqueeze":
                nd = x[0].dim() + len(axes)
                y = x[0]
                for ax in sorted(v + nd if v < 0 else v for v in axes):
                    y = y.unsqueeze(ax)
            else:
                if axes is None:
                    y = x[0].squeeze()
                else:
                    y = x[0]
                    for ax in sorted((v + x[0].dim() if v < 0 else v for v in axes), reverse=True):
                        y = y.squeeze(ax)
        elif op == "Reshape":
            shape = ints(x[1])
            shape = [x[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
            y = x[0].reshape(shape)
        elif op == "Shape":
            y = torch.tensor(list(x[0].shape), dtype=torch.int64)
        elif op == "Gather":
            y = torch.index_select(x[0], a.get("axis", 0), x[1].reshape(-1)).reshape(
                list(x[0].shape[:a.get("axis", 0)]) + list(x[1].shape) + list(x[0].shape[a.get("axis", 0) + 1:]))
        elif op == "ConstantOfShape":
            v = to_tensor(nph.to_array(a["value"])) if "value" in a else torch.zeros(1, dtype=torch.float64)
            y = v.reshape(-1)[0].repeat(ints(x[0])) if len(ints(x[0])) else v.reshape(())
        elif op == "Slice":
            starts, ends = ints(x[1]), ints(x[2])
            axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
            steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
            y = x[0]
            for st, en, ax, sp in zip(starts, ends, axes, steps):
                # ONNX clamps starts/ends like Python slices do (INT64_MAX ends, negative indices).
                sel = list(range(*slice(st, en, sp).indices(y.shape[ax])))
                y = torch.index_select(y, ax, torch.tensor(sel, dtype=torch.int64))
        elif op == "Transpose":
            perm = a.get("perm", list(reversed(range(x[0].dim()))))
            y = x[0].permute(*perm)
        elif op == "Cast":
            y = x[0].to(torch.float64 if a["to"] in (1, 10, 11) else torch.int64 if a["to"] in (6, 7) else torch.bool)
        elif op == "Pad":
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            pads = ints(x[1]) if len(x) > 1 and x[1] is not None else list(a["pads"])
            value = float(x[2].reshape(-1)[0]) if len(x) > 2 and x[2] is not None else a.get("value", 0.0)
            nd = x[0].dim()
            if mode != "constant":
                raise NotImplementedError("Pad mode " + mode)
            y = pad_input(x[0], pads[:nd], pads[nd:], value)
        elif op == "If":
            branch = a["then_branch"] if bool(x[0].reshape(-1)[0]) else a["else_branch"]
            sub = eval_graph(branch, dict(env), opset)
            outs = [sub[o.name] for o in branch.output]
            for name, v in zip(node.output, outs):
                env[name] = v
            continue
        else:
            raise NotImplementedError("verifier: op %s not supported" % op)
        env[node.output[0]] = y
    return env


# --- mapping modules to ONNX tensor names --------------------------------------------------------

def unqualified_name(qualname):
    """torch.onnx.utils._unqualified_variable_name (1.13): the last atom of a module's qualified name,
    extended leftwards past purely numeric atoms ("layer1.0" stays "layer1.0", "a.branch2.0" ->
    "branch2.0")."""
    atoms = qualname.split(".")
    for i in range(len(atoms) - 1, -1, -1):
        if not atoms[i].isnumeric():
            return ".".join(atoms[i:])
    return qualname


def scope_prefix(qualname):
    """Node-name prefix of a module's scope: one unqualified name per ancestor module,
    e.g. "inception3a.branch2.0.conv" -> "/inception3a/branch2/branch2.0/conv/"."""
    parts = qualname.split(".")
    # Every prefix of a qualified name is a module of named_modules(), hence one scope level.
    return "/" + "/".join(unqualified_name(".".join(parts[:i + 1])) for i in range(len(parts))) + "/"


def record_forward(net, x):
    """Runs net(x) with a hook on every leaf module. Returns (calls, counts, output); calls in call
    order as (name, module, id(input), id(output), output copy). Outputs are copied at hook time
    because later in-place ops (DenseNet's final F.relu(inplace=True)) may overwrite them; the
    originals stay referenced in `keep` so that their ids are not reused."""
    calls, counts, hooks, keep = [], {}, [], []
    for name, m in net.named_modules():
        if name and not list(m.children()):
            def hook(mod, inp, out, name=name):
                counts[name] = counts.get(name, 0) + 1
                i = inp[0] if inp else None
                keep.append((i, out))
                copy_ = out.detach().clone() if isinstance(out, torch.Tensor) else None
                calls.append((name, mod, id(i), id(out), copy_))
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        y = net(x)
    for h in hooks:
        h.remove()
    return calls, counts, y


def map_refs(model, calls, counts, final_out, log):
    """Returns [(onnx_tensor_name, torch_value)] in execution order."""
    graph = model.graph
    consumers = {}
    for i, n in enumerate(graph.node):
        for t in n.input:
            consumers.setdefault(t, set()).add(i)
    graph_outputs = {o.name for o in graph.output}
    refs = []                 # [name, value, module]
    by_output = {}            # id(torch output tensor) -> index in refs
    skipped = []
    for name, mod, inp, out_id, out in calls:
        if counts[name] != 1:
            skipped.append("%s (called %d times)" % (name, counts[name]))
            continue
        if out is None:
            skipped.append("%s (output is not a tensor)" % name)
            continue
        prefix = scope_prefix(name)
        nodes = [i for i, n in enumerate(graph.node) if n.name.startswith(prefix)]
        if not nodes:
            if out_id == inp:
                skipped.append("%s (%s: identity, exported to nothing)" % (name, type(mod).__name__))
                continue
            skipped.append("%s (%s: no ONNX nodes in scope %s)" % (name, type(mod).__name__, prefix))
            continue
        node_set = set(nodes)
        escaping = []
        for i in nodes:
            for o in graph.node[i].output:
                if o in graph_outputs or any(c not in node_set for c in consumers.get(o, ())):
                    escaping.append(o)
        if len(escaping) != 1:
            skipped.append("%s (%d tensors leave scope %s: %s)" % (name, len(escaping), prefix, escaping[:3]))
            continue
        by_output[out_id] = len(refs)
        refs.append([escaping[0], out, name])
    for s in skipped:
        log("  skip %s" % s)
    result = [(n, v) for n, v, _ in refs]
    if graph.output[0].name not in {n for n, _ in result}:
        result.append((graph.output[0].name, final_out))
    names = [n for n, _ in result]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit("make_refs: tensor names mapped twice: %s" % sorted(dup))
    return result


def adopt_folded_batchnorms(net, model, calls, log):
    """The exporter folds a BatchNorm that follows a Conv into the Conv's weights (in float32), so
    the file computes conv(x, W', b') where PyTorch computes bn(conv(x, W)). For the references to
    be PyTorch's value of the function in the file, copy W', b' from the file into the Conv and
    replace the BatchNorm by an identity. Returns the number of BatchNorms replaced."""
    inits = {i.name: i for i in model.graph.initializer}
    producer = {}                   # id(output) -> (name, module)
    modules = dict(net.named_modules())
    n = 0
    for name, mod, inp, out_id, out in calls:
        producer[out_id] = (name, mod)
        if not isinstance(mod, nn.BatchNorm2d):
            continue
        prefix = scope_prefix(name)
        if any(nd.name.startswith(prefix) for nd in model.graph.node):
            continue                # exported as a BatchNormalization node
        pname, pmod = producer.get(inp, (None, None))
        if not isinstance(pmod, nn.Conv2d):
            raise SystemExit("make_refs: BatchNorm %s exported to nothing and does not follow a Conv" % name)
        convs = [nd for nd in model.graph.node if nd.name.startswith(scope_prefix(pname)) and nd.op_type == "Conv"]
        if len(convs) != 1 or len(convs[0].input) < 3 or any(i not in inits for i in convs[0].input[1:3]):
            raise SystemExit("make_refs: cannot find the folded Conv of BatchNorm %s in the file" % name)
        w = torch.from_numpy(nph.to_array(inits[convs[0].input[1]]).astype(np.float64))
        b = torch.from_numpy(nph.to_array(inits[convs[0].input[2]]).astype(np.float64))
        if list(w.shape) != list(pmod.weight.shape):
            raise SystemExit("make_refs: folded Conv %s has weights %s, module %s" % (pname, list(w.shape),
                                                                                     list(pmod.weight.shape)))
        pmod.weight = nn.Parameter(w)
        pmod.bias = nn.Parameter(b)
        parent, _, attr = name.rpartition(".")
        setattr(modules[parent] if parent else net, attr, nn.Identity())
        n += 1
    if n:
        log("  %d BatchNorms folded into their Conv by the exporter: their outputs are the Conv outputs" % n)
    return n


def check_shapes(model, refs):
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        if vi.type.tensor_type.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None
                               for d in vi.type.tensor_type.shape.dim]
    bad = []
    for name, v in refs:
        s = shapes.get(name)
        if s is None:
            continue          # no static shape known (checked by value below)
        if len(s) != v.dim() or any(a is not None and a != b for a, b in zip(s, v.shape)):
            bad.append("%s: ONNX shape %s, PyTorch %s" % (name, s, list(v.shape)))
    return bad


def check_values(model, input_name, x64, refs, tol=1e-7):
    env = eval_graph(model.graph, {input_name: x64}, 0)
    bad = []
    for name, v in refs:
        if name not in env:
            bad.append("%s: not produced by the graph" % name)
            continue
        e = env[name]
        if list(e.shape) != list(v.shape):
            bad.append("%s: evaluated shape %s, PyTorch %s" % (name, list(e.shape), list(v.shape)))
            continue
        scale = max(float(v.abs().max()), 1e-30)
        err = float((e - v).abs().max()) / scale
        if not err <= tol:
            bad.append("%s: ONNX graph differs from PyTorch by %.3g (relative to max %.3g)" % (name, err, scale))
    return bad


def sample(refs, every):
    """First conv, every pool, last conv, the output, and every `every`-th of the rest."""
    keep = set()
    kinds = [n.rsplit("/", 1)[-1] for n, _ in refs]
    convs = [i for i, k in enumerate(kinds) if k.startswith("Conv")]
    if convs:
        keep |= {convs[0], convs[-1]}
    keep |= {i for i, k in enumerate(kinds) if "Pool" in k}
    keep.add(len(refs) - 1)
    keep |= set(range(0, len(refs), every))
    return [r for i, r in enumerate(refs) if i in keep]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("arch", choices=torch_models.ARCHS)
    ap.add_argument("--size", type=int, default=None, help="input side (default: the paper's)")
    ap.add_argument("--width-mult", type=float, default=1.0)
    ap.add_argument("--fc-mult", type=float, default=None, help="width of the hidden fc layers "
                    "(default: --width-mult)")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--in-channels", type=int, default=None)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--static-batch", action="store_true", help="export a fixed batch dimension "
                    "(default: symbolic 'N', as most exported models have)")
    ap.add_argument("--sample", type=int, default=0, metavar="K",
                    help="write only first conv, pools, last conv, output and every K-th layer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()

    log = lambda s: print(s, flush=True)  # noqa: E731
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    net = torch_models.build(args.arch, args.width_mult, args.size, args.classes, args.in_channels, args.seed,
                             args.fc_mult)
    size = args.size or torch_models.DEFAULT_SIZE[args.arch]
    cin = args.in_channels or torch_models.DEFAULT_IN_CHANNELS.get(args.arch, 3)
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn((args.batch, cin, size, size), generator=gen)

    os.makedirs(os.path.join(args.out, "refs"), exist_ok=True)
    for f in os.listdir(os.path.join(args.out, "refs")):
        if f.endswith(".pb"):
            os.remove(os.path.join(args.out, "refs", f))
    onnx_path = os.path.join(args.out, "model.onnx")
    dyn = None if args.static_batch else {"input": {0: "N"}, "output": {0: "N"}}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, onnx_path, opset_version=args.opset, do_constant_folding=True,
                          input_names=["input"], output_names=["output"], dynamic_axes=dyn)
    model = onnx.load(onnx_path)
    argv, skip = [], False          # the command line without the output folder
    for a in sys.argv[1:]:
        if skip or a in ("-o", "--out") or a.startswith("--out=") or (a.startswith("-o") and len(a) > 2):
            skip = a in ("-o", "--out") and not skip
            continue
        argv.append(a)
    model.doc_string = "zfviz reference: tools/make_refs.py " + " ".join(argv)
    onnx.save(model, onnx_path)
    input_name = model.graph.input[0].name

    # References in float64 from exactly the float32 weights and input in the files.
    net64 = copy.deepcopy(net).double()
    x64 = x.double()
    calls, counts, y = record_forward(net64, x64)
    if adopt_folded_batchnorms(net64, model, calls, log):
        calls, counts, y = record_forward(net64, x64)
    refs = map_refs(model, calls, counts, y, log)
    problems = check_shapes(model, refs) + check_values(model, input_name, x64, refs)
    if problems:
        for p in problems:
            log("make_refs: MAPPING ERROR %s" % p)
        raise SystemExit(1)
    total = len(refs)
    if args.sample > 0:
        refs = sample(refs, args.sample)

    with open(os.path.join(args.out, "input.pb"), "wb") as f:
        f.write(nph.from_array(x.numpy().astype(np.float32), input_name).SerializeToString())
    for i, (name, v) in enumerate(refs):
        with open(os.path.join(args.out, "refs", "%03d.pb" % i), "wb") as f:
            f.write(nph.from_array(v.numpy().astype(np.float32), name).SerializeToString())
    log("make_refs: %s: %d refs written (of %d mapped and verified), input %s %s, opset %d -> %s"
        % (args.arch, len(refs), total, input_name, list(x.shape), args.opset, args.out))


if __name__ == "__main__":
    main()
