"""Measure src/unseen/detect/centerface-int8-ranges.json: the activation ranges of the int8 CenterFace.

Why: video detection is most of `unseen run`'s time on a video, and on CPUs with int8 dot-product
instructions (AVX-VNNI, AVX512-VNNI, ARM dot-product) the int8 model runs the same frames about
1.6x faster. unseen builds that model from its shipped CenterFace when first needed
(unseen.detect.centerface.quantize); what it cannot compute on a user's machine is the range of
each activation, which needs photos. This script measures them: min/max over 24 WIDER FACE val
photos scaled to 1280 px on the long side (the size of a 1080p video's detection image), every
3rd photo starting at the third, disjoint from both samples the benchmarks and the tuning used
(names[::3] and names[1::3]). The JSON is onnxruntime's calibration cache (23 KB of numbers, no
weights). With onnxruntime 1.32.0 and onnx 1.23.2 the model built from it is byte-identical to
the one quantised directly from the photos.

Usage: python scripts/quantize_centerface.py [--data ../shared/data/widerface] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

# isort: split
import unseen  # noqa: F401 - before onnxruntime: importing unseen turns its telemetry off

# isort: split
import numpy as np
from onnxruntime.quantization import CalibrationDataReader
from PIL import Image

from unseen.detect.centerface import INT8_RANGES, quantize

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_IMAGES = 24


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
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "unseen" / "detect" / INT8_RANGES)
    args = ap.parse_args()
    names = sorted((args.data / "images").rglob("*.jpg"))
    pool = names[2::3]
    photos = pool[:: max(1, len(pool) // CALIBRATION_IMAGES)][:CALIBRATION_IMAGES]
    args.out.unlink(missing_ok=True)  # an existing file would be read, not measured again
    quantize(args.out, Photos(photos))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} KB; {len(photos)} calibration photos)")


if __name__ == "__main__":
    main()
