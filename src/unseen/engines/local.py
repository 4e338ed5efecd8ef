"""Local engine: a pool of worker processes on one machine, resumable through the manifest.

Each worker loads the detector once (in its initializer) and then takes one file at a time, so a
slow video never holds up the photos behind it and memory stays at one file per worker. Only the
parent process writes the manifest, one fsync'ed line per finished file, in finishing order.

Workers are started with "spawn", not "fork": the parent runs rich's refresh thread, and forking a
threaded process can deadlock. The cost is one import and detector load per worker (about a second).

Every worker, and the one-worker path in this process, runs inference on `INFERENCE_THREADS`
threads (see batch.py): a file's plan and output bytes do not depend on the worker count.

Workers die with the parent: killed with SIGKILL (kill -9, the OOM killer), the parent cannot
stop them, so each worker asks the kernel for SIGKILL when its parent goes (PR_SET_PDEATHSIG)
and watches its parent's pid as well (where prctl is missing); otherwise they would go on
writing outputs into a folder nobody is resuming, then idle with their memory for ever.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from unseen.detect.base import Detector
from unseen.detect.centerface import usable_cores
from unseen.engines.batch import (
    BatchProgress,
    Job,
    Summary,
    drop_own_outputs,
    load_detector,
    local_digest,
    local_stat,
    process_file,
    refuse_overwrites,
    split_done,
)
from unseen.engines.manifest import Manifest, Record, settings_key
from unseen.inputs import discover
from unseen.options import Options
from unseen.output import check_output_folder, set_temp_tag, temp_tag

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 0.5


def run_local(
    inputs: list[Path],
    out_dir: Path | None,
    opts: Options,
    workers: int | None = None,
    quiet: bool = False,
    on_record: Callable[[Record], None] | None = None,
    rehash: bool = False,
    state_dir: Path | None = None,
) -> Summary:
    """Anonymise every input into `out_dir` with `workers` processes (default: all cores).

    With an output folder the batch is resumable: inputs recorded as done with the same settings
    are skipped, changed ones redone (`rehash`: judged by content hash, not size and mtime); the
    record is kept in `state_dir` (engines.manifest), never in the output folder. Without one,
    outputs go beside the inputs and nothing is recorded. `on_record` sees each record as it is
    written (tests, benchmarks)."""
    t0 = time.monotonic()
    out = Path(os.path.abspath(out_dir)) if out_dir is not None else None
    if out is not None:
        check_output_folder(out, inputs)
    root, files, left_out = discover(inputs, opts.follow_symlinks)
    settings = settings_key(opts)
    manifest: Manifest | None = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(str(out), out, state_dir)
    try:
        pairs = [(str(f), f.relative_to(root).as_posix()) for f in files]
        refused: list[Record] = []
        if out is not None and manifest is not None:
            pairs = drop_own_outputs(pairs, out, manifest)
        jobs, reused = split_done(pairs, manifest, settings, local_stat, _out_size(out), local_digest, rehash)
        if out is not None:
            jobs, refused = refuse_overwrites(jobs, out, settings)
        n = max(1, min(workers or usable_cores(), len(jobs)))
        summary = Summary(str(root), opts, skipped=reused, workers=n, failed=refused, left_out=left_out)
        if manifest is not None:
            summary.notes += manifest.notes

        def record(rec: Record) -> None:
            if manifest is not None:
                manifest.append(rec)
            (summary.done if rec.ok else summary.failed).append(rec)
            bar.finished(rec)
            if on_record is not None:
                on_record(rec)

        with BatchProgress(len(jobs), len(reused), quiet) as bar:
            if n == 1:
                _serial(jobs, root, out, opts, settings, bar, record)
            else:
                _pool(jobs, root, out, opts, settings, n, bar, record)
    finally:
        if manifest is not None:
            manifest.close()
    if manifest is not None and manifest.error is not None:
        summary.errors.append(manifest.error)
    summary.seconds = time.monotonic() - t0
    return summary


def _out_size(out: Path | None) -> Callable[[str], int | None]:
    def size(rel: str) -> int | None:
        if out is None:
            return None
        try:
            return os.stat(out / rel).st_size
        except OSError:
            return None

    return size


def _serial(
    jobs: list[Job],
    root: Path,
    out: Path | None,
    opts: Options,
    settings: str,
    bar: BatchProgress,
    record: Callable[[Record], None],
) -> None:
    if not jobs:
        return
    detector = load_detector(opts.detector)
    for job in jobs:
        record(process_file(Path(job.src), job.rel, root, out, detector, opts, settings, bar.file_progress))


# ---- worker side: module globals set once per process by the initializer ----

_detector: Detector | None = None
_opts: Options | None = None
_queue: Any = None


def _init(opts: Options, progress: Any, tag: str, parent: int) -> None:
    """One worker: dies with `parent`; writes temporaries under the batch's `tag`; single-threaded
    OpenCV too, since the cores are shared out as workers."""
    global _detector, _opts, _queue
    _die_with(parent)
    set_temp_tag(tag)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    _detector = load_detector(opts.detector)
    _opts = opts
    _queue = progress


def _die_with(parent: int) -> None:
    """End this process when `parent` ends, however it ends (kill -9 included)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="unseen-parent-watch").start()


def _task(src: str, rel: str, root: str, out: str | None, settings: str) -> Record:
    assert _detector is not None and _opts is not None
    last = [0.0]

    def progress(file: str, fraction: float, frames: int) -> None:
        now = time.monotonic()
        if _queue is not None and now - last[0] > 0.5:
            last[0] = now
            with contextlib.suppress(queue_mod.Full):
                _queue.put_nowait((file, fraction, frames))

    out_dir = Path(out) if out is not None else None
    return process_file(Path(src), rel, Path(root), out_dir, _detector, _opts, settings, progress)


def _pool(
    jobs: list[Job],
    root: Path,
    out: Path | None,
    opts: Options,
    settings: str,
    n: int,
    bar: BatchProgress,
    record: Callable[[Record], None],
) -> None:
    """Run jobs on n workers, at most 2n queued at once. If a worker dies (out of memory, a crash
    in a codec), the pool is rebuilt and its in-flight files retried once; a file in flight during
    two deaths is reported failed, so one poisonous file cannot stop the batch."""
    ctx = mp.get_context("spawn")
    progress_q = ctx.Queue(1000)
    strikes: dict[str, int] = {}
    todo: Iterator[Job] = iter(jobs)
    retry: list[Job] = []
    while True:
        pending: dict[Future[Record], Job] = {}
        init = (opts, progress_q, temp_tag(), os.getpid())
        ex = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init, initargs=init)
        broken = False
        try:
            while True:
                while len(pending) < 2 * n and not broken:
                    job = retry.pop() if retry else next(todo, None)
                    if job is None:
                        break
                    try:
                        fut = ex.submit(_task, job.src, job.rel, str(root), None if out is None else str(out), settings)
                    except BrokenProcessPool:
                        retry.append(job)
                        broken = True
                        break
                    pending[fut] = job
                if not pending:
                    break
                finished, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(progress_q, bar)
                for fut in finished:
                    job = pending.pop(fut)
                    try:
                        record(fut.result())
                    except BrokenProcessPool:
                        broken = True
                        strikes[job.rel] = strikes.get(job.rel, 0) + 1
                        if strikes[job.rel] >= 2:
                            record(_died(job, settings))
                        else:
                            retry.append(job)
        except KeyboardInterrupt:
            ex.shutdown(wait=True, cancel_futures=True)
            raise
        ex.shutdown(wait=True, cancel_futures=True)
        if not broken:
            return


def _died(job: Job, settings: str) -> Record:
    size_mtime = local_stat(job.src) or (0, 0)
    return Record(
        job.rel,
        "failed",
        settings,
        *size_mtime,
        error=f"{job.rel}: the worker process died while processing it (out of memory, or a crash in a decoder)",
    )


def _drain(q: Any, bar: BatchProgress) -> None:
    for _ in range(1000):
        try:
            file, fraction, frames = q.get_nowait()
        except queue_mod.Empty:
            return
        bar.file_progress(file, fraction, frames)
