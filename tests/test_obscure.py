"""unseen.obscure: the fill reads no pixel under any region, and a false region is hard to see."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import data
from unseen.media import video as media
from unseen.obscure import METHODS, coverage_mask, obscure
from unseen.plan import Region

REGIONS = [
    Region((150.0, 80.0, 260.0, 210.0), "ellipse"),
    Region((250.0, 90.0, 340.0, 200.0), "ellipse"),  # touches the first: one group
    Region((20.0, 20.0, 30.0, 28.0), "box"),  # too small for a gradient: the ring's mean
]


def photo() -> np.ndarray:
    return np.asarray(Image.open(data("dlib_faces", "2008_007676.jpg")).convert("RGB"))


def scrambled(rgb: np.ndarray, regions: list[Region]) -> np.ndarray:
    """The photo with random noise wherever a region covers it (another face, any face)."""
    h, w = rgb.shape[:2]
    mask = coverage_mask(regions, w, h)
    other = rgb.copy()
    other[mask] = np.random.default_rng(0).integers(0, 256, (int(mask.sum()), 3), np.uint8)
    return other


@pytest.mark.parametrize("method", [m for m in METHODS if not METHODS[m].reversible])
def test_irreversible_methods_read_no_pixel_under_a_region(method: str) -> None:
    """Whatever the face under the regions, the painted photo is the same, pixel for pixel."""
    rgb = photo()
    assert np.array_equal(obscure(rgb, REGIONS, method), obscure(scrambled(rgb, REGIONS), REGIONS, method))
    assert not np.array_equal(obscure(rgb, REGIONS, method), rgb)


@pytest.mark.parametrize("painters", ["METHODS", "VIDEO"])
def test_yuv_fill_reads_no_pixel_under_a_region(painters: str) -> None:
    """The same for the planar painters (photos' smooth fill, video's flat one), on a real
    picture's 4:2:0 planes: noise in every luma and chroma sample a region touches changes
    nothing in the painted frame."""
    from unseen import obscure as registry
    from unseen.obscure.planar import chroma_mask

    rgb = np.ascontiguousarray(photo()[:332, :500])
    mask = coverage_mask(REGIONS, 500, 332)
    rng = np.random.default_rng(0)
    out = []
    for noisy in (False, True):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        planes = media.yuv420(frame)
        assert planes is not None
        if noisy:
            for plane, m in ((planes.y, mask), (planes.u, chroma_mask(mask)), (planes.v, chroma_mask(mask))):
                plane[m] = rng.integers(0, 256, int(m.sum()), np.uint8)
        assert getattr(registry, painters)["fill"].paint_yuv420(planes, REGIONS)
        out.append([p.copy() for p in (planes.y, planes.u, planes.v)])
    assert all(np.array_equal(a, b) for a, b in zip(*out, strict=True))


def test_a_region_where_there_is_no_face_is_hard_to_see() -> None:
    """On a smooth surface (sky in a COCO photo with nobody in it) the fill carries on what is
    around it: a few levels of change, where the old flat patch or black stood out."""
    rgb = np.asarray(Image.open(data("coco", "nofaces", "000000007108.jpg")).convert("RGB"))
    h, w = rgb.shape[:2]
    region = [Region((w * 0.8, 8.0, w * 0.8 + 60, 58.0), "ellipse")]
    mask = coverage_mask(region, w, h)
    change = np.abs(obscure(rgb, region).astype(int) - rgb.astype(int))[mask].mean()
    black = np.abs(obscure(rgb, region, "solid").astype(int) - rgb.astype(int))[mask].mean()
    assert change < 8 < black / 4, (change, black)


def test_a_new_method_is_one_class_and_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """What adding an obscuring method takes: one class with `paint` and `paint_yuv420`, and its
    entry in the registry; the plan's valid methods and the renderer then know it."""
    from unseen import obscure as registry
    from unseen import plan as plan_mod

    class White:
        name, reversible, help = "white", False, "white"

        def paint(self, rgb: np.ndarray, regions: list[Region]) -> None:
            rgb[coverage_mask(regions, rgb.shape[1], rgb.shape[0])] = 255

        def paint_yuv420(self, frame: object, regions: list[Region]) -> bool:
            return False  # the RGB path paints video frames then

    monkeypatch.setitem(registry.METHODS, "white", White())
    out = obscure(photo(), REGIONS, "white")
    assert (out[coverage_mask(REGIONS, out.shape[1], out.shape[0])] == 255).all()
    raw = {"schema": plan_mod.SCHEMA, "root": "/media", "settings": {"method": "white"}, "files": []}
    assert plan_mod.from_json(raw).settings.method == "white"
