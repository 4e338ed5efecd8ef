"""Is there speech in a video's sound? Voice activity from signal features, no model.

A voice identifies a person as surely as a face, so the audit and `unseen run` say when an
output keeps audio with speech in it. Speech is told from other sound by what every language
shares: most of its energy in the telephone band (300-3400 Hz), voiced stretches with a pitch
(80-400 Hz) broken into syllables 2-8 times a second, and a band-energy envelope that swings
at that syllable rate. Music holds its notes longer and steadier; noise (wind, engines, crowds)
has no pitch and a flat spectrum. Measured in benchmarks/speech.py (README, "Voices").

Only features of short frames are kept while reading (a few floats per 10 ms); nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16_000  # Hz: the sound is resampled to this, mono, before anything is measured
FRAME, HOP = 400, 160  # 25 ms frames every 10 ms
NFFT = 512
WINDOW = 100  # frames (1 s) judged together: a syllable rhythm needs a second to show
STEP = 50  # frames between two windows (0.5 s)
MIN_SPEECH_SECONDS = 1.5  # less than this in a whole file is not reported (a shout, a cough, a drum fill)
MIN_LEVEL_DB = -55.0  # dBFS of the telephone band: quieter than this is not heard as a voice

_freqs = np.fft.rfftfreq(NFFT, 1 / RATE)
_BAND = (_freqs >= 300) & (_freqs <= 3400)
_LOW = (_freqs >= 80) & (_freqs < 300)
_HANN = np.hanning(FRAME).astype(np.float32)
_WIN_POWER = float((_HANN**2).sum())
_MIN_LAG, _MAX_LAG = RATE // 400, RATE // 80  # pitch 80-400 Hz
BANDS = 8
_EDGES = np.geomspace(250, 4000, BANDS + 1)
_SUBBANDS = [(_freqs >= a) & (_freqs < b) for a, b in zip(_EDGES[:-1], _EDGES[1:], strict=True)]
# Chosen on benchmarks/speech.py --split dev (recall first: a missed voice is worse than a false warning).
VOICED_MIN = 0.05  # share of a window's frames with a pitch in the voice's range
MODULATION_MIN = 0.25  # see modulation()


@dataclass(frozen=True)
class Speech:
    """What was heard: seconds judged speech, of how many seconds of sound (0 when the file
    has no audio stream), and where the first speech starts (seconds), if any."""

    seconds: float
    duration: float
    first: float | None = None

    @property
    def present(self) -> bool:
        return self.seconds >= MIN_SPEECH_SECONDS


def frame_features(x: np.ndarray) -> np.ndarray:
    """Per 10 ms frame of 16 kHz mono `x` (float, -1..1): telephone-band level (dB), share of
    the energy in that band, voicing (peak of the normalised autocorrelation at a pitch lag),
    then the amplitude in each of BANDS log-spaced bands of 250-4000 Hz. Shape (n, 3 + BANDS)."""
    n = 1 + (len(x) - FRAME) // HOP if len(x) >= FRAME else 0
    if n == 0:
        return np.zeros((0, 3 + BANDS), np.float32)
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx].astype(np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(frames * _HANN, NFFT)) ** 2 + 1e-12
    band = power[:, _BAND]
    band_energy = band.sum(axis=1)
    level = 10 * np.log10(2 * band_energy / (NFFT * _WIN_POWER) + 1e-12)  # dBFS: a full-scale sine is -3
    share = band_energy / (power[:, 1:].sum(axis=1))
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * NFFT)) ** 2)[:, : _MAX_LAG + 1]
    voicing = ac[:, _MIN_LAG:].max(axis=1) / (ac[:, 0] + 1e-9)
    amplitude = np.sqrt(np.stack([power[:, m].sum(axis=1) for m in _SUBBANDS], axis=1))
    return np.column_stack([level, share, voicing, amplitude]).astype(np.float32)


def modulation(amplitude: np.ndarray) -> float:
    """Syllable-rate modulation of one window: the power of each band's amplitude envelope at
    2-8 Hz relative to its mean squared, median over the bands (Scheirer & Slaney's 4 Hz
    modulation energy). Spoken syllables swing every band's level: ~0.5-1 for speech, still
    ~0.25-0.6 under music or engine noise as loud as the voice; under 0.01 for steady noise,
    mostly under 0.3 for music."""
    n = len(amplitude)
    mean = amplitude.mean(axis=0) + 1e-9
    spec = np.abs(np.fft.rfft((amplitude - mean) * np.hanning(n)[:, None], axis=0)) ** 2
    hz = np.fft.rfftfreq(n, HOP / RATE)
    return float(np.median(spec[(hz >= 2) & (hz <= 8)].sum(axis=0) / (mean**2 * n**2 / 4)))


def window_is_speech(f: np.ndarray) -> bool:
    """One second of frame features: does it sound like someone speaking?"""
    level, share, voicing = f[:, :3].T
    loud = level > max(MIN_LEVEL_DB, float(np.percentile(level, 10)) + 6)
    voiced = loud & (voicing > 0.4) & (share > 0.3)
    if voiced.mean() < VOICED_MIN:  # no pitch at all: rhythmic noise (steps, claps, rotors)
        return False
    return modulation(f[:, 3:]) >= MODULATION_MIN


def speech_in(x: np.ndarray) -> Speech:
    """Judge 16 kHz mono samples: speech seconds counted per half-second step of 1 s windows."""
    f = frame_features(x)
    hits = [s for s in range(0, max(len(f) - WINDOW + 1, 0), STEP) if window_is_speech(f[s : s + WINDOW])]
    first = hits[0] * HOP / RATE if hits else None
    return Speech(len(hits) * STEP * HOP / RATE, len(x) / RATE, first)


def listen(path: Path) -> Speech:
    """Speech in the first audio stream of `path` (Speech(0, 0) when it has none). Raises
    MediaError when the sound cannot be decoded: unheard is never "no speech"."""
    return speech_in(read_mono(path))


def read_mono(path: Path) -> np.ndarray:
    """The first audio stream of `path` as 16 kHz mono float32 (empty when there is none)."""
    import av

    from unseen.errors import MediaError

    try:
        with av.open(str(path)) as container:
            streams = list(container.streams.audio)
            if not streams:
                return np.zeros(0, np.float32)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            chunks: list[np.ndarray] = []
            for frame in container.decode(streams[0]):
                chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(frame)]
            chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise MediaError(f"{path}: cannot decode the audio to listen for speech ({e})") from e
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def warning(outcomes: list[Any]) -> dict[str, Any]:
    """`unseen run`: the videos written with speech in their sound, and one line saying so
    (None when there are none). Outputs on object storage are not fetched to listen to."""
    from unseen.errors import UnseenError
    from unseen.media.kind import kind

    heard: list[str] = []
    for o in outcomes:
        out = Path(o.output) if o.output and "://" not in str(o.output) else None
        if out is None or not out.is_file() or kind(out) != "video":
            continue
        try:
            if listen(out).present:
                heard.append(str(o.output))
        except UnseenError:
            heard.append(str(o.output))  # unheard is not "no speech"
    if not heard:
        return {"speech": [], "line": None}
    shown = ", ".join(heard[:3]) + (f" and {len(heard) - 3} more" if len(heard) > 3 else "")
    line = (
        f"warning: speech present in {len(heard)} video(s): voices can identify people; "
        f"rerun with --audio drop: {shown}"
    )
    return {"speech": heard, "line": line}
