"""What goes in and where it comes out: finding the photos and videos under the inputs (by name,
else by content), their digests, and each output's path, confined to the output folder."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from unseen.errors import MediaError, OutputError, UnseenError
from unseen.media.kind import MEDIA_SUFFIXES, RAW_SUFFIXES, kind
from unseen.plan import MediaPlan, Plan, output_suffix_ok

OUTPUT_TAG = ".unseen"


class Inputs(NamedTuple):
    """What `discover` found: the folder relative paths are taken from, the photos and videos
    to process, and the files in input folders that are neither (not processed, not copied)."""

    root: Path
    files: list[Path]
    left_out: list[str]  # relative to root, as the JSON report gives them


def discover(inputs: list[Path], follow_symlinks: bool = False) -> Inputs:
    """Media files under the inputs, and the folder their relative paths are taken from.

    Folders are walked in sorted order; symlinks that lead out of the tree are skipped unless
    `follow_symlinks`; files that unseen itself wrote (`*.unseen.*`) are never re-processed.
    A file in a folder is taken by its suffix, or by its content where the suffix is not one
    unseen knows (media.kind); a file named on the command line is always taken (and refused
    with the reason if it is not media)."""
    resolved = [Path(os.path.abspath(p)) for p in inputs]
    for p in resolved:
        if not p.exists():
            raise UnseenError(f"{p}: no such file or folder")
        if p.is_dir():
            try:
                os.scandir(p).close()
            except OSError as e:
                raise UnseenError(f"{p}: cannot read this folder ({e.strerror})") from e
    roots = [p if p.is_dir() else p.parent for p in resolved]
    root = Path(os.path.commonpath([str(r) for r in roots]))
    files: list[Path] = []
    left_out: list[Path] = []
    for p in resolved:
        if not p.is_dir():
            files.append(p)
            continue
        for f in _walk(p, follow_symlinks, left_out):
            # Only a regular file is taken: opening a named pipe (even one called x.jpg) would
            # wait forever; a link to nothing is left out (and listed), not a failure. A folder
            # here is one that could not be read: taken, so that it fails with the reason.
            if f.is_dir() or f.is_file() and (f.suffix.lower() in MEDIA_SUFFIXES or kind(f) is not None):
                files.append(f)
            else:
                left_out.append(f)
    seen: set[Path] = set()
    unique = [f for f in files if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]
    return Inputs(root, unique, sorted({f.relative_to(root).as_posix() for f in left_out}))


def _walk(top: Path, follow_symlinks: bool, not_followed: list[Path]) -> Iterator[Path]:
    """Depth-first, sorted, without recursion (os.walk recurses and a folder nested ~1000 deep
    would crash the batch with RecursionError); symlinked folders are entered only when asked,
    and then each real folder once (a link loop ends). Links not followed are added to
    `not_followed`, so that the user hears of the photos they may hold."""
    real_top = top.resolve()
    stack = [top]
    entered = {real_top}
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if folder != top:
                yield folder  # an unreadable folder fails like a file (is_video says why), never in silence
            continue
        subdirs = []
        for entry in entries:
            p = Path(entry.path)
            if entry.is_dir(follow_symlinks=follow_symlinks):
                if entry.is_symlink():
                    real = p.resolve()
                    if real in entered:
                        continue
                    entered.add(real)
                subdirs.append(p)
                continue
            if entry.is_dir():  # a symlinked folder: inside the tree, its files are walked there
                if not p.resolve().is_relative_to(real_top):
                    not_followed.append(p)
                continue
            if OUTPUT_TAG in p.suffixes:
                continue
            if entry.is_symlink() and not follow_symlinks and not p.resolve().is_relative_to(real_top):
                not_followed.append(p)
                continue
            yield p
        stack.extend(reversed(subdirs))


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return sha256_stream(f)


def sha256_stream(f: Any) -> str:
    """SHA-256 of a binary stream read in 1 MiB chunks (a file, or an object-store stream)."""
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def input_paths(plan: Plan) -> frozenset[Path]:
    """Absolute paths of every input of a plan: outputs must never land on one of them."""
    root = Path(plan.root)
    return frozenset(Path(os.path.abspath(root / m.path)) for m in plan.files)


def is_video(path: Path) -> bool:
    """Video by its name or content, or an animated GIF/PNG/WebP: a clip saved as an animation
    is decoded and written as video (`.mp4`), every frame obscured, rather than refused. A file
    that is neither photo nor video is refused here, with the reason."""
    if path.is_dir():
        try:
            os.scandir(path).close()
        except OSError as e:
            raise MediaError(f"{path}: cannot read this folder ({e.strerror}); nothing in it was processed") from e
    if not path.is_file():  # a named pipe would block the first read for ever
        raise MediaError(f"{path}: not a regular file (a folder, a pipe, a device or a broken link)")
    found = kind(path)
    if found is None and path.suffix.lower() in RAW_SUFFIXES:
        raise MediaError(f"{path}: a camera RAW file; develop it to JPEG or TIFF first and run unseen on that")
    if found is None:
        raise MediaError(
            f"{path}: not a photo or video unseen can read (unknown or corrupt format); re-export it from the source"
        )
    return found == "video"


def tagged(rel: str) -> str:
    """The output name used when writing beside the input: `a/b.jpg` -> `a/b.unseen.jpg`."""
    p = Path(rel)
    return p.with_name(p.stem + OUTPUT_TAG + p.suffix).as_posix()


def target(out_dir: Path | None, media: MediaPlan, plan_root: Path) -> Path:
    """The output path for a plan entry: under `out_dir` (mirroring the input tree), or beside
    the input with a `.unseen` tag when `out_dir` is None. Plans are untrusted, so it is refused
    if it would leave the output folder (the plan's root, resolved, when beside the input), also
    through a symlinked folder; if, beside the input, it is not in the input's own folder (no
    folder is ever made there); if its name has no photo or video suffix; or if it would
    overwrite the input."""
    beside = out_dir is None
    if not output_suffix_ok(media.kind, media.output):
        raise OutputError(f"{media.output}: an output must end in a photo or video suffix")
    if beside and PurePosixPath(media.output).parent != PurePosixPath(media.path).parent:
        raise OutputError(f"{media.output}: written beside its input, an output stays in the folder of {media.path}")
    base = Path(os.path.abspath(plan_root if out_dir is None else out_dir))
    dest = Path(os.path.abspath(base / (tagged(media.output) if beside else media.output)))
    if not dest.is_relative_to(base) or not dest.parent.resolve().is_relative_to(base.resolve()):
        raise OutputError(f"{media.output}: output path leaves the output folder {base}")
    if beside and not dest.parent.is_dir():
        raise OutputError(f"{media.path}: input folder {dest.parent} not found; no folder is made beside inputs")
    source = Path(os.path.abspath(Path(plan_root) / media.path))
    if dest == source or (dest.exists() and source.exists() and os.path.samefile(dest, source)):
        raise OutputError(f"{media.path}: output would overwrite the input; choose another output folder with -o")
    return dest
