#!/usr/bin/python3
"""The torchvision zoo as proof: train briefly in PyTorch, export with
torch.onnx.export's defaults, and hand the files to slimgo.

  data     writes the image folder DIR/rgb-folder (user_models.py's
           functions), x.npy and labels.npy: every test image preprocessed as
           PyTorch sees it, and its class.
  train    builds each model for 10 classes, trains it briefly (Adam,
           one-cycle, one epoch over 6000 images, three for mobilenet_v2) on
           the 32x32 RGB image folder of user_models.py (coloured
           Fashion-MNIST, ImageNet mean/std, as torchvision's ImageFolder
           reads it), re-measures BN statistics, measures its test accuracy,
           and exports it with
           torch.onnx.export(model.eval(), x, path) -- batch fixed at 1, BN
           folded, default opset. It also writes MODEL.torch.npy (PyTorch's
           logits on every test image) and DIR/MODEL.torch.json.
  native   vgg11_bn at 224x224, untrained, exported the same way (with
           x224.npy and PyTorch's logits on it): an import check only.
  compare  A.npy B.npy [LABELS.npy]: max abs difference and top-1 agreement
           of two logit arrays (and both accuracies), as one JSON object.
  table    DIR: the markdown table of DIR/MODEL.json (zoo.sh writes them).

usage: /usr/bin/python3 zoo.py data|train|native --out DIR [--models a,b] [--train N]
           [--test N] [--epochs E] [--epochs-for M=E,...] [--batch B] [--lr LR]
           [--bn-images N] [--threads T] [--seed S]
       /usr/bin/python3 zoo.py compare A.npy B.npy [LABELS.npy]
       /usr/bin/python3 zoo.py table DIR

Run it from a directory other than the repository root: the repository's
onnx/ folder would shadow the python onnx package.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "vgg11_bn", "darknet"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def build(name):
    import torchvision

    if name == "darknet":
        return darknet()
    if name.startswith("resnet"):
        # the last BN of each residual branch starts at zero: deep resnets
        # learn much faster in a few hundred steps
        return getattr(torchvision.models, name)(num_classes=10, zero_init_residual=True)
    return getattr(torchvision.models, name)(num_classes=10)


def darknet():
    """A small darknet-style residual net: Conv-BN-LeakyReLU(0.1) everywhere,
    a stride-2 3x3 conv per stage, then shortcut blocks of a 1x1 conv halving
    the channels and a 3x3 conv restoring them, added to the block's input."""
    import torch.nn as nn

    def cbl(cin, cout, k, s=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                             nn.LeakyReLU(0.1))

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a = cbl(c, c // 2, 1)
            self.b = cbl(c // 2, c, 3)

        def forward(self, x):
            return x + self.b(self.a(x))

    class DarkNet(nn.Module):
        def __init__(self, widths=(32, 64, 128, 256), blocks=(1, 2, 2, 1), classes=10):
            super().__init__()
            layers = [cbl(3, 16, 3)]
            cin = 16
            for w, n in zip(widths, blocks):
                layers.append(cbl(cin, w, 3, 2))
                layers += [Block(w) for _ in range(n)]
                cin = w
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            return self.fc(self.pool(self.features(x)).flatten(1))

    return DarkNet()


def folded_vgg(m):
    """torchvision's VGG on a 32x32 input: its features end at 1x1 and
    AdaptiveAvgPool2d((7, 7)) only copies that pixel 49 times, which
    torch.onnx.export refuses (7 is no factor of 1). The first Linear's weights
    summed over the 49 copies make the same function without the pooling."""
    import torch
    import torch.nn as nn

    fc = m.classifier[0]
    new = nn.Linear(512, fc.out_features)
    with torch.no_grad():
        new.weight.copy_(fc.weight.view(fc.out_features, 512, 49).sum(2))
        new.bias.copy_(fc.bias)

    class Folded(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = m.features
            self.classifier = nn.Sequential(new, *list(m.classifier)[1:])

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    return Folded().eval()


def rgb_folder(out, ntrain, ntest, seed):
    sys.dont_write_bytecode = True  # no __pycache__ in the repository
    sys.path.insert(0, HERE)
    import user_models

    root = os.path.join(out, "rgb-folder")
    if not os.path.isdir(os.path.join(root, "test")):
        rng = np.random.default_rng(seed)
        xtr, ytr = user_models.load_fmnist("train", ntrain)
        xte, yte = user_models.load_fmnist("test", ntest)
        user_models.write_rgb_folder(root, "train", xtr, ytr, rng)
        user_models.write_rgb_folder(root, "test", xte, yte, rng)
    return root


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def load(args):
    """The image folder (written on first use) as tensors: the same ones
    torchvision's ImageFolder with ToTensor + Normalize gives, decoded once."""
    import torch
    import torchvision
    from torchvision import transforms

    root = rgb_folder(args.out, args.train, args.test, args.seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    tr = torchvision.datasets.ImageFolder(os.path.join(root, "train"), tf)
    te = torchvision.datasets.ImageFolder(os.path.join(root, "test"), tf)
    return (torch.stack([x for x, _ in tr]), torch.tensor(tr.targets),
            torch.stack([x for x, _ in te]), torch.tensor(te.targets))


def data(args):
    """Writes the folder, x.npy and labels.npy (every test image as PyTorch
    sees it), so several train processes can then share them."""
    _, _, xs, ys = load(args)
    np.save(os.path.join(args.out, "labels.npy"), ys.numpy())
    save_npy(os.path.join(args.out, "x.npy"), xs.numpy())


def train(args):
    import torch
    import torch.nn as nn

    # One thread: on a machine someone else keeps busy, OpenMP's barriers
    # with a descheduled second thread made training 10-40x slower (zoo.sh
    # runs two of these processes side by side instead).
    torch.set_num_threads(args.threads)
    xtr, ytr, xs, ys = load(args)
    epochs_for = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in args.epochs_for.split(",") if kv)
    dummy = torch.randn(1, 3, 32, 32)

    for name in args.models.split(","):
        torch.manual_seed(args.seed)
        m = build(name)
        rec = {"model": name}
        path = os.path.join(args.out, name + ".onnx")
        if name.startswith("vgg"):
            # torchvision's VGG at 32x32 does not export (see folded_vgg):
            # record PyTorch's error, then train and export the same function
            # with the pooling folded into the first Linear.
            try:
                torch.onnx.export(m.eval(), dummy, path)
            except Exception as e:  # noqa: BLE001 -- the error is the result
                rec["export_error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                print(f"{name}: torch.onnx.export failed: {rec['export_error']}", file=sys.stderr)
                f = folded_vgg(m)
                with torch.no_grad():
                    rec["folded_max_abs_diff"] = float((f(xs[:64]) - m(xs[:64])).abs().max())
                m = f
                path = os.path.join(args.out, name + "-folded.onnx")
                rec["note"] = ("trained and exported with AdaptiveAvgPool2d((7,7)) folded into the first Linear "
                               "(the same function at 32x32)")
        epochs = epochs_for.get(name, args.epochs)
        g = torch.Generator().manual_seed(args.seed)
        steps_per_epoch = (len(ytr) + args.batch - 1) // args.batch
        opt = torch.optim.Adam(m.parameters(), lr=args.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=epochs * steps_per_epoch)
        loss_fn = nn.CrossEntropyLoss()
        t0 = time.time()
        m.train()
        for ep in range(epochs):
            perm = torch.randperm(len(ytr), generator=g)
            tot = 0.0
            for i in range(steps_per_epoch):
                idx = perm[i * args.batch:(i + 1) * args.batch]
                opt.zero_grad()
                loss = loss_fn(m(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                sched.step()
                tot += loss.item() * len(idx)
            print(f"{name}: epoch {ep + 1}/{epochs} loss {tot / len(ytr):.4f} ({time.time() - t0:.0f} s)",
                  file=sys.stderr)
        # BN statistics measured afresh on training images: a few hundred
        # steps leave running averages with momentum 0.01 (mobilenet_v3's)
        # mostly at their initial values.
        for mod in m.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.reset_running_stats()
                mod.momentum = None
        with torch.no_grad():
            for i in range(0, min(args.bn_images, len(ytr)), 256):
                m(xtr[i:i + 256])
        train_s = time.time() - t0
        m.eval()
        with torch.no_grad():
            ref = torch.cat([m(xs[i:i + 250]) for i in range(0, len(ys), 250)])
        rec.update({"accuracy": 100.0 * (ref.argmax(1) == ys).sum().item() / len(ys), "test_images": len(ys),
                    "train_images": len(ytr), "epochs": epochs, "train_s": round(train_s, 1),
                    "params_torch": sum(p.numel() for p in m.parameters())})
        try:
            torch.onnx.export(m.eval(), dummy, path)  # the defaults, as users do
            rec["onnx"] = path
        except Exception as e:  # noqa: BLE001 -- the error is the result
            rec["export_error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            print(f"{name}: torch.onnx.export failed: {rec['export_error']}", file=sys.stderr)
        save_npy(os.path.splitext(path)[0] + ".torch.npy", ref.numpy())
        print(json.dumps(rec), flush=True)
        with open(os.path.join(args.out, name + ".torch.json"), "w") as fh:
            fh.write(json.dumps(rec) + "\n")


def native(args):
    """vgg11_bn at the 224x224 input torchvision means, untrained: there the
    adaptive pooling exports (as a 1x1 AveragePool), so the file checks the
    import and the arithmetic against ONNX Runtime, not accuracy."""
    import torch
    import torchvision

    torch.manual_seed(args.seed)
    m = torchvision.models.vgg11_bn(num_classes=10).eval()
    x = torch.randn(4, 3, 224, 224)
    save_npy(os.path.join(args.out, "x224.npy"), x.numpy())
    torch.onnx.export(m, torch.randn(1, 3, 224, 224), os.path.join(args.out, "vgg11_bn-224.onnx"))
    with torch.no_grad():
        save_npy(os.path.join(args.out, "vgg11_bn-224.torch.npy"), m(x).numpy())


def compare(a, b, labels=None):
    """Max abs difference and top-1 agreement of logits A against B, and
    each one's accuracy with labels."""
    x, y = np.load(a).astype(np.float64), np.load(b).astype(np.float64)
    if x.shape != y.shape:
        print(json.dumps({"error": f"shapes differ: {list(x.shape)} vs {list(y.shape)}"}))
        return
    d = np.abs(x - y)
    r = {"max_abs_diff": float(d.max()), "max_abs": float(np.abs(y).max()),
         "top1_agree": float((x.argmax(1) == y.argmax(1)).mean() * 100), "n": int(x.shape[0])}
    if labels:
        lab = np.load(labels)
        r["accuracy_a"] = float((x.argmax(1) == lab).mean() * 100)
        r["accuracy_b"] = float((y.argmax(1) == lab).mean() * 100)
    print(json.dumps(r))


def fmt_int(n):
    if n is None:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.0f} k"
    return str(n)


def fails(r):
    return "fails: `" + r.get("error", "?").replace("|", "\\|") + "`"


def table(d):
    """Two markdown tables from DIR/MODEL.json: the imported file against
    PyTorch and ONNX Runtime, then pruning and compression."""
    rows = []
    for name in MODELS:
        p = os.path.join(d, name + ".json")
        if os.path.exists(p):
            with open(p) as fh:
                rows.append(json.load(fh))
    a = ["| model | params | MACs | PyTorch acc % | slimgo eval % | ORT acc % (predict %) | "
         "max \\|slimgo - ORT\\| (max \\|logit\\|) | top-1 agree | max \\|slimgo - PyTorch\\| |",
         "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    b = ["| model | slim 50%, 1 ep: acc, params, MACs, s | ddpg to 50% params, 6 ep., 1 ep: acc, params, MACs, s | "
         "compress: acc, params, MACs, bytes, speed-up, s | pruned files vs ORT: max \\|diff\\|, top-1 (slim / ddpg / compress) |",
         "|---|---|---|---|---|"]
    cs = ["| model | original | sparse | channel (DDPG) | layer | quantized |", "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        t = r.get("torch", {})
        name = r["model"] + (" (folded pool)" if t.get("note") else "")
        if "onnx" not in t:
            a.append(f"| {name} | torch.onnx.export fails: `{t.get('export_error', '?')}` |" + " |" * 7)
            continue
        info, ev, ort, tv = r.get("info") or {}, r.get("eval") or {}, r.get("ort") or {}, r.get("torch_vs_slimgo") or {}
        if "error" in info:
            a.append(f"| {name} | import {fails(info)} |" + " |" * 7)
            continue
        cells = [name, fmt_int(info.get("params")), fmt_int(info.get("macs")), f"{t['accuracy']:.1f}",
                 f"{ev['accuracy']:.1f}" if "accuracy" in ev else fails(ev)]
        if "max_abs_diff" in ort:
            cells += [f"{ort['accuracy_b']:.1f} ({ort['accuracy_a']:.1f})",
                      f"{ort['max_abs_diff']:.1e} ({ort['max_abs']:.1f})", f"{ort['top1_agree']:.1f}%"]
        else:
            cells += [fails(ort), "", ""]
        cells.append(f"{tv['max_abs_diff']:.1e}" if "max_abs_diff" in tv else "-")
        a.append("| " + " | ".join(cells) + " |")

        def pr(s):
            if not s:
                return "-"
            if "error" in s:
                return fails(s)
            return (f"{s['accuracy_before']:.1f} -> {s['accuracy']:.1f}, {fmt_int(s['params'])}, "
                    f"{fmt_int(s['macs'])}, {s['seconds']:.0f}")

        c = r.get("compress")
        if not c:
            cc = "-"
        elif "error" in c:
            cc = fails(c)
        else:
            cc = (f"{c['accuracy_before']:.1f} -> {c['accuracy']:.1f}, {fmt_int(c['params'])}, {fmt_int(c['macs'])}, "
                  f"{fmt_int(c['bytes_before'])}B -> {fmt_int(c['bytes'])}B ({c['compression']:.0f}x), "
                  f"{c['speedup']:.1f}x faster, {c['seconds']:.0f}")
            st = {x["name"]: x for x in c.get("stages", [])}
            cs.append("| " + " | ".join([name] + [
                f"{st[k]['accuracy']:.1f} ({st[k]['seconds']:.0f} s)" if k in st else "skipped"
                for k in ("original", "sparse", "channel", "layer", "quantized")]) + " |")

        def ok(o):
            if not o:
                return "-"
            if "error" in o:
                return fails(o)
            return f"{o['max_abs_diff']:.0e}, {o['top1_agree']:.0f}%"

        b.append("| " + " | ".join([name, pr(r.get("slim")), pr(r.get("ddpg")), cc,
                                    " / ".join(ok(r.get(k)) for k in ("slim_ort", "ddpg_ort", "compress_ort"))]) + " |")
    print("\n".join(a) + "\n\n" + "\n".join(b) + "\n\ncompress, accuracy % after each stage:\n\n" + "\n".join(cs))
    p = os.path.join(d, "native.json")
    if os.path.exists(p):
        with open(p) as fh:
            n = json.load(fh)
        o, t = n.get("ort") or {}, n.get("torch_vs_slimgo") or {}
        print(f"\n{n['model']}: {fmt_int(n['info'].get('params'))} params, {fmt_int(n['info'].get('macs'))} MACs, "
              f"ops {json.dumps(n['info'].get('ops'))}; max |slimgo - ORT| {o.get('max_abs_diff', float('nan')):.1e} "
              f"(max |logit| {o.get('max_abs', float('nan')):.2f}), top-1 agree {o.get('top1_agree', float('nan')):.0f}% "
              f"of {o.get('n')}, max |slimgo - PyTorch| {t.get('max_abs_diff', float('nan')):.1e}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "compare":
        compare(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "table":
        table(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["data", "train", "native"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--train", type=int, default=6000, help="training images in the folder (all are used)")
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--epochs-for", default="mobilenet_v2=3", help="per-model epochs, e.g. mobilenet_v2=3")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.002, help="Adam's peak learning rate (one-cycle)")
    ap.add_argument("--bn-images", type=int, default=2048, help="training images that re-measure BN statistics")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    {"data": data, "train": train, "native": native}[args.cmd](args)


if __name__ == "__main__":
    main()
