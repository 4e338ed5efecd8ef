"""Every limit and every range of a setting, in one place, so that they agree with each other.

The readers refuse what is over a limit before decoding it; the plan schema accepts everything
the readers accept (a plan `scan` writes is never one `apply` refuses); the command line and the
`Options` of the API refuse a setting outside its range with one line (exit 2) before anything
is read or written. A setting that could weaken protection (a negative margin shrinks the painted
area below the face) is never clamped or ignored: it is refused.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

MAX_SIDE = 1 << 17  # pixels: the longest side of a photo or frame unseen reads (and a plan may state)
MAX_FRAMES = 1 << 31  # frames of one video: the most a plan may state, and the top of --max-frames
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_FRAMES = 2_000_000
MAX_FPS = 10_000.0  # frames per second a plan may state (information only: none is stated for a stream outside it)

# Setting -> (lowest, highest, what it is): the command line's types and Options both use these.
RANGES: dict[str, tuple[float, float, str]] = {
    "margin": (0.0, 4.0, "share of the face box added per side"),
    "max_pixels": (1, MAX_SIDE * MAX_SIDE, "pixels"),
    "max_frames": (1, MAX_FRAMES, "frames"),
    "crf": (0, 51, "H.264 quality"),
    "workers": (1, 4096, "workers"),
    "every": (1, MAX_FRAMES, "frames"),
    "port": (0, 65535, "port"),
}


def out_of_range(name: str, value: Any) -> str | None:
    """Why `value` is not a valid `name` setting (see RANGES), or None when it is: a number of the
    right type (an integer where one is needed), finite, within the range."""
    low, high, unit = RANGES[name]
    whole = isinstance(low, int) and isinstance(high, int)
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        return f"must be {'an integer' if whole else 'a number'}, not {value!r}"
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        return f"must be between {_show(low)} and {_show(high)} ({unit}), not {_show(value)}"
    return None


def _show(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def arg_type(name: str) -> Callable[[str], Any]:
    """An argparse `type=` for the setting `name`: the text parsed as its kind and checked
    against RANGES, so a bad value is one line and exit 2 before anything is read or written."""
    low, high, _ = RANGES[name]
    whole = isinstance(low, int) and isinstance(high, int)

    def parse(text: str) -> Any:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if whole else 'a number'}, not {text!r}") from None
        why = out_of_range(name, value)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse
