"""Exports two small YOLO-style detectors with torch.onnx.export's defaults
(batch fixed at 1, constant folding on) for onnx/yolo_test.go.

usage: python3 yolo_heads.py OUTDIR OPSET [OPSET ...]

Writes OUTDIR/yolov5_<opset>.onnx and OUTDIR/yolov8_<opset>.onnx, plus
OUTDIR/x.npy (the 1 x 3 x 64 x 64 input the test feeds), and at the last
opset given also OUTDIR/yolov5_dyn.onnx and OUTDIR/yolov8_dyn.onnx,
exported with a dynamic batch (dynamic_axes, as ultralytics' dynamic=True). The models are
written from the YOLOv5 (v6+, split-based decode) and YOLOv8 heads as
ultralytics writes them, scaled down; weights are seeded random, BN
statistics randomised so folding is not an identity.

yolov5: Conv-BN-SiLU backbone with a C3 block (bottlenecks with shortcut),
  an FPN neck (nn.Upsample(scale_factor=2) + Concat, and F.interpolate),
  a Detect head: view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2), sigmoid,
  split(2, 2, nc + 1), xy = (xy * 2 - 0.5 + grid) * stride,
  wh = (wh * 2) ** 2 * anchor_grid, cat, view(bs, -1, no); outputs the
  decoded boxes and the raw maps of each level.
yolov8: the same backbone, and a v8 Detect head: per level cat(box conv,
  cls conv), view(b, no, -1) cat on 2, split(4 * 16, nc), DFL
  (view(b, 4, 16, a).transpose(2, 1).softmax(1), 1x1 conv with weights
  0..15, view(b, 4, a)), dist2bbox (chunk, Sub, Add, Div, cat) * strides,
  cat(dbox, cls.sigmoid()); outputs the decoded tensor and the raw box
  distribution.
"""
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.simplefilter("ignore")


def conv(c1, c2, k=1, s=1):
    return nn.Sequential(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2), nn.SiLU())


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = conv(c, c, 1)
        self.cv2 = conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    def __init__(self, c1, c2, n=1):
        super().__init__()
        c_ = c2 // 2
        self.cv1 = conv(c1, c_)
        self.cv2 = conv(c1, c_)
        self.cv3 = conv(2 * c_, c2)
        self.m = nn.Sequential(*(Bottleneck(c_) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class Backbone(nn.Module):
    """Returns features at strides 8 and 16 after an FPN top-down pass."""

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 3, 2)
        self.s2 = nn.Sequential(conv(8, 16, 3, 2), C3(16, 16, 1))
        self.s3 = nn.Sequential(conv(16, 32, 3, 2), C3(32, 32, 2))
        self.s4 = nn.Sequential(conv(32, 32, 3, 2), C3(32, 32, 1))
        self.lat = conv(32, 16, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n3 = C3(48, 32, 1)
        self.down = conv(32, 16, 3, 2)
        self.n4 = C3(32, 32, 1)

    def forward(self, x):
        c3 = self.s3(self.s2(self.stem(x)))
        c4 = self.s4(c3)
        l4 = self.lat(c4)
        n3 = self.n3(torch.cat((self.up(l4), c3), 1))
        # F.interpolate with a size computed from another map: the form
        # that exports Shape/Slice/Concat chains into Resize's sizes.
        u = F.interpolate(self.down(n3), size=l4.shape[2:], mode="nearest")
        n4 = self.n4(torch.cat((u, l4), 1))
        return [n3, n4]


class V5Detect(nn.Module):
    def __init__(self, nc, ch, hw):
        super().__init__()
        self.nc, self.no, self.na = nc, nc + 5, 3
        self.stride = [8, 16]
        anchors = torch.tensor([[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]], dtype=torch.float32)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.grid, self.anchor_grid = [], []
        for i, s in enumerate(self.stride):
            ny, nx = hw // s, hw // s
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32), torch.arange(nx, dtype=torch.float32), indexing="ij")
            self.grid.append(torch.stack((xv, yv), 2).expand(1, self.na, ny, nx, 2).contiguous())
            self.anchor_grid.append(anchors[i].view(1, self.na, 1, 1, 2).expand(1, self.na, ny, nx, 2).contiguous())

    def forward(self, xs):
        z, raw = [], []
        for i, x in enumerate(xs):
            x = self.m[i](x)
            bs, _, ny, nx = x.shape
            x = x.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(x)
            xy, wh, conf = x.sigmoid().split((2, 2, self.nc + 1), 4)
            xy = (xy * 2 - 0.5 + self.grid[i]) * self.stride[i]
            wh = (wh * 2) ** 2 * self.anchor_grid[i]
            y = torch.cat((xy, wh, conf), 4)
            z.append(y.view(bs, self.na * nx * ny, self.no))
        return (torch.cat(z, 1), *raw)


class DFL(nn.Module):
    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float32).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class V8Detect(nn.Module):
    def __init__(self, nc, ch, hw):
        super().__init__()
        self.nc, self.reg_max = nc, 16
        self.no = nc + 4 * self.reg_max
        self.cv2 = nn.ModuleList(nn.Sequential(conv(c, 16, 3), nn.Conv2d(16, 4 * self.reg_max, 1)) for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(conv(c, 16, 3), nn.Conv2d(16, nc, 1)) for c in ch)
        self.dfl = DFL(self.reg_max)
        pts, strides = [], []
        for s in (8, 16):
            n = hw // s
            sy, sx = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
            pts.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((n * n, 1), float(s)))
        self.register_buffer("anchors", torch.cat(pts).transpose(0, 1).contiguous())
        self.register_buffer("strides", torch.cat(strides).transpose(0, 1).contiguous())

    def forward(self, xs):
        x = [torch.cat((self.cv2[i](xi), self.cv3[i](xi)), 1) for i, xi in enumerate(xs)]
        shape = x[0].shape
        x_cat = torch.cat([xi.view(shape[0], self.no, -1) for xi in x], 2)
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        d = self.dfl(box)
        lt, rb = d.chunk(2, 1)
        anchor = self.anchors.unsqueeze(0)
        x1y1 = anchor - lt
        x2y2 = anchor + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * self.strides
        return torch.cat((dbox, cls.sigmoid()), 1), box


class Model(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.backbone = Backbone()
        self.head = head

    def forward(self, x):
        return self.head(self.backbone(x))


def randomise(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.3, 0.3)
            mod.running_mean.uniform_(-0.3, 0.3)
            mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


def main():
    out, opsets = sys.argv[1], [int(v) for v in sys.argv[2:]]
    torch.manual_seed(0)
    hw, nc = 64, 3
    v5 = randomise(Model(V5Detect(nc, (32, 32), hw)))
    v8 = randomise(Model(V8Detect(nc, (32, 32), hw)))
    x = torch.randn(1, 3, hw, hw)
    np.save(f"{out}/x.npy", x.numpy())
    for opset in opsets:
        with torch.no_grad():
            torch.onnx.export(v5, x, f"{out}/yolov5_{opset}.onnx", opset_version=opset,
                              output_names=["pred", "raw8", "raw16"])
            torch.onnx.export(v8, x, f"{out}/yolov8_{opset}.onnx", opset_version=opset,
                              output_names=["pred", "box"])
    dyn = {"images": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(v5, x, f"{out}/yolov5_dyn.onnx", opset_version=opsets[-1], input_names=["images"],
                          output_names=["pred", "raw8", "raw16"], dynamic_axes=dyn)
        torch.onnx.export(v8, x, f"{out}/yolov8_dyn.onnx", opset_version=opsets[-1], input_names=["images"],
                          output_names=["pred", "box"], dynamic_axes=dyn)


if __name__ == "__main__":
    main()
