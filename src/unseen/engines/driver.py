"""The one batch driver: every engine's `run` is `drive(source, sink, executor, ...)`.

What a batch means is decided here once, whatever runs the files: the output folder is checked
against the inputs, the inputs are listed, the resume state is opened and locked, files done
before are reused (batch.split_done), an output that would replace an input is refused, each
record is appended to the state as it arrives, progress is shown and the summary is made. An
executor (engines.local: this process or a pool of processes; engines.ray: Ray actors) only
turns jobs into records, each through `process_job` and so through batch.process_file, whose
error policy is the one every file meets.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from unseen.detect.base import Detector
from unseen.engines.batch import (
    BatchProgress,
    Job,
    Summary,
    drop_own_outputs,
    process_file,
    refuse_overwrites,
    split_done,
)
from unseen.engines.manifest import Manifest, Record, settings_key
from unseen.engines.storage import Listed, Sink, Source, fetch, is_uri, put
from unseen.guard import Failed, guarded
from unseen.options import Options
from unseen.options import Progress as FileProgress
from unseen.output import temp_tag


@dataclass(frozen=True)
class Task:
    """What every worker of one batch needs besides its job: where the input root and the outputs
    are (a path or a URI; `out` None: beside each input), the options, their settings key, and
    the tag the batch's temporary outputs carry (so a later run may sweep them)."""

    root: str
    out: str | None
    opts: Options
    settings: str
    tag: str


class Executor(Protocol):
    """Runs jobs somewhere and hands back their records; it decides nothing about the batch."""

    engine: str  # the summary's name for it: "local" or "ray"
    label: str  # what the progress bar says

    def start(self, jobs: int) -> int:
        """Get ready for `jobs` files (at least one); returns how many workers will run them."""
        ...

    def records(self, jobs: list[Job], task: Task, bar: BatchProgress) -> Generator[Record, None, None]:
        """One record per job, in finishing order (a worker that dies is its job's failed record);
        closed early (Ctrl-C), it stops the work still in flight."""
        ...

    def close(self) -> None:
        """Stop what `start` started; called however the batch ends."""
        ...


def drive(
    source: Source,
    sink: Sink,
    executor: Executor,
    opts: Options,
    quiet: bool = False,
    on_record: Callable[[Record], None] | None = None,
    rehash: bool = False,
    state_dir: Path | None = None,
) -> Summary:
    """Anonymise every input of `source` into `sink` on `executor`.

    With an output folder the batch is resumable: inputs recorded as done with the same settings
    are skipped, changed ones redone (`rehash`: judged by content hash, not size and mtime); the
    record is kept in `state_dir` (engines.manifest), never in the output folder. Beside the
    inputs nothing is recorded. `on_record` sees each record as it is written (tests, benchmarks)."""
    t0 = time.monotonic()
    sink.check(source)
    root, listed, left_out = source.list()
    settings = settings_key(opts)
    manifest = sink.open_manifest(state_dir)
    try:
        jobs, reused, refused = _todo(listed, source, sink, manifest, settings, rehash)
        summary = Summary(root, opts, skipped=reused, failed=refused, engine=executor.engine, left_out=left_out)
        if manifest is not None:
            summary.notes += manifest.notes

        def record(rec: Record) -> None:
            if manifest is not None:
                manifest.append(rec)
            (summary.done if rec.ok else summary.failed).append(rec)
            bar.finished(rec)
            if on_record is not None:
                on_record(rec)

        with BatchProgress(len(jobs), len(reused), quiet, executor.label) as bar:
            if jobs:
                task = Task(root, sink.where, opts, settings, temp_tag())
                try:
                    summary.workers = executor.start(len(jobs))
                    with contextlib.closing(executor.records(jobs, task, bar)) as records:
                        for rec in records:
                            record(rec)
                finally:
                    executor.close()
    finally:
        if manifest is not None:
            manifest.close()
    if manifest is not None and manifest.error is not None:
        summary.errors.append(manifest.error)
    summary.seconds = time.monotonic() - t0
    return summary


def _todo(
    listed: list[Listed], source: Source, sink: Sink, manifest: Manifest | None, settings: str, rehash: bool
) -> tuple[list[Job], list[Record], list[Record]]:
    """(jobs to run, records reused, records refused): in a local output folder, its own earlier
    outputs are not inputs, and a job whose output would replace another input is refused."""
    folder = sink.folder
    if folder is not None and manifest is not None:
        listed = drop_own_outputs(listed, folder, manifest)
    jobs, reused = split_done(listed, manifest, settings, sink.out_size, source.digest, rehash)
    refused: list[Record] = []
    if folder is not None:
        jobs, refused = refuse_overwrites(jobs, folder, settings)
    return jobs, reused, refused


def process_job(job: Job, task: Task, detector: Detector, progress: FileProgress | None = None) -> Record:
    """batch.process_file for a job wherever its input and output are: a URI is copied to this
    worker's disk, processed there, and the output uploaded. Never raises for a bad file: a
    download or upload that fails is that file's error, as a decoding one is."""
    if not is_uri(job.src) and (task.out is None or not is_uri(task.out)):
        out = None if task.out is None else Path(task.out)
        return process_file(Path(job.src), job.rel, Path(task.root), out, detector, task.opts, task.settings, progress)
    done = guarded(job.rel, lambda: _through_local_disk(job, task, detector))
    if isinstance(done, Failed):
        return Record(job.rel, "failed", task.settings, job.size, job.mtime_ns, error=done.error)
    return done


def _through_local_disk(job: Job, task: Task, detector: Detector) -> Record:
    assert task.out is not None
    with tempfile.TemporaryDirectory(prefix="unseen-") as tmp:
        root, out = Path(task.root), Path(task.out)
        local = Path(job.src)
        if is_uri(job.src):
            root = Path(tmp, "in")
            local = root / job.rel
            local.parent.mkdir(parents=True, exist_ok=True)
            fetch(job.src, local)
        if is_uri(task.out):
            out = Path(tmp, "out")
        rec = process_file(local, job.rel, root, out, detector, task.opts, task.settings)
        rec.size, rec.mtime_ns = job.size, job.mtime_ns
        if rec.ok and rec.output is not None and is_uri(task.out):
            put(out / rec.output, f"{task.out.rstrip('/')}/{rec.output}")
        return rec
