"""Fuzz the two readers that take untrusted bytes: the photo decoder and the plan loader.

Property: whatever the input, the reader returns a well-formed value or raises the typed error a
user sees as one line (MediaError / PlanError); never another exception, never a hang, never a
plan that could write outside its output folder.

CI runs a short, derandomised pass (same examples every run, no flakiness). By hand:
    UNSEEN_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py -s
runs longer with fresh random examples and prints how many executions ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import DATA
from unseen import plan as plan_mod
from unseen.errors import MediaError, PlanError
from unseen.inputs import target
from unseen.media import image
from unseen.obscure import METHODS

CI_EXAMPLES = 250
EXAMPLES = int(os.environ.get("UNSEEN_FUZZ_EXAMPLES", CI_EXAMPLES))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= CI_EXAMPLES,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_PIXELS = 1_000_000  # keeps each execution small; the limit path itself is fuzzed too
STATS: Counter[str] = Counter()


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _seeds() -> list[tuple[str, bytes]]:
    """Small valid files of every format the reader accepts, plus small real dirty files."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    seeds = [
        (".jpg", _save(rgb, "JPEG", quality=80)),
        (".jpg", _save(rgb, "JPEG", exif=exif.tobytes())),
        (".jpg", _save(rgb.convert("CMYK"), "JPEG")),
        (".png", _save(rgb, "PNG")),
        (".png", _save(rgb.convert("RGBA"), "PNG")),
        (".png", _save(rgb.convert("P"), "PNG", transparency=0)),
        (".png", _save(Image.fromarray(np.full((8, 8), 40000, np.uint16)), "PNG")),
        (".gif", _save(rgb.convert("P"), "GIF")),
        (".webp", _save(rgb, "WEBP")),
        (".tif", _save(rgb, "TIFF", compression="tiff_lzw")),
        (".bmp", _save(rgb, "BMP")),
    ]
    if image.HEIF:
        seeds.append((".heic", _save(rgb, "HEIF", quality=50)))
    dirty = DATA / "dirty"
    if dirty.is_dir():
        for p in sorted(dirty.rglob("*")):
            if p.suffix.lower() in image.IMAGE_SUFFIXES and p.is_file() and 0 < p.stat().st_size < 16_000:
                seeds.append((p.suffix.lower(), p.read_bytes()))
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with a few byte-level edits: flips, overwrites, cuts, inserts, header swaps."""
    suffix, data = draw(st.sampled_from(SEEDS))
    if draw(st.integers(0, 7)) == 0:
        suffix = draw(st.sampled_from(sorted(image.IMAGE_SUFFIXES)))  # lying extension
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "dup", "header"]))
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xFE, 0x01]))
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "dup":
            j = draw(st.integers(i, min(len(buf), i + 64)))
            buf[i:i] = buf[i:j]
        else:  # overwrite bytes inside the first 64, where sizes and counts live
            k = draw(st.integers(0, min(63, len(buf) - 1)))
            buf[k : k + 4] = draw(st.binary(min_size=4, max_size=4))
    return suffix, bytes(buf)


def _check_picture(pic: image.Picture) -> None:
    assert pic.rgb.dtype == np.uint8 and pic.rgb.ndim == 3 and pic.rgb.shape[2] == 3
    assert 0 < pic.width * pic.height <= MAX_PIXELS
    if pic.alpha is not None:
        assert pic.alpha.shape == pic.rgb.shape[:2]


@FUZZ
@given(mutated())
def test_fuzz_image_decode_fails_only_with_media_error(case: tuple[str, bytes]) -> None:
    suffix, data = case
    STATS["image"] += 1
    try:
        pic = image.decode(data, suffix, "fuzz" + suffix, max_pixels=MAX_PIXELS)
    except MediaError as e:
        STATS["image: refused"] += 1
        assert "\n" not in str(e) and str(e).startswith("fuzz")
        return
    STATS["image: decoded"] += 1
    _check_picture(pic)


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from(sorted(image.IMAGE_SUFFIXES)))
def test_fuzz_image_decode_random_bytes(data: bytes, suffix: str) -> None:
    STATS["image"] += 1
    with contextlib.suppress(MediaError):
        _check_picture(image.decode(data, suffix, "fuzz", max_pixels=MAX_PIXELS))


# ---- plans -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**1024, max_value=2**1100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
ODD_PATHS = st.sampled_from(
    ["a.jpg", "../x.jpg", "/etc/passwd", "a/../../b.jpg", "~/x", "C:\\x", "c:x", ".", "./", "", "a\x00b", "-x.jpg"]
)


def _anything(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, sometimes any JSON value at all."""
    return st.one_of(valid, valid, valid, JSON)


@st.composite
def plan_dicts(draw: st.DrawFn) -> dict:
    """Plans close to valid, with fields swapped for wrong types, extreme numbers or odd paths."""
    w, h = draw(_anything(st.integers(1, 4000))), draw(_anything(st.integers(1, 4000)))
    num = st.one_of(st.floats(-1e6, 1e6), st.integers(-(10**6), 10**6), st.integers(2**1024, 2**1100))
    region = st.fixed_dictionaries(
        {"box": _anything(st.lists(num, min_size=4, max_size=4))},
        optional={
            "shape": _anything(st.sampled_from(["box", "ellipse"])),
            "score": _anything(num),
            "frame": _anything(st.integers(-2, 10)),
            "track": _anything(st.integers(-2, 2**63)),
            "raw_box": _anything(st.lists(num, min_size=4, max_size=4)),
            "detector": JSON,
        },
    )
    media = st.fixed_dictionaries(
        {
            "kind": _anything(st.sampled_from(["image", "video"])),
            "width": st.just(w),
            "height": st.just(h),
            "sha256": _anything(st.just("0" * 64)),
            "path": _anything(ODD_PATHS),
            "regions": _anything(st.lists(region, min_size=1, max_size=4)),
        },
        optional={
            "output": _anything(ODD_PATHS),
            "frames": _anything(st.integers(-1, 20)),
            "fps": _anything(num),
            "whole_frames": _anything(st.lists(st.lists(st.integers(-2, 30), min_size=2, max_size=2), max_size=3)),
        },
    )
    return {
        "schema": draw(_anything(st.just(plan_mod.SCHEMA))),
        "root": draw(_anything(st.just("/data"))),
        "settings": draw(_anything(st.fixed_dictionaries({"method": st.sampled_from((*METHODS, "x"))}))),
        "files": draw(_anything(st.lists(media, max_size=3))),
    }


def _check_plan(p: plan_mod.Plan, out_dir: Path) -> None:
    """A plan that loads must be safe to render: boxes inside the image, outputs inside out_dir."""
    for m in p.files:
        for r in m.regions:
            x1, y1, x2, y2 = r.box
            assert 0 <= x1 < x2 <= m.width and 0 <= y1 < y2 <= m.height
            if m.frames is not None:
                assert r.frame is not None and 0 <= r.frame < m.frames
        dest = target(out_dir, m, Path("/data"))
        assert dest.is_relative_to(out_dir) and dest != out_dir


@FUZZ
@given(st.one_of(plan_dicts(), JSON))
def test_fuzz_plan_from_json_fails_only_with_plan_error(raw: object) -> None:
    STATS["plan"] += 1
    try:
        p = plan_mod.from_json(raw, source="fuzz")
    except PlanError as e:
        STATS["plan: refused"] += 1
        assert str(e).startswith("fuzz") and "\n" not in str(e)
        return
    STATS["plan: accepted"] += 1
    _check_plan(p, Path("/out/dir"))


@FUZZ
@given(st.one_of(st.binary(max_size=512), plan_dicts().map(lambda d: json.dumps(d).encode())))
def test_fuzz_plan_load_fails_only_with_plan_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    STATS["plan"] += 1
    path = tmp_path_factory.getbasetemp() / "fuzz-plan.json"
    path.write_bytes(data)
    with contextlib.suppress(PlanError):
        _check_plan(plan_mod.load(path), Path("/out/dir"))


@pytest.fixture(scope="module", autouse=True)
def _print_stats():
    """Print what ran (see with -s); docs/threat-model.md quotes these numbers."""
    yield
    print(f"\nfuzz executions ({EXAMPLES} examples per target): {dict(sorted(STATS.items()))}")
