"""unseen.regions: one region per face, shaped like a head, never one region over two people."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tests.conftest import data
from tests.test_photo import faces
from unseen.obscure import coverage_mask, region_mask
from unseen.plan import Region
from unseen.regions import PHOTO, apart, photo_regions

GROUPS = ["2008_007676.jpg", "2008_002506.jpg", "2008_002470.jpg", "2008_004176.jpg", "2009_004587.jpg"]


@pytest.mark.parametrize("name", GROUPS)
def test_two_people_never_share_one_region(detector, name: str) -> None:
    """On real group photos, no painted region covers the centres of two hand-annotated faces,
    and every annotated face is still covered (90% of its box)."""
    rgb = np.asarray(Image.open(data("dlib_faces", name)).convert("RGB"))
    h, w = rgb.shape[:2]
    regions = photo_regions(detector.detect(rgb), w, h)
    boxes = faces(name)
    assert boxes, name
    centres = [((x1 + x2) // 2, (y1 + y2) // 2) for x1, y1, x2, y2 in boxes]
    for r in regions:
        ys, xs, m = region_mask(r, w, h)
        inside = [
            ys.start <= cy < ys.stop and xs.start <= cx < xs.stop and m[cy - ys.start, cx - xs.start]
            for cx, cy in centres
        ]
        assert sum(inside) <= 1, f"{name}: region {r.box} covers {sum(inside)} faces"
    mask = coverage_mask(regions, w, h)
    for x1, y1, x2, y2 in boxes:
        assert mask[y1:y2, x1:x2].mean() >= 0.9, f"{name}: face {(x1, y1, x2, y2)} not covered"


def test_apart_stops_halfway_and_the_pair_still_covers_the_gap() -> None:
    """Two faces side by side whose margins reach each other's centre: each region stops halfway,
    neither covers the other's centre, and together they cover what they covered before."""
    a = Region((0.0, 0.0, 200.0, 120.0), PHOTO.shape, 0.2, raw_box=(40.0, 20.0, 100.0, 100.0))
    b = Region((50.0, 0.0, 250.0, 120.0), PHOTO.shape, 0.2, raw_box=(110.0, 20.0, 170.0, 100.0))
    ca, cb = (70, 60), (140, 60)
    after = apart([a, b])
    assert after[0].box[2] == pytest.approx(105.0) and after[1].box[0] == pytest.approx(105.0)
    for r, other in zip(after, (cb, ca), strict=True):
        ys, xs, m = region_mask(r, 300, 150)
        x, y = other
        assert not (xs.start <= x < xs.stop and m[y - ys.start, x - xs.start])
    before = coverage_mask([Region(a.box, "box"), Region(b.box, "box")], 300, 150)
    kept = coverage_mask([Region(r.box, "box") for r in after], 300, 150)
    assert kept[:, 40:170].all() == before[:, 40:170].all()


def test_apart_never_cuts_into_a_face_own_box() -> None:
    """A neighbour's centre inside this face's own detector box (overlapping heads) is left alone."""
    a = Region((0.0, 0.0, 120.0, 120.0), "ellipse", 0.9, raw_box=(20.0, 20.0, 100.0, 100.0))
    b = Region((40.0, 30.0, 160.0, 150.0), "ellipse", 0.9, raw_box=(60.0, 50.0, 140.0, 130.0))
    out = apart([a, b])
    assert out[0].box[0] <= 20 and out[0].box[2] >= 100 and out[0].box[3] >= 100


def test_a_crowded_small_face_is_painted_as_an_ellipse_a_large_confident_one_keeps_its_shape() -> None:
    """Where `apart` had to clip a rounded region, its corners would reach into the neighbours:
    a small (or weak) face's region becomes an ellipse; a large confident face keeps the
    rounded shape, whose corners cover its cheeks and jaw."""
    small = [
        Region((0.0, 0.0, 80.0, 80.0), "rounded", 0.9, raw_box=(20.0, 20.0, 60.0, 60.0)),
        Region((30.0, 0.0, 110.0, 80.0), "rounded", 0.9, raw_box=(50.0, 20.0, 90.0, 60.0)),
    ]
    assert [r.shape for r in apart(small)] == ["ellipse", "ellipse"]
    large = [
        Region((0.0, 0.0, 380.0, 300.0), "rounded", 0.9, raw_box=(50.0, 50.0, 250.0, 250.0)),
        Region((120.0, 0.0, 500.0, 300.0), "rounded", 0.9, raw_box=(260.0, 50.0, 460.0, 250.0)),
    ]
    after = apart(large)
    assert [r.box for r in after] != [r.box for r in large] and [r.shape for r in after] == ["rounded", "rounded"]
    weak = [replace(r, score=0.1) for r in large]
    assert [r.shape for r in apart(weak)] == ["ellipse", "ellipse"]
    alone = [Region((0.0, 0.0, 80.0, 80.0), "rounded", 0.9, raw_box=(20.0, 20.0, 60.0, 60.0))]
    assert apart(alone)[0].shape == "rounded"


def test_a_weak_box_astride_two_faces_keeps_no_margin() -> None:
    """A weak box holding a confident face's centre keeps a confident face's margin; holding the
    centres of two faces, it sits astride them, and any margin only reaches further into both."""
    from unseen.regions import yield_to_confident

    sure = Region((35.0, 35.0, 85.0, 85.0), "ellipse", 0.9, raw_box=(40.0, 40.0, 80.0, 80.0))
    other = Region((95.0, 35.0, 145.0, 85.0), "ellipse", 0.3, raw_box=(100.0, 40.0, 140.0, 80.0))
    weak = Region((0.0, 0.0, 200.0, 120.0), "ellipse", 0.1, raw_box=(50.0, 30.0, 130.0, 90.0))
    on_one = yield_to_confident([sure, replace(weak, raw_box=(50.0, 30.0, 90.0, 90.0))], PHOTO.margin, 300, 150)
    x1, y1, x2, y2 = on_one[1].box
    assert x1 < 50 and x2 > 90 and x2 - x1 < 50  # the confident margin, no more
    astride = yield_to_confident([sure, other, weak], PHOTO.margin, 300, 150)
    assert astride[2].box == weak.raw_box
    assert astride[:2] == [sure, other]
