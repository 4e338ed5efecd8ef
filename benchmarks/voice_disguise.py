"""Can a speaker encoder still tell who is speaking after `--audio disguise`? Equal error rates.

Speakers: the espeak-ng voices of benchmarks/_sound.py and flite's four voices (kal, awb, rms,
slt: the last three built from recordings of real people, CMU ARCTIC). No human recordings
ship in any package here, so these are synthetic voices: a speaker encoder separates them
more easily than real people (keep's EER below), which makes the attacker stronger, not weaker.
Each speaker reads an enrolment sentence (the attacker's clean recording of the person) and
two probe sentences, one each (what the published video says). Scores: cosine similarity of
the audit's voiceprints (unseen.audit.voiceprint: resemblyzer 0.1.4's encoder as ONNX, identical
embeddings). EER over all genuine (same speaker) and impostor (other speaker) pairs; 50% is
chance; "at" is the similarity where the two error rates meet.

Rows:
- keep: the probe as recorded.
- fixed McAdams 0.8: the static VoicePrivacy baseline (one coefficient for the file).
- disguise at strength s: unseen.voice.disguise (curves drift; a fresh secret per probe).
- informed, inverse grid: the attacker knows the algorithm but not the secret; tries the inverse
  of every constant setting in a grid (alpha 0.70/0.81/0.92 x ratio 0.80/1.25, 6 guesses; at strength 1) and
  keeps the best-matching score per pair (for impostors too).
- informed, enrol through disguise: the attacker disguises the clean enrolment recording
  with the same algorithm (own secrets) and compares disguised with disguised.
Embeddings are held in memory for this run only. Needs espeak-ng (and flite) from Debian.
Usage: python benchmarks/voice_disguise.py
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from _sound import ESPEAK_VOICES, RATE, SENTENCES, have, speak
from speech import FLITE_VOICES, flite
from unseen.audit.voiceprint import voiceprint
from unseen.voice import ALPHA, RATIO, disguise, transform


def eer(genuine: list[float], impostor: list[float]) -> tuple[float, float]:
    """Equal error rate, and the similarity threshold where it is reached."""
    g, i = np.array(genuine), np.array(impostor)
    best, at = 1.0, 0.0
    for t in np.unique(np.concatenate([g, i])):
        frr, far = float(np.mean(g < t)), float(np.mean(i >= t))
        if max(frr, far) < best:
            best, at = max(frr, far), float(t)
    return best, at


def main() -> None:
    embed = voiceprint

    voices = [("espeak", v) for v in ESPEAK_VOICES] + ([("flite", v) for v in FLITE_VOICES] if have("flite") else [])
    t0 = time.perf_counter()
    enrol, probes = [], []
    for k, (engine, v) in enumerate(voices):
        say = [SENTENCES[k % len(SENTENCES)] + " " + SENTENCES[(k + 5) % len(SENTENCES)]]
        say += [SENTENCES[(k + j) % len(SENTENCES)] for j in (1, 2)]
        audio = [speak(s, v) if engine == "espeak" else flite(s, v) for s in say]
        enrol.append(audio[0])
        probes.append(audio[1:])
    e_clean = [embed(x) for x in enrol]
    rng = np.random.default_rng(7)

    def scores(probe_emb: list[list[np.ndarray]], enrol_emb: list[np.ndarray]) -> tuple[list[float], list[float]]:
        gen, imp = [], []
        for s, ps in enumerate(probe_emb):
            for p in ps:
                for t, e in enumerate(enrol_emb):
                    (gen if s == t else imp).append(float(p @ e))
        return gen, imp

    rows = []
    keep = [[embed(p) for p in ps] for ps in probes]
    rows.append(("keep", *scores(keep, e_clean)))
    fixed = [[embed(transform(p, RATE, 0.8, 1.0)) for p in ps] for ps in probes]
    rows.append(("fixed McAdams 0.8 (VoicePrivacy baseline)", *scores(fixed, e_clean)))
    guesses = list(itertools.product(np.linspace(*ALPHA, 3), RATIO))
    for strength in (0.5, 1.0):
        disguised = [[disguise(p, RATE, strength, int(rng.integers(1 << 62))) for p in ps] for ps in probes]
        d_emb = [[embed(p) for p in ps] for ps in disguised]
        rows.append((f"disguise, strength {strength}", *scores(d_emb, e_clean)))
        # Informed attacker: enrol through the same disguise (own secrets), compare like with like.
        e_dis = [embed(disguise(x, RATE, strength, int(rng.integers(1 << 62)))) for x in enrol]
        rows.append((f"disguise {strength}, informed: enrolment disguised too", *scores(d_emb, e_dis)))
        if strength < 1.0:
            continue
        # Informed attacker 1: undo every constant guess, keep each pair's best score.
        inv = [[[embed(transform(p, RATE, 1 / a, 1 / r)) for a, r in guesses] for p in ps] for ps in disguised]
        gen, imp = [], []
        for s, ps in enumerate(inv):
            for cands in ps:
                for t, e in enumerate(e_clean):
                    (gen if s == t else imp).append(max(float(c @ e) for c in cands))
        rows.append((f"disguise {strength}, informed: inverse of {len(guesses)} guessed settings", gen, imp))
    print(f"{len(voices)} speakers, {2 * len(voices)} probes; {time.perf_counter() - t0:.0f} s\n")
    print("| voice in the output | EER (50% = chance) | at | genuine similarity (mean) | impostor similarity (mean) |")
    print("|---|---|---|---|---|")
    for name, gen, imp in rows:
        rate, at = eer(gen, imp)
        print(f"| {name} | {rate:.1%} | {at:.2f} | {np.mean(gen):.3f} | {np.mean(imp):.3f} |", flush=True)


if __name__ == "__main__":
    main()
