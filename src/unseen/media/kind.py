"""Photo, video or neither: from the file's name where it is one unseen knows, else from its
content.

Files arrive without a name that says what they are: attachments saved from messaging apps
(no suffix at all), `.jfif` from browsers, `.ogv`/`.mxf`/`.vob` from archives and cameras.
Going by the name alone, a folder run passed such files over without a word, and one named on
the command line was refused as "not an image". Now a file with an unknown suffix is looked at:
Pillow reads its header, then FFmpeg probes it for a real video stream (not cover art, not text
that FFmpeg's `tty` demuxer would render). What is neither is left out and reported as such.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from unseen.media import image

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".3gp", ".ts", ".mpg", ".mpeg", ".wmv", ".flv"}
    | {".ogv", ".mxf", ".vob", ".dv", ".asf", ".f4v", ".3g2", ".m2v", ".mod", ".tod", ".divx", ".qt", ".mk3d"}
    | {".apng"}  # always animated: FFmpeg decodes it as video
)
ANIMATED_AS_VIDEO = frozenset({".gif", ".png", ".webp"})  # animated GIF, APNG and WebP
MEDIA_SUFFIXES = image.IMAGE_SUFFIXES | VIDEO_SUFFIXES
PHOTO_FORMATS = frozenset(f for formats in image.FORMATS.values() for f in formats)
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})
# Camera RAW: most are TIFF inside, and Pillow reads the small preview in their first IFD as
# "the" photo; anonymising that thumbnail (faces too small to find) and writing it under the
# RAW's name would be worse than leaving the file out. Develop RAW to JPEG/TIFF first.
RAW_SUFFIXES = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".pef", ".orf", ".rw2"}
    | {".raf", ".raw", ".rwl", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".mef", ".mos", ".iiq"}
)
# FFmpeg demuxers that find "video" in what is not a video: text rendered as ANSI art, and
# single images (a format Pillow did not take, such as PSD, is not a photo unseen writes).
NOT_VIDEO = frozenset({"tty", "bin", "image2"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
SOUND_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})


def kind(path: Path) -> str | None:
    """What `path` holds: "photo", "video" (an animated GIF, PNG or WebP is a video) or None."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in image.IMAGE_SUFFIXES:
        return "video" if suffix in ANIMATED_AS_VIDEO and image.is_animated(path) else "photo"
    return None if suffix in RAW_SUFFIXES else sniff(path)


def sniff(path: Path) -> str | None:
    """What the content is, whatever the name says (headers only; nothing is decoded). Kept
    per path, size and time of change: a run walks its folders more than once (to count, to
    report what it left out, to work)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _sniff(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1 << 16)
def _sniff(name: str, size: int, mtime_ns: int) -> str | None:
    """`sniff` of the file `name`; `size` and `mtime_ns` are there to key the cache."""
    path = Path(name)
    try:
        with image.open_header(path) as im:
            if im.format in PHOTO_FORMATS:
                animated = im.format in ANIMATED_FORMATS and getattr(im, "is_animated", False)
                return "video" if animated else "photo"
            return None  # an image, but of a format unseen does not write
    except Exception:  # noqa: BLE001 - not an image Pillow knows: maybe a video
        pass
    import av

    try:
        with av.open(str(path), "r", metadata_errors="ignore") as c:
            if c.format.name in NOT_VIDEO or c.format.name.endswith("_pipe"):
                return None
            cover = int(av.stream.Disposition.attached_pic)
            return "video" if any(not int(s.disposition) & cover for s in c.streams.video) else None
    except Exception:  # noqa: BLE001 - unreadable: what its first bytes announce, if anything
        return _announced(path)


def _announced(path: Path) -> str | None:
    """What a file no decoder could open says it is in its first bytes: a broken video or
    HEIF photo (a torn download, a fuzzed file) is then refused with the decoder's reason
    rather than left out as if it were a text file. Ogg and M4A are left out: mostly sound."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    box, brand = head[4:8], head[8:12]
    if box == b"ftyp" and brand in HEIF_BRANDS:
        return "photo"
    if (box == b"ftyp" and brand not in SOUND_BRANDS) or box in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video"
    riff_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    known = (b"\x1a\x45\xdf\xa3", b"FLV\x01", b"\x00\x00\x01\xba", b"\x30\x26\xb2\x75")  # MKV, FLV, MPEG-PS, ASF
    return "video" if riff_avi or head.startswith(known) else None
