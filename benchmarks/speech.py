"""Speech detection (unseen.audit.speech): precision and recall on clips with and without a voice.

Clips (8-10 s each, made offline by benchmarks/_sound.py; nothing is fetched):
- with speech: espeak-ng and flite voices reading sentences, alone and over street noise, the
  real drone recording of karma.mp4, or music, at several signal-to-noise ratios;
- without: silence, white/pink/brown noise, the street bed, the drone recording, and
  music (random MIDI pieces rendered with TiMidity++ and the freepats samples).
A clip counts as "speech present" as `unseen run` and the audit judge it (Speech.present).
`--split dev` is the set the thresholds were chosen on; `test` (default) uses other voices,
sentences and seeds. webrtcvad (package webrtcvad-wheels, if installed) runs beside it: mode 3,
a clip flagged when >= 1 s of its 30 ms frames are speech.
Usage: python benchmarks/speech.py [--split dev|test]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from _sound import ESPEAK_VOICES, RATE, SENTENCES, at_level, have, karma, mix, music, noise, speak, street
from unseen.audit.speech import speech_in

FLITE_VOICES = ["kal", "awb", "rms", "slt"]


def flite(text: str, voice: str) -> np.ndarray:
    import subprocess
    import tempfile
    from pathlib import Path

    from unseen.audit.speech import read_mono

    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "f.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True, capture_output=True)
        return read_mono(wav)


def clips(split: str) -> list[tuple[str, bool, np.ndarray]]:
    """(condition, has speech, 16 kHz samples)."""
    dev = split == "dev"
    rng = np.random.default_rng(1 if dev else 2)
    voices = [("espeak", v) for v in (ESPEAK_VOICES[::2] if dev else ESPEAK_VOICES[1::2])]
    if have("flite"):
        voices += [("flite", v) for v in (FLITE_VOICES[:2] if dev else FLITE_VOICES[2:])]
    sentences = SENTENCES[:6] if dev else SENTENCES[6:]
    out: list[tuple[str, bool, np.ndarray]] = []
    for i, (engine, v) in enumerate(voices):
        text = " ".join(sentences[(i + k) % len(sentences)] for k in range(2))
        x = speak(text, v) if engine == "espeak" else flite(text, v)
        sec = len(x) / RATE
        out.append(("speech, quiet", True, at_level(x, -26) + at_level(noise("pink", sec, rng), -70)))
        for snr in (10, 0):
            out.append((f"speech over street, SNR {snr} dB", True, mix(x, street(sec, rng), snr)))
            out.append((f"speech over drone (karma.mp4), SNR {snr} dB", True, mix(x, karma(sec, rng), snr)))
            out.append((f"speech over music, SNR {snr} dB", True, mix(x, music(int(rng.integers(1e6)), sec), snr)))
        out.append(("speech, quiet (-45 dBFS)", True, at_level(x, -45)))
    n = len(out)
    for k in range(n // 2):
        seed = int(rng.integers(1e6))
        sec = float(rng.uniform(8, 10))
        out.append(("music", False, at_level(music(seed, sec), float(rng.uniform(-30, -15)))))
        if k % 2 == 0:
            kind = ("white", "pink", "brown")[k // 2 % 3]
            out.append((f"{kind} noise", False, at_level(noise(kind, sec, rng), -30)))
            out.append(("street", False, at_level(street(sec, rng), float(rng.uniform(-30, -15)))))
            out.append(("drone (karma.mp4)", False, karma(sec, rng)))
    out.append(("silence", False, np.zeros(8 * RATE, np.float32)))
    return out


def webrtc(x: np.ndarray) -> bool | None:
    try:
        import webrtcvad
    except ImportError:
        return None
    vad = webrtcvad.Vad(3)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    n = 480
    hits = sum(vad.is_speech(pcm[i : i + n].tobytes(), RATE) for i in range(0, len(pcm) - n, n))
    return hits * n / RATE >= 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    args = ap.parse_args()
    if not have("espeak-ng") or not have("timidity"):
        raise SystemExit("needs espeak-ng, timidity and freepats (Debian), flite optional")
    data = clips(args.split)
    rows: dict[str, list[tuple[bool, bool, bool | None]]] = defaultdict(list)
    seconds = audio = 0.0
    for cond, truth, x in data:
        t0 = time.perf_counter()
        got = speech_in(x).present
        seconds += time.perf_counter() - t0
        audio += len(x) / RATE
        rows[cond].append((truth, got, webrtc(x)))
    speed = audio / seconds
    print(f"split {args.split}: {len(data)} clips, {audio / 60:.1f} min of sound; unseen {speed:.0f}x real time\n")
    print("| clips | n | unseen flags | webrtcvad flags |")
    print("|---|---|---|---|")
    for cond, r in rows.items():
        w = [x[2] for x in r if x[2] is not None]
        print(f"| {cond} | {len(r)} | {sum(x[1] for x in r)} | {sum(w) if w else '-'} |")
    for name, k in (("unseen", 1), ("webrtcvad", 2)):
        got = [(t, x[k]) for r in rows.values() for x in r for t in [x[0]] if x[k] is not None]
        if not got:
            continue
        tp = sum(t and g for t, g in got)
        fp = sum((not t) and g for t, g in got)
        fn = sum(t and not g for t, g in got)
        print(
            f"\n{name}: precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f} "
            f"({tp} of {tp + fn} speech clips flagged, {fp} of {len(got) - tp - fn} without speech)"
        )


if __name__ == "__main__":
    main()
