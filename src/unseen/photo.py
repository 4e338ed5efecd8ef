"""Photo entry points for the pipeline: `scan` (pixels -> plan regions) and `render` (plan entry
-> obscured file), the photo counterpart of unseen.video.

There is no one-pass `run` as for video: a photo's output name depends on its decoded format
(image.output_name), so its destination is known only once it has been read, and a run is
`scan`, then `render` of the same file after its digest is checked again (pipeline.run_file):
a photo edited between the two reads is refused, never painted with another photo's regions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from unseen.detect.base import Detector
from unseen.errors import UnseenError
from unseen.media import image
from unseen.obscure import coverage_mask, obscure
from unseen.options import Options, Progress
from unseen.plan import MediaPlan
from unseen.region import Region
from unseen.regions import photo_regions, regions_for

TEXT_MARGIN = 0.1  # of a text line's box per side: the detector's box already hugs the letters


def scan(path: Path, rel: str, digest: str, detector: Detector, opts: Options) -> MediaPlan:
    """Detect faces (and text, with opts.text) in one photo and return its plan entry; `digest`
    is the file's SHA-256, taken by the caller before the read."""
    pic = image.read(path, opts.max_pixels)
    dets = detector.detect(pic.rgb)
    regions = photo_regions(dets, pic.width, pic.height, opts.margin, opts.shape)
    if opts.text:
        regions += text_regions(pic.rgb)
    out = image.output_name(rel, pic.format)
    return MediaPlan(rel, out, "image", pic.width, pic.height, digest, regions)


def text_regions(rgb: np.ndarray) -> list[Region]:
    """Text lines as plan regions of kind "text": boxes (text is straight), with TEXT_MARGIN."""
    from unseen.detect.text import text_detector

    h, w = rgb.shape[:2]
    dets = text_detector().detect(rgb)
    out = []
    for r in regions_for(dets, w, h, TEXT_MARGIN, "box", low_score_margin=0.0):
        out.append(replace(r, kind="text"))
    return out


def render(source: Path, media: MediaPlan, tmp: Path, opts: Options, progress: Progress | None = None) -> None:
    """Write the obscured photo (opts.method) to `tmp` (the caller renames it into place only on
    success), in the photo's own format: refused if the file is not the one the plan describes."""
    pic = image.read(source, opts.max_pixels)
    if (pic.width, pic.height) != (media.width, media.height):
        raise UnseenError(f"{media.path}: image is {pic.width}x{pic.height}, plan says {media.width}x{media.height}")
    if pic.format not in image.FORMATS[Path(media.output).suffix.lower()]:
        raise UnseenError(f"{media.path}: a {pic.format} photo cannot be written as {media.output}")
    rgb = obscure(pic.rgb, media.regions, opts.method)
    alpha = pic.alpha
    if alpha is not None:
        # A cut-out's transparency keeps the outline of a face (a profile): painted pixels
        # are made opaque, so a region shows as its whole shape, not as that outline.
        alpha = np.where(coverage_mask(media.regions, pic.width, pic.height), 255, alpha).astype(np.uint8)
    tmp.write_bytes(image.encode(rgb, alpha, pic.format, pic.bits_per_pixel))
