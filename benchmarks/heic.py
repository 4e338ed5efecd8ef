"""HEIC/HEIF/AVIF outputs: encoding time, size against the input's, and fidelity (PSNR against the
decoded input), for unseen's encoder settings and for the old ones (quality 90 at the encoder's
default speed), on the phone photos in ../shared/data/dirty/heif.

Only the encode is timed (decoding and detection are the same either way); no region is painted,
so the sizes are those of the photo itself.
Usage: python benchmarks/heic.py [--quick]   (--quick: unseen's settings only; the old ones take
30-70 s a 12-megapixel photo on 2 cores)
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from PIL import Image

from _common import DATA, need
from unseen.media import image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def before(rgb: np.ndarray, fmt: str) -> bytes:
    """The old settings: quality 90 at the encoder's default speed."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format=fmt, quality=90)
    return buf.getvalue()


def measure(encode: Callable[[], bytes]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    data = encode()
    return time.perf_counter() - t0, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="unseen's settings only")
    args = ap.parse_args()
    folder = need(DATA / "dirty" / "heif")
    print(f"{'file':32} {'size':>11} {'MP':>5} {'in bpp':>6}  {'settings':9} {'s':>6} {'x input':>8} {'PSNR':>5}")
    totals: dict[str, list[float]] = {}
    for path in sorted(folder.iterdir()):
        pic = image.read(path)
        size = path.stat().st_size
        mp = pic.width * pic.height / 1e6
        runs: dict[str, Callable[[], bytes]] = {
            "unseen": partial(image.encode, pic.rgb, pic.alpha, pic.format, pic.bits_per_pixel)
        }
        if not args.quick:
            runs["q90"] = partial(before, pic.rgb, pic.format)
        for name, run in runs.items():
            seconds, data = measure(run)
            ratio = len(data) / size
            quality = psnr(pic.rgb, image.decode(data, "", "output").rgb)
            totals.setdefault(name, []).append(ratio)
            head = f"{path.name:32} {size:>11,} {mp:>5.1f} {pic.bits_per_pixel or 0:>6.2f}"
            print(f"{head}  {name:9} {seconds:>6.1f} {ratio:>8.2f} {quality:>5.1f}")
    for name, ratios in totals.items():
        print(f"{name}: output/input size, median {np.median(ratios):.2f}, max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
