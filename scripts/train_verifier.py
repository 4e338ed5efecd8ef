"""Train the verifier of weak face boxes (src/unseen/detect/verifier.json); see detect/verify.py.

  python scripts/train_verifier.py collect CACHE   # CenterFace on every photo: ~30 min here
  python scripts/train_verifier.py fit CACHE       # writes src/unseen/detect/verifier.json

`collect` runs the default preset's passes (MultiScale.candidates at the base threshold, with
landmarks and pass) on WIDER FACE val (../shared/data/widerface) and on the COCO photos without
any person (../shared/data/coco/nofaces), merges them as `unseen run` does, and keeps each
photo's candidates and the close-up score (CenterFace.recheck) of each face box the verifier
would look at, one .npz a photo. `fit` labels each such box: a face where it overlaps a WIDER
face box at all (IoU >= 0.05, any size, even those WIDER marks invalid: a loose box around a
real face must stay), not a face where it overlaps none, and every box on a photo without people
is not a face; then fits an L2-regularised logistic regression (Newton's method, numpy only).
Deterministic: the same caches give the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import DATA, need  # noqa: E402
from unseen.detect import verify  # noqa: E402
from unseen.detect.base import Detections, iou_matrix  # noqa: E402
from unseen.detect.multiscale import MultiScale  # noqa: E402
from unseen.detect.presets import EVIDENCE, PRESETS, face_model  # noqa: E402
from widerface import load_gt  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src" / "unseen" / "detect" / "verifier.json"
L2 = 1.0


def photos() -> list[tuple[str, Path]]:
    wider = need(DATA / "widerface" / "images")
    coco = need(DATA / "coco" / "nofaces")
    return [(f"{p.parent.name}__{p.name}", p) for p in sorted(wider.glob("*/*.jpg"))] + [
        (f"nofaces__{p.name}", p) for p in sorted(coco.glob("*.jpg"))
    ]


def detector() -> MultiScale:
    """The default preset without its verifier: candidates down to the evidence threshold."""
    p = PRESETS["default"]
    base = face_model(EVIDENCE)
    return MultiScale(
        base,
        p.scales,
        p.max_side,
        large_threshold=p.large_threshold,
        union=p.union,
        threshold=p.threshold,
        gated=p.gated,
    )


def collect(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    det = detector()
    for n, (key, path) in enumerate(photos()):
        dest = cache / f"{key}.npz"
        if dest.exists():
            continue
        rgb = np.asarray(Image.open(path).convert("RGB"))
        h, w = rgb.shape[:2]
        found = det.candidates(rgb)
        faces = det.merge(found.select(found.scores > PRESETS["default"].threshold), w, h)
        side = np.minimum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
        look = (faces.scores < verify.CHECK_BELOW) & (side >= verify.RECHECK_MIN)
        np.savez_compressed(
            dest,
            boxes=found.boxes,
            scores=found.scores,
            lms=found.data["landmarks"],
            passes=found.data["pass"],
            size=np.array([w, h]),
            work=det.work(w, h),
            mboxes=faces.boxes[look],
            crop=face_model(EVIDENCE).recheck(rgb, faces.boxes[look]),
        )
        if n % 50 == 0:
            print(f"  {n} photos", flush=True)


def examples(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (1 face, 0 not) of every box the verifier looks at, over all caches."""
    gt = load_gt(DATA / "widerface")
    det = detector()
    xs, ys = [], []
    for f in sorted(cache.glob("*.npz")):
        c = np.load(f)
        w, h = (int(v) for v in c["size"])
        found = Detections(c["boxes"], c["scores"], "centerface", {"landmarks": c["lms"], "pass": c["passes"]})
        faces = det.merge(found.select(found.scores > PRESETS["default"].threshold), w, h)
        side = np.minimum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
        check = (faces.scores < verify.CHECK_BELOW) & (side >= verify.MIN_SIDE)
        if not check.any():
            continue
        crop = np.full(len(faces), -1.0, np.float32)
        if len(c["mboxes"]):
            iou = iou_matrix(faces.boxes, c["mboxes"])
            matched = iou.max(axis=1) >= 0.5
            crop[matched] = c["crop"][iou.argmax(axis=1)[matched]]
        feats = verify.features(found, faces, crop, float(c["work"]), check)
        event, name = f.name[: -len(".npz")].split("__", 1)
        if event == "nofaces":
            label = np.zeros(len(feats))
        else:
            truth = gt[f"{event}/{name}"][:, :4].astype(np.float32).copy()
            truth[:, 2:] += truth[:, :2]
            overlap = iou_matrix(faces.boxes[check], truth).max(axis=1) if len(truth) else np.zeros(len(feats))
            label = (overlap >= 0.05).astype(float)
        xs.append(feats)
        ys.append(label)
    return np.concatenate(xs), np.concatenate(ys)


def fit(cache: Path) -> None:
    f, y = examples(cache)
    layout = f[(y == 1) & (f[:, 8:18] != 0.5).any(axis=1), 8:18].mean(axis=0)
    x = verify.design(f, layout)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    mean[0], scale[0] = 0.0, 1.0
    z = (x - mean) / scale
    beta = np.zeros(z.shape[1])
    for _ in range(30):
        p = 1 / (1 + np.exp(-(z @ beta)))
        hess = z.T @ (z * (p * (1 - p))[:, None]) + L2 * np.eye(len(beta))
        beta -= np.linalg.solve(hess, z.T @ (p - y) + L2 * beta)
    model = {
        "about": "unseen's verifier of weak face boxes: logistic regression over detect/verify.design; "
        "made by scripts/train_verifier.py",
        "examples": {"faces": int(y.sum()), "not_faces": int((1 - y).sum())},
        "beta": [round(float(v), 6) for v in beta],
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "layout": [round(float(v), 6) for v in layout],
    }
    OUT.write_text(json.dumps(model, indent=1) + "\n")
    print(f"{OUT}: {int(y.sum())} faces, {int((1 - y).sum())} not faces")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["collect", "fit"])
    ap.add_argument("cache", type=Path, help="folder of per-photo .npz files")
    args = ap.parse_args()
    collect(args.cache) if args.step == "collect" else fit(args.cache)


if __name__ == "__main__":
    main()
