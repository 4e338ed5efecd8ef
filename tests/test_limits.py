"""unseen.limits: settings out of range are refused in one line before anything is done, and
the limits agree with each other (what run accepts a plan can hold; what scan writes apply
loads), checked from headers before anything is decoded."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import data
from unseen import cli, plan
from unseen.errors import LimitError, UnseenError
from unseen.limits import MAX_SIDE
from unseen.media import video as media
from unseen.options import Options


@pytest.fixture
def work(tmp_path: Path) -> dict[str, str]:
    """A real face photo in a folder, a folder for outputs (not made), and a valid plan file."""
    src = tmp_path / "in"
    src.mkdir()
    face = src / "face.jpg"
    shutil.copyfile(next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir()))), face)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"schema": plan.SCHEMA, "root": str(src), "files": []}))
    return {"face": str(face), "dir": str(src), "out": str(tmp_path / "out"), "plan": str(plan_file)}


def _tree(top: Path) -> list[str]:
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*"))


# Every option that could weaken protection or that bounds a resource, in every command: the
# value, and a word the one-line refusal must name.
BAD_SETTINGS = [
    (["run", "{face}", "--margin", "-1"], "--margin"),
    (["run", "{face}", "--margin", "nan"], "--margin"),
    (["run", "{face}", "--margin", "inf"], "--margin"),
    (["run", "{face}", "--margin", "5"], "--margin"),
    (["run", "{face}", "--margin", "wide"], "--margin"),
    (["run", "{face}", "--max-pixels", "0"], "--max-pixels"),
    (["run", "{face}", "--max-pixels", "-100"], "--max-pixels"),
    (["run", "{face}", "--max-pixels", "1e9"], "--max-pixels"),
    (["run", "{face}", "--max-frames", "0"], "--max-frames"),
    (["run", "{face}", "--max-frames", "1.5"], "--max-frames"),
    (["run", "{face}", "--crf", "-1"], "--crf"),
    (["run", "{face}", "--crf", "99"], "--crf"),
    (["run", "{face}", "--shape", "none"], "--shape"),
    (["run", "{face}", "--method", "none"], "--method"),
    (["run", "{face}", "--preset", "off"], "--preset"),
    (["run", "{dir}", "-o", "{out}", "--workers", "0"], "--workers"),
    (["run", "{dir}", "-o", "{out}", "--workers", "-2"], "--workers"),
    (["scan", "{face}", "--margin", "-0.5"], "--margin"),
    (["scan", "{face}", "--max-frames", "-1"], "--max-frames"),
    (["apply", "{plan}", "-o", "{out}", "--max-pixels", "0"], "--max-pixels"),
    (["apply", "{plan}", "-o", "{out}", "--crf", "52"], "--crf"),
    (["audit", "{face}", "{face}", "--every", "0"], "--every"),
    (["review", "{dir}", "--margin", "-1", "--no-browser"], "--margin"),
    (["review", "{dir}", "--max-pixels", "0", "--no-browser"], "--max-pixels"),
    (["review", "{dir}", "--port", "70000", "--no-browser"], "--port"),
]


@pytest.mark.parametrize("argv,option", BAD_SETTINGS, ids=[" ".join(a[0:1] + a[-2:]) for a, _ in BAD_SETTINGS])
def test_bad_setting_is_one_line_exit_2_and_nothing_is_written(
    argv: list[str], option: str, work: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`unseen run photo.jpg --margin -1` exited 0 and published the face untouched."""
    before = _tree(tmp_path)
    args = [a.format(**work) for a in argv]
    if argv[0] == "review":  # a review that starts serves until stopped: its own process, bounded
        proc = subprocess.run([sys.executable, "-m", "unseen.cli", *args], capture_output=True, text=True, timeout=60)
        code, err = proc.returncode, proc.stderr
    else:
        with pytest.raises(SystemExit) as stop:
            cli.main(args)
        code, err = stop.value.code, capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1 and option in err, err
    assert _tree(tmp_path) == before  # no output, no plan, no folder


@pytest.mark.parametrize(
    "settings",
    [{"margin": -1.0}, {"margin": float("nan")}, {"max_pixels": 0}, {"max_frames": 0}, {"crf": 60}]
    + [{"crf": 18.5}, {"shape": "none"}, {"method": "none"}, {"detector": "off"}, {"margin": True}]
    + [{"audio": "mute"}, {"audio": True}, {"text": "yes"}],
)
def test_api_options_refuse_the_same_settings(settings: dict[str, object]) -> None:
    """The review, a Ray actor and Python callers build Options without argparse: the same ranges."""
    with pytest.raises(UnseenError):
        Options(**settings)  # type: ignore[arg-type]


def test_a_side_longer_than_a_plan_holds_is_refused_by_run_scan_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 x 200,000 PNG is 0.2 megapixels, well under --max-pixels: run wrote it, then the
    manifest's plan refused its width, and every later run into that folder exited 2; scan wrote
    a plan apply refused. Now the reader refuses it from the header, in every command alike."""
    src = tmp_path / "in"
    src.mkdir()
    Image.new("L", (MAX_SIDE + 68_928, 1), 128).save(src / "line.png")
    shutil.copyfile(next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir()))), src / "face.jpg")
    out = tmp_path / "out"
    for _ in range(2):  # the rerun too: exit 1 (a file failed), never 2
        assert cli.main(["run", str(src), "-o", str(out), "--workers", "1"]) == cli.EXIT_FAILED
        err = capsys.readouterr().err
        assert "line.png" in err and "pixels on a side" in err
    assert _tree(out) == ["face.jpg"]
    plan_file = tmp_path / "plan.json"
    assert cli.main(["scan", str(src), "--plan", str(plan_file)]) == cli.EXIT_FAILED
    assert [m.path for m in plan.load(plan_file).files] == ["face.jpg"]
    assert cli.main(["apply", str(plan_file), "-o", str(tmp_path / "applied")]) == cli.EXIT_OK


def test_a_frame_rate_no_plan_holds_does_not_make_a_plan_apply_refuses(tmp_path: Path) -> None:
    """A clip whose header says 100,000 frames per second: scan wrote that rate into the plan
    and apply refused the plan (fps over 10,000). The rate is information only: left out."""
    src = tmp_path / "in" / "fast.mp4"
    src.parent.mkdir()
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(100_000))
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for i in range(5):
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, np.uint8), format="rgb24")))
        out.mux(s.encode(None))
    plan_file = tmp_path / "plan.json"
    assert cli.main(["scan", str(src), "--plan", str(plan_file)]) == cli.EXIT_OK
    assert plan.load(plan_file).files[0].fps is None
    assert cli.main(["apply", str(plan_file), "-o", str(tmp_path / "out")]) == cli.EXIT_OK
    assert (tmp_path / "out" / "fast.mp4").stat().st_size > 0


def test_what_a_plan_cannot_hold_is_refused_when_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same mechanism for the region count (5,000,000 in a plan: a long crowded video can
    find more): every plan entry is validated as `apply` will load it, when it is made, so the
    file fails alone, with its reason, and the plan written loads. (The limit is lowered here:
    five million real regions take too long to find in a test.)"""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir()))), src / "face.jpg")
    monkeypatch.setattr(plan, "MAX_REGIONS_PER_FILE", 0)
    plan_file = tmp_path / "plan.json"
    assert cli.main(["scan", str(src), "--plan", str(plan_file)]) == cli.EXIT_FAILED
    assert plan.load(plan_file).files == []
    assert cli.main(["run", str(src), "-o", str(tmp_path / "out"), "--workers", "1"]) == cli.EXIT_FAILED
    assert not (tmp_path / "out" / "face.jpg").exists()


def _animated_webp(path: Path, frames: int, canvas: tuple[int, int] | None = None) -> Path:
    """A real animated WebP of `frames` 16x16 frames; `canvas` rewrites the VP8X header's canvas
    size (the frames still fit in it, so libwebp reads it: each frame is composed on the canvas)."""
    pics = [Image.new("RGB", (16, 16), (60 * i % 256, 90, 120)) for i in range(frames)]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=40, lossless=True)
    if canvas is not None:
        raw = bytearray(path.read_bytes())
        at = raw.index(b"VP8X") + 8 + 4  # chunk header, then 4 bytes of flags
        raw[at : at + 6] = struct.pack("<I", canvas[0] - 1)[:3] + struct.pack("<I", canvas[1] - 1)[:3]
        path.write_bytes(bytes(raw))
    return path


def test_animated_webp_frame_count_checked_from_its_header(tmp_path: Path) -> None:
    path = _animated_webp(tmp_path / "anim.webp", 5)
    with pytest.raises(LimitError, match="5 frames is over the limit of 3"):
        media.open_video(path, max_frames=3)
    container = media.open_video(path, max_frames=5)  # at the limit: read
    container.close()


def test_animated_webp_canvas_over_max_pixels_refused_before_decoding(tmp_path: Path) -> None:
    """3 frames on an 11,000 x 11,000 canvas: composed before the limits were looked at (47 s and
    5.6 GB for 11,000 x 11,000), now refused from the header: little memory, little time."""
    (tmp_path / "in").mkdir()
    path = _animated_webp(tmp_path / "in" / "bomb.webp", 3, canvas=(11_000, 11_000))
    scan = [sys.executable, "-m", "unseen.cli", "scan", str(path), "--plan", str(tmp_path / "plan.json")]
    # A fresh parent whose one child is the scan: its children's peak memory is the scan's alone.
    measure = (
        "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", measure, *scan], capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - t0
    peak_mib = int(proc.stdout.split()[-1]) / 1024
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    assert "11000x11000 frames are 121 megapixels, over the limit of 100" in proc.stderr
    assert peak_mib < 900, f"{peak_mib:.0f} MiB: the canvas was composed"  # one frame alone is 1 GiB
    assert seconds < 60


@pytest.mark.parametrize("pillow_limit", [100, 10_000], ids=["over-twice-pillows-limit", "over-pillows-limit"])
def test_pillows_own_bomb_limit_does_not_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder, pillow_limit: int
) -> None:
    """Pillow's bomb check (89 MP warns over two lines, 179 MP fails) ran where unseen only reads
    a header: a 200 MP photo without a suffix was "left out, neither photo nor video" (exit 0),
    even with --max-pixels raised, and each look at a 95 MP photo printed Pillow's warning. Only
    --max-pixels decides. (Pillow's limit is lowered so that a small real photo crosses it.)"""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)  # the 112 x 112 face is 12,544
    src = tmp_path / "in"
    src.mkdir()
    face = next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir())))
    shutil.copyfile(face, src / "IMG_0001")  # no suffix: known by its content
    shutil.copyfile(face, src / "face.jpg")
    out = tmp_path / "out"
    assert cli.main(["run", str(src), "-o", str(out), "--workers", "1"]) == cli.EXIT_OK
    assert _tree(out) == ["IMG_0001.jpg", "face.jpg"]
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_more_files_than_a_plan_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive of more files than a plan holds (1,000,000; lowered to 1 here): `scan` wrote a
    plan `apply` refused, after all the work, and `run -o` ended in exit 2 (its summary was built
    as a plan). Now scan refuses up front, run -o finishes, and only --plan is refused, in a line."""
    src = tmp_path / "in"
    src.mkdir()
    face = next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir())))
    for name in ("a.jpg", "b.jpg"):
        shutil.copyfile(face, src / name)
    monkeypatch.setattr(plan, "MAX_FILES", 1)
    plan_file = tmp_path / "plan.json"
    assert cli.main(["scan", str(src), "--plan", str(plan_file)]) == cli.EXIT_USAGE
    assert "more than a plan holds" in capsys.readouterr().err and not plan_file.exists()
    out = tmp_path / "out"
    assert cli.main(["run", str(src), "-o", str(out), "--workers", "1"]) == cli.EXIT_OK
    assert cli.main(["run", str(src), "-o", str(out), "--workers", "1", "--plan", str(plan_file)]) == cli.EXIT_FAILED
    assert "more than a plan holds" in capsys.readouterr().err and not plan_file.exists()
    assert _tree(out) == ["a.jpg", "b.jpg"]
