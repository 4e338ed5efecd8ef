"""Options (what a user sets), Outcome (what happened to one file) and Progress: the values
every stage and driver passes, kept below them so that none needs another's module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from unseen.errors import OptionError
from unseen.limits import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, out_of_range

AUDIO = ("keep", "drop", "disguise")  # what a video's sound becomes (see unseen.voice)


@dataclass
class Options:
    """Everything a user can set for scan and apply; one value passed down, not ten arguments."""

    detector: str = "default"
    margin: float | None = None  # None: the kind's own (regions.PHOTO, regions.VIDEO)
    shape: str | None = None
    method: str = "fill"
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    audio: str = "keep"  # one of AUDIO
    text: bool = False  # also paint text (photos): unseen.detect.text
    crf: int = 18
    follow_symlinks: bool = False

    def __post_init__(self) -> None:
        """Refuse a setting out of its range (unseen.limits) however Options was made (command
        line, review, a plan's settings, the API): a negative margin would paint less than the
        face, and nothing downstream would notice."""
        from unseen.detect.presets import PRESETS
        from unseen.obscure import METHODS
        from unseen.plan import SHAPES

        for name in ("margin", "max_pixels", "max_frames", "crf"):
            if getattr(self, name) is None and name == "margin":
                continue  # the media kind's own (unseen.regions)
            why = out_of_range(name, getattr(self, name))
            if why is not None:
                raise OptionError(f"{name.replace('_', '-')} {why}")
        choices = (("shape", SHAPES), ("method", METHODS), ("preset", tuple(PRESETS)), ("audio", AUDIO))
        for name, allowed in choices:
            value = getattr(self, "detector" if name == "preset" else name)
            if value not in allowed and not (name == "shape" and value is None):
                raise OptionError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if not isinstance(self.text, bool):
            raise OptionError(f"text must be True or False, not {self.text!r}")


@dataclass
class Outcome:
    """What happened to one input: `error` is None on success."""

    path: str
    output: str | None = None
    regions: int = 0  # faces obscured (MediaPlan.faces)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Progress = Callable[[str, float, int], None]  # (file, fraction of that file done, frames done in it)
