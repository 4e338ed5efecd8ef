"""`unseen review DIR`: check and correct the plan in the browser, then export."""

from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path
from typing import Any

from unseen import plan as plan_mod
from unseen.detect.presets import PRESETS
from unseen.limits import DEFAULT_MAX_PIXELS, arg_type
from unseen.obscure import METHODS, undo_warning
from unseen.options import Options

EPILOG = """examples:
  unseen review DCIM/                  scan what has no plan yet, open the page in the browser
  unseen review DCIM/ -o public/       export into public/ (default: DCIM-unseen/ beside DCIM/)
  unseen review clip.mp4               review one file
  unseen review DIR --no-browser       print the address (with its token) instead of opening it
  unseen review DIR --port 8765        fixed port (default: a free one)

The plan is kept in DIR/.unseen/plan.json (or --plan) and every edit is saved at once, so a review
can be closed and resumed. The page is served on 127.0.0.1 only, behind a random token, and makes
no request to any other site; the browser is given a private file that leads to the page, never
the address with its token (a command line is readable by every local user). If the browser cannot
open files in the temporary folder (a sandboxed browser), set TMPDIR or use --no-browser.
Keys: drag to add a region (Shift+drag or the centre grip moves one), Del delete, Ctrl+Z/Ctrl+Y undo/redo,
P published/original, +/- zoom, 0 fit, N/B next/previous file, R reviewed, ? all keys.
Stop with Ctrl+C or the page's Close button; closing the page stops it too."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "review",
        help="check and correct the plan in the browser, then export",
        description="Open a local page to check every planned region, fix what the detector missed, and export.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", type=Path, metavar="DIR_OR_FILE", help="the folder (or one file) to review")
    p.add_argument("--plan", type=Path, help="plan file (default: DIR/.unseen/plan.json); created if missing")
    p.add_argument("-o", "--output", type=Path, help="export folder (default: DIR-unseen beside DIR)")
    p.add_argument("--port", type=arg_type("port"), default=0, help="port on 127.0.0.1 (default: any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; print the address")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="detector for files that have no plan yet"
    )
    p.add_argument(
        "--margin",
        type=arg_type("margin"),
        default=None,
        help="grow a confident face box by this share per side (see unseen run --help)",
    )
    p.add_argument("--shape", choices=plan_mod.SHAPES, default=None, help="shape of detected regions")
    p.add_argument("--method", choices=list(METHODS), default="fill", help="how new plans paint faces")
    p.add_argument(
        "--max-pixels", type=arg_type("max_pixels"), default=DEFAULT_MAX_PIXELS, help="refuse images larger than this"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from unseen.review.server import start
    from unseen.review.state import Review

    opts = Options(
        detector=args.preset, margin=args.margin, shape=args.shape, method=args.method, max_pixels=args.max_pixels
    )
    if (warning := undo_warning(args.method)) is not None:
        print(warning, file=sys.stderr)
    review = Review(args.target, args.plan, args.output, opts)
    try:
        server = start(review, args.port)
    except OSError as e:
        print(f"unseen: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr)
        return 2
    print(f"reviewing {review.root}\nplan: {review.plan_path}\nexport to: {review.output}")
    print(f"open: {server.url}\n(stop with Ctrl+C or the page's Close button)", flush=True)
    launcher = None if args.no_browser else open_browser(server.url)
    if launcher is not None:
        threading.Thread(target=_forget, args=(launcher, server.visited), daemon=True).start()
    server.watch()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        review.close()
        if launcher is not None:
            shutil.rmtree(launcher.parent, ignore_errors=True)
    print(f"review stopped; plan saved in {review.plan_path}")
    return 0


LAUNCH_WAIT_S = 120.0  # the launcher file is removed when the page first loads, or after this long


def write_launcher(url: str) -> Path:
    """A page that sends the browser on to `url`, readable by this user only (0600, in a fresh
    0700 folder made by mkdtemp). The browser is given this file's name instead of `url`: a
    program's command line is readable by every local user (/proc/PID/cmdline), the token with it."""
    folder = Path(tempfile.mkdtemp(prefix="unseen-review-"))
    page = folder / "open.html"
    to = html.escape(url, quote=True)
    text = (
        "<!doctype html><meta charset=utf-8><meta name=referrer content=no-referrer>"
        f'<meta http-equiv=refresh content="0; url={to}"><title>unseen review</title>'
        f'<p>Opening the review page&hellip; <a href="{to}">open it</a> if nothing happens.</p>\n'
    )
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return page


def open_browser(url: str) -> Path:
    """Open the review page through a launcher file (see `write_launcher`); returns the file.
    In a thread: `webbrowser` waits for a $BROWSER command to exit, and a browser started that
    way runs until it is closed, while the page needs the server answering."""
    page = write_launcher(url)
    threading.Thread(target=webbrowser.open, args=(page.as_uri(),), daemon=True, name="unseen-browser").start()
    return page


def _forget(page: Path, visited: threading.Event) -> None:
    """Remove the launcher once the page has loaded (or nobody came): it holds the token."""
    visited.wait(LAUNCH_WAIT_S)
    shutil.rmtree(page.parent, ignore_errors=True)
