"""Where does the default's 1.75x pass need to look? WIDER FACE val, gated vs the whole picture.

The 1.75x pass is there for faces under ~16 px and costs 3x the pixels of the 1x pass. The
default runs it only in the rectangles `MultiScale.near` makes from the 0.5x and 1x passes' boxes
(cells of CELL working px holding or touching a box small enough for the pass, inferred with
CONTEXT px around them), or on the whole picture where those would cover WHOLE of it. Printed: the
share of the pass's pixels inferred (1 where it runs whole), how many photos it runs whole, and per
face height the share of valid ground-truth faces whose centre lies outside every rectangle
(there only the 0.5x and 1x passes can find them). benchmarks/widerface.py measures the resulting
protection and time. Usage: python benchmarks/upsampled_gate.py [--limit N]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from unseen.detect.multiscale import CONTEXT, MultiScale, area, grown
from unseen.detect.presets import make_detector
from widerface import BUCKET_NAMES, BUCKETS, val_images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="use every k-th image so that about N are used")
    args = ap.parse_args()
    root, gt, names = val_images(args.limit)
    default = make_detector("default")
    earlier = MultiScale(default.base, default.scales[:-1], default.max_side)
    scale = default.scales[-1]
    inferred, whole = [], 0
    outside, total = np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS))
    for name in names:
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        rects = default.near([earlier.candidates(rgb)], scale, w, h)
        pad = CONTEXT / default.work(w, h)
        inferred.append(1.0 if rects is None else sum(area(grown(r, pad, w, h)) for r in rects) / (w * h))
        whole += rects is None
        for x, y, bw, bh, invalid in gt[name]:
            if invalid or bw <= 0 or bh <= 0:
                continue
            b = next(i for i, (lo, hi) in enumerate(BUCKETS) if lo <= bh < hi)
            cx, cy = x + bw / 2, y + bh / 2
            total[b] += 1
            if rects is not None:
                outside[b] += not any(x1 <= cx <= x2 and y1 <= cy <= y2 for x1, y1, x2, y2 in rects)
    print(f"\nWIDER FACE val, {len(names)} images: the {scale}x pass")
    print(f"\npixels inferred: {100 * np.mean(inferred):.1f}% of the whole picture's (whole on {whole} photos)\n")
    print("| face height | faces | centre outside every rectangle |\n|---|---|---|")
    for b, label in enumerate(BUCKET_NAMES):
        print(f"| {label} | {int(total[b])} | {100 * outside[b] / max(total[b], 1):.2f}% |")


if __name__ == "__main__":
    main()
