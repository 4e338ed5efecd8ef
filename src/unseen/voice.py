"""`--audio disguise`: change a voice with settings that drift over time, keyed by a secret
that is drawn for each file and never stored.

Each 32 ms frame is split by linear prediction into a vocal-tract filter and its excitation.
The filter's resonances (formants) are moved by the McAdams transform (pole angle phi ->
phi ** alpha, the VoicePrivacy challenge's signal-processing baseline) and the excitation is
read faster or slower (pitch times `ratio`); alpha and ratio follow random smooth curves, so
no single inverse setting undoes the whole file. A fixed setting is undone by trying a few
inverse settings (issue #22); whether this drifting one is, and how well a speaker encoder
still matches the voice, is measured in benchmarks/voice_disguise.py: read the README before
relying on it. `--audio drop` is the only way to be sure a voice cannot identify anyone.
"""

from __future__ import annotations

import secrets

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

ORDER = 20  # linear prediction order (16 kHz speech: 2 poles per kHz plus a few)
ALPHA = (0.70, 0.92)  # McAdams coefficient range the curve moves in
RATIO = (0.80, 1.25)  # pitch ratio range (about -4 to +4 semitones)
CYCLE = (0.7, 3.0)  # seconds: the curves change direction on this scale


def curve(n: int, rate: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """n values, `rate` a second, wandering smoothly between low and high (sum of random sines)."""
    t = np.arange(n) / rate
    x = np.zeros(n)
    for _ in range(4):
        period = rng.uniform(*CYCLE)
        x += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    x = (x - x.min()) / (x.max() - x.min() + 1e-9) if n > 1 else np.full(n, rng.uniform())
    return low + (high - low) * x


def disguise(x: np.ndarray, rate: int, strength: float = 1.0, seed: int | None = None) -> np.ndarray:
    """`x` (mono float samples at `rate` Hz) with its voice changed; same length. `strength`
    scales how far alpha and ratio move from no change (1.0: the full ranges above). `seed`
    is for benchmarks only: unseen draws a fresh secret for every file."""
    rng = np.random.default_rng(secrets.randbits(128) if seed is None else seed)
    n = _frame(rate)
    frames = _frames(len(x), n)
    alpha = 1 - strength * (1 - curve(frames, rate / (n // 2), *ALPHA, rng))
    ratio = np.exp(strength * np.log(curve(frames, rate / (n // 2), *RATIO, rng)))
    return transform(x, rate, alpha, ratio)


def transform(x: np.ndarray, rate: int, alpha: np.ndarray | float, ratio: np.ndarray | float) -> np.ndarray:
    """McAdams `alpha` and pitch `ratio`, one value per 16 ms hop or one for all (a fixed
    setting, or an attacker's guess at the inverse: 1/alpha, 1/ratio)."""
    n = _frame(rate)
    hop = n // 2
    frames = _frames(len(x), n)
    alpha = np.broadcast_to(np.asarray(alpha, np.float64), (frames,))
    ratio = np.broadcast_to(np.asarray(ratio, np.float64), (frames,))
    pad = np.concatenate([x.astype(np.float64), np.zeros(frames * hop + n - len(x))])
    window = np.hanning(n + 2)[1:-1]  # sums to ~1 at 50% overlap
    out = np.zeros_like(pad)
    predictors = [_lpc(pad[k * hop : k * hop + n] * window) for k in range(frames)]
    residual = np.zeros_like(pad)  # the excitation: each frame inverse-filtered, overlap-added
    for k, a in enumerate(predictors):
        if a is not None:
            residual[k * hop : k * hop + n] += lfilter(a, [1.0], pad[k * hop : k * hop + n]) * window
    for k, a in enumerate(predictors):
        s = k * hop
        if a is None:
            continue
        exc = _stretch(residual, s + n // 2, n, float(ratio[k]))
        out[s : s + n] += lfilter([1.0], _mcadams(a, float(alpha[k])), exc) * window
    gain = np.sqrt(np.mean(pad**2) / (np.mean(out**2) + 1e-12)) if np.any(out) else 1.0
    return np.clip(out[: len(x)] * gain, -1, 1).astype(np.float32)


def _frame(rate: int) -> int:
    return int(0.032 * rate) // 2 * 2


def _frames(samples: int, n: int) -> int:
    return max(1, 1 + (samples - n) // (n // 2) + 1)


def _lpc(seg: np.ndarray) -> np.ndarray | None:
    r = np.correlate(seg, seg, "full")[len(seg) - 1 : len(seg) + ORDER]
    if r[0] <= 1e-10:
        return None
    r[0] *= 1.0001  # a little white noise: a stable filter on pure tones
    try:
        coef = solve_toeplitz(r[:ORDER], -r[1 : ORDER + 1])
    except np.linalg.LinAlgError:
        return None
    return np.concatenate([[1.0], coef])


def _mcadams(a: np.ndarray, alpha: float) -> np.ndarray:
    """Predictor `a` with each complex pole's angle phi moved to phi ** alpha (radius kept)."""
    poles = np.roots(a)
    complex_ = np.abs(poles.imag) > 1e-8
    phi = np.angle(poles[complex_])
    moved = np.abs(poles[complex_]) * np.exp(1j * np.sign(phi) * np.abs(phi) ** alpha)
    poles = poles.copy()
    poles[complex_] = moved
    radius = np.abs(poles)
    poles = np.where(radius >= 0.999, poles / radius * 0.999, poles)  # keep it stable
    return np.real(np.poly(poles))


def _stretch(residual: np.ndarray, centre: int, n: int, ratio: float) -> np.ndarray:
    """n samples of the excitation around `centre`, read `ratio` times as fast (pitch x ratio)."""
    pos = centre + (np.arange(n) - n / 2) * ratio
    return np.interp(pos, np.arange(len(residual)), residual, left=0.0, right=0.0)
