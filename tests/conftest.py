"""Shared fixtures: the real data in ../shared/data, skipped with a reason when absent; and the
closing lines of every run, which say how many tests ran and how many real-data tests skipped."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NO_DATA = "real test data not found at"  # how a skip for missing ../shared/data begins


def data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{NO_DATA} {p} (see ../shared/data/README.md)")
    return p


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """After pytest's own summary (the outermost wrapper writes last), say plainly how many tests
    ran and how many were skipped because ../shared/data is absent, so a run that skipped most of
    the suite never reads as a full pass."""
    result = yield
    stats = terminalreporter.stats
    ran = sum(len(stats.get(k, [])) for k in ("passed", "failed", "error", "xfailed", "xpassed"))
    skipped = [r for r in stats.get("skipped", []) if getattr(r, "when", "call") != "teardown"]
    no_data = sum(1 for r in skipped if NO_DATA in _reason(r))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    write = terminalreporter.write_line
    terminalreporter.write_sep("-", "unseen test summary")
    write(f"{ran} tests ran ({failed} failed), {len(skipped)} skipped")
    if no_data:
        write(
            f"{no_data} real-data tests SKIPPED: {DATA} not found (real photos, videos and benchmark "
            "sets; see README, Set up). What they check was not tested here; CI runs them all.",
            yellow=True,
            bold=True,
        )
    elif DATA.is_dir():
        write(f"real data found at {DATA}: no test skipped for want of it")
    return result


def _reason(report: Any) -> str:
    """A skip's reason: pytest keeps it as (file, line, 'Skipped: reason') in longrepr."""
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def detail(patch: np.ndarray) -> float:
    """Mean absolute difference between a patch and its 5x5 local mean: edges and texture."""
    import cv2

    grey = patch.astype(np.float32).mean(axis=2)
    return float(np.abs(grey - cv2.blur(grey, (5, 5), borderType=cv2.BORDER_REFLECT))[2:-2, 2:-2].mean())


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (scripts/test.sh installs it)")
    return path


@contextmanager
def serving(review: Any) -> Iterator[Any]:
    """A ReviewServer for `review` answering in a daemon thread, shut down and closed after."""
    from unseen.review.server import ReviewServer

    server = ReviewServer(review)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def detector():
    from unseen.detect.presets import make_detector

    return make_detector("default")


@pytest.fixture
def flaky(detector: Any) -> Callable[[], Any]:
    """Makes detectors that fail on their first photo as onnxruntime does on a bad input, then
    detect as `detector` does: one file's crash must not end a batch (unseen.guard)."""

    class Flaky:
        name = "flaky"

        def __init__(self) -> None:
            self.calls = 0

        def detect(self, rgb: np.ndarray) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise ValueError("onnxruntime: bad input")
            return detector.detect(rgb)

    return Flaky


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Resume state (engines.manifest) in a folder of each test's own, never in ~/.local/state."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("UNSEEN_STATE_DIR", str(folder))
    return folder
