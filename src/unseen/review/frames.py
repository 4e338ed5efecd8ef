"""Frame access for the review page: the upright pictures of photos and of video frames (by the
plan's frame index), and their JPEG renderings, original or painted as `apply` would paint them.

Nothing here knows the plan's state or HTTP: the caller names the file, the frame and the regions.
"""

from __future__ import annotations

import bisect
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from unseen.errors import UnseenError
from unseen.media import image
from unseen.media.video import at_size, open_video, video_stream
from unseen.obscure import obscure
from unseen.plan import MediaPlan, Region

JPEG_QUALITY = 90


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


class Frames:
    """Random access to the frames of one video by index (0.. in presentation order, as the plan
    numbers them). Packet timestamps are indexed once without decoding; a request seeks to the
    keyframe before it and decodes forward, so stepping is cheap and jumping stays exact."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.container = open_video(path)
        self.stream = video_stream(self.container, path)
        cc = self.stream.codec_context
        self.size = (cc.width, cc.height)  # the plan's (before rotation), if the size changes midway
        pts = [p.pts for p in self.container.demux(self.stream) if p.size and p.pts is not None]
        self.pts = sorted(pts)
        self.container.seek(0)
        self._iter: Any = None
        self._next = -1

    def get(self, index: int) -> np.ndarray:
        """The upright RGB frame `index` (rotation metadata applied)."""
        with self.lock:
            if not 0 <= index < len(self.pts):
                raise UnseenError(f"{self.path.name}: no frame {index}")
            if not (self._iter is not None and self._next <= index <= self._next + 60):
                self.container.seek(self.pts[index], stream=self.stream, backward=True, any_frame=False)
                self._iter = self.container.decode(self.stream)
                self._next = -1
            for frame in self._iter:
                i = bisect.bisect_left(self.pts, frame.pts) if frame.pts is not None else self._next
                self._next = i + 1
                if i == index:
                    turns = round((frame.rotation or 0) / 90) % 4
                    rgb = at_size(frame, self.size).to_ndarray(format="rgb24")
                    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
                if i > index:
                    break
            self._iter = None
            raise UnseenError(f"{self.path.name}: frame {index} could not be decoded")

    def close(self) -> None:
        self.container.close()


class Pictures:
    """The pictures the page asks for, with a small cache (a few photos, a few video frames, the
    last JPEGs of originals); one open `Frames` per video. Thread-safe: the server answers
    requests in parallel."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels
        self.lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._frames: dict[str, Frames] = {}

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Any], keep: int = 48) -> Any:
        with self.lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self.lock:
            self._cache[key] = value
            while len(self._cache) > keep:
                self._cache.popitem(last=False)
        return value

    def rgb(self, media: MediaPlan, path: Path, frame: int | None) -> np.ndarray:
        """The upright RGB picture of a photo, or frame `frame` (default 0) of a video."""
        if media.kind == "image":
            return self._cached(("rgb", media.path, media.sha256), lambda: image.read(path, self.max_pixels).rgb, 4)
        index = frame or 0
        with self.lock:
            frames = self._frames.get(media.path)
            if frames is None:
                frames = self._frames[media.path] = Frames(path)
        return self._cached(("frame", media.path, index), lambda: frames.get(index), 8)

    def original(self, media: MediaPlan, path: Path, frame: int | None) -> bytes:
        """The picture as JPEG, untouched."""
        rgb = self.rgb(media, path, frame)
        return self._cached(("jpeg", media.path, media.sha256, frame), lambda: jpeg(rgb))

    def published(self, media: MediaPlan, path: Path, frame: int | None, regions: list[Region], method: str) -> bytes:
        """The picture as JPEG with `regions` painted by the same `obscure` call `apply` makes."""
        return jpeg(obscure(self.rgb(media, path, frame), regions, method, video=media.kind == "video"))

    def close(self) -> None:
        with self.lock:
            for f in self._frames.values():
                f.close()
            self._frames.clear()
