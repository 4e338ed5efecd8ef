"""Ray engine: the same per-file pipeline on Ray Data, on this machine or a cluster.

The driver lists the inputs (local folders, or any URI pyarrow knows: s3://, gs://, abfs://,
hdfs://, file://), drops those the manifest records as done, and turns the rest into a dataset
with one row (one block) per file. `map_batches` runs them on an actor pool: each actor loads the
detector once, asks for a GPU when the cluster has any, reads its file, writes the output itself
(to a hidden temporary name, renamed into place only when complete) and returns a record. The
driver appends each record to the manifest as results stream back, exactly as the local engine.

Rows carry paths, not bytes: a two-hour video must not travel through the object store, and the
photo path is the one the video path needs anyway. Object-storage files are copied to the actor's
local disk, processed, and the output uploaded under a hidden `.part` name then moved into place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from unseen.detect.centerface import usable_cores
from unseen.engines.batch import (
    BatchProgress,
    Summary,
    drop_own_outputs,
    load_detector,
    local_digest,
    process_file,
    refuse_overwrites,
    split_done,
)
from unseen.engines.manifest import OLD_MANIFEST_NAME, Manifest, Record, settings_key
from unseen.errors import UnseenError
from unseen.guard import Failed, guarded
from unseen.inputs import OUTPUT_TAG, discover, sha256_stream
from unseen.media.kind import MEDIA_SUFFIXES
from unseen.options import Options
from unseen.output import check_output_folder, set_temp_tag

LOCAL_OBJECT_STORE = 500 * 1024**2  # a laptop-sized local instance; a cluster sets its own


def as_uri(p: Path | str) -> str:
    """`s3://b/k` as typed; argparse's Path() folds it to `s3:/b/k`, which is put back here."""
    s = str(p)
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/(?!/)", s)
    return f"{m.group(1)}://{s[m.end() :]}" if m else s


def is_uri(s: str) -> bool:
    return "://" in s


def _fs(uri: str) -> tuple[Any, str]:
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for unknown schemes
        raise UnseenError(f"{uri}: cannot open this location with pyarrow ({e})") from e


def list_inputs(inputs: list[str], follow_symlinks: bool) -> tuple[str, list[tuple[str, str, int, int]], list[str]]:
    """(root, [(source, rel, size, mtime_ns)], files left out (rel)) for local paths or one
    folder URI. Objects are taken by suffix only: reading each to sniff it would download it."""
    if not any(is_uri(i) for i in inputs):
        root, files, left_out = discover([Path(i) for i in inputs], follow_symlinks)
        out = []
        for f in files:
            st = f.stat()
            out.append((str(f), f.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
        return str(root), out, left_out
    if len(inputs) != 1:
        raise UnseenError("with an object-storage input, give exactly one folder (a URI prefix)")
    from pyarrow import fs as pafs

    fs, base = _fs(inputs[0])
    base = base.rstrip("/")
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=False))
    scheme = inputs[0].split("://", 1)[0]
    found: list[tuple[str, str, int, int]] = []
    left: list[str] = []
    for info in sorted(infos, key=lambda i: i.path):
        p = Path(info.path)
        if info.type != pafs.FileType.File or OUTPUT_TAG in p.suffixes:
            continue
        rel = info.path[len(base) :].lstrip("/")
        if p.suffix.lower() not in MEDIA_SUFFIXES:
            left.append(rel)
            continue
        found.append((f"{scheme}://{info.path}", rel, int(info.size or 0), int(info.mtime_ns or 0)))
    return inputs[0].rstrip("/"), found, left


def adopt_remote_manifest(manifest: Manifest, out_uri: str) -> None:
    """Move a manifest an older unseen kept in an object-storage output folder into the state,
    and delete it there: the published prefix must not tie outputs to their originals."""
    from pyarrow import fs as pafs

    fs, base = _fs(out_uri)
    old = f"{base.rstrip('/')}/{OLD_MANIFEST_NAME}"
    if fs.get_file_info(old).type != pafs.FileType.File:
        return
    with fs.open_input_stream(old) as f:
        manifest.adopt(f.read())
    fs.delete_file(old)
    manifest.notes.append(
        f"moved the resume state out of the output folder: {out_uri.rstrip('/')}/{OLD_MANIFEST_NAME} "
        f"(it tied each output to its original) is now kept in {manifest.path}"
    )


class _Worker:
    """One Ray actor: loads the detector once, then anonymises one file per call."""

    def __init__(self, opts: dict[str, Any], root: str, out: str, settings: str, gpu: bool, tag: str) -> None:
        import cv2

        cv2.setNumThreads(1)
        set_temp_tag(tag)  # the driver's resume state records it: its temporaries can be swept
        self.opts = Options(**opts)
        self.root, self.out, self.settings = root, out, settings
        self.detector = load_detector(self.opts.detector, gpu)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        recs = []
        for src, rel, size, mtime in zip(batch["src"], batch["rel"], batch["size"], batch["mtime_ns"], strict=True):
            rec = self.one(str(src), str(rel), int(size), int(mtime))
            recs.append(json.dumps(rec.to_json()))
        return {"record": recs}

    def one(self, src: str, rel: str, size: int, mtime_ns: int) -> Record:
        """One file, never raising (guard.guarded: a download or upload that fails is that
        file's error, as a decoding one is, and the actor goes on to the next)."""
        done = guarded(rel, lambda: self._one(src, rel, size, mtime_ns))
        if isinstance(done, Failed):
            return Record(rel, "failed", self.settings, size, mtime_ns, error=done.error)
        return done

    def _one(self, src: str, rel: str, size: int, mtime_ns: int) -> Record:
        if not is_uri(src) and not is_uri(self.out):
            return process_file(
                Path(src), rel, Path(self.root), Path(self.out), self.detector, self.opts, self.settings
            )
        with tempfile.TemporaryDirectory(prefix="unseen-") as tmp:
            root, out = Path(self.root), Path(self.out)
            local = Path(src)
            if is_uri(src):
                root = Path(tmp, "in")
                local = root / rel
                local.parent.mkdir(parents=True, exist_ok=True)
                _download(src, local)
            if is_uri(self.out):
                out = Path(tmp, "out")
            rec = process_file(local, rel, root, out, self.detector, self.opts, self.settings)
            rec.size, rec.mtime_ns = size, mtime_ns
            if rec.ok and rec.output is not None and is_uri(self.out):
                _upload(out / rec.output, f"{self.out.rstrip('/')}/{rec.output}")
            return rec


def _digest(src: str) -> str:
    """SHA-256 of a local file or an object (streamed through this process, not stored)."""
    if not is_uri(src):
        return local_digest(src)
    fs, path = _fs(src)
    with fs.open_input_stream(path) as f:
        return sha256_stream(f)


def _download(uri: str, dest: Path) -> None:
    fs, path = _fs(uri)
    with fs.open_input_stream(path) as src, open(dest, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)


def _upload(local: Path, uri: str) -> None:
    """Upload under a hidden `.part` name, then move into place: a reader never sees half a file
    under the final name (object stores publish an object only when its upload completes, and
    the move is a server-side copy)."""
    fs, path = _fs(uri)
    parent, name = path.rsplit("/", 1)
    part = f"{parent}/.{name}.{os.getpid()}.part"
    fs.create_dir(parent, recursive=True)
    try:
        with open(local, "rb") as f, fs.open_output_stream(part) as out:
            shutil.copyfileobj(f, out, 1 << 20)
        fs.move(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(part)
        raise


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
    """Anonymise every input into `out` on Ray; resumable through the manifest like `run_local`
    (`rehash` too: the driver then hashes every input recorded as done, objects included). The
    manifest is kept in `state_dir` on the driver's machine, for object-storage outputs too.

    `address` None starts a local Ray instance (and stops it at the end); otherwise connects to
    that cluster (`auto`, `ray://head:10001`). `workers`: actors (default: one per GPU if the
    cluster has GPUs, else one per CPU)."""
    if out is None:
        raise UnseenError("--engine ray needs an output folder: -o OUT (a local folder or s3://bucket/prefix)")
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise UnseenError("the Ray engine needs Ray: pip install 'unseen[ray]'") from e
    t0 = time.monotonic()
    in_uris = [as_uri(p) for p in inputs]
    out_uri = as_uri(out)
    if not is_uri(out_uri):
        out_uri = os.path.abspath(out_uri)
        check_output_folder(Path(out_uri), [Path(i) for i in in_uris if not is_uri(i)])
    root, listed, left_out = list_inputs(in_uris, opts.follow_symlinks)
    info = {rel: (size, mtime) for _, rel, size, mtime in listed}
    by_src = {src: rel for src, rel, *_ in listed}
    settings = settings_key(opts)

    manifest: Manifest
    if is_uri(out_uri):
        out_fs, out_base = _fs(out_uri)
        manifest = Manifest(out_uri, None, state_dir)
    else:
        Path(out_uri).mkdir(parents=True, exist_ok=True)
        manifest = Manifest(out_uri, Path(out_uri), state_dir)
        out_fs, out_base = None, out_uri
    started = False
    try:
        if is_uri(out_uri):
            adopt_remote_manifest(manifest, out_uri)
        pairs = [(src, rel) for src, rel, *_ in listed]
        refused: list[Record] = []
        if not is_uri(out_uri):
            pairs = drop_own_outputs(pairs, Path(out_uri), manifest)
        jobs, reused = split_done(
            pairs,
            manifest,
            settings,
            lambda src: info.get(by_src[src]),
            _out_size(out_fs, out_base),
            _digest,
            rehash,
        )
        if not is_uri(out_uri):
            jobs, refused = refuse_overwrites(jobs, Path(out_uri), settings)
        summary = Summary(root, opts, skipped=reused, failed=refused, engine="ray", left_out=left_out)
        summary.notes += manifest.notes
        with BatchProgress(len(jobs), len(reused), quiet, label="anonymising on ray") as bar:
            if jobs:
                started = _start_ray(address, workers)
                _quiet_ray_data()
                resources = ray.cluster_resources()
                gpus = int(resources.get("GPU", 0))
                n = max(1, min(workers or gpus or int(resources.get("CPU", 1)), len(jobs)))
                summary.workers = n
                ds = ray.data.from_items(
                    [{"src": j.src, "rel": j.rel, "size": info[j.rel][0], "mtime_ns": info[j.rel][1]} for j in jobs],
                    override_num_blocks=len(jobs),
                ).map_batches(
                    _Worker,
                    fn_constructor_kwargs={
                        "opts": asdict(opts),
                        "root": root,
                        "out": out_uri,
                        "settings": settings,
                        "gpu": gpus > 0,
                        "tag": manifest.tag,
                    },
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=n),
                    num_cpus=1,
                    num_gpus=1 if gpus else 0,
                )
                seen: set[str] = set()
                try:
                    for row in ds.iter_rows():
                        rec = Record.from_json(json.loads(row["record"]))
                        seen.add(rec.path)
                        _record(rec, manifest, summary, bar, on_record)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as e:  # noqa: BLE001 - the cluster failed: report every file left, fail closed
                    reason = f"Ray failed before this file was done: {type(e).__name__}: {str(e)[:300]}"
                    for j in jobs:
                        if j.rel not in seen:
                            size, mtime = info[j.rel]
                            rec = Record(j.rel, "failed", settings, size, mtime, error=f"{j.rel}: {reason}")
                            _record(rec, manifest, summary, bar, on_record)
    finally:
        manifest.close()
        if started:
            ray.shutdown()
    if manifest.error is not None:
        summary.errors.append(manifest.error)
    summary.seconds = time.monotonic() - t0
    return summary


def _record(
    rec: Record, manifest: Manifest, summary: Summary, bar: BatchProgress, on_record: Callable[[Record], None] | None
) -> None:
    manifest.append(rec)
    (summary.done if rec.ok else summary.failed).append(rec)
    bar.finished(rec)
    if on_record is not None:
        on_record(rec)


def _out_size(fs: Any, base: str) -> Callable[[str], int | None]:
    def size(rel: str) -> int | None:
        if fs is None:
            try:
                return os.stat(os.path.join(base, rel)).st_size
            except OSError:
                return None
        from pyarrow import fs as pafs

        info = fs.get_file_info(f"{base.rstrip('/')}/{rel}")
        return int(info.size) if info.type == pafs.FileType.File else None

    return size


def _quiet_ray_data() -> None:
    """Our progress bar is the one the user reads; Ray Data's own bars and INFO lines are noise."""
    import ray.data

    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
