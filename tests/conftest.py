"""Shared fixtures: the real data in ../shared/data, skipped with a reason when absent."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real test data not found at {p} (see ../shared/data/README.md)")
    return p


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


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Resume state (engines.manifest) in a folder of each test's own, never in ~/.local/state."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("UNSEEN_STATE_DIR", str(folder))
    return folder
