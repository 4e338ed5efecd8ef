"""What both engines share: the per-file function, the resume decision, progress and the summary.

An engine only decides *where* `process_file` runs (a worker process, a Ray actor); what happens to
one file, and what counts as done, is defined here once, so both engines write the same bytes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from unseen.detect.base import Detector
from unseen.engines.manifest import Manifest, Record
from unseen.engines.storage import Listed, local_stat
from unseen.guard import Failed, guarded
from unseen.options import Options, Outcome
from unseen.options import Progress as FileProgress
from unseen.pipeline import run_file
from unseen.plan import MediaPlan, Plan, Settings, from_json
from unseen.progress import FrameRate

# Inference threads per worker, the same whatever the worker count: onnxruntime's CPU GEMM picks
# its summation blocking from each thread's share of the columns, so on small feature maps (the
# deepest layers of a small tile) 1 and 2 threads round differently in the last bits. That was
# enough to move a plan's box edge (810.0 vs 809.9) or score (0.2066 vs 0.2065), so a file's plan
# and output could depend on how many workers shared the batch. The cores go to more workers.
INFERENCE_THREADS = 1


def load_detector(name: str, gpu: bool = False) -> Detector:
    """The photo detector every engine uses, built so that its results do not depend on the
    engine (`gpu`: Ray workers given a GPU run it on CUDA where onnxruntime has it)."""
    from unseen.detect.presets import make_detector

    return make_detector(name, INFERENCE_THREADS, gpu=gpu)


def process_file(
    src: Path,
    rel: str,
    root: Path,
    out_dir: Path | None,
    detector: Detector,
    opts: Options,
    settings: str,
    progress: FileProgress | None = None,
) -> Record:
    """Scan and render one input into `out_dir`, never raising for a bad file: a failure is a
    record with the reason (guard.guarded, the policy every batch shares), and (fail closed) no
    output under the final name. `out_dir` None: beside the input as NAME.unseen.EXT."""
    t0 = time.monotonic()

    def work() -> Record:
        st = src.stat()
        rec = Record(rel, "done", settings, st.st_size, st.st_mtime_ns)
        media, dest = run_file(src, rel, root, out_dir, detector, opts, progress)
        rec.sha256 = media.sha256
        base = Path(os.path.abspath(root if out_dir is None else out_dir))
        rec.output = dest.relative_to(base).as_posix()
        rec.output_size = dest.stat().st_size
        rec.regions = media.faces
        rec.frames = media.frames or 1
        plan = Plan(root=str(root), files=[media], settings=Settings(method=opts.method, detector=opts.detector))
        rec.media = json.loads(json.dumps(plan.to_json()["files"][0]))  # as the manifest stores it
        return rec

    done = guarded(rel, work)
    if isinstance(done, Failed):
        size, mtime = local_stat(str(src)) or (0, 0)
        done = Record(rel, "failed", settings, size, mtime, error=done.error)
    done.seconds = round(time.monotonic() - t0, 3)
    return done


@dataclass
class Job:
    """One input still to do: where to read it, how it is named relative to the input root, and
    its size and mtime as listed (the record of a file that fails before it is read)."""

    src: str
    rel: str
    size: int = 0
    mtime_ns: int = 0


def split_done(
    files: Iterable[Listed],
    manifest: Manifest | None,
    settings: str,
    out_size: Callable[[str], int | None],
    digest: Callable[[str], str],
    rehash: bool = False,
) -> tuple[list[Job], list[Record]]:
    """Split the inputs listed into jobs to run and manifest records to reuse.

    `out_size(rel_output)` gives the size of an existing output. A record whose input size and
    mtime match the listing is trusted as is; one whose size matches but mtime differs is reused
    only if `digest(src)` equals its SHA-256 (a copied or touched file is not redone; an edited
    one is). `rehash` hashes every candidate, for inputs edited in place with their size and
    mtime put back (a restore, a tool that keeps mtimes): slower, reads every input."""
    jobs: list[Job] = []
    reused: list[Record] = []
    for src, rel, st in files:
        job = Job(src, rel, *(st or (0, 0)))
        rec = manifest.records.get(rel) if manifest is not None else None
        if manifest is None or rec is None or rec.output is None:
            jobs.append(job)
            continue
        cand = manifest.candidate(rel, settings, out_size(rec.output))
        if st is None or cand is None:
            jobs.append(job)
            continue
        same_stat = (cand.size, cand.mtime_ns) == st
        if same_stat and not rehash:
            reused.append(cand)
        elif cand.size == st[0] and digest(src) == cand.sha256:
            if not same_stat:
                cand.mtime_ns = st[1]
                manifest.append(cand)  # remember the new mtime so the next resume need not hash
            reused.append(cand)
        else:
            jobs.append(job)
    return jobs, reused


def drop_own_outputs(files: list[Listed], out: Path, manifest: Manifest) -> list[Listed]:
    """Inputs minus the outputs an earlier run recorded in `out` (`unseen run DIR -o DIR/public`
    must not take its own outputs for new inputs). Other files inside `out` stay inputs."""
    own = {os.path.join(out, r.output) for r in manifest.records.values() if r.output}
    return [f for f in files if os.path.abspath(f.src) not in own]


def refuse_overwrites(jobs: list[Job], out: Path, settings: str) -> tuple[list[Job], list[Record]]:
    """Jobs whose output path is another input (the output folder is inside the input tree and
    holds photos of its own) are refused before anything runs: an input is never replaced."""
    inputs = {os.path.abspath(j.src) for j in jobs}
    keep: list[Job] = []
    refused: list[Record] = []
    for j in jobs:
        dest = os.path.join(out, j.rel)
        if dest in inputs:
            error = f"{j.rel}: its output {dest} is another input; choose an output folder outside the inputs"
            refused.append(Record(j.rel, "failed", settings, j.size, j.mtime_ns, error=error))
        else:
            keep.append(j)
    return keep, refused


@dataclass
class Summary:
    """The end of a batch: what was done, what failed and why, what was reused."""

    root: str
    opts: Options
    done: list[Record] = field(default_factory=list)
    failed: list[Record] = field(default_factory=list)
    skipped: list[Record] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "local"
    workers: int = 1
    left_out: list[str] = field(default_factory=list)  # input files neither photo nor video (rel)
    notes: list[str] = field(default_factory=list)  # said once on stderr as `note:` lines
    errors: list[str] = field(default_factory=list)  # not about one file (the resume state): `error:` lines

    @property
    def faces(self) -> int:
        return sum(r.regions for r in self.done + self.skipped)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.done)

    @property
    def throughput(self) -> float:
        """Files processed (not skipped) per second of wall time."""
        return len(self.done) / self.seconds if self.seconds > 0 else 0.0

    def plan(self) -> Plan:
        """The plan of every output in the folder (done now or reused), as `unseen scan` would.
        Each entry was validated when it was made or reused (manifest.candidate), one by one:
        a batch larger than a plan file holds still reports and audits (only --plan refuses)."""
        recs = sorted((r for r in self.done + self.skipped if r.media is not None), key=lambda r: r.path)
        files = [m for m in (media_of(r) for r in recs) if m is not None]
        settings = Settings(method=self.opts.method, detector=self.opts.detector)
        return Plan(root=self.root, files=files, settings=settings)

    def outcomes(self, out_dir: str) -> list[Outcome]:
        ok = [Outcome(r.path, _join(out_dir, r.output or ""), r.regions) for r in self.done + self.skipped]
        bad = [Outcome(r.path, error=r.error or "failed") for r in self.failed]
        return sorted(ok, key=lambda o: o.path) + bad

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "workers": self.workers,
            "done_now": len(self.done),
            "skipped": len(self.skipped),
            "failed_files": [{"path": r.path, "error": r.error} for r in self.failed],
            "errors": self.errors,
            "faces": self.faces,
            "frames": self.frames,
            "seconds": round(self.seconds, 2),
            "files_per_second": round(self.throughput, 3),
        }

    def text(self) -> str:
        lines = [
            f"{len(self.done)} files done now, {len(self.skipped)} skipped as already done, "
            f"{len(self.failed)} failed; {self.faces} faces obscured",
            f"{self.seconds:.1f} s on {self.workers} {self.engine} worker(s): {self.throughput:.2f} files/s, "
            f"{self.frames} frames",
        ]
        return "\n".join(lines)


def _join(out_dir: str, rel: str) -> str:
    return f"{out_dir.rstrip('/')}/{rel}" if "://" in out_dir else str(Path(out_dir) / rel)


def media_of(rec: Record) -> MediaPlan | None:
    if rec.media is None:
        return None
    return from_json({"schema": Plan(root="/").schema, "root": "/", "files": [rec.media]}).files[0]


class BatchProgress:
    """Overall progress on stderr: files (M/N), frames, the current file, time left."""

    def __init__(self, total: int, skipped: int, quiet: bool = False, label: str = "anonymising") -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[frames]} frames"),
            TextColumn("{task.fields[failed]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[file]}"),
            console=Console(stderr=True),
            disable=quiet,
        )
        label = f"{label} ({skipped} already done)" if skipped else label
        self.task: TaskID = self.progress.add_task(label, total=total, frames=0, failed="", file="")
        self.files = 0
        self.frames = 0
        self.failures = 0
        self.partial: dict[str, float] = {}
        self.rate = FrameRate()

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def file_progress(self, rel: str, fraction: float, frames: int = 0) -> None:
        """A long file (video) is part way: move the bar by its fraction so time left stays
        honest, and show its frames/s."""
        if fraction >= 1.0:
            return
        self.partial[rel] = fraction
        done = self.files + sum(self.partial.values())
        self.progress.update(self.task, completed=done, file=f"{rel[-40:]}{self.rate.text(rel, frames)}")

    def finished(self, rec: Record) -> None:
        self.partial.pop(rec.path, None)
        self.files += 1
        self.frames += rec.frames if rec.ok else 0
        self.failures += 0 if rec.ok else 1
        self.progress.update(
            self.task,
            completed=self.files + sum(self.partial.values()),
            frames=self.frames,
            failed=f"{self.failures} failed" if self.failures else "",
            file=rec.path[-40:],
        )
