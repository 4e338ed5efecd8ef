"""Text detection (`--text`): recall on text boxed by hand, area painted, time per photo.

Recall: a labelled text line counts as hidden when at least 90% of its box is inside the
text regions `unseen run --text` paints (benchmarks/text_boxes.json: 30 lines in three real
COCO photos, 4 of them number plates; how they were labelled is written in the file). Time and
area: every COCO photo of ../shared/data (85), detection only (the face pass is measured
elsewhere), after one warm-up photo. The set is small: read the numbers as a sketch.
Usage: python benchmarks/text.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from _common import DATA, need
from unseen.detect.text import text_detector
from unseen.media import image
from unseen.obscure import coverage_mask
from unseen.photo import text_regions


def main() -> None:
    labels = json.loads((Path(__file__).parent / "text_boxes.json").read_text())["photos"]
    det = text_detector()
    print("| photo | text lines | hidden | plates hidden | share of the photo painted |")
    print("|---|---|---|---|---|")
    found = total = plates = plates_found = 0
    missed = []
    for rel, items in labels.items():
        rgb = image.read(need(DATA / rel)).rgb
        h, w = rgb.shape[:2]
        mask = coverage_mask(text_regions(rgb), w, h)
        hit = [mask[b[1] : b[3], b[0] : b[2]].mean() >= 0.9 for b in (i["box"] for i in items)]
        p = [(i, k) for i, k in zip(items, hit, strict=True) if i.get("plate")]
        found, total = found + sum(hit), total + len(hit)
        plates, plates_found = plates + len(p), plates_found + sum(k for _, k in p)
        missed += [f"{i['what']} ({Path(rel).name})" for i, k in zip(items, hit, strict=True) if not k]
        print(f"| {Path(rel).name} | {len(hit)} | {sum(hit)} | {sum(k for _, k in p)}/{len(p)} | {mask.mean():.1%} |")
    print(
        f"\nrecall {found}/{total} = {found / total:.0%}; plates {plates_found}/{plates}; missed: {'; '.join(missed)}"
    )
    photos = sorted((DATA / "coco").glob("*/*.jpg"))
    det.detect(image.read(photos[0]).rgb)
    times, areas = [], []
    for f in photos:
        rgb = image.read(f).rgb
        t0 = time.perf_counter()
        d = det.detect(rgb)
        times.append(time.perf_counter() - t0)
        h, w = rgb.shape[:2]
        areas.append(float(np.mean(coverage_mask(text_regions(rgb), w, h))) if len(d) else 0.0)
    print(
        f"\n{len(photos)} COCO photos (~640x480): {np.mean(times):.2f} s per photo (median {np.median(times):.2f}), "
        f"text found in {sum(a > 0 for a in areas)}, {np.mean(areas):.1%} of the area painted on average"
    )


if __name__ == "__main__":
    main()
