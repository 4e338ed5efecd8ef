"""The manifest: one line per finished input, kept outside the output folder, so a batch can be resumed.

Where: `STATE/runs/KEY.jsonl`, STATE being `--state`, else $UNSEEN_STATE_DIR, else
$XDG_STATE_HOME/unseen (~/.local/state/unseen), KEY a hash of the output folder's absolute path
(or URI). Not in the output folder: each record holds an original's SHA-256, size, mtime and face
boxes, so a published folder that carried it would tie every output to its original. The folder
a user publishes holds nothing but the anonymised media. A manifest an older unseen left in the
output folder (`.unseen-manifest.jsonl`) is moved into the state and removed from the folder.

Format: JSON lines, appended and fsync'ed one record at a time by the one process that coordinates
the batch. Appending never rewrites what is already on disk, so a crash (SIGKILL, power loss) can
lose at most the line being written; a torn last line is ignored on load. The last record for a
path wins. A `{"run": TAG}` line starts each run: the temporary outputs of that run end in
`.TAG.part`, and only those are swept by a later run (output.atomic_output).

A record is written only after the output was renamed into place, so "done in the manifest"
implies "complete output on disk". The converse does not hold (a crash between the rename and the
append, or a disk that filled while the line was written), and then the file is simply done
again: the rename is atomic, so redoing is harmless.

What makes a record reusable (`Manifest.candidate`, then `batch.split_done`): status done, the
same settings key, the input unchanged (same size and mtime, or failing that the same SHA-256;
with `--rehash`, the same SHA-256 always), the output still present with the size recorded, and
a plan entry that a plan can hold. Failed files are always retried.

The lock: a run holds an exclusive flock on the output folder itself (and on its state file)
for its whole length; a second run into the same folder is refused before it touches anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from unseen import __version__
from unseen.errors import OutputError, PlanError
from unseen.options import Options
from unseen.output import is_temporary, temp_tag
from unseen.plan import SCHEMA, from_json

OLD_MANIFEST_NAME = ".unseen-manifest.jsonl"  # where unseen up to 0.x kept it: in the output folder
STATE_ENV = "UNSEEN_STATE_DIR"


def default_state_dir() -> Path:
    """$UNSEEN_STATE_DIR, else $XDG_STATE_HOME/unseen, else ~/.local/state/unseen."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "unseen"


def state_path(output: str, state_dir: Path | None = None) -> Path:
    """The manifest of the output folder `output` (an absolute path or a URI)."""
    key = hashlib.sha256(output.encode()).hexdigest()[:32]
    return (state_dir or default_state_dir()) / "runs" / f"{key}.jsonl"


@dataclass
class Record:
    """What happened to one input. Paths are relative: `path` to the input root, `output` to OUT."""

    path: str
    status: str  # "done" | "failed"
    settings: str
    size: int
    mtime_ns: int
    sha256: str | None = None
    output: str | None = None
    output_size: int | None = None
    regions: int = 0  # faces obscured (MediaPlan.faces)
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    media: dict[str, Any] | None = field(default=None, repr=False)  # the file's plan entry, for --plan/--audit

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})


def settings_key(opts: Options) -> str:
    """A short hash of every setting that changes an output's bytes (and of the unseen version,
    since a new release may find more faces). Limits and symlink policy are left out: they decide
    whether a file is refused, and refused files are retried anyway."""
    relevant = {
        "unseen": __version__,
        "schema": SCHEMA,
        "detector": opts.detector,
        "margin": opts.margin,
        "shape": opts.shape,
        "method": opts.method,
        "audio": opts.audio,
        "text": opts.text,
        "crf": opts.crf,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def read_records(lines: Iterator[bytes]) -> dict[str, Record]:
    """The last valid record per path; torn or foreign lines (run lines) are skipped, not fatal."""
    records: dict[str, Record] = {}
    for line in lines:
        try:
            raw = json.loads(line)
            rec = Record.from_json(raw)
        except (ValueError, TypeError):
            continue
        if isinstance(rec.path, str):
            records[rec.path] = rec
    return records


def read_tags(lines: Iterator[bytes]) -> set[str]:
    """The temporary-file tags of every run recorded (`{"run": TAG}` lines)."""
    tags = set()
    for line in lines:
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if isinstance(raw, dict) and isinstance(raw.get("run"), str) and raw["run"].isalnum():
            tags.add(raw["run"])
    return tags


class Manifest:
    """Append-only, fsync'ed, in the state folder, locked against a second run writing to the same
    output folder. `output` names the folder (an absolute path or a URI); `folder` is that folder
    when it is local: it is locked, an old manifest in it is moved out, and the temporaries of
    earlier runs are swept from it, all under the lock.

    A record that cannot be written (a full disk) does not stop the batch: `error` says so once,
    and the file is simply done again by the next run."""

    def __init__(self, output: str, folder: Path | None = None, state_dir: Path | None = None) -> None:
        self.path = state_path(output, state_dir)
        if folder is not None and Path(os.path.realpath(self.path)).is_relative_to(os.path.realpath(folder)):
            raise OutputError(
                f"{self.path.parent}: is inside the output folder {folder}, which is for the anonymised media only "
                "(the resume state ties each output to its original); choose a folder outside it with --state"
            )
        self.error: str | None = None
        self.notes: list[str] = []
        self._dir_fd: int | None = None
        if folder is not None:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                _lock(fd, folder)
            except BaseException:
                os.close(fd)
                raise
            self._dir_fd = fd
        try:
            self._file = self._open_state()
        except BaseException:
            self._unlock_folder()
            raise
        self._file.seek(0)
        data = self._file.read()
        lines = data.splitlines()
        self.records = read_records(iter(lines))
        tags = read_tags(iter(lines))
        self.tag = temp_tag()
        if data and not data.endswith(b"\n"):
            self._write(b"\n")  # end a torn last line so the next record starts clean
        if folder is not None:
            self._adopt_old(folder)
            sweep_partials(folder, tags)
        self._write(json.dumps({"run": self.tag, "output": output}).encode() + b"\n")

    def _open_state(self) -> IO[bytes]:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            f = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - held open for the whole batch
        except OSError as e:
            raise OutputError(
                f"{self.path.parent}: cannot keep the resume state here ({e.strerror}); "
                "choose a writable folder with --state"
            ) from e
        try:
            _lock(f.fileno(), self.path)
        except BaseException:
            f.close()
            raise
        return f

    def _adopt_old(self, folder: Path) -> None:
        """Take in the records of a manifest an older unseen kept in the output folder, then
        remove it from there: resuming goes on, and the folder no longer ties outputs to originals."""
        old = folder / OLD_MANIFEST_NAME
        if not old.is_file() or old.is_symlink():
            return
        with open(old, "rb") as f:
            _lock(f.fileno(), folder)  # an older unseen still writing there holds it
            data = f.read()
            self.adopt(data)
            old.unlink()
        self.notes.append(
            f"moved the resume state out of the output folder: {old} (it tied each output to its "
            f"original) is now kept in {self.path}"
        )

    def adopt(self, data: bytes) -> None:
        """Append the records of an older manifest (its bytes) that this one does not have."""
        for rec in read_records(iter(data.splitlines())).values():
            if rec.path not in self.records:
                self.append(rec)

    def append(self, rec: Record) -> None:
        self.records[rec.path] = rec
        self._write(json.dumps(rec.to_json(), separators=(",", ":")).encode() + b"\n")

    def _write(self, line: bytes) -> None:
        """Append and fsync; after a failure (disk full) nothing more is written, and `error` says
        so: the outputs are still written, only resuming forgets them."""
        if self.error is not None:
            return
        try:
            view = memoryview(line)
            while view:
                view = view[self._file.write(view) or 0 :]
            os.fsync(self._file.fileno())
        except OSError as e:
            self.error = (
                f"{self.path}: cannot record progress ({e.strerror or e}); the outputs are written, "
                "a rerun will do the files since again"
            )

    def candidate(self, rel: str, settings: str, out_size: int | None) -> Record | None:
        """The done record for `rel` with these settings whose output (`out_size`: its current
        size, None if missing) is intact, and whose plan entry a plan can hold (an older unseen
        recorded some it could not load again); whether the input is unchanged is the caller's test."""
        rec = self.records.get(rel)
        if rec is None or not rec.ok or rec.settings != settings or rec.output is None:
            return None
        if out_size is None or out_size != rec.output_size:
            return None
        if rec.media is not None:
            try:
                from_json({"schema": SCHEMA, "root": "/", "files": [rec.media]})
            except PlanError:
                return None
        return rec

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._unlock_folder()

    def _unlock_folder(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)  # closing the descriptor releases its flock
            self._dir_fd = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(fd: int, what: Path) -> None:
    """An exclusive flock on `fd` (a folder or a file), or OutputError if another run holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        raise OutputError(f"{what}: another unseen run is writing to this output folder") from e


def sweep_partials(out_dir: Path, tags: set[str]) -> int:
    """Remove the hidden temporaries (`.NAME.XXXX.EXT.TAG.part`) that runs recorded in this
    folder's state (`tags`) left behind when killed. Called under the lock, so no run that is
    still writing can own one; a file of any other name is never touched. Returns how many."""
    removed = 0
    if not tags or not out_dir.is_dir():
        return 0
    for dirpath, _dirs, files in os.walk(out_dir):
        for name in files:
            if is_temporary(name, tags):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
