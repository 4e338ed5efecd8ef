"""No network, ever: unseen runs with networking blocked, finds faces (so the model came from the
installed package), and never even tries to open a socket.

Two independent checks: an audit hook (tests/hooks/sitecustomize.py) that refuses and logs every
socket operation in the CLI and in every worker process, and a run inside an empty network
namespace (`unshare -rn`) where no network exists at the OS level.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import data

HOOKS = Path(__file__).parent / "hooks"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HOOKS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _cli(args: list[str], env: dict[str, str], prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "unseen.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small real photos with faces (LFW crops are 112 px: quick to detect)."""
    top = tmp_path_factory.mktemp("net-in")
    lfw = data("lfw", "images")
    for name in ("Aaron_Sorkin", "Abbas_Kiarostami"):
        src = next(iter(sorted((lfw / name).iterdir())))
        shutil.copy(src, top / src.name)
    return top


def test_cli_never_opens_a_socket(photos: Path, tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    env = _env(UNSEEN_TEST_NO_NETWORK=str(log))
    # --workers 2: the process pool too (spawned workers load the same hook)
    run = _cli(["run", str(photos), "-o", str(tmp_path / "out"), "--workers", "2", "--json"], env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["done"] == 2 and result["failed"] == 0
    assert sum(f["regions"] for f in result["files"]) >= 2, "no face found: did the model load?"
    plan = tmp_path / "plan.json"
    scan = _cli(["scan", str(photos), "--plan", str(plan), "--json"], env)
    assert scan.returncode == 0, scan.stderr
    apply = _cli(["apply", str(plan), "-o", str(tmp_path / "out2"), "--json"], env)
    assert apply.returncode == 0, apply.stderr
    attempts = log.read_text() if log.exists() else ""
    assert attempts == "", f"unseen tried to use the network:\n{attempts}"


def test_hook_does_catch_a_connection(tmp_path: Path) -> None:
    """The check above can fail: the same hook does see a process that opens a socket."""
    log = tmp_path / "sockets.log"
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), 1)\nexcept OSError:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], env=_env(UNSEEN_TEST_NO_NETWORK=str(log)), timeout=60, check=True)
    assert "socket" in log.read_text()


def test_cli_works_without_any_network(photos: Path, tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -rn (user + network namespace) is not available here")
    run = _cli(["run", str(photos), "-o", str(tmp_path / "out"), "--workers", "1", "--json"], _env(), [unshare, "-rn"])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["done"] == 2
