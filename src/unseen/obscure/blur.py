"""`blur`: a Gaussian blur whose strength grows with the face (a fixed kernel leaves large faces
readable). Trained models can partly undo it (benchmarks/reid.py): opt-in only."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unseen.obscure.base import Yuv420
from unseen.obscure.masks import region_mask
from unseen.region import Region


class Blur:
    name = "blur"
    reversible = True
    help = "Gaussian blur growing with the face (can be partly undone)"

    def paint(self, rgb: np.ndarray, regions: Sequence[Region]) -> None:
        h, w = rgb.shape[:2]
        source = rgb.copy()  # each region blurs the picture as it was, not its neighbours' paint
        for r in regions:
            ys, xs, m = region_mask(r, w, h)
            if m.size == 0:
                continue
            sigma = max(2.0, max(r.width, r.height) / 6)
            pad = int(3 * sigma)
            y1, y2 = max(0, ys.start - pad), min(h, ys.stop + pad)
            x1, x2 = max(0, xs.start - pad), min(w, xs.stop + pad)
            blurred = cv2.GaussianBlur(source[y1:y2, x1:x2], (0, 0), sigma)
            rgb[ys, xs][m] = blurred[ys.start - y1 : ys.stop - y1, xs.start - x1 : xs.stop - x1][m]

    def paint_yuv420(self, frame: Yuv420, regions: Sequence[Region]) -> bool:
        return False
