"""Named detector settings, chosen by measurement (benchmarks/widerface.py, README table)."""

from __future__ import annotations

from dataclasses import dataclass

from unseen.detect.base import Detector
from unseen.detect.centerface import CenterFace
from unseen.detect.multiscale import MultiScale


@dataclass(frozen=True)
class Preset:
    scales: tuple[float, ...]
    threshold: float
    max_side: int
    help: str


PRESETS: dict[str, Preset] = {
    "fast": Preset((1.0,), 0.2, 1280, "one pass; about deface's speed, more faces protected"),
    "default": Preset((0.5, 1.0, 2.0), 0.2, 1280, "three scales: crowd faces and close-ups"),
    "thorough": Preset((0.5, 1.0, 2.0, 3.0), 0.15, 2048, "slowest, for the most sensitive material"),
}


def make_detector(name: str = "default", threads: int | None = None) -> Detector:
    p = PRESETS[name]
    return MultiScale(CenterFace(p.threshold, threads), p.scales, max_side=p.max_side)
