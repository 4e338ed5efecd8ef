"""Does the audit catch faces left unobscured? WIDER FACE val, unseen's real outputs.

Per image: unseen (default preset, default margin, fill) makes the plan and renders it; that
output is audited (any finding that matches no unprotected ground-truth face is a false alarm).
Then about a third of the protected ground-truth faces >= 32 px (at least one) are deliberately
skipped - their plan regions removed - and the leaky output is audited: a skipped face is caught
when a finding overlaps it (IoU >= 0.3, or the finding covers half of it). Outputs go through
JPEG (quality 95) as real files do. Usage: python benchmarks/audit_leaks.py [--limit N]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time

import numpy as np
from PIL import Image

from _common import DATA, need
from unseen.audit.check import Auditor, Finding
from unseen.obscure import coverage_mask, obscure
from unseen.regions import photo_regions
from widerface import load_gt


def jpeg(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def covered(mask: np.ndarray, face: np.ndarray) -> float:
    x, y, w, h = (int(v) for v in face[:4])
    sub = mask[max(0, y) : y + h, max(0, x) : x + w]
    return float(sub.mean()) if sub.size else 1.0


def overlaps(f: Finding, face: np.ndarray) -> bool:
    if f.box is None:
        return False
    x, y, w, h = (float(v) for v in face[:4])
    ix = max(0.0, min(x + w, f.box[2]) - max(x, f.box[0]))
    iy = max(0.0, min(y + h, f.box[3]) - max(y, f.box[1]))
    inter = ix * iy
    union = w * h + (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) - inter
    return inter / max(union, 1e-9) >= 0.3 or inter >= 0.5 * w * h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=40, help="images (random sample, seed 0); 0 = all")
    args = ap.parse_args()
    root = need(DATA / "widerface")
    gt = load_gt(root)
    names = sorted(gt)
    random.Random(0).shuffle(names)
    names = names[: args.limit or None]
    auditor = Auditor()
    rng = random.Random(1)
    skipped = caught = 0
    by_check = {"face (HOG/Haar, output)": 0, "face (CenterFace, original unchanged)": 0, "reid": 0}
    clean_images = alarm_images = alarms = 0
    t0 = time.time()
    for name in names:
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        faces = gt[name]
        regions = photo_regions(auditor.plan(rgb), w, h)
        mask = coverage_mask(regions, w, h)
        unprotected = [f for f in faces if covered(mask, f) < 0.9]
        found, _, _ = auditor.frame(rgb, jpeg(obscure(rgb, regions, "fill")))
        false = [f for f in found if not any(overlaps(f, u) for u in unprotected)]
        clean_images += 1
        alarm_images += bool(false)
        alarms += len(false)
        for f in false:
            print(f"  false alarm: {name} {f.check} {f.detector} {f.message}", file=sys.stderr)

        big = [f for f in faces if f[3] >= 32 and f[4] == 0 and covered(mask, f) >= 0.9]
        if not big:
            continue
        chosen = rng.sample(big, max(1, len(big) // 3))
        keep = [r for r in regions if not any(covered(coverage_mask([r], w, h), f) > 0.3 for f in chosen)]
        leak_mask = coverage_mask(keep, w, h)
        targets = [f for f in chosen if covered(leak_mask, f) < 0.9]
        found, _, _ = auditor.frame(rgb, jpeg(obscure(rgb, keep, "fill")))
        for f in targets:
            hits = [x for x in found if overlaps(x, f)]
            skipped += 1
            caught += bool(hits)
            if not hits:  # for the issue note: where the audit is blind (sizes only, no pixels)
                print(
                    f"  missed: {name} face {f[2]:.0f}x{f[3]:.0f} px, {covered(leak_mask, f):.0%} painted",
                    file=sys.stderr,
                )
            if any(x.check == "face" and x.detector == auditor.residual.name for x in hits):
                by_check["face (HOG/Haar, output)"] += 1
            if any(x.check == "face" and x.detector == "centerface" for x in hits):
                by_check["face (CenterFace, original unchanged)"] += 1
            if any(x.check == "reid" for x in hits):
                by_check["reid"] += 1
    secs = time.time() - t0
    print(f"WIDER FACE val: {len(names)} images (seed 0), unseen default preset, fill\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| skipped faces >= 32 px caught by the audit | {caught / max(skipped, 1):.1%} ({caught}/{skipped}) |")
    for k, v in by_check.items():
        print(f"| ... flagged by {k} | {v / max(skipped, 1):.1%} |")
    print(
        f"| correct outputs with a false alarm | {alarm_images / max(clean_images, 1):.1%} "
        f"({alarm_images}/{clean_images}) |"
    )
    print(f"| false alarms per correct output | {alarms / max(clean_images, 1):.2f} |")
    print(f"\n{secs / max(len(names), 1):.1f} s per image for both audits on this machine (2 cores, shared)")


if __name__ == "__main__":
    main()
