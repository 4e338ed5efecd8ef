"""Does an anonymised face, seen in its photo, still match the face it was? WIDER FACE val, dlib.

LFW's 112x112 crops are filled by the face, so every method paints or smears the whole crop there
(benchmarks/reid.py). Here faces keep their background, hair and neighbours around them:
1. Each WIDER image is anonymised whole, as `unseen run` does it: CenterFace (default preset),
   regions from unseen's own `regions_for` (detector box + default margin and shape), painted by
   every method of `unseen.obscure.obscure`; deface 1.5.0 at its defaults with blur and mosaic.
2. Faces: ground-truth faces >= 32 px tall (not marked invalid) that *both* tools protect (>= 90% of
   the box obscured), so that the rows compare methods, not detectors; faces a tool leaves out are
   counted apart (they are unchanged, so they always match).
3. dlib's aligned pipeline on a context crop (the face with one face-size around it, scaled to a
   100 px face): HOG finds the face, the 5-point predictor its landmarks, the ResNet embeds the
   aligned 150 px chip. On the original, HOG's box is used when it finds the face, else the
   ground-truth box. On an anonymised image the landmarks are found on the anonymised pixels when
   HOG finds the face there; otherwise the original's landmarks are used, so a method cannot "win"
   by making landmark detection fail.
4. No identity pairs exist in WIDER, so the measure is self-similarity, the audit's reid check:
   the anonymised face against its own original, at the fixed threshold of benchmarks/reid.py
   (FAR 0.1% on LFW clean different-person pairs). Control (chance level): the same anonymised face
   against the original of a face from another image, one per face and against all of them.
   WIDER faces are smaller and blurrier than LFW's, so the LFW threshold accepts far more strangers
   here; a second table uses the same rule (FAR 0.1%) fitted on these faces' clean originals.
Embeddings live in memory for this run only. Usage: python benchmarks/reid_context.py [--limit N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import cv2
import numpy as np
from PIL import Image

from _common import DATA, Deface, need
from reid import Embedder
from unseen.detect.presets import make_detector
from unseen.obscure import coverage_mask, obscure
from unseen.plan import METHODS
from unseen.regions import photo_regions
from widerface import load_gt

# `python benchmarks/reid.py`: largest distance at FAR 0.1% on LFW clean pairs (it moves a little
# with unseen's default detector, whose box starts the landmark search on the clean photos)
THRESHOLD = 0.557
MIN_FACE = 32  # px, as the audit's reid check
FACE_PX = 100  # faces are scaled to this height before HOG, landmarks and alignment


def context_crop(rgb: np.ndarray, gt: tuple[int, int, int, int]) -> tuple[slice, slice, float]:
    """Rows, columns and scale of a crop holding the face and one face-size around it."""
    x, y, w, h = gt
    ih, iw = rgb.shape[:2]
    ys = slice(max(0, y - h), min(ih, y + 2 * h))
    xs = slice(max(0, x - w), min(iw, x + 2 * w))
    return ys, xs, FACE_PX / h


class Aligner:
    """dlib's HOG detector + 5-point landmarks + ResNet, on context crops scaled to a 100 px face."""

    def __init__(self) -> None:
        self.e = Embedder()
        self.hog = self.e.dlib.get_frontal_face_detector()

    def find(self, img: np.ndarray, box: tuple[float, float, float, float]):  # noqa: ANN201
        """Landmarks of the face HOG finds over `box` (IoU >= 0.3), or None."""
        best, best_iou = None, 0.3
        for r in self.hog(img, 0):
            ix = max(0, min(r.right(), box[2]) - max(r.left(), box[0]))
            iy = max(0, min(r.bottom(), box[3]) - max(r.top(), box[1]))
            inter = ix * iy
            union = r.width() * r.height() + (box[2] - box[0]) * (box[3] - box[1]) - inter
            if union > 0 and inter / union >= best_iou:
                best, best_iou = r, inter / union
        return None if best is None else self.e.shape(img, best)

    def embed(self, images: list[np.ndarray], shapes: list) -> list[np.ndarray]:  # type: ignore[type-arg]
        """One batch through the ResNet, each image aligned with its own landmarks."""
        dlib = self.e.dlib
        chips = [dlib.get_face_chip(im, sh, 150, 0.25) for im, sh in zip(images, shapes, strict=True)]
        return [np.asarray(v) for v in self.e.net.compute_face_descriptor(chips)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=120, help="number of WIDER images (seed 0; default 120)")
    args = ap.parse_args()
    root = need(DATA / "widerface")
    gt_all = load_gt(root)

    def faces_of(name: str) -> list[tuple[int, int, int, int]]:
        return [tuple(int(v) for v in r[:4]) for r in gt_all[name] if r[4] == 0 and r[3] >= MIN_FACE]  # type: ignore[misc]

    names = sorted(n for n in gt_all if (root / "images" / n).exists() and faces_of(n))
    random.Random(0).shuffle(names)
    names = names[: args.limit]
    det = make_detector("default", threads=1)
    deface = Deface()
    al = Aligner()
    methods = [f"unseen {m}" for m in METHODS] + ["deface blur", "deface mosaic"]
    ref: list[np.ndarray] = []  # original face embeddings
    img_of: list[int] = []  # image number of each face
    anon: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    found = {m: 0 for m in methods}  # landmarks found on the anonymised pixels
    heights: list[int] = []
    left_out = {"unseen": 0, "deface": 0}
    n_faces = 0
    t0 = time.time()
    for k, name in enumerate(names):
        if k and k % 25 == 0:
            print(f"  {k}/{len(names)} images, {len(ref)} faces, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        regions = photo_regions(det.detect(rgb), w, h)
        dets = deface.detect(rgb)
        outs = [obscure(rgb, regions, m) for m in METHODS]
        outs += [deface.anonymize(rgb, dets, "blur"), deface.anonymize(rgb, dets, "mosaic")]
        covered = {"unseen": coverage_mask(regions, w, h), "deface": deface.mask((h, w), dets)}
        for gt in faces_of(name):
            x, y, fw, fh = gt
            n_faces += 1
            miss = [t for t, m in covered.items() if m[y : y + fh, x : x + fw].mean() < 0.9]
            for t in miss:
                left_out[t] += 1
            if miss:
                continue
            ys, xs, s = context_crop(rgb, gt)

            def scaled(img: np.ndarray, ys: slice = ys, xs: slice = xs, s: float = s) -> np.ndarray:
                c = img[ys, xs]
                size = (max(1, round(c.shape[1] * s)), max(1, round(c.shape[0] * s)))
                return np.ascontiguousarray(
                    cv2.resize(c, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
                )

            box = ((x - xs.start) * s, (y - ys.start) * s, (x - xs.start + fw) * s, (y - ys.start + fh) * s)
            orig = scaled(rgb)
            shape0 = al.find(orig, box)
            shape0 = al.e.landmarks(orig, box) if shape0 is None else shape0
            chips, shapes = [orig], [shape0]
            for m, out in zip(methods, outs, strict=True):
                img = scaled(out)
                lm = al.find(img, box)
                found[m] += lm is not None
                chips.append(img)
                shapes.append(shape0 if lm is None else lm)
            vecs = al.embed(chips, shapes)
            ref.append(vecs[0])
            img_of.append(k)
            heights.append(fh)
            for m, v in zip(methods, vecs[1:], strict=True):
                anon[m].append(v)
    secs = time.time() - t0

    n = len(ref)
    R, who, big = np.stack(ref), np.array(img_of), np.array(heights) >= 64
    # One impostor per face: the face half the list away, moved on until it is from another image.
    stranger = []
    for i in range(n):
        j = next((j % n for j in range(i + n // 2, i + n // 2 + n) if who[j % n] != who[i]), i)
        stranger.append(j)

    other = who[:, None] != who[None, :]

    def dist(vecs: np.ndarray) -> np.ndarray:
        """(n anonymised, n originals) distances."""
        sq = (vecs**2).sum(1)[:, None] + (R**2).sum(1)[None, :] - 2 * vecs @ R.T
        return np.sqrt(np.clip(sq, 0, None))

    # The same rule as reid.py's, on these faces: FAR 0.1% over clean faces of different images.
    clean_other = np.sort(dist(R)[np.triu(other, 1)])
    thr_w = float(clean_other[int(np.floor(0.001 * len(clean_other)))])

    def row(name: str, d: np.ndarray, thr: float) -> None:
        own = np.diag(d)
        hit, hit_big = int((own < thr).sum()), int((own[big] < thr).sum())
        one = int((d[np.arange(n), stranger] < thr).sum())
        wide, total = int(((d < thr) & other).sum()), int(other.sum())
        nb = int(big.sum())
        selfs = (
            f"{hit / n:.1%} ({hit}/{n}) | {hit_big / max(nb, 1):.1%} ({hit_big}/{nb}) | {np.median(own):.3f}"
            if name in found
            else "100% (by construction) | - | 0"
        )
        lm = f"{found[name]}/{n}" if name in found else "-"
        print(f"| {name} | {selfs} | {one / n:.1%} ({one}/{n}) | {wide / total:.2%} ({wide:,}/{total:,}) | {lm} |")

    print(f"WIDER FACE val: {len(names)} images (seed 0), {n_faces} faces >= {MIN_FACE} px tall (valid)")
    print(
        f"left out (< 90% of the box obscured, unchanged, not in the table): unseen {left_out['unseen']}, "
        f"deface {left_out['deface']}; faces protected by both tools: {n} ({int(big.sum())} >= 64 px)"
    )
    dists = {"none (original)": dist(R), **{m: dist(np.stack(anon[m])) for m in methods}}
    for thr, what in (
        (THRESHOLD, "FAR 0.1% on LFW clean pairs, benchmarks/reid.py"),
        (thr_w, "FAR 0.1% on these clean WIDER faces, pairs from different images"),
    ):
        print(f"\nthreshold: distance < {thr:.3f} ({what})\n")
        print(
            "| method | still matches its own original face | ... faces >= 64 px | median distance to it "
            "| control: matches another person's face | control: matches other people's faces (all) "
            "| landmarks found on the output |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, d in dists.items():
            row(name, d, thr)
    print(f"\n{secs:.0f} s on this machine")


if __name__ == "__main__":
    main()
