"""Audit one (original, anonymised) pair: residual faces, re-identification, metadata.

The audit reads the original only to know where faces were and to compare each with its own
anonymised region; nothing from the original (pixels, crops, embeddings) leaves this module:
findings hold boxes, frame numbers, detector names and distances.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unseen.audit import metadata
from unseen.audit.reid import MIN_FACE
from unseen.audit.residual import PARTLY, Residual, changed_mask, erased, left_share, unchanged
from unseen.detect.base import Detections, iou_matrix, nms
from unseen.guard import Failed, guarded
from unseen.media import image
from unseen.media import video as media

MIN_VISIBLE = 12  # px: smaller CenterFace boxes of the original are not checked for being left in
VIDEO_SAMPLES_PER_SECOND = 2.0  # frames audited per second of video (all frames with --every 1)
# Video plans paint large faces down to a CenterFace score of 0.13 (int8), below the photo preset's
# 0.15 for large boxes: on video the audit looks at large boxes down to 0.10, or a face the plan
# painted at 0.13-0.15 and an edit removed goes unseen (benchmarks/audit_video_leaks.py: 12 of 14
# skipped crowd faces caught at 0.15, 14 of 14 at 0.10, for 2 more false findings in 4 frames).
VIDEO_LARGE_THRESHOLD = 0.10


@dataclass
class Finding:
    """One risk. `check` is "face" (a face left visible), "reid" (the recogniser still matches the
    original face), "speech" (a voice in the sound), "metadata", or "mismatch" (the output does
    not correspond to the original).
    `box` is `[x1, y1, x2, y2]` in pixels of the upright output; `frame` is the video frame index."""

    check: str
    message: str
    box: list[float] | None = None
    frame: int | None = None
    detector: str | None = None
    distance: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class FileAudit:
    original: str
    output: str
    kind: str = "image"
    width: int = 0
    height: int = 0
    findings: list[Finding] = field(default_factory=list)
    faces_compared: int = 0  # faces of the original checked for re-identification (>= MIN_FACE)
    faces_erased: int = 0  # ... of which painted over in the output (no detail left to recognise)
    frames_checked: int = 0
    frames_total: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def risk(self) -> bool:
        return bool(self.findings)

    @property
    def status(self) -> str:
        return "error" if self.error else ("risk" if self.risk else "clear")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["findings"] = [f.to_json() for f in self.findings]
        out["status"] = self.status
        out["seconds"] = round(self.seconds, 2)
        return out


class Auditor:
    """Holds the models (loaded once) and audits pairs. `every`: audit every Nth video frame
    (None: VIDEO_SAMPLES_PER_SECOND frames per second)."""

    def __init__(self, reid: bool = True, every: int | None = None, max_pixels: int = image.DEFAULT_MAX_PIXELS) -> None:
        from unseen.audit.reid import Reidentifier
        from unseen.detect.presets import make_detector

        self.planner = make_detector("default", verified=False)  # finds the faces of the original (what to compare)
        self.video_planner = make_detector("default", large_threshold=VIDEO_LARGE_THRESHOLD, verified=False)
        self.residual = Residual()
        self.reid = Reidentifier() if reid else None
        self.every = every
        self.max_pixels = max_pixels
        self._last: tuple[Any, Detections] | None = None

    def frame(
        self, original: np.ndarray, output: np.ndarray, frame: int | None = None
    ) -> tuple[list[Finding], int, int]:
        """Findings for one upright RGB frame pair; how many faces of the original were checked
        for re-identification, and how many of those were found painted over (no recogniser
        needed: nothing of the face is left)."""
        where = "" if frame is None else f" in frame {frame}"
        if original.shape != output.shape:
            h, w = original.shape[:2]
            oh, ow = output.shape[:2]
            return [Finding("mismatch", f"output is {ow}x{oh}, original {w}x{h}{where}", frame=frame)], 0, 0
        findings: list[Finding] = []
        changed = changed_mask(original, output)
        res = self.residual.find(original, output, changed)  # other detector families, on the output
        for box in res.boxes:
            findings.append(
                Finding("face", f"face left visible at {_where(box)}{where}", _box(box), frame, self.residual.name)
            )
        planned = self.plan(original, video=frame is not None)
        # A face of the original whose core is unchanged in the output was left as it was.
        for box in planned.boxes:
            if box[3] - box[1] < MIN_VISIBLE or _seen(box, findings):
                continue
            if unchanged(original, output, box):
                findings.append(
                    Finding("face", f"face left unobscured at {_where(box)}{where}", _box(box), frame, "centerface")
                )
            elif (share := left_share(original, output, changed, box)) >= PARTLY:
                findings.append(
                    Finding(
                        "face",
                        f"face partly unobscured at {_where(box)}{where} ({share:.0%} of it left as it was)",
                        _box(box),
                        frame,
                        "centerface",
                    )
                )
        # Every face: still recognisable? (for a face reported as visible, the distance is evidence)
        faces = list(_union(planned, res).boxes)
        compared = flat = 0
        todo = []
        for b in faces:
            if b[3] - b[1] < MIN_FACE or b[2] - b[0] < MIN_FACE * 0.5:
                continue
            compared += 1
            if erased(output, b):
                flat += 1
            else:
                todo.append(b)
        if self.reid is not None:
            for m in self.reid.compare(original, output, todo):
                if m.risk:
                    findings.append(
                        Finding(
                            "reid",
                            f"face at {_where(m.box)}{where} still matches the original "
                            f"(distance {m.distance:.2f} < {m.threshold}; face erased: {m.control:.2f})",
                            _box(m.box),
                            frame,
                            "dlib-resnet",
                            round(m.distance, 3),
                        )
                    )
        else:
            compared = flat
        return findings, compared, flat

    def plan(self, original: np.ndarray, video: bool = False) -> Detections:
        """CenterFace's faces of the original (what the plan saw), remembered for the last frame
        so that auditing several outputs of one original detects once."""
        digest = hashlib.blake2b(np.ascontiguousarray(original).data, digest_size=16).digest()
        key = (original.shape, digest, video)
        if self._last is None or self._last[0] != key:
            self._last = (key, (self.video_planner if video else self.planner).detect(original))
        return self._last[1]

    def pair(self, original: Path, output: Path) -> FileAudit:
        """Audit one file pair; any failure becomes `error` (guard.guarded: never an exception,
        never a clear verdict)."""
        from unseen.inputs import is_video

        t0 = time.perf_counter()
        rep = FileAudit(str(original), str(output), "image")

        def work() -> None:
            rep.kind = "video" if is_video(original) else "image"
            if rep.kind == "video":
                self._video(original, output, rep)
            else:
                a = image.read(original, self.max_pixels)
                b = image.read(output, self.max_pixels)
                rep.height, rep.width = a.rgb.shape[:2]
                rep.findings, rep.faces_compared, rep.faces_erased = self.frame(a.rgb, b.rgb)
                rep.frames_checked = rep.frames_total = 1
            rep.findings += [Finding("metadata", f"{m.what}: {m.detail}") for m in metadata.scan(output)]

        failed = guarded(str(output), work, "not audited: treat it as unchecked")
        if isinstance(failed, Failed):
            rep.error = failed.error
        rep.seconds = time.perf_counter() - t0
        return rep

    def _video(self, original: Path, output: Path, rep: FileAudit) -> None:
        """Compare the two videos frame by frame as unseen reads them (media.Decoded: cover art
        skipped, frames an edit list hides left out, every frame at the first one's size)."""
        a = media.Decoded(original, max_pixels=self.max_pixels)
        try:
            b = media.Decoded(output, max_pixels=self.max_pixels)
        except BaseException:
            a.close()
            raise
        try:
            every = self.every or max(1, round(a.info.fps / VIDEO_SAMPLES_PER_SECOND))
            for n, (fa, fb) in enumerate(itertools.zip_longest(a, b)):
                if fa is None or fb is None or n % every:
                    continue
                # C-contiguous as dlib needs it: FFmpeg pads the rows of some widths (854 px).
                rgb_a = np.ascontiguousarray(media.upright_rgb(fa[1], a.info.turns))
                rgb_b = np.ascontiguousarray(media.upright_rgb(fb[1], b.info.turns))
                # An odd-sized video is written one column or row larger (4:2:0 needs even sizes),
                # copying its painted edge: compared at the original's size.
                h, w = rgb_a.shape[:2]
                if 0 <= rgb_b.shape[0] - h <= 1 and 0 <= rgb_b.shape[1] - w <= 1:
                    rgb_b = np.ascontiguousarray(rgb_b[:h, :w])
                rep.height, rep.width = rgb_a.shape[:2]
                found, compared, flat = self.frame(rgb_a, rgb_b, n)
                rep.findings += found
                rep.faces_compared += compared
                rep.faces_erased += flat
                rep.frames_checked += 1
        finally:
            a.close()
            b.close()
        rep.frames_total = min(a.frames, b.frames)
        if every > 1:
            rep.notes.append(f"sampled every {every}th frame ({rep.frames_checked} of {rep.frames_total})")
        if a.frames != b.frames:
            rep.notes.append(f"frame counts differ: original {a.frames}, output {b.frames}")
        rep.findings += _voices(original, output)


def _voices(original: Path, output: Path) -> list[Finding]:
    """A voice identifies a person as a face does: speech left in the output's sound is a risk,
    disguised or not (benchmarks/voice_disguise.py). Where the original has speech too, the
    message says how close the output's voice still is to it (audit/voiceprint.py: compared
    in memory, never stored), after an attacker's attempts to undo a disguise."""
    from unseen.audit import voiceprint
    from unseen.audit.speech import RATE, read_mono, speech_in

    out = read_mono(output)
    heard = speech_in(out)
    if not heard.present:
        return []
    measured = ""
    src = read_mono(original)
    if speech_in(src).present:
        start = int((heard.first or 0) * RATE)
        m = voiceprint.compare(src[start:], out[start:])
        measured = (
            f"; voice similarity to the original {m.similarity:.2f}, {m.inverted:.2f} after trying to undo a "
            f"disguise (one voice from {voiceprint.SAME_VOICE:.2f})"
        )
    return [
        Finding(
            "speech",
            f"speech present: voices can identify people ({heard.seconds:.0f} s of speech heard, "
            f"from {heard.first or 0:.1f} s{measured}); rerun with --audio drop",
        )
    ]


def _union(a: Detections, b: Detections) -> Detections:
    """Faces of the original: CenterFace's plus the other detectors', overlapping ones merged."""
    if len(b) and len(a):
        keep = iou_matrix(b.boxes, a.boxes).max(axis=1) < 0.3
        b = b.select(keep)
    boxes = np.concatenate([a.boxes.reshape(-1, 4), b.boxes.reshape(-1, 4)]).astype(np.float32)
    scores = np.concatenate([a.scores, b.scores]).astype(np.float32)
    return nms(Detections(boxes, scores, "union"), 0.5)


def _seen(box: Any, findings: list[Finding]) -> bool:
    """`box` overlaps a face already reported as visible."""
    shown = np.array([f.box for f in findings if f.box is not None], np.float32).reshape(-1, 4)
    return bool(len(shown) and iou_matrix(np.asarray(box, np.float32)[None, :4], shown).max() > 0.3)


def _box(box: Any) -> list[float]:
    return [round(float(v), 1) for v in box[:4]]


def _where(box: Any) -> str:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return f"x={x1:.0f} y={y1:.0f} ({x2 - x1:.0f}x{y2 - y1:.0f} px)"
