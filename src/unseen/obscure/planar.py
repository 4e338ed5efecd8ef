"""Helpers for painting 4:2:0 planes and for grouping regions without full-frame labelling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unseen.obscure.masks import region_mask
from unseen.region import Region


def chroma_mask(mask: np.ndarray) -> np.ndarray:
    """Half-resolution mask of an even-sized luma mask: a chroma sample is covered when any of
    its four luma pixels is, so no colour of a face survives at the region's edge."""
    return np.asarray(mask[0::2, 0::2] | mask[0::2, 1::2] | mask[1::2, 0::2] | mask[1::2, 1::2])


def rgb_to_yuv(rgb: tuple[int, int, int], full_range: bool) -> tuple[int, int, int]:
    """An RGB colour in BT.601 Y'CbCr, full or limited range (as FFmpeg converts RGB by default)."""
    r, g, b = rgb
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    cb, cr = (b - luma) / 1.772, (r - luma) / 1.402
    if full_range:
        return round(luma), round(128 + cb), round(128 + cr)
    return round(16 + luma * 219 / 255), round(128 + cb * 224 / 255), round(128 + cr * 224 / 255)


@dataclass
class Group:
    """Regions whose pixel boxes overlap or touch, painted together: `bounds` is x1, y1, x2, y2
    in integer pixels (end exclusive); `blob` is their union over those bounds."""

    bounds: tuple[int, int, int, int]
    blob: np.ndarray


def groups(regions: Sequence[Region], width: int, height: int) -> list[Group]:
    """The regions joined into groups by their boxes (8-connected), not by labelling the whole
    frame's pixels, which costs more than the painting on a 1080p frame."""
    masks = [m for m in (region_mask(r, width, height) for r in regions) if m[2].size]
    if not masks:
        return []
    b = np.array([(xs.start, ys.start, xs.stop, ys.stop) for ys, xs, _ in masks], np.int64)
    touch = (
        (b[:, None, 0] <= b[None, :, 2])
        & (b[None, :, 0] <= b[:, None, 2])
        & (b[:, None, 1] <= b[None, :, 3])
        & (b[None, :, 1] <= b[:, None, 3])
    )
    first, second = np.nonzero(touch)  # a few pairs a region, not the n x n matrix each round
    label = np.arange(len(masks))
    while True:  # label propagation to the smallest index in each connected group
        nxt = label.copy()
        np.minimum.at(nxt, first, label[second])
        nxt = nxt[nxt]
        if np.array_equal(nxt, label):
            break
        label = nxt
    out = []
    for k in np.unique(label):
        idx = np.flatnonzero(label == k)
        x1, y1 = int(b[idx, 0].min()), int(b[idx, 1].min())
        x2, y2 = int(b[idx, 2].max()), int(b[idx, 3].max())
        blob = np.zeros((y2 - y1, x2 - x1), bool)
        for i in idx:
            ys, xs, m = masks[i]
            blob[ys.start - y1 : ys.stop - y1, xs.start - x1 : xs.stop - x1] |= m
        out.append(Group((x1, y1, x2, y2), blob))
    return out


def covered(parts: Sequence[Group], width: int, height: int) -> np.ndarray:
    """Boolean HxW mask of the groups' pixels: coverage_mask without drawing every region again."""
    mask = np.zeros((height, width), bool)
    for g in parts:
        x1, y1, x2, y2 = g.bounds
        mask[y1:y2, x1:x2] |= g.blob
    return mask
