"""The plan: which regions of which file (and frame) get obscured.

The plan is the one data type between "find faces" and "change pixels". It is JSON, versioned,
editable by a person, and holds no pixels and no embeddings. Plans are untrusted input: `load`
validates every field and refuses anything that could crash the renderer or write outside the
output folder. The schema is documented in docs/plan-schema.md.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from unseen.errors import PlanError
from unseen.limits import MAX_FPS, MAX_FRAMES, MAX_SIDE
from unseen.obscure import METHODS
from unseen.region import Box, Region

SCHEMA = "unseen.plan/1"
SHAPES = ("box", "ellipse", "rounded")
REGION_KINDS = ("face", "text")  # what a region hides; painted the same way
MAX_FILES = 1_000_000
MAX_REGIONS_PER_FILE = 5_000_000
MAX_DIMENSION = MAX_SIDE  # what the readers accept (unseen.limits), so every plan scan writes loads

Kind = Literal["image", "video"]


@dataclass
class MediaPlan:
    """Everything to do to one input file. `path` is relative to the plan's `root`; `output` is
    relative to the output folder chosen at apply time. `sha256` ties the plan to the exact bytes
    it was made from, so a plan is never applied to a file that changed since."""

    path: str
    output: str
    kind: Kind
    width: int
    height: int
    sha256: str
    regions: list[Region] = field(default_factory=list)
    frames: int | None = None
    fps: float | None = None
    whole_frames: list[tuple[int, int]] = field(default_factory=list)

    def regions_in_frame(self, frame: int | None) -> list[Region]:
        return [r for r in self.regions if r.frame == frame]

    @property
    def faces(self) -> int:
        """Faces obscured: a photo's face regions (one per face); a video's tracks, a face
        followed across frames counting once (regions added by hand count one each)."""
        face = [r for r in self.regions if r.kind == "face"]
        if self.kind != "video":
            return len(face)
        return len({r.track for r in face if r.track is not None}) + sum(r.track is None for r in face)


@dataclass
class Settings:
    """How regions are painted. Stored in the plan so that `apply` reproduces `run`."""

    method: str = "fill"
    detector: str = "default"


@dataclass
class Plan:
    root: str
    files: list[MediaPlan] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for f in out["files"]:
            for r in f["regions"]:
                for key in ("raw_box", "frame", "track", "score"):
                    if r[key] is None:
                        del r[key]
                if r["kind"] == "face":  # the default: plans without text read as before
                    del r["kind"]
            if f["kind"] == "image":
                for key in ("frames", "fps", "whole_frames"):
                    del f[key]
        return out

    def save(self, path: Path) -> None:
        """Write atomically: a crash never leaves a half-written plan that a reviewer would edit."""
        write_text_atomic(path, json.dumps(self.to_json(), indent=1))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename; the temporary name is unique per process and
    thread, so concurrent savers (the review server's threads) never share one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path) -> Plan:
    """Read and validate a plan file (untrusted input)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError(f"{path}: cannot read plan: {e}") from e
    except json.JSONDecodeError as e:
        raise PlanError(f"{path}: not valid JSON (line {e.lineno}): {e.msg}") from e
    except (ValueError, RecursionError) as e:  # 5000-digit numbers, [[[[...]]]] nested past the stack
        raise PlanError(f"{path}: not a plan unseen can read ({type(e).__name__}: {str(e)[:80]})") from e
    return from_json(raw, source=str(path))


def from_json(raw: Any, source: str = "plan") -> Plan:
    """Validate a decoded plan; every error names the field so a person can fix an edited plan."""
    obj = _mapping(raw, source)
    if obj.get("schema") != SCHEMA:
        raise PlanError(f"{source}: schema is {_show(obj.get('schema'))}, expected {SCHEMA!r}")
    root = _string(obj.get("root"), f"{source}: root")
    if "\x00" in root or not os.path.isabs(root):
        raise PlanError(f"{source}: root {root!r} must be an absolute folder path")
    settings_raw = _mapping(obj.get("settings", {}), f"{source}: settings")
    method = settings_raw.get("method", "fill")
    if method not in METHODS:
        raise PlanError(f"{source}: settings.method {_show(method)} is not one of {', '.join(METHODS)}")
    detector = _string(settings_raw.get("detector", "default"), f"{source}: settings.detector")
    files_raw = obj.get("files")
    if not isinstance(files_raw, list):
        raise PlanError(f"{source}: files must be a list")
    if len(files_raw) > MAX_FILES:
        raise PlanError(f"{source}: {len(files_raw)} files is more than the limit {MAX_FILES}")
    files = [_media(f, f"{source}: files[{i}]") for i, f in enumerate(files_raw)]
    outputs = [f.output for f in files]
    if len(set(outputs)) != len(outputs):
        raise PlanError(f"{source}: two files share one output path")
    return Plan(root=root, files=files, settings=Settings(method=method, detector=detector))


def safe_relative(value: Any, where: str) -> str:
    """A relative POSIX path that stays inside its folder: no absolute paths, no '..', no NUL."""
    text = _string(value, where)
    p = PurePosixPath(text)
    if not text or "\x00" in text or "\\" in text or p.is_absolute() or ".." in p.parts:
        raise PlanError(f"{where}: {text!r} must be a relative path inside its folder")
    if text.startswith("~") or (len(text) > 1 and text[1] == ":") or not p.parts or p.name in ("", "."):
        raise PlanError(f"{where}: {text!r} must be a relative path inside its folder")
    return text


def output_suffix_ok(kind: str, output: str) -> bool:
    """An output is written in the format its suffix names (a video's container) or refused: a
    plan must not make unseen write `profile.d/x.sh` or `.bashrc`, even with media inside."""
    from unseen.media.image import IMAGE_SUFFIXES
    from unseen.media.video import MUXERS

    return PurePosixPath(output).suffix.lower() in (IMAGE_SUFFIXES if kind == "image" else MUXERS)


def _media(raw: Any, where: str) -> MediaPlan:
    obj = _mapping(raw, where)
    kind = obj.get("kind")
    if kind not in ("image", "video"):
        raise PlanError(f"{where}.kind must be 'image' or 'video', not {_show(kind)}")
    width = _int(obj.get("width"), f"{where}.width", 1, MAX_DIMENSION)
    height = _int(obj.get("height"), f"{where}.height", 1, MAX_DIMENSION)
    sha = _string(obj.get("sha256"), f"{where}.sha256")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise PlanError(f"{where}.sha256 must be 64 lowercase hex digits")
    frames = fps = None
    whole: list[tuple[int, int]] = []
    if kind == "video":
        frames = _int(obj.get("frames"), f"{where}.frames", 1, MAX_FRAMES)
        fps_raw = obj.get("fps")
        fps = None if fps_raw is None else _number(fps_raw, f"{where}.fps")
        if fps is not None and not 0 < fps <= MAX_FPS:
            raise PlanError(f"{where}.fps = {fps} is outside 0..{MAX_FPS:g} frames per second")
        spans = obj.get("whole_frames", [])
        if not isinstance(spans, list):
            raise PlanError(f"{where}.whole_frames must be a list of [first, last] frame pairs")
        for j, span in enumerate(spans):
            if not isinstance(span, list) or len(span) != 2:
                raise PlanError(f"{where}.whole_frames[{j}] must be [first, last]")
            a = _int(span[0], f"{where}.whole_frames[{j}][0]", 0, frames - 1)
            b = _int(span[1], f"{where}.whole_frames[{j}][1]", a, frames - 1)
            whole.append((a, b))
    regions_raw = obj.get("regions", [])
    if not isinstance(regions_raw, list):
        raise PlanError(f"{where}.regions must be a list")
    if len(regions_raw) > MAX_REGIONS_PER_FILE:
        raise PlanError(f"{where}: {len(regions_raw)} regions is more than the limit")
    regions = [_region(r, f"{where}.regions[{j}]", width, height, frames) for j, r in enumerate(regions_raw)]
    output = safe_relative(obj.get("output", obj.get("path")), f"{where}.output")
    if not output_suffix_ok(kind, output):
        raise PlanError(f"{where}.output: {output!r} must end in a {'photo' if kind == 'image' else 'video'} suffix")
    return MediaPlan(
        path=safe_relative(obj.get("path"), f"{where}.path"),
        output=output,
        kind=kind,
        width=width,
        height=height,
        sha256=sha,
        regions=regions,
        frames=frames,
        fps=fps,
        whole_frames=whole,
    )


def _region(raw: Any, where: str, width: int, height: int, frames: int | None) -> Region:
    obj = _mapping(raw, where)
    box = _box(obj.get("box"), f"{where}.box")
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise PlanError(f"{where}.box {list(box)} has no area: need x1 < x2 and y1 < y2")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise PlanError(f"{where}.box {list(box)} lies outside the {width}x{height} image")
    shape = obj.get("shape", "ellipse")
    if shape not in SHAPES:
        raise PlanError(f"{where}.shape {_show(shape)} is not one of {', '.join(SHAPES)}")
    kind = obj.get("kind", "face")
    if kind not in REGION_KINDS:
        raise PlanError(f"{where}.kind {_show(kind)} is not one of {', '.join(REGION_KINDS)}")
    raw_box = obj.get("raw_box")
    score = obj.get("score")
    frame = obj.get("frame")
    track = obj.get("track")
    if frames is None and frame is not None:
        raise PlanError(f"{where}.frame is set but the file is a photo")
    if frames is not None:
        frame = _int(frame, f"{where}.frame", 0, frames - 1)
    return Region(
        box=box,
        shape=shape,
        score=None if score is None else _number(score, f"{where}.score"),
        detector=_string(obj.get("detector", "manual"), f"{where}.detector"),
        raw_box=None if raw_box is None else _box(raw_box, f"{where}.raw_box"),
        frame=frame,
        track=None if track is None else _int(track, f"{where}.track", 0, 1 << 62),
        kind=kind,
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanError(f"{where} must be a JSON object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PlanError(f"{where} must be a string")
    return value


def _number(value: Any, where: str) -> float:
    try:
        finite = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float (e.g. 10**400)
        finite = False
    if not finite:
        raise PlanError(f"{where} must be a finite number, not {_show(value)}")
    return float(value)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(f"{where} must be an integer, not {_show(value)}")
    if not low <= value <= high:
        raise PlanError(f"{where} = {_show(value)} is outside {low}..{high}")
    return value


def _show(value: Any) -> str:
    """A short repr for error messages, safe for huge integers (str() of 5000 digits raises)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)[:60]


def _box(value: Any, where: str) -> Box:
    if not isinstance(value, list) or len(value) != 4:
        raise PlanError(f"{where} must be a list [x1, y1, x2, y2]")
    x1, y1, x2, y2 = (_number(v, where) for v in value)
    return (x1, y1, x2, y2)


def check_media(media: MediaPlan) -> None:
    """Validate a plan entry unseen made exactly as `load` validates one read from a file (raises
    PlanError): a file whose entry a plan could not hold (more regions than MAX_REGIONS_PER_FILE)
    is refused when it is made, not when the plan is loaded again by `apply` or a resumed run."""
    _media(json.loads(json.dumps(Plan(root="/", files=[media]).to_json()["files"][0])), media.path)
