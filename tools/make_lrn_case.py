#!/usr/bin/python3
"""Writes tests/data/lrn-torch/: a tiny Conv-ReLU-LocalResponseNorm-MaxPool network exported by
PyTorch (which writes LRN as a decomposition with Shape/Gather/Equal/If nodes), its input and its
PyTorch output. tests/test_graph.c checks that zfviz folds and fuses it back into one LRN node and
matches PyTorch. Usage: /usr/bin/python3 tools/make_lrn_case.py"""
import os
import torch
from onnx import numpy_helper

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "lrn-torch")
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                        torch.nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0),
                        torch.nn.MaxPool2d(2)).eval()
x = torch.randn(1, 3, 16, 16)
with torch.no_grad():
    y = m(x)
torch.onnx.export(m, x, os.path.join(out, "model.onnx"), opset_version=13, input_names=["input"],
                  output_names=["output"])
for name, t in (("input", x), ("output", y)):
    p = numpy_helper.from_array(t.numpy(), name)
    with open(os.path.join(out, name + ".pb"), "wb") as f:
        f.write(p.SerializeToString())
