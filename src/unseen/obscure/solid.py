"""`solid`: every region black. Irreversible, and obvious to a reader."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unseen.obscure.base import Yuv420
from unseen.obscure.masks import coverage_mask, region_mask
from unseen.obscure.planar import chroma_mask
from unseen.region import Region


class Solid:
    name = "solid"
    reversible = False
    help = "black"

    def paint(self, rgb: np.ndarray, regions: Sequence[Region]) -> None:
        h, w = rgb.shape[:2]
        for r in regions:
            ys, xs, m = region_mask(r, w, h)
            rgb[ys, xs][m] = 0

    def paint_yuv420(self, frame: Yuv420, regions: Sequence[Region]) -> bool:
        mask = coverage_mask(regions, frame.width, frame.height)
        frame.y[mask] = 0 if frame.full_range else 16
        c = chroma_mask(mask)
        frame.u[c] = 128
        frame.v[c] = 128
        return True
