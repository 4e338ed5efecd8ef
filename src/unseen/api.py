"""The Python API: the same steps as the `unseen` command, for scripts (dataset publishers,
platforms). Nothing here prints or exits; failures are typed exceptions from `unseen.errors`.

    import unseen
    unseen.anonymise("photo.jpg", "public/photo.jpg")          # -> Outcome
    plan = unseen.scan(["DCIM/"])                              # -> Plan (nothing written)
    outcomes = unseen.apply(plan, "public/")                   # -> list[Outcome]
    report = unseen.audit("DCIM/", "public/")                  # -> Report; report.clear

Options (keywords, as the command's flags): `preset` ("default", "fast", "thorough"), `margin`,
`shape` ("box", "ellipse", "rounded"), `method` ("fill", "solid", "mosaic", "blur"), `max_pixels`,
`max_frames`, `audio` ("keep" the default, "drop", or "disguise"; True and False still mean keep
and drop), `text` (also paint text in photos, default False), `crf` (H.264 quality, 0-51),
`follow_symlinks`. An unknown option raises TypeError, a bad value OptionError (a ValueError).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unseen import pipeline
from unseen import plan as plan_mod
from unseen.errors import FilesFailed, OptionError, OutputError, UnseenError
from unseen.inputs import is_video
from unseen.limits import out_of_range
from unseen.obscure import METHODS
from unseen.options import Options, Outcome, Progress
from unseen.output import folders
from unseen.plan import Plan
from unseen.video import output_name

if TYPE_CHECKING:
    from unseen.audit.check import FileAudit

__all__ = ["Outcome", "Plan", "Report", "anonymise", "apply", "audit", "options", "scan"]

StrPath = str | os.PathLike[str]
_SAME_FORMAT = {".jpeg": ".jpg", ".jpe": ".jpg", ".jfif": ".jpg", ".tiff": ".tif", ".heif": ".heic"}
_AUDITORS: dict[int | None, Any] = {}  # Auditor per `every`: its models load once per process


def options(**kw: Any) -> Options:
    """Keyword options (the command's flag names, `preset` for the detector setting) as the
    pipeline's Options: TypeError for an unknown name, OptionError for a bad value (Options checks
    the values against unseen.limits, as for the command line)."""
    if "preset" in kw:
        kw["detector"] = kw.pop("preset")
    known = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(kw) - known)
    if unknown:
        names = sorted((known - {"detector"}) | {"preset"})
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(names)}")
    if isinstance(kw.get("audio"), bool):  # before --audio had three values
        kw["audio"] = "keep" if kw["audio"] else "drop"
    return Options(**kw)


def anonymise(src: StrPath, dst: StrPath | None = None, *, progress: Progress | None = None, **kw: Any) -> Outcome:
    """Make everyone in one photo or video unrecognisable and write a clean copy.

    `dst`: the output file, or an existing folder to write into under the input's name (a video
    in a container unseen cannot write gets `.mp4` added), or None for `NAME.unseen.EXT` beside
    the input. The output is written whole or not at all, and the input is never changed.

    Raises UnseenError (no such file), MediaError (not a photo or video, corrupt, RAW), LimitError
    (over `max_pixels` / `max_frames`), OutputError (`dst` is the input, or names another format
    than the one written: unseen keeps the input's format), TypeError/OptionError for options."""
    opts = options(**kw)
    source = Path(os.path.abspath(src))
    if source.is_dir():
        raise UnseenError(f"{src}: is a folder; anonymise takes one file (scan + apply, or `unseen run`, take folders)")
    if not source.is_file():
        raise UnseenError(f"{src}: no such file")
    detector = _detector(opts.detector)
    if dst is None or Path(dst).is_dir():
        out_dir = None if dst is None else Path(dst)
        media, written = pipeline.run_file(source, source.name, source.parent, out_dir, detector, opts, progress)
        return Outcome(str(src), str(written), media.faces)
    dest = Path(os.path.abspath(dst))
    if dest == source or (dest.exists() and os.path.samefile(dest, source)):
        raise OutputError(f"{dst}: the output would overwrite the input; choose another name")
    written_as = Path(output_name(source.name) if is_video(source) else source.name).suffix
    if _format(written_as) != _format(dest.suffix):
        raise OutputError(
            f"{dst}: unseen writes this input as '{written_as or '(no suffix)'}' (the input's format); "
            "name the output so, or give a folder"
        )
    with folders(dest), tempfile.TemporaryDirectory(dir=_parent(dest), prefix=".unseen-") as tmp:
        media, written = pipeline.run_file(source, source.name, source.parent, Path(tmp), detector, opts, progress)
        os.replace(written, dest)
    return Outcome(str(src), str(dest), media.faces)


def scan(paths: StrPath | Iterable[StrPath], *, progress: Progress | None = None, **kw: Any) -> Plan:
    """Find the faces in photos, videos and folders (walked in sorted order) and return the plan:
    what `apply` will paint, editable, savable with `plan.save(path)`. Nothing is written.

    Files in folders that are neither photo nor video are not in the plan. Raises UnseenError
    when a path does not exist, and FilesFailed when some files could not be read: it names each
    (`.failures`) and carries the plan of the others (`.plan`)."""
    opts = options(**kw)
    inputs = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    if not inputs:
        raise OptionError("no paths to scan")
    plan, failures = pipeline.scan(inputs, _detector(opts.detector), opts, progress)
    if failures:
        raise FilesFailed([(f.path, f.error or "") for f in failures], plan)
    return plan


def apply(plan: Plan | StrPath, out: StrPath | None, *, progress: Progress | None = None, **kw: Any) -> list[Outcome]:
    """Render a plan (a Plan, or the path of a saved, possibly edited plan file) into `out`,
    mirroring the input tree, or beside each input as `NAME.unseen.EXT` when `out` is None.
    `method=` overrides the plan's method; `audio`, `crf`, `max_pixels` apply as for anonymise.

    One Outcome per planned file; a file that fails has `.error` set (it is changed since the
    plan, unreadable, or its output would overwrite an input) and leaves no output, and the
    others are still written. Raises PlanError for a plan file that is malformed or unsafe."""
    method = kw.pop("method", None)
    opts = options(**kw)
    loaded = plan if isinstance(plan, Plan) else plan_mod.load(Path(plan))
    if method is not None:
        if method not in METHODS:
            raise OptionError(f"method must be one of {list(METHODS)}")
        loaded.settings.method = method
    return pipeline.apply(loaded, None if out is None else Path(out), opts, progress)


@dataclass
class Report:
    """The audit of anonymised files: one FileAudit per (original, output) pair, each with its
    findings (faces left visible, faces still re-identifiable, metadata left in). A pair that
    could not be checked counts against `clear`: unverified is never clear."""

    files: list[FileAudit]

    @property
    def clear(self) -> bool:
        return all(a.status == "clear" for a in self.files)

    @property
    def risk(self) -> bool:
        return any(a.risk for a in self.files)

    def to_json(self) -> dict[str, Any]:
        from unseen.audit import report

        return report.to_json(self.files)

    def summary(self) -> str:
        """The one-screen text `unseen audit` prints."""
        from unseen.audit import report

        return report.summary(self.files)

    def write_html(self, path: StrPath) -> None:
        """A self-contained page showing only the outputs, boxes where something was found."""
        from unseen.audit import report

        report.write_html(self.files, Path(path))


def audit(original: StrPath, anonymised: StrPath, *, every: int | None = None, show_progress: bool = False) -> Report:
    """Check anonymised files against their originals: two files, or two mirrored folders (as
    `apply`/`run -o` write them). `every`: audit every Nth video frame (default 2 per second).

    Raises UnseenError when a path does not exist or a file is paired with a folder; problems
    with one pair are in its FileAudit (`error`), never raised."""
    from unseen.audit.run import pairs, run_audit

    why = None if every is None else out_of_range("every", every)
    if why is not None:
        raise OptionError(f"every {why}")
    todo = pairs(Path(original), Path(anonymised))
    return Report(run_audit(todo, not show_progress, auditor=_auditor(every)))


def _format(suffix: str) -> str:
    """One name per format: `.jpeg` and `.jpg` are the same file type."""
    return _SAME_FORMAT.get(suffix.lower(), suffix.lower())


def _detector(preset: str) -> Any:
    from unseen.detect.presets import make_detector

    return make_detector(preset)


def _auditor(every: int | None) -> Any:
    """The process's Auditor for `every`, or Failed (kept for no later call) when its models
    cannot load: every pair is then `not audited`, never clear."""
    from unseen.audit.run import load_auditor
    from unseen.guard import Failed

    if every not in _AUDITORS:
        made = load_auditor(every)
        if isinstance(made, Failed):
            return made
        _AUDITORS[every] = made
    return _AUDITORS[every]


def _parent(dest: Path) -> Path:
    """`dest`'s folder, made if missing (output.folders removes what it made on failure)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.parent
