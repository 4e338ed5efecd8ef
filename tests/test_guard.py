"""unseen.guard: one policy for a file that fails, used by every loop over files. The review
server's scan and export caught only unseen's own errors, so one odd file stopped them; a
recogniser that failed to load turned the audit into a traceback no exit code covered."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import data
from unseen import cli
from unseen.errors import MediaError
from unseen.guard import Failed, describe, guarded
from unseen.review.server import Review


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two real face photos (LFW, 112 px)."""
    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir())[:1] * 2):
        shutil.copyfile(f, src / f"{'ab'[i]}.jpg")
    return src


def _until(done, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_guarded_turns_any_error_into_one_line_and_lets_interrupts_through() -> None:
    def fail(e: BaseException):
        def work() -> None:
            raise e

        return work

    assert guarded("x.jpg", lambda: 7) == 7
    cases = {
        MediaError("/in/x.jpg: corrupt"): "/in/x.jpg: corrupt",
        OSError(28, "No space left on device", "/out/x.jpg"): "x.jpg: cannot read or write /out/x.jpg (No space left",
        MemoryError(): "x.jpg: out of memory",
        ValueError("bad\nshape"): "x.jpg: unexpected ValueError: bad shape (no output written; please report this bug)",
    }
    for error, words in cases.items():
        failed = guarded("x.jpg", fail(error))
        assert isinstance(failed, Failed) and words in failed.error and "\n" not in failed.error, failed
    for stop in (KeyboardInterrupt(), SystemExit(130)):
        with pytest.raises(type(stop)):
            guarded("x.jpg", fail(stop))
    assert "\n" not in describe("new\nline.jpg", MediaError("/in/new\nline.jpg: corrupt"))


def test_review_scan_goes_on_after_an_error_that_is_not_unseens(folder: Path, tmp_path: Path, flaky) -> None:
    review = Review(
        folder, plan_path=tmp_path / "plan.json", output=tmp_path / "out", detector_factory=lambda _: flaky()
    )
    review.scan_pending()
    assert review.scan_job.state == "done"
    assert list(review.scan_failed) == ["a.jpg"] and "unexpected ValueError" in review.scan_failed["a.jpg"]
    assert [m.path for m in review.plan.files] == ["b.jpg"]


def test_review_export_goes_on_after_an_os_error_on_one_file(folder: Path, tmp_path: Path, detector) -> None:
    out = tmp_path / "out"
    (out / "a.jpg").mkdir(parents=True)  # a folder where a.jpg's output should go
    review = Review(folder, plan_path=tmp_path / "plan.json", output=out, detector_factory=lambda _: detector)
    review.scan_pending()
    assert review.export()
    _until(lambda: review.export_job.state != "running")
    job = review.export_job
    assert [f["path"] for f in job.failed] == ["a.jpg"], job.message
    assert "cannot write (Is a directory)" in job.failed[0]["error"]
    assert (out / "b.jpg").stat().st_size > 0 and review.status["b.jpg"]["exported"]


def test_audit_whose_recogniser_cannot_load_says_so_per_file_and_never_clear(folder: Path, tmp_path: Path) -> None:
    """A recognition model that does not load (here: a models package without its files, so
    dlib raises RuntimeError): every file is `not audited`, exit 1 for `audit` and 3 for
    `run --audit` (unverified is not clear), and no traceback."""
    fake = tmp_path / "fake" / "face_recognition_models"
    (fake / "models").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    out = tmp_path / "out"
    env_path = f"{tmp_path / 'fake'}:{':'.join(sys.path)}"
    base = [sys.executable, "-m", "unseen.cli"]
    env = {**os.environ, "PYTHONPATH": env_path}
    run = subprocess.run(
        [*base, "run", str(folder), "-o", str(out), "--audit"], capture_output=True, text=True, env=env
    )
    assert run.returncode == cli.EXIT_RISK, run.stderr
    assert "Traceback" not in run.stderr and (out / "a.jpg").exists()
    audit = subprocess.run([*base, "audit", str(folder), str(out)], capture_output=True, text=True, env=env)
    assert audit.returncode == cli.EXIT_FAILED, audit.stderr
    assert "Traceback" not in audit.stderr
    assert audit.stdout.count("not audited") == 2, audit.stdout
