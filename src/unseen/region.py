"""Region: one area of one picture to paint, the value every stage after detection passes on.

Kept apart from the plan (which holds regions per file and validates them as untrusted input) so
that painting (unseen.obscure) needs nothing of the plan, and the plan can name the painters.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    """One area to obscure, in pixels of the upright image: `box` is `[x1, y1, x2, y2]` with the
    margin already added (what gets painted); `raw_box` and `score` are what the detector said.
    `frame` is the video frame index (None for photos); `track` groups a face across frames.
    `kind` is "face", or "text" for text found with `--text` (badges, signs, number plates)."""

    box: Box
    shape: str = "ellipse"
    score: float | None = None
    detector: str = "manual"
    raw_box: Box | None = None
    frame: int | None = None
    track: int | None = None
    kind: str = "face"

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def expand(raw: Box, margin: float, width: int, height: int) -> Box:
    """Grow a detector box by `margin` of its size on each side (50% more upwards, for the
    hair line), clipped to the image. Detector boxes stop at the brows and chin; the margin
    is what covers hair line, ears and jaw."""
    x1, y1, x2, y2 = raw
    w, h = x2 - x1, y2 - y1
    return (
        max(0.0, x1 - margin * w),
        max(0.0, y1 - 1.5 * margin * h),
        min(float(width), x2 + margin * w),
        min(float(height), y2 + margin * h),
    )
