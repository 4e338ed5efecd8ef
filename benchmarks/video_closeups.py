"""Video's close-up pass: which scale finds the large faces that the 1.0 pass misses.

Video detects a 1080p frame on a 1280 px image (unseen.video) with a 1.0 pass for faces from
~21 px and a second, downscaled pass for close-ups that are too large for CenterFace at 1.0.
This runs the video detector (int8 where the CPU has it, threshold 0.13, mirrored border) on
every WIDER FACE val photo with a face of 64 px or more, scaled so its long side is 1280 px as a
1080p frame's detection image is, with each choice of second pass, and scores the painted
regions (default margin, box) as benchmarks/widerface.py does: a face is *protected* when at
least 90% of its ground-truth box is painted. Faces by height in the original photo.

Usage: python benchmarks/video_closeups.py   (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from PIL import Image

from _common import DATA, need
from unseen import video
from unseen.detect.centerface import CenterFace
from unseen.detect.multiscale import MultiScale
from unseen.obscure import coverage_mask
from unseen.regions import VIDEO, regions_for
from widerface import load_gt

SIDE = 1280  # the detection image of a 1080p frame
SIZES = [(64, 128), (128, 256), (256, 1 << 20)]
PASSES: dict[str, tuple[float, ...]] = {
    "1.0 only": (1.0,),
    "0.5 + 1.0": (0.5, 1.0),
    "1/3 + 1.0": (1 / 3, 1.0),
    "0.25 + 1.0": (0.25, 1.0),
}


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    root = need(DATA / "widerface")
    gt = load_gt(root)
    names = [n for n in sorted(gt) if len(gt[n]) and gt[n][:, 3].max() >= SIZES[0][0]]
    s = video.VideoSettings()
    base = CenterFace(s.threshold, None, s.int8, s.edge)
    dets = {k: MultiScale(base, v, max_side=1 << 16) for k, v in PASSES.items()}
    hit = {k: np.zeros(len(SIZES)) for k in PASSES}
    total = np.zeros(len(SIZES))
    area = dict.fromkeys(PASSES, 0.0)
    for name in names:
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        f = SIDE / max(h, w)
        small = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        back = np.array([w / small.shape[1], h / small.shape[0]] * 2, np.float32)
        faces = []
        for x, y, bw, bh, invalid in gt[name]:
            x1, y1, x2, y2 = int(max(0, x)), int(max(0, y)), int(min(w, x + bw)), int(min(h, y + bh))
            if invalid or bh < SIZES[0][0] or x2 <= x1 or y2 <= y1:
                continue
            b = next(i for i, (lo, hi) in enumerate(SIZES) if lo <= bh < hi)
            faces.append((b, x1, y1, x2, y2))
            total[b] += 1
        for k, det in dets.items():
            found = det.detect(small)
            found.boxes *= back
            mask = coverage_mask(regions_for(found, w, h, VIDEO.margin, VIDEO.shape), w, h)
            area[k] += mask.mean()
            for b, x1, y1, x2, y2 in faces:
                hit[k][b] += mask[y1:y2, x1:x2].mean() >= 0.9
    print(f"\nWIDER FACE val, {len(names)} photos with a face >= 64 px, long side {SIDE} px\n")
    heads = [f"{lo}-{hi} px" if hi < 1 << 20 else f">= {lo} px" for lo, hi in SIZES]
    cols = [f"protected {x} ({int(n)})" for x, n in zip(heads, total, strict=True)]
    print("| passes | " + " | ".join(cols) + " | area |")
    print("|---|" + "---|" * (len(SIZES) + 1))
    for k in PASSES:
        rates = [f"{100 * a / max(n, 1):.1f}% ({int(n - a)} missed)" for a, n in zip(hit[k], total, strict=True)]
        print(f"| {k} | " + " | ".join(rates) + f" | {100 * area[k] / len(names):.2f}% |")


if __name__ == "__main__":
    main()
