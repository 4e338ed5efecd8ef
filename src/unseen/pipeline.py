"""scan() finds faces and returns a Plan; apply() renders a Plan; run() is both, file by file.

Each file goes to unseen.photo or unseen.video by its kind; inputs are found and
outputs named by unseen.inputs and written atomically by unseen.output (a crash, Ctrl-C or error
never leaves a partly obscured file under the final name). Inputs are opened read-only and never
renamed, replaced or deleted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from unseen import photo, video
from unseen.detect.base import Detector
from unseen.errors import LimitError, OutputError, PlanError, UnseenError
from unseen.guard import Failed, guarded
from unseen.inputs import discover, input_paths, is_video, sha256, target
from unseen.media import image  # noqa: F401 - tests reach the photo encoder as pipeline.image
from unseen.options import Options, Outcome, Progress
from unseen.output import atomic_output, folders
from unseen.plan import MediaPlan, Plan, Settings, check_media


def scan_file(path: Path, rel: str, detector: Detector, opts: Options, progress: Progress | None = None) -> MediaPlan:
    """Detect faces in one file and return its plan entry (nothing is written)."""
    video_file = is_video(path)  # first: it refuses what is not a regular file, which sha256 would wait on
    digest = sha256(path)
    if video_file:
        return plannable(video.scan(path, rel, rel, digest, detector, opts, progress))
    return plannable(photo.scan(path, rel, digest, detector, opts))


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
    with folders(dest):
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
    draft = MediaPlan(rel, video.output_name(rel), "video", 0, 0, sha256(path))
    dest = _destination(Plan(root=str(root), files=[draft], settings=settings), draft, out_dir, inputs)
    with folders(dest), atomic_output(dest) as tmp:
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


def _write(plan: Plan, media: MediaPlan, source: Path, dest: Path, opts: Options, progress: Progress | None) -> None:
    """Render one file of the plan into `dest`, atomically, with the plan's method (opts.method
    is "fill" when apply has no --method)."""
    stage = video if media.kind == "video" else photo
    with atomic_output(dest) as tmp:
        stage.render(source, media, tmp, replace(opts, method=plan.settings.method), progress)


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
