"""No network, ever: unseen runs with networking blocked, finds faces (so the model came from the
installed package), and never even tries to open a socket.

Three independent checks: an audit hook (tests/hooks/sitecustomize.py) that refuses and logs every
socket operation in the CLI and in every worker process; a run inside an empty network namespace
(`unshare -rn`) where no network exists at the OS level; and strace, which sees the system calls
of native code too (onnxruntime's telemetry uploader is C++: the audit hook never saw its DNS
look-ups, and in the empty namespace they fail without a trace).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import data, need_tool

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


# How long each command's process is kept alive after it has finished: onnxruntime's telemetry
# uploader looked its host up 8 s after the model loaded, and a process that exits first hides it.
LINGER_S = 20
LINGER = (
    "import runpy, sys, time\n"
    "sys.argv = ['unseen', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('unseen.cli', run_name='__main__')\n"
    "finally:\n"
    f"    time.sleep({LINGER_S})\n"
)


def _traced(args: list[str], log: Path, home: Path) -> subprocess.CompletedProcess:
    """The CLI under strace, every thread and child process, kept alive LINGER_S after it ends,
    with `home` as its home folder."""
    strace = need_tool("strace")
    if subprocess.run([strace, "-f", "-o", os.devnull, "true"], capture_output=True).returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    trace = [strace, "-f", "-qq", "-e", "trace=socket,connect", "-e", "signal=none", "-o", str(log)]
    return subprocess.run(
        [*trace, sys.executable, "-c", LINGER, *args],
        env={k: v for k, v in _env(HOME=str(home)).items() if k != "XDG_CACHE_HOME"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_no_socket_is_opened_even_by_native_code(photos: Path, tmp_path: Path) -> None:
    """`run` and `audit` load onnxruntime and dlib; no socket of any family (not even AF_UNIX to
    nscd, which a host-name look-up tries first) is opened by any of their threads or children,
    and onnxruntime leaves no device identifier or event cache in the home folder."""
    photo = next(iter(sorted(photos.iterdir())))
    out, home = tmp_path / "out", tmp_path / "home"
    home.mkdir()
    run = _traced(["run", str(photo), "-o", str(out), "--json"], tmp_path / "run.strace", home)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["files"][0]["regions"] >= 1, "no face found: did the model load?"
    audit = _traced(["audit", str(photo), str(out / photo.name)], tmp_path / "audit.strace", home)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    for name in ("run.strace", "audit.strace"):
        calls = (tmp_path / name).read_text().strip()
        assert calls == "", f"unseen {name.split('.')[0]} used the network:\n{calls}"
    assert not (home / ".cache" / "Microsoft").exists(), "onnxruntime kept a device identifier"


def test_review_opens_its_loopback_listener_and_no_other_socket(photos: Path, tmp_path: Path) -> None:
    """`unseen review` looked the name of 127.0.0.1 up when it started (http.server's getfqdn):
    a connection to nscd, and a DNS query where /etc/hosts does not name 127.0.0.1. Its one
    socket is the listener; the page is fetched once and the model given LINGER_S to phone home."""
    strace = need_tool("strace")
    if subprocess.run([strace, "-f", "-o", os.devnull, "true"], capture_output=True).returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    top = tmp_path / "photos"
    shutil.copytree(photos, top)
    log = tmp_path / "review.strace"
    trace = [strace, "-f", "-qq", "-e", "trace=socket,connect", "-e", "signal=none", "-o", str(log)]
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.Popen(
        [*trace, sys.executable, "-m", "unseen.cli", "review", str(top), "--no-browser"],
        env={k: v for k, v in _env(HOME=str(home)).items() if k != "XDG_CACHE_HOME"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Ctrl-C as a terminal gives it: a suite started in the background by a shell without job
        # control inherits SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        url = next(line.split()[-1] for line in proc.stdout if line.startswith("open: "))
        with urllib.request.urlopen(url, timeout=30) as page:  # the test's own socket, not traced
            assert page.status == 200
        time.sleep(LINGER_S)
    finally:  # Ctrl-C to unseen itself: strace keeps SIGINT from the command it runs
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGINT)
        proc.wait(timeout=60)
    calls = log.read_text().strip().splitlines()
    assert len(calls) == 1 and "socket(AF_INET, SOCK_STREAM" in calls[0], "\n".join(calls)


def test_onnxruntime_imported_first_is_refused() -> None:
    """A program that imported onnxruntime before unseen has its telemetry uploader running
    (onnxruntime reads the switch once, at import): unseen then refuses to load a model."""
    code = "import onnxruntime\nfrom unseen.detect.centerface import CenterFace\nCenterFace()\n"
    env = {k: v for k, v in _env().items() if k != "ORT_DISABLE_TELEMETRY"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "ORT_DISABLE_TELEMETRY=1" in r.stderr, r.stderr
    env["ORT_DISABLE_TELEMETRY"] = "1"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_cli_works_without_any_network(photos: Path, tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -rn (user + network namespace) is not available here")
    run = _cli(["run", str(photos), "-o", str(tmp_path / "out"), "--workers", "1", "--json"], _env(), [unshare, "-rn"])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["done"] == 2
