"""WIDER FACE val: AP (official protocol) and protected rate by face height, unseen vs deface.

A face is *protected* when at least 90% of its ground-truth box is covered by obscured pixels.
Both tools run on the same images in one run; times are detection + obscuring per image,
in-process, on this machine. Usage: python benchmarks/widerface.py [--limit N]
(--limit 300 takes about 15 minutes on 2 cores; the full 1,066 images about an hour).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.io as sio
from PIL import Image

from _common import DATA, Deface, need
from unseen.detect.presets import make_detector
from unseen.obscure import coverage_mask, obscure, region_mask
from unseen.plan import Region
from unseen.regions import PHOTO, photo_regions

BUCKETS = [(0, 16), (16, 32), (32, 64), (64, 1 << 30)]
BUCKET_NAMES = ["<16", "16-32", "32-64", ">=64"]


def load_gt(root: Path) -> dict[str, np.ndarray]:
    """Relative image path -> (n, 5) array of x1 y1 w h invalid, from the official txt."""
    lines = (root / "wider_face_dev_bbx_gt.txt").read_text().split("\n")
    out, i = {}, 0
    while i < len(lines) and lines[i].strip():
        name, n = lines[i].strip(), int(lines[i + 1])
        rows = [list(map(int, lines[i + 2 + k].split()[:10])) for k in range(max(n, 1))]
        arr = np.array(rows, dtype=np.int64).reshape(-1, 10)[:n]
        out[name] = arr[:, [0, 1, 2, 3, 7]]
        i += 2 + max(n, 1)
    return out


def val_images(limit: int = 0) -> tuple[Path, dict[str, np.ndarray], list[str]]:
    """The val set's folder, ground truth and image names: all, or every k-th so that about
    `limit` are used (the same images in every benchmark that takes --limit)."""
    root = need(DATA / "widerface")
    gt = load_gt(root)
    names = sorted(gt)
    if limit:
        names = names[:: max(1, len(names) // limit)][:limit]
    return root, gt, names


def subsets(root: Path) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Setting -> image stem -> (gt boxes x1y1wh, 1-based kept indices), from the official mats."""
    full = sio.loadmat(root / "eval_ground_truth" / "wider_face_val.mat")
    result = {}
    for setting in ("easy", "medium", "hard"):
        sub = sio.loadmat(root / "eval_ground_truth" / f"wider_{setting}_val.mat")
        table = {}
        for e in range(len(full["event_list"])):
            files = full["file_list"][e][0]
            for j in range(len(files)):
                stem = str(files[j][0][0])
                table[stem] = (full["face_bbx_list"][e][0][j][0].astype(np.float64), sub["gt_list"][e][0][j][0])
        result[setting] = table
    return result


def image_eval(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray, thresh: float = 0.5):
    """The official WIDER evaluation of one image (ported from the MATLAB toolkit)."""
    recall = np.zeros(len(gt))
    proposal = np.ones(len(pred))
    pred_recall = np.zeros(len(pred))
    g = gt.copy()
    g[:, 2:] += g[:, :2]
    for h in range(len(pred)):
        p = pred[h, :4]
        ix1 = np.maximum(p[0], g[:, 0])
        iy1 = np.maximum(p[1], g[:, 1])
        ix2 = np.minimum(p[2], g[:, 2])
        iy2 = np.minimum(p[3], g[:, 3])
        inter = np.clip(ix2 - ix1 + 1, 0, None) * np.clip(iy2 - iy1 + 1, 0, None)
        union = (p[2] - p[0] + 1) * (p[3] - p[1] + 1) + (g[:, 2] - g[:, 0] + 1) * (g[:, 3] - g[:, 1] + 1) - inter
        overlaps = inter / union
        if len(overlaps):
            k = int(overlaps.argmax())
            if overlaps[k] >= thresh:
                if ignore[k] == 0:
                    recall[k] = -1
                    proposal[h] = -1
                elif recall[k] == 0:
                    recall[k] = 1
        pred_recall[h] = (recall == 1).sum()
    return pred_recall, proposal


def average_precision(preds: dict[str, np.ndarray], table: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    steps = 1000
    pr = np.zeros((steps, 2))
    faces = 0
    allscores = np.concatenate([p[:, 4] for p in preds.values() if len(p)] or [np.zeros(1)])
    lo, hi = float(allscores.min()), float(allscores.max())
    for stem, pred in preds.items():
        gt, keep = table[stem]
        faces += len(keep)
        if len(gt) == 0 or len(pred) == 0:
            continue
        pred = pred[np.argsort(-pred[:, 4])].copy()
        pred[:, 4] = (pred[:, 4] - lo) / max(hi - lo, 1e-9)
        ignore = np.zeros(len(gt))
        if len(keep):
            ignore[keep.reshape(-1) - 1] = 1
        pred_recall, proposal = image_eval(pred, gt, ignore)
        for t in range(steps):
            thr = 1 - (t + 1) / steps
            idx = np.nonzero(pred[:, 4] >= thr)[0]
            if len(idx):
                r = idx[-1]
                pr[t, 0] += (proposal[: r + 1] == 1).sum()
                pr[t, 1] += pred_recall[r]
    precision = pr[:, 1] / np.maximum(pr[:, 0], 1)
    rec = pr[:, 1] / max(faces, 1)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


class Tally:
    def __init__(self, name: str) -> None:
        self.name = name
        self.hit = np.zeros(len(BUCKETS))
        self.total = np.zeros(len(BUCKETS))
        self.area = 0.0
        self.pixels = 0.0
        self.seconds = 0.0
        self.preds: dict[str, np.ndarray] = {}
        self.big = 0  # valid faces >= 32 px
        self.shared = 0  # ... whose painted region also covers another such face's centre

    def add(
        self,
        stem: str,
        faces: np.ndarray,
        mask: np.ndarray,
        pred: np.ndarray,
        seconds: float,
        regions: list[Region] | None = None,
    ) -> None:
        self.preds[stem] = pred
        self.area += mask.sum()
        self.pixels += mask.size
        self.seconds += seconds
        h, w = mask.shape
        for x, y, bw, bh, invalid in faces:
            if invalid or bw <= 0 or bh <= 0:
                continue
            b = next(i for i, (lo, hi) in enumerate(BUCKETS) if lo <= bh < hi)
            x1, y1, x2, y2 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
            if x2 <= x1 or y2 <= y1:
                continue
            self.total[b] += 1
            covered = mask[y1:y2, x1:x2].mean()
            self.hit[b] += covered >= 0.9
        if regions is not None:
            self._sharing(faces, regions, w, h)

    def _sharing(self, faces: np.ndarray, regions: list[Region], w: int, h: int) -> None:
        """Count faces >= 32 px whose painted region also covers the centre of another one."""
        big = [(int(x + bw / 2), int(y + bh / 2)) for x, y, bw, bh, invalid in faces if not invalid and bh >= 32]
        centres = [(min(w - 1, cx), min(h - 1, cy)) for cx, cy in big]
        masks = [region_mask(r, w, h) for r in regions]
        inside = np.array(
            [
                [
                    ys.start <= py < ys.stop and xs.start <= px < xs.stop and m[py - ys.start, px - xs.start]
                    for px, py in centres
                ]
                for ys, xs, m in masks
            ],
            bool,
        ).reshape(len(masks), len(centres))
        for i in range(len(centres)):
            self.big += 1
            self.shared += bool((inside[:, i] & (inside.sum(axis=1) >= 2)).any())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="use every k-th image so that about N are used")
    ap.add_argument("--presets", default="default,fast", help="comma-separated unseen presets to run")
    ap.add_argument("--shapes", default="rounded,ellipse", help="region shapes to score (detection is shared)")
    ap.add_argument("--margin", type=float, default=None, help=f"default: {PHOTO.margin}, as unseen run")
    ap.add_argument("--no-deface", action="store_true")
    args = ap.parse_args()

    root, gt, names = val_images(args.limit)
    tables = subsets(root)
    presets = args.presets.split(",")
    shapes = args.shapes.split(",")
    detectors = {p: make_detector(p) for p in presets}
    deface = None if args.no_deface else Deface()
    ours = {
        (p, s): Tally(f"unseen {p}, {s}" + (" (default)" if (p, s) == ("default", PHOTO.shape) else ""))
        for p in presets
        for s in shapes
    }
    theirs = Tally("deface 1.5.0")
    for n, name in enumerate(names):
        rgb = np.asarray(Image.open(root / "images" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        stem = Path(name).stem
        for p, detector in detectors.items():
            t0 = time.perf_counter()
            dets = detector.detect(rgb)
            t_detect = time.perf_counter() - t0
            pred = np.concatenate([dets.boxes, dets.scores[:, None]], axis=1)
            for shape in shapes:
                t0 = time.perf_counter()
                regions = photo_regions(dets, w, h, args.margin, shape)
                obscure(rgb, regions)
                seconds = t_detect + time.perf_counter() - t0
                ours[p, shape].add(stem, gt[name], coverage_mask(regions, w, h), pred, seconds, regions)
        if deface is not None:
            t0 = time.perf_counter()
            d = deface.detect(rgb)
            deface.anonymize(rgb, d)
            t1 = time.perf_counter()
            theirs.add(stem, gt[name], deface.mask((h, w), d), d, t1 - t0, deface.regions((h, w), d))
        if n % 50 == 0:
            print(f"  {n}/{len(names)}", flush=True)
    tallies = list(ours.values()) + ([theirs] if deface is not None else [])
    print(f"\nWIDER FACE val, {len(names)} images ({int(tallies[0].total.sum())} valid faces)\n")
    header = "| tool | AP easy | AP medium | AP hard | " + " | ".join(f"protected {b}" for b in BUCKET_NAMES)
    header += " | area obscured | faces sharing a region | s/image |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for t in tallies:
        aps = [
            average_precision(t.preds, {k: v for k, v in tables[s].items() if k in t.preds})
            for s in ("easy", "medium", "hard")
        ]
        rates = [f"{100 * h / max(n, 1):.1f}% ({int(n)})" for h, n in zip(t.hit, t.total, strict=True)]
        print(
            f"| {t.name} | "
            + " | ".join(f"{a:.3f}" for a in aps)
            + " | "
            + " | ".join(rates)
            + f" | {100 * t.area / t.pixels:.2f}% | {100 * t.shared / max(t.big, 1):.2f}% ({t.shared} of {t.big})"
            + f" | {t.seconds / len(names):.3f} |"
        )
    if deface is not None:
        print("\n| unseen vs deface | area obscured | time per image |\n|---|---|---|")
        for t in ours.values():
            print(f"| {t.name} | {t.area / max(theirs.area, 1):.2f}x | {t.seconds / max(theirs.seconds, 1e-9):.2f}x |")


if __name__ == "__main__":
    main()
