"""Photos in and out: decode upright in sRGB within resource limits, encode with no metadata.

Decoding applies EXIF orientation before anything else (detection and the plan work on the
upright image), converts device ICC profiles to sRGB, and checks the declared size before any
pixel is decoded, so a decompression bomb is refused without allocating it. Encoding builds a
fresh image from pixels only: no EXIF, GPS, XMP, IPTC, comments, thumbnails or ICC profile can
be carried over because nothing but the pixel array reaches the encoder.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from unseen.errors import LimitError, MediaError
from unseen.limits import DEFAULT_MAX_PIXELS, MAX_SIDE

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; kept usable without it
    HEIF = False

MAX_FILE_BYTES = 2 << 30  # a photo file larger than this is refused before it is read

# Extension -> the decoder formats that may legitimately hide behind it.
FORMATS: dict[str, tuple[str, ...]] = {
    ".jpg": ("JPEG", "MPO"),
    ".jpeg": ("JPEG", "MPO"),
    ".jpe": ("JPEG", "MPO"),
    ".png": ("PNG",),
    ".webp": ("WEBP",),
    ".tif": ("TIFF",),
    ".tiff": ("TIFF",),
    ".bmp": ("BMP",),
    ".gif": ("GIF",),
    ".heic": ("HEIF",),
    ".heif": ("HEIF",),
    ".hif": ("HEIF",),
    ".avif": ("AVIF", "HEIF"),
    ".mpo": ("MPO", "JPEG"),
}
IMAGE_SUFFIXES = frozenset(FORMATS)
# The suffix added to an output whose input's name does not say its format (an attachment saved
# without a suffix, `.jfif`): a published file must open as what it is.
SUFFIX_OF = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
SUFFIX_OF |= {"GIF": ".gif", "HEIF": ".heic", "AVIF": ".avif"}


@contextlib.contextmanager
def open_header(src: Path | io.BytesIO) -> Iterator[Image.Image]:
    """`src` opened to read its header (size, format, frames): no pixel is decoded, so Pillow's
    own bomb check (a two-line warning over 89 MP, an error over 179 MP) is off here; unseen's
    limit (refuse_size, --max-pixels) is applied to the size read, before any decoding. With
    Pillow's check on, a large photo was named "neither photo nor video" by its content and left
    out, whatever --max-pixels said."""
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            Image.MAX_IMAGE_PIXELS = None
            with Image.open(src) as im:
                yield im
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def output_name(rel: str, fmt: str) -> str:
    """The name a photo of format `fmt` is written under: `rel` where its suffix names that
    format, else `rel` with the format's suffix added (`IMG_0001` -> `IMG_0001.jpg`)."""
    if fmt in FORMATS.get(PurePosixPath(rel).suffix.lower(), ()):
        return rel
    if fmt not in SUFFIX_OF:
        raise MediaError(f"{rel}: {fmt} is not a photo format unseen writes; convert it to JPEG or PNG first")
    return rel + SUFFIX_OF[fmt]


@dataclass
class Picture:
    """An upright photo: `rgb` HxWx3 uint8 in sRGB, `alpha` HxW uint8 or None, and the
    container format it came in (the output keeps it)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    format: str
    bits_per_pixel: float | None = None  # the source file's size over its pixels: its quality class

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def read(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode a photo or raise MediaError/LimitError with a message that says what to do."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise MediaError(f"{path}: cannot read ({e.strerror})") from e
    if size > MAX_FILE_BYTES:
        raise LimitError(f"{path}: {size / 2**20:.0f} MiB is too large for a photo (limit {MAX_FILE_BYTES >> 20} MiB)")
    data = _read_bytes(path)
    return decode(data, path.suffix.lower(), str(path), max_pixels)


def decode(data: bytes, suffix: str, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode untrusted bytes; any failure of the decoders becomes a one-line MediaError."""
    if not data:
        raise MediaError(f"{name}: the file is empty (0 bytes); nothing to do, re-copy it from the source")
    # Pillow's own bomb check follows our limit, so that --max-pixels can raise it (not stay at 89 MP).
    pillow_limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow warns (to stderr, over several lines) about damaged EXIF or MPO headers: that
        # metadata is dropped anyway, and a decoding failure is reported as its own error.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            Image.MAX_IMAGE_PIXELS = max_pixels
            with Image.open(io.BytesIO(data)) as im:
                return _with_size(_upright(im, suffix, name, max_pixels), len(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise LimitError(
                f"{name}: refused as a decompression bomb ({_why(e)}); raise --max-pixels if the file is trusted"
            ) from e
        except MediaError:  # our own checks (animated, extension that lies, too many pixels) say it already
            raise
        except UnidentifiedImageError as e:
            raise MediaError(
                f"{name}: not an image that unseen can read (unknown or corrupt format); re-export it from the source"
            ) from e
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
            raise MediaError(f"{name}: corrupt or truncated image ({_why(e)}); re-export it from the source") from e
        except Exception as e:  # decoder bugs on hostile input (struct.error, IndexError, RuntimeError...)
            raise MediaError(
                f"{name}: corrupt image, the decoder failed ({type(e).__name__}: {_why(e)}); "
                "re-export it from the source"
            ) from e
        finally:
            Image.MAX_IMAGE_PIXELS = pillow_limit


def _why(e: BaseException) -> str:
    """A decoder's message on one line (libheif's span several) and of bounded length."""
    return " ".join(str(e).split())[:200]


def is_animated(path: Path) -> bool:
    """The file holds more than one frame (read from its header and frame markers, not decoded);
    False for a file Pillow cannot open, which the photo path then refuses with its reason."""
    try:
        with open_header(path) as im:
            return bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - any unreadable file: let the photo path report it
        return False


def refuse_size(name: str, w: int, h: int, max_pixels: int, what: str = "") -> None:
    """LimitError for a picture (or, `what` "frames ", a video's frames) over --max-pixels or with
    a side over MAX_SIDE: from its header, before a pixel is decoded. The side limit is the plan's
    too, so a file refused here is never one whose plan could not be loaded again."""
    size = f"{w}x{h} {what}{'are' if what else 'is'}"
    if w * h > max_pixels:
        raise LimitError(
            f"{name}: {size} {w * h / 1e6:.0f} megapixels, over the limit of {max_pixels / 1e6:.0f}; "
            "raise --max-pixels if the file is trusted"
        )
    if max(w, h) > MAX_SIDE:
        raise LimitError(f"{name}: {size} over {MAX_SIDE:,} pixels on a side, the most unseen reads")


def _upright(im: Image.Image, suffix: str, name: str, max_pixels: int) -> Picture:
    fmt = im.format or "?"
    allowed = FORMATS.get(suffix)
    if allowed is not None and fmt not in allowed:
        raise MediaError(f"{name}: the file is {fmt} but its name ends in {suffix}; rename it to match its content")
    w, h = im.size
    refuse_size(name, w, h, max_pixels)
    frames = int(getattr(im, "n_frames", 1))
    if frames > 1 and fmt == "TIFF":  # scanned documents, not animations: every page may hold a face
        raise MediaError(
            f"{name}: multi-page TIFF ({frames} pages) is not supported; save each page as an image of "
            "its own and run unseen on those"
        )
    if frames > 1 and fmt not in ("MPO", "HEIF", "AVIF"):
        raise MediaError(
            f"{name}: animated {fmt} ({frames} frames) is not supported; convert it to a video "
            "(e.g. MP4) and run unseen on that"
        )
    im.load()
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im) or im
    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        alpha = np.asarray(im.getchannel("A"))
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        top = arr.max(initial=0.0)
        # 16-bit samples, or floating point in 0..1 (scientific TIFFs): made 8-bit, not clipped
        # to black or white (the face must stay where the detector can see it).
        scale = 255.0 / 65535.0 if top > 255 else 255.0 if im.mode == "F" and top <= 1.0 else 1.0
        im = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        im = _to_srgb(im, icc)
    rgb = np.asarray(im.convert("RGB"))
    return Picture(np.ascontiguousarray(rgb), alpha, "JPEG" if fmt == "MPO" else fmt)


def _with_size(pic: Picture, size: int) -> Picture:
    return replace(pic, bits_per_pixel=size * 8 / max(1, pic.width * pic.height))


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    """Convert pixels from the embedded (device) profile to sRGB; the profile itself is dropped."""
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGB" if im.mode in ("RGB", "RGBA", "CMYK") else "L"
        dst = ImageCms.createProfile("sRGB") if mode == "RGB" else src
        if mode == "L":
            return im
        return (
            ImageCms.profileToProfile(im.convert("RGB") if im.mode == "RGBA" else im, src, dst, outputMode="RGB") or im
        )
    except (ImageCms.PyCMSError, OSError, TypeError):
        return im  # a broken profile: the pixels are used as they are, the profile is dropped


# HEIF and AVIF: a fast encoder setting, and a quality picked per photo (`_matched_quality`). At
# quality 90 and x265's default preset a 12-16 megapixel phone HEIC took 24-37 s on 2 cores and
# came out 2-7x its input's size; now 2-6 s and 0.9x (benchmarks/heic.py, README).
FAST: dict[str, dict[str, object]] = {"HEIF": {"enc_params": {"preset": "ultrafast"}}, "AVIF": {"speed": 8}}
QUALITIES = tuple(range(30, 95, 5))
DEFAULT_QUALITY = 60  # where the source's size is not known: a phone camera's class
SAMPLE_TILE = 384


def encode(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, bits_per_pixel: float | None = None) -> bytes:
    """Encode pixels only, in the given format; nothing of the source file reaches the encoder.
    `bits_per_pixel` is the source file's (Picture.bits_per_pixel): HEIF and AVIF are written at
    the quality that spends about as many bits as the source did."""
    im = Image.fromarray(rgb, "RGB")
    if alpha is not None and fmt in ("PNG", "WEBP", "TIFF", "HEIF", "AVIF"):
        im.putalpha(Image.fromarray(alpha, "L"))
    options: dict[str, object] = {  # type: ignore[assignment]
        "JPEG": {"quality": 95, "optimize": True},
        "WEBP": {"quality": 95, "method": 4},
        "TIFF": {"compression": "tiff_lzw"},
    }.get(fmt, {})
    if fmt in FAST:
        quality = _matched_quality(im, fmt, bits_per_pixel)
        data = _save(im, fmt, {**FAST[fmt], "quality": quality})
        source_bytes = (bits_per_pixel or 0) * im.width * im.height / 8
        if bits_per_pixel is not None and len(data) > 1.2 * source_bytes and quality > QUALITIES[0]:
            # the sample had more detail than the whole (flat sky): one class lower, once
            data = _save(im, fmt, {**FAST[fmt], "quality": max(QUALITIES[0], quality - 10)})
        return data
    return _save(im, fmt, options)


def _save(im: Image.Image, fmt: str, options: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _matched_quality(im: Image.Image, fmt: str, bits_per_pixel: float | None) -> int:
    """The highest of QUALITIES at which a sample of the picture takes no more bits per pixel
    than the source file did (its quality class: a phone's HEIC spends ~0.2-1.5), found by
    bisection on nine full-resolution tiles (1.3 megapixels: 4 encodes of ~0.2 s). The
    source's bits include its thumbnails and metadata, so the match errs on the larger side."""
    if bits_per_pixel is None:
        return DEFAULT_QUALITY
    sample = _tiles(im)
    pixels = sample.width * sample.height
    lo, hi, best = 0, len(QUALITIES) - 1, QUALITIES[0]
    while lo <= hi:
        mid = (lo + hi) // 2
        if len(_save(sample, fmt, {**FAST[fmt], "quality": QUALITIES[mid]})) * 8 / pixels <= bits_per_pixel:
            best, lo = QUALITIES[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _tiles(im: Image.Image) -> Image.Image:
    """A 3 x 3 grid of SAMPLE_TILE tiles, one from the middle of each ninth of the picture, side
    by side (the picture itself when it is small): detail as the full picture has it, flat sky
    and busy crowd alike, at a ninth of the cost of a 12-megapixel encode."""
    w, h, t = im.width, im.height, SAMPLE_TILE
    if w < 3 * t or h < 3 * t:
        return im
    out = Image.new(im.mode, (3 * t, 3 * t))
    for i in range(9):
        cx, cy = (2 * (i % 3) + 1) * w // 6, (2 * (i // 3) + 1) * h // 6
        out.paste(im.crop((cx - t // 2, cy - t // 2, cx + t // 2, cy + t // 2)), ((i % 3) * t, (i // 3) * t))
    return out


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError as e:
        raise MediaError(f"{path}: is a folder, not a file") from e
    except OSError as e:
        raise MediaError(f"{path}: cannot read ({e.strerror})") from e
