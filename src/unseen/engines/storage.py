"""Where a batch reads and writes: a `Source` (the inputs) and a `Sink` (the output folder), each
either on this machine or on any filesystem pyarrow opens by URI (s3://, gs://, abfs://, hdfs://,
file://).

The driver (engines.driver) asks a source for its files, their size and mtime, and a file's
SHA-256; a sink for an existing output's size and for the resume state of its folder. A worker
that meets a URI copies the input to its local disk, processes it there and uploads the output
(`fetch`, `put`): a two-hour video never travels through anything but files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from unseen.engines.manifest import OLD_MANIFEST_NAME, Manifest
from unseen.errors import UnseenError
from unseen.inputs import OUTPUT_TAG, discover, sha256, sha256_stream
from unseen.media.kind import MEDIA_SUFFIXES
from unseen.output import check_output_folder


def as_uri(p: Path | str) -> str:
    """`s3://b/k` as typed; argparse's Path() folds it to `s3:/b/k`, which is put back here."""
    s = str(p)
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/(?!/)", s)
    return f"{m.group(1)}://{s[m.end() :]}" if m else s


def is_uri(s: str) -> bool:
    """A location for pyarrow; a local path never holds `//` once Path or abspath has seen it."""
    return "://" in s


def _fs(uri: str) -> tuple[Any, str]:
    from pyarrow import fs as pafs

    try:
        found: tuple[Any, str] = pafs.FileSystem.from_uri(uri)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for unknown schemes
        raise UnseenError(f"{uri}: cannot open this location with pyarrow ({e})") from e
    return found


class Listed(NamedTuple):
    """One input found: where to read it (a path or a URI), its name relative to the input root,
    and (size, mtime_ns) as listed, None where it could not be read."""

    src: str
    rel: str
    stat: tuple[int, int] | None


def list_inputs(inputs: list[str], follow_symlinks: bool) -> tuple[str, list[Listed], list[str]]:
    """(root, the inputs found, files left out (rel)) for local paths or one folder URI. Local
    folders are read by content (inputs.discover); objects are taken by suffix only: reading
    each to sniff it would download it."""
    if not any(is_uri(i) for i in inputs):
        root, files, left_out = discover([Path(i) for i in inputs], follow_symlinks)
        return str(root), [Listed(str(f), f.relative_to(root).as_posix(), local_stat(str(f))) for f in files], left_out
    if len(inputs) != 1:
        raise UnseenError("with an object-storage input, give exactly one folder (a URI prefix)")
    from pyarrow import fs as pafs

    fs, base = _fs(inputs[0])
    base = base.rstrip("/")
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=False))
    scheme = inputs[0].split("://", 1)[0]
    found: list[Listed] = []
    left: list[str] = []
    for info in sorted(infos, key=lambda i: i.path):
        p = Path(info.path)
        if info.type != pafs.FileType.File or OUTPUT_TAG in p.suffixes:
            continue
        rel = info.path[len(base) :].lstrip("/")
        if p.suffix.lower() not in MEDIA_SUFFIXES:
            left.append(rel)
            continue
        found.append(Listed(f"{scheme}://{info.path}", rel, (int(info.size or 0), int(info.mtime_ns or 0))))
    return inputs[0].rstrip("/"), found, left


def local_stat(src: str) -> tuple[int, int] | None:
    try:
        st = os.stat(src)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class Source:
    """The inputs of a batch: local files and folders, or one folder URI (`as_uri` first)."""

    inputs: list[str]
    follow_symlinks: bool = False

    def local(self) -> list[Path]:
        """The inputs on this machine (an output folder must lie outside them)."""
        return [Path(i) for i in self.inputs if not is_uri(i)]

    def list(self) -> tuple[str, list[Listed], list[str]]:
        return list_inputs(self.inputs, self.follow_symlinks)

    def digest(self, src: str) -> str:
        """SHA-256 of a local file or an object (streamed through this process, not stored)."""
        if not is_uri(src):
            return sha256(Path(src))
        fs, path = _fs(src)
        with fs.open_input_stream(path) as f:
            return sha256_stream(f)


@dataclass(frozen=True)
class Sink:
    """Where the outputs go: `where` is an absolute local folder or a URI; None writes each output
    beside its input (NAME.unseen.EXT), and then nothing is recorded for resuming."""

    where: str | None

    @property
    def folder(self) -> Path | None:
        """The output folder when it is on this machine (locked, swept, checked against the inputs)."""
        return Path(self.where) if self.where is not None and not is_uri(self.where) else None

    def check(self, source: Source) -> None:
        """Refuse an output folder that is a file, or inside or around the inputs (output.check_output_folder)."""
        if self.folder is not None:
            check_output_folder(self.folder, source.local())

    def open_manifest(self, state_dir: Path | None) -> Manifest | None:
        """The resume state of this folder (engines.manifest), locked for the batch; None beside the inputs."""
        if self.where is None:
            return None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            return Manifest(self.where, self.folder, state_dir)
        manifest = Manifest(self.where, None, state_dir)
        try:
            self._adopt_old_manifest(manifest)
        except BaseException:
            manifest.close()
            raise
        return manifest

    def _adopt_old_manifest(self, manifest: Manifest) -> None:
        """Move a manifest an older unseen kept in an object-storage output folder into the state,
        and delete it there: the published prefix must not tie outputs to their originals."""
        from pyarrow import fs as pafs

        assert self.where is not None
        fs, base = _fs(self.where)
        old = f"{base.rstrip('/')}/{OLD_MANIFEST_NAME}"
        if fs.get_file_info(old).type != pafs.FileType.File:
            return
        with fs.open_input_stream(old) as f:
            manifest.adopt(f.read())
        fs.delete_file(old)
        manifest.notes.append(
            f"moved the resume state out of the output folder: {self.where.rstrip('/')}/{OLD_MANIFEST_NAME} "
            f"(it tied each output to its original) is now kept in {manifest.path}"
        )

    def out_size(self, rel: str) -> int | None:
        """The size of the output `rel` (relative to the folder), None if there is none."""
        if self.where is None:
            return None
        if not is_uri(self.where):
            stat = local_stat(os.path.join(self.where, rel))
            return None if stat is None else stat[0]
        from pyarrow import fs as pafs

        fs, base = _fs(self.where)
        info = fs.get_file_info(f"{base.rstrip('/')}/{rel}")
        return int(info.size) if info.type == pafs.FileType.File else None


def fetch(uri: str, dest: Path) -> None:
    """Copy the object `uri` to the local file `dest`."""
    fs, path = _fs(uri)
    with fs.open_input_stream(path) as src, open(dest, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)


def put(local: Path, uri: str) -> None:
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
