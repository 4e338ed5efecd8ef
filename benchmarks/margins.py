"""How much margin does a face box need? WIDER FACE val, the default detector's boxes vs the truth.

For every valid ground-truth face that a box of the default detector overlaps (IoU >= 0.3), the
margin each side of the box would need to reach the true box's edge (as a share of the box's
width or height; negative: the box already reaches past it), by the box's score. The photo
default's margin (regions.PHOTO: margin + low * (1 - score)) is printed beside the 90th and 97th
percentiles of the largest of the four. Usage: python benchmarks/margins.py [--limit N]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from unseen.detect.base import iou_matrix
from unseen.detect.presets import make_detector
from unseen.regions import PHOTO
from widerface import val_images

BANDS = [(0.0, 0.1), (0.1, 0.2), (0.2, 0.35), (0.35, 0.5), (0.5, 0.8), (0.8, 1.01)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=300, help="use every k-th image so that about N are used (0: all)")
    args = ap.parse_args()
    root, gt, names = val_images(args.limit)
    detector = make_detector("default")
    rows = []  # score, needed margin left, top, right, bottom
    for n, name in enumerate(names):
        dets = detector.detect(np.asarray(Image.open(root / "images" / name).convert("RGB")))
        truth = gt[name]
        truth = truth[(truth[:, 4] == 0) & (truth[:, 2] > 0) & (truth[:, 3] > 0)][:, :4].astype(np.float32)
        if not len(dets) or not len(truth):
            continue
        truth[:, 2:] += truth[:, :2]
        overlap = iou_matrix(dets.boxes, truth)
        for j in range(len(truth)):
            i = int(overlap[:, j].argmax())
            if overlap[i, j] < 0.3:
                continue
            b, t = dets.boxes[i], truth[j]
            w, h = b[2] - b[0], b[3] - b[1]
            rows.append((dets.scores[i], (b[0] - t[0]) / w, (b[1] - t[1]) / h, (t[2] - b[2]) / w, (t[3] - b[3]) / h))
        if n % 50 == 0:
            print(f"  {n}/{len(names)}", flush=True)
    r = np.array(rows, np.float64)
    print(f"\nWIDER FACE val, {len(names)} images, {len(r)} faces with a box of the default detector\n")
    print("| score | faces | median need (left/top/right/bottom) | 90th pct, largest | 97th pct | default margin |")
    print("|---|---|---|---|---|---|")
    for lo, hi in BANDS:
        sel = (r[:, 0] >= lo) & (r[:, 0] < hi)
        if not sel.any():
            continue
        need = r[sel, 1:]
        worst = need.max(axis=1)
        mid = (lo + min(hi, 1.0)) / 2
        default = PHOTO.margin + PHOTO.low * (1 - mid)
        med = " / ".join(f"{v:+.2f}" for v in np.median(need, axis=0))
        print(
            f"| {lo:.2f}-{min(hi, 1.0):.2f} | {sel.sum()} | {med} | {np.percentile(worst, 90):+.2f} | "
            f"{np.percentile(worst, 97):+.2f} | {default:.2f} (up {1.5 * default:.2f}) |"
        )


if __name__ == "__main__":
    main()
