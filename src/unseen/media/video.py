"""Videos in and out with PyAV: decode upright frames, encode clean, copy audio, drop everything else.

What a caller must know:
- Frames are numbered 0.. in decode (presentation) order of the first real video stream; cover
  art (`attached_pic`) streams are never taken for the video.
- Rotation is *applied*: frames come out upright, the output carries no display matrix (so every
  player shows it the same way, and the plan's boxes are in upright pixels).
- The output is built from scratch: a new container with no container or stream metadata, the
  re-encoded video and, if asked, the audio streams (packets copied unchanged where the output
  container accepts the codec and its codec header can be rebuilt without tags (media.audio),
  re-encoded to AAC/Opus otherwise). Subtitle, data (GPS telemetry),
  attachment and cover-art streams are never written.
- Timestamps: every output frame keeps its source `pts` in the source stream's time base, so
  frame count, duration and variable frame rate survive.
- Anything FFmpeg cannot read, and a file that ends before its declared length, raises MediaError.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from unseen.errors import LimitError, MediaError
from unseen.limits import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS
from unseen.media.audio import clean_header
from unseen.media.image import open_header, refuse_size
from unseen.obscure.base import Yuv420

# Output suffix -> PyAV muxer. Suffixes not listed are written as MP4 (the output name changes).
MUXERS: dict[str, str] = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".ts": "mpegts",
    ".mts": "mpegts",
    ".m2ts": "mpegts",
}
FALLBACK_SUFFIX = ".mp4"
TS_AUDIO = frozenset({"aac", "mp2", "mp3", "ac3", "eac3"})
DISGUISE_RATE = 16_000  # Hz, mono: what --audio disguise works on (the output keeps its rate; above 8 kHz is lost)
# H.273 matrix codes -> swscale's colorspaces (the rest are left to its default)
_COLORSPACES = {1: Colorspace.ITU709, 4: Colorspace.FCC, 5: Colorspace.ITU601, 6: Colorspace.ITU601}
_COLORSPACES |= {7: Colorspace.SMPTE240M, 9: Colorspace.BT2020}
X264_PRESET = "veryfast"  # CRF sets the quality; the preset only trades file size for speed
QUEUE_FRAMES = 8  # frames in flight between the decode, paint and encode threads


def output_suffix(suffix: str) -> str:
    """The suffix unseen writes for an input suffix (same family, or .mp4 where PyAV cannot)."""
    return suffix.lower() if suffix.lower() in MUXERS else FALLBACK_SUFFIX


@dataclass(frozen=True)
class VideoInfo:
    """Header facts of the video stream. `width`/`height` are upright (rotation applied);
    `turns` is how many 90-degree counter-clockwise turns make a decoded frame upright; `sar`
    is the upright pixel's width over its height (DV, HDV, DVD and TV video store wide or
    narrow pixels that players stretch)."""

    width: int
    height: int
    turns: int
    fps: float
    declared_frames: int | None
    codec: str
    sar: Fraction = Fraction(1)
    colour: Colour = field(default_factory=lambda: Colour())


UNSPECIFIED = 2  # ITU-T H.273 code for a matrix, primaries or transfer the file does not state


@dataclass(frozen=True)
class Colour:
    """How the source's samples map to colours, as its first frame says (ITU-T H.273 codes).
    The output is tagged the same and its samples keep the same range, so a player shows it as
    it shows the source: untagged, a GoPro's or phone's full-range (0-255) video was shown with
    its blacks lifted and whites crushed (16-235 assumed), and HLG/PQ HDR as washed-out SDR.
    `full`: 0-255 samples (JPEG range) rather than 16-235."""

    full: bool = False
    matrix: int = UNSPECIFIED
    primaries: int = UNSPECIFIED
    trc: int = UNSPECIFIED

    @property
    def range(self) -> ColorRange:
        return ColorRange.JPEG if self.full else ColorRange.MPEG

    @property
    def colorspace(self) -> Colorspace | None:
        """The matrix for swscale, where it knows it (else None: its default, BT.601)."""
        return _COLORSPACES.get(self.matrix)


# What an RGB source (an animation: APNG, GIF, WebP) is written as: its colour tags describe
# RGB samples, and copied onto the YUV output they made players read it as RGB (purple and green).
FROM_RGB = Colour(full=False, matrix=1, primaries=1, trc=1)  # BT.709, the web's default


def rgb_like(frame: Any) -> bool:
    return bool(frame.format.is_rgb or frame.format.has_palette)


def colour_of(frame: Any) -> Colour:
    if rgb_like(frame):
        return FROM_RGB
    full = frame.format.name.startswith("yuvj") or int(frame.color_range) == int(ColorRange.JPEG)
    return Colour(full, int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc))


def _fail(path: Path, e: BaseException) -> MediaError:
    msg = str(e).split(": '/")[0].split(";")[0].strip() or type(e).__name__
    return MediaError(f"{path}: not a video unseen can read, corrupt or truncated ({msg})")


def open_video(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, max_frames: int = DEFAULT_MAX_FRAMES) -> Any:
    """The file as an FFmpeg container; an animated WebP, which FFmpeg cannot decode, as a
    lossless copy of its frames (`_webp_frames`), known by its header (it may have no suffix).
    The limits are checked on the WebP's header before it is decoded (LimitError); an FFmpeg
    container's are checked by `Decoded`, from its header too."""
    try:
        if path.stat().st_size == 0:
            raise MediaError(f"{path}: the file is empty (0 bytes); nothing to do, re-copy it from the source")
        with open(path, "rb") as f:
            head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_frames(path, max_pixels, max_frames)
        return av.open(str(path), "r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise _fail(path, e) from e


def _webp_frames(path: Path, max_pixels: int, max_frames: int) -> Any:
    """An animated WebP's frames (Pillow composes them) written losslessly (FFV1 in Matroska,
    each at its own time in ms) to an anonymous temporary file, opened as a container: the
    video path then treats it as any clip. One frame is held at a time, and the canvas size and
    frame count are checked from the header first: composing 3 frames of 11,000 x 11,000 took
    47 s and 5.6 GB before the limits were looked at."""
    import tempfile

    from PIL import ImageSequence

    buf = tempfile.TemporaryFile()  # noqa: SIM115 - the returned container reads it until closed
    try:
        with open_header(path) as im:
            if not getattr(im, "is_animated", False):
                raise MediaError(f"{path}: a still WebP, not an animation")
            refuse_size(str(path), im.width, im.height, max_pixels, "frames ")
            refuse_frames(path, int(getattr(im, "n_frames", 1)), max_frames)
            with av.open(buf, "w", format="matroska") as out:
                stream = out.add_stream("ffv1", rate=1000)
                stream.width, stream.height, stream.pix_fmt = im.width, im.height, "bgr0"  # RGB, exactly
                stream.time_base = Fraction(1, 1000)
                last = -1
                for frame in ImageSequence.Iterator(im):
                    rgb = frame.convert("RGB")
                    vf = av.VideoFrame.from_ndarray(np.asarray(rgb), format="rgb24")
                    last = vf.pts = max(int(frame.info.get("timestamp", 0)), last + 1)
                    vf.time_base = Fraction(1, 1000)
                    out.mux(stream.encode(vf))
                out.mux(stream.encode(None))
    except MediaError:  # LimitError too
        buf.close()
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure on untrusted input is this file's error
        buf.close()
        raise MediaError(f"{path}: not an animated WebP unseen can read, corrupt or truncated ({e})") from e
    buf.seek(0)
    return av.open(buf, "r", format="matroska")


def refuse_frames(path: Path, frames: int | None, max_frames: int) -> None:
    """LimitError when a video's header (or its decoding so far) counts more than --max-frames."""
    if frames and frames > max_frames:
        raise LimitError(f"{path}: {frames} frames is over the limit of {max_frames} (--max-frames)")


def video_stream(container: Any, path: Path) -> Any:
    """The stream unseen anonymises: the first video stream that is not cover art."""
    for s in container.streams.video:
        if not (int(s.disposition) & int(av.stream.Disposition.attached_pic)):
            return s
    raise MediaError(f"{path}: has no video stream")


def _audio_streams(container: Any, path: Path) -> list[Any]:
    """The audio streams to keep; one whose header has no codec description cannot be copied or
    decoded, so the file is refused (fail closed) with the way out rather than silently muted."""
    streams = list(container.streams.audio)
    for s in streams:
        if s.codec_context is None:
            raise MediaError(
                f"{path}: audio stream {s.index} has no codec description (corrupt header); "
                "rerun with --no-audio to drop the audio"
            )
    return streams


def _turns(rotation: float) -> int:
    """FFmpeg's display rotation is counter-clockwise degrees to turn the frame for display."""
    return round(rotation / 90) % 4


def _info(stream: Any, first: Any | None) -> VideoInfo:
    """The stream's facts; rotation and colour come from its `first` frame, once decoded."""
    cc = stream.codec_context
    turns = _turns(first.rotation if first is not None else 0.0)
    w, h = int(cc.width), int(cc.height)
    if turns % 2:
        w, h = h, w
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(30)
    sar = Fraction(cc.sample_aspect_ratio or stream.sample_aspect_ratio or 1)
    sar = sar if sar > 0 else Fraction(1)
    colour = colour_of(first) if first is not None else Colour()
    sar = 1 / sar if turns % 2 else sar
    return VideoInfo(w, h, turns, float(rate), int(stream.frames) or None, cc.name, sar, colour)


_local = threading.local()


def _reformat(frame: Any, **how: Any) -> Any:
    """frame.reformat(**how) through this thread's own reformatter, which keeps its scaler from
    call to call: `VideoFrame.reformat` builds a new one every time, which cost ~3 ms a frame
    (most of a 176x144 frame's conversion, ~1.5 ms of a 1080p one)."""
    if not hasattr(_local, "reformatter"):
        _local.reformatter = VideoReformatter()
    return _local.reformatter.reformat(frame, **how)


def upright_rgb(frame: Any, turns: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """The frame as an upright HxWx3 uint8 RGB array; `size` (upright w, h) scales it in the same
    swscale pass, which is how detection gets a small copy without a full-size conversion."""
    src = colour_of(frame).range  # swscale takes 16-235 unless told (a yuvj format aside)
    if size is None:
        rgb = _reformat(frame, format="rgb24", src_color_range=src).to_ndarray()
    else:
        w, h = size if turns % 2 == 0 else (size[1], size[0])
        how = {"width": w, "height": h, "interpolation": "AREA", "src_color_range": src}
        rgb = _reformat(frame, format="rgb24", **how).to_ndarray()
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"})


def grey(frame: Any, width: int, height: int, turns: int) -> np.ndarray:
    """A small upright grey copy of the frame, float32 (`width` x `height` before turning):
    taken from the luma plane where the frame has an 8-bit one (~0.15 ms at 1080p), else
    through a scaler of its own (sharing `_reformat`'s would rebuild it at every switch)."""
    if frame.format.name in LUMA_FIRST:
        y = _plane(frame, 0, frame.height, frame.width)
        step = max(1, frame.width // (4 * width))  # sampled down to ~4x the size, then averaged
        g = cv2.resize(y[::step, ::step], (width, height), interpolation=cv2.INTER_AREA)
    else:
        if not hasattr(_local, "grey"):
            _local.grey = VideoReformatter()
        how = {"width": width, "height": height, "format": "gray", "interpolation": "AREA"}
        g = _local.grey.reformat(frame, **how).to_ndarray()
    g = np.rot90(g, turns) if turns else g
    return np.ascontiguousarray(g, np.float32)


def _stream_end(container: Any, stream: Any) -> float | None:
    """Seconds at which the video stream should end according to the header, if it says."""
    if stream.duration and stream.time_base:
        return float((stream.start_time or 0) * stream.time_base + stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hh, mm, ss = tag.split(":")
            return int(hh) * 3600 + int(mm) * 60 + float(ss)
        except ValueError:
            return None
    if container.duration and not container.streams.audio:
        return float(container.duration / 1_000_000)
    return None


def at_size(frame: Any, size: tuple[int, int]) -> Any:
    """`frame` scaled to `size` (width, height as decoded, before rotation) unless it is that
    size. A stream whose frame size changes midway (joined segments of a live stream) is read at
    its first frame's size throughout, the size the encoder writes: otherwise regions found on
    frames of one size would be painted on frames of another, in the wrong place."""
    if (frame.width, frame.height) == size:
        return frame
    return _reformat(frame, width=size[0], height=size[1])


class Decoded:
    """Iterate `(index, frame)` over the video stream, checking at the end that nothing is missing.

    With `audio`, audio packets are yielded in file order as `(None, packet)`, so a file is read
    once and one thread owns the output container.

    `max_pixels` and `max_frames` are checked from the header before anything is decoded (where
    it states them), then on the first frame's size and on every frame counted (LimitError)."""

    def __init__(
        self,
        path: Path,
        audio: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_frames: int = DEFAULT_MAX_FRAMES,
    ) -> None:
        self.path = path
        self.max_pixels, self.max_frames = max_pixels, max_frames
        self.container = open_video(path, max_pixels, max_frames)
        try:
            self.stream = video_stream(self.container, path)
            self.stream.thread_type = "AUTO"
            self.audio = _audio_streams(self.container, path) if audio else []
            self.info = _info(self.stream, None)
            if self.info.width and self.info.height:
                refuse_size(str(path), self.info.width, self.info.height, max_pixels, "frames ")
            refuse_frames(path, self.info.declared_frames, max_frames)
        except BaseException:
            self.container.close()
            raise
        self.frames = 0

    def expected_frames(self) -> int | None:
        """Frame count from the header, or duration x frame rate: for progress bars only."""
        if self.info.declared_frames:
            return self.info.declared_frames
        end = _stream_end(self.container, self.stream) or (self.container.duration or 0) / 1_000_000
        return round(end * self.info.fps) or None

    def __iter__(self) -> Iterator[tuple[int | None, Any]]:
        last_time = None
        fps = self.info.fps
        hidden = 0  # packets an edit list cuts (a trimmed phone video): decoded, never shown
        size = (0, 0)  # the first frame's, set with it
        try:
            for packet in self.container.demux(self.stream, *self.audio):
                if packet.stream.index != self.stream.index:
                    if packet.size:
                        yield None, packet
                    continue
                hidden += packet.is_discard and packet.size > 0
                for frame in packet.decode():
                    if self.frames == 0:
                        self.info = _info(self.stream, frame)
                        size = (frame.width, frame.height)
                        refuse_size(str(self.path), frame.width, frame.height, self.max_pixels, "frames ")
                    if self.frames >= self.max_frames:
                        raise LimitError(f"{self.path}: more than {self.max_frames} frames (--max-frames)")
                    frame = at_size(frame, size)
                    if frame.time is not None:
                        last_time = frame.time
                    yield self.frames, frame
                    self.frames += 1
        except (av.FFmpegError, OSError, ValueError, EOFError) as e:
            raise _fail(self.path, e) from e
        if self.frames == 0:
            raise MediaError(f"{self.path}: no video frame could be decoded (corrupt or truncated)")
        declared = self.info.declared_frames
        if declared and self.frames < declared - hidden - 1:
            raise MediaError(f"{self.path}: truncated: {self.frames} of {declared} frames could be decoded")
        end = _stream_end(self.container, self.stream)
        if end is not None and last_time is not None and last_time + max(3 / fps, 0.25) < end:
            raise MediaError(f"{self.path}: truncated: video stops at {last_time:.2f}s of {end:.2f}s; re-export it")

    def close(self) -> None:
        self.container.close()


def probe(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, max_frames: int = DEFAULT_MAX_FRAMES) -> VideoInfo:
    """Header facts without decoding more than the first frame (for rotation); the limits are
    checked before that frame is decoded."""
    dec = Decoded(path, max_pixels=max_pixels, max_frames=max_frames)
    try:
        for _ in dec:
            break
        return dec.info
    finally:
        dec.close()


def threaded(items: Iterator[Any], depth: int = QUEUE_FRAMES) -> Iterator[Any]:
    """Run an iterator in its own thread, `depth` items ahead: decoding overlaps the caller's work
    (FFmpeg and onnxruntime release the GIL). Exceptions are re-raised in the caller."""
    q: queue.Queue[tuple[int, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((0, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((1, None))
        except BaseException as e:  # handed to the consumer, which re-raises it
            q.put((2, e))

    t = threading.Thread(target=work, daemon=True, name="unseen-decode")
    t.start()
    try:
        while True:
            kind, item = q.get()
            if kind == 1:
                return
            if kind == 2:
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


class Writer:
    """A clean output file: one re-encoded video stream and copied (or re-encoded) audio streams.

    Nothing from the input container reaches the output except audio packets and the frame
    timestamps; the muxer gets `bitexact` so it writes no encoder version or creation time."""

    def __init__(
        self,
        tmp: Path,
        suffix: str,
        info: VideoInfo,
        time_base: Fraction,
        audio: list[Any],
        crf: int,
        disguise: bool = False,
    ) -> None:
        fmt = MUXERS.get(suffix.lower(), "mp4")
        self.out = av.open(str(tmp), "w", format=fmt, container_options={"fflags": "+bitexact"})
        self.out.metadata.clear()
        if fmt == "webm":
            v = self.out.add_stream("libvpx-vp9", rate=Fraction(info.fps).limit_denominator(100000))
            v.options = {"crf": str(min(63, crf + 12)), "b": "0", "deadline": "realtime", "cpu-used": "8"}
            v.options["row-mt"] = "1"
        else:
            v = self.out.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(100000))
            v.options = {"crf": str(crf), "preset": X264_PRESET, "a53cc": "0"}  # no captions carried
        # 4:2:0 everywhere: 4:4:4 H.264 and VP9 play in few browsers and phones. H.264 4:2:0
        # needs even sizes and its cropping works in steps of two pixels, so an odd-sized frame
        # gets one more column or row copying its (painted) edge, and a pixel aspect ratio that
        # shows it in the source's shape. VP9 takes odd sizes as they are.
        self.pad = (0, 0) if fmt == "webm" else (info.width % 2, info.height % 2)
        v.width, v.height = info.width + self.pad[0], info.height + self.pad[1]
        sar = info.sar * Fraction(info.width * v.height, info.height * v.width)
        if sar != 1:
            v.codec_context.sample_aspect_ratio = sar  # shown as wide as the source is
        v.pix_fmt = "yuv420p"
        self.colour = c = info.colour
        cc = v.codec_context
        cc.color_range = c.range
        if c.matrix != UNSPECIFIED:
            cc.colorspace = c.matrix
        if c.primaries != UNSPECIFIED:
            cc.color_primaries = c.primaries
        if c.trc != UNSPECIFIED:
            cc.color_trc = c.trc
        v.time_base = time_base
        v.codec_context.time_base = time_base
        self.time_base = time_base  # the muxer may change the *stream's* time base at header time
        v.codec_context.flags |= av.codec.context.Flags.bitexact
        self.video = v
        self.audio_map: dict[int, tuple[Any, bool]] = {}  # input index -> (output stream, copied)
        # For MPEG-TS FFmpeg lists only its default codecs (MPEG-2, MP2): these are the audio it carries.
        supported = TS_AUDIO if fmt == "mpegts" else self.out.supported_codecs or set()
        for a in audio:
            out_a: Any
            name = a.codec_context.name
            # A copied stream keeps its codec header, which can hold tags (a Vorbis comment, a
            # FLAC picture): it is copied rebuilt without them, or the audio is re-encoded.
            header = bytes(a.codec_context.extradata or b"")
            clean = clean_header(name, header)
            if (
                name in supported
                and clean is not None
                and not (fmt == "mp4" and name.startswith("pcm_"))
                and not disguise
            ):
                out_a = self.out.add_stream_from_template(a)
                if clean != header:
                    out_a.codec_context.extradata = clean
                self.audio_map[a.index] = (out_a, True)
            else:
                codec = "libopus" if fmt == "webm" else "aac"
                rate = 48000 if codec == "libopus" else a.codec_context.sample_rate
                layout = "mono" if a.codec_context.channels == 1 and codec == "aac" else "stereo"
                out_a = self.out.add_stream(codec, rate=rate, layout=layout)
                self.audio_map[a.index] = (out_a, False)
            out_a.metadata.clear()
            out_a.disposition = 0
        v.metadata.clear()
        self.last_pts: int | None = None
        self.audio_next: dict[int, int] = {}  # input index -> pts of its next re-encoded sample
        # --audio disguise: the whole track is needed to change the voice (kept as mono float).
        self.held: dict[int, list[np.ndarray]] | None = {a.index: [] for a in audio} if disguise else None
        self.held_start: dict[int, float] = {}  # seconds
        self.held_resamplers: dict[int, Any] = {}

    def audio_packet(self, packet: Any) -> None:
        target = self.audio_map.get(packet.stream.index)
        if target is None:
            return
        stream, copied = target
        if copied:
            if packet.dts is None:
                return
            packet.stream = stream
            self.out.mux(packet)
        else:
            for frame in packet.decode():
                # Samples are counted on from where the source's audio starts: video keeps the
                # source's timestamps (an MPEG-TS clip starts at ~1.4 s), so audio counted from
                # 0 would play ahead of the picture.
                rate = frame.sample_rate
                pts = self.audio_next.get(packet.stream.index)
                if pts is None:
                    pts = max(0, round((frame.time or 0.0) * rate))
                frame.pts, frame.time_base = pts, Fraction(1, rate)
                self.audio_next[packet.stream.index] = pts + frame.samples
                if self.held is not None:
                    self._hold(packet.stream.index, frame, pts / rate)
                    continue
                self.out.mux(stream.encode(frame))

    def frame(self, picture: np.ndarray | Any | None, source: Any, index: int) -> None:
        """Encode one frame at the source frame's timestamp. `picture` is the painted upright RGB
        array, or a painted VideoFrame (see yuv420), or None to re-encode `source` as it is
        (nothing to paint, no rotation: no RGB round trip at all)."""
        c, fmt = self.colour, self.video.pix_fmt
        if (self.pad != (0, 0) or rgb_like(source)) and not isinstance(picture, np.ndarray):
            picture = upright_rgb(source if picture is None else picture, 0)
        if isinstance(picture, np.ndarray):
            if self.pad != (0, 0):  # from the painted frame: the copied edge holds no face left bare
                picture = np.pad(picture, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
            rgb = av.VideoFrame.from_ndarray(picture, format="rgb24")
            how = {"dst_colorspace": c.colorspace, "dst_color_range": c.range}
            frame = _reformat(rgb, format=fmt, src_color_range=ColorRange.JPEG, **how)
        else:
            frame = source if picture is None else picture
            if frame.format.name != fmt:  # yuvj420p, 4:2:2, 10-bit: the samples keep their range
                frame = _reformat(frame, format=fmt, src_color_range=c.range, dst_color_range=c.range)
        pts = source.pts if source.pts is not None else index
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # the encoder refuses non-increasing timestamps
        self.last_pts = pts
        frame.pts = pts
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        self.out.mux(self.video.encode(frame))

    def finish(self) -> None:
        self.out.mux(self.video.encode(None))
        if self.held is not None:
            self._disguised()
        for stream, copied in self.audio_map.values():
            if not copied:
                self.out.mux(stream.encode(None))
        self.out.close()

    def _hold(self, index: int, frame: Any, start: float) -> None:
        """Keep a decoded frame of a track to disguise, as mono at DISGUISE_RATE: the voice
        band is all there, and the transform costs a third of what it does at 48 kHz."""
        assert self.held is not None
        self.held_start.setdefault(index, start)
        resampler = self.held_resamplers.setdefault(
            index, av.AudioResampler(format="flt", layout="mono", rate=DISGUISE_RATE)
        )
        self.held[index] += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]

    def _disguised(self) -> None:
        """Encode each held track with its voice disguised (unseen.voice; a new secret each)."""
        from unseen.voice import disguise

        assert self.held is not None
        for index, chunks in self.held.items():
            if index in self.held_resamplers:
                chunks += [f.to_ndarray().reshape(-1) for f in self.held_resamplers[index].resample(None)]
            if not chunks:
                continue
            stream = self.audio_map[index][0]
            rate = DISGUISE_RATE
            x = disguise(np.concatenate(chunks).astype(np.float32), rate)
            pts = round(self.held_start.get(index, 0.0) * rate)
            step = 1024
            for s in range(0, len(x), step):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(x[None, s : s + step]), format="flt", layout="mono"
                )
                frame.sample_rate = rate  # the encoder converts to its own rate and layout
                frame.pts, frame.time_base = pts + s, Fraction(1, rate)
                self.out.mux(stream.encode(frame))

    def abort(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError, ValueError):
            self.out.close()


PLANAR = ("yuv420p", "yuvj420p")  # what phones and cameras write; other formats take the RGB path


def yuv420(frame: Any) -> Yuv420 | None:
    """The frame's Y, U and V planes as writable views, for a method to paint in place (it skips
    two full-frame colour conversions, the largest cost after encoding at 1080p); None for other
    pixel formats and odd sizes, which take the RGB path. The pixels are copied only if the
    decoder still holds them (reference frames): its buffers are never written to."""
    w, h = frame.width, frame.height
    if frame.format.name not in PLANAR or w % 2 or h % 2:
        return None
    frame.make_writable()
    y, u, v = (_plane(frame, i, h if i == 0 else h // 2, w if i == 0 else w // 2) for i in range(3))
    return Yuv420(y, u, v, frame.format.name == "yuvj420p" or frame.color_range == 2)  # AVCOL_RANGE_JPEG


def _plane(frame: Any, i: int, rows: int, cols: int) -> np.ndarray:
    p = frame.planes[i]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols]
