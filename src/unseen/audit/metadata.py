"""Metadata check: anything in an output file besides the pixels that could identify someone.

Photos are read twice: through Pillow/pillow-heif (EXIF, GPS, XMP, IPTC, ICC, comments,
thumbnails, depth/auxiliary images, extra frames) and byte by byte for JPEG, PNG and WebP, so a
segment or chunk Pillow ignores (or data appended after the image, as in motion photos) is still
seen. Videos are read with PyAV: container and stream tags, tags inside audio codec headers (a
Vorbis comment, FLAC comment and picture blocks: media.audio), and any subtitle, data or
attachment stream. Technical tags that every muxer writes (brand, encoder name, handler) are not reported.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import UnidentifiedImageError

from unseen.media.image import open_header

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    pass


@dataclass(frozen=True)
class MetaFinding:
    """One piece of metadata left in a file: `what` is the kind (EXIF, GPS, XMP, ...), `detail`
    says where, with values shortened (they can be personal, the report shows their size only)."""

    what: str
    detail: str


# Container tags written by every muxer; they say nothing about the person or the device.
DURATION = re.compile(r"\d{1,3}:\d{2}:\d{2}(\.\d{1,9})?")  # a stream length, nothing else
BENIGN_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "language", "vendor_id"})
BENIGN_HANDLERS = frozenset({"VideoHandler", "SoundHandler", "AudioHandler", "Core Media Video", "Core Media Audio"})
# TIFF baseline tags that describe the pixel layout only (Pillow writes these).
TIFF_STRUCTURE = frozenset(
    {254, 256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 282, 283, 284, 296, 317, 338, 339, 320}
)
# PNG chunks that carry pixels or colour handling only.
PNG_PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs", b"sBIT"})


def scan(path: Path) -> list[MetaFinding]:
    """Every metadata item left in `path` (an image or a video). Raises OSError if unreadable."""
    from unseen.inputs import is_video

    if is_video(path):
        return scan_video(path)
    return scan_image(path.read_bytes())


def scan_image(data: bytes) -> list[MetaFinding]:
    out: list[MetaFinding] = []
    if data[:2] == b"\xff\xd8":
        out += _jpeg_segments(data)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        out += _png_chunks(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        out += _webp_chunks(data)
    out += _pillow(data)
    seen: set[tuple[str, str]] = set()
    return [f for f in out if not ((f.what, f.detail) in seen or seen.add((f.what, f.detail)))]  # type: ignore[func-returns-value]


def _pillow(data: bytes) -> list[MetaFinding]:
    out: list[MetaFinding] = []
    try:
        with open_header(io.BytesIO(data)) as im:  # metadata only: the pixels were checked by the audit
            info = im.info
            exif = im.getexif()
            if im.format == "TIFF":  # a TIFF's own structure tags (size, strips, ...) are not metadata
                for tag in TIFF_STRUCTURE & set(exif):
                    del exif[tag]
            if len(exif):
                out.append(MetaFinding("EXIF", f"{len(exif)} EXIF tags"))
                if exif.get_ifd(0x8825):
                    out.append(MetaFinding("GPS", "EXIF GPS position"))
            elif info.get("exif"):
                out.append(MetaFinding("EXIF", f"EXIF block of {len(info['exif'])} bytes"))
            for key, what in (
                ("xmp", "XMP"),
                ("XML:com.adobe.xmp", "XMP"),
                ("photoshop", "IPTC"),
                ("comment", "comment"),
            ):
                if info.get(key):
                    out.append(MetaFinding(what, f"{what} ({_size(info[key])})"))
            if info.get("icc_profile"):
                out.append(MetaFinding("ICC", f"ICC profile '{_icc_name(info['icc_profile'])}'"))
            for key in ("thumbnails", "depth_images"):
                if info.get(key):
                    out.append(MetaFinding("embedded image", f"{len(info[key])} {key.replace('_', ' ')}"))
            if info.get("aux"):
                out.append(MetaFinding("embedded image", "auxiliary images"))
            if info.get("metadata"):
                out.append(MetaFinding("metadata", f"{len(info['metadata'])} HEIF metadata blocks"))
            text = getattr(im, "text", None) or {}
            for k in text:
                out.append(MetaFinding("text", f"text chunk {k!r}"))
            frames = int(getattr(im, "n_frames", 1))
            if frames > 1:
                out.append(MetaFinding("embedded image", f"{frames} frames/images in one file"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise OSError(f"cannot read the image's metadata: {e}") from e
    return out


def _size(v: object) -> str:
    return (
        f"{len(v)} items" if isinstance(v, dict | list | tuple) else f"{len(v) if hasattr(v, '__len__') else 1} bytes"
    )  # type: ignore[arg-type]


def _icc_name(icc: bytes) -> str:
    try:
        from PIL import ImageCms

        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()[:60]
    except Exception:  # a broken profile is still a profile
        return "unreadable"


def _jpeg_segments(data: bytes) -> list[MetaFinding]:
    """Walk the JPEG markers up to the end of the image; report APPn (but JFIF), COM, and trailing
    bytes (motion photos append a video after the image; some cameras a preview)."""
    out: list[MetaFinding] = []
    i, n = 2, len(data)
    names = {1: "EXIF/XMP", 2: "ICC/MPF", 13: "IPTC/Photoshop"}
    while i + 4 <= n:
        if data[i] != 0xFF:
            return out + [MetaFinding("corrupt", f"unexpected byte at offset {i}")]
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        body = data[i + 4 : i + 2 + length]
        if 0xE0 <= marker <= 0xEF and not (marker == 0xE0 and body[:5] in (b"JFIF\x00", b"JFXX\x00")):
            app = marker - 0xE0
            out.append(
                MetaFinding(names.get(app, f"APP{app}"), f"JPEG APP{app} segment {body[:12]!r} ({length} bytes)")
            )
        elif marker == 0xFE:
            out.append(MetaFinding("comment", f"JPEG comment ({length} bytes)"))
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the EOI marker
            end = _jpeg_eoi(data, i + 2 + length)
            if end < 0:
                return out
            rest = data[end:]
            if rest.strip(b"\x00\xff"):
                out.append(MetaFinding("appended data", f"{len(rest)} bytes after the end of the image"))
            return out
        i += 2 + length
    return out


def _jpeg_eoi(data: bytes, start: int) -> int:
    """Offset just past the EOI that ends the image (skipping further scans of progressive JPEGs)."""
    i = start
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= len(data):
            return -1
        m = data[j + 1]
        if m == 0xD9:
            return j + 2
        if m == 0 or m == 0xFF or 0xD0 <= m <= 0xD7:
            i = j + 1 if m == 0xFF else j + 2
            continue
        if j + 4 > len(data):
            return -1
        (length,) = struct.unpack(">H", data[j + 2 : j + 4])
        i = j + 2 + length


def _png_chunks(data: bytes) -> list[MetaFinding]:
    out: list[MetaFinding] = []
    i = 8
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        if kind not in PNG_PIXEL_CHUNKS:
            out.append(MetaFinding("PNG chunk", f"PNG {kind.decode('latin-1')} chunk ({length} bytes)"))
        i += 12 + length
        if kind == b"IEND":
            if data[i:].strip(b"\x00"):
                out.append(MetaFinding("appended data", f"{len(data) - i} bytes after the end of the image"))
            break
    return out


def _webp_chunks(data: bytes) -> list[MetaFinding]:
    out: list[MetaFinding] = []
    i = 12
    while i + 8 <= len(data):
        kind = data[i : i + 4]
        (length,) = struct.unpack("<I", data[i + 4 : i + 8])
        if kind in (b"EXIF", b"XMP ", b"ICCP", b"ANIM", b"ANMF"):
            out.append(MetaFinding("WebP chunk", f"WebP {kind.decode('latin-1').strip()} chunk ({length} bytes)"))
        i += 8 + length + (length & 1)
    return out


def scan_video(path: Path) -> list[MetaFinding]:
    import av

    from unseen.media.audio import header_tags

    out: list[MetaFinding] = []
    try:
        with av.open(str(path)) as c:
            out += _tags(c.metadata, "container")
            for s in c.streams:
                where = f"stream {s.index} ({s.type})"
                out += _tags(s.metadata, where)
                if s.type == "audio" and s.codec_context is not None:
                    codec, header = s.codec_context.name, bytes(s.codec_context.extradata or b"")
                    for tag in header_tags(codec, header):
                        out.append(MetaFinding("tag", f"{where}: {codec} codec header carries {tag}"))
                if s.type not in ("video", "audio"):
                    out.append(MetaFinding(f"{s.type} stream", f"{where}: a {s.type} stream (can hold text, GPS)"))
                elif s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
                    out.append(MetaFinding("embedded image", f"{where}: cover art"))
            for ch in getattr(c, "chapters", lambda: [])() if callable(getattr(c, "chapters", None)) else []:
                out.append(MetaFinding("chapter", f"chapter {ch.get('id', '?')}"))
    except av.FFmpegError as e:
        raise OSError(f"cannot read the video's container: {e}") from e
    return out


def _tags(tags: dict[str, str], where: str) -> list[MetaFinding]:
    out = []
    for k, v in tags.items():
        key = k.lower()
        if key in BENIGN_TAGS or (key == "handler_name" and v in BENIGN_HANDLERS):
            continue
        if key == "duration" and DURATION.fullmatch(v):  # Matroska's muxer writes one per stream
            continue
        what = "GPS" if "location" in key or "gps" in key else "tag"
        out.append(MetaFinding(what, f"{where} tag {k!r} ({len(v)} characters)"))
    return out
