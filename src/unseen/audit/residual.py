"""Residual-face check: detectors of other families than CenterFace look at the output.

The plan comes from CenterFace (a CNN); a face it missed is likely to be missed again by
CenterFace. The audit therefore asks detectors that share none of its training or design: dlib's
HOG + linear SVM (frontal faces) and OpenCV's Haar cascades (frontal and profile, both
directions), both run at higher sensitivity than their defaults. A face they find is a risk only
where the output was *not* obscured (`unchanged`: its core still has the original's pixels), so a
detector firing on a painted region does not count, and a face that was left untouched does.
"""

from __future__ import annotations

import cv2
import numpy as np

from unseen.detect.base import Detections, nms

UNCHANGED_NOISE = 2.0  # grey levels: what JPEG q95 / H.264 crf 18 re-encoding changes on average
UNCHANGED_SHARE = 0.25  # ... or a quarter of the face's own contrast (its standard deviation)


class Residual:
    """dlib HOG + OpenCV Haar, union of their boxes. Scores are detector-specific confidences
    mapped to (0, 1]; the audit reports them, it does not threshold them again."""

    name = "hog+haar"

    def __init__(self, hog_threshold: float = -0.3, haar_neighbours: int = 4, min_face: int = 20) -> None:
        import dlib

        self._hog = dlib.get_frontal_face_detector()
        self.hog_threshold = hog_threshold
        self.haar_neighbours = haar_neighbours
        self.min_face = min_face
        root = cv2.data.haarcascades  # type: ignore[attr-defined]
        self._frontal = cv2.CascadeClassifier(root + "haarcascade_frontalface_alt2.xml")
        self._profile = cv2.CascadeClassifier(root + "haarcascade_profileface.xml")

    def detect(self, rgb: np.ndarray) -> Detections:
        boxes, scores, names = self.hog(rgb)
        hb, hs, hn = self.haar(rgb)
        boxes += hb
        scores += hs
        names += hn
        if not boxes:
            return Detections.empty(self.name)
        return nms(Detections(np.array(boxes, np.float32), np.array(scores, np.float32), self.name), 0.3)

    def hog(self, rgb: np.ndarray) -> tuple[list[list[float]], list[float], list[str]]:
        # Upsampling once finds faces down to ~40 px; skip it on large frames, whose faces are larger.
        up = 1 if max(rgb.shape[:2]) <= 2048 else 0
        rects, scores, _ = self._hog.run(np.ascontiguousarray(rgb), up, self.hog_threshold)
        boxes = [[r.left(), r.top(), r.right(), r.bottom()] for r in rects]
        return boxes, [float(1 / (1 + np.exp(-2 * s))) for s in scores], ["hog"] * len(boxes)

    def haar(self, rgb: np.ndarray) -> tuple[list[list[float]], list[float], list[str]]:
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        w = grey.shape[1]
        boxes: list[list[float]] = []
        for cascade, flip in ((self._frontal, False), (self._profile, False), (self._profile, True)):
            img = np.ascontiguousarray(grey[:, ::-1]) if flip else grey
            found = cascade.detectMultiScale(img, 1.15, self.haar_neighbours, minSize=(self.min_face, self.min_face))
            for x, y, bw, bh in found if len(found) else []:
                x1 = w - x - bw if flip else x
                boxes.append([float(x1), float(y), float(x1 + bw), float(y + bh)])
        return boxes, [0.5] * len(boxes), ["haar"] * len(boxes)


def _core(img: np.ndarray, box: np.ndarray | list[float]) -> np.ndarray:
    """The central half of `box` (where eyes, nose and mouth are)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    h, w = img.shape[:2]
    a, b = int(np.clip(y1 + (y2 - y1) / 4, 0, h)), int(np.clip(np.ceil(y2 - (y2 - y1) / 4), 0, h))
    c, d = int(np.clip(x1 + (x2 - x1) / 4, 0, w)), int(np.clip(np.ceil(x2 - (x2 - x1) / 4), 0, w))
    return img[a:b, c:d]


def unchanged(original: np.ndarray, output: np.ndarray, box: np.ndarray | list[float]) -> bool:
    """True when the face's core in the output is still the original's: the change is small
    against the face's own texture. A uniform fill close to the face's colour (dark crowd faces)
    still counts as changed, because it removes the texture; re-encoding noise does not."""
    a = _core(original, box).astype(np.float32).mean(axis=2)
    b = _core(output, box).astype(np.float32).mean(axis=2)
    if a.size == 0:
        return False
    return float(np.abs(a - b).mean()) < max(UNCHANGED_NOISE, UNCHANGED_SHARE * float(a.std()))
