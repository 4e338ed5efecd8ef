"""Which pixels a region covers, and the ring around a painted blob that a fill may look at."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from unseen.region import Region

RING = 0.15  # ring width for `fill`, as a fraction of the blob's size
MIN_CONTEXT = 0.25  # share of the ring that must lie inside the image for `fill` to use it
# |dx|^n + |dy|^n <= 1 inside the region's box: an ellipse, or a rounded head shape (a
# superellipse) that reaches into the corners an ellipse leaves, where a face's box still has cheek
# and jaw line, for 12% less area than the box itself (an ellipse: 21% less).
EXPONENT = {"ellipse": 2.0, "rounded": 3.0}


def region_bounds(region: Region, width: int, height: int) -> tuple[slice, slice]:
    """The rows and columns of the region's integer bounding box, clipped to the image. The box
    is widened outwards to whole pixels, so a region never covers less than its box."""
    x1, y1, x2, y2 = region.box
    ys = slice(max(0, math.floor(y1)), min(height, math.ceil(y2)))
    xs = slice(max(0, math.floor(x1)), min(width, math.ceil(x2)))
    return ys, xs


def region_mask(region: Region, width: int, height: int) -> tuple[slice, slice, np.ndarray]:
    """The region's pixels as a boolean mask over its integer bounding box (region_bounds)."""
    ys, xs = region_bounds(region, width, height)
    iy1, iy2, ix1, ix2 = ys.start, ys.stop, xs.start, xs.stop
    if region.shape == "box" or ix2 - ix1 < 3 or iy2 - iy1 < 3:
        return ys, xs, np.ones((max(0, iy2 - iy1), max(0, ix2 - ix1)), bool)
    x1, y1, x2, y2 = region.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = max((x2 - x1) / 2, 0.5), max((y2 - y1) / 2, 0.5)
    gy, gx = np.ogrid[iy1:iy2, ix1:ix2]
    # Pixel centres at +0.5; a half-pixel slack keeps the edge pixels the outline touches.
    dx = (np.abs(gx + 0.5 - cx) - 0.5).clip(0) / rx
    dy = (np.abs(gy + 0.5 - cy) - 0.5).clip(0) / ry
    n = EXPONENT[region.shape]
    return ys, xs, dx**n + dy**n <= 1.0


def coverage_mask(regions: Iterable[Region], width: int, height: int) -> np.ndarray:
    """Boolean HxW mask of every pixel that the regions obscure."""
    mask = np.zeros((height, width), bool)
    for r in regions:
        ys, xs, m = region_mask(r, width, height)
        mask[ys, xs] |= m
    return mask


def ring_pad(width: int, height: int) -> int:
    """Width in pixels of the ring around a width x height blob that `fill` takes its colours from."""
    return max(2, round(RING * max(width, height)))


def mostly_outside(box: tuple[int, int, int, int], pad: int, width: int, height: int, painted: int) -> bool:
    """Whether the ring (`pad` wide) around a blob with integer bounds `box` and `painted` pixels
    lies mostly outside the width x height image. Other regions in the ring do not count: in a
    crowd the ring is other people, not this one."""
    x1, y1, x2, y2 = box
    whole = (x2 - x1 + 2 * pad) * (y2 - y1 + 2 * pad)
    inside = (min(width, x2 + pad) - max(0, x1 - pad)) * (min(height, y2 + pad) - max(0, y1 - pad))
    return inside - painted < MIN_CONTEXT * (whole - painted)
