"""Does an anonymised face still match another photo of the same person? LFW pairs, dlib ResNet.

Protocol (LFW folds 1-5 of the standard pairs.txt, 112x112 aligned crops):
1. Clean pairs fix the recogniser's threshold at a false-accept rate of 0.1% (the largest
   distance that accepts at most 0.1% of different-person pairs).
2. For each same-person pair (a, b), `a` is anonymised and compared with the untouched `b`.
   unseen: CenterFace (default preset) finds the face in `a`, the region is the detector box grown
   by unseen's default margin and default shape (clipped to the crop) - exactly what `unseen run` paints -
   and every method of unseen.obscure.obscure paints that same region. deface 1.5.0 runs at its
   defaults (its own detection, threshold 0.2, mask scale 1.3, ellipse) with blur and mosaic.
   A crop where a tool finds no face stays unchanged, as it would in real use.
3. The anonymised face is aligned with the landmarks found on the *original* `a` (the strongest
   alignment an attacker could have), embedded, and compared with `b`.
The leak rate is the share of same-person pairs that still match.
4. Control (chance level, measured rather than assumed): the same anonymised `a` is also compared
   with photos of *other* people, computed the same way - one impostor photo per face (the second
   photo of the i-th different-person pair, or its first if that is `a`'s person) and, for a
   tighter estimate, every photo of the different-person pairs that shows someone else. A method
   whose output matches the same person no more often than other people leaves no identity that
   this recogniser can use; a flat fill that lands near the threshold does so for everyone.
`--cross 229,672` checks what `fill` matches are made of: each listed pair's `fill` output against
every listed pair's other photo; a flat output that matches other people's photos as closely as its
own person's carries no identity. Embeddings live in memory for this run only.
Usage: python benchmarks/reid.py [--limit N] [--same N] [--cross N,N,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import DATA, Deface, need
from unseen.audit.reid import _model_dir
from unseen.detect.presets import make_detector
from unseen.obscure import coverage_mask, obscure
from unseen.plan import METHODS
from unseen.regions import photo_regions


def read_pairs(root: Path, limit: int | None) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    lines = (root / "pairs.txt").read_text().split("\n")[1:]

    def img(name: str, i: str) -> Path:
        return root / "images" / name / f"{name}_{int(i):04d}.jpg"

    same, diff = [], []
    for line in lines:
        f = line.split()
        if len(f) == 3:
            same.append((img(f[0], f[1]), img(f[0], f[2])))
        elif len(f) == 4:
            diff.append((img(f[0], f[1]), img(f[2], f[3])))
    if limit:
        same, diff = same[:limit], diff[:limit]
    return same, diff


class Embedder:
    def __init__(self) -> None:
        import dlib

        d = _model_dir()
        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat"))

    def landmarks(self, rgb: np.ndarray, box: tuple[float, ...]):  # noqa: ANN201
        x1, y1, x2, y2 = (round(v) for v in box[:4])
        return self.shape(rgb, self.dlib.rectangle(x1, y1, x2, y2))

    def embed(self, images: list[np.ndarray], shape) -> list[np.ndarray]:  # noqa: ANN001
        chips = [self.dlib.get_face_chip(im, shape, 150, 0.25) for im in images]
        return [np.asarray(v) for v in self.net.compute_face_descriptor(chips)]


def best_box(det, rgb: np.ndarray) -> tuple[float, ...] | None:  # noqa: ANN001
    """unseen's most confident face box in the photo (None if it finds none): where the
    landmark search starts, on clean and anonymised photos alike."""
    d = det.detect(rgb)
    return tuple(float(v) for v in d.boxes[int(np.argmax(d.scores))]) if len(d) else None


def cross_check(same: list[tuple[Path, Path]], nums: list[int]) -> None:
    """Print distances from `fill` of pair i's `a` to every listed pair's clean `b` (pair = order in pairs.txt)."""
    from unseen.detect.base import Detections

    det, emb = make_detector("default", threads=1), Embedder()

    def prepared(p: Path) -> tuple[np.ndarray, object, tuple[float, ...]]:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        box = best_box(det, rgb) or (0, 0, *rgb.shape[1::-1])
        return rgb, emb.landmarks(rgb, box), box

    filled, clean = [], []
    for n in nums:
        a, b = same[n - 1]
        rgb, shape, box = prepared(a)
        h, w = rgb.shape[:2]
        d1 = Detections(np.array([box], np.float32), np.ones(1, np.float32), "centerface")
        filled.append(emb.embed([obscure(rgb, photo_regions(d1, w, h), "fill")], shape)[0])
        rgb_b, shape_b, _ = prepared(b)
        clean.append(emb.embed([rgb_b], shape_b)[0])
    print("Distance from `unseen fill` of pair i's first photo (rows) to pair j's second photo (columns)\n")
    print("| fill of pair | " + " | ".join(f"{n} ({same[n - 1][1].parent.name})" for n in nums) + " |")
    print("|---|" + "---|" * len(nums))
    for n, v in zip(nums, filled, strict=True):
        cells = " | ".join(f"{np.linalg.norm(v - c):.3f}" for c in clean)
        print(f"| {n} ({same[n - 1][0].parent.name}) | {cells} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, help="use only the first N same and N different pairs")
    ap.add_argument("--same", type=int, help="anonymise only the first N same-person pairs (threshold: all pairs)")
    ap.add_argument("--cross", help="comma-separated pair numbers: cross-check their `fill` matches and stop")
    args = ap.parse_args()
    root = need(DATA / "lfw")
    same, diff = read_pairs(root, args.limit)
    if args.cross:
        cross_check(same, [int(v) for v in args.cross.split(",")])
        return
    anonymise = same[: args.same or None]
    det = make_detector("default", threads=1)
    deface = Deface()
    emb = Embedder()
    cache: dict[Path, tuple[np.ndarray, object, tuple[float, ...] | None]] = {}

    def load(p: Path) -> tuple[np.ndarray, object, tuple[float, ...] | None]:
        """Pixels, landmarks and unseen's face box (None if CenterFace found no face)."""
        if p not in cache:
            rgb = np.asarray(Image.open(p).convert("RGB"))
            box = best_box(det, rgb)
            h, w = rgb.shape[:2]
            cache[p] = (rgb, emb.landmarks(rgb, box or (0, 0, w, h)), box)
        return cache[p]

    vec: dict[Path, np.ndarray] = {}

    def clean(p: Path) -> np.ndarray:
        if p not in vec:
            rgb, shape, _ = load(p)
            vec[p] = emb.embed([rgb], shape)[0]
        return vec[p]

    t0 = time.time()
    d_diff = np.array([np.linalg.norm(clean(a) - clean(b)) for a, b in diff])
    d_same = np.array([np.linalg.norm(clean(a) - clean(b)) for a, b in same])
    allowed = int(np.floor(0.001 * len(d_diff)))  # false accepts allowed at FAR 0.1%
    thr = float(np.sort(d_diff)[allowed]) if len(d_diff) else 0.6  # accept when distance < thr
    far = float((d_diff < thr).mean())
    pool = sorted({p for pair in diff for p in pair})  # photos for the all-other-people control
    pool_vec = np.stack([clean(p) for p in pool]) if pool else np.zeros((0, 128))
    pool_who = np.array([p.parent.name for p in pool])

    def impostor(i: int, a: Path) -> Path:
        """One photo of someone other than `a`'s person: from the i-th different-person pair."""
        c, d = diff[i % len(diff)]
        return d if d.parent.name != a.parent.name else c

    print(f"  clean pairs embedded, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

    names = [f"unseen {m}" for m in METHODS] + ["deface blur", "deface mosaic"]
    leaks = {n: 0 for n in names}
    control = {n: 0 for n in ["none (clean)", *names]}  # one impostor photo per face
    wide = {n: [0, 0] for n in control}  # matches, comparisons against every other person's photo
    no_face = {"unseen": 0, "deface": 0}
    fill_hits: list[tuple[int, float, float]] = []  # pair number, distance, obscured share of the crop
    for i, (a, b) in enumerate(anonymise):
        if i and i % 100 == 0:
            print(f"  {i}/{len(anonymise)} same-person pairs, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        rgb, shape, box = load(a)
        h, w = rgb.shape[:2]
        outs: list[np.ndarray] = []
        regions = []
        if box is not None:
            from unseen.detect.base import Detections

            d1 = Detections(np.array([box], np.float32), np.ones(1, np.float32), "centerface")
            regions = photo_regions(d1, w, h)
        else:
            no_face["unseen"] += 1
        outs += [obscure(rgb, regions, m) for m in METHODS]
        dets = deface.detect(rgb)
        no_face["deface"] += len(dets) == 0
        outs += [deface.anonymize(rgb, dets, "blur"), deface.anonymize(rgb, dets, "mosaic")]
        other, stranger = clean(b), clean(impostor(i, a))
        others = pool_vec[pool_who != a.parent.name]
        for n, v in zip(["none (clean)", *names], [clean(a), *emb.embed(outs, shape)], strict=True):
            control[n] += bool(np.linalg.norm(v - stranger) < thr)
            wide[n][0] += int((np.linalg.norm(others - v, axis=1) < thr).sum())
            wide[n][1] += len(others)
            if n not in leaks:
                continue
            dist = float(np.linalg.norm(v - other))
            leaks[n] += bool(dist < thr)
            if n == "unseen fill" and dist < thr:
                fill_hits.append((i + 1, dist, float(coverage_mask(regions, w, h).mean())))
    secs = time.time() - t0

    print(f"LFW pairs: {len(same)} same-person, {len(diff)} different-person (folds 1-5 of pairs.txt)")
    print(
        f"dlib ResNet threshold at FAR {far:.2%} on clean pairs: distance < {thr:.3f} "
        f"(dlib's own tolerance is 0.6); clean same-person pairs matched: {(d_same < thr).mean():.1%}"
    )
    if len(anonymise) < len(same):
        print(f"anonymised: the first {len(anonymise)} same-person pairs (--same {len(anonymise)})")
    print(f"crops where no face was found (left unchanged): unseen {no_face['unseen']}, deface {no_face['deface']}\n")
    n_an = max(len(anonymise), 1)
    print(
        "| method | matches the other photo of the same person | control: matches another person's photo "
        "| control: matches other people's photos (all) | same person vs control |"
    )
    print("|---|---|---|---|---|")

    def row(n: str, hits: int) -> None:
        rate, ctl = hits / n_an, control[n] / n_an
        w_rate = wide[n][0] / max(wide[n][1], 1)
        ratio = f"{rate / w_rate:.1f}x" if w_rate > 0 else ("n/a" if hits == 0 else "inf")
        print(
            f"| {n} | {rate:.1%} ({hits}/{len(anonymise)}) | {ctl:.1%} ({control[n]}/{len(anonymise)}) "
            f"| {w_rate:.2%} ({wide[n][0]:,}/{wide[n][1]:,}) | {ratio} |"
        )

    row("none (clean)", int((d_same[: len(anonymise)] < thr).sum()))
    for n in names:
        row(n, leaks[n])
    if fill_hits:
        print("\nSame-person pairs where `unseen fill` still matched (pair = order in pairs.txt):")
        print("\n| pair | distance | share of the 112x112 crop painted |")
        print("|---|---|---|")
        for n, dist, share in fill_hits:
            print(f"| {n} | {dist:.3f} | {share:.0%} |")
    print(f"\n{secs:.0f} s on this machine")


if __name__ == "__main__":
    main()
