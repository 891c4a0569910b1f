#!/usr/bin/python3
"""PyTorch peer for bench/speed: the same CIFAR-style ResNets slimgo builds
(nn.Build "resnet8"/"resnet20": bias-free 3x3 convs, BN, ReLU, 1x1 stride-2
projection shortcuts, global average pool, linear head) on random
[N,1,28,28] images, timed the same way as the Go side.

usage:
  torch_speed.py train MODEL BATCH STEPS EPOCHS THREADS
      SGD (momentum 0.9, Nesterov, weight decay 5e-4) with cross-entropy;
      each epoch visits a fresh permutation of STEPS*BATCH examples.
      Prints {"images_per_s": best epoch after the first, "epochs": [...]}.
  infer MODEL BATCH REPS THREADS [WARMUP MIN_SECONDS]
      eval mode, no_grad; WARMUP warm-up passes (default 1), then timed
      passes until REPS have run and MIN_SECONDS (default 0) have gone by;
      the best counts ("images_per_s", "ms_per_batch"; also "median_ms",
      "passes"). MODEL is resnet8/resnet20 (the nets above, [N,1,28,28]) or
      a torchvision classifier (resnet18, resnet50, mobilenet_v2,
      mobilenet_v3_small, vgg11_bn, ...: random weights, seed 1, 1000
      classes, [N,3,224,224]; BN stays a module, as PyTorch runs it).
  gemm M,N,K[;M,N,K...] MIN_SECONDS REPS THREADS
      torch.matmul of float32 matrices; best GFLOP/s per shape.
  step MODEL BATCH STEPS EPOCHS THREADS
      the training targets of issue 24: as train, on MODEL resnet8/resnet20
      ([N,1,28,28]), mobilenet_v2 (the user's model of
      bench/models/user_models.py: torchvision mobilenet_v2, width 0.5,
      10 classes, its stem a 1-channel 3x3 stride-1 conv; [N,1,28,28]) or
      resnet18 (torchvision, 10 classes, [N,3,224,224]); also prints the
      wall and process CPU time (time.process_time, every thread) per step
      of each epoch and the smallest of each after the first
      ("wall_ms_per_step", "cpu_ms_per_step").
  export MODEL PATH
      writes the step model (seed 1) to PATH with torch.onnx.export's
      defaults (eval mode, batch 1, BN folded), for slimgo to import.
Each mode prints one JSON object on stdout.
"""
import json
import sys
import time

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.down = None
        if stride != 1 or cin != width:
            self.down = nn.Sequential(nn.Conv2d(cin, width, 1, stride, 0, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.down is None else self.down(x)
        return torch.relu(y + s)


class ResNet(nn.Module):
    def __init__(self, blocks, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, cin = [], 16
        for s, width in enumerate([16, 32, 64]):
            for j in range(blocks):
                layers.append(Block(cin, width, 2 if s > 0 and j == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build(name):
    blocks = {"resnet8": 1, "resnet20": 3}[name]
    torch.manual_seed(1)
    return ResNet(blocks)


def sgd_epoch(m, opt, loss_fn, x, y, g, steps, batch):
    """One shuffled pass of steps training steps of batch images."""
    perm = torch.randperm(x.shape[0], generator=g)
    for s in range(steps):
        idx = perm[s * batch:(s + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(m(x[idx]), y[idx])
        loss.backward()
        opt.step()


def train(name, batch, steps, epochs, threads):
    torch.set_num_threads(threads)
    m = build(name).train()
    n = steps * batch
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        sgd_epoch(m, opt, loss_fn, x, y, g, steps, batch)
        rates.append(n / (time.perf_counter() - t0))
    best = max(rates[1:]) if len(rates) > 1 else rates[0]
    return {"images_per_s": best, "epochs": rates, "params": sum(p.numel() for p in m.parameters()),
            "threads": torch.get_num_threads()}


def make_mbv2(in_ch=1, width=0.5):
    """bench/models/user_models.py's model: a 1-channel stride-1 stem."""
    import torchvision
    m = torchvision.models.mobilenet_v2(width_mult=width, num_classes=10)
    old = m.features[0][0]
    m.features[0][0] = nn.Conv2d(in_ch, old.out_channels, 3, stride=1, padding=1, bias=False)
    return m


def build_step(name):
    """A training target and its input's [C,H,W] (seed 1)."""
    if name in ("resnet8", "resnet20"):
        return build(name), (1, 28, 28)
    torch.manual_seed(1)
    if name == "mobilenet_v2":
        return make_mbv2(), (1, 28, 28)
    if name == "resnet18":
        import torchvision
        return torchvision.models.resnet18(num_classes=10), (3, 224, 224)
    sys.exit("unknown step model " + name)


def step(name, batch, steps, epochs, threads):
    torch.set_num_threads(threads)
    m, chw = build_step(name)
    m = m.train()
    n = steps * batch
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, *chw, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    wall, cpu = [], []
    for _ in range(epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        sgd_epoch(m, opt, loss_fn, x, y, g, steps, batch)
        wall.append(1000 * (time.perf_counter() - t0) / steps)
        cpu.append(1000 * (time.process_time() - c0) / steps)
    k = 1 if epochs > 1 else 0
    return {"images_per_s": 1000 * batch / min(wall[k:]), "wall_ms_per_step": min(wall[k:]),
            "cpu_ms_per_step": min(cpu[k:]), "wall_ms": wall, "cpu_ms": cpu,
            "params": sum(p.numel() for p in m.parameters()), "threads": torch.get_num_threads()}


def export(name, path):
    m, chw = build_step(name)
    torch.onnx.export(m.eval(), torch.randn(1, *chw), path)
    return {"path": path}


def build_any(name):
    """The model and its input's [C,H,W]: the nets above or torchvision's."""
    if name in ("resnet8", "resnet20"):
        return build(name), (1, 28, 28)
    import torchvision
    torch.manual_seed(1)
    return torchvision.models.__dict__[name](weights=None), (3, 224, 224)


def infer(name, batch, reps, threads, warmup=1, min_s=0.0):
    torch.set_num_threads(threads)
    m, chw = build_any(name)
    m = m.eval()
    x = torch.randn(batch, *chw, generator=torch.Generator().manual_seed(2))
    times = []
    with torch.no_grad():
        for _ in range(max(warmup, 1)):
            m(x)
        start = time.perf_counter()
        while len(times) < max(reps, 1) or (time.perf_counter() - start < min_s and len(times) < 10000):
            t0 = time.perf_counter()
            m(x)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"images_per_s": batch / times[0], "ms_per_batch": 1000 * times[0], "median_ms": 1000 * times[len(times) // 2],
            "passes": len(times), "threads": torch.get_num_threads()}


def gemm(shapes, min_s, reps, threads):
    torch.set_num_threads(threads)
    out = []
    for sh in shapes.split(";"):
        mm, nn_, kk = (int(v) for v in sh.split(","))
        a, b = torch.randn(mm, kk), torch.randn(kk, nn_)
        c = torch.empty(mm, nn_)
        torch.matmul(a, b, out=c)
        best = 0.0
        for _ in range(max(reps, 1)):
            it, t0 = 0, time.perf_counter()
            while True:
                torch.matmul(a, b, out=c)
                it += 1
                dt = time.perf_counter() - t0
                if dt >= min_s:
                    break
            best = max(best, 2.0 * mm * nn_ * kk * it / dt / 1e9)
        out.append(best)
    return {"gflops": out, "threads": torch.get_num_threads()}


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "train":
        r = train(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "infer":
        r = infer(a[0], int(a[1]), int(a[2]), int(a[3]), *([int(a[4]), float(a[5])] if len(a) > 5 else []))
    elif mode == "step":
        r = step(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "export":
        r = export(a[0], a[1])
    elif mode == "gemm":
        r = gemm(a[0], float(a[1]), int(a[2]), int(a[3]))
    else:
        sys.exit("unknown mode " + mode)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
