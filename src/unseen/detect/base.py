"""The detector interface. A new detector is one adapter file that returns `Detections`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Detections:
    """Faces found in one image: `boxes` is an (n, 4) float32 array of `[x1, y1, x2, y2]` in
    pixels of the image passed in (upright); `scores` is (n,) in [0, 1]."""

    boxes: np.ndarray
    scores: np.ndarray
    detector: str

    @classmethod
    def empty(cls, detector: str) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), detector)

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> Detections:
        return Detections(self.boxes[keep], self.scores[keep], self.detector)


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


def nms(dets: Detections, iou: float = 0.4) -> Detections:
    """Greedy non-maximum suppression; among overlapping boxes the highest score survives."""
    if len(dets) == 0:
        return dets
    order = np.argsort(-dets.scores)
    boxes = dets.boxes[order]
    overlaps = iou_matrix(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i] > iou
    return dets.select(order[np.array(keep)])
