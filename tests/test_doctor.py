"""`unseen --version` and `unseen doctor`: a newcomer learns in one screen whether everything unseen
needs is here, offline, and what is missing when it is not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from unseen import __version__, cli, doctor
from unseen.models import CENTERFACE, Shipped


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"unseen {__version__}"


def test_doctor_says_all_is_well_on_one_screen(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 25 and lines[-1] == "all is well: unseen can run here, offline"
    for words in ("centerface.onnx", "sha256 ok", "libx264", "aac", "onnxruntime", "FFmpeg", "pillow-heif", "dlib"):
        assert words in out, words
    assert "network" in out and "not needed" in out


def test_doctor_json_lists_models_runtimes_codecs_and_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UNSEEN_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["problems"] == [] and report["network_needed"] is False
    assert report["cache"] == str(tmp_path / "cache")
    assert {c["group"] for c in report["checks"]} == {"models", "runtimes", "codecs", "cache", "network"}
    assert CENTERFACE.sha256 == hashlib.sha256(CENTERFACE.path.read_bytes()).hexdigest()


def test_doctor_names_a_damaged_model_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model file that was truncated (a bad copy, a full disk) is caught before it misses faces."""
    damaged = Shipped("CenterFace", "centerface.onnx", CENTERFACE.licence, "0" * 64, CENTERFACE.use)
    monkeypatch.setattr("unseen.models.CENTERFACE", damaged)
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "MISS CenterFace face detector" in out and "checksum differs" in out
    assert "1 problem(s): CenterFace face detector" in out


def test_doctor_names_a_missing_codec(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    probes = [p if p[1] != "H.264 encoder" else (*p[:2], doctor._codec("libx265-nonexistent", "w", "x"), True)
              for p in doctor.PROBES]  # fmt: skip
    monkeypatch.setattr(doctor, "PROBES", probes)
    assert cli.main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["problems"] == [
        "H.264 encoder: libx265-nonexistent not in this PyAV's FFmpeg: x (install the PyAV wheel from PyPI)"
    ]
