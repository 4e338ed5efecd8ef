"""`fill` (the default): each region is painted from the pixels *around* it, never from a face.

A group of touching regions gets a smooth membrane interpolated from the unpainted pixels of a
ring around it (RING of its size): wall stays wall-coloured, a sky's gradient carries on, so a
region painted where there is no face is hard to notice, and regions over several people are
not one flat slab. No pixel under any region is read, so nothing of a face survives; a group
under SMOOTH_MIN px gets the ring's mean colour. Where most of the ring lies outside
the image (a face filling a tight crop), the few pixels left are the person's own hair and skin,
so the group gets NEUTRAL instead: a colour taken from the person would carry their skin tone,
and a recogniser can match it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from unseen.obscure.base import Yuv420
from unseen.obscure.masks import mostly_outside, ring_pad
from unseen.obscure.planar import Group, chroma_mask, covered, groups, rgb_to_yuv
from unseen.region import Region

# A deep blue, a colour no face has. benchmarks/neutral_colour.py: over 512 flat colours against
# LFW's 3,811 photos, dlib's ResNet puts a flat mid-grey chip within its same-person threshold of
# 7 photos, black of 15, this blue of 1 (the widest margin); chosen on half, 0.06% held out.
NEUTRAL = (32, 0, 192)
# px: a group smaller than this on its long side gets the ring's mean colour. On a small group
# the membrane bends steeply between dark and light ring pixels, and where it crosses the face's
# own colours the audit saw "unchanged, textured" pixels (an 11x15 px face in dlib_faces
# 2008_001009.jpg: 37% "left"); a gradient that small would not show anyway.
SMOOTH_MIN = 48


class Fill:
    """`smooth` False paints each group the ring's mean colour, as video does (fill_for_video)."""

    name = "fill"
    reversible = False
    help = "smooth fill from the pixels around each face (default; irreversible)"

    def __init__(self, smooth: bool = True) -> None:
        self.smooth = smooth

    def paint(self, rgb: np.ndarray, regions: Sequence[Region]) -> None:
        h, w = rgb.shape[:2]
        parts = groups(regions, w, h)
        known = ~covered(parts, w, h)
        for g in parts:
            window = _window(g, w, h)
            if window is None:
                _put(rgb, g, np.array(NEUTRAL, np.uint8))
                continue
            ys, xs = window
            _put(rgb, g, _fill_window(rgb[ys, xs], known[ys, xs], g, ys, xs, self.smooth))

    def paint_yuv420(self, frame: Yuv420, regions: Sequence[Region]) -> bool:
        if not self.smooth:
            flat_yuv420(frame, regions)
            return True
        w, h = frame.width, frame.height
        parts = groups(regions, w, h)
        mask = covered(parts, w, h)
        known, known_c = ~mask, ~chroma_mask(mask)
        neutral = np.array(rgb_to_yuv(NEUTRAL, frame.full_range), np.uint8)
        for g in parts:
            x1, y1, x2, y2 = g.bounds
            # The group on the 2x2 chroma grid (w and h are even, so this stays in the frame).
            ex1, ey1, ex2, ey2 = x1 & ~1, y1 & ~1, (x2 + 1) & ~1, (y2 + 1) & ~1
            big = np.zeros((ey2 - ey1, ex2 - ex1), bool)
            big[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1] = g.blob
            half = Group((ex1 // 2, ey1 // 2, ex2 // 2, ey2 // 2), chroma_mask(big))
            window = _window(g, w, h)
            if window is None:
                _put(frame.y, g, neutral[0])
                _put(frame.u, half, neutral[1])
                _put(frame.v, half, neutral[2])
                continue
            ys, xs = window
            _put(frame.y, g, _fill_window(frame.y[ys, xs], known[ys, xs], g, ys, xs, self.smooth))
            cys, cxs = slice(ys.start // 2, -(-ys.stop // 2)), slice(xs.start // 2, -(-xs.stop // 2))
            uv = np.dstack([frame.u[cys, cxs], frame.v[cys, cxs]])
            filled = _fill_window(uv, known_c[cys, cxs], half, cys, cxs, self.smooth)
            _put(frame.u, half, filled[..., 0])
            _put(frame.v, half, filled[..., 1])
        return True


def flat_yuv420(frame: Yuv420, regions: Sequence[Region]) -> None:
    """Each group the mean colour of its ring, straight into the planes with OpenCV's masked
    mean and saturating arithmetic (video's painter: about half the cost of numpy's boolean
    indexing on a crowd's many groups, and a tenth of the membrane's)."""
    w, h = frame.width, frame.height
    parts = groups(regions, w, h)
    mask = covered(parts, w, h)
    free = (~mask).view(np.uint8)
    free_c = (~chroma_mask(mask)).view(np.uint8)
    neutral = rgb_to_yuv(NEUTRAL, frame.full_range)
    for g in parts:
        x1, y1, x2, y2 = g.bounds
        ex1, ey1, ex2, ey2 = x1 & ~1, y1 & ~1, (x2 + 1) & ~1, (y2 + 1) & ~1
        big = np.zeros((ey2 - ey1, ex2 - ex1), bool)
        big[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1] = g.blob
        window = _window(g, w, h)
        if window is None:
            colour = neutral
        else:
            ys, xs = window
            cys, cxs = slice(ys.start // 2, -(-ys.stop // 2)), slice(xs.start // 2, -(-xs.stop // 2))
            colour = (
                _masked_mean(frame.y[ys, xs], free[ys, xs]),
                _masked_mean(frame.u[cys, cxs], free_c[cys, cxs]),
                _masked_mean(frame.v[cys, cxs], free_c[cys, cxs]),
            )
        _set(frame.y[y1:y2, x1:x2], g.blob, colour[0])
        blob_c = chroma_mask(big)
        _set(frame.u[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2], blob_c, colour[1])
        _set(frame.v[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2], blob_c, colour[2])


def _masked_mean(plane: np.ndarray, keep: np.ndarray) -> int:
    """Mean of `plane` where `keep` (uint8) is set; 128 where nothing is."""
    if not cv2.countNonZero(keep):
        return 128
    return int(np.clip(round(cv2.mean(np.ascontiguousarray(plane), np.ascontiguousarray(keep))[0]), 0, 255))


def _set(window: np.ndarray, where: np.ndarray, value: int) -> None:
    """window[where] = value in place, with OpenCV's saturating arithmetic on 0/1 masks: about
    5x faster than numpy's boolean assignment on the large blobs of a crowd."""
    m = where.view(np.uint8)
    cv2.subtract(window, cv2.multiply(window, m), dst=window)
    cv2.add(window, m * np.uint8(value), dst=window)


def _window(g: Group, w: int, h: int) -> tuple[slice, slice] | None:
    """The group's bounds grown by its ring, clipped to the image; None where the ring lies
    mostly outside the image (the group is painted NEUTRAL)."""
    x1, y1, x2, y2 = g.bounds
    pad = ring_pad(x2 - x1, y2 - y1)
    if mostly_outside(g.bounds, pad, w, h, int(np.count_nonzero(g.blob))):
        return None
    return slice(max(0, y1 - pad), min(h, y2 + pad)), slice(max(0, x1 - pad), min(w, x2 + pad))


def _fill_window(
    pixels: np.ndarray, known: np.ndarray, g: Group, ys: slice, xs: slice, smooth: bool = True
) -> np.ndarray:
    """The group's pixels (its bounds, HxW or HxWxC uint8) interpolated from `known` pixels of
    the window only: a smooth membrane, or (small groups, `smooth` False) the mean colour."""
    x1, y1, x2, y2 = g.bounds
    inner = (slice(y1 - ys.start, y2 - ys.start), slice(x1 - xs.start, x2 - xs.start))
    if not known.any():  # every pixel around is another region: nothing to take a colour from
        return np.zeros(pixels[inner].shape, np.uint8) + (128 if pixels.ndim == 2 else np.uint8(128))
    if not smooth or max(x2 - x1, y2 - y1) < SMOOTH_MIN:
        colour = pixels[known].mean(axis=0)
        return np.broadcast_to(np.round(colour).astype(np.uint8), pixels[inner].shape)
    return np.round(membrane(pixels, known)[inner]).clip(0, 255).astype(np.uint8)


def _put(plane: np.ndarray, g: Group, values: np.ndarray) -> None:
    """plane[group's blob] = values (an array over the group's bounds, or one colour)."""
    x1, y1, x2, y2 = g.bounds
    target = plane[y1:y2, x1:x2]
    np.copyto(target, values, casting="unsafe", where=g.blob if target.ndim == 2 else g.blob[..., None])


def membrane(pixels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A smooth surface through the `known` pixels (HxW or HxWxC; float32 result), by pull-push:
    averages of the known pixels over a pyramid of halvings, filled back down from coarse to
    fine, with a little smoothing at each level. Unknown pixels never enter any average."""
    img = pixels.astype(np.float32).reshape(pixels.shape[0], pixels.shape[1], -1)
    weight = known.astype(np.float32)[..., None]
    levels = [(img * weight, weight)]
    while min(levels[-1][1].shape[:2]) > 2:
        v, k = levels[-1]
        size = ((v.shape[1] + 1) // 2, (v.shape[0] + 1) // 2)
        levels.append((_resize(v, size, cv2.INTER_AREA), _resize(k, size, cv2.INTER_AREA)))
    v, k = levels[-1]
    cur = np.broadcast_to(v.sum((0, 1)) / max(float(k.sum()), 1e-6), v.shape).astype(np.float32)
    for v, k in reversed(levels):
        up = _resize(cur, (v.shape[1], v.shape[0]), cv2.INTER_LINEAR)
        trust = np.minimum(k * 4, 1.0)  # a coarse cell a quarter known is as good as fully known
        cur = up + trust * (v / np.maximum(k, 1e-6) - up)  # v and trust are 0 where nothing is known
        known = np.broadcast_to(k >= 0.999, cur.shape)
        for _ in range(2):
            smooth = _resize(cv2.blur(cur, (3, 3)), None, 0)
            np.copyto(smooth, cur, where=known)
            cur = smooth
    return cur.reshape(pixels.shape)


def _resize(a: np.ndarray, size: tuple[int, int] | None, interpolation: int) -> np.ndarray:
    """cv2.resize (or nothing, with `size` None) that keeps a channel axis OpenCV drops for one channel."""
    out = a if size is None else cv2.resize(a, size, interpolation=interpolation)
    return out if out.ndim == 3 else out[..., None]
