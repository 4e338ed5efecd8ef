"""Make docs/gallery.jpg: the default output of a few real photos, downscaled, for the README.

  python scripts/gallery.py      # needs ../shared/data; runs `unseen run` on each photo

Group photos from dlib's examples (PASCAL VOC) and COCO photos with nobody in them (where the
unverified detector used to paint patches), each as `unseen run PHOTO -o OUT` writes it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import DATA, need  # noqa: E402
from unseen.cli import main  # noqa: E402

PHOTOS = [
    ("dlib_faces", "2008_007676.jpg"),
    ("dlib_faces", "2008_002506.jpg"),
    ("dlib_faces", "2008_002470.jpg"),
    ("dlib_faces", "2008_004176.jpg"),
    ("coco/nofaces", "000000007108.jpg"),
    ("coco/nofaces", "000000000307.jpg"),
]
TILE = 400  # px wide
OUT = Path(__file__).resolve().parents[1] / "docs" / "gallery.jpg"


def main_() -> None:
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder, name in PHOTOS:
            src = need(DATA / folder / name)
            if main(["run", str(src), "-o", tmp]) != 0:
                sys.exit(f"unseen run failed on {src}")
            with Image.open(Path(tmp) / name) as im:
                tiles.append(im.convert("RGB").resize((TILE, round(TILE * im.height / im.width)), Image.LANCZOS))
    rows = [tiles[i : i + 3] for i in range(0, len(tiles), 3)]
    heights = [max(t.height for t in row) for row in rows]
    sheet = Image.new("RGB", (3 * TILE + 8, sum(heights) + 4 * (len(rows) - 1)), "white")
    y = 0
    for row, height in zip(rows, heights, strict=True):
        for k, t in enumerate(row):
            sheet.paste(t, (k * (TILE + 4), y))
        y += height + 4
    sheet.save(OUT, quality=82, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main_()
