#!/usr/bin/python3
"""Exports torchvision classifiers for bench/speed/table.sh the way a PyTorch
user does: random weights (seed 1, 1000 classes), eval mode,
torch.onnx.export with every default (batch fixed at 1, BatchNormalization
folded into the convolutions, the default opset), input [1,3,SIZE,SIZE].

usage: export_torchvision.py OUTDIR SIZE NAME [NAME...]
Writes OUTDIR/NAME.onnx for each NAME (skipping files that exist) and
prints one line per file. Run it from outside the repository (its onnx/
directory would shadow the Python onnx module).
"""
import os
import sys

import torch
import torchvision


def main():
    out, size, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    for name in names:
        path = os.path.join(out, name + ".onnx")
        if os.path.exists(path):
            print(f"{path} exists")
            continue
        torch.manual_seed(1)
        m = torchvision.models.__dict__[name](weights=None).eval()
        tmp = path + ".tmp"
        torch.onnx.export(m, torch.randn(1, 3, size, size), tmp)
        os.replace(tmp, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
