#!/usr/bin/python3
"""A user's own models, made the way slimgo's users make them.

Trains torchvision's mobilenet_v2 (width 0.5, stem stride 1) in PyTorch and
exports it with torch.onnx.export's defaults (batch fixed at 1, BN folded):

  gray  Fashion-MNIST IDX files, one input channel, Normalize((0.5,), (0.5,))
  rgb   a folder of 32x32 RGB PNGs (Fashion-MNIST objects padded to 32x32 and
        coloured: a random background and foreground colour per image),
        read with torchvision's ImageFolder, Normalize(ImageNet mean/std)

and prints one JSON line per model with the test accuracy PyTorch measures,
so slimgo's figures on the same file and images can be held against it.

usage: /usr/bin/python3 user_models.py --out DIR [--which gray,rgb]
         [--train N] [--test N] [--epochs E] [--width W] [--threads T]

The RGB folder is written to DIR/rgb-folder/{train,test}/<class>/*.png.
With --dump-test, the test images as the user's PyTorch code feeds them
(ToTensor + Normalize) are saved as DIR/<model>-test-x.npy (float32, NCHW)
and their labels as DIR/<model>-test-y.npy (float32), so a delivered model
can be scored in ONNX Runtime on exactly those inputs.
Everything is seeded; the run is deterministic on one machine.
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
import torchvision
from torchvision import transforms

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist(split, n):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(f"{FMNIST}/{pre}-images-idx3-ubyte.gz")
    y = read_idx(f"{FMNIST}/{pre}-labels-idx1-ubyte.gz")
    return x[:n], y[:n].astype(np.int64)


def make_model(in_ch, width):
    m = torchvision.models.mobilenet_v2(width_mult=width, num_classes=10)
    old = m.features[0][0]
    m.features[0][0] = nn.Conv2d(in_ch, old.out_channels, 3, stride=1, padding=1, bias=False)
    return m


def fit(m, loader, epochs, lr):
    opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, weight_decay=4e-5, nesterov=True)
    steps = epochs * len(loader)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    for ep in range(epochs):
        m.train()
        t0, tot, n = time.time(), 0.0, 0
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(m(x), y)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(y)
            n += len(y)
        print(f"epoch {ep + 1}/{epochs}: loss {tot / n:.4f} ({time.time() - t0:.0f} s)", file=sys.stderr)


def dump(loader, path):
    xs, ys = [], []
    for x, y in loader:
        xs.append(x.numpy())
        ys.append(y.numpy())
    np.save(path + "-test-x.npy", np.concatenate(xs).astype(np.float32))
    np.save(path + "-test-y.npy", np.concatenate(ys).astype(np.float32))


def accuracy(m, loader):
    m.eval()
    right = n = 0
    with torch.no_grad():
        for x, y in loader:
            right += (m(x).argmax(1) == y).sum().item()
            n += len(y)
    return 100.0 * right / n, n


def export(m, shape, path):
    m.eval()
    torch.onnx.export(m, torch.randn(*shape), path)  # the defaults, as users do


def gray(args):
    xtr, ytr = load_fmnist("train", args.train)
    xte, yte = load_fmnist("test", args.test)
    norm = lambda x: (torch.from_numpy(x.copy()).float().unsqueeze(1) / 255 - 0.5) / 0.5
    tr = torch.utils.data.TensorDataset(norm(xtr), torch.from_numpy(ytr))
    te = torch.utils.data.TensorDataset(norm(xte), torch.from_numpy(yte))
    g = torch.Generator().manual_seed(args.seed)
    m = make_model(1, args.width)
    fit(m, torch.utils.data.DataLoader(tr, batch_size=128, shuffle=True, generator=g), args.epochs, args.lr)
    acc, n = accuracy(m, torch.utils.data.DataLoader(te, batch_size=256))
    path = os.path.join(args.out, "mbv2-gray.onnx")
    export(m, (1, 1, 28, 28), path)
    if args.dump_test:
        dump(torch.utils.data.DataLoader(te, batch_size=256), path[:-5])
    return {"model": path, "data": "fashion-mnist", "test_images": n, "accuracy": acc, "mean": [0.5], "std": [0.5]}


def write_rgb_folder(root, split, x, y, rng):
    from PIL import Image
    classes = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
    for c in classes:
        os.makedirs(os.path.join(root, split, c), exist_ok=True)
    for i, (img, lab) in enumerate(zip(x, y)):
        p = np.zeros((32, 32), np.float32)
        p[2:30, 2:30] = img / 255.0
        bg = rng.integers(0, 256, 3).astype(np.float32)
        fg = rng.integers(0, 256, 3).astype(np.float32)
        rgb = bg[None, None, :] * (1 - p[:, :, None]) + fg[None, None, :] * p[:, :, None]
        Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB").save(
            os.path.join(root, split, classes[lab], f"{i:05d}.png"))


def rgb(args):
    root = os.path.join(args.out, "rgb-folder")
    if not os.path.isdir(os.path.join(root, "test")):
        rng = np.random.default_rng(args.seed)
        xtr, ytr = load_fmnist("train", args.train)
        xte, yte = load_fmnist("test", args.test)
        write_rgb_folder(root, "train", xtr, ytr, rng)
        write_rgb_folder(root, "test", xte, yte, rng)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    tr = torchvision.datasets.ImageFolder(os.path.join(root, "train"), tf)
    te = torchvision.datasets.ImageFolder(os.path.join(root, "test"), tf)
    g = torch.Generator().manual_seed(args.seed)
    m = make_model(3, args.width)
    fit(m, torch.utils.data.DataLoader(tr, batch_size=128, shuffle=True, generator=g), args.epochs, args.lr)
    acc, n = accuracy(m, torch.utils.data.DataLoader(te, batch_size=256))
    path = os.path.join(args.out, "mbv2-rgb.onnx")
    export(m, (1, 3, 32, 32), path)
    if args.dump_test:
        dump(torch.utils.data.DataLoader(te, batch_size=256), path[:-5])
    return {"model": path, "data": root, "test_images": n, "accuracy": acc, "mean": "imagenet", "std": "imagenet"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--which", default="gray,rgb")
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dump-test", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for w in args.which.split(","):
        print(json.dumps({"gray": gray, "rgb": rgb}[w](args)), flush=True)


if __name__ == "__main__":
    main()
