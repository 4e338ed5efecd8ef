"""Does the voice in an output still sound like the person in the original? For the audit only.

resemblyzer 0.1.4's speaker encoder (Apache-2.0; exported to ONNX by
scripts/export_voice_encoder.py, models/LICENSE-voice_encoder) turns speech into a 256-d
voiceprint; two recordings of one voice score a high cosine similarity. Like the face
recogniser, it only ever compares a file's voice with *its own* anonymised version, in memory:
no voiceprint is stored, none is compared with anyone else's, nobody is identified.
An attacker who knows how `--audio disguise` works tries to undo it: the output is also run
through the inverse of each constant setting in GUESSES and the best score is kept.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from unseen.audit.speech import RATE
from unseen.voice import ALPHA, RATIO, transform

N_FFT, HOP, MELS = 400, 160, 40  # 25 ms / 10 ms, as the encoder was trained
PARTIAL = 160  # frames (1.6 s) per partial utterance; the voiceprint is their normalised mean
MAX_SECONDS = 30.0  # of sound compared per file (the inverse attempts cost ~0.5x real time each)
# A fixed guess at the disguise, inverted: 3 formant settings x 2 pitch settings.
GUESSES = list(itertools.product(np.linspace(ALPHA[0], ALPHA[1], 3), RATIO))
SAME_VOICE = 0.80  # similarity above which two recordings are taken for one voice (README, "Voices")


@dataclass(frozen=True)
class VoiceMatch:
    """Cosine similarity of the output's voiceprint to the original's, as it is and after the
    best of the attacker's inversions."""

    similarity: float
    inverted: float

    @property
    def same(self) -> bool:
        return max(self.similarity, self.inverted) >= SAME_VOICE


def compare(original: np.ndarray, output: np.ndarray) -> VoiceMatch:
    """Both as 16 kHz mono float; the first MAX_SECONDS of each are compared."""
    n = int(MAX_SECONDS * RATE)
    a, b = original[:n], output[:n]
    ref = voiceprint(a)
    plain = float(ref @ voiceprint(b))
    if plain >= SAME_VOICE:  # kept as it was: nothing to undo
        return VoiceMatch(plain, plain)
    undone = max(float(ref @ voiceprint(transform(b, RATE, 1 / al, 1 / r))) for al, r in GUESSES)
    return VoiceMatch(plain, undone)


def voiceprint(x: np.ndarray) -> np.ndarray:
    """The encoder's L2-normed 256-d embedding of 16 kHz mono `x` (loudness normalised first)."""
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-9
    x = x * min(10 ** (-30 / 20) / rms, 100.0) if rms < 10 ** (-30 / 20) else x
    mel = mel_spectrogram(np.asarray(x, np.float32))
    starts = list(range(0, max(len(mel) - PARTIAL, 0) + 1, int(round(RATE / 1.3 / HOP))))
    if len(mel) < PARTIAL:
        mel = np.pad(mel, ((0, PARTIAL - len(mel)), (0, 0)))
    batch = np.stack([mel[s : s + PARTIAL] for s in starts]).astype(np.float32)
    emb = _session().run(None, {"mels": batch})[0].mean(axis=0)
    return emb / (np.linalg.norm(emb) + 1e-9)


def mel_spectrogram(x: np.ndarray) -> np.ndarray:
    """Power mel spectrogram as resemblyzer computes it (librosa's defaults: centred frames,
    zero padding, periodic Hann window, Slaney mel filters); shape (frames, MELS)."""
    pad = np.pad(x, N_FFT // 2)
    n = 1 + (len(pad) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    power = np.abs(np.fft.rfft(pad[idx] * window, N_FFT)) ** 2
    return (power @ _filters().T).astype(np.float32)


@lru_cache(maxsize=1)
def _filters() -> np.ndarray:
    def to_mel(f: np.ndarray) -> np.ndarray:
        return np.where(f < 1000, f * 3 / 200, 15 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27))

    def to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m < 15, m * 200 / 3, 1000 * np.exp((m - 15) * np.log(6.4) / 27))

    freqs = np.linspace(0, RATE / 2, 1 + N_FFT // 2)
    edges = to_hz(np.linspace(to_mel(np.array(0.0)), to_mel(np.array(RATE / 2)), MELS + 2))
    ramps = edges[:, None] - freqs[None, :]
    gaps = np.diff(edges)
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


@lru_cache(maxsize=1)
def _session():  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    from unseen.errors import UnseenError
    from unseen.models import VOICE_ENCODER

    if not VOICE_ENCODER.path.is_file():
        raise UnseenError(f"voice model missing at {VOICE_ENCODER.path}: reinstall unseen (pip install .)")
    return ort.InferenceSession(str(VOICE_ENCODER.path), providers=["CPUExecutionProvider"])
