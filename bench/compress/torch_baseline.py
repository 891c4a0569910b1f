#!/usr/bin/python3
"""PyTorch peer for the pipeline benchmark's baseline: trains the resnet20 of
bench/speed/torch_speed.py on Fashion-MNIST with the recipe issue #8 quotes
(20 epochs, SGD Nesterov momentum 0.9, OneCycleLR peak 0.1, weight decay
5e-4, random crop with 2 pixels of black padding + horizontal flip, batch
128), so slimgo's baseline can be compared with PyTorch's on the same machine.

usage: torch_baseline.py [--epochs 20] [--seed 1] [--threads 1]
                         [--decay all|weights] [--cycle-momentum on|off]
                         [--data /usr/share/datasets/fashion-mnist]

--decay all (PyTorch's plain SGD(model.parameters(), weight_decay=...)) also
decays BN scale/shift and biases; "weights" exempts them, as slimgo's train
does by default. --cycle-momentum on is OneCycleLR's default (momentum 0.95
-> 0.85 -> 0.95 against the rate); "off" keeps 0.9, as slimgo does.
Prints one JSON line per epoch and a final JSON summary on stdout.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "speed"))
from torch_speed import ResNet  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training set, as slimgo's data package


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root, split):
    x = idx(os.path.join(root, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = idx(os.path.join(root, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (torch.from_numpy(x).unsqueeze(1) - MEAN) / STD
    return x, torch.from_numpy(y)


def augment(x, g):
    """Random crop after padding 2 black pixels, then a coin-flip mirror."""
    n = x.shape[0]
    black = -MEAN / STD
    p = nn.functional.pad(x, (2, 2, 2, 2), value=black)
    dy = torch.randint(0, 5, (n,), generator=g)
    dx = torch.randint(0, 5, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        img = p[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
        out[i] = img.flip(-1) if flip[i] else img
    return out


def evaluate(m, x, y):
    m.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], 500):
            correct += (m(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    m.train()
    return 100.0 * correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--decay", choices=["all", "weights"], default="all")
    ap.add_argument("--cycle-momentum", choices=["on", "off"], default="on")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    m = ResNet(3).train()
    if a.decay == "all":
        groups = [{"params": list(m.parameters())}]
    else:
        decay = [p for p in m.parameters() if p.dim() > 1]
        keep = [p for p in m.parameters() if p.dim() <= 1]
        groups = [{"params": decay}, {"params": keep, "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = (xtr.shape[0] + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=a.epochs, steps_per_epoch=steps,
                                                cycle_momentum=a.cycle_momentum == "on")
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    curve = []
    for ep in range(a.epochs):
        perm = torch.randperm(xtr.shape[0], generator=g)
        total, seen = 0.0, 0
        for s in range(steps):
            i = perm[s * a.batch:(s + 1) * a.batch]
            xb = augment(xtr[i], g)
            loss = loss_fn(m(xb), ytr[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(i)
            seen += len(i)
        acc = evaluate(m, xte, yte)
        curve.append(acc)
        print(json.dumps({"epoch": ep + 1, "loss": total / seen, "test_accuracy": acc,
                          "seconds": round(time.time() - t0, 1)}), flush=True)
    print(json.dumps({"seed": a.seed, "decay": a.decay, "cycle_momentum": a.cycle_momentum,
                      "epochs": a.epochs, "test_accuracy": curve[-1], "curve": curve,
                      "seconds": round(time.time() - t0, 1), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
