"""How the default output looks where it paints no face: COCO photos, unseen vs deface.

On `coco/nofaces` (35 everyday photos with no person: every painted pixel is a false alarm)
and `coco/people` (50 photos with people), both tools run at their defaults on the same photos
in one run. Printed per set and tool: the share of photos with any painted region, regions per
photo, the mean and 90th-percentile share of the image painted, how much the picture changed
(mean absolute change of an 8-bit pixel over the whole photo, and the share of pixels changed by
more than 16 levels: what a reader could notice), and time per photo. deface blurs (its default);
unseen fills from the pixels around each region (obscure/fill.py). WIDER FACE (recall, area, and
faces sharing one region) is measured by benchmarks/widerface.py.

Usage: python benchmarks/looks.py [--gallery DIR]   (~2 minutes; DIR gets downscaled outputs)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from _common import DATA, Deface, need
from unseen.detect.presets import make_detector
from unseen.obscure import coverage_mask, obscure
from unseen.regions import photo_regions


@dataclass
class Looks:
    regions: list[int] = field(default_factory=list)
    painted: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, before: np.ndarray, after: np.ndarray, mask: np.ndarray, regions: int, seconds: float) -> None:
        diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
        self.regions.append(regions)
        self.painted.append(float(mask.mean()))
        self.change.append(float(diff.mean()))
        self.visible.append(float((diff > 16).mean()))
        self.seconds += seconds

    def row(self, name: str) -> str:
        n = len(self.regions)
        return (
            f"| {name} | {100 * np.mean(np.array(self.regions) > 0):.0f}% | {np.mean(self.regions):.1f} | "
            f"{100 * np.mean(self.painted):.2f}% | {100 * np.percentile(self.painted, 90):.2f}% | "
            f"{np.mean(self.change):.2f} | {100 * np.mean(self.visible):.2f}% | {self.seconds / n:.3f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gallery", type=Path, help="write each tool's output of every photo here, 480 px wide")
    args = ap.parse_args()
    detector, deface = make_detector("default"), Deface()
    print(
        "| set, tool | photos with a region | regions a photo | painted (mean) | painted (90th pct) "
        "| mean change (0-255) | pixels visibly changed | s/photo |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for subset in ("nofaces", "people"):
        ours, theirs = Looks(), Looks()
        for path in sorted(need(DATA / "coco" / subset).glob("*.jpg")):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            h, w = rgb.shape[:2]
            t0 = time.perf_counter()
            regions = photo_regions(detector.detect(rgb), w, h)
            mine = obscure(rgb, regions)
            t1 = time.perf_counter()
            d = deface.detect(rgb)
            blurred = deface.anonymize(rgb, d)
            t2 = time.perf_counter()
            ours.add(rgb, mine, coverage_mask(regions, w, h), len(regions), t1 - t0)
            theirs.add(rgb, blurred, deface.mask((h, w), d), len(d), t2 - t1)
            if args.gallery:
                args.gallery.mkdir(parents=True, exist_ok=True)
                for tag, img in (("unseen", mine), ("deface", blurred)):
                    small = Image.fromarray(img).resize((480, round(480 * h / w)), Image.LANCZOS)
                    small.save(args.gallery / f"{subset}-{path.stem}-{tag}.jpg", quality=85)
        print(ours.row(f"{subset}, unseen default"))
        print(theirs.row(f"{subset}, deface 1.5.0"))
        print(
            f"| {subset}, unseen / deface | | | {np.mean(ours.painted) / max(np.mean(theirs.painted), 1e-9):.2f}x | | "
            f"| | {ours.seconds / max(theirs.seconds, 1e-9):.2f}x |"
        )


if __name__ == "__main__":
    main()
