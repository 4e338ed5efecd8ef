"""Shared helpers for the benchmarks: where the data is, and deface run the way deface runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"benchmark data not found at {path}: see ../shared/data/README.md")
    return path


class Deface:
    """deface 1.5.0 at its defaults (threshold 0.2, mask scale 1.3, ellipse, blur), in-process."""

    def __init__(self, threshold: float = 0.2, mask_scale: float = 1.3) -> None:
        import contextlib
        import io

        from deface.centerface import CenterFace

        with contextlib.redirect_stdout(io.StringIO()):
            self.net = CenterFace(in_shape=None, backend="onnxrt")
        self.threshold = threshold
        self.mask_scale = mask_scale

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        dets, _ = self.net(rgb, threshold=self.threshold)
        return dets  # (n, 5): x1 y1 x2 y2 score

    def anonymize(self, rgb: np.ndarray, dets: np.ndarray, mode: str = "blur") -> np.ndarray:
        from deface.deface import anonymize_frame

        out = rgb.copy()
        anonymize_frame(dets, out, self.mask_scale, mode, True, False, None, 20)
        return out

    def regions(self, shape: tuple[int, int], dets: np.ndarray) -> list[Any]:
        """deface's painted ellipses as unseen Regions (its scaled, clipped boxes)."""
        from deface.deface import scale_bb

        from unseen.plan import Region

        h, w = shape
        out = []
        for det in dets:
            x1, y1, x2, y2 = scale_bb(*det[:4].astype(int), self.mask_scale)
            box = (float(max(0, x1)), float(max(0, y1)), float(min(w - 1, x2)), float(min(h - 1, y2)))
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Region(box, "ellipse"))
        return out

    def mask(self, shape: tuple[int, int], dets: np.ndarray) -> np.ndarray:
        """The pixels deface obscures, with its own geometry (scaled box, clipped, ellipse)."""
        import skimage.draw
        from deface.deface import scale_bb

        h, w = shape
        m = np.zeros((h, w), bool)
        for det in dets:
            x1, y1, x2, y2 = scale_bb(*det[:4].astype(int), self.mask_scale)
            y1, y2 = max(0, y1), min(h - 1, y2)
            x1, x2 = max(0, x1), min(w - 1, x2)
            roi = m[y1:y2, x1:x2]
            ey, ex = skimage.draw.ellipse((y2 - y1) // 2, (x2 - x1) // 2, (y2 - y1) // 2, (x2 - x1) // 2)
            roi[ey, ex] = True
        return m
