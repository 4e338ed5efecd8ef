"""Change pixels: paint every region of a frame so the face under it cannot be recovered.

Each obscuring method is one class in one file of this package, registered in `METHODS`; the
plan's valid methods and the CLI's choices come from that registry. A method paints an RGB image
(`paint`) and, where it can, a 4:2:0 video frame's planes in place (`paint_yuv420`), which skips
two colour conversions per frame. `fill` (the default) and `solid` use no pixel from inside any
region, so nothing of a face survives; `mosaic` and `blur` keep a coarse version of the face that
trained models can partly undo (docs/threat-model.md, benchmarks/reid.py): they are opt-in only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from unseen.obscure.base import Method, Yuv420
from unseen.obscure.blur import Blur
from unseen.obscure.fill import NEUTRAL, Fill
from unseen.obscure.masks import coverage_mask, region_bounds, region_mask
from unseen.obscure.mosaic import Mosaic
from unseen.obscure.solid import Solid
from unseen.region import Region

METHODS: dict[str, Method] = {m.name: m for m in (Fill(), Solid(), Mosaic(), Blur())}
# Video's `fill` paints each group its ring's mean colour: the smooth membrane costs ~1 ms a face
# a frame, a third of a crowd clip's time (docs/video.md), where a frame shows for 1/30 s.
VIDEO: dict[str, Method] = {**METHODS, "fill": Fill(smooth=False)}

__all__ = [
    "METHODS",
    "VIDEO",
    "NEUTRAL",
    "Method",
    "Yuv420",
    "coverage_mask",
    "method",
    "obscure",
    "region_bounds",
    "region_mask",
    "undo_warning",
]


def method(name: str, video: bool = False) -> Method:
    """The registered method called `name`, as photos or (`video`) video frames are painted
    (ValueError if there is none)."""
    try:
        return (VIDEO if video else METHODS)[name]
    except KeyError:
        raise ValueError(f"unknown obscuring method {name!r}") from None


def undo_warning(name: str) -> str | None:
    """What to tell a user who chose a method that keeps a coarse version of each face, or None."""
    if not method(name).reversible:
        return None
    return (
        f"warning: --method {name} keeps a coarse version of each face that trained models can partly undo "
        "to re-identify people (README, re-identification); use fill or solid to protect anyone"
    )


def obscure(rgb: np.ndarray, regions: Iterable[Region], name: str = "fill", video: bool = False) -> np.ndarray:
    """A copy of the HxWx3 uint8 image with every region painted by the method `name` (as a
    video frame is painted, with `video`)."""
    out = rgb.copy()
    regions = list(regions)
    if regions:
        method(name, video).paint(out, regions)
    return out
