"""`unseen review DIR`: check and correct the plan in the browser, then export."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path
from typing import Any

from unseen import plan as plan_mod
from unseen.detect.presets import PRESETS
from unseen.limits import DEFAULT_MAX_PIXELS, arg_type
from unseen.pipeline import DEFAULT_MARGIN, DEFAULT_SHAPE, Options

EPILOG = """examples:
  unseen review DCIM/                  scan what has no plan yet, open the page in the browser
  unseen review DCIM/ -o public/       export into public/ (default: DCIM-unseen/ beside DCIM/)
  unseen review clip.mp4               review one file
  unseen review DIR --no-browser       print the address (with its token) instead of opening it
  unseen review DIR --port 8765        fixed port (default: a free one)

The plan is kept in DIR/.unseen/plan.json (or --plan) and every edit is saved at once, so a review
can be closed and resumed. The page is served on 127.0.0.1 only, behind a random token, and makes
no request to any other site. Keys: drag to add a region, Del delete, Ctrl+Z/Ctrl+Y undo/redo,
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
        default=DEFAULT_MARGIN,
        help="grow a confident face box by this share per side (see unseen run --help)",
    )
    p.add_argument("--shape", choices=plan_mod.SHAPES, default=DEFAULT_SHAPE, help="shape of detected regions")
    p.add_argument("--method", choices=plan_mod.METHODS, default="fill", help="how new plans paint faces")
    p.add_argument(
        "--max-pixels", type=arg_type("max_pixels"), default=DEFAULT_MAX_PIXELS, help="refuse images larger than this"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from unseen.review.server import Review, start

    opts = Options(
        detector=args.preset, margin=args.margin, shape=args.shape, method=args.method, max_pixels=args.max_pixels
    )
    review = Review(args.target, args.plan, args.output, opts)
    try:
        server = start(review, args.port)
    except OSError as e:
        print(f"unseen: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr)
        return 2
    print(f"reviewing {review.root}\nplan: {review.plan_path}\nexport to: {review.output}")
    print(f"open: {server.url}\n(stop with Ctrl+C or the page's Close button)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    server.watch()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        review.close()
    print(f"review stopped; plan saved in {review.plan_path}")
    return 0
