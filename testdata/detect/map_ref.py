"""Independent reference of COCO box mAP (bbox, any area range), written
from the COCO evaluation's definition in numpy, for detect/map_test.go.

stdin: JSON list of cases {"num_classes": K, "max_dets": M (0: 100, <0: none),
             "area_rng": [lo, hi] (optional; hi 0: no upper limit; areaRng),
             "images": [{"gt": [[x1, y1, x2, y2, cls, crowd], ...],
                         "dt": [[x1, y1, x2, y2, cls, score], ...]}, ...]}
stdout: JSON list, one per case, {"map50": .., "map5095": .., "per_class": [[cls, ngt, ap50, ap5095], ...]}
(maps are null when no class has ground truth).
"""
import json
import sys

import numpy as np

IOU_T = np.linspace(0.5, 0.95, 10)
REC_T = np.linspace(0.0, 1.0, 101)


def overlaps(d, g, crowd):
    """Matrix [len(d), len(g)]: IoU, or |d & g| / |d| for crowd columns."""
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    iw = np.minimum(d[:, None, 2], g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0])
    ih = np.minimum(d[:, None, 3], g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    ad = (np.clip(d[:, 2] - d[:, 0], 0, None) * np.clip(d[:, 3] - d[:, 1], 0, None))[:, None]
    ag = (np.clip(g[:, 2] - g[:, 0], 0, None) * np.clip(g[:, 3] - g[:, 1], 0, None))[None, :]
    union = np.where(crowd[None, :], ad, ad + ag - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return out


def match(d, g, crowd, gign, dout, t):
    """Greedy matching of detections d (score order) to g (regular first,
    then the ignored boxes gign: crowd or outside the area range) at
    threshold t; returns (matched, ignored) boolean arrays over d. An
    unmatched detection is ignored when dout (its area is out of range)."""
    ious = overlaps(d, g, crowd)
    used = np.zeros(len(g), bool)
    matched = np.zeros(len(d), bool)
    ignored = np.zeros(len(d), bool)
    for i in range(len(d)):
        best, m = min(t, 1 - 1e-10), -1
        for j in range(len(g)):
            if used[j] and not crowd[j]:
                continue
            if m > -1 and not gign[m] and gign[j]:
                break
            if ious[i, j] < best:
                continue
            best, m = ious[i, j], j
        if m == -1:
            ignored[i] = dout[i]
            continue
        used[m] = True
        matched[i] = True
        ignored[i] = gign[m]
    return matched, ignored


def area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def class_ap(images, c, max_dets, rng):
    lo, hi = rng
    hi = np.inf if hi == 0 else hi
    scores, tps, igs = [], [], []
    npos = 0
    for im in images:
        gt = np.array([x for x in (im["gt"] or []) if int(x[4]) == c], float).reshape(-1, 6)
        a = area(gt)
        gign = (gt[:, 5] > 0) | (a < lo) | (a > hi)
        order = np.argsort(gign, kind="mergesort")  # counted boxes first
        gt, gign = gt[order], gign[order]
        crowd = gt[:, 5] > 0
        npos += int((~gign).sum())
        dt = np.array([x for x in (im["dt"] or []) if int(x[4]) == c], float).reshape(-1, 6)
        dt = dt[np.argsort(-dt[:, 5], kind="mergesort")]
        if max_dets > 0:
            dt = dt[:max_dets]
        da = area(dt)
        dout = (da < lo) | (da > hi)
        res = [match(dt[:, :4], gt[:, :4], crowd, gign, dout, t) for t in IOU_T]
        scores.append(dt[:, 5])
        tps.append(np.stack([r[0] for r in res]) if res else np.zeros((10, 0), bool))
        igs.append(np.stack([r[1] for r in res]) if res else np.zeros((10, 0), bool))
    if npos == 0:
        return None, 0
    s = np.concatenate(scores)
    rank = np.argsort(-s, kind="mergesort")
    tp_all = np.concatenate(tps, axis=1)[:, rank]
    ig_all = np.concatenate(igs, axis=1)[:, rank]
    aps = []
    for t in range(len(IOU_T)):
        tp = np.cumsum(tp_all[t] & ~ig_all[t]).astype(float)
        fp = np.cumsum(~tp_all[t] & ~ig_all[t]).astype(float)
        rec = tp / npos
        prec = tp / (tp + fp + np.spacing(1))
        prec = np.maximum.accumulate(prec[::-1])[::-1]  # envelope from the right
        q = np.zeros(len(REC_T))
        idx = np.searchsorted(rec, REC_T, side="left")
        ok = idx < len(rec)
        q[ok] = prec[idx[ok]]
        aps.append(q.mean())
    return np.array(aps), npos


def run(req):
    md = req.get("max_dets", 0)
    md = 100 if md == 0 else md
    per, a50, a5095 = [], [], []
    for c in range(req["num_classes"]):
        ap, n = class_ap(req["images"], c, md, req.get("area_rng") or [0, 0])
        if ap is None:
            continue
        per.append([c, n, ap[0], ap.mean()])
        a50.append(ap[0])
        a5095.append(ap.mean())
    out = {"map50": float(np.mean(a50)) if a50 else None,
           "map5095": float(np.mean(a5095)) if a5095 else None,
           "per_class": [[int(c), int(n), float(x), float(y)] for c, n, x, y in per]}
    return out


def main():
    json.dump([run(r) for r in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
