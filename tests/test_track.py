"""Tracking: every frame between, before and after detections gets a box, tracks stay apart."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from unseen import video
from unseen.options import Options
from unseen.plan import Region
from unseen.regions import VIDEO, region_for
from unseen.track import Tracker, fill

W, H = 640, 480


def _box(x: float, y: float, s: float = 40) -> np.ndarray:
    return np.array([[x, y, x + s, y + s]], np.float32)


def _covers(outer: tuple[float, ...], inner: np.ndarray) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def test_moving_face_detected_every_third_frame_is_boxed_in_every_frame() -> None:
    step, frames = 3, 30
    tracker = Tracker(max_gap=4 * step)
    truth = {f: _box(100 + 4 * f, 200)[0] for f in range(frames)}
    for f in range(0, frames, step):
        tracker.update(f, truth[f][None], np.array([0.9], np.float32))
    assert len(tracker.tracks) == 1
    filled = fill(tracker.tracks, frames, step - 1, 2 * step - 1, W, H)
    for f in range(frames):
        assert len(filled[f]) == 1, f
        assert filled[f][0].track == 0
    # Between detections the interpolated box sits on the true (linear) path.
    assert _covers(filled[4][0].box, truth[4])


def test_new_face_is_covered_from_before_its_first_detection() -> None:
    tracker = Tracker(max_gap=12)
    tracker.update(0, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    tracker.update(3, _box(300, 100), np.array([0.8], np.float32))
    filled = fill(tracker.tracks, 10, lead=2, tail=5, width=W, height=H)
    # The face may have entered at frame 1 (just after frame 0 was looked at): frames 1-2 covered.
    assert 1 in filled and 2 in filled and 0 not in filled
    assert _covers(filled[1][0].box, _box(300, 100)[0])
    assert max(filled) == 8  # held for `tail` frames after the last detection


def test_missed_detections_are_bridged_and_two_faces_keep_two_tracks() -> None:
    tracker = Tracker(max_gap=9)
    both = np.concatenate([_box(50, 50), _box(400, 300)])
    tracker.update(0, both, np.array([0.9, 0.9], np.float32))
    tracker.update(3, _box(55, 50), np.array([0.9], np.float32))  # second face missed here
    tracker.update(6, np.concatenate([_box(60, 50), _box(410, 300)]), np.array([0.9, 0.9], np.float32))
    assert len(tracker.tracks) == 2
    filled = fill(tracker.tracks, 7, lead=2, tail=0, width=W, height=H)
    assert sorted(x.track for x in filled[3]) == [0, 1]  # the missed face is still covered
    assert all(len(filled[f]) == 2 for f in range(7))


def test_small_fast_face_with_no_overlap_is_still_associated() -> None:
    tracker = Tracker(max_gap=6)
    tracker.update(0, _box(100, 100, 12), np.array([0.9], np.float32))
    tracker.update(3, _box(110, 100, 12), np.array([0.9], np.float32))  # moved almost a face width
    assert len(tracker.tracks) == 1


def test_back_fill_and_hold_follow_the_motion_of_a_fast_face() -> None:
    """A face walking in fast: before its first detection it was further back along its path."""
    tracker = Tracker(max_gap=12)
    truth = {f: _box(100 + 10 * f, 200)[0] for f in range(12)}
    for f in (3, 6, 9):
        tracker.update(f, truth[f][None], np.array([0.9], np.float32))
    filled = fill(tracker.tracks, 12, lead=2, tail=2, width=W, height=H)
    for f in (1, 2, 10, 11):
        assert _covers(filled[f][0].box, truth[f]), f


def test_a_jump_too_far_to_follow_is_reported() -> None:
    tracker = Tracker(max_gap=12)
    tracker.update(0, _box(100, 100), np.array([0.9], np.float32))
    assert tracker.jumps(3, _box(110, 100)) == 0  # followed
    assert tracker.jumps(3, _box(160, 100)) == 1  # 1.5 face sizes away: ask for the frames between
    assert tracker.jumps(3, _box(500, 400)) == 0  # far away: a new face, not a jump


def test_a_face_that_jumped_is_covered_along_its_path() -> None:
    """Found 1.5 face sizes away after the frames between were skipped: two tracks, but linked,
    so the frames between are painted along the way it went."""
    tracker = Tracker(max_gap=12)
    tracker.update(0, _box(100, 100), np.array([0.9], np.float32))
    tracker.update(3, _box(160, 100), np.array([0.9], np.float32))
    assert len(tracker.tracks) == 2 and tracker.links == [(0, 1)]
    filled = fill(tracker.tracks, 4, lead=0, tail=0, width=W, height=H, links=tracker.links)
    for f in (1, 2):
        truth = _box(100 + 60 * f / 3, 100)[0]
        assert any(_covers(x.box, truth) for x in filled[f]), f


def test_a_face_at_the_frame_edge_is_extended_to_the_edge() -> None:
    """A box close to a border may be a face partly outside the frame: it reaches the border."""
    tracker = Tracker(max_gap=12)
    tracker.update(0, np.array([[10, 100, 50, 140], [300, 200, 340, 240]], np.float32), np.ones(2, np.float32))
    boxes = sorted(x.box for x in fill(tracker.tracks, 1, 0, 0, W, H)[0])
    assert boxes[0][0] == 0 and boxes[1] == (300, 200, 340, 240)


def test_a_face_still_in_a_jerking_camera_is_covered_between_detections() -> None:
    """A handheld camera jolts between detection frames: the face jumps around its straight
    line in the picture. The boxes carried there follow how far the picture strayed."""
    camera = [(0, 0), (30, -12), (-25, 10), (0, 0), (22, 15), (-30, -8), (0, 0)]  # picture moved by
    tracker = Tracker(max_gap=12)
    for f in (0, 3, 6):
        tracker.update(f, _box(300 + camera[f][0], 200 + camera[f][1]), np.ones(1, np.float32))
    steady = fill(tracker.tracks, 7, 2, 5, W, H)
    shaken = fill(tracker.tracks, 7, 2, 5, W, H, camera=camera)
    for f in (1, 2, 4, 5):
        face = _box(300 + camera[f][0], 200 + camera[f][1])[0]
        assert not _covers(steady[f][0].box, face)  # the straight line misses it
        assert _covers(shaken[f][0].box, face)
    assert shaken[0][0].box == steady[0][0].box  # a detection frame is as detected


@given(st.integers(0, 2**32 - 1), st.integers(7, 90), st.integers(1, 4))
@settings(max_examples=100, deadline=None)
def test_frames_handed_out_early_are_the_frames_of_the_whole_plan(seed: int, frames: int, step: int) -> None:
    """One-pass `run` paints a frame as soon as no later detection can change its regions
    (video._Final); whatever comes later (faces that appear, vanish, jump, are missed, skipped
    frames looked at again), those frames must equal the plan made after the last frame."""
    rng = np.random.default_rng(seed)
    s = video.VideoSettings(step=step)
    faces = [
        (rng.uniform(-50, W), rng.uniform(-50, H), rng.uniform(-6, 6, 2), rng.uniform(20, 90), rng.uniform(0.2, 0.9))
        for _ in range(6)
    ]

    def boxes(f: int) -> tuple[np.ndarray, np.ndarray]:
        seen = []
        for x, y, v, size, seen_share in faces:
            if rng.random() < seen_share:  # missed now and then, some often
                jump = rng.uniform(-200, 200, 2) if rng.random() < 0.1 else 0
                cx, cy = np.array([x, y]) + v * f + jump
                seen.append([cx, cy, cx + size, cy + size])
        return np.array(seen, np.float32).reshape(-1, 4), rng.uniform(0.1, 1, len(seen)).astype(np.float32)

    tracker = Tracker(max_gap=s.max_gap)
    camera = video._Camera()  # a jerky camera: every carried box is also moved with it
    camera.offsets = [tuple(xy) for xy in np.cumsum(rng.uniform(-20, 20, (frames, 2)), axis=0)]
    final = video._Final(tracker, s, Options(), "centerface", camera)
    early: list[Region] = []
    looked = [f for f in range(frames) if f % step == 0 or f == frames - 1 or rng.random() < 0.15]  # + re-detections
    for f in looked:
        tracker.update(f, *boxes(f))
        stop = min(final.settled(f), frames)
        early += [r for rs in final.upto(stop, W, H).values() for r in rs]
    early += [r for rs in final.upto(frames, W, H).values() for r in rs]
    whole = fill(tracker.tracks, frames, s.lead, s.tail, W, H, links=tracker.links, camera=camera.offsets)
    planned = [
        region_for(i.box, i.score, W, H, VIDEO.margin, VIDEO.shape, "centerface" if i.detected else "track", f, i.track)
        for f in sorted(whole)
        for i in whole[f]
    ]
    assert early == [r for r in planned if r is not None]
