"""Re-identification check: would a face-recognition model still match the anonymised face?

dlib's 128-d ResNet (from `face-recognition-models`, CC0) compares each face of the original
with the *same region* of the output, aligned with the landmarks found on the original (the
output's face may be gone, so it cannot be aligned on its own). If the distance is below the
model's same-person threshold *and* clearly below a control - the same photo with the face erased
(unseen's margin, painted with `fill`) - the output still carries the identity. The control is
needed because the original and the output share everything around the face (hair, clothes,
background), which alone brings small faces under the threshold; what counts is identity left in
the face itself. The embeddings live in local variables for one comparison and are dropped;
nothing is stored, printed or looked up.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unseen.errors import UnseenError

# dlib's own same-person tolerance for this model (its documentation and face_recognition use
# 0.6). benchmarks/reid.py measures the stricter threshold at 0.1% false accepts on LFW.
SAME_PERSON = 0.6
MARGIN = 0.1  # the output must be this much closer to the original than the erased control
MIN_FACE = 32  # px: below this the recogniser works on upsampling blur and context; see docs/audit.md


def _model_dir() -> Path:
    """The model files, found without importing `face_recognition_models` (it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UnseenError("the audit needs `face-recognition-models` and `dlib-bin` (pip install unseen)")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@dataclass(frozen=True)
class Match:
    """One face of the original and how close its anonymised version still is (a distance, not
    an embedding: lower is more alike; below `threshold` the model would say same person)."""

    box: tuple[float, float, float, float]
    distance: float
    threshold: float
    control: float = 2.0  # distance of the same photo with the face erased

    @property
    def risk(self) -> bool:
        return self.distance < self.threshold and self.distance < self.control - MARGIN


class Reidentifier:
    """Loads the landmark and recognition models once; `compare` is the only operation."""

    def __init__(self, threshold: float = SAME_PERSON) -> None:
        import dlib

        d = _model_dir()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat"))
        self.threshold = threshold

    def distances(
        self, original: np.ndarray, anonymised: np.ndarray, box: tuple[float, float, float, float]
    ) -> tuple[float, float]:
        """(output, control) distances from the face in `box` of the original: to the same aligned
        region of the anonymised image, and to the original with that face erased."""
        from unseen.obscure import obscure
        from unseen.region import Region, expand

        dlib = self._dlib
        h, w = original.shape[:2]
        x1, y1, x2, y2 = (round(v) for v in box)
        shape = self._shape(original, dlib.rectangle(x1, y1, x2, y2))
        erased = obscure(original, [Region(expand(box, 0.25, w, h))], "fill")
        chips = [dlib.get_face_chip(img, shape, 150, 0.25) for img in (original, anonymised, erased)]
        a, b, c = (np.asarray(v) for v in self._net.compute_face_descriptor(chips))
        return float(np.linalg.norm(a - b)), float(np.linalg.norm(a - c))

    def compare(self, original: np.ndarray, anonymised: np.ndarray, boxes: Any) -> list[Match]:
        """A Match for every box (faces of the original, `[x1, y1, x2, y2]`) at least MIN_FACE tall
        (the caller has already counted the smaller ones out)."""
        out = []
        for box in boxes:
            b = tuple(float(v) for v in box[:4])
            if b[3] - b[1] < MIN_FACE or b[2] - b[0] < MIN_FACE * 0.5:
                continue
            d, control = self.distances(original, anonymised, b)  # type: ignore[arg-type]
            out.append(Match(b, d, self.threshold, control))  # type: ignore[arg-type]
        return out
