"""Does the audit catch a face left in a video, and how often does it cry wolf? Real unseen outputs.

Per clip (benchmarks/video.py's 1080p clips, --quick length): unseen (default video settings)
makes the plan and renders it; that output is audited as `unseen audit` does (2 frames a second)
and every finding counts as a false alarm (the reference leaks of this output are 0-1 frames,
benchmarks/video.py). Then up to --faces faces >= 32 px that a detector saw in audited frames
are skipped (every region of that frame holding the face's centre removed from the plan), the
leaky plan is rendered and audited: a skipped face is *exposed* when the regions left cover less
than half of its box, and *caught* when a finding in its frame overlaps the box (IoU >= 0.3, or
covers half of it).

Usage: python benchmarks/audit_video_leaks.py [--faces N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from unseen import video
from unseen.audit.check import VIDEO_SAMPLES_PER_SECOND, Auditor, Finding
from unseen.obscure import coverage_mask
from unseen.options import Options
from unseen.plan import MediaPlan, Region
from video import clip_1080p, clip_crowd


def overlaps(f: Finding, box: tuple[float, float, float, float]) -> bool:
    if f.box is None:
        return False
    x1, y1, x2, y2 = box
    ix = max(0.0, min(x2, f.box[2]) - max(x1, f.box[0]))
    iy = max(0.0, min(y2, f.box[3]) - max(y1, f.box[1]))
    inter, area = ix * iy, (x2 - x1) * (y2 - y1)
    union = area + (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) - inter
    return inter / max(union, 1e-9) >= 0.3 or inter >= 0.5 * area


def audit(auditor: Auditor, path: Path, mp: MediaPlan, tmp: Path) -> tuple[list[Finding], int, list[int]]:
    """Render `mp` and audit it: (findings, frames audited, which frames)."""
    video.render(path, mp, tmp, Options())
    rep = auditor.pair(path, tmp)
    if rep.error:
        raise SystemExit(rep.error)
    every = auditor.every or max(1, round((mp.fps or 25) / VIDEO_SAMPLES_PER_SECOND))
    return rep.findings, rep.frames_checked, list(range(0, mp.frames or 0, every))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=30, help="faces skipped per clip (random, seed 0)")
    args = ap.parse_args()
    auditor = Auditor()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / "out.mp4"
        clips = {"1080p (asl, scaled)": clip_1080p(60), "1080p crowd (WIDER pan/zoom)": clip_crowd(60)}
        for name, path in clips.items():
            mp = video.scan(path, path.name, path.name, "0" * 64, None, Options())
            clean, frames_checked, audited = audit(auditor, path, mp, tmp)
            # Faces a detector saw (>= 32 px) in the audited frames; a face is skipped by removing
            # every region of that frame that holds its centre (several tracks can cover one face).
            faces = sorted(
                {
                    (r.frame, r.raw_box)
                    for r in mp.regions
                    if r.frame in audited and r.raw_box and r.detector != "track" and r.raw_box[3] - r.raw_box[1] >= 32
                }
            )
            chosen = random.Random(0).sample(faces, min(args.faces, len(faces)))
            leaky = replace(mp, regions=[r for r in mp.regions if not any(_holds(r, f, box) for f, box in chosen)])
            found, _, _ = audit(auditor, path, leaky, tmp)
            index: dict[int, list[Region]] = {}
            for r in leaky.regions:
                index.setdefault(r.frame or 0, []).append(r)
            exposed = caught = 0
            for f, box in chosen:
                if _covered(coverage_mask(index.get(f, []), mp.width, mp.height), box) >= 0.5:
                    continue
                exposed += 1
                caught += any(g.frame == f and overlaps(g, box) for g in found)
            rows.append((name, frames_checked, len(chosen), exposed, caught, clean))
    print("\nAudit on unseen's video outputs (2 frames a second audited)\n")
    print(
        "| clip | frames audited | faces skipped | left exposed | caught "
        "| findings on the correct output (face / reid) |"
    )
    print("|---|---|---|---|---|---|")
    for name, n, removed, exposed, caught, clean in rows:
        face = sum(f.check == "face" for f in clean)
        reid = sum(f.check == "reid" for f in clean)
        share = f"{100 * caught / exposed:.0f}%" if exposed else "-"
        print(f"| {name} | {n} | {removed} | {exposed} | {caught} ({share}) | {face} / {reid} |")


def _holds(r: Region, frame: int, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return r.frame == frame and r.box[0] <= cx <= r.box[2] and r.box[1] <= cy <= r.box[3]


def _covered(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    sub = mask[max(0, y1) : y2, max(0, x1) : x2]
    return float(sub.mean()) if sub.size else 1.0


if __name__ == "__main__":
    main()
