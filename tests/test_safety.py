"""Fail closed and inputs are sacred.

- An error, a full disk, Ctrl-C or SIGTERM while a file is written leaves no output under the
  final name, no `.part` leftovers, and a previous complete output untouched.
- No run writes, renames or deletes an input, whatever its name (spaces, unicode, leading dash,
  newline); an output that would land on an input is refused; symlinks out of the tree are not
  followed unless asked; deeply nested folders do not crash the batch.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import data
from unseen import cli, pipeline
from unseen.errors import OutputError
from unseen.inputs import discover
from unseen.options import Options
from unseen.output import atomic_output
from unseen.plan import Plan

HOOKS = Path(__file__).parent / "hooks"
ODD_NAMES = ["with space.jpg", "ünïcödé 写真.jpg", "-leading-dash.jpg", "new\nline.jpg", "a b/deep é/x.jpg"]


@pytest.fixture(scope="module")
def face() -> Path:
    """A small real face photo (LFW, 112 px): detection takes milliseconds."""
    return next(iter(sorted(data("lfw", "images", "Aaron_Sorkin").iterdir())))


def _tree(top: Path, face: Path, names: list[str]) -> Path:
    for name in names:
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(face, top / name)
    (top / "notes.txt").write_text("not media")
    return top


def _snapshot(top: Path) -> dict[str, tuple]:
    """Everything a run could change about an input: bytes, size, mtime, mode, inode, link."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_dir() and not p.is_symlink():  # a folder's mtime changes when outputs are added
                snap[p.relative_to(top).as_posix()] = ("dir", st.st_mode, st.st_ino)
                continue
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else None
            link = os.readlink(p) if p.is_symlink() else None
            snap[p.relative_to(top).as_posix()] = (digest, st.st_size, st.st_mtime_ns, st.st_mode, st.st_ino, link)
    return snap


def _unchanged(before: dict[str, tuple], top: Path, allow_new: str | None = None) -> None:
    after = _snapshot(top)
    for rel, state in before.items():
        assert after.get(rel) == state, f"input {rel!r} was changed"
    new = set(after) - set(before)
    if allow_new is None:
        assert not new, f"files appeared among the inputs: {sorted(new)}"
    else:
        assert all(allow_new in n for n in new), sorted(new)


def _no_partials(top: Path) -> None:
    assert not [p for p in top.rglob("*") if p.name.endswith(".part")], "a .part file was left behind"


# ---- fail closed -----------------------------------------------------------------------------


def test_atomic_output_error_mid_write_keeps_previous_output(tmp_path: Path) -> None:
    dest = tmp_path / "photo.jpg"
    dest.write_bytes(b"previous complete output")
    with pytest.raises(RuntimeError), atomic_output(dest) as tmp:
        tmp.write_bytes(b"\xff\xd8 half of a new jpeg")
        raise RuntimeError("decoder died mid-file")
    assert dest.read_bytes() == b"previous complete output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_atomic_output_nothing_written_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError), atomic_output(tmp_path / "x.jpg"):
        pass
    assert list(tmp_path.iterdir()) == []


def _plan_for(tmp_path: Path, face: Path, detector) -> tuple[Plan, Path]:
    top = _tree(tmp_path / "in", face, ["a.jpg", "b.jpg", "c.jpg"])
    plan, failures = pipeline.scan([top], detector, Options())
    assert not failures and len(plan.files) == 3
    return plan, top


@pytest.mark.parametrize(
    "failure,words",
    [
        (RuntimeError("boom in the renderer"), "unexpected RuntimeError"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left"),
        (MemoryError(), "out of memory"),
    ],
    ids=["bug", "disk-full", "out-of-memory"],
)
def test_error_on_one_file_fails_it_alone(tmp_path, face, detector, monkeypatch, failure, words) -> None:
    plan, _ = _plan_for(tmp_path, face, detector)
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.jpg").write_bytes(b"previous complete output")
    real = pipeline.image.encode

    def encode(rgb, alpha, fmt, *quality):  # fails for b.jpg only (the second file)
        if encode.calls == 1:
            encode.calls += 1
            raise failure
        encode.calls += 1
        return real(rgb, alpha, fmt, *quality)

    encode.calls = 0
    monkeypatch.setattr(pipeline.image, "encode", encode)
    outcomes = pipeline.apply(plan, out, Options())
    assert [o.ok for o in outcomes] == [True, False, True], outcomes
    assert words in outcomes[1].error and "b.jpg" in outcomes[1].error and "\n" not in outcomes[1].error
    assert (out / "b.jpg").read_bytes() == b"previous complete output"
    for name in ("a.jpg", "c.jpg"):  # complete outputs: they decode fully at the input's size
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (112, 112)
    _no_partials(out)


def test_failed_file_leaves_no_empty_folder(tmp_path, face, detector, monkeypatch) -> None:
    """The output tree mirrors the input's; a file that fails must not leave the folders made
    for it behind (empty), while a folder that holds a finished output stays."""
    top = _tree(tmp_path / "in", face, ["trip/day1/bad.jpg", "trip/good.jpg"])
    plan, failures = pipeline.scan([top], detector, Options())
    assert not failures
    real = pipeline.image.encode

    def encode(rgb, alpha, fmt, *quality):
        encode.calls += 1
        if encode.calls == 2:  # the second file in plan order (a folder's files before its folders)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(rgb, alpha, fmt, *quality)

    encode.calls = 0
    monkeypatch.setattr(pipeline.image, "encode", encode)
    out = tmp_path / "out"
    outcomes = pipeline.apply(plan, out, Options())
    assert [(o.path, o.ok) for o in outcomes] == [("trip/good.jpg", True), ("trip/day1/bad.jpg", False)]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["trip", "trip/good.jpg"]


def test_detector_crash_on_one_file_reported_batch_goes_on(tmp_path, face, flaky) -> None:
    top = _tree(tmp_path / "in", face, ["a.jpg", "b.jpg"])
    plan, failures = pipeline.scan([top], flaky(), Options())
    assert [f.path for f in failures] == ["a.jpg"] and "ValueError" in failures[0].error
    assert [m.path for m in plan.files] == ["b.jpg"]


def _interrupted(args: list[str], marker: Path, sig: int, hook: str = "UNSEEN_TEST_SLOW_ENCODE") -> tuple[int, str]:
    """Run the CLI with a test hook that touches `marker` inside a write and holds it there,
    send `sig` once it is there; (exit code, stderr)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HOOKS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env[hook] = str(marker)
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that starts pytest in the background leaves SIGINT ignored, and children inherit
        # that; a user's Ctrl-C reaches unseen with the default action, so the test restores it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # wait until the run is inside the write
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never reached the write"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


@pytest.mark.parametrize(
    "sig,with_output",
    [(signal.SIGTERM, True), (signal.SIGTERM, False), (signal.SIGINT, False)],
    ids=["sigterm-o", "sigterm-beside", "ctrl-c-beside"],
)
def test_signal_during_write_leaves_nothing(tmp_path: Path, face: Path, sig: int, with_output: bool) -> None:
    top = _tree(tmp_path / "in", face, ["a.jpg", "b.jpg"])
    before = _snapshot(top)
    out = tmp_path / "out"
    args = ["run", str(top), "--json"] + (["-o", str(out), "--workers", "1"] if with_output else [])
    code, err = _interrupted(args, tmp_path / "encoding", sig)
    assert code == cli.EXIT_INTERRUPTED, err
    assert "interrupted" in err
    written = out if with_output else top
    _no_partials(written)
    assert not list(written.rglob("*.unseen.*")) and not (out / "a.jpg").exists() and not (out / "b.jpg").exists()
    _unchanged(before, top)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_during_a_one_pass_video_leaves_nothing(tmp_path: Path, sig: int) -> None:
    """`unseen run clip` decodes, detects, paints and encodes at once, in several threads:
    stopped mid-file, it leaves neither an output nor a hidden part file, and exits."""
    src = tmp_path / "in" / "clip.mkv"
    src.parent.mkdir()
    shutil.copyfile(data("videos", "intel_sample_videos", "asl_gestures", "eat.mkv"), src)
    before = _snapshot(src.parent)
    code, err = _interrupted(["run", str(src), "--json"], tmp_path / "encoding", sig, "UNSEEN_TEST_SLOW_VIDEO")
    assert code == cli.EXIT_INTERRUPTED, err
    _no_partials(src.parent)
    assert sorted(p.name for p in src.parent.iterdir()) == ["clip.mkv"]
    _unchanged(before, src.parent)


# ---- inputs are sacred -----------------------------------------------------------------------


def test_runs_never_touch_inputs_with_odd_names(tmp_path: Path, face: Path, monkeypatch, capsys) -> None:
    top = _tree(tmp_path / "in", face, ODD_NAMES)
    (top / "link-inside.jpg").symlink_to(top / "with space.jpg")
    before = _snapshot(top)
    out = tmp_path / "out"

    assert cli.main(["run", str(top), "-o", str(out), "--workers", "1", "--json"]) == cli.EXIT_OK
    done = json.loads(capsys.readouterr().out)
    assert {f["path"] for f in done["files"]} == set(ODD_NAMES) | {"link-inside.jpg"}
    for name in ODD_NAMES:
        assert (out / name).stat().st_size > 0, name
    _unchanged(before, top)

    plan = tmp_path / "plan.json"
    assert cli.main(["scan", str(top), "--plan", str(plan)]) == cli.EXIT_OK
    assert cli.main(["apply", str(plan), "-o", str(tmp_path / "out2")]) == cli.EXIT_OK
    _unchanged(before, top)

    monkeypatch.chdir(top)  # a name that starts with a dash, given on the command line
    assert cli.main(["run", "--json", "--", "-leading-dash.jpg"]) == cli.EXIT_OK
    assert (top / "-leading-dash.unseen.jpg").stat().st_size > 0
    assert cli.main(["run", str(top)]) == cli.EXIT_OK  # beside the inputs: only *.unseen.* appear
    after = _snapshot(top)
    assert all(".unseen." in Path(n).name for n in set(after) - set(before))
    for rel, state in before.items():
        assert after[rel] == state, rel


def test_output_onto_inputs_refused(tmp_path: Path, face: Path, capsys) -> None:
    top = _tree(tmp_path / "in", face, ["a.jpg", "sub/a.jpg"])
    before = _snapshot(top)
    # the output folder is the input folder: every output would be its own input
    plan = tmp_path / "plan.json"
    assert cli.main(["scan", str(top), "--plan", str(plan)]) == cli.EXIT_OK
    assert cli.main(["apply", str(plan), "-o", str(top)]) == cli.EXIT_USAGE
    assert "the folder of the plan's inputs" in capsys.readouterr().err
    assert cli.main(["apply", str(plan), "-o", str(tmp_path)]) == cli.EXIT_USAGE  # holds the originals
    assert "the folder of the plan's inputs" in capsys.readouterr().err
    # a.jpg rendered into sub/ would replace the input sub/a.jpg
    assert cli.main(["apply", str(plan), "-o", str(top / "sub")]) == cli.EXIT_FAILED
    assert "overwrite another input" in capsys.readouterr().err
    _unchanged(before, top, allow_new="sub/")
    # explicit files: x.jpg's beside-output x.unseen.jpg is itself an input
    pair = _tree(tmp_path / "pair", face, ["x.jpg", "x.unseen.jpg"])
    pair_before = _snapshot(pair)
    assert cli.main(["run", str(pair / "x.jpg"), str(pair / "x.unseen.jpg")]) == cli.EXIT_FAILED
    _unchanged(pair_before, pair, allow_new=".unseen.unseen.")
    # the plan file itself over an input
    assert cli.main(["scan", str(top), "--plan", str(top / "a.jpg")]) == cli.EXIT_USAGE
    assert "overwrite an input" in capsys.readouterr().err
    _unchanged(before, top, allow_new="sub/")


def test_batch_engine_output_inside_inputs_keeps_inputs(tmp_path: Path, face: Path) -> None:
    """`run DIR -o DIR/sub` with real photos in sub/: a.jpg's output would replace sub/a.jpg.
    The engine refuses an output folder inside the inputs (its API too), so nothing is written."""
    from unseen.engines.local import run_local
    from unseen.errors import UnseenError

    top = _tree(tmp_path / "in", face, ["a.jpg", "sub/a.jpg"])
    (top / "sub" / "a.jpg").write_bytes((top / "sub" / "a.jpg").read_bytes() + b"\0")  # a different photo
    before = _snapshot(top)
    assert cli.main(["run", str(top), "-o", str(top / "sub"), "--workers", "1"]) == cli.EXIT_USAGE
    with pytest.raises(UnseenError, match="inside the input folder"):
        run_local([top], top / "sub", Options(), 1, quiet=True)
    _unchanged(before, top)


def test_symlinks_out_of_tree_followed_only_when_asked(tmp_path: Path, face: Path, capsys) -> None:
    outside = _tree(tmp_path / "outside", face, ["secret.jpg", "folder/other.jpg"])
    top = _tree(tmp_path / "in", face, ["a.jpg"])
    (top / "leak.jpg").symlink_to(outside / "secret.jpg")
    (top / "linked").symlink_to(outside / "folder")
    (top / "loop").symlink_to(top)

    assert cli.main(["scan", str(top), "--plan", str(tmp_path / "p.json"), "--json"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert [f["path"] for f in json.loads(out)["files"]] == ["a.jpg"]
    # not followed, but never in silence: the photos behind them are not in the output
    assert {"leak.jpg", "linked"} <= set(json.loads(out)["left_out"]) and "loop" not in json.loads(out)["left_out"]
    assert "symlinks out of the input folder, not followed" in err and "leak.jpg, linked" in err

    args = ["scan", str(top), "--plan", str(tmp_path / "p2.json"), "--json", "--follow-symlinks"]
    assert cli.main(args) == cli.EXIT_OK
    paths = [f["path"] for f in json.loads(capsys.readouterr().out)["files"]]
    assert "leak.jpg" in paths and "linked/other.jpg" in paths
    assert len(paths) == len(set(paths)) and len(paths) <= 4  # the loop is entered at most once


def test_output_folder_symlink_does_not_carry_writes_out(tmp_path: Path, face: Path, capsys) -> None:
    top = _tree(tmp_path / "in", face, ["sub/a.jpg"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere)
    plan = tmp_path / "plan.json"
    assert cli.main(["scan", str(top), "--plan", str(plan)]) == cli.EXIT_OK
    assert cli.main(["apply", str(plan), "-o", str(out)]) == cli.EXIT_FAILED
    assert "leaves the output folder" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_deeply_nested_folders(tmp_path: Path, face: Path) -> None:
    """1,200 levels: past Python's recursion limit (os.walk in 3.11 recurses)."""
    top = tmp_path / "in"
    top.mkdir()
    p = top
    levels = 1200
    for _ in range(levels):  # os.makedirs recurses too
        p = p / "d"
        p.mkdir()
    shutil.copy(face, p / "deep.jpg")
    try:
        files = discover([top]).files
        assert len(files) == 1 and files[0].name == "deep.jpg"
    finally:  # pytest's own cleanup (shutil.rmtree) recurses too: remove bottom-up here
        for _ in range(levels + 1):
            for f in p.iterdir():
                f.unlink()
            p.rmdir()
            p = p.parent


# ---- plans are untrusted: outputs stay in the output folder ---------------------------------


def _hostile_plan(tmp_path: Path, face: Path, root: Path, path: str, output: str) -> Path:
    """A plan a stranger could hand over: a real photo of theirs, any root and output they like."""
    entry = {"path": path, "output": output, "kind": "image", "width": 112, "height": 112}
    entry |= {"sha256": hashlib.sha256(face.read_bytes()).hexdigest(), "regions": []}
    plan = tmp_path / "hostile.json"
    plan.write_text(json.dumps({"schema": "unseen.plan/1", "root": str(root), "files": [entry]}))
    return plan


def _everything(top: Path) -> set[str]:
    return {p.relative_to(top).as_posix() for p in top.rglob("*")}


@pytest.mark.parametrize(
    "output",
    ["etc/profile.d/evil.sh", "etc/profile.d/evil.jpg", "photo.sh", ".bashrc", "photo"],
    ids=["other-folder-script", "other-folder", "script-suffix", "dotfile", "no-suffix"],
)
def test_plan_output_beside_the_input_stays_beside_it(tmp_path: Path, face: Path, output: str, capsys) -> None:
    """`apply plan.json` without -o wrote ROOT/etc/profile.d/evil.unseen.sh, making the folders:
    beside the input, an output is the input's own folder and name with a media suffix."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(face, root / "photo.jpg")
    plan = _hostile_plan(tmp_path, face, root, "photo.jpg", output)
    before = _everything(tmp_path)
    assert cli.main(["apply", str(plan)]) in (cli.EXIT_USAGE, cli.EXIT_FAILED)
    assert output in capsys.readouterr().err
    assert _everything(tmp_path) == before


def test_plan_output_through_a_symlinked_folder_is_refused_in_every_mode(tmp_path: Path, face: Path, capsys) -> None:
    """A symlinked folder inside the root carried the write out of the root (in-place mode)."""
    root, elsewhere, out = tmp_path / "root", tmp_path / "elsewhere", tmp_path / "out"
    for d in (root, elsewhere, out):
        d.mkdir()
    shutil.copy(face, elsewhere / "photo.jpg")
    (root / "link").symlink_to(elsewhere)
    (out / "link").symlink_to(elsewhere)
    plan = _hostile_plan(tmp_path, face, root, "link/photo.jpg", "link/photo.jpg")
    assert cli.main(["apply", str(plan)]) == cli.EXIT_FAILED
    assert "leaves the output folder" in capsys.readouterr().err
    assert cli.main(["apply", str(plan), "-o", str(out)]) == cli.EXIT_FAILED
    assert "leaves the output folder" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["photo.jpg"]
    # the same through `run` beside the inputs, when asked to follow links into the folder
    assert cli.main(["run", str(root), "--follow-symlinks"]) == cli.EXIT_FAILED
    assert "leaves the output folder" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["photo.jpg"]


def test_plan_root_must_be_absolute_and_outputs_keep_a_media_suffix(tmp_path: Path, face: Path, capsys) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(face, root / "photo.jpg")
    for bad_root, output in (("root", "photo.jpg"), (str(root), "photo.sh"), (str(root), "clip.jpg.exe")):
        plan = _hostile_plan(tmp_path, face, Path(bad_root), "photo.jpg", output)
        assert cli.main(["apply", str(plan), "-o", str(tmp_path / "out")]) == cli.EXIT_USAGE
        assert "must" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    # a JPEG under a PNG name would be a file that is not what it says
    plan = _hostile_plan(tmp_path, face, root, "photo.jpg", "photo.png")
    assert cli.main(["apply", str(plan), "-o", str(tmp_path / "out")]) == cli.EXIT_FAILED
    assert not list((tmp_path / "out").rglob("*.png"))


def test_photo_without_a_suffix_is_written_with_its_format_suffix(tmp_path: Path, face: Path) -> None:
    """A messaging app's attachment `IMG_0001` (JPEG inside) is published as `IMG_0001.jpg`, beside
    it as `IMG_0001.unseen.jpg`; the audit pairs them up."""
    top = tmp_path / "in"
    top.mkdir()
    shutil.copy(face, top / "IMG_0001")
    assert cli.main(["run", str(top), "-o", str(tmp_path / "out")]) == cli.EXIT_OK
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["IMG_0001.jpg"]
    assert cli.main(["run", str(top / "IMG_0001")]) == cli.EXIT_OK
    assert (top / "IMG_0001.unseen.jpg").is_file()
    assert cli.main(["audit", str(top), str(tmp_path / "out")]) == cli.EXIT_OK


# ---- OS errors: one line naming the file, the batch goes on, the right exit code ------------


def _namespaced(mounts: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The CLI run in a private mount namespace after the shell commands `mounts`: real OS
    errors (a read-only folder, a full disk) without root on the host and without touching it.
    Skipped where user namespaces are not allowed."""
    unshare = shutil.which("unshare")
    base = [unshare or "unshare", "--user", "--map-root-user", "--mount"]
    if unshare is None or subprocess.run([*base, "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare with user namespaces (util-linux) to mount a read-only or full folder")
    script = f'{mounts} && exec "$@"'
    cmd = [*base, "sh", "-c", script, "sh", sys.executable, "-m", "unseen.cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_read_only_output_folder_is_one_line_per_file(tmp_path: Path, face: Path) -> None:
    """It was a traceback (the manifest could not be made in it) and a batch that stopped."""
    top = _tree(tmp_path / "in", face, ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    proc = _namespaced(
        f"mount --bind {out} {out} && mount -o remount,ro,bind {out} {out}",
        ["run", str(top), "-o", str(out), "--workers", "1"],
    )
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 2 and all("cannot write (Read-only file system)" in e for e in errors), errors
    assert f"{out}/a.jpg" in errors[0] and f"{out}/b.jpg" in errors[1]
    assert list(out.iterdir()) == []


def test_disk_full_while_the_manifest_is_written(tmp_path: Path, face: Path, state_dir: Path) -> None:
    """The resume state on a disk that fills after a few records: every output is still written,
    the state file is named once, exit 1; no traceback. (The state folder is a 12 KiB tmpfs.)"""
    names = [f"p{i:02d}.jpg" for i in range(24)]
    top = _tree(tmp_path / "in", face, names)
    out, state = tmp_path / "out", tmp_path / "state"
    state.mkdir()
    proc = _namespaced(
        f"mount -t tmpfs -o size=12k tmpfs {state}",
        ["run", str(top), "-o", str(out), "--workers", "1", "--state", str(state)],
    )
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 1 and "cannot record progress (No space left on device)" in errors[0], errors
    assert str(state) in errors[0]
    assert sorted(p.name for p in out.iterdir()) == names
    _no_partials(out)


def test_plan_path_that_cannot_be_written(tmp_path: Path, face: Path, capsys) -> None:
    """Refused up front when its folder is missing (nothing is done); a disk that fills before
    the plan is saved at the end is one `error:` line after the outputs, exit 1."""
    top = _tree(tmp_path / "in", face, ["a.jpg"])
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine")
    for cmd in (["run", str(top), "-o", str(tmp_path / "out")], ["scan", str(top)], ["run", str(top / "a.jpg")]):
        assert cli.main([*cmd, "--plan", str(not_a_folder / "plan.json")]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--plan" in err, err
    assert not (tmp_path / "out").exists() and not (top / "a.unseen.jpg").exists()

    full = tmp_path / "full"
    full.mkdir()
    mounts = f"mount -t tmpfs -o size=4k tmpfs {full} && head -c 4096 /dev/zero > {full}/filler"
    proc = _namespaced(
        mounts, ["run", str(top), "-o", str(tmp_path / "out"), "--workers", "1", "--plan", str(full / "plan.json")]
    )
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 1 and "plan.json: cannot write the plan (No space left on device)" in errors[0], errors
    assert (tmp_path / "out" / "a.jpg").stat().st_size > 0


def test_output_over_a_folder_fails_that_file_alone_with_the_same_line_everywhere(
    tmp_path: Path, face: Path, capsys
) -> None:
    """An OS error on one file (here a folder where its output should go) is that file's error
    line, the same from `run -o` (the engine's workers), `apply` and the one-file `run`."""
    top = _tree(tmp_path / "in", face, ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    (out / "a.jpg").mkdir(parents=True)
    plan = tmp_path / "plan.json"
    assert cli.main(["scan", str(top), "--plan", str(plan)]) == cli.EXIT_OK
    lines = []
    for argv in (["run", str(top), "-o", str(out), "--workers", "1"], ["apply", str(plan), "-o", str(out)]):
        capsys.readouterr()
        assert cli.main(argv) == cli.EXIT_FAILED
        errors = _errors(capsys.readouterr().err)
        assert len(errors) == 1 and f"{out}/a.jpg: cannot write (Is a directory)" in errors[0], errors
        lines.append(errors[0])
        assert (out / "b.jpg").stat().st_size > 0
    assert lines[0] == lines[1]
    (top / "a.unseen.jpg").mkdir()
    assert cli.main(["run", str(top / "a.jpg"), str(top / "b.jpg")]) == cli.EXIT_FAILED
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "a.unseen.jpg: cannot write (Is a directory)" in errors[0]
    assert (top / "b.unseen.jpg").stat().st_size > 0


def test_plan_inside_the_published_folder_is_refused(tmp_path: Path, face: Path, capsys) -> None:
    """`run -o OUT --plan OUT/plan.json` wrote the plan (each original's SHA-256, the inputs'
    folder, the face boxes) into the folder the user publishes: refused up front, nothing done."""
    top = _tree(tmp_path / "in", face, ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    for plan in (out / "plan.json", out / "sub" / ".." / "plan.json"):
        (out / "sub").mkdir(exist_ok=True)
        assert cli.main(["run", str(top), "-o", str(out), "--plan", str(plan)]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "inside the output folder" in err, err
        assert sorted(p.name for p in out.iterdir()) == ["sub"]


def test_resume_state_inside_the_published_folder_is_refused(tmp_path: Path, face: Path, monkeypatch, capsys) -> None:
    """`--state OUT/x` (or $UNSEEN_STATE_DIR there) put the resume state, each original's
    SHA-256, size, mtime and face boxes, back into the folder the user publishes."""
    top = _tree(tmp_path / "in", face, ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("UNSEEN_STATE_DIR", str(out / ".state"))
    for extra in (["--state", str(out / "state")], []):
        assert cli.main(["run", str(top), "-o", str(out), "--workers", "1", *extra]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "inside the output folder" in err, err
        assert list(out.iterdir()) == []


def test_unreadable_folder_is_a_failure_not_a_silent_gap(tmp_path: Path, face: Path, monkeypatch, capsys) -> None:
    """A folder that cannot be read was skipped in silence (exit 0, "0 failed"): its photos
    were never anonymised and the user published the rest as if all was done. It is one
    `error:` line naming the folder, exit 1, the rest done; an unreadable input folder named on
    the command line is bad usage. (os.scandir is made to refuse, as it does for a non-root
    user, since tests may run as root.)"""
    top = _tree(tmp_path / "in", face, ["locked/a.jpg", "ok/b.jpg"])
    real = os.scandir

    def scandir(path):
        if os.fspath(path) in (str(top / "locked"), str(tmp_path / "locked_top")):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    for argv in (
        ["run", str(top), "-o", str(tmp_path / "out"), "--workers", "1"],
        ["run", str(top)],
        ["scan", str(top), "--plan", str(tmp_path / "plan.json")],
    ):
        capsys.readouterr()
        assert cli.main(argv) == cli.EXIT_FAILED, argv
        errors = _errors(capsys.readouterr().err)
        why = "cannot read this folder (Permission denied); nothing in it was processed"
        assert errors == [f"error: {top / 'locked'}: {why}"]
    assert (tmp_path / "out" / "ok" / "b.jpg").is_file() and (top / "ok" / "b.unseen.jpg").is_file()
    (tmp_path / "locked_top").mkdir()
    assert cli.main(["run", str(tmp_path / "locked_top"), "-o", str(tmp_path / "out2")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.strip().endswith("locked_top: cannot read this folder (Permission denied)"), err


def test_named_pipe_called_like_a_photo_does_not_hang_the_batch(tmp_path: Path, face: Path) -> None:
    """A FIFO named x.jpg in an input folder was taken by its name and its first read waited
    for ever; named on the command line it is refused with the reason."""
    top = _tree(tmp_path / "in", face, ["a.jpg"])
    os.mkfifo(top / "pipe.jpg")

    def cli_(*argv: str) -> subprocess.CompletedProcess[str]:  # a hang is a failure, not a stuck suite
        return subprocess.run([sys.executable, "-m", "unseen.cli", *argv], capture_output=True, text=True, timeout=120)

    run = cli_("run", str(top), "-o", str(tmp_path / "out"), "--workers", "1")
    assert run.returncode == cli.EXIT_OK and "pipe.jpg" in run.stderr  # listed as left out
    scan = cli_("scan", str(top / "pipe.jpg"), "--json")
    assert scan.returncode == cli.EXIT_FAILED and "not a regular file" in scan.stderr
