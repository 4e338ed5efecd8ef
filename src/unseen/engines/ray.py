"""Ray engine: the executor that runs a batch's files on Ray Data, on this machine or a cluster.

The driver (engines.driver) lists the inputs (local folders, or any URI pyarrow knows:
engines.storage), drops those the manifest records as done, and hands the rest here. They
become a dataset with one row (one block) per file, and `map_batches` runs them on an actor
pool: each actor loads the detector once, asks for a GPU when the cluster has any, and turns
each job into a record through driver.process_job (reading its file, writing the output itself
to a hidden temporary name, renamed into place only when complete). The records stream back
to the driver, which appends each to the manifest exactly as for the local engine.

Rows carry paths, not bytes: a two-hour video must not travel through the object store, and the
photo path is the one the video path needs anyway. Object-storage files are copied to the actor's
local disk, processed, and the output uploaded under a hidden `.part` name then moved into place.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from unseen.detect.centerface import usable_cores
from unseen.engines.batch import BatchProgress, Job, Summary, load_detector
from unseen.engines.driver import Task, drive, process_job
from unseen.engines.manifest import Record
from unseen.engines.storage import Sink, Source, as_uri, is_uri
from unseen.engines.storage import list_inputs as list_inputs  # where callers of this engine find it
from unseen.errors import UnseenError
from unseen.options import Options
from unseen.output import set_temp_tag

LOCAL_OBJECT_STORE = 500 * 1024**2  # a laptop-sized local instance; a cluster sets its own


def run_ray(
    inputs: list[Path] | list[str],
    out: Path | str | None,
    opts: Options,
    address: str | None = None,
    workers: int | None = None,
    quiet: bool = False,
    on_record: Callable[[Record], None] | None = None,
    rehash: bool = False,
    state_dir: Path | None = None,
) -> Summary:
    """Anonymise every input into `out` on Ray, through the one driver as `run_local` (resumable,
    `rehash` too: the driver then hashes every input recorded as done, objects included). The
    manifest is kept in `state_dir` on the driver's machine, for object-storage outputs too.

    `address` None starts a local Ray instance (and stops it at the end); otherwise connects to
    that cluster (`auto`, `ray://head:10001`). `workers`: actors (default: one per GPU if the
    cluster has GPUs, else one per CPU)."""
    if out is None:
        raise UnseenError("--engine ray needs an output folder: -o OUT (a local folder or s3://bucket/prefix)")
    try:
        import ray  # noqa: F401 - checked here, before anything is listed or locked
        import ray.data  # noqa: F401
    except ImportError as e:
        raise UnseenError("the Ray engine needs Ray: pip install 'unseen[ray]'") from e
    out_uri = as_uri(out)
    sink = Sink(out_uri if is_uri(out_uri) else os.path.abspath(out_uri))
    source = Source([as_uri(p) for p in inputs], opts.follow_symlinks)
    return drive(source, sink, RayActors(address, workers), opts, quiet, on_record, rehash, state_dir)


class RayActors:
    """A pool of Ray actors, one GPU each when the cluster has GPUs (else one CPU each)."""

    engine = "ray"
    label = "anonymising on ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address, self.workers = address, workers
        self.started = False
        self.gpus = 0
        self.n = 1

    def start(self, jobs: int) -> int:
        import ray

        self.started = _start_ray(self.address, self.workers)
        _quiet_ray_data()
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.gpus = int(resources.get("GPU", 0))
        self.n = max(1, min(self.workers or self.gpus or int(resources.get("CPU", 1)), jobs))
        return self.n

    def records(self, jobs: list[Job], task: Task, bar: BatchProgress) -> Generator[Record, None, None]:
        """Records as the actors finish; if the cluster fails, every job not done yet is failed
        with the reason (fail closed: nothing is reported done that was not)."""
        import ray.data

        ds = ray.data.from_items(
            [{"src": j.src, "rel": j.rel, "size": j.size, "mtime_ns": j.mtime_ns} for j in jobs],
            override_num_blocks=len(jobs),
        ).map_batches(
            _Worker,
            fn_constructor_kwargs={"task": asdict(task), "gpu": self.gpus > 0},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=self.n),
            num_cpus=1,
            num_gpus=1 if self.gpus else 0,
        )
        seen: set[str] = set()
        try:
            for row in ds.iter_rows():
                rec = Record.from_json(json.loads(row["record"]))
                seen.add(rec.path)
                yield rec
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the cluster failed: report every file left, fail closed
            reason = f"Ray failed before this file was done: {type(e).__name__}: {str(e)[:300]}"
            for j in jobs:
                if j.rel not in seen:
                    yield Record(j.rel, "failed", task.settings, j.size, j.mtime_ns, error=f"{j.rel}: {reason}")

    def close(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


class _Worker:
    """One Ray actor: loads the detector once, then anonymises one file per call."""

    def __init__(self, task: dict[str, Any], gpu: bool) -> None:
        import cv2

        cv2.setNumThreads(1)
        self.task = Task(**{**task, "opts": Options(**task["opts"])})
        set_temp_tag(self.task.tag)  # the driver's resume state records it: its temporaries can be swept
        self.detector = load_detector(self.task.opts.detector, gpu)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        recs = []
        for src, rel, size, mtime in zip(batch["src"], batch["rel"], batch["size"], batch["mtime_ns"], strict=True):
            rec = process_job(Job(str(src), str(rel), int(size), int(mtime)), self.task, self.detector)
            recs.append(json.dumps(rec.to_json()))
        return {"record": recs}


def _start_ray(address: str | None, workers: int | None) -> bool:
    """Connect to `address`, or start a small local instance. True if this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance bound to this machine
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # Ray reports cluster usage to its makers otherwise
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address is None:
        kwargs |= {
            "num_cpus": workers or usable_cores(),
            "object_store_memory": LOCAL_OBJECT_STORE,
            "include_dashboard": False,
        }
    ray.init(address=address, **kwargs)
    return True


def _quiet_ray_data() -> None:
    """Our progress bar is the one the user reads; Ray Data's own bars and INFO lines are noise."""
    import ray.data

    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
