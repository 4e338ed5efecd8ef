"""The shipped examples (examples/, real people, redistributable): what a newcomer runs first, and
what a fresh clone with no ../shared/data still tests for real. A face is gone, the metadata is
gone, a video keeps every frame and its audio, and a bad file gets one clear line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

import unseen
from tests.conftest import EXAMPLES, need_tool
from unseen import cli
from unseen.audit import metadata
from unseen.detect.base import iou_matrix

PHOTO = EXAMPLES / "astronaut.jpg"
CLIP = EXAMPLES / "signing.mp4"
# What examples/SOURCES.md says was written into astronaut.jpg to be removed.
PLANTED = (b"SN-0042-EXAMPLE", b"ExampleCam", b"A. Photographer")


def test_the_examples_are_small_real_media_with_their_sources_named() -> None:
    files = sorted(p.name for p in EXAMPLES.iterdir())
    assert files == ["SOURCES.md", "astronaut.jpg", "photographer.jpg", "signing.mp4"]
    sources = (EXAMPLES / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in files if name != "SOURCES.md")
    assert sum(p.stat().st_size for p in EXAMPLES.iterdir()) < 400_000


def test_the_readme_example_anonymises_every_example_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(EXAMPLES), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"outputs in {out}" in captured.out
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "astronaut.jpg",
        "photographer.jpg",
        "signing.mp4",
    ]
    assert "SOURCES.md" in captured.err  # not media: named as left out, not copied


def test_the_face_is_gone_and_the_audit_says_so(tmp_path: Path, detector: object) -> None:
    from unseen.media import image

    out = unseen.anonymise(PHOTO, tmp_path / "astronaut.jpg")
    assert out.ok and out.regions >= 1
    before = detector.detect(image.read(PHOTO).rgb)  # type: ignore[attr-defined]
    after = detector.detect(image.read(Path(out.output or "")).rgb)  # type: ignore[attr-defined]
    face = before.boxes[before.scores.argmax()][None]
    assert before.scores.max() > 0.8  # the face is there to begin with
    left = after.scores[iou_matrix(face, after.boxes)[0] > 0.1] if len(after) else np.array([])
    assert not (left > 0.3).any(), f"face still detected in the output: {left}"
    report = unseen.audit(PHOTO, out.output or "")
    assert report.clear, report.summary()


def test_the_metadata_is_gone(tmp_path: Path) -> None:
    assert all(tag in PHOTO.read_bytes() for tag in PLANTED)  # the example carries them
    out = Path(unseen.anonymise(PHOTO, tmp_path / "astronaut.jpg").output or "")
    raw = out.read_bytes()
    assert not [tag for tag in PLANTED if tag in raw]
    assert metadata.scan(out) == []
    exiftool = need_tool("exiftool")
    tags = subprocess.run([exiftool, "-s", "-G1", str(out)], capture_output=True, text=True, check=True).stdout
    assert not [line for line in tags.splitlines() if line.split()[0] in ("[GPS]", "[IFD0]", "[ExifIFD]", "[XMP-dc]")]


def _with_audio(src: Path, dst: Path) -> None:
    """`src`'s video packets as they are, with two seconds of a 440 Hz AAC tone (the example clip
    is silent, as its source is)."""
    rate, seconds = 48000, 2.0
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("aac", rate=rate, layout="mono")
        for packet in inp.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
        for i in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            out.mux(aout.encode(frame))
        out.mux(aout.encode(None))


def _frames_and_audio(path: Path) -> tuple[int, list[bytes]]:
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        audio = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    return frames, audio


def test_the_example_clip_keeps_every_frame_and_its_audio_and_loses_the_face(tmp_path: Path, detector: object) -> None:
    src = tmp_path / "signing-with-sound.mp4"
    _with_audio(CLIP, src)
    frames, audio = _frames_and_audio(src)
    assert frames == 60 and audio
    out = Path(unseen.anonymise(src, tmp_path / "out.mp4").output or "")
    assert _frames_and_audio(out) == (frames, audio)  # audio copied packet for packet
    with av.open(str(src)) as a, av.open(str(out)) as b:
        pairs = list(zip(a.decode(video=0), b.decode(video=0), strict=True))
    for n, (fa, fb) in enumerate(pairs[::6]):  # every 6th frame: the signer's face, then the same place after
        before = detector.detect(fa.to_ndarray(format="rgb24"))  # type: ignore[attr-defined]
        after = detector.detect(fb.to_ndarray(format="rgb24"))  # type: ignore[attr-defined]
        assert before.scores.max() > 0.5, f"frame {n * 6}: no face in the original"
        face = before.boxes[before.scores.argmax()][None]
        left = after.scores[iou_matrix(face, after.boxes)[0] > 0.1] if len(after) else np.array([])
        assert not (left > 0.3).any(), f"frame {n * 6}: face still detected in the output ({left})"


def test_a_bad_file_gets_one_clear_error_line_and_the_rest_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PHOTO, folder / "astronaut.jpg")
    (folder / "broken.jpg").write_bytes(PHOTO.read_bytes()[:3000])  # cut off, as a failed download
    assert cli.main(["run", str(folder), "-o", str(tmp_path / "out")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0], errors
    assert (tmp_path / "out" / "astronaut.jpg").is_file() and not (tmp_path / "out" / "broken.jpg").exists()
