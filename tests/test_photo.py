"""Photos end to end through the CLI: faces gone, formats kept, orientation upright, bad files fail cleanly."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.conftest import data, detail
from unseen.cli import main
from unseen.plan import load

FORMATS = [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("tif", "TIFF"), ("bmp", "BMP"), ("heic", "HEIF")]


def faces(image: str) -> list[tuple[int, int, int, int]]:
    """Hand-drawn face boxes (x1, y1, x2, y2) for one dlib_faces photo."""
    boxes = []
    for xml in ("testing.xml", "training.xml"):
        root = ET.parse(data("dlib_faces", xml)).getroot()
        for im in root.iter("image"):
            if im.get("file") == image:
                for b in im.iter("box"):
                    x, y, w, h = (int(b.get(k, 0)) for k in ("left", "top", "width", "height"))
                    boxes.append((max(0, x), max(0, y), x + w, y + h))
    return boxes


def face_is_gone(original: np.ndarray, output: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Inside the central part of the face the output has no detail left (the fill is a smooth
    surface: no eyes, mouth or edges) where the original had plenty."""
    x1, y1, x2, y2 = box
    cx1, cy1 = x1 + (x2 - x1) // 5, y1 + (y2 - y1) // 5
    cx2, cy2 = x2 - (x2 - x1) // 5, y2 - (y2 - y1) // 5
    return detail(output[cy1:cy2, cx1:cx2]) < 1.5 and detail(original[cy1:cy2, cx1:cx2]) > 3


def rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    src = tmp_path_factory.mktemp("in")
    for name in ("2008_002470.jpg", "2008_002506.jpg", "2008_004176.jpg", "bald_guys.jpg"):
        shutil.copy(data("dlib_faces", name), src / name)
    (src / "sub").mkdir()
    shutil.copy(data("dlib_faces", "2008_007676.jpg"), src / "sub" / "2008_007676.jpg")
    out = tmp_path_factory.mktemp("out")
    code = main(["run", str(src), "-o", str(out), "--plan", str(out.parent / "plan.json")])
    return src, out, code


def test_every_known_face_is_gone(ran: tuple[Path, Path, int]) -> None:
    src, out, code = ran
    assert code == 0
    checked = 0
    for path in sorted(src.rglob("*.jpg")):
        rel = path.relative_to(src)
        before, after = rgb(path), rgb(out / rel)
        assert before.shape == after.shape
        for box in faces(path.name):
            assert face_is_gone(before, after, box), f"face {box} still visible in {rel}"
            checked += 1
    assert checked >= 15


def test_output_mirrors_input_tree_and_inputs_untouched(ran: tuple[Path, Path, int]) -> None:
    src, out, _ = ran
    inputs = sorted(p.relative_to(src) for p in src.rglob("*.jpg"))
    assert inputs == sorted(p.relative_to(out) for p in out.rglob("*.jpg"))
    for p in src.rglob("*.jpg"):
        assert p.read_bytes() == data("dlib_faces", p.name).read_bytes()
    assert not list(out.rglob("*.part"))
    umask = os.umask(0)
    os.umask(umask)
    for p in out.rglob("*.jpg"):  # readable like any file the user makes, not 0600 from a temp file
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask


def test_plan_records_regions_with_raw_detections(ran: tuple[Path, Path, int]) -> None:
    _, out, _ = ran
    plan = load(out.parent / "plan.json")
    raw = json.loads((out.parent / "plan.json").read_text())
    assert raw["schema"] == "unseen.plan/1"
    assert len(plan.files) == 5
    for f in plan.files:
        assert f.kind == "image" and len(f.sha256) == 64
        for r in f.regions:
            assert r.raw_box is not None and r.score is not None and r.detector == "centerface"
            # the painted box contains the detector's box (margin added, never removed)
            assert r.box[0] <= r.raw_box[0] and r.box[1] <= r.raw_box[1]
            assert r.box[2] >= r.raw_box[2] and r.box[3] >= r.raw_box[3]
            assert 0 <= r.box[0] < r.box[2] <= f.width and 0 <= r.box[1] < r.box[3] <= f.height


@pytest.mark.parametrize(("ext", "fmt"), FORMATS)
def test_every_format_round_trips(tmp_path: Path, ext: str, fmt: str) -> None:
    name = "2008_002506.jpg"
    with Image.open(data("dlib_faces", name)) as im:
        im.convert("RGB").save(tmp_path / f"photo.{ext}", format=fmt, **({"quality": 95} if fmt != "BMP" else {}))
    assert main(["run", str(tmp_path / f"photo.{ext}")]) == 0
    out = tmp_path / f"photo.unseen.{ext}"
    with Image.open(out) as im:
        assert im.format == fmt
        assert im.size == (500, 375)
    before, after = rgb(tmp_path / f"photo.{ext}"), rgb(out)
    for box in faces(name):
        assert face_is_gone(before, after, box), f"{fmt}: face {box} still visible"


@pytest.mark.parametrize("scale", [1 / 255, 257.0])  # floating point 0..1, and 16-bit samples
def test_high_depth_greyscale_is_read_as_the_photo_it_is(tmp_path: Path, scale: float) -> None:
    """A scientific TIFF (32-bit float in 0..1) or a 16-bit one is made 8-bit by scaling, not by
    clipping: the faces are found and painted, and the rest of the picture is still there."""
    name = "2008_002506.jpg"
    with Image.open(data("dlib_faces", name)) as im:
        grey = np.asarray(im.convert("L"), np.float64)
    src = tmp_path / "deep.tif"
    Image.fromarray((grey * scale).astype(np.float32 if scale < 1 else np.uint16)).save(src)
    with Image.open(src) as im:
        assert im.mode == ("F" if scale < 1 else "I;16")
    assert main(["run", str(src)]) == 0
    before = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    after = rgb(tmp_path / "deep.unseen.tif")
    for box in faces(name):
        assert face_is_gone(before, after, box), f"face {box} still visible"
    assert np.median(np.abs(after[..., 0].astype(float) - grey)) < 2  # not a black (or white) picture


def test_a_cut_out_keeps_no_face_outline_in_its_transparency(tmp_path: Path) -> None:
    """A portrait cut out of its background (transparent PNG) carries the face's outline in its
    alpha channel: painted regions come out opaque, so no outline survives there, while the
    transparency elsewhere is kept."""
    name = "2008_002506.jpg"
    with Image.open(data("dlib_faces", name)) as im:
        rgba = im.convert("RGBA")
    alpha = np.zeros((rgba.height, rgba.width), np.uint8)
    outlines = []
    for x1, y1, x2, y2 in faces(name):  # an ellipse per face: the cut-out's outline
        yy, xx = np.ogrid[: rgba.height, : rgba.width]
        inside = ((xx - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2 + ((yy - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 <= 1
        alpha[inside] = 255
        outlines.append(inside)
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "cutout.png")
    assert main(["run", str(tmp_path / "cutout.png")]) == 0
    with Image.open(tmp_path / "cutout.unseen.png") as out:
        assert out.mode == "RGBA"
        kept = np.asarray(out.getchannel("A"))
    for box, inside in zip(faces(name), outlines, strict=True):
        edge = ndimage.binary_dilation(inside, iterations=2) & ~inside  # where the outline shows
        assert (kept[edge] == 255).all(), f"face {box}: its outline is still in the alpha"
    assert (kept == 0).mean() > 0.5  # the background stays transparent


def test_exif_orientation_is_applied_and_output_is_upright(tmp_path: Path) -> None:
    """A phone photo stored sideways with Orientation=6 comes out upright, faces found upright."""
    name = "2008_002506.jpg"
    upright = rgb(data("dlib_faces", name))
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # what a sensor writes
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    assert main(["run", str(tmp_path / "phone.jpg"), "-o", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "phone.jpg") as im:
        assert im.size == (500, 375)
        assert 0x0112 not in im.getexif()
        after = np.asarray(im.convert("RGB"))
    for box in faces(name):
        assert face_is_gone(upright, after, box)


def test_edited_plan_is_what_apply_renders(tmp_path: Path) -> None:
    name = "2008_002506.jpg"
    shutil.copy(data("dlib_faces", name), tmp_path / name)
    plan_path = tmp_path / "plan.json"
    assert main(["scan", str(tmp_path / name), "--plan", str(plan_path)]) == 0
    raw = json.loads(plan_path.read_text())
    regions = raw["files"][0]["regions"]
    assert len(regions) >= 3
    kept = [(int(r["raw_box"][0]), int(r["raw_box"][1]), int(r["raw_box"][2]), int(r["raw_box"][3])) for r in regions]
    raw["files"][0]["regions"] = regions[1:]  # a reviewer removed one region
    plan_path.write_text(json.dumps(raw))
    assert main(["apply", str(plan_path), "-o", str(tmp_path / "out")]) == 0
    before, after = rgb(tmp_path / name), rgb(tmp_path / "out" / name)
    assert not face_is_gone(before, after, kept[0])
    assert all(face_is_gone(before, after, b) for b in kept[1:])


def test_photo_stage_alone_scans_and_renders_what_run_writes(tmp_path: Path, detector) -> None:
    """unseen.photo is the whole photo path: its scan finds every hand-marked face, and its
    render of that plan entry writes the bytes `run` writes, each face gone."""
    from unseen import photo
    from unseen.inputs import sha256
    from unseen.options import Options
    from unseen.pipeline import run_file

    name = "2008_002506.jpg"
    src = data("dlib_faces", name)
    media = photo.scan(src, name, sha256(src), detector, Options())
    assert media.kind == "image" and media.faces >= len(faces(name)) >= 3
    photo.render(src, media, tmp_path / "stage.jpg", Options())
    _, written = run_file(src, name, src.parent, tmp_path / "run", detector, Options())
    assert (tmp_path / "stage.jpg").read_bytes() == written.read_bytes()
    assert all(face_is_gone(rgb(src), rgb(written), box) for box in faces(name))


@pytest.mark.parametrize("method", ["fill", "solid", "mosaic", "blur"])
def test_every_method_changes_the_face(tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every method changes every face; the two a model can partly undo say so when chosen."""
    name = "2008_002506.jpg"
    shutil.copy(data("dlib_faces", name), tmp_path / name)
    assert main(["run", str(tmp_path / name), "--method", method, "-o", str(tmp_path / "out")]) == 0
    before, after = rgb(tmp_path / name).astype(float), rgb(tmp_path / "out" / name).astype(float)
    for x1, y1, x2, y2 in faces(name):
        assert np.abs(before[y1:y2, x1:x2] - after[y1:y2, x1:x2]).mean() > 15
    warned = "trained models can partly undo" in capsys.readouterr().err
    assert warned == (method in ("mosaic", "blur"))


def test_blur_and_mosaic_help_warns_they_can_be_undone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "can partly undo blur and mosaic" in text


def test_camera_raw_is_left_out_not_reduced_to_its_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A DNG is a TIFF whose first image is a small preview: read by its content, it would be
    written out as that thumbnail (faces too small to find) under the RAW's name."""
    src = tmp_path / "in"
    src.mkdir()
    with Image.open(data("dlib_faces", "2008_002506.jpg")) as im:
        im.reduce(4).save(src / "IMG_0001.DNG", format="TIFF")  # as a RAW's preview IFD reads
    assert main(["run", str(src), "-o", str(tmp_path / "out"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == [] and result["left_out"] == ["IMG_0001.DNG"]
    assert main(["run", str(src / "IMG_0001.DNG"), "-o", str(tmp_path / "out"), "--json"]) == 1
    (failed,) = json.loads(capsys.readouterr().out)["files"]
    assert "camera RAW" in failed["error"] and not (tmp_path / "out" / "IMG_0001.DNG").exists()


def test_bad_files_fail_cleanly_and_the_batch_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(data("dlib_faces", "2008_002506.jpg"), src / "good.jpg")
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.jpg").write_text("not an image at all")
    good = data("dlib_faces", "2008_002506.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 3])
    with Image.open(data("dlib_faces", "2008_002506.jpg")) as im:
        im.save(src / "lies.jpg", format="PNG")  # PNG content behind a .jpg name
    shutil.copy(data("dirty", "malformed", "png_decompression_dos.png"), src / "bomb.png")
    out = tmp_path / "out"
    code = main(["run", str(src), "-o", str(out), "--json"])
    assert code == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    errors = {f["path"]: f["error"] for f in result["files"] if f["error"]}
    assert set(errors) == {"empty.jpg", "text.jpg", "truncated.jpg", "lies.jpg", "bomb.png"}
    for name, message in errors.items():
        assert name in message and "\n" not in message
    written = [p.name for p in out.rglob("*") if p.is_file()]  # the resume state is kept elsewhere
    assert written == ["good.jpg"]
    assert "rename it" in errors["lies.jpg"]
    assert all(line.startswith("error: ") for line in captured.err.strip().splitlines() if "error" in line)


def test_folded_centerface_gives_the_shipped_models_heatmap() -> None:
    """unseen drops the weight tensors from the graph inputs of the shipped CenterFace so that
    onnxruntime folds them (2-3x faster): the heatmap must stay that of the shipped file."""
    import onnx
    import onnxruntime as ort
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    from unseen.detect.centerface import _session
    from unseen.models import CENTERFACE

    shipped = onnx.load_from_string(CENTERFACE.path.read_bytes())
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in shipped.graph.input}
    dims["input.1"] = ["B", 3, "H", "W"]
    outs = {k: ["B", c, "h", "w"] for k, c in {"537": 1, "538": 2, "539": 2, "540": 10}.items()}
    plain = update_inputs_outputs_dims(shipped, dims, outs).SerializeToString()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    reference = ort.InferenceSession(plain, opts, providers=["CPUExecutionProvider"])
    src = data("widerface", "images", "2--Demonstration", "2_Demonstration_Political_Rally_2_83.jpg")
    rgb = np.asarray(Image.open(src).convert("RGB"))[:480, :640]
    blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None].astype(np.float32))
    want = reference.run(None, {"input.1": blob})[0]
    got = _session(1).run(None, {"input.1": blob})[0]
    assert want.max() > 0.5  # faces in the crop, so the comparison means something
    assert np.abs(got - want).max() < 1e-3


def test_int8_centerface_finds_the_faces_the_float_model_finds() -> None:
    """Video runs the int8 copy of CenterFace at threshold 0.13: on a real crowd photo scaled as
    a 1080p frame is for detection, every face the float model is sure of (score >= 0.5) is
    found again, in the same place."""
    import cv2

    from unseen.detect.base import iou_matrix
    from unseen.detect.centerface import CenterFace, _int8_bytes, _session

    assert _int8_bytes() is not None, "the int8 model could not be built from the shipped ranges"

    src = data("widerface", "images", "2--Demonstration", "2_Demonstration_Political_Rally_2_83.jpg")
    rgb = np.asarray(Image.open(src).convert("RGB"))
    small = np.ascontiguousarray(cv2.resize(rgb, None, fx=2 / 3, fy=2 / 3, interpolation=cv2.INTER_AREA))
    sure = CenterFace(0.5, 1).detect(small)
    int8 = CenterFace(0.13, 1)
    int8.session = _session(1, True)  # the int8 model itself, whatever this CPU would choose
    found = int8.detect(small)
    assert len(sure) >= 5
    assert (iou_matrix(sure.boxes, found.boxes).max(axis=1) >= 0.5).all()


def test_int8_centerface_runs_only_where_the_cpu_makes_it_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without int8 dot-product instructions int8 convolutions are slower (and can saturate), so
    asking for int8 there gets the float model."""
    import unseen.detect.centerface as cf

    monkeypatch.setattr(cf, "int8_is_fast", lambda: False)
    det = cf.CenterFace(0.13, 1, int8=True)
    assert not det.int8 and det.session is cf._session(1, False, False)


def test_int8_model_is_built_once_and_kept_between_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building it took 1-2.5 s in every process; the next process reads it from the cache
    folder, and a damaged cached copy is built again rather than used."""
    import unseen.detect.centerface as cf

    built = cf._int8_bytes()
    assert built is not None
    monkeypatch.setenv("UNSEEN_CACHE_DIR", str(tmp_path / "cache"))
    cf._int8_bytes.cache_clear()  # as a new process
    try:
        assert cf._int8_bytes() == built
        [kept] = (tmp_path / "cache").iterdir()
        assert kept.read_bytes() == built

        cf._int8_bytes.cache_clear()
        monkeypatch.setattr(cf, "quantize", lambda *a: pytest.fail("built again although it was kept"))
        assert cf._int8_bytes() == built

        kept.write_bytes(built[: len(built) // 2])  # a torn copy (disk full, killed writer)
        cf._int8_bytes.cache_clear()
        monkeypatch.setattr(cf, "quantize", lambda *a: built)
        assert cf._int8_bytes() == built and kept.read_bytes() == built

        (tmp_path / "a file").write_text("")  # a cache folder that cannot be made costs time only
        monkeypatch.setenv("UNSEEN_CACHE_DIR", str(tmp_path / "a file" / "cache"))
        cf._int8_bytes.cache_clear()
        assert cf._int8_bytes() == built
    finally:
        cf._int8_bytes.cache_clear()


def test_overlapping_passes_merge_into_a_box_that_covers_each_confident_one() -> None:
    from unseen.detect.base import Detections, nms

    boxes = np.array([[100, 100, 200, 220], [105, 120, 205, 250], [80, 80, 210, 250]], np.float32)
    dets = Detections(boxes, np.array([0.9, 0.6, 0.3], np.float32), "centerface")
    merged = nms(dets, 0.4, union=0.5)
    assert len(merged) == 1 and merged.scores[0] == pytest.approx(0.9)
    # the 0.6 box (chin lower) is inside; the 0.3 box, under half the top score, is not
    assert merged.boxes[0].tolist() == [100, 100, 205, 250]
    assert nms(dets, 0.4).boxes[0].tolist() == [100, 100, 200, 220]


def test_merging_a_crowd_compares_each_box_with_every_box_that_overlaps_it() -> None:
    """nms looks for a survivor's cluster only among boxes of each width class whose left edge
    allows an overlap; on a real crowd's thousands of candidates it must give exactly what
    comparing every box with every other gives."""
    from unseen.detect.base import Detections, iou_matrix, nms
    from unseen.detect.centerface import CenterFace
    from unseen.detect.multiscale import MultiScale

    def every_pair(dets: Detections, iou: float, union: float) -> np.ndarray:
        order = np.argsort(-dets.scores)
        boxes, scores = dets.boxes[order], dets.scores[order]
        suppressed, kept = np.zeros(len(boxes), bool), []
        for i in range(len(boxes)):
            if not suppressed[i]:
                cluster = ~suppressed & (iou_matrix(boxes[i : i + 1], boxes)[0] > iou)
                cluster[i] = True
                part = boxes[cluster & (scores >= union * scores[i])]
                kept.append(np.concatenate([part[:, :2].min(0), part[:, 2:].max(0)]))
                suppressed |= cluster
        return np.array(kept, np.float32)

    src = data("widerface", "images", "2--Demonstration", "2_Demonstration_Political_Rally_2_83.jpg")
    found = MultiScale(CenterFace(0.05, 1), (0.5, 1.0, 1.75), 1280).candidates(rgb(src))
    assert len(found) > 1000
    assert np.array_equal(nms(found, 0.4, 0.5).boxes, every_pair(found, 0.4, 0.5))


def test_a_pass_that_finds_nothing_keeps_the_other_passes_landmarks() -> None:
    from unseen.detect.base import Detections

    one = Detections(
        np.array([[0, 0, 10, 10]], np.float32),
        np.array([0.9], np.float32),
        "c",
        {"landmarks": np.ones((1, 10), np.float32)},
    )
    both = Detections.concat([Detections.empty("c"), one], "c")
    assert both.data["landmarks"].shape == (1, 10)


def test_the_crowd_pass_looks_near_faces_only_and_finds_every_sure_face_there() -> None:
    """The 1.75x pass, most of a photo's time, runs only around what the coarser passes found;
    on a marching band with 17 faces under 16 px it looks at under half the picture, and still
    finds every face that passes over the whole picture are sure of."""
    from unseen.detect.base import iou_matrix
    from unseen.detect.presets import make_detector

    photo = rgb(data("widerface", "images", "0--Parade", "0_Parade_marchingband_1_881.jpg"))
    h, w = photo.shape[:2]
    gated, whole = make_detector(), make_detector()
    whole.gated = False
    found = whole.candidates(photo)
    rects = gated.near([found.select(found.data["pass"] < 2)], 1.75, w, h)
    assert rects is not None and sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in rects) < 0.5 * w * h
    sure = whole.detect(photo)
    sure = sure.select(sure.scores >= 0.3)
    got = gated.detect(photo)
    assert len(sure) >= 10
    assert (iou_matrix(sure.boxes, got.boxes).max(axis=1) >= 0.5).all()
    assert not make_detector("default", verified=False).gated  # the audit looks everywhere


def test_candidates_found_once_at_a_low_threshold_merge_as_a_detector_at_a_higher_one() -> None:
    """benchmarks/widerface_frontier.py scores many thresholds on one set of candidates: that
    is only valid if filtering them gives exactly what a detector built with that threshold
    finds, on a real crowd photo (hundreds of candidates, three passes, union merging)."""
    from unseen.detect.centerface import CenterFace
    from unseen.detect.multiscale import MultiScale

    src = data("widerface", "images", "2--Demonstration", "2_Demonstration_Political_Rally_2_83.jpg")
    rgb = np.asarray(Image.open(src).convert("RGB"))
    h, w = rgb.shape[:2]
    found = MultiScale(CenterFace(0.05, 1), (0.5, 1.0, 1.75), 1280).candidates(rgb)
    direct = MultiScale(CenterFace(0.12, 1), (0.5, 1.0, 1.75), 1280, large_threshold=0.2, union=0.5)
    want = direct.detect(rgb)
    got = direct.merge(found.select(found.scores > 0.12), w, h)
    assert len(found) > 2 * len(want) > 20
    assert np.array_equal(got.boxes, want.boxes) and np.array_equal(got.scores, want.scores)


def test_low_scoring_boxes_get_wider_margins() -> None:
    from unseen.detect.base import Detections
    from unseen.regions import PHOTO, regions_for

    DEFAULT_MARGIN = PHOTO.margin

    raw = np.array([[400, 400, 500, 500]] * 2, np.float32)
    sure, unsure = regions_for(Detections(raw, np.array([1.0, 0.1], np.float32), "centerface"), 1000, 1000)
    assert sure.box == (
        400 - 100 * DEFAULT_MARGIN,
        400 - 150 * DEFAULT_MARGIN,
        500 + 100 * DEFAULT_MARGIN,
        500 + 100 * DEFAULT_MARGIN,
    )
    grown = DEFAULT_MARGIN + 0.9 * PHOTO.low
    assert unsure.box == pytest.approx(
        (400 - 100 * grown, 400 - 150 * grown, 500 + 100 * grown, 500 + 100 * grown), abs=0.1
    )


def test_fill_takes_no_colour_from_a_face_that_fills_its_crop(tmp_path: Path) -> None:
    """On a tight crop (LFW) the ring around the face is mostly outside the image: the fill is
    the neutral colour, not the skin and hair colour at the crop's edge. With room around the
    face (the same crop padded with a background), the ring's colour is used."""
    from unseen.obscure import NEUTRAL

    src = data("lfw", "images", "Aaron_Sorkin", "Aaron_Sorkin_0001.jpg")
    crop = tmp_path / "crop.png"
    Image.open(src).convert("RGB").save(crop)
    padded = tmp_path / "padded.png"
    canvas = Image.new("RGB", (336, 336), (30, 140, 200))
    canvas.paste(Image.open(src).convert("RGB"), (112, 112))
    canvas.save(padded)
    out = tmp_path / "out"
    assert main(["run", str(crop), str(padded), "-o", str(out)]) == 0
    tight = rgb(out / "crop.png")
    assert tuple(tight[56, 56]) == NEUTRAL
    roomy = rgb(out / "padded.png")
    assert tuple(roomy[168, 168]) != NEUTRAL
    assert np.abs(roomy[168, 168].astype(int) - (30, 140, 200)).max() < 60  # mostly the background


def test_fill_keeps_the_ring_colour_for_a_face_ringed_by_other_faces() -> None:
    """In a crowd the ring around a face is mostly other (painted) faces: that is not a tight
    crop, so the face still gets the colour of the few free pixels around it, not NEUTRAL."""
    from unseen.obscure import NEUTRAL, obscure
    from unseen.plan import Region

    img = rgb(data("dlib_faces", "2008_002470.jpg"))
    centre = Region((200.0, 100.0, 260.0, 160.0), "box")
    # eight neighbours 2 px away from it, covering nearly all of its ring
    ring = [
        Region((200.0 + dx * 62, 100.0 + dy * 62, 260.0 + dx * 62, 160.0 + dy * 62), "box")
        for dx, dy in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)]
    ]
    out = obscure(img, [centre, *ring], "fill")
    assert tuple(out[130, 230]) != NEUTRAL


@pytest.mark.parametrize("name", ["xiaomi.heic", "sample_MP.heic"])
def test_heic_is_written_at_its_own_quality_not_larger(tmp_path: Path, name: str) -> None:
    """A phone HEIC came out 2-6x its size (quality 90) after 30-70 s: it is written at the
    quality class the phone used (about as many bits per pixel) with a fast encoder setting,
    and still looks the same away from the faces."""
    import time

    from unseen.media import image

    src = data("dirty", "heif", name)
    t0 = time.perf_counter()
    assert main(["run", str(src), "-o", str(tmp_path / "out")]) == 0
    seconds = time.perf_counter() - t0
    out = tmp_path / "out" / name
    assert out.stat().st_size <= 1.25 * src.stat().st_size, f"{out.stat().st_size:,} bytes from {src.stat().st_size:,}"
    assert seconds < 60  # x265 at its default preset took 12 s to encode the 5 MP photo on 2 cores; now ~2 s
    pic = image.read(src)
    again = image.decode(image.encode(pic.rgb, None, pic.format, pic.bits_per_pixel), ".heic", "output").rgb
    psnr = 10 * np.log10(255.0**2 / np.mean((again.astype(np.float64) - pic.rgb) ** 2))
    assert psnr > 40, psnr
