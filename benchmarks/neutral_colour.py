"""Which flat colour should `fill` paint where it has no ring to take a colour from? LFW, dlib.

A region that fills a tight crop is painted `unseen.obscure.NEUTRAL`. A flat chip holds no face,
but a recogniser still embeds it somewhere, and near a few real photos it can pass for them.
This embeds every LFW photo of folds 1-5 as benchmarks/reid.py does (landmarks from unseen's
default detector box), embeds 512 flat colours (8 levels per channel) and counts the photos each
colour comes within the FAR-0.1% threshold of (0.557, benchmarks/reid.py). Choosing the colour on
these photos makes its own count optimistic, so it also chooses on half of the people and counts
on the other half (5 random splits): that is the rate to expect on photos it was not chosen on.
Usage: python benchmarks/neutral_colour.py [--limit N]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from _common import DATA, need
from reid import Embedder, best_box, read_pairs
from unseen.detect.presets import make_detector
from unseen.obscure import NEUTRAL

THRESHOLD = 0.557  # benchmarks/reid.py, FAR 0.1% on LFW folds 1-5 clean pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, help="use only the photos of the first N same and N different pairs")
    args = ap.parse_args()
    same, diff = read_pairs(need(DATA / "lfw"), args.limit)
    photos = sorted({p for pair in same + diff for p in pair})
    det, emb = make_detector("default", threads=1), Embedder()
    vecs = []
    for p in photos:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        box = best_box(det, rgb) or (0, 0, *rgb.shape[1::-1])
        vecs.append(emb.embed([rgb], emb.landmarks(rgb, box))[0])
    photo_vecs = np.stack(vecs)
    levels = range(0, 256, 32)
    colours = [(r, g, b) for r in levels for g in levels for b in levels]
    colours += [c for c in ((128, 128, 128), NEUTRAL) if c not in colours]
    chips = [np.full((112, 112, 3), c, np.uint8) for c in colours]
    shape = emb.landmarks(chips[0], (18, 18, 94, 94))  # a flat chip is the same whatever the landmarks
    chip_vecs = np.stack(emb.embed(chips, shape))
    dist = np.linalg.norm(photo_vecs[:, None, :] - chip_vecs[None, :, :], axis=2)
    near = dist < THRESHOLD  # photos x colours

    margin = np.percentile(dist, 0.5, axis=0)  # how far the nearest few photos are, per colour

    def ranking(rows: np.ndarray) -> np.ndarray:
        """Colours, those near the fewest of these photos first; among ties, the widest margin."""
        return np.lexsort((-np.percentile(dist[rows], 0.5, axis=0), near[rows].sum(0)))

    print(f"LFW folds 1-5: {len(photos)} photos; {len(colours)} flat colours; threshold {THRESHOLD}\n")
    print("| colour (RGB) | photos within the threshold | nearest photo | 0.5th percentile distance |")
    print("|---|---|---|---|")
    every = np.ones(len(photos), bool)
    shown = [int(i) for i in ranking(every)[:8]]
    shown += [colours.index(c) for c in ((0, 0, 0), (128, 128, 128), (192, 160, 128))]  # black, grey, a skin tone
    for i in dict.fromkeys(shown + [colours.index(NEUTRAL)]):
        tag = " (NEUTRAL)" if colours[i] == NEUTRAL else ""
        print(
            f"| {colours[i]}{tag} | {int(near[:, i].sum())} ({near[:, i].mean():.2%}) | {dist[:, i].min():.3f} "
            f"| {margin[i]:.3f} |"
        )

    people = sorted({p.parent.name for p in photos})
    rng = np.random.default_rng(1)
    grey = colours.index((128, 128, 128))
    held_best, held_grey, held_n = 0, 0, 0
    print("\n| split | chosen on (photos) | colour chosen | its held-out hits | mid-grey's held-out hits |")
    print("|---|---|---|---|---|")
    for split in range(5):
        half = set(rng.choice(people, len(people) // 2, replace=False))
        in_half = np.array([p.parent.name in half for p in photos])
        for tune, test in ((in_half, ~in_half), (~in_half, in_half)):
            chosen = int(ranking(tune)[0])
            hits, grey_hits = int(near[test][:, chosen].sum()), int(near[test][:, grey].sum())
            held_best, held_grey, held_n = held_best + hits, held_grey + grey_hits, held_n + int(test.sum())
            print(f"| {split} | {int(tune.sum())} | {colours[chosen]} | {hits}/{int(test.sum())} | {grey_hits} |")
    print(
        f"\nheld out, all splits: the chosen colour {held_best / held_n:.2%} of photos, "
        f"mid-grey {held_grey / held_n:.2%}"
    )


if __name__ == "__main__":
    main()
