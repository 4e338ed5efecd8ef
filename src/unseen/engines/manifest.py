"""The manifest: one line per finished input, in the output folder, so a batch can be resumed.

Format: JSON lines in `OUT/.unseen-manifest.jsonl`, appended and fsync'ed one record at a time by
the one process that coordinates the batch. Appending never rewrites what is already on disk,
so a crash (SIGKILL, power loss) can lose at most the line being written; a torn last line is
ignored on load. The last record for a path wins.

A record is written only after the output was renamed into place, so "done in the manifest"
implies "complete output on disk". The converse does not hold (a crash between the rename and the
append), and then the file is simply done again: the rename is atomic, so redoing is harmless.

What makes a record reusable (`Manifest.candidate`, then `batch.split_done`): status done, the
same settings key, the input unchanged (same size and mtime, or failing that the same SHA-256;
with `--rehash`, the same SHA-256 always), and the output still present with the size recorded.
Failed files are always retried.
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
from unseen.errors import OutputError
from unseen.pipeline import Options
from unseen.plan import SCHEMA

MANIFEST_NAME = ".unseen-manifest.jsonl"


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
    regions: int = 0
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
    """The last valid record per path; torn or foreign lines are skipped, not fatal."""
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


class Manifest:
    """Append-only, fsync'ed, locked against a second run writing to the same output folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(path, "a+b")  # noqa: SIM115 - held open for the whole batch
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            self._file.close()
            raise OutputError(f"{path.parent}: another unseen run is writing to this output folder") from e
        self._file.seek(0)
        data = self._file.read()
        self.records = read_records(iter(data.splitlines()))
        if data and not data.endswith(b"\n"):
            self._file.write(b"\n")  # end a torn last line so the next record starts clean

    @classmethod
    def in_folder(cls, out_dir: Path) -> Manifest:
        return cls(out_dir / MANIFEST_NAME)

    def append(self, rec: Record) -> None:
        self._file.write(json.dumps(rec.to_json(), separators=(",", ":")).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[rec.path] = rec

    def candidate(self, rel: str, settings: str, out_size: int | None) -> Record | None:
        """The done record for `rel` with these settings whose output (`out_size`: its current
        size, None if missing) is intact; whether the input is unchanged is the caller's test."""
        rec = self.records.get(rel)
        if rec is None or not rec.ok or rec.settings != settings or rec.output is None:
            return None
        if out_size is None or out_size != rec.output_size:
            return None
        return rec

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep_partials(out_dir: Path) -> int:
    """Remove the hidden `.NAME.XXXX.EXT.part` temporaries a killed run left in the output folder
    (`pipeline.atomic_output` names them so). Returns how many were removed."""
    removed = 0
    if not out_dir.is_dir():
        return 0
    for dirpath, _dirs, files in os.walk(out_dir):
        for name in files:
            if name.startswith(".") and name.endswith(".part"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
