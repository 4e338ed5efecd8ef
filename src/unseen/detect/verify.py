"""A second look at weak faces before they are painted: what keeps patches off photos with nobody.

CenterFace scores small, blurred and crowd faces low, and so does much of what is not a face (a
windscreen, a rose bed, a patterned wall). Painting every low-scoring box protected crowds but
put patches on 3 of 4 photos with nobody in them. On a photo where the detector is sure of at
least one face (a score of CHECK_BELOW or more), people are there, and every weak box is painted
as before: weak boxes there are faces far more often, and judging them dropped real turned and
distant faces in group photos. On a photo without such a face, each box scored under
CHECK_BELOW whose short side is at least MIN_SIDE px (smaller ones cost little area and are
kept) is judged from what is known of it: its score, its score on a close-up crop
(`CenterFace.recheck`, from RECHECK_MIN px), the best score each pass of the detector gave it,
how many boxes agree on it, its size and shape, and how far its five landmarks lie from a face's
usual layout. A logistic model over those (verifier.json, made by scripts/train_verifier.py from
WIDER FACE val and COCO photos without people) gives the chance that the box is a face; it is
painted from KEEP_ALONE. No feature is colour or skin tone: recall must not depend on who the
person is. benchmarks/looks.py and benchmarks/widerface.py measure both sides.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Protocol, runtime_checkable

import numpy as np

from unseen.detect.base import Detections, iou_matrix

CHECK_BELOW = 0.5  # boxes scoring at least this are faces without a second look
MIN_SIDE = 8.0  # px (original pixels): smaller boxes are kept without one
RECHECK_MIN = 16.0  # px: smaller boxes are judged without the close-up (too few pixels to look at)
KEEP_ALONE = 0.7  # least chance of a face kept (photos without a confident face)
RESCUE = 0.4  # least close-up score at which a large box under the large threshold is painted
NEAR = 0.3  # IoU at which a pass's box counts as the same face
FEATURES = 21  # columns of `features`


@runtime_checkable
class Rechecker(Protocol):
    """A detector that can take a second look at boxes (CenterFace.recheck)."""

    def recheck(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


def features(
    found: Detections, faces: Detections, crop: np.ndarray, work: float, rows: np.ndarray | None = None
) -> np.ndarray:
    """(n, FEATURES) raw evidence per face box: score, crop score (-1: none), the best score of
    each of the 3 passes near it, log short side (working px), log aspect, log(1 + boxes near),
    the best near box's landmarks relative to that box (10), log(1 + confident faces in the
    photo), the photo's best score, and log of the box's side over the confident faces' median.
    `rows`: only these face boxes (a boolean mask; a crowd has hundreds, few of them weak)."""
    rows = np.ones(len(faces), bool) if rows is None else rows
    out = np.zeros((len(faces), FEATURES), np.float32)
    if not rows.any():
        return np.asarray(out[rows])
    some = np.flatnonzero(rows)
    near = np.zeros((len(faces), len(found)), bool)
    if len(found):
        near[some] = iou_matrix(faces.boxes[some], found.boxes) >= NEAR
    passes = found.data.get("pass", np.zeros(len(found), np.int8))
    marks = found.data.get("landmarks", np.full((len(found), 10), np.nan, np.float32))
    side = np.minimum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
    confident = faces.scores >= CHECK_BELOW
    median = float(np.median(side[confident])) if confident.any() else 0.0
    for i in some:
        row = near[i]
        out[i, 0], out[i, 1] = faces.scores[i], crop[i]
        for k in range(3):
            here = row & (passes == k)
            out[i, 2 + k] = found.scores[here].max() if here.any() else 0.0
        bw, bh = faces.boxes[i, 2] - faces.boxes[i, 0], faces.boxes[i, 3] - faces.boxes[i, 1]
        out[i, 5] = np.log(max(side[i] * work, 1.0))
        out[i, 6] = np.log(max(bh, 1.0) / max(bw, 1.0))
        out[i, 7] = np.log1p(row.sum())
        out[i, 8:18] = 0.5
        if row.any():
            best = np.flatnonzero(row)[found.scores[row].argmax()]
            b = found.boxes[best]
            size = np.maximum(b[2:] - b[:2], 1.0)
            rel = ((marks[best].reshape(5, 2) - b[:2]) / size).ravel()
            if np.isfinite(rel).all():
                out[i, 8:18] = rel
        out[i, 18] = np.log1p(confident.sum())
        out[i, 19] = faces.scores.max()
        out[i, 20] = np.log((side[i] + 1) / (median + 1)) if confident.any() else 0.0
    return np.asarray(out[rows])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.005, 0.995)
    return np.asarray(np.log(p / (1 - p)))


def design(f: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """The model's inputs from `features`: logits of the scores, the landmark layout's distance
    from `layout` (a confident face's mean), and a few products that let size change the weights."""
    score, crop = _logit(f[:, 0]), f[:, 1]
    has = (crop >= 0).astype(np.float32)
    lcrop = np.where(crop >= 0, _logit(np.maximum(crop, 0)), 0)
    per = _logit(np.maximum(f[:, 2:5], 0.005))
    side, aspect, count = f[:, 5], f[:, 6], f[:, 7]
    layout_dev = np.log(((f[:, 8:18] - layout) ** 2).sum(axis=1) + 1e-3)
    people = f[:, 18]
    return np.stack(
        [
            np.ones_like(score),
            score,
            lcrop,
            has,
            per[:, 0],
            per[:, 1],
            per[:, 2],
            side,
            aspect,
            count,
            layout_dev,
            score * side,
            lcrop * side,
            layout_dev * side,
            side**2,
            people,
            _logit(f[:, 19]),
            f[:, 20],
            people * score,
            (people == 0) * side,
        ],
        axis=1,
    )


class Verifier:
    """The logistic model of verifier.json; `keep` says which face boxes to paint."""

    def __init__(self, model: dict[str, Any]) -> None:
        self.beta = np.asarray(model["beta"], np.float64)
        self.mean = np.asarray(model["mean"], np.float64)
        self.scale = np.asarray(model["scale"], np.float64)
        self.layout = np.asarray(model["layout"], np.float32)

    def chance(self, f: np.ndarray) -> np.ndarray:
        """The modelled chance that each box of `features` is a face."""
        z = (design(f, self.layout) - self.mean) / self.scale
        return 1 / (1 + np.exp(-(z @ self.beta)))

    def keep(self, rgb: np.ndarray, found: Detections, faces: Detections, work: float, base: Rechecker) -> np.ndarray:
        """Boolean mask over `faces`: False for the weak boxes judged not to be faces."""
        side = np.minimum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
        if (faces.scores >= CHECK_BELOW).any():  # people are there: every weak box is painted
            return np.ones(len(faces), bool)
        check = (faces.scores < CHECK_BELOW) & (side >= MIN_SIDE)
        keep: np.ndarray = ~check
        if not check.any():
            return keep
        crop = np.full(len(faces), -1.0, np.float32)
        look = check & (side >= RECHECK_MIN)
        crop[look] = base.recheck(rgb, faces.boxes[look])
        keep[check] = self.chance(features(found, faces, crop, work, check)) >= KEEP_ALONE
        return keep


@cache
def shipped() -> Verifier:
    """The verifier shipped with unseen (detect/verifier.json)."""
    return Verifier(json.loads((files("unseen.detect") / "verifier.json").read_text()))
