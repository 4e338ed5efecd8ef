"""Local engine: the executors that run a batch on this machine, in this process (`Serial`) or in a
pool of worker processes (`Pool`); what a batch means (resume, refusals, records) is engines.driver's.

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
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from unseen.detect.base import Detector
from unseen.detect.centerface import usable_cores
from unseen.engines.batch import BatchProgress, Job, Summary, load_detector
from unseen.engines.driver import Executor, Task, drive, process_job
from unseen.engines.manifest import Record
from unseen.engines.storage import Sink, Source
from unseen.options import Options
from unseen.output import set_temp_tag

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
    """Anonymise every input into `out_dir` with `workers` processes (default: all cores), through
    the one driver (engines.driver.drive: resumable with an output folder, `rehash`, `state_dir`).
    Without an output folder, outputs go beside the inputs and nothing is recorded."""
    sink = Sink(None if out_dir is None else os.path.abspath(out_dir))
    source = Source([str(p) for p in inputs], opts.follow_symlinks)
    return drive(source, sink, Local(workers), opts, quiet, on_record, rehash, state_dir)


class Local:
    """`workers` processes (default: the cores this process may use), never more than files; one
    worker is this process (Serial), more a spawned pool (Pool)."""

    engine = "local"
    label = "anonymising"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.chosen: Executor = Serial()

    def start(self, jobs: int) -> int:
        n = max(1, min(self.workers or usable_cores(), jobs))
        self.chosen = Serial() if n == 1 else Pool(n)
        return self.chosen.start(jobs)

    def records(self, jobs: list[Job], task: Task, bar: BatchProgress) -> Generator[Record, None, None]:
        return self.chosen.records(jobs, task, bar)

    def close(self) -> None:
        self.chosen.close()


class Serial:
    """Every job in this process, one after the other, on one detector."""

    engine = "local"
    label = "anonymising"

    def start(self, jobs: int) -> int:
        return 1

    def records(self, jobs: list[Job], task: Task, bar: BatchProgress) -> Generator[Record, None, None]:
        detector = load_detector(task.opts.detector)
        for job in jobs:
            yield process_job(job, task, detector, bar.file_progress)

    def close(self) -> None:
        pass


class Pool:
    """`n` spawned worker processes, at most 2n jobs queued at once. If a worker dies (out of
    memory, a crash in a codec), the pool is rebuilt and its in-flight files retried once; a
    file in flight during two deaths is reported failed, so one poisonous file cannot stop the batch."""

    engine = "local"
    label = "anonymising"

    def __init__(self, n: int) -> None:
        self.n = n

    def start(self, jobs: int) -> int:
        return self.n

    def records(self, jobs: list[Job], task: Task, bar: BatchProgress) -> Generator[Record, None, None]:
        ctx = mp.get_context("spawn")
        progress_q = ctx.Queue(1000)
        strikes: dict[str, int] = {}
        todo: Iterator[Job] = iter(jobs)
        retry: list[Job] = []
        while True:
            pending: dict[Future[Record], Job] = {}
            init = (task, progress_q, os.getpid())
            ex = ProcessPoolExecutor(self.n, mp_context=ctx, initializer=_init, initargs=init)
            broken = False
            try:
                while True:
                    while len(pending) < 2 * self.n and not broken:
                        job = retry.pop() if retry else next(todo, None)
                        if job is None:
                            break
                        try:
                            fut = ex.submit(_task, job)
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
                            yield fut.result()
                        except BrokenProcessPool:
                            broken = True
                            strikes[job.rel] = strikes.get(job.rel, 0) + 1
                            if strikes[job.rel] >= 2:
                                yield _died(job, task.settings)
                            else:
                                retry.append(job)
            except (KeyboardInterrupt, GeneratorExit):
                ex.shutdown(wait=True, cancel_futures=True)
                raise
            ex.shutdown(wait=True, cancel_futures=True)
            if not broken:
                return

    def close(self) -> None:
        pass


# ---- worker side: module globals set once per process by the initializer ----

_detector: Detector | None = None
_batch: Task | None = None
_queue: Any = None


def _init(task: Task, progress: Any, parent: int) -> None:
    """One worker: dies with `parent`; writes temporaries under the batch's tag; single-threaded
    OpenCV too, since the cores are shared out as workers."""
    global _detector, _batch, _queue
    _die_with(parent)
    set_temp_tag(task.tag)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    _detector = load_detector(task.opts.detector)
    _batch = task
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


def _task(job: Job) -> Record:
    assert _detector is not None and _batch is not None
    last = [0.0]

    def progress(file: str, fraction: float, frames: int) -> None:
        now = time.monotonic()
        if _queue is not None and now - last[0] > 0.5:
            last[0] = now
            with contextlib.suppress(queue_mod.Full):
                _queue.put_nowait((file, fraction, frames))

    return process_job(job, _batch, _detector, progress)


def _died(job: Job, settings: str) -> Record:
    return Record(
        job.rel,
        "failed",
        settings,
        job.size,
        job.mtime_ns,
        error=f"{job.rel}: the worker process died while processing it (out of memory, or a crash in a decoder)",
    )


def _drain(q: Any, bar: BatchProgress) -> None:
    for _ in range(1000):
        try:
            file, fraction, frames = q.get_nowait()
        except queue_mod.Empty:
            return
        bar.file_progress(file, fraction, frames)
