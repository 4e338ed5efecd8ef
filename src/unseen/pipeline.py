"""scan() finds faces and returns a Plan; apply() renders a Plan; run() is both.

Every output is written to a temporary file in its target folder and renamed into place only
when complete, so a crash, Ctrl-C or error never leaves a partly obscured file under the final
name. Inputs are opened read-only and never renamed, replaced or deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np

from unseen.detect.base import Detector
from unseen.errors import LimitError, MediaError, OutputError, PlanError, UnseenError
from unseen.guard import Failed, guarded
from unseen.media import image
from unseen.media.kind import MEDIA_SUFFIXES, RAW_SUFFIXES, kind
from unseen.obscure import coverage_mask, obscure
from unseen.options import Options, Outcome, Progress
from unseen.plan import MediaPlan, Plan, Region, Settings, check_media, output_suffix_ok
from unseen.regions import photo_regions, regions_for

TEXT_MARGIN = 0.1  # of a text line's box per side: the detector's box already hugs the letters
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
        for f in _walk(p, follow_symlinks):
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


def _walk(top: Path, follow_symlinks: bool) -> Iterator[Path]:
    """Depth-first, sorted, without recursion (os.walk recurses and a folder nested ~1000 deep
    would crash the batch with RecursionError); symlinked folders are entered only when asked,
    and then each real folder once (a link loop ends)."""
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
            if entry.is_dir():
                continue  # a symlinked folder, not followed
            if OUTPUT_TAG in p.suffixes:
                continue
            if entry.is_symlink() and not follow_symlinks and not p.resolve().is_relative_to(real_top):
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


def scan_file(path: Path, rel: str, detector: Detector, opts: Options, progress: Progress | None = None) -> MediaPlan:
    """Detect faces in one file and return its plan entry (nothing is written)."""
    video_file = is_video(path)  # first: it refuses what is not a regular file, which sha256 would wait on
    digest = sha256(path)
    if video_file:
        from unseen import video

        return plannable(video.scan(path, rel, rel, digest, detector, opts, progress))
    pic = image.read(path, opts.max_pixels)
    dets = detector.detect(pic.rgb)
    regions = photo_regions(dets, pic.width, pic.height, opts.margin, opts.shape)
    if opts.text:
        regions += text_regions(pic.rgb)
    out = image.output_name(rel, pic.format)
    return plannable(MediaPlan(rel, out, "image", pic.width, pic.height, digest, regions))


def text_regions(rgb: np.ndarray) -> list[Region]:
    """Text lines as plan regions of kind "text": boxes (text is straight), with TEXT_MARGIN."""
    from unseen.detect.text import text_detector

    h, w = rgb.shape[:2]
    dets = text_detector().detect(rgb)
    out = []
    for r in regions_for(dets, w, h, TEXT_MARGIN, "box", low_score_margin=0.0):
        out.append(replace(r, kind="text"))
    return out


def plannable(media: MediaPlan) -> MediaPlan:
    """`media`, refused (LimitError, this file only) if a plan could not hold it: what scan and
    run record must load again in `apply`, a resumed run and the review."""
    try:
        check_media(media)
    except PlanError as e:
        raise LimitError(f"{media.path}: cannot be recorded in a plan ({e}); no output written") from e
    return media


def scan(
    inputs: list[Path],
    detector: Detector,
    opts: Options,
    progress: Progress | None = None,
) -> tuple[Plan, list[Outcome]]:
    """Plan every input; files that fail are reported in the outcomes and left out of the plan."""

    def one(path: Path, rel: str, root: Path, every: frozenset[Path]) -> tuple[MediaPlan, Outcome | None]:
        return scan_file(path, rel, detector, opts, progress), None

    return _each_input(inputs, opts, progress, one)  # a planned file has no outcome yet: only failures


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


def apply_file(
    plan: Plan,
    media: MediaPlan,
    out_dir: Path | None,
    opts: Options,
    progress: Progress | None = None,
    inputs: frozenset[Path] | None = None,
) -> Path:
    """Render one plan entry to its output, atomically. Returns the output path.

    `inputs` (from `input_paths(plan)`) lets a batch pass the set once; it is computed here when
    the output already exists, so no output ever replaces another input of the same plan."""
    root = Path(plan.root)
    source = root / media.path
    dest = _destination(plan, media, out_dir, inputs)
    if not source.is_file():
        raise UnseenError(f"{media.path}: input not found under {root}")
    if sha256(source) != media.sha256:
        raise UnseenError(f"{media.path}: file changed since the plan was made; scan it again")
    with _folders(dest):
        _write(plan, media, source, dest, opts, progress)
    return dest


def _destination(plan: Plan, media: MediaPlan, out_dir: Path | None, inputs: frozenset[Path] | None) -> Path:
    """`target`, also refused when it is another input of the plan (`inputs`: input_paths)."""
    dest = target(out_dir, media, Path(plan.root))
    if os.path.lexists(dest) and dest in (input_paths(plan) if inputs is None else inputs):
        raise OutputError(
            f"{media.path}: output {dest} would overwrite another input; choose an output folder outside the inputs"
        )
    return dest


@contextlib.contextmanager
def _folders(dest: Path) -> Iterator[None]:
    """The folders `dest` needs are made by the writing; a failed file leaves none it made
    behind (empty ones only)."""
    made = _missing_dirs(dest.parent)
    try:
        yield
    except BaseException:
        for d in made:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def run_file(
    path: Path,
    rel: str,
    root: Path,
    out_dir: Path | None,
    detector: Detector,
    opts: Options,
    progress: Progress | None = None,
    inputs: frozenset[Path] | None = None,
) -> tuple[MediaPlan, Path]:
    """Scan one input and write its output: a photo as scan_file then apply_file; a video in
    one pass (video.run: decoded once, frames encoded while detection goes on ahead), with the
    same plan entry and the same pixels. Returns the plan entry and the output path."""
    settings = Settings(method=opts.method, detector=opts.detector)
    if not is_video(path):
        media = scan_file(path, rel, detector, opts, progress)
        plan = Plan(root=str(root), files=[media], settings=settings)
        return media, apply_file(plan, media, out_dir, opts, progress, inputs)
    from unseen import video

    draft = MediaPlan(rel, video.output_name(rel), "video", 0, 0, sha256(path))
    dest = _destination(Plan(root=str(root), files=[draft], settings=settings), draft, out_dir, inputs)
    with _folders(dest), atomic_output(dest) as tmp:
        media = plannable(video.run(path, rel, rel, draft.sha256, tmp, opts, progress))
    return media, dest


def run(
    inputs: list[Path], detector: Detector, opts: Options, out_dir: Path | None, progress: Progress | None = None
) -> tuple[Plan, list[Outcome]]:
    """scan + apply, file by file (videos in one pass each): the plan made and what happened."""

    def one(path: Path, rel: str, root: Path, every: frozenset[Path]) -> tuple[MediaPlan, Outcome | None]:
        media, dest = run_file(path, rel, root, out_dir, detector, opts, progress, every)
        return media, Outcome(rel, str(dest), media.faces)

    return _each_input(inputs, opts, progress, one)


def _each_input(
    inputs: list[Path],
    opts: Options,
    progress: Progress | None,
    one: Callable[[Path, str, Path, frozenset[Path]], tuple[MediaPlan, Outcome | None]],
) -> tuple[Plan, list[Outcome]]:
    """Call `one(path, rel, root, every input)` on each input; its plan entries make the plan.
    A file that fails gets an outcome with the reason, and the batch goes on."""
    root, files, _ = discover(inputs, opts.follow_symlinks)
    plan = Plan(root=str(root), settings=Settings(method=opts.method, detector=opts.detector))
    every = frozenset(Path(os.path.abspath(f)) for f in files)
    outcomes = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        done = guarded(rel, lambda: one(path, rel, root, every))  # noqa: B023 - called at once
        if isinstance(done, Failed):
            outcomes.append(Outcome(rel, error=done.error))
        else:
            plan.files.append(done[0])
            if done[1] is not None:
                outcomes.append(done[1])
        if progress:
            progress(rel, 1.0, 0)
    return plan, outcomes


def _missing_dirs(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first."""
    out = []
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _write(plan: Plan, media: MediaPlan, source: Path, dest: Path, opts: Options, progress: Progress | None) -> None:
    """Render one file of the plan into `dest`, atomically."""
    with atomic_output(dest) as tmp:
        if media.kind == "video":
            from unseen import video

            # The plan's method, as for photos (opts.method is "fill" when apply has no --method).
            video.render(source, media, tmp, replace(opts, method=plan.settings.method), progress)
        else:
            pic = image.read(source, opts.max_pixels)
            if (pic.width, pic.height) != (media.width, media.height):
                raise UnseenError(
                    f"{media.path}: image is {pic.width}x{pic.height}, plan says {media.width}x{media.height}"
                )
            if pic.format not in image.FORMATS[dest.suffix.lower()]:
                raise UnseenError(f"{media.path}: a {pic.format} photo cannot be written as {media.output}")
            rgb = obscure(pic.rgb, media.regions, plan.settings.method)
            alpha = pic.alpha
            if alpha is not None:
                # A cut-out's transparency keeps the outline of a face (a profile): painted pixels
                # are made opaque, so a region shows as its whole shape, not as that outline.
                alpha = np.where(coverage_mask(media.regions, pic.width, pic.height), 255, alpha).astype(np.uint8)
            tmp.write_bytes(image.encode(rgb, alpha, pic.format, pic.bits_per_pixel))


def apply(plan: Plan, out_dir: Path | None, opts: Options, progress: Progress | None = None) -> list[Outcome]:
    outcomes = []
    inputs = input_paths(plan)
    for media in plan.files:
        dest = guarded(media.path, lambda: apply_file(plan, media, out_dir, opts, progress, inputs=inputs))  # noqa: B023
        if isinstance(dest, Failed):
            outcomes.append(Outcome(media.path, error=dest.error))
        else:
            outcomes.append(Outcome(media.path, str(dest), media.faces))
        if progress:
            progress(media.path, 1.0, 0)
    return outcomes


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


# Every temporary output this process writes ends in `.TAG.part`. A batch records its tag in its
# resume state (engines.manifest) and hands it to its workers, so that a later run into the same
# folder removes the temporaries a killed run left, and nothing else: not a file of the user's
# that happens to be named like one, not the temporary of a run still writing.
_temp_tag = secrets.token_hex(8)


def temp_tag() -> str:
    """The tag this process's temporary outputs carry."""
    return _temp_tag


def set_temp_tag(tag: str) -> None:
    """Take the batch's tag (a worker process, in its initializer)."""
    global _temp_tag
    _temp_tag = tag


def is_temporary(name: str, tags: set[str]) -> bool:
    """A temporary output written under one of `tags` (see atomic_output)."""
    return name.startswith(".") and name.endswith(".part") and name.rsplit(".", 2)[-2] in tags


def check_output_folder(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse (UnseenError) an output folder that is a file, that is or lies inside an input
    folder (its outputs would be taken for inputs by the next run and anonymised again), or that
    holds an input (the folder the user publishes would hold originals)."""
    if out.exists() and not out.is_dir():
        raise UnseenError(f"-o {out}: is a file, not a folder; give a folder for the outputs")
    real = out.resolve()
    for p in inputs:
        if p.is_dir() and real.is_relative_to(p.resolve()):
            raise UnseenError(
                f"-o {out}: is inside the input folder {p}; the next run would take the outputs for inputs: "
                "choose an output folder outside the inputs"
            )
        if p.exists() and p.resolve().is_relative_to(real):
            raise UnseenError(
                f"-o {out}: holds the input {p}; the folder published would hold originals: "
                "choose an output folder outside the inputs"
            )


def check_plan_outside(plan: Path, out: Path) -> None:
    """Refuse (UnseenError) a plan file inside the output folder: the plan holds each original's
    SHA-256, the inputs' folder and every face box, and published with the outputs it would tie
    each one to its original (as the resume state did when it was kept there)."""
    if Path(os.path.realpath(plan)).is_relative_to(os.path.realpath(out)):
        raise UnseenError(
            f"--plan {plan}: is inside the output folder {out}, which is for the anonymised media only "
            "(the plan ties each output to its original): keep it outside"
        )


class atomic_output:
    """Context manager yielding a temporary path beside `dest`; renamed to `dest` only on success.

    The temporary name starts with a dot and ends in `.TAG.part` (temp_tag), so a crash leaves
    at worst a hidden `.part` file, never a partial file under the final name, and the run that
    sweeps it knows it was unseen's. An OS error about the temporary or the output (a full disk,
    a read-only folder, a folder where the file should go) is an OutputError naming the output,
    not the temporary the user never asked for."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        suffix = f"{dest.suffix}.{_temp_tag}.part"
        for attempt in range(3):
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{dest.stem[:40]}.", suffix=suffix, dir=dest.parent)
                break
            except FileNotFoundError as e:  # a sibling worker's failed file removed the empty folder just now
                if attempt == 2:
                    raise self._cannot(e) from e
            except OSError as e:
                raise self._cannot(e) from e
        os.close(fd)
        self.tmp = Path(name)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc_type is None:
                if self.tmp.stat().st_size == 0:
                    raise OutputError(f"{self.dest}: nothing was written; no output was made")
                with open(self.tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.chmod(self.tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are for sharing
                os.replace(self.tmp, self.dest)
        except OSError as e:
            raise self._cannot(e) from e
        finally:  # also on Ctrl-C during fsync/rename
            self.tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and {exc.filename, exc.filename2} & {str(self.tmp), str(self.dest)}:
            raise self._cannot(exc) from exc

    def _cannot(self, e: OSError) -> OutputError:
        return OutputError(f"{self.dest}: cannot write ({e.strerror or e}); check free space and permissions")
