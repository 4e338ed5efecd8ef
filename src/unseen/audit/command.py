"""`unseen audit ORIGINAL ANONYMISED` and the `--audit` step of `unseen run`.

Exit codes: 0 every file clear; 3 a risk was found in at least one file (this wins over errors:
a script must never publish on a risk); 1 some file could not be checked; 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from unseen.audit import report
from unseen.audit.check import FileAudit
from unseen.audit.run import run_audit
from unseen.limits import arg_type

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RISK = 0, 1, 2, 3

EPILOG = """examples:
  unseen audit photo.jpg photo.unseen.jpg          one file and its anonymised version
  unseen audit DCIM/ public/                       two mirrored folders (as written by run -o)
  unseen audit DCIM/ public/ --html audit.html     a report to read or send (no original is shown)
  unseen audit clip.mp4 clip.unseen.mp4 --every 1  every video frame (default: 2 per second)
  unseen run DCIM/ -o public/ --audit --json       anonymise and audit in one go
checks: faces left (wholly or partly) unobscured, also those found by dlib HOG and OpenCV Haar
(other families than the CenterFace plan), faces a recognition model (dlib ResNet) still matches
with the original, speech in a video's sound (voices identify people; with how close the voice is
to the original's), and metadata left in.
exit codes: 0 all clear, 3 a risk was found, 1 a file could not be checked, 2 bad usage"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit",
        help="check anonymised outputs against their originals; exit 3 on any risk",
        description="Check that nobody in the anonymised files is recognisable, and that no metadata is left.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("original", type=Path, metavar="ORIGINAL", help="the original file or folder")
    p.add_argument("anonymised", type=Path, metavar="ANONYMISED", help="its anonymised file or mirrored folder")
    p.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    p.add_argument("--html", type=Path, metavar="REPORT.html", help="also write an HTML report (outputs only)")
    p.add_argument(
        "--every", type=arg_type("every"), metavar="N", help="audit every Nth video frame (default: 2 per second)"
    )
    p.set_defaults(handler=handle)


def exit_code(audits: list[FileAudit]) -> int:
    if any(a.risk for a in audits):
        return EXIT_RISK
    return EXIT_FAILED if any(a.error for a in audits) else EXIT_OK


def handle(args: argparse.Namespace) -> int:
    from unseen.api import audit
    from unseen.errors import UnseenError

    try:
        audits = audit(args.original, args.anonymised, every=args.every, show_progress=not args.json).files
    except UnseenError as e:
        print(f"unseen audit: {e}", file=sys.stderr)
        return EXIT_USAGE
    _print(audits, args.json)
    code = exit_code(audits)
    if args.html:
        try:
            report.write_html(audits, args.html)
        except OSError as e:
            print(f"error: {args.html}: cannot write the report ({e.strerror or e})", file=sys.stderr)
            return max(code, EXIT_FAILED)
        if not args.json:
            print(f"report: {args.html}")
    return code


def _print(audits: list[FileAudit], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(audits), indent=1))
    else:
        print(report.summary(audits))


def audit_outputs(plan: Any, outcomes: list[Any], as_json: bool, sink: dict[str, Any] | None = None) -> bool:
    """The `--audit` step of `unseen run`: audit every written output against its input. With
    `sink`, the JSON goes into it (so `run --json` prints one document); otherwise it is printed.
    Returns True when any risk was found (or a file could not be checked: unverified is not clear)."""
    todo = [(Path(plan.root) / o.path, Path(o.output)) for o in outcomes if o.output]
    audits = run_audit(todo, as_json)
    if sink is not None:
        sink.update(report.to_json(audits))
    else:
        _print(audits, as_json)
    return exit_code(audits) != EXIT_OK
