"""Named detector settings, chosen by measurement (benchmarks/widerface.py, README table)."""

from __future__ import annotations

from dataclasses import dataclass

from unseen.detect.centerface import CenterFace
from unseen.detect.multiscale import MultiScale
from unseen.detect.verify import shipped


@dataclass(frozen=True)
class Preset:
    """`scales` multiply a working size of at most `max_side` px on the long side; `threshold`
    is for small boxes, `large_threshold` for boxes of 40+ working pixels; `union` merges the
    passes' boxes of one face; `gated`: the upsampled pass looks only near what the others
    found (see MultiScale)."""

    scales: tuple[float, ...]
    threshold: float
    large_threshold: float
    max_side: int
    union: float | None
    help: str
    verified: bool = False
    gated: bool = False


# Tuned on a sample of WIDER FACE val (benchmarks/widerface.py): a 1.75x pass finds crowd faces
# down to ~8 px, a 0.5x pass finds close-ups that fill the frame, the 1x pass the sizes between
# (with it, faces under 16 px went from 93.4% to 94.3% protected); low thresholds are where the
# recall is, and the area they cost is bounded by the stricter threshold on large boxes. The
# union of the passes' boxes lifted faces >= 64 px from 97.7% to 98.9% protected and 32-64 px
# from 98.9% to 99.3%, for 27% more area obscured. The default's 1.75x pass runs only around
# the boxes of the other two (MultiScale.near): half its pixels on WIDER val, for 0.1 point
# under 16 px (benchmarks/upsampled_gate.py, widerface.py; README).
PRESETS: dict[str, Preset] = {
    "fast": Preset((1.0,), 0.08, 0.15, 1280, None, "one pass, under half deface's time, more faces protected"),
    "default": Preset((0.5, 1.0, 1.75), 0.08, 0.15, 1280, 0.5, "three scales: crowd faces to close-ups", True, True),
    "thorough": Preset((0.5, 1.0, 2.0), 0.06, 0.1, 2048, 0.5, "three scales, lower thresholds: slowest, most recall"),
}


EVIDENCE = 0.05  # a verified preset's base threshold: weaker boxes than it paints are evidence


def face_model(
    threshold: float, threads: int | None = None, int8: bool = False, edge: int = 0, gpu: bool = False
) -> CenterFace:
    """The one place a face model is made, for photos, video, the audit and both engines: a
    detector is swapped here alone (threads, int8, CUDA where onnxruntime has it)."""
    return CenterFace(threshold, threads, int8, edge, gpu)


def make_detector(
    name: str = "default",
    threads: int | None = None,
    large_threshold: float | None = None,
    verified: bool = True,
    gpu: bool = False,
) -> MultiScale:
    """The preset's detector; `large_threshold` overrides the preset's (the video audit looks lower).
    A `verified` preset takes a second look at weak faces (detect/verify.py) and a `gated` one
    runs its upsampled pass only near what the others found, unless `verified` is False: the
    audit, which must see everything, runs every pass on the whole picture."""
    p = PRESETS[name]
    large = p.large_threshold if large_threshold is None else large_threshold
    check = p.verified and verified
    base = face_model(EVIDENCE if check else p.threshold, threads, gpu=gpu)
    return MultiScale(
        base,
        p.scales,
        p.max_side,
        large_threshold=large,
        union=p.union,
        threshold=p.threshold if check else None,
        verifier=shipped() if check else None,
        gated=p.gated and verified,
    )
