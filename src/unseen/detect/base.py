"""The detector interface. A new detector is one adapter file that returns `Detections`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Detections:
    """Faces found in one image: `boxes` is an (n, 4) float32 array of `[x1, y1, x2, y2]` in
    pixels of the image passed in (upright); `scores` is (n,) in [0, 1]. `data` holds optional
    per-box arrays of n rows that travel with the boxes: CenterFace's "landmarks" ((n, 10): x, y
    of the eyes, nose tip and mouth corners, in the same pixels), MultiScale's "pass" (n,)."""

    boxes: np.ndarray
    scores: np.ndarray
    detector: str
    data: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, detector: str) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), detector)

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> Detections:
        data = {k: v[keep] for k, v in self.data.items()}
        return Detections(self.boxes[keep], self.scores[keep], self.detector, data)

    @classmethod
    def concat(cls, parts: Sequence[Detections], detector: str) -> Detections:
        """One Detections of all `parts`; `data` keeps the arrays every part with boxes has (an
        empty part, such as a pass that found nothing, does not drop the others' landmarks)."""
        if not parts:
            return cls.empty(detector)
        parts = [p for p in parts if len(p)] or parts[:1]
        keys = set.intersection(*(set(p.data) for p in parts))
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            detector,
            {k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> Detections:
        """Find faces in an upright HxWx3 uint8 RGB image."""
        ...


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` (n, 4) with every box in `b` (m, 4)."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def nms(dets: Detections, iou: float = 0.4, union: float | None = None) -> Detections:
    """Greedy non-maximum suppression; among overlapping boxes the highest score survives.

    With `union`, the survivor grows to the union of the boxes it suppresses that score at
    least `union` times its own: passes at different scales frame the same face differently
    (one cuts the chin, another the brow), and covering all of them is what protects it."""
    if len(dets) == 0:
        return dets
    order = np.argsort(-dets.scores)
    boxes, scores = dets.boxes[order], dets.scores[order]
    # CenterFace gives every heatmap cell over the threshold, thousands in a crowd, but only a
    # few hundred survive: each survivor is compared only with the boxes that can overlap it,
    # found per width class (widths within 2x) in boxes sorted by their left edge.
    width = boxes[:, 2] - boxes[:, 0]
    size_class = np.floor(np.log2(np.maximum(width, 1.0))).astype(np.int64)
    windows = []  # per class: its boxes by left edge, and where each box's overlap candidates start and end
    for c in np.unique(size_class):
        members = np.flatnonzero(size_class == c)
        members = members[np.argsort(boxes[members, 0], kind="stable")]
        left = boxes[members, 0]
        start = np.searchsorted(left, boxes[:, 0] - width[members].max(), "left")
        windows.append((members, start, np.searchsorted(left, boxes[:, 2], "left")))
    keep: list[int] = []
    kept: list[np.ndarray] = []
    suppressed = np.zeros(len(order), bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        near = np.concatenate([m[start[i] : end[i]] for m, start, end in windows])
        near = near[~suppressed[near]]
        cluster = near[iou_matrix(boxes[i : i + 1], boxes[near])[0] > iou]
        box = boxes[i]
        if union is not None:  # its own box too: a zero-area box has no IoU with itself
            part = np.vstack([box, boxes[cluster[scores[cluster] >= union * scores[i]]]])
            box = np.concatenate([part[:, :2].min(0), part[:, 2:].max(0)])
        keep.append(i)
        kept.append(box)
        suppressed[cluster] = True
        suppressed[i] = True
    data = {k: v[order][keep] for k, v in dets.data.items()}  # the survivor's own (landmarks: the best box's)
    return Detections(np.array(kept, np.float32).reshape(-1, 4), scores[keep], dets.detector, data)
