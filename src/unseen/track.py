"""Faces across frames: associate detections into tracks, then fill every frame a track spans.

Knows nothing of files or codecs: it takes boxes per detection frame and returns boxes per frame.
An anonymiser cannot wait for a track to be confirmed, so a track counts from its first detection,
and its boxes are carried to the frames the detector did not look at or missed:
- back-fill: the frames before a track's first detection, back to the previous detection frame
  (the face may have entered just after it), get the first box joined with where the track's
  first motion says it came from, slightly grown;
- interpolation: between two detections of a track (gaps up to `max_gap` frames, which bridges
  missed detections) boxes move linearly and are grown by part of the motion;
- hold: after a track's last detection its box, joined with where its last motion leads, is
  kept (grown) for `tail` frames;
- links: a new track that starts near a track lost at the same detection frame (probably one
  face that moved further than association follows) also gets the path between them painted;
- camera: given how the picture moved from frame to frame (a handheld camera jerking between
  detection frames), an interpolated box is joined with the same box moved by how far the
  picture strayed from a steady motion, and a back-filled or held box with the same box moved
  with the picture: the motion only adds cover (a wrong estimate costs area, not a face);
- edges: a box near a frame border is extended to it (the face may be partly outside).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from unseen.detect.base import iou_matrix


@dataclass
class Track:
    """One face over time: `frames` are the detection frames (increasing) and `boxes` the raw
    detector boxes `[x1, y1, x2, y2]` there, in pixels of the upright full-size frame."""

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def predict(self, frame: int) -> np.ndarray:
        """Where the box should be at `frame`, by constant velocity over the last two detections."""
        last = self.boxes[-1]
        if len(self.frames) < 2 or frame == self.frames[-1]:
            return last
        dt = self.frames[-1] - self.frames[-2]
        v = (last - self.boxes[-2]) / max(dt, 1)
        return np.asarray(last + v * (frame - self.frames[-1]), np.float32)


@dataclass(frozen=True)
class Filled:
    """A box for one frame: `detected` says whether the detector saw it there (or it was carried)."""

    track: int
    box: tuple[float, float, float, float]
    score: float
    detected: bool


class Tracker:
    """Greedy association of detections to live tracks, by IoU with the predicted box, or by
    centre distance relative to face size (small, fast faces can have zero IoU between frames)."""

    def __init__(self, max_gap: int, min_iou: float = 0.1, max_shift: float = 1.0, reach: float = 2.0) -> None:
        self.max_gap = max_gap
        self.min_iou = min_iou
        self.max_shift = max_shift
        self.reach = reach
        self.tracks: list[Track] = []
        self._live: list[Track] = []
        # (lost track id, new track id): a new face near a face that was lost at the same
        # detection frame, probably one face that moved further than association follows.
        self.links: list[tuple[int, int]] = []
        # The last association made, reused when `update` follows `jumps` with the same boxes.
        self._matched: tuple[int, np.ndarray, list[Track | None]] | None = None

    def jumps(self, frame: int, boxes: np.ndarray, min_size: float = 0.0) -> int:
        """How many of these boxes (those at least `min_size` px on their long side) match no
        track yet lie within `reach` face sizes of a track that found no box (nothing is
        changed). Such pairs are most likely one face that moved further than the tracker can
        follow: the caller can then detect the frames it skipped."""
        return int(
            sum(1 for d, _ in self._jumped(frame, boxes, self._match(frame, boxes)) if _side(boxes[d]) >= min_size)
        )

    def _jumped(self, frame: int, boxes: np.ndarray, matches: list[Track | None]) -> list[tuple[int, Track]]:
        """(box index, nearest lost track) for unmatched boxes within `reach` of a lost track
        of a similar size."""
        taken = {id(t) for t in matches if t is not None}
        lost = [t for t in self._live if frame - t.frames[-1] <= self.max_gap and id(t) not in taken]
        new = [d for d, t in enumerate(matches) if t is None]
        if not new or not lost:
            return []
        pred = np.stack([t.predict(frame) for t in lost]).astype(np.float32)
        size = np.maximum(pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1])
        nb = boxes[new].astype(np.float32)
        dc = _centres(nb)[:, None, :] - _centres(pred)[None, :, :]
        dist = np.hypot(dc[..., 0], dc[..., 1]) / np.maximum(size[None, :], 1.0)
        ratio = np.maximum(nb[:, 2] - nb[:, 0], nb[:, 3] - nb[:, 1])[:, None] / np.maximum(size[None, :], 1.0)
        dist = np.where((ratio > 0.5) & (ratio < 2.0), dist, np.inf)
        near = dist.argmin(axis=1)
        return [(d, lost[int(k)]) for d, k, row in zip(new, near, dist, strict=True) if row[k] < self.reach]

    def update(self, frame: int, boxes: np.ndarray, scores: np.ndarray) -> list[int]:
        """Add one detection frame's boxes (n, 4); returns the track id given to each box."""
        matches = self._match(frame, boxes)
        self._matched = None  # the tracks change now
        jumped = dict(self._jumped(frame, boxes, matches))
        self._live = [t for t in self._live if frame - t.frames[-1] <= self.max_gap]
        ids = []
        for d, track in enumerate(matches):
            if track is None:
                track = Track(len(self.tracks))
                self.tracks.append(track)
                self._live.append(track)
                if d in jumped:
                    self.links.append((jumped[d].id, track.id))
            self._add(track, frame, boxes[d], float(scores[d]))
            ids.append(track.id)
        return ids

    def _match(self, frame: int, boxes: np.ndarray) -> list[Track | None]:
        if self._matched is not None and self._matched[0] == frame and self._matched[1] is boxes:
            return self._matched[2]
        matched = self._associate(frame, boxes)
        self._matched = (frame, boxes, matched)
        return matched

    def _associate(self, frame: int, boxes: np.ndarray) -> list[Track | None]:
        live = [t for t in self._live if frame - t.frames[-1] <= self.max_gap]
        out: list[Track | None] = [None] * len(boxes)
        if not len(boxes) or not live:
            return out
        boxes = boxes.astype(np.float32)
        pred = np.stack([t.predict(frame) for t in live]).astype(np.float32)
        score = iou_matrix(boxes, pred)
        size = np.maximum(pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1])
        dc = _centres(boxes)[:, None, :] - _centres(pred)[None, :, :]
        dist = np.hypot(dc[..., 0], dc[..., 1]) / np.maximum(size[None, :], 1.0)
        det_size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        ratio = det_size[:, None] / np.maximum(size[None, :], 1.0)
        near = (dist < self.max_shift) & (ratio > 0.5) & (ratio < 2.0)
        score = np.where((score >= self.min_iou) | near, score + 1e-3 * (1 - np.minimum(dist, 1)), -1.0)
        used: set[int] = set()
        for flat in np.argsort(-score, axis=None):
            d, t = divmod(int(flat), len(live))
            if score[d, t] < 0:
                break
            if out[d] is not None or t in used:
                continue
            out[d] = live[t]
            used.add(t)
        return out

    @staticmethod
    def _add(track: Track, frame: int, box: np.ndarray, score: float) -> None:
        track.frames.append(frame)
        track.boxes.append(np.asarray(box, np.float32))
        track.scores.append(score)


def _side(b: np.ndarray) -> float:
    return float(max(b[2] - b[0], b[3] - b[1]))


def _centres(b: np.ndarray) -> np.ndarray:
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def _grow(box: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return np.asarray(box + np.array([-dx, -dy, dx, dy], np.float32), np.float32)


def _velocity(t: Track, end: int) -> np.ndarray:
    """Box motion per frame at the start (end=0) or the end (end=-1) of a track; zero if unknown."""
    if len(t.frames) < 2:
        return np.zeros(4, np.float32)
    a, b = (0, 1) if end == 0 else (-2, -1)
    return np.asarray((t.boxes[b] - t.boxes[a]) / max(t.frames[b] - t.frames[a], 1), np.float32)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])]).astype(np.float32)


def fill(
    tracks: Sequence[Track],
    frames: int,
    lead: int,
    tail: int,
    width: int,
    height: int,
    grow_per_frame: float = 0.02,
    motion_slack: float = 0.25,
    links: Sequence[tuple[int, int]] = (),
    edge: float = 0.5,
    start: int = 0,
    camera: Sequence[tuple[float, float]] | None = None,
    camera_slack: float = 0.05,
) -> dict[int, list[Filled]]:
    """Boxes for every frame from `start` to `frames` - 1 that each track covers, clipped to
    the frame; frame -> list.

    `lead` frames before the first detection and `tail` after the last get the held box, grown
    by `grow_per_frame` of its size per frame away; interpolated boxes are grown by
    `motion_slack` of the displacement between their two detections (faces do not move linearly).
    Each `links` pair (track a, track b: Tracker.links) also gets the path from a's last box to
    b's first interpolated, under b's id: added cover, nothing else is taken away.
    A box closer to a frame border than `edge` of its size is extended to that border: a face
    there may be partly outside the frame, and the detector sees only part of it.
    `camera[f]` is how far the picture has moved by frame f (x, y pixels, from any fixed
    start), for every frame a track or link reaches: an interpolated box is joined with the
    same box moved by how far the picture strayed from a steady motion between the two
    detections, a back-filled or held box with the same box moved with the picture, unless the
    move is under `camera_slack` of the box's size."""
    # Boxes are collected first and clipped and extended to the edges in one array operation:
    # per box, those few numpy calls were most of the time fill took on a crowd.
    placed: list[tuple[int, int, float, bool]] = []
    boxes: list[np.ndarray] = []

    def put(f: int, t: Track, box: np.ndarray, score: float, detected: bool) -> None:
        if start <= f < frames:
            placed.append((f, t.id, score, detected))
            boxes.append(box)

    def shifted(box: np.ndarray, dx: float, dy: float) -> np.ndarray:
        """`box` joined with itself moved by (dx, dy); as it is when the move is under
        `camera_slack` of its size (the margin covers that, and the estimate is that noisy)."""
        if abs(dx) < camera_slack * (box[2] - box[0]) and abs(dy) < camera_slack * (box[3] - box[1]):
            return box
        return _union(box, box + np.array([dx, dy, dx, dy], np.float32))

    def carried(f: int, j: int, box: np.ndarray) -> np.ndarray:
        """`box`, placed at frame j from frame f: joined with where the camera took it."""
        if camera is None or not (start <= j < frames):
            return box
        return shifted(box, camera[j][0] - camera[f][0], camera[j][1] - camera[f][1])

    def between(t: Track, f: int, g: int, a: np.ndarray, b: np.ndarray, score: float) -> None:
        """Frames strictly between f and g (in the window): boxes moved linearly from a to b,
        grown by `motion_slack` of the displacement, and joined with the same box moved by how
        far the picture strayed from a steady motion between f and g (a jerking camera; a
        tripod or a smooth pan: the straight line already follows the picture)."""
        shift = np.abs(b - a) * motion_slack
        pad = max(float(shift[0]), float(shift[2])), max(float(shift[1]), float(shift[3]))
        for j in range(max(f + 1, start), min(g, frames)):
            w = (j - f) / (g - f)
            box = _grow(a + (b - a) * w, *pad)
            if camera is not None:
                dx = camera[j][0] - camera[f][0] - w * (camera[g][0] - camera[f][0])
                dy = camera[j][1] - camera[f][1] - w * (camera[g][1] - camera[f][1])
                box = shifted(box, dx, dy)
            put(j, t, box, score, False)

    # Only what lands in start..frames-1 is computed: one-pass `run` asks for a few frames at a
    # time while a track can span the whole video.
    for t in tracks:
        first, last = t.boxes[0], t.boxes[-1]
        if t.frames[0] - lead < frames and t.frames[0] > start:
            v_first = _velocity(t, 0)
            for k in range(1, lead + 1):
                box = _union(first, first - v_first * k)  # still there, or coming from where it moved
                w, h = box[2] - box[0], box[3] - box[1]
                box = carried(t.frames[0], t.frames[0] - k, box)
                put(t.frames[0] - k, t, _grow(box, w * grow_per_frame * k, h * grow_per_frame * k), t.scores[0], False)
        # Detections before the one at or before `start` place nothing from `start` on.
        for i in range(max(0, bisect.bisect_right(t.frames, start) - 1), len(t.frames)):
            f = t.frames[i]
            if f >= frames:
                break
            put(f, t, t.boxes[i], t.scores[i], True)
            if i + 1 < len(t.frames):
                score = min(t.scores[i], t.scores[i + 1])
                between(t, f, t.frames[i + 1], t.boxes[i], t.boxes[i + 1], score)
        if t.frames[-1] + 1 < frames and t.frames[-1] + tail >= start:
            v_last = _velocity(t, -1)
            for k in range(1, tail + 1):
                box = _union(last, last + v_last * k)  # stopped, or went on moving
                w, h = box[2] - box[0], box[3] - box[1]
                box = carried(t.frames[-1], t.frames[-1] + k, box)
                put(
                    t.frames[-1] + k, t, _grow(box, w * grow_per_frame * k, h * grow_per_frame * k), t.scores[-1], False
                )
    by_id = {t.id: t for t in tracks}
    for a_id, b_id in links:
        ta, tb = by_id.get(a_id), by_id.get(b_id)
        if ta is None or tb is None or ta.frames[-1] >= tb.frames[0]:
            continue
        between(tb, ta.frames[-1], tb.frames[0], ta.boxes[-1], tb.boxes[0], tb.scores[0])
    return _framed(placed, boxes, width, height, edge)


def _framed(
    placed: list[tuple[int, int, float, bool]], boxes: list[np.ndarray], width: int, height: int, edge: float
) -> dict[int, list[Filled]]:
    """frame -> Filled, in the order placed: each box clipped to the frame, extended to a border
    it is closer to than `edge` of its size, and dropped if less than a pixel is left."""
    limit = np.array([width, height, width, height], np.float32)
    b = np.clip(np.array(boxes, np.float32).reshape(-1, 4), 0, limit)
    bw, bh = (b[:, 2] - b[:, 0]) * edge, (b[:, 3] - b[:, 1]) * edge
    near = np.stack([b[:, 0] < bw, b[:, 1] < bh, limit[0] - b[:, 2] < bw, limit[1] - b[:, 3] < bh], axis=1)
    b = np.where(near, np.array([0, 0, width, height], np.float32), b)
    keep = ((b[:, 2] - b[:, 0]) >= 1) & ((b[:, 3] - b[:, 1]) >= 1)
    out: dict[int, list[Filled]] = {}
    for (f, track, score, detected), box, ok in zip(placed, b.tolist(), keep.tolist(), strict=True):
        if ok:
            out.setdefault(f, []).append(Filled(track, (box[0], box[1], box[2], box[3]), score, detected))
    return out
