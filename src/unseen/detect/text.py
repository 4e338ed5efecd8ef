"""Text in photos (`--text`): name badges, placards, street signs, number plates.

PaddleOCR's PP-OCRv6 small text *detection* model (Apache-2.0, shipped in unseen/models, copied
from the rapidocr 3.10.0 wheel; see models/LICENSE-text_det), run with onnxruntime directly.
Nothing is read: no recognition model runs, so unseen never knows what the text says; it only
finds where text is, as a face detector finds where faces are. The model outputs a per-pixel
text probability at the input's size; connected areas above PROB are text lines (DB
post-processing: each area's box grown by UNCLIP x its area / perimeter, as the model was trained).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from unseen.detect.base import Detections

NAME = "ppocr-v6-det"
MIN_SIDE = 736  # px: the shorter side is scaled to this (rapidocr's default), small text needs it
MAX_SIDE = 2400  # px: the longer side is capped here (time and memory on phone photos)
PROB = 0.3  # a pixel is text above this probability
BOX_SCORE = 0.6  # an area is a text line when its mean probability is at least this
UNCLIP = 1.5
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


class TextDetector:
    name = NAME

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime as ort

        from unseen.detect.centerface import default_threads
        from unseen.errors import UnseenError
        from unseen.models import TEXT_DETECTOR

        if not TEXT_DETECTOR.path.is_file():
            raise UnseenError(f"text model missing at {TEXT_DETECTOR.path}: reinstall unseen (pip install .)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or default_threads()  # a pool worker's share, as CenterFace
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(TEXT_DETECTOR.path), so, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def detect(self, rgb: np.ndarray) -> Detections:
        """Text lines in an upright HxWx3 uint8 RGB image, as boxes in its pixels."""
        h, w = rgb.shape[:2]
        scale = min(MIN_SIDE / min(h, w), MAX_SIDE / max(h, w))
        nh, nw = (max(32, round(v * scale / 32) * 32) for v in (h, w))
        x = (cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255 - _MEAN) / _STD
        prob = self.session.run(None, {self.input: x.transpose(2, 0, 1)[None]})[0][0, 0]
        n, labels, stats, _ = cv2.connectedComponentsWithStats((prob > PROB).astype(np.uint8), connectivity=8)
        boxes, scores = [], []
        sums = np.bincount(labels.ravel(), prob.ravel(), n)
        for i in range(1, n):
            x0, y0, bw, bh, area = (int(v) for v in stats[i])
            score = sums[i] / max(area, 1)
            if area < 6 or score < BOX_SCORE:
                continue
            d = area * UNCLIP / (2 * (bw + bh))
            sx, sy = w / nw, h / nh
            boxes.append(
                [
                    max(0.0, (x0 - d) * sx),
                    max(0.0, (y0 - d) * sy),
                    min(w, (x0 + bw + d) * sx),
                    min(h, (y0 + bh + d) * sy),
                ]
            )
            scores.append(score)
        if not boxes:
            return Detections.empty(NAME)
        return Detections(np.array(boxes, np.float32), np.array(scores, np.float32), NAME)


@lru_cache(maxsize=1)
def text_detector() -> TextDetector:
    """One model per process (a worker of the batch engine loads it once)."""
    return TextDetector()
