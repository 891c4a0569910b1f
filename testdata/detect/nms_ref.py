"""torchvision's box ops on the boxes given, for detect/nms_test.go.

stdin: JSON list of cases {"boxes": [[x1, y1, x2, y2], ...], "scores": [...],
             "classes": [...], "iou": thr}
stdout: JSON list, one per case, {"nms": [kept indices], "batched": [kept
        indices], "iou": matrix, "giou": matrix, "ciou": matrix}
(the matrices are of every box against every box, float64). One process
serves every case: importing torch takes seconds.
"""
import json
import sys

import torch
from torchvision import ops


def run(req):
    b = torch.tensor(req["boxes"], dtype=torch.float64).reshape(-1, 4)
    s = torch.tensor(req["scores"], dtype=torch.float64)
    c = torch.tensor(req["classes"], dtype=torch.int64)
    t = float(req["iou"])
    out = {
        "nms": ops.nms(b, s, t).tolist(),
        "batched": ops.batched_nms(b, s, c, t).tolist(),
        "iou": ops.box_iou(b, b).tolist(),
        "giou": ops.generalized_box_iou(b, b).tolist(),
        "ciou": ops.complete_box_iou(b, b).tolist(),
    }
    return out


def main():
    json.dump([run(r) for r in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
