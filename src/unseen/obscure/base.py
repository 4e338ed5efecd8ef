"""What an obscuring method is: one class, two ways to paint, registered in obscure.METHODS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from unseen.region import Region


@dataclass
class Yuv420:
    """A 4:2:0 frame's planes as writable uint8 views: `y` is HxW, `u` and `v` are (H/2)x(W/2)
    (H and W even). `full_range` samples run 0-255 (JPEG range), else 16-235 luma."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    full_range: bool

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])


class Method(Protocol):
    """`reversible` methods keep a coarse version of the face (opt-in, documented as weaker)."""

    name: str
    reversible: bool
    help: str

    def paint(self, rgb: np.ndarray, regions: Sequence[Region]) -> None:
        """Paint `regions` into the HxWx3 uint8 RGB image in place."""
        ...

    def paint_yuv420(self, frame: Yuv420, regions: Sequence[Region]) -> bool:
        """Paint `regions` into the planes in place; False (nothing painted) if this method only
        paints RGB, and the caller converts the frame."""
        ...
