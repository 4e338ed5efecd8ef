"""Sound for the voice benchmarks, all made offline on this machine (nothing fetched).

- Speech: espeak-ng (Debian `espeak-ng`), its formant voices and variants, and the MBROLA
  diphone voices (Debian `mbrola-*`: each voice is diphones recorded from one real person;
  the MBROLA voices are licensed for non-commercial use, which a benchmark is).
- Music: MIDI written here (melody, chords, bass, drums on General MIDI instruments) rendered
  by TiMidity++ with the freepats samples (Debian `timidity`, `freepats`).
- Real sound: the audio of ../shared/data/dirty/video/karma.mp4 (a GoPro on a drone: rotor and
  wind noise, no voice).
- Made here: white, pink and brown noise, hum, a street bed (traffic rumble, engine harmonics,
  horns), silence.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from _common import DATA
from unseen.audit.speech import RATE, read_mono

SENTENCES = [
    "The committee met on Tuesday to discuss the new housing plan for the northern district.",
    "Several residents spoke about the rising rents and the lack of repairs in their buildings.",
    "We walked along the river until the sun went down behind the old factory.",
    "Please tell my sister that the train leaves at half past seven tomorrow morning.",
    "Nobody expected the police to close the square before the march had even started.",
    "I have lived here for twenty years and I have never seen anything like this.",
    "The doctor said the results would be ready by the end of the week.",
    "They asked us to wait outside while the officers searched the building.",
    "My brother works at the market, selling vegetables and fresh bread every morning.",
    "If you want to help, bring water, blankets and batteries to the community centre.",
    "The children were playing football in the street when the cars arrived.",
    "She told the reporter that her husband had not come home since Friday.",
]

ESPEAK_VOICES = ["en+m1", "en+m3", "en+m5", "en+m7", "en+f1", "en+f3", "en+f4", "en-us+m2", "en-us+f2", "en+klatt2"]
# MBROLA voices speaking English (each a different recorded person), then in their own language.
MBROLA_VOICES = ["mb-us1", "mb-us2", "mb-us3", "mb-en1", "mb-de1-en", "mb-de2-en", "mb-fr1-en", "mb-fr4-en"]


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def mbrola_voices() -> list[str]:
    """The MBROLA voices that are installed (a voice's database is a separate Debian package)."""
    if not have("mbrola"):
        return []
    out = []
    for v in MBROLA_VOICES:
        db = v.split("-")[1]
        if Path(f"/usr/share/mbrola/{db}").exists():
            out.append(v)
    return out


def speak(text: str, voice: str, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """espeak-ng saying `text` in `voice`, as 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        return read_mono(wav)


def _midi(events: list[tuple[int, int, int, int, int]], programs: dict[int, int], tpq: int = 480) -> bytes:
    """A format-0 MIDI file from (start_tick, channel, note, velocity, length_ticks)."""
    msgs: list[tuple[int, bytes]] = [(0, bytes([0xC0 | ch, prog])) for ch, prog in programs.items()]
    for start, ch, note, vel, length in events:
        msgs.append((start, bytes([0x90 | ch, note, vel])))
        msgs.append((start + length, bytes([0x80 | ch, note, 0])))
    msgs.sort(key=lambda m: m[0])
    track = b""
    now = 0
    for t, m in msgs:
        delta = t - now
        now = t
        var = [delta & 0x7F]
        while delta > 0x7F:
            delta >>= 7
            var.insert(0, (delta & 0x7F) | 0x80)
        track += bytes(var) + m
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track


def music(seed: int, seconds: float = 8.0) -> np.ndarray:
    """A random piece: melody, chords, bass and (half the time) drums, rendered by TiMidity++."""
    rng = np.random.default_rng(seed)
    tpq, bpm = 480, int(rng.integers(70, 150))
    beats = int(seconds * bpm / 60) + 1
    melody_prog, chord_prog = (int(p) for p in rng.choice([0, 4, 11, 24, 25, 40, 48, 56, 65, 73, 80], 2))
    root = int(rng.integers(45, 57))
    scale = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16]
    ev = []
    for b in range(0, beats, 4):  # one chord a bar
        deg = int(rng.choice([0, 3, 4, 5]))
        for k in (0, 2, 4):
            ev.append((b * tpq, 1, root + 12 + scale[deg + k], 70, 4 * tpq))
        ev.append((b * tpq, 2, root - 12 + scale[deg], 90, 2 * tpq))
    t = 0
    while t < beats * tpq:
        length = int(rng.choice([tpq // 2, tpq, tpq, 2 * tpq]))
        ev.append((t, 0, root + 24 + scale[int(rng.integers(0, 10))], 95, length))
        t += length
    if rng.random() < 0.5:
        for b in range(beats * 2):
            ev.append((b * tpq // 2, 9, 42, 70, tpq // 4))
            if b % 4 == 0:
                ev.append((b * tpq // 2, 9, 36, 110, tpq // 4))
            if b % 4 == 2:
                ev.append((b * tpq // 2, 9, 38, 100, tpq // 4))
    with tempfile.TemporaryDirectory() as d:
        mid, wav = Path(d) / "m.mid", Path(d) / "m.wav"
        mid.write_bytes(_midi(ev, {0: melody_prog, 1: chord_prog, 2: 33}, tpq))
        subprocess.run(["timidity", "-Ow", "-o", str(wav), "-s", "22050", str(mid)], check=True, capture_output=True)
        x = read_mono(wav)
    return x[: int(seconds * RATE)]


def noise(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * RATE)
    w = rng.standard_normal(n)
    if kind == "white":
        x = w
    else:
        spec = np.fft.rfft(w)
        f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 10)
        spec /= np.sqrt(f) if kind == "pink" else f
        x = np.fft.irfft(spec, n)
    return (x / (np.abs(x).max() + 1e-9) * 0.5).astype(np.float32)


def street(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Traffic rumble that swells as cars pass, an idling engine's harmonics, now and then a horn."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    bed = noise("brown", seconds, rng) * (0.6 + 0.4 * np.sin(2 * np.pi * t / rng.uniform(2, 5)))
    f0 = rng.uniform(25, 45)
    engine = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * 0.05
    x = bed + engine + 0.1 * noise("pink", seconds, rng)
    for _ in range(int(rng.integers(0, 3))):
        s = int(rng.uniform(0, max(seconds - 1, 0.1)) * RATE)
        dur = int(rng.uniform(0.3, 0.9) * RATE)
        tt = np.arange(dur) / RATE
        horn = 0.2 * (np.sign(np.sin(2 * np.pi * 420 * tt)) + np.sign(np.sin(2 * np.pi * 500 * tt)))
        x[s : s + dur] += horn[: len(x[s : s + dur])]
    return (x / (np.abs(x).max() + 1e-9) * 0.5).astype(np.float32)


def karma(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A stretch of the real drone recording (../shared/data/dirty/video/karma.mp4)."""
    x = read_mono(DATA / "dirty" / "video" / "karma.mp4")
    n = int(seconds * RATE)
    s = int(rng.integers(0, max(len(x) - n, 1)))
    return x[s : s + n]


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-12
    return (x * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def mix(speech: np.ndarray, bed: np.ndarray, snr_db: float, level_db: float = -24.0) -> np.ndarray:
    """`speech` over `bed` (bed looped or cut to length) at `snr_db`, the speech at `level_db` RMS."""
    n = len(speech)
    bed = np.resize(bed, n) if len(bed) else np.zeros(n, np.float32)
    s = at_level(speech, level_db)
    b = at_level(bed, level_db - snr_db) if np.any(bed) else bed
    return np.clip(s + b, -1, 1).astype(np.float32)
