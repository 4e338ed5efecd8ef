"""The review page's server: a person checks and corrects the plan before anything is published.

Security model (the page shows unpublished faces, so it must not leak them):
- bound to 127.0.0.1 only; every request must carry the random token as the first path segment
  (`/TOKEN/...`), compared in constant time; requests with another Host (DNS rebinding), a
  cross-site `Sec-Fetch-Site` or a foreign `Origin` are refused;
- the browser never names a file path: media are addressed by their index in the plan, and every
  path is resolved and checked to stay inside the reviewed folder;
- static files come only from `review/static/` by exact name; a strict Content-Security-Policy
  forbids any third-party script, style, image or connection;
- edits are untrusted: each one is validated with `plan.from_json` before it replaces anything,
  and saved atomically at once (a refresh or a crash loses nothing).
"""

from __future__ import annotations

import bisect
import copy
import hmac
import io
import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from unseen import plan as plan_mod
from unseen.errors import PlanError, UnseenError
from unseen.guard import Failed, guarded
from unseen.media import image
from unseen.media.video import at_size, open_video, video_stream
from unseen.obscure import obscure
from unseen.pipeline import Options, Outcome, apply_file, discover, scan_file, sha256
from unseen.plan import MediaPlan, Plan, Region, Settings

STATIC = Path(__file__).with_name("static")
STATIC_NAME = re.compile(r"^[a-z0-9_-]{1,64}\.(js|css|png|svg)$")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_BODY = 64 << 20
JPEG_QUALITY = 90
BYE_GRACE_S = 8.0  # after the page closes, wait this long for a refresh before stopping
IDLE_STOP_S = 15 * 60.0  # stop when no page has asked anything for this long


def default_plan_path(target: Path) -> Path:
    """Where the plan of a reviewed folder (or single file) lives: a hidden `.unseen/` folder
    beside the media, so the review can be resumed later and never mixes with outputs."""
    target = Path(os.path.abspath(target))
    if target.is_dir():
        return target / ".unseen" / "plan.json"
    return target.parent / ".unseen" / f"{target.name}.plan.json"


def default_output(target: Path) -> Path:
    """Outputs go to a sibling folder `NAME-unseen`, outside the reviewed folder, so that a later
    review never takes published files for inputs."""
    target = Path(os.path.abspath(target))
    folder = target if target.is_dir() else target.parent
    return folder.parent / f"{folder.name}-unseen"


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


@dataclass
class Job:
    """Progress of the export (or of the initial scan): what the page's progress bar shows."""

    state: str = "idle"  # idle | running | done | failed
    done: int = 0
    total: int = 0
    current: str = ""
    fraction: float = 0.0
    message: str = ""
    output: str = ""
    audit: str = ""
    failed: list[dict[str, str]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Frames:
    """Random access to the frames of one video by index (0.. in presentation order, as the plan
    numbers them). Packet timestamps are indexed once without decoding; a request seeks to the
    keyframe before it and decodes forward, so stepping is cheap and jumping stays exact."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.container = open_video(path)
        self.stream = video_stream(self.container, path)
        cc = self.stream.codec_context
        self.size = (cc.width, cc.height)  # the plan's (before rotation), if the size changes midway
        pts = [p.pts for p in self.container.demux(self.stream) if p.size and p.pts is not None]
        self.pts = sorted(pts)
        self.container.seek(0)
        self._iter: Any = None
        self._next = -1

    def get(self, index: int) -> np.ndarray:
        """The upright RGB frame `index` (rotation metadata applied)."""
        with self.lock:
            if not 0 <= index < len(self.pts):
                raise UnseenError(f"{self.path.name}: no frame {index}")
            if not (self._iter is not None and self._next <= index <= self._next + 60):
                self.container.seek(self.pts[index], stream=self.stream, backward=True, any_frame=False)
                self._iter = self.container.decode(self.stream)
                self._next = -1
            for frame in self._iter:
                i = bisect.bisect_left(self.pts, frame.pts) if frame.pts is not None else self._next
                self._next = i + 1
                if i == index:
                    turns = round((frame.rotation or 0) / 90) % 4
                    rgb = at_size(frame, self.size).to_ndarray(format="rgb24")
                    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
                if i > index:
                    break
            self._iter = None
            raise UnseenError(f"{self.path.name}: frame {index} could not be decoded")

    def close(self) -> None:
        self.container.close()


class Review:
    """The state behind the page: the plan being corrected, per-file review status, jobs.

    One lock guards the plan; every change is saved before the request that made it returns."""

    def __init__(
        self,
        target: Path,
        plan_path: Path | None = None,
        output: Path | None = None,
        opts: Options | None = None,
        detector_factory: Callable[[str], Any] | None = None,
    ) -> None:
        target = Path(os.path.abspath(target))
        if not target.exists():
            raise UnseenError(f"{target}: no such file or folder")
        self.root = target if target.is_dir() else target.parent
        self.only = None if target.is_dir() else target
        self.plan_path = Path(os.path.abspath(plan_path or default_plan_path(target)))
        self.status_path = self.plan_path.with_name(self.plan_path.stem + ".review.json")
        self.output = Path(os.path.abspath(output or default_output(target)))
        if self.output == self.root or self.output.is_relative_to(self.root):
            raise UnseenError(
                f"{self.output}: the output folder must be outside the reviewed folder {self.root}; "
                "choose another with -o"
            )
        self.opts = opts or Options()
        self.detector_factory = detector_factory
        self.lock = threading.RLock()
        self.plan = self._load_plan()
        self.status: dict[str, dict[str, Any]] = self._load_status()
        self.pending: list[str] = []
        self.scan_failed: dict[str, str] = {}
        self.scan_job = Job()
        self.export_job = Job()
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._frames: dict[str, Frames] = {}
        self.revision = 0

    # ---- plan and status on disk -------------------------------------------------------------

    def _load_plan(self) -> Plan:
        if self.plan_path.exists():
            plan = plan_mod.load(self.plan_path)
            if Path(plan.root) != self.root:
                plan.root = str(self.root)  # the folder was moved; entries are relative to it
            return plan
        return Plan(root=str(self.root), settings=Settings(method=self.opts.method, detector=self.opts.detector))

    def _load_status(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, dict)}

    def save(self) -> None:
        """Write plan and status atomically (called under the lock after every change)."""
        self.plan_path.parent.mkdir(parents=True, exist_ok=True)
        self.plan.save(self.plan_path)
        plan_mod.write_text_atomic(self.status_path, json.dumps(self.status, indent=1))

    # ---- scanning ----------------------------------------------------------------------------

    def find_pending(self) -> list[Path]:
        """Media under the reviewed folder that have no plan entry yet, or whose bytes changed
        since they were planned (their old entry is dropped: it would be refused at export)."""
        files = discover([self.only or self.root], self.opts.follow_symlinks).files
        planned = {m.path: m for m in self.plan.files}
        todo = []
        for p in files:
            rel = p.relative_to(self.root).as_posix()
            old = planned.get(rel)
            if old is not None:
                try:
                    same = sha256(p) == old.sha256
                except OSError:
                    same = False
                if same:
                    continue
                with self.lock:
                    self.plan.files.remove(old)
                    self.status.pop(rel, None)
            todo.append(p)
        if self.only is not None:
            with self.lock:
                keep = self.only.relative_to(self.root).as_posix()
                self.plan.files = [m for m in self.plan.files if m.path == keep]
        self.pending = [p.relative_to(self.root).as_posix() for p in todo]
        return todo

    def scan_pending(self) -> None:
        """Detect faces in every file that has no plan yet; each file joins the page when done."""
        todo = self.find_pending()
        job = self.scan_job
        job.total, job.done, job.state = len(todo), 0, "running" if todo else "done"
        if not todo:
            with self.lock:
                self.save()
            return
        from unseen.detect.presets import make_detector

        factory = self.detector_factory or make_detector
        detector = factory(self.opts.detector)
        for p in todo:
            rel = p.relative_to(self.root).as_posix()
            job.current, job.fraction = rel, 0.0

            def progress(_: str, fraction: float, frames: int) -> None:
                job.fraction = fraction

            media = guarded(rel, lambda: scan_file(p, rel, detector, self.opts, progress))  # noqa: B023
            if isinstance(media, Failed):
                self.scan_failed[rel] = media.error
            else:
                with self.lock:
                    self.plan.files.append(media)
                    self.plan.files.sort(key=lambda m: m.path)
                    self.revision += 1
                    self.save()
            job.done += 1
            self.pending = [x for x in self.pending if x != rel]
        job.state, job.current = "done", ""
        with self.lock:
            self.save()

    # ---- what the page reads -----------------------------------------------------------------

    def media(self, index: int) -> MediaPlan:
        with self.lock:
            if not 0 <= index < len(self.plan.files):
                raise KeyError(index)
            return self.plan.files[index]

    def source(self, media: MediaPlan) -> Path:
        """The input file of a plan entry, refused unless it resolves inside the reviewed folder."""
        path = (self.root / media.path).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            raise PermissionError(media.path)
        return path

    def file_state(self, index: int, media: MediaPlan) -> dict[str, Any]:
        st = self.status.get(media.path, {})
        return {
            "index": index,
            "path": media.path,
            "kind": media.kind,
            "width": media.width,
            "height": media.height,
            "frames": media.frames,
            "fps": media.fps,
            "regions": len(media.regions),
            "status": "exported" if st.get("exported") else "reviewed" if st.get("reviewed") else "not reviewed",
            "audit": st.get("audit"),
        }

    def state(self) -> dict[str, Any]:
        with self.lock:
            files = [self.file_state(i, m) for i, m in enumerate(self.plan.files)]
            return {
                "root": str(self.root),
                "plan": str(self.plan_path),
                "output": str(self.output),
                "method": self.plan.settings.method,
                "files": files,
                "pending": list(self.pending),
                "failed": [{"path": k, "error": v} for k, v in sorted(self.scan_failed.items())],
                "scan": self.scan_job.public(),
                "export": self.export_job.public(),
                "revision": self.revision,
            }

    def detail(self, index: int) -> dict[str, Any]:
        with self.lock:
            media = self.media(index)
            out = self.file_state(index, media)
            entry = Plan(root=self.plan.root, files=[media]).to_json()["files"][0]
            out["plan"] = {"regions": entry["regions"], "whole_frames": entry.get("whole_frames", [])}
            return out

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Any], keep: int = 48) -> Any:
        with self.lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self.lock:
            self._cache[key] = value
            while len(self._cache) > keep:
                self._cache.popitem(last=False)
        return value

    def _rgb(self, media: MediaPlan, frame: int | None) -> np.ndarray:
        path = self.source(media)
        if media.kind == "image":
            return self._cached(
                ("rgb", media.path, media.sha256), lambda: image.read(path, self.opts.max_pixels).rgb, 4
            )
        if frame is None:
            frame = 0
        with self.lock:
            frames = self._frames.get(media.path)
            if frames is None:
                frames = self._frames[media.path] = Frames(path)
        return self._cached(("frame", media.path, frame), lambda: frames.get(frame), 8)

    def picture(self, index: int, published: bool, frame: int | None) -> bytes:
        """The upright picture as JPEG: the original, or rendered exactly as `apply` would."""
        media = self.media(index)
        frame = max(0, min(int(frame or 0), (media.frames or 1) - 1)) if media.kind == "video" else None
        rgb = self._rgb(media, frame)
        if not published:
            return self._cached(("jpeg", media.path, media.sha256, frame), lambda: _jpeg(rgb))
        with self.lock:
            regions = list(media.regions_in_frame(frame))
            whole = frame is not None and any(a <= frame <= b for a, b in media.whole_frames)
            method = self.plan.settings.method
        if whole:  # as unseen.video renders it: the whole picture is one more region
            regions.insert(0, Region(box=(0.0, 0.0, float(media.width), float(media.height)), shape="box"))
        return _jpeg(obscure(rgb, regions, method))

    # ---- edits -------------------------------------------------------------------------------

    def update(self, index: int, body: Any) -> dict[str, Any]:
        """Replace a file's regions (and whole-frame spans) with the page's, after validating them
        exactly as a plan file is validated. Only regions, spans and the reviewed flag can change."""
        if not isinstance(body, dict):
            raise PlanError("edit must be a JSON object")
        with self.lock:
            media = self.media(index)
            entry = Plan(root=self.plan.root, files=[media]).to_json()
            f = entry["files"][0]
            if "regions" in body:
                f["regions"] = body["regions"]
            if "whole_frames" in body and media.kind == "video":
                f["whole_frames"] = body["whole_frames"]
            checked = plan_mod.from_json(entry, source=f"edit of {media.path}").files[0]
            changed = checked.regions != media.regions or checked.whole_frames != media.whole_frames
            media.regions, media.whole_frames = checked.regions, checked.whole_frames
            st = self.status.setdefault(media.path, {})
            if changed:
                st["exported"] = False
                st["audit"] = None
            if "reviewed" in body:
                st["reviewed"] = bool(body["reviewed"])
            self.revision += 1
            self.save()
            return self.detail(index)

    # ---- export ------------------------------------------------------------------------------

    def export(self) -> bool:
        """Start rendering every planned file into the output folder; False if one is running."""
        with self.lock:
            if self.export_job.state == "running" or self.scan_job.state == "running":
                return False
            plan = copy.deepcopy(self.plan)
            self.export_job = Job(state="running", total=len(plan.files), output=str(self.output))
        threading.Thread(target=self._export, args=(plan,), daemon=True, name="unseen-export").start()
        return True

    def _export(self, plan: Plan) -> None:
        job = self.export_job
        opts = copy.copy(self.opts)
        opts.method = plan.settings.method
        outcomes: list[Outcome] = []
        try:
            for media in plan.files:
                job.current, job.fraction = media.path, 0.0

                def progress(_: str, fraction: float, frames: int) -> None:
                    job.fraction = fraction

                dest = guarded(media.path, lambda: apply_file(plan, media, self.output, opts, progress))  # noqa: B023
                if isinstance(dest, Failed):
                    outcomes.append(Outcome(media.path, error=dest.error))
                    job.failed.append({"path": media.path, "error": dest.error})
                else:
                    outcomes.append(Outcome(media.path, str(dest), len(media.regions)))
                job.done += 1
            with self.lock:
                for o in outcomes:
                    st = self.status.setdefault(o.path, {})
                    st["exported"] = o.ok
                    st["output"] = o.output
                self.save()
            job.current = "audit"
            job.audit = self._audit(plan, outcomes)
            job.state = "failed" if job.failed else "done"
            job.message = f"{job.done - len(job.failed)} of {job.total} files written to {self.output}"
        except Exception as e:  # shown on the page; the server keeps running
            job.state, job.message = "failed", f"export stopped: {e}"
        job.current = ""

    def _audit(self, plan: Plan, outcomes: list[Outcome]) -> str:
        """Run the audit on the outputs when the audit module is installed; its verdict per file
        is stored in the review status so the file list shows it."""
        try:
            from unseen.review import audit_bridge
        except ImportError:  # pragma: no cover
            return "audit unavailable"
        try:
            results = audit_bridge.audit(plan, outcomes)
        except Exception as e:  # an audit problem must not hide that the files were written
            return f"audit failed: {e}"
        if results is None:
            return "audit unavailable"
        with self.lock:
            for path, verdict in results.items():
                self.status.setdefault(path, {})["audit"] = verdict
            self.save()
        risky = sorted(p for p, v in results.items() if v != "clear")
        return "clear" if not risky else "risk: " + ", ".join(risky)

    def close(self) -> None:
        for f in self._frames.values():
            f.close()


class ReviewServer(ThreadingHTTPServer):
    """One review, one token, 127.0.0.1 only."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, review: Review, port: int = 0, token: str | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.review = review
        self.token = token or secrets.token_urlsafe(24)
        self.last_seen = time.monotonic()
        self.bye_at: float | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def stop(self) -> None:
        """Stop serving from any thread (a request handler cannot call shutdown() itself)."""
        if not self._stopping:
            self._stopping = True
            threading.Thread(target=self.shutdown, daemon=True).start()

    def watch(self, bye_grace: float = BYE_GRACE_S, idle: float = IDLE_STOP_S) -> None:
        """Stop when the page was closed and not reopened, or nobody asked anything for long."""

        def loop() -> None:
            while not self._stopping:
                time.sleep(0.5)
                now = time.monotonic()
                if self.bye_at is not None and self.last_seen <= self.bye_at and now - self.bye_at > bye_grace:
                    self.stop()
                if now - self.last_seen > idle:
                    self.stop()

        threading.Thread(target=loop, daemon=True, name="unseen-watch").start()


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    _raw = b""
    server_version = "unseen-review"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the URL carries the token; never print it to logs

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_HEAD(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain")

    # ---- gatekeeping ---------------------------------------------------------------------------

    def _allowed_origin(self, method: str) -> bool:
        port = self.server.port
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if self.headers.get("Host", "") not in hosts:
            return False  # DNS rebinding: another site's name pointing at 127.0.0.1
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return False  # another origin embedding or fetching our pictures
        origin = self.headers.get("Origin")
        return not (origin is not None and origin not in {f"http://{h}" for h in hosts})

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            parts = url.path.split("/")
            token = parts[1] if len(parts) > 1 else ""
            if not hmac.compare_digest(token.encode(), self.server.token.encode()):
                self.close_connection = True
                return self._error(HTTPStatus.FORBIDDEN, "forbidden: open the address that `unseen review` printed")
            if not self._allowed_origin(method):
                self.close_connection = True
                return self._error(HTTPStatus.FORBIDDEN, "forbidden: cross-origin request refused")
            self._raw = b""
            if method != "GET":
                try:
                    self._raw = self._read_body()
                except ValueError as e:
                    self.close_connection = True
                    return self._error(HTTPStatus.BAD_REQUEST, str(e))
            self.server.last_seen = time.monotonic()
            rest = "/".join(parts[2:])
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if len(parts) == 2:
                return self._redirect(f"/{self.server.token}/")
            self._route(method, rest, query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, rest: str, query: dict[str, str]) -> None:
        review = self.server.review
        if method == "GET" and rest == "":
            return self._file(STATIC / "index.html")
        if method == "GET" and rest.startswith("static/"):
            name = rest[len("static/") :]
            if not STATIC_NAME.match(name) or not (STATIC / name).is_file():
                return self._error(HTTPStatus.NOT_FOUND, "not found")
            return self._file(STATIC / name)
        if not rest.startswith("api/"):
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        api = rest[4:]
        try:
            if method == "GET" and api == "state":
                return self._json(review.state())
            if method == "GET" and api in ("file", "picture"):
                index = self._index(query)
                if index is None:
                    return self._error(HTTPStatus.NOT_FOUND, "no such file in the plan")
                if api == "file":
                    return self._json(review.detail(index))
                frame = self._int(query.get("frame"))
                data = review.picture(index, query.get("published") == "1", frame)
                return self._send(HTTPStatus.OK, data, "image/jpeg", cache=False)
            if method in ("PUT", "POST") and api == "file":
                index = self._index(query)
                if index is None:
                    return self._error(HTTPStatus.NOT_FOUND, "no such file in the plan")
                body = self._body()
                return self._json(review.update(index, body))
            if method == "POST" and api == "export":
                started = review.export()
                return self._json({"started": started, "export": review.export_job.public()})
            if method == "POST" and api == "bye":
                self.server.bye_at = time.monotonic()
                self.server.last_seen = self.server.bye_at - 0.001
                return self._json({"ok": True})
            if method == "POST" and api == "quit":
                self._json({"ok": True})
                self.server.stop()
                return None
        except PlanError as e:
            return self._error(HTTPStatus.BAD_REQUEST, str(e))
        except PermissionError:
            return self._error(HTTPStatus.FORBIDDEN, "that file is outside the reviewed folder")
        except ValueError as e:
            return self._error(HTTPStatus.BAD_REQUEST, f"bad request: {e}")
        except UnseenError as e:
            return self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(e))
        return self._error(HTTPStatus.NOT_FOUND, "not found")

    # ---- helpers -----------------------------------------------------------------------------

    def _int(self, value: str | None) -> int | None:
        if value is None:
            return None
        if not re.fullmatch(r"\d{1,10}", value):
            raise ValueError(f"{value!r} is not a number")
        return int(value)

    def _index(self, query: dict[str, str]) -> int | None:
        i = self._int(query.get("i"))
        with self.server.review.lock:
            if i is None or i >= len(self.server.review.plan.files):
                return None
        return i

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            raise ValueError("the body must have a Content-Length of at most 64 MiB")
        return self.rfile.read(int(length)) if int(length) else b""

    def _body(self) -> Any:
        if self.headers.get_content_type() != "application/json":
            raise ValueError("the body must be application/json")
        try:
            return json.loads(self._raw or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise PlanError(f"edit is not valid JSON: {e}") from e

    def _headers(self, status: int, ctype: str, length: int, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")

    def _send(self, status: int, data: bytes, ctype: str, cache: bool = False) -> None:
        self._headers(status, ctype, len(data), cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, obj: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()

    def _file(self, path: Path) -> None:
        self._send(HTTPStatus.OK, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))


def start(review: Review, port: int = 0, token: str | None = None, scan: bool = True) -> ReviewServer:
    """Bind the server and start scanning in the background; the caller runs `serve_forever()`."""
    server = ReviewServer(review, port, token)
    if scan:
        threading.Thread(target=_scan_safely, args=(review,), daemon=True, name="unseen-scan").start()
    return server


def _scan_safely(review: Review) -> None:
    try:
        review.scan_pending()
    except Exception as e:  # the page shows it; the files already planned stay reviewable
        review.scan_job.state, review.scan_job.message = "failed", f"scan stopped: {e}"


__all__ = ["Review", "ReviewServer", "default_output", "default_plan_path", "start"]
