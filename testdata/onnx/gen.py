#!/usr/bin/python3
"""Generates the ONNX fixtures slimgo's onnx tests compare against ONNX Runtime.

usage: /usr/bin/python3 gen.py [--out DIR] [--small] [--large] [--hand]

--small  tiny nets committed to testdata/onnx (darknet-style residual net,
         width-reduced resnet), each exported with BatchNormalization kept
         (*_bn.onnx: training=PRESERVE, no constant folding) and folded
         (*_fold.onnx: default export), with a dynamic batch dimension.
--large  torchvision resnet18, mobilenet_v2 and vgg11_bn (global-average-pool
         head, 10 classes), both forms; too big to commit, so the Go tests run
         this into a cache directory when torch is installed.
--hand   small graphs written with onnx.helper that torch does not emit:
         Upsample (opset 9), Clip with attributes (opset 9), Resize by sizes,
         MatMul, Constant nodes, Gemm with alpha/beta, Dropout, metadata.

Weights are random with fixed seeds; BN running statistics and affine
parameters are set to non-trivial random values so BN changes the output.
Default: --small --hand into the directory of this script.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k, s=1, act="leaky"):
        acts = {"leaky": nn.LeakyReLU(0.1), "relu6": nn.ReLU6(), "silu": nn.SiLU()}
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), acts[act])


class DarkBlock(nn.Module):
    """darknet residual: 1x1 squeeze then 3x3, added to the input."""

    def __init__(self, c, act="leaky"):
        super().__init__()
        self.a = ConvBNAct(c, c // 2, 1, act=act)
        self.b = ConvBNAct(c // 2, c, 3, act=act)

    def forward(self, x):
        return x + self.b(self.a(x))


class TinyDarknet(nn.Module):
    """Darknet-style residual net with a YOLO-like upsample+concat branch,
    max pooling, a SiLU block (exported as Sigmoid*x), ReLU6 (Clip), a
    bias-free Linear (MatMul) and a Linear with bias (Gemm)."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = ConvBNAct(3, 8, 3)
        self.down1 = ConvBNAct(8, 16, 3, 2)
        self.res1 = DarkBlock(16)
        self.down2 = ConvBNAct(16, 32, 3, 2)
        self.res2 = DarkBlock(32, act="silu")
        self.lat = ConvBNAct(32, 16, 1, act="relu6")
        self.fuse = ConvBNAct(32, 24, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(24, 16, bias=False)
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x):
        x = self.stem(x)
        a = self.res1(self.down1(x))          # 16 x H/2
        b = self.res2(self.down2(a))          # 32 x H/4
        up = F.interpolate(self.lat(b), scale_factor=2, mode="nearest")
        x = self.fuse(torch.cat([a, up], 1))  # 24 x H/2
        x = self.pool(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))


def tiny_resnet(classes=10):
    """torchvision BasicBlock resnet with widths 8/16/32, one block a stage."""
    from torchvision.models.resnet import BasicBlock

    def stage(cin, cout, stride):
        down = None
        if stride != 1 or cin != cout:
            down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        return BasicBlock(cin, cout, stride, down)

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        stage(8, 8, 1), stage(8, 16, 2), stage(16, 32, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, classes))


def large_models():
    import torchvision.models as tvm
    torch.manual_seed(1)
    r18 = tvm.resnet18(num_classes=10)
    mb2 = tvm.mobilenet_v2(num_classes=10)
    vgg = tvm.vgg11_bn(num_classes=10)
    vgg.avgpool = nn.AdaptiveAvgPool2d(1)
    vgg.classifier = nn.Sequential(nn.Linear(512, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 10))
    return [("resnet18", r18, 32, 13), ("mobilenet_v2", mb2, 32, 13), ("vgg11_bn", vgg, 32, 13)]


def export(model, name, size, opset, out, seed):
    randomize_bn(model, seed)
    model.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    dyn = {"input": {0: "N"}, "output": {0: "N"}}
    kept = os.path.join(out, name + "_bn.onnx")
    folded = os.path.join(out, name + "_fold.onnx")
    torch.onnx.export(model, x, kept, input_names=["input"], output_names=["output"], dynamic_axes=dyn,
                      opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    torch.onnx.export(model, x, folded, input_names=["input"], output_names=["output"], dynamic_axes=dyn,
                      opset_version=opset)
    for p in (kept, folded):
        print(f"{p}: {os.path.getsize(p)} bytes", file=sys.stderr)


def hand_models(out):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)

    def init(name, a):
        return numpy_helper.from_array(np.asarray(a), name)

    def save(name, nodes, inits, opset, in_shape, out_shape, meta=None):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen.py")
        m.ir_version = 7 if opset >= 9 else 4
        for k, v in (meta or {}).items():
            m.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
        onnx.checker.check_model(m)
        p = os.path.join(out, name + ".onnx")
        onnx.save(m, p)
        print(f"{p}: {os.path.getsize(p)} bytes", file=sys.stderr)

    w1 = rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 4).astype(np.float32)
    # Opset 9: Clip with attributes, Upsample with a scales input, typed
    # (non-raw) float data, MaxPool with ceil_mode... (ceil_mode is opset 10),
    # Flatten, MatMul by a constant, Add of a constant bias.
    wfc = rng.normal(0, 0.2, (4 * 8 * 8, 5)).astype(np.float32)
    bfc = rng.normal(0, 0.1, (5,)).astype(np.float32)
    wt = helper.make_tensor("w1", TensorProto.FLOAT, w1.shape, w1.flatten().tolist())  # float_data, not raw
    save("hand_opset9", [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Clip", ["c"], ["r"], min=-0.5, max=1.0, name="clip"),
        helper.make_node("Upsample", ["r", "sc"], ["u"], mode="nearest", name="up"),
        helper.make_node("AveragePool", ["u"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="avg"),
        helper.make_node("Flatten", ["p"], ["f"], axis=1, name="flat"),
        helper.make_node("MatMul", ["f", "wfc"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "bfc"], ["y"], name="bias"),
    ], [wt, init("b1", b1), init("sc", np.array([1, 1, 2, 2], np.float32)), init("wfc", wfc), init("bfc", bfc)],
        9, ["N", 3, 8, 8], ["N", 5], meta={"classes": "a,b,c,d,e", "arch": "hand"})

    # Opset 13: Resize by sizes, Clip by inputs from Constant nodes, Gemm with
    # alpha/beta and transB, Dropout with a ratio input, Reshape by a constant,
    # Identity, Sigmoid, Mul, Concat, GlobalAveragePool, BatchNormalization;
    # a static batch of 2 (sizes name the batch literally).
    c, h = 4, 6
    bn = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.3, c), rng.uniform(0.5, 2, c)]
    wg = rng.normal(0, 0.3, (3, 2 * c)).astype(np.float32)
    bg = rng.normal(0, 0.1, (3,)).astype(np.float32)
    save("hand_opset13", [
        helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1], name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"], epsilon=1e-3, name="bn"),
        helper.make_node("Constant", [], ["lo"], value=helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]), name="k_lo"),
        helper.make_node("Constant", [], ["hi"], value_float=6.0, name="k_hi"),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["r6"], name="relu6"),
        helper.make_node("Sigmoid", ["r6"], ["s"], name="sig"),
        helper.make_node("Mul", ["r6", "s"], ["silu"], name="silu"),
        helper.make_node("Resize", ["silu", "", "", "sizes"], ["up"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor", name="resize"),
        helper.make_node("MaxPool", ["up"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="mp"),
        helper.make_node("Identity", ["mp"], ["id"], name="id"),
        helper.make_node("Concat", ["id", "mp"], ["cat"], axis=1, name="cat"),
        helper.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
        helper.make_node("Reshape", ["gap", "shape"], ["flat"], name="reshape"),
        helper.make_node("Dropout", ["flat", "ratio"], ["drop"], name="drop"),
        helper.make_node("Gemm", ["drop", "wg", "bg"], ["y"], alpha=0.5, beta=2.0, transB=1, name="fc"),
    ], [init("w1", w1), init("g", bn[0].astype(np.float32)), init("b", bn[1].astype(np.float32)),
        init("m", bn[2].astype(np.float32)), init("v", bn[3].astype(np.float32)),
        init("sizes", np.array([2, c, 2 * h, 2 * h], np.int64)), init("shape", np.array([0, -1], np.int64)),
        init("ratio", np.array(0.3, np.float32)), init("wg", wg), init("bg", bg)],
        13, [2, 3, h, h], [2, 3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--hand", action="store_true")
    a = ap.parse_args()
    if not (a.small or a.large or a.hand):
        a.small = a.hand = True
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    if a.small:
        torch.manual_seed(3)
        export(TinyDarknet(), "darknet_tiny", 32, 11, a.out, 11)
        torch.manual_seed(4)
        export(tiny_resnet(), "resnet_tiny", 32, 13, a.out, 12)
    if a.large:
        for i, (name, m, size, opset) in enumerate(large_models()):
            export(m, name, size, opset, a.out, 20 + i)
    if a.hand:
        hand_models(a.out)


if __name__ == "__main__":
    main()
