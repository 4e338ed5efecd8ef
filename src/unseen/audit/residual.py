"""Residual-face check: detectors of other families than CenterFace look at the output.

The plan comes from CenterFace (a CNN); a face it missed is likely to be missed again by
CenterFace. The audit therefore asks detectors that share none of its training or design: dlib's
HOG + linear SVM (frontal faces) and OpenCV's Haar cascades (frontal and profile, both
directions). They propose *candidates*; a candidate is a face left visible only when
- the output was not obscured there: its core still has the original's pixels and texture
  (`unchanged`) and at most a quarter of its box was changed (`changed_mask`), and
- it is a face: CenterFace, run on a close, enlarged crop of the candidate at a threshold far
  below the plan's, sees a face there (`Residual.confirmed`). HOG and Haar alone fire on
  skates, lace and foliage; on WIDER FACE most of their unconfirmed hits in untouched areas
  were not faces (benchmarks/audit_leaks.py). The crop gives CenterFace a second look at a scale
  and threshold the plan did not use; a face that neither finds is not reported (docs/audit.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from unseen.detect.base import Detections, iou_matrix, nms

UNCHANGED_NOISE = 2.0  # grey levels: what JPEG q95 / H.264 crf 18 re-encoding changes on average
UNCHANGED_SHARE = 0.25  # ... or a quarter of the face's own contrast (its standard deviation)
KEPT_TEXTURE = 0.5  # an output core with less than half the original's contrast was painted over
CHANGED = 12.0  # grey levels: a pixel that differs by more was changed by the anonymiser
CHANGED_SHARE = 0.25  # a candidate box with more changed pixels lies on an obscured region
SMOOTH = 1.5  # mean grey-level detail (off its 5x5 mean): a face box this smooth holds no face
TEXTURE = 3.0  # grey-level local std (5x5): below it a pixel is flat (painted, or featureless skin)
PARTLY = 0.25  # a face with at least this share of its box left as it was is partly visible
CONFIRM = 0.05  # CenterFace score on the close crop that confirms a candidate (the plan uses 0.08-0.15)
CROP_FACE = 96  # px: the candidate's size in the confirmation crop


class Residual:
    """dlib HOG + OpenCV Haar candidates on the output, confirmed by CenterFace on a close crop.
    Scores are detector-specific confidences mapped to (0, 1]."""

    name = "hog+haar"

    def __init__(self, hog_threshold: float = 0.0, haar_neighbours: int = 5, min_face: int = 24) -> None:
        import dlib

        from unseen.detect.presets import face_model

        self._hog = dlib.get_frontal_face_detector()
        self.hog_threshold = hog_threshold
        self.haar_neighbours = haar_neighbours
        self.min_face = min_face
        root = cv2.data.haarcascades  # type: ignore[attr-defined]
        self._frontal = cv2.CascadeClassifier(root + "haarcascade_frontalface_alt2.xml")
        self._profile = cv2.CascadeClassifier(root + "haarcascade_profileface.xml")
        self._confirm = face_model(CONFIRM)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Every candidate of HOG and Haar in `rgb` (unconfirmed)."""
        boxes, scores = self.hog(rgb)
        hb, hs = self.haar(rgb)
        boxes += hb
        scores += hs
        if not boxes:
            return Detections.empty(self.name)
        return nms(Detections(np.array(boxes, np.float32), np.array(scores, np.float32), self.name), 0.3)

    def find(self, original: np.ndarray, output: np.ndarray, changed: np.ndarray) -> Detections:
        """Faces left visible in `output`: candidates in untouched areas that CenterFace confirms.
        `changed` is `changed_mask(original, output)`."""
        cands = self.detect(output)
        keep = [
            i
            for i, box in enumerate(cands.boxes)
            if _share(changed, box) <= CHANGED_SHARE
            and unchanged(original, output, box)
            and self.confirmed(output, box)
        ]
        return cands.select(np.array(keep, int))

    def confirmed(self, rgb: np.ndarray, box: np.ndarray) -> bool:
        """CenterFace sees a face on a crop around `box` (the box enlarged to CROP_FACE px)."""
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        side = max(x2 - x1, y2 - y1)
        h, w = rgb.shape[:2]
        cx1, cy1 = max(0, int(x1 - side / 2)), max(0, int(y1 - side / 2))
        cx2, cy2 = min(w, int(x2 + side / 2) + 1), min(h, int(y2 + side / 2) + 1)
        f = CROP_FACE / side
        crop = cv2.resize(rgb[cy1:cy2, cx1:cx2], (max(32, round((cx2 - cx1) * f)), max(32, round((cy2 - cy1) * f))))
        d = self._confirm.detect(np.ascontiguousarray(crop))
        if not len(d):
            return False
        here = np.array([[(x1 - cx1) * f, (y1 - cy1) * f, (x2 - cx1) * f, (y2 - cy1) * f]], np.float32)
        return bool(iou_matrix(here, d.boxes).max() >= 0.3)

    def hog(self, rgb: np.ndarray) -> tuple[list[list[float]], list[float]]:
        # Upsampling once finds faces down to ~40 px; skip it on large frames, whose faces are larger.
        up = 1 if max(rgb.shape[:2]) <= 2048 else 0
        rects, scores, _ = self._hog.run(np.ascontiguousarray(rgb), up, self.hog_threshold)
        boxes = [[float(r.left()), float(r.top()), float(r.right()), float(r.bottom())] for r in rects]
        return boxes, [float(1 / (1 + np.exp(-2 * s))) for s in scores]

    def haar(self, rgb: np.ndarray) -> tuple[list[list[float]], list[float]]:
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        w = grey.shape[1]
        boxes: list[list[float]] = []
        for cascade, flip in ((self._frontal, False), (self._profile, False), (self._profile, True)):
            img = np.ascontiguousarray(grey[:, ::-1]) if flip else grey
            found = cascade.detectMultiScale(img, 1.2, self.haar_neighbours, minSize=(self.min_face, self.min_face))
            for x, y, bw, bh in found if len(found) else []:
                x1 = w - x - bw if flip else x
                boxes.append([float(x1), float(y), float(x1 + bw), float(y + bh)])
        return boxes, [0.5] * len(boxes)


def changed_mask(original: np.ndarray, output: np.ndarray) -> np.ndarray:
    """HxW bool: pixels the anonymiser changed (grey difference above re-encoding noise)."""
    a = cv2.cvtColor(original, cv2.COLOR_RGB2GRAY).astype(np.int16)
    b = cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).astype(np.int16)
    return np.abs(a - b) > CHANGED


def _share(mask: np.ndarray, box: np.ndarray | list[float]) -> float:
    h, w = mask.shape
    x1, y1, x2, y2 = (int(np.clip(round(float(v)), 0, s)) for v, s in zip(box[:4], (w, h, w, h), strict=True))
    sub = mask[y1:y2, x1:x2]
    return float(sub.mean()) if sub.size else 1.0


def _core(img: np.ndarray, box: np.ndarray | list[float], keep: float = 0.5) -> np.ndarray:
    """The central `keep` of `box` on each axis (the central half holds eyes, nose and mouth)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    h, w = img.shape[:2]
    m = (1 - keep) / 2
    a, b = int(np.clip(y1 + (y2 - y1) * m, 0, h)), int(np.clip(np.ceil(y2 - (y2 - y1) * m), 0, h))
    c, d = int(np.clip(x1 + (x2 - x1) * m, 0, w)), int(np.clip(np.ceil(x2 - (x2 - x1) * m), 0, w))
    return img[a:b, c:d]


def unchanged(original: np.ndarray, output: np.ndarray, box: np.ndarray | list[float]) -> bool:
    """True when the face's core in the output is still the original's: the change is small
    against the face's own texture, and the texture is still there. A uniform fill close to the
    face's colour (small dark crowd faces) counts as changed, because it removes the texture;
    re-encoding noise does not."""
    a = _core(original, box).astype(np.float32).mean(axis=2)
    b = _core(output, box).astype(np.float32).mean(axis=2)
    if a.size == 0:
        return False
    sa = float(a.std())
    return (
        float(np.abs(a - b).mean()) < max(UNCHANGED_NOISE, UNCHANGED_SHARE * sa) and float(b.std()) >= KEPT_TEXTURE * sa
    )


def left_share(original: np.ndarray, output: np.ndarray, changed: np.ndarray, box: np.ndarray | list[float]) -> float:
    """Share of the face box left as it was: pixels the output did not change and where it still
    has texture (local contrast). Catches a face that a neighbour's region covers only in part.
    Painted pixels are flat, so a fill close to the face's colour never counts as left."""
    h, w = changed.shape
    x1, y1, x2, y2 = _clip(box, w, h)
    if x2 - x1 < 3 or y2 - y1 < 3:
        return 0.0
    g = cv2.cvtColor(output[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(g, (5, 5))
    local = np.sqrt(np.clip(cv2.blur(g * g, (5, 5)) - mean * mean, 0, None))
    return float(((~changed[y1:y2, x1:x2]) & (local >= TEXTURE)).mean())


def _clip(box: np.ndarray | list[float], w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return (
        int(np.clip(round(x1), 0, w)),
        int(np.clip(round(y1), 0, h)),
        int(np.clip(round(x2), 0, w)),
        int(np.clip(round(y2), 0, h)),
    )


def erased(output: np.ndarray, box: np.ndarray | list[float]) -> bool:
    """True when the central 80% of the face box holds no detail in the output (painted by
    `fill`, a smooth surface from the pixels around it, or `solid`), even once re-encoded: no
    eye, mouth or edge is left there for a recogniser to match."""
    b = _core(output, box, 0.8)
    if min(b.shape[:2]) < 5:
        return False
    grey = b.astype(np.float32).mean(axis=2)
    detail = np.abs(grey - cv2.blur(grey, (5, 5), borderType=cv2.BORDER_REFLECT))[2:-2, 2:-2]
    return bool(detail.mean() < SMOOTH)
