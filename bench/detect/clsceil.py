"""Classification ceiling of the detection sample's objects
(docs/detection.md, *What limits yolo-s*): a small CNN trained on the
embedded Fashion-MNIST (or MNIST) sample's training objects, each resized
(bilinear, antialiased) from 28 px to a side S, tested on the sample's
test objects at the same side; prints the accuracy and the per-class
recall. Fixed seed, one thread. Run from outside the repository:

    cd /tmp && /usr/bin/python3 REPO/bench/detect/clsceil.py REPO/data/sample/fashion-mnist 28,16,12 15

arguments: the IDX folder, the sides, the epochs. Flips only for
Fashion-MNIST (a mirrored digit is another glyph).
"""
import gzip, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(1); np.random.seed(1)
src = sys.argv[1]; sides = [int(s) for s in sys.argv[2].split(",")]; epochs = int(sys.argv[3])
def idx(p):
    with gzip.open(p) as f: b = f.read()
    nd = b[3]; dims = [int.from_bytes(b[4+4*i:8+4*i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4+4*nd).reshape(dims)
xtr, ytr = idx(f"{src}/train-images-idx3-ubyte.gz"), idx(f"{src}/train-labels-idx1-ubyte.gz")
xte, yte = idx(f"{src}/t10k-images-idx3-ubyte.gz"), idx(f"{src}/t10k-labels-idx1-ubyte.gz")
def prep(x, s):
    t = torch.tensor(x, dtype=torch.float32)[:, None] / 255
    if s != 28: t = F.interpolate(t, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
    return (t - 0.2) / 0.3
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        def cb(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.LeakyReLU(0.1))
        s.f = nn.Sequential(cb(1, 32), cb(32, 32), nn.MaxPool2d(2), cb(32, 64), cb(64, 64), nn.MaxPool2d(2), cb(64, 128), nn.AdaptiveAvgPool2d(1))
        s.h = nn.Linear(128, 10)
    def forward(s, x): return s.h(s.f(x).flatten(1))
for side in sides:
    a, b = prep(xtr, side), prep(xte, side)
    ya, yb = torch.tensor(ytr, dtype=torch.long), torch.tensor(yte, dtype=torch.long)
    torch.manual_seed(1); m = Net(); opt = torch.optim.AdamW(m.parameters(), 2e-3, weight_decay=5e-4)
    steps = epochs * ((len(a) + 63) // 64); sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    for ep in range(epochs):
        m.train(); perm = torch.randperm(len(a))
        for i in range(0, len(a), 64):
            j = perm[i:i+64]; x = a[j]
            flip = torch.rand(len(j)) < 0.5
            if "fashion" in src: x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = F.cross_entropy(m(x), ya[j]); opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    m.eval()
    with torch.no_grad(): pred = m(b).argmax(1)
    acc = (pred == yb).float().mean().item()
    cm = np.zeros((10, 10), int)
    for t, p in zip(yb.numpy(), pred.numpy()): cm[t, p] += 1
    print(f"{src.split('/')[-1]} side {side}: {len(a)} train / {len(b)} test objects, {epochs} epochs, test accuracy {100*acc:.2f}%; per class {[round(100*cm[i,i]/cm[i].sum()) for i in range(10)]}", flush=True)
