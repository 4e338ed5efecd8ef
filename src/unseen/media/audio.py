"""Audio codec headers: which can carry tags, what they carry, and the same header without them.

Audio is copied packet for packet where the output container takes its codec, and a copied
stream keeps its codec header (FFmpeg's "extradata", Matroska's CodecPrivate). Some headers hold
the same tags a container does: Vorbis's comment header (ARTIST=, TITLE=, LOCATION=... written by
mkvmerge, GStreamer and phone apps; FFmpeg's own muxers write it empty), FLAC's VORBIS_COMMENT
and PICTURE blocks (a cover photo), text appended after an Opus header, and the comment field of
an AAC program config element. `clean_header` gives the header to copy a stream with, rebuilt
without them, or None where the codec's header is not one known to be clean (the stream is then
re-encoded); `header_tags` says what a header carries, for the audit.
"""

from __future__ import annotations

import struct

# Codecs whose header has no room for text: no header at all (MP3, AC-3, PCM...) or only numbers.
NO_TEXT = frozenset({"mp1", "mp2", "mp3", "ac3", "eac3", "dts", "truehd", "mlp", "alac", "amr_nb", "amr_wb"})
FLAC_STREAMINFO = 0
FLAC_VORBIS_COMMENT = 4
FLAC_PICTURE = 6
STREAMINFO_SIZE = 34
# A comment FFmpeg's Matroska muxer writes into FLAC headers itself: a speaker layout, nothing personal.
BENIGN_COMMENTS = frozenset({"WAVEFORMATEXTENSIBLE_CHANNEL_MASK"})


def clean_header(codec: str, header: bytes) -> bytes | None:
    """`header` as a stream of `codec` may be copied with: unchanged where it cannot hold text,
    rebuilt without tags (Vorbis, FLAC, Opus), or None: re-encode the stream instead (an unknown
    codec, an AAC header with a program config element, a header that does not parse)."""
    if codec in NO_TEXT or codec.startswith("pcm_"):
        return header
    try:
        if codec == "vorbis":
            ident, _, setup = _xiph_split(header)
            return _xiph_join([ident, b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01", setup])
        if codec == "flac":
            return _flac_streaminfo(header)
        if codec == "opus":
            return _opus_head(header)
        if codec == "aac":
            return header if _aac_has_no_pce(header) else None
    except (IndexError, ValueError, struct.error):
        return None
    return None


def header_tags(codec: str, header: bytes) -> list[str]:
    """What a `codec` header carries besides the numbers a decoder needs: comment names
    (`ARTIST`), `picture`, or `text after the header`. Unparseable headers say so."""
    try:
        if codec == "vorbis":
            return _comment_names(_xiph_split(header)[1][7:])
        if codec == "flac":
            out: list[str] = []
            for kind, body in _flac_blocks(header):
                if kind == FLAC_VORBIS_COMMENT:
                    out += [n for n in _comment_names(body, framed=False) if n not in BENIGN_COMMENTS]
                elif kind == FLAC_PICTURE:
                    out.append("picture")
                elif kind != FLAC_STREAMINFO and kind != 1:  # 1: padding (zeros)
                    out.append(f"block of type {kind}")
            return out
        if codec == "opus":
            return ["text after the header"] if len(header) > len(_opus_head(header)) else []
        if codec == "aac":
            return [] if _aac_has_no_pce(header) else ["program config element (may hold a comment)"]
    except (IndexError, ValueError, struct.error):
        return [f"unreadable {codec} header"]
    return []


def _xiph_split(data: bytes) -> list[bytes]:
    """The three headers of a Vorbis stream from FFmpeg's extradata: Xiph lacing (a count, then
    sizes in runs of 255), or three headers each after a 16-bit size."""
    if len(data) >= 6 and data[0] == 0 and data[1] == 30:
        out, i = [], 0
        for _ in range(3):
            (size,) = struct.unpack(">H", data[i : i + 2])
            out.append(data[i + 2 : i + 2 + size])
            i += 2 + size
    else:
        if data[0] != 2:
            raise ValueError("not three Xiph-laced headers")
        i, sizes = 1, []
        for _ in range(2):
            size = 0
            while data[i] == 255:
                size, i = size + 255, i + 1
            sizes.append(size + data[i])
            i += 1
        out = [data[i : i + sizes[0]], data[i + sizes[0] : i + sizes[0] + sizes[1]], data[i + sum(sizes) :]]
    if [h[:7] for h in out] != [b"\x01vorbis", b"\x03vorbis", b"\x05vorbis"]:
        raise ValueError("not Vorbis identification, comment and setup headers")
    return out


def _xiph_join(headers: list[bytes]) -> bytes:
    laced = b"".join(b"\xff" * (len(h) // 255) + bytes([len(h) % 255]) for h in headers[:-1])
    return bytes([len(headers) - 1]) + laced + b"".join(headers)


def _comment_names(body: bytes, framed: bool = True) -> list[str]:
    """The field names of a Vorbis comment block (vendor string, count, `NAME=value` entries);
    the vendor names the encoder library and is not reported."""
    (vendor,) = struct.unpack("<I", body[:4])
    i = 4 + vendor
    (count,) = struct.unpack("<I", body[i : i + 4])
    i += 4
    names = []
    for _ in range(count):
        (size,) = struct.unpack("<I", body[i : i + 4])
        entry = body[i + 4 : i + 4 + size]
        if len(entry) != size:
            raise ValueError("comment runs past the header")
        names.append(entry.split(b"=", 1)[0].decode("ascii", "replace").upper())
        i += 4 + size
    return names


def _flac_blocks(data: bytes) -> list[tuple[int, bytes]]:
    """FLAC metadata blocks: from `fLaC` and block headers (as Matroska stores them), or a bare
    34-byte STREAMINFO (as FFmpeg's demuxers give it)."""
    if len(data) == STREAMINFO_SIZE:
        return [(FLAC_STREAMINFO, data)]
    i = 4 if data[:4] == b"fLaC" else 0
    out = []
    last = False
    while i < len(data) and not last:
        last, kind, size = bool(data[i] & 0x80), data[i] & 0x7F, int.from_bytes(data[i + 1 : i + 4], "big")
        body = data[i + 4 : i + 4 + size]
        if len(body) != size:
            raise ValueError("block runs past the header")
        out.append((kind, body))
        i += 4 + size
    return out


def _flac_streaminfo(data: bytes) -> bytes:
    info = [body for kind, body in _flac_blocks(data) if kind == FLAC_STREAMINFO]
    if len(info) != 1 or len(info[0]) != STREAMINFO_SIZE:
        raise ValueError("no STREAMINFO block")
    return info[0]


def _opus_head(data: bytes) -> bytes:
    """The OpusHead structure alone: 19 bytes, or 21 + channels with a channel mapping table."""
    if data[:8] != b"OpusHead":
        raise ValueError("not an OpusHead")
    size = 19 if data[18] == 0 else 21 + data[9]
    if len(data) < size:
        raise ValueError("OpusHead is cut short")
    return data[:size]


def _aac_has_no_pce(asc: bytes) -> bool:
    """An AudioSpecificConfig whose channel configuration is not 0: 0 means a program config
    element follows, and it can carry a comment of up to 255 bytes. No header (ADTS streams
    carry theirs in every packet, with no room for text) is fine."""
    if not asc:
        return True
    bits = int.from_bytes(asc[:6].ljust(6, b"\x00"), "big")
    pos = 48 - 5
    obj = (bits >> pos) & 0x1F
    if obj == 31:
        pos -= 6
    pos -= 4
    if (bits >> pos) & 0xF == 15:  # an explicit 24-bit sampling rate
        pos -= 24
    pos -= 4
    return (bits >> pos) & 0xF != 0
