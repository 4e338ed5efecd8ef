"""Run one detector at several scales, tiled, and merge: the remedy for small and large faces.

A single-scale CNN detector sees a band of face sizes. Small crowd faces need the image
upsampled; very large faces (a close-up filling the frame) are found more reliably on a
downscaled copy. Passes larger than `tile` pixels on a side are cut into overlapping tiles so
memory stays bounded on 50-megapixel photos.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unseen.detect.base import Detections, Detector, iou_matrix, nms
from unseen.detect.verify import RESCUE, Rechecker, Verifier

TILE = 1280
OVERLAP = 128
UPSAMPLED_MAX_FACE = 160  # px at pass scale: beyond this an upsampled pass only invents boxes
MAX_ASPECT = 2.5  # a whole face box is never 2.5x taller than wide or the reverse
NEW_FACE_IOU = 0.3  # a rescued box overlapping a kept face less than this is another face


class MultiScale:
    def __init__(
        self,
        base: Detector,
        scales: Sequence[float],
        max_side: int = 2048,
        nms_iou: float = 0.4,
        large_threshold: float | None = None,
        large_side: float = 40.0,
        union: float | None = None,
        threshold: float | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        """`scales` multiply a working size whose long side is at most `max_side` pixels, so a
        phone photo and a WIDER image cost about the same. The base detector's own threshold
        applies to small boxes; boxes at least `large_side` working pixels on their short side
        must reach `large_threshold`. Small crowd faces only ever score low, while low-scoring
        large boxes are mostly false alarms that would paint large areas. `union` is passed to
        `nms`: the passes' boxes of one face are merged into the box that covers them all.
        With `threshold`, only boxes above it are merged into faces, while every box the base
        detector returns (its own threshold is lower) is evidence for the `verifier`, which
        takes a second look at the weak faces before they are painted, and large boxes under
        `large_threshold` get one too (`rescue`)."""
        self.base = base
        self.scales = tuple(scales)
        self.max_side = max_side
        self.nms_iou = nms_iou
        self.large_threshold = large_threshold
        self.large_side = large_side
        self.union = union
        self.threshold = threshold
        self.verifier = verifier
        self.name = base.name

    def detect(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        found = self.candidates(rgb)
        faces = self.merge(found if self.threshold is None else found.select(found.scores > self.threshold), w, h)
        if self.verifier is not None and isinstance(self.base, Rechecker):
            if len(faces):
                faces = faces.select(self.verifier.keep(rgb, found, faces, self.work(w, h), self.base))
            faces = Detections.concat([faces, self.rescue(rgb, found, faces, self.base)], self.name)
        return faces

    def rescue(self, rgb: np.ndarray, found: Detections, faces: Detections, base: Rechecker) -> Detections:
        """Large boxes the large threshold drops, kept where a close-up finds a face in them.

        A large box scored under `large_threshold` is mostly a false alarm, but not always: in
        development, on the verifier's cache of WIDER FACE val (scripts/train_verifier.py),
        68 faces >= 64 px had such a box and no other; re-detected on a close-up crop
        (`CenterFace.recheck`), 45 of them scored RESCUE or more, against 32 of 3,274 large weak
        boxes away from any face and none of 97 on the COCO photos (benchmarks/widerface.py and
        benchmarks/looks.py measure the result). Boxes overlapping a face already kept are left
        to it."""
        h, w = rgb.shape[:2]
        if self.large_threshold is None or not len(found):
            return Detections.empty(self.name)
        weak = self.merge(found, w, h, strict=False)
        sides = np.minimum(weak.boxes[:, 2] - weak.boxes[:, 0], weak.boxes[:, 3] - weak.boxes[:, 1])
        new = (sides * self.work(w, h) >= self.large_side) & (weak.scores < self.large_threshold)
        if len(faces) and new.any():
            new &= iou_matrix(weak.boxes, faces.boxes).max(axis=1) < NEW_FACE_IOU
        weak = weak.select(new)
        if not len(weak):
            return weak
        return weak.select(base.recheck(rgb, weak.boxes) >= RESCUE)

    def candidates(self, rgb: np.ndarray) -> Detections:
        """Every pass's boxes over the base detector's threshold, in original pixels, unmerged."""
        h, w = rgb.shape[:2]
        found = [self._pass(rgb, self.work(w, h) * s, upsampled=s > 1) for s in self.scales]
        for k, d in enumerate(found):
            d.data["pass"] = np.full(len(d), k, np.int8)
        return Detections.concat(found, self.name)

    def work(self, width: int, height: int) -> float:
        """The working scale of a `width` x `height` image (1 or less)."""
        return min(1.0, self.max_side / max(width, height))

    def merge(self, found: Detections, w: int, h: int, strict: bool = True) -> Detections:
        """Drop misshapen and (if `strict`) weak large boxes, then merge the passes' boxes of each
        face. Split from `detect` so that benchmarks/widerface_frontier.py scores many settings
        on one set of candidates."""
        boxes = found.boxes
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        # A face cut by the image border is legitimately narrow: the shape test spares it.
        at_border = (boxes[:, 0] <= 1) | (boxes[:, 1] <= 1) | (boxes[:, 2] >= w - 1) | (boxes[:, 3] >= h - 1)
        shaped = at_border | ((bh <= MAX_ASPECT * bw) & (bw <= MAX_ASPECT * bh))
        found = found.select(shaped)
        if strict and self.large_threshold is not None and len(found):
            sides = np.minimum(found.boxes[:, 2] - found.boxes[:, 0], found.boxes[:, 3] - found.boxes[:, 1])
            found = found.select((sides * self.work(w, h) < self.large_side) | (found.scores >= self.large_threshold))
        return nms(found, self.nms_iou, self.union)

    def _pass(self, rgb: np.ndarray, factor: float, upsampled: bool = False) -> Detections:
        """Detect at `factor` x the original size. An upsampled pass keeps only the small faces
        it is there for: on a close-up it regresses huge, elongated boxes at low scores."""
        h, w = rgb.shape[:2]
        nw, nh = max(32, round(w * factor)), max(32, round(h * factor))
        if (nw, nh) == (w, h):
            img = rgb
        else:
            interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
            img = cv2.resize(rgb, (nw, nh), interpolation=interp)
        dets = _tiled(self.base, img)
        if upsampled and len(dets):
            sides = np.minimum(dets.boxes[:, 2] - dets.boxes[:, 0], dets.boxes[:, 3] - dets.boxes[:, 1])
            dets = dets.select(sides <= UPSAMPLED_MAX_FACE)
        fx, fy = nw / w, nh / h
        boxes = dets.boxes / np.array([fx, fy, fx, fy], np.float32)
        data = dict(dets.data)
        if "landmarks" in data:
            data["landmarks"] = data["landmarks"] / np.tile(np.array([fx, fy], np.float32), 5)
        return Detections(boxes, dets.scores, dets.detector, data)


def _tiled(base: Detector, img: np.ndarray) -> Detections:
    h, w = img.shape[:2]
    if max(h, w) <= TILE:
        return base.detect(img)
    step = TILE - OVERLAP
    parts = []
    for y in range(0, max(1, h - OVERLAP), step):
        for x in range(0, max(1, w - OVERLAP), step):
            tile = img[y : y + TILE, x : x + TILE]
            d = base.detect(np.ascontiguousarray(tile))
            data = dict(d.data)
            if "landmarks" in data:
                data["landmarks"] = data["landmarks"] + np.tile(np.array([x, y], np.float32), 5)
            parts.append(Detections(d.boxes + np.array([x, y, x, y], np.float32), d.scores, d.detector, data))
    return Detections.concat(parts, base.name)
