"""HTTP routes of the review page, where a person checks and corrects the plan before publishing.

Security model (the page shows unpublished faces, so it must not leak them):
- bound to 127.0.0.1 only; every request must carry the random token as the first path segment
  (`/TOKEN/...`), compared in constant time; requests with another Host (DNS rebinding), a
  cross-site `Sec-Fetch-Site` or a foreign `Origin` are refused;
- the browser never names a file path: media are addressed by their index in the plan, and every
  path is resolved and checked to stay inside the reviewed folder;
- static files come only from `review/static/` by exact name; a strict Content-Security-Policy
  forbids any third-party script, style, image or connection;
- edits are validated and saved by the review state (`review/state.py`); pictures come from
  `review/frames.py`. This module only routes requests.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import socketserver
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from unseen.errors import PlanError, UnseenError
from unseen.review.state import Review, StaleEdit

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
BYE_GRACE_S = 8.0  # after the page closes, wait this long for a refresh before stopping
IDLE_STOP_S = 15 * 60.0  # stop when no page has asked anything for this long


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
        self.visited = threading.Event()  # set by the first request that passes the token check
        self._stopping = False

    def server_bind(self) -> None:
        """HTTPServer's, less its `socket.getfqdn(host)`: a host-name look-up of 127.0.0.1 that
        asked nscd, and sent a DNS query where /etc/hosts does not name 127.0.0.1; the page never
        uses the name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.port

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

    def _allowed_origin(self, method: str, page: bool) -> bool:
        """`page`: the request is for the page itself (`/TOKEN/`), which a top-level navigation
        from elsewhere may open: the launcher file `unseen review` opens is a file:// page, so its
        redirect arrives cross-site. Nothing else (pictures, the API, frames) is served cross-site."""
        port = self.server.port
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if self.headers.get("Host", "") not in hosts:
            return False  # DNS rebinding: another site's name pointing at 127.0.0.1
        navigation = (
            page
            and method == "GET"
            and self.headers.get("Sec-Fetch-Mode") == "navigate"
            and self.headers.get("Sec-Fetch-Dest") == "document"
        )
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none") and not navigation:
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
            if not self._allowed_origin(method, len(parts) == 2 or url.path == f"/{token}/"):
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
            self.server.visited.set()
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
        except StaleEdit as e:
            return self._error(HTTPStatus.CONFLICT, str(e))
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


__all__ = ["ReviewServer", "start"]
