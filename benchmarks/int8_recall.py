"""Float vs int8 CenterFace as video runs it: protected rate by face height on WIDER FACE val.

Video detects a 1080p frame at 2/3 size (so a 32 px face is ~21 px for CenterFace) with a 1.0
and a 0.5 pass (unseen.video). This runs the same two passes on WIDER photos scaled to 2/3,
with the float and the int8 model at several thresholds, and scores the painted regions (default
margin, box) as benchmarks/widerface.py does: a face is *protected* when at least 90% of its
ground-truth box is painted. It is how video's threshold for the int8 model (0.13) was chosen:
the lowest area at which int8 protects at least as many faces as float at 0.15 in every bucket.

Usage: python benchmarks/int8_recall.py [--limit N] [--offset K]
(the default sample, every 9th photo from the second, is disjoint from widerface.py's
`--limit 300` sample; about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from _common import DATA, need
from unseen.detect.centerface import CenterFace, _session, default_threads
from unseen.detect.multiscale import MultiScale
from unseen.obscure import coverage_mask
from unseen.regions import VIDEO, regions_for
from widerface import BUCKET_NAMES, Tally, load_gt

SETTINGS = [("float", 0.15), ("int8", 0.15), ("int8", 0.13), ("int8", 0.12), ("float", 0.12)]


def detector(model: str, threshold: float) -> MultiScale:
    base = CenterFace(threshold)
    base.session = _session(default_threads(), model == "int8")  # this model, whatever the CPU
    return MultiScale(base, (0.5, 1.0), max_side=1 << 16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=120, help="number of photos")
    ap.add_argument("--offset", type=int, default=1, help="first photo of the every-9th sample")
    args = ap.parse_args()
    root = need(DATA / "widerface")
    gt = load_gt(root)
    names = sorted(gt)[args.offset :: 9][: args.limit]
    dets = {s: detector(*s) for s in SETTINGS}
    tallies = {s: Tally(f"{s[0]} {s[1]}") for s in SETTINGS}
    for name in names:
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (round(w * 2 / 3), round(h * 2 / 3)), interpolation=cv2.INTER_AREA)
        back = np.array([w / small.shape[1], h / small.shape[0]] * 2, np.float32)
        for s, det in dets.items():
            found = det.detect(small)
            found.boxes *= back
            mask = coverage_mask(regions_for(found, w, h, VIDEO.margin, VIDEO.shape), w, h)
            tallies[s].add(Path(name).stem, gt[name], mask, np.zeros((0, 5)), 0.0)
    t0 = tallies[SETTINGS[0]]
    print(f"\nWIDER FACE val, {len(names)} photos at 2/3 size ({int(t0.total.sum())} valid faces)\n")
    print("| model | threshold | " + " | ".join(f"protected {b}" for b in BUCKET_NAMES) + " | area obscured |")
    print("|---|---|" + "---|" * (len(BUCKET_NAMES) + 1))
    for (model, threshold), t in tallies.items():
        rates = [f"{100 * hit / max(n, 1):.1f}% ({int(n - hit)} missed)" for hit, n in zip(t.hit, t.total, strict=True)]
        print(f"| {model} | {threshold} | " + " | ".join(rates) + f" | {100 * t.area / t.pixels:.2f}% |")


if __name__ == "__main__":
    main()
