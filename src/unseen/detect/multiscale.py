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
Box = tuple[float, float, float, float]
NEW_FACE_IOU = 0.3  # a rescued box overlapping a kept face less than this is another face
# A gated upsampled pass looks only where the earlier passes found something: cells of CELL
# working px holding a box small enough for it (or next to one), inferred with CONTEXT px of the
# picture around them; past WHOLE of the image it runs on all of it (fewer, larger inferences).
CELL = 32
CONTEXT = 32
WHOLE = 0.7


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
        gated: bool = False,
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
        `large_threshold` get one too (`rescue`). `gated`: upsampled passes look only near what
        the passes before them found (`near`)."""
        self.base = base
        self.scales = tuple(scales)
        self.max_side = max_side
        self.nms_iou = nms_iou
        self.large_threshold = large_threshold
        self.large_side = large_side
        self.union = union
        self.threshold = threshold
        self.verifier = verifier
        self.gated = gated
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
        found: list[Detections] = []
        for k, s in enumerate(self.scales):
            where = self.near(found, s, w, h) if self.gated and s > 1 else None
            d = self._pass(rgb, self.work(w, h) * s, upsampled=s > 1, where=where)
            d.data["pass"] = np.full(len(d), k, np.int8)
            found.append(d)
        return Detections.concat(found, self.name)

    def near(self, found: Sequence[Detections], scale: float, w: int, h: int) -> list[Box] | None:
        """Where an upsampled pass at `scale` needs to look: rectangles (original pixels) of
        the cells holding, or next to, a box the earlier passes found that is small enough for
        it; None for the whole image. The pass is there for faces under ~16 px, and CenterFace
        at 1x still gives such a face a box over the evidence threshold, while sky, floors and
        close-ups hold none (benchmarks/upsampled_gate.py measures both)."""
        work = self.work(w, h)
        cell = CELL / work  # original px
        gw, gh = int(np.ceil(w / cell)), int(np.ceil(h / cell))
        boxes = Detections.concat(found, self.name).boxes
        side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        cells = np.floor(boxes[side * work * scale < UPSAMPLED_MAX_FACE] / cell).astype(np.int64)
        corners = np.zeros((gh + 1, gw + 1), np.int32)  # a 2-D difference array of the boxes' cells
        x1, y1 = cells[:, 0].clip(0, gw - 1), cells[:, 1].clip(0, gh - 1)
        x2, y2 = cells[:, 2].clip(0, gw - 1) + 1, cells[:, 3].clip(0, gh - 1) + 1
        for ys, xs, v in ((y1, x1, 1), (y2, x1, -1), (y1, x2, -1), (y2, x2, 1)):
            np.add.at(corners, (ys, xs), v)
        held = (corners.cumsum(0).cumsum(1)[:gh, :gw] > 0).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(held, np.ones((3, 3), np.uint8)), connectivity=8)
        rects = [
            (x * cell, y * cell, min(w, (x + cw) * cell), min(h, (y + ch) * cell))
            for x, y, cw, ch, _ in stats[1:n].tolist()
        ]
        if sum(area(grown(r, CONTEXT / work, w, h)) for r in rects) > WHOLE * w * h:
            return None
        return rects

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

    def _pass(
        self, rgb: np.ndarray, factor: float, upsampled: bool = False, where: list[Box] | None = None
    ) -> Detections:
        """Detect at `factor` x the original size, on the whole image or only in the rectangles
        `where` (original pixels): each is inferred with CONTEXT working px of the picture
        around it, and a box counts where its centre lies inside it. An upsampled pass keeps
        only the small faces it is there for: on a close-up it regresses huge, elongated boxes
        at low scores."""
        h, w = rgb.shape[:2]
        nw, nh = max(32, round(w * factor)), max(32, round(h * factor))
        if (nw, nh) == (w, h):
            img = rgb
        else:
            interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
            img = cv2.resize(rgb, (nw, nh), interpolation=interp)
        fx, fy = nw / w, nh / h
        if where is None:
            dets = _tiled(self.base, img)
        else:
            parts = []
            for x1, y1, x2, y2 in where:
                gx1, gy1, gx2, gy2 = grown((x1, y1, x2, y2), CONTEXT / self.work(w, h), w, h)
                cx1, cx2 = _whole_blocks(int(gx1 * fx), int(np.ceil(gx2 * fx)), nw)
                cy1, cy2 = _whole_blocks(int(gy1 * fy), int(np.ceil(gy2 * fy)), nh)
                d = _shifted(_tiled(self.base, np.ascontiguousarray(img[cy1:cy2, cx1:cx2])), cx1, cy1)
                b = d.boxes
                mx, my = (b[:, 0] + b[:, 2]) / (2 * fx), (b[:, 1] + b[:, 3]) / (2 * fy)
                # A box the crop's edge cuts inside the picture is half a face or the edge itself.
                cut = ((b[:, 0] <= cx1) & (cx1 > 0)) | ((b[:, 2] >= cx2) & (cx2 < nw))
                cut |= ((b[:, 1] <= cy1) & (cy1 > 0)) | ((b[:, 3] >= cy2) & (cy2 < nh))
                parts.append(d.select(~cut & (mx >= x1) & (mx <= x2) & (my >= y1) & (my <= y2)))
            dets = Detections.concat(parts, self.base.name)
        if upsampled and len(dets):
            sides = np.minimum(dets.boxes[:, 2] - dets.boxes[:, 0], dets.boxes[:, 3] - dets.boxes[:, 1])
            dets = dets.select(sides <= UPSAMPLED_MAX_FACE)
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
            parts.append(_shifted(base.detect(np.ascontiguousarray(img[y : y + TILE, x : x + TILE])), x, y))
    return Detections.concat(parts, base.name)


def _shifted(d: Detections, x: int, y: int) -> Detections:
    """`d` found on a crop whose top left corner is (x, y), in the pixels of the whole image."""
    data = dict(d.data)
    if "landmarks" in data:
        data["landmarks"] = data["landmarks"] + np.tile(np.array([x, y], np.float32), 5)
    return Detections(d.boxes + np.array([x, y, x, y], np.float32), d.scores, d.detector, data)


def _whole_blocks(start: int, stop: int, size: int) -> tuple[int, int]:
    """[start, stop) widened to a multiple of 32 px inside [0, size) where it fits: CenterFace
    pads its input to one with black, and a black band inside the picture makes false edges."""
    want = -(-(stop - start) // 32) * 32
    stop = min(size, start + want)
    return max(0, stop - want), stop


def grown(r: Box, pad: float, w: int, h: int) -> Box:
    """`r` with `pad` px more on each side, inside the w x h image."""
    x1, y1, x2, y2 = r
    return max(0.0, x1 - pad), max(0.0, y1 - pad), min(float(w), x2 + pad), min(float(h), y2 + pad)


def area(r: Box) -> float:
    """The area of `r` in square pixels."""
    return (r[2] - r[0]) * (r[3] - r[1])
