"""The `unseen` command: parse, call the pipeline, print, exit with a code scripts can trust.

Exit codes: 0 all files done (and, with --audit, all clear); 1 one or more files failed;
2 bad usage or an invalid plan; 3 the audit found a risk; 130 interrupted (no partial output).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unseen import __version__
from unseen import plan as plan_mod
from unseen.detect.presets import PRESETS
from unseen.errors import PlanError, UnseenError
from unseen.limits import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, arg_type
from unseen.obscure import METHODS, undo_warning
from unseen.options import AUDIO, Options, Outcome
from unseen.progress import Reporter
from unseen.regions import PHOTO, VIDEO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RISK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Commands that live with their feature: each module has `register(subparsers)`, which adds a
# parser with `set_defaults(handler=fn)`; fn(args) returns the exit code.
EXTRA_COMMANDS: list[str] = ["unseen.review.command", "unseen.audit.command", "unseen.doctor"]

METHOD_HELP = (
    "how faces are painted: 'fill' (default, irreversible: a smooth fill from the pixels around "
    "the face), 'solid' (black), or 'mosaic' / 'blur' (softer looking, but trained models can partly "
    "undo blur and mosaic and re-identify people: do not use them to protect anyone)"
)

EPILOG_RUN = """examples:
  unseen run photo.jpg                 writes photo.unseen.jpg beside it
  unseen run DCIM/ -o public/          mirrors DCIM/ into public/, every face obscured
  unseen run ARCHIVE/ -o OUT/ --workers 8   rerun after a crash to resume (state kept outside OUT)
  unseen run --engine ray s3://b/in -o s3://b/out --ray-address auto   on a Ray cluster
  unseen run clip.mp4 --audio drop     video without its sound (voices identify people; default: keep)
  unseen run DIR -o OUT --audit --json audit every output, machine-readable results
files are known by content where the name does not say (no suffix, .jfif, .ogv...); files in a
folder that are neither photo nor video (notes, sound, camera RAW) are named as left out
exit codes: 0 done, 1 some files failed, 2 bad usage, 3 audit found a risk, 130 interrupted"""

EPILOG_SCAN = """examples:
  unseen scan DIR --plan plan.json     find faces, write the plan (no image is changed)
  unseen scan photo.jpg --json         print the plan to stdout
then edit the plan (or `unseen review`) and render it with `unseen apply plan.json -o OUT`"""

EPILOG_APPLY = """examples:
  unseen apply plan.json -o public/    render a (possibly edited) plan
  unseen apply plan.json               write *.unseen.* files beside the inputs"""


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument said in one line (and exit 2), not a usage block then the
    reason: a script's log shows what was refused and why."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _media_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("detection")
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="detector setting: " + "; ".join(f"{k}: {v.help}" for k, v in PRESETS.items()),
    )
    g.add_argument("--fast", dest="preset", action="store_const", const="fast", help="same as --preset fast")
    g.add_argument(
        "--margin",
        type=arg_type("margin"),
        default=None,
        help=f"grow a confident face box by this share of its size per side, 1.5x upwards (default "
        f"{PHOTO.margin} in photos, whose detector box is already wider than the face, {VIDEO.margin} "
        "in videos); less confident boxes, which are looser, "
        f"get up to {PHOTO.low} more in photos, {VIDEO.low} in videos",
    )
    g.add_argument(
        "--shape",
        choices=plan_mod.SHAPES,
        default=None,
        help=f"region shape (default: {PHOTO.shape} in photos, a head's outline that covers the face box's "
        f"corners; {VIDEO.shape} in videos)",
    )
    g.add_argument(
        "--max-pixels",
        type=arg_type("max_pixels"),
        default=DEFAULT_MAX_PIXELS,
        help="refuse images and video frames larger than this (decompression bombs)",
    )
    g.add_argument(
        "--max-frames",
        type=arg_type("max_frames"),
        default=DEFAULT_MAX_FRAMES,
        help="refuse videos with more frames than this",
    )
    g.add_argument("--follow-symlinks", action="store_true", help="follow symlinks that lead out of input folders")
    g.add_argument(
        "--text",
        action="store_true",
        help="also paint text in photos: name badges, street signs, number plates, and placards (which are "
        "often the news: hence opt-in); text is found, never read. Not yet in videos",
    )


def _render_options(p: argparse.ArgumentParser, default_method: str | None = "fill") -> None:
    g = p.add_argument_group("output")
    g.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output folder (mirrors the input tree); default: beside each input as NAME.unseen.EXT",
    )
    g.add_argument("--method", choices=list(METHODS), default=default_method, help=METHOD_HELP)
    g.add_argument(
        "--audio",
        choices=AUDIO,
        default="keep",
        help="a video's sound: keep (default), drop, or disguise the voices (a drifting voice change keyed "
        "by a secret that is not stored; measured in the README: drop is the only sure way)",
    )
    g.add_argument("--no-audio", dest="audio", action="store_const", const="drop", help="same as --audio drop")
    g.add_argument(
        "--crf",
        type=arg_type("crf"),
        default=18,
        help="H.264 quality for video (lower is better; default 18, visually lossless)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="unseen",
        description="Make the people in photos and videos unrecognisable, offline, and prove it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands: run (scan + apply), scan, apply, audit, review, doctor (is everything here?). "
        "`unseen COMMAND --help` has examples.",
    )
    parser.add_argument("--version", action="version", version=f"unseen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser(
        "run", help="find and obscure every face; write clean files", epilog=EPILOG_RUN, formatter_class=fmt
    )
    run.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="photos, videos or folders")
    _media_options(run)
    _render_options(run)
    run.add_argument("--plan", type=Path, help="also save the plan here")
    run.add_argument("--audit", action="store_true", help="audit every output; exit 3 if a risk is found")
    run.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    g = run.add_argument_group("many files (with -o: resumable; what is done is recorded outside OUT, see --state)")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: Ray Data, local or a cluster",
    )
    g.add_argument("--workers", type=arg_type("workers"), help="worker processes or Ray actors (default: all cores)")
    g.add_argument("--ray-address", help="Ray cluster to use (auto, ray://HEAD:10001); default: a local Ray")
    g.add_argument(
        "--rehash",
        action="store_true",
        help="hash every input the manifest calls done instead of trusting its size and mtime (reads every input)",
    )
    g.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="keep the resume state (the manifest: each original's hash, size, mtime and faces) in DIR "
        "(default: $UNSEEN_STATE_DIR, else $XDG_STATE_HOME/unseen, else ~/.local/state/unseen); "
        "never in OUT, which holds the anonymised media only",
    )

    scan = sub.add_parser(
        "scan", help="find faces and write the plan; change nothing", epilog=EPILOG_SCAN, formatter_class=fmt
    )
    scan.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    _media_options(scan)
    scan.add_argument("--method", choices=list(METHODS), default="fill", help=METHOD_HELP)
    scan.add_argument("-p", "--plan", type=Path, help="write the plan to this file (default: unseen-plan.json)")
    scan.add_argument("--json", action="store_true", help="print the plan (and any failures) as JSON on stdout")

    apply = sub.add_parser(
        "apply", help="render a plan (possibly edited) to clean files", epilog=EPILOG_APPLY, formatter_class=fmt
    )
    apply.add_argument("plan", type=Path, metavar="PLAN")
    _render_options(apply, default_method=None)
    apply.add_argument(
        "--max-pixels",
        type=arg_type("max_pixels"),
        default=DEFAULT_MAX_PIXELS,
        help="refuse images and video frames larger than this",
    )
    apply.add_argument("--json", action="store_true", help="print results as JSON on stdout")

    for module in EXTRA_COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _sigterm_as_interrupt()
    try:
        if args.command in ("run", "scan") and args.plan is not None:
            _refuse_plan_over_input(args)
            _writable_plan(args.plan)
            if args.command == "run" and args.output:
                from unseen.output import check_plan_outside

                check_plan_outside(args.plan, Path(args.output))
        if args.command == "scan" and args.plan is None and not args.json:
            _writable_plan(Path("unseen-plan.json"))
        if args.command == "run":
            return _run(args)
        if args.command == "scan":
            return _scan(args)
        if args.command == "apply":
            return _apply(args)
        if hasattr(args, "handler"):
            return int(args.handler(args))
    except KeyboardInterrupt:
        print("unseen: interrupted; no partial output was left", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PlanError as e:
        print(f"unseen: {e}", file=sys.stderr)
        return EXIT_USAGE
    except UnseenError as e:
        print(f"unseen: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # not one file's (a folder to make, a plan to write): one line, not a traceback
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _sigterm_as_interrupt() -> Any:
    """SIGTERM (kill, systemd, a closing container) takes the same path as Ctrl-C: temporary
    files are removed and the exit code is 130. The default action would kill the process and
    leave `.part` files behind. Returns the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def _refuse_plan_over_input(args: argparse.Namespace) -> None:
    """`--plan photo.jpg` would replace an input with JSON: refused before anything runs."""
    from unseen.inputs import discover

    files = discover(args.inputs, getattr(args, "follow_symlinks", False)).files
    plan_path = os.path.abspath(args.plan)
    if any(
        os.path.abspath(f) == plan_path or (os.path.exists(plan_path) and os.path.samefile(f, plan_path)) for f in files
    ):
        raise UnseenError(f"{args.plan}: the plan file would overwrite an input; choose another --plan path")


def _os_error(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def _writable_plan(plan: Path) -> None:
    """`--plan` in a folder that is missing or cannot be written: refused before hours of work
    whose plan could not be saved."""
    folder = Path(os.path.abspath(plan)).parent
    if plan.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        why = "is a folder" if plan.is_dir() else f"its folder {folder} is missing or cannot be written"
        raise UnseenError(f"--plan {plan}: {why}; choose another --plan path")


def _save_plan(plan: Any, path: Path) -> bool:
    """Save the plan; an OS error (the disk filled, the folder went) is one `error:` line and
    False, after the outputs were reported: they are written, the plan is what is missing."""
    if len(plan.files) > plan_mod.MAX_FILES:
        too_many = f"{len(plan.files)} files is more than a plan holds ({plan_mod.MAX_FILES})"
        print(f"error: {path}: {too_many}; not saved", file=sys.stderr)
        return False
    try:
        plan.save(path)
    except OSError as e:
        print(f"error: {path}: cannot write the plan ({e.strerror or e})", file=sys.stderr)
        return False
    return True


def _options(args: argparse.Namespace) -> Options:
    """The options of a command line; a warning on stderr when the method can be partly undone."""
    method = getattr(args, "method", None) or "fill"
    if (warning := undo_warning(method)) is not None:
        print(warning, file=sys.stderr)
    return Options(
        detector=getattr(args, "preset", "default"),
        margin=getattr(args, "margin", None),
        shape=getattr(args, "shape", None),
        method=method,
        max_pixels=args.max_pixels,
        max_frames=getattr(args, "max_frames", DEFAULT_MAX_FRAMES),
        audio=getattr(args, "audio", "keep"),
        text=getattr(args, "text", False),
        crf=getattr(args, "crf", 18),
        follow_symlinks=getattr(args, "follow_symlinks", False),
    )


def _scan(args: argparse.Namespace) -> int:
    from unseen.detect.presets import make_detector
    from unseen.inputs import discover
    from unseen.pipeline import scan

    opts = _options(args)
    found = discover(args.inputs, opts.follow_symlinks)
    if len(found.files) > plan_mod.MAX_FILES:  # apply would refuse the plan: refused before the work
        raise UnseenError(
            f"{len(found.files)} photos and videos is more than a plan holds ({plan_mod.MAX_FILES}); "
            "scan the folders one at a time"
        )
    with Reporter(quiet=args.json) as reporter:
        reporter.start("scanning", len(found.files))
        plan, failures = scan(args.inputs, make_detector(opts.detector), opts, reporter.update)
    left = _left_out(found.left_out, found.root)
    target = args.plan or (None if args.json else Path("unseen-plan.json"))
    saved = target is None or _save_plan(plan, target)
    for f in failures:
        print(f"error: {f.error}", file=sys.stderr)
    if args.json:
        out: dict[str, Any] = plan.to_json()
        out["failed"] = [{"path": f.path, "error": f.error} for f in failures]
        out.update(left)
        print(json.dumps(out, indent=1))
    else:
        faces = sum(len(f.regions) for f in plan.files)
        print(f"planned {faces} regions in {len(plan.files)} files; {len(failures)} failed; plan: {target}")
    return EXIT_FAILED if failures or not saved else EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from unseen import api

    plan = plan_mod.load(args.plan)
    opts = _options(args)
    if args.output is not None:
        _refuse_output_over_root(args.output, Path(plan.root))
    with Reporter(quiet=args.json) as reporter:
        reporter.start("writing", len(plan.files))
        outcomes = api.apply(
            plan,
            args.output,
            progress=reporter.update,
            method=args.method,
            audio=opts.audio,
            crf=opts.crf,
            max_pixels=opts.max_pixels,
        )
    return _report(outcomes, args.json, extra=_beyond_faces(opts, outcomes))


def _refuse_output_over_root(out: Path, root: Path) -> None:
    """`apply -o` naming a file, the plan's own root folder (every output would land on its
    input, or beside it among the originals) or a folder that holds it (the folder published would
    hold the originals): refused before anything is written. A folder inside the root is allowed:
    the plan names its inputs, nothing is walked (`scan photo.jpg`, then `apply -o public/`)."""
    from unseen.output import check_output_folder

    check_output_folder(out, [])
    if root.is_dir() and root.resolve().is_relative_to(out.resolve()):
        raise UnseenError(f"-o {out}: is or holds the folder of the plan's inputs; choose an output folder outside it")


def _run_batch(args: argparse.Namespace, opts: Options) -> int:
    """`run -o OUT` (or --engine ray): a pool of workers, resumable via its manifest (in the state folder, not OUT)."""
    from unseen.engines.storage import as_uri, is_uri

    if args.engine == "ray":
        from unseen.engines.ray import run_ray

        summary = run_ray(
            args.inputs,
            args.output,
            opts,
            args.ray_address,
            args.workers,
            quiet=args.json,
            rehash=args.rehash,
            state_dir=args.state,
        )
    else:
        if is_uri(as_uri(args.output)):
            raise UnseenError(f"-o {as_uri(args.output)}: object storage needs --engine ray")
        from unseen.engines.local import run_local

        summary = run_local(
            args.inputs, args.output, opts, args.workers, quiet=args.json, rehash=args.rehash, state_dir=args.state
        )
    left = _left_out(summary.left_out, summary.root)
    for note in summary.notes:
        print(f"note: {note}", file=sys.stderr)
    plan = summary.plan()
    saved = not args.plan or _save_plan(plan, args.plan)
    outcomes = summary.outcomes(as_uri(args.output))
    voices = _beyond_faces(opts, outcomes)
    audit, risk = _audit_json(args, plan, outcomes)
    if args.json:
        code = _report(outcomes, True, extra={**summary.to_json(), **audit, **left, **voices})
    else:
        for r in summary.failed:
            print(f"error: {r.error}", file=sys.stderr)
        print(summary.text())
        where = as_uri(args.output)
        print(f"outputs in {where if '://' in where else os.path.abspath(where)}")
        code = EXIT_FAILED if summary.failed else EXIT_OK
    for line in summary.errors:
        print(f"error: {line}", file=sys.stderr)
    if summary.errors or not saved:
        code = max(code, EXIT_FAILED)
    return _audit_text(args, plan, outcomes, code, risk)


def _run(args: argparse.Namespace) -> int:
    from unseen.detect.presets import make_detector
    from unseen.inputs import discover
    from unseen.pipeline import run

    opts = _options(args)
    if args.output is not None or args.engine == "ray":
        return _run_batch(args, opts)
    found = discover(args.inputs, opts.follow_symlinks)
    with Reporter(quiet=args.json) as reporter:
        reporter.start("anonymising", len(found.files))
        plan, outcomes = run(args.inputs, make_detector(opts.detector), opts, args.output, reporter.update)
    saved = not args.plan or _save_plan(plan, args.plan)
    left = _left_out(found.left_out, found.root)
    voices = _beyond_faces(opts, outcomes)
    audit, risk = _audit_json(args, plan, outcomes)
    code = _report(outcomes, args.json, extra={**audit, **left, **voices})
    return _audit_text(args, plan, outcomes, code if saved else max(code, EXIT_FAILED), risk)


def _left_out(rel: list[str], root: str | Path | None = None) -> dict[str, Any]:
    """Files in the input folders that are neither photo nor video (notes, sidecars, RAW
    files, audio; on object storage, any object without a photo or video suffix), and symlinks
    leading out of the tree, not followed without --follow-symlinks: not processed and not in the
    output. Said on stderr, never silently; listed under "left_out" in --json."""
    links = [r for r in rel if root is not None and (Path(root) / r).is_symlink()]  # a URI root: never
    other = [r for r in rel if r not in set(links)]
    for what, items in (
        ("neither photo nor video unseen reads", other),
        ("symlinks out of the input folder, not followed (--follow-symlinks follows them)", links),
    ):
        if items:
            shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
            print(
                f"note: {len(items)} file(s) left out, {what} (not processed, not in the output): {shown}",
                file=sys.stderr,
            )
    return {"left_out": rel}


def _beyond_faces(opts: Options, outcomes: list[Outcome]) -> dict[str, Any]:
    """What identifies people beyond faces and was left in, said once per batch on stderr:
    videos written with speech in their sound (also under "speech" in --json; not with
    --audio drop: there is no sound to hear), and videos --text did not look at."""
    if opts.text:
        from unseen.media.kind import kind

        local = [Path(o.output) for o in outcomes if o.output and "://" not in o.output]
        videos = sum(1 for p in local if p.is_file() and kind(p) == "video")
        if videos:
            note = f"note: --text looks for text in photos only; {videos} video(s) not checked for text"
            print(note, file=sys.stderr)
    if opts.audio == "drop":
        return {}
    from unseen.audit.speech import warning

    heard = warning(outcomes)
    if heard["line"]:
        print(heard["line"], file=sys.stderr)
    return {"speech": heard["speech"]}


def _audit_json(args: argparse.Namespace, plan: Any, outcomes: list[Outcome]) -> tuple[dict[str, Any], bool]:
    """`run --audit --json`: audit before the report, so that both print as one JSON document
    (the audit under "audit"). Returns ({}, False) when there is nothing to do yet."""
    if not (args.audit and args.json):
        return {}, False
    from unseen.audit.command import audit_outputs

    sink: dict[str, Any] = {}
    risk = audit_outputs(plan, outcomes, True, sink)
    return {"audit": sink}, risk


def _audit_text(args: argparse.Namespace, plan: Any, outcomes: list[Outcome], code: int, risk: bool) -> int:
    """`run --audit` without --json: the audit summary prints after the run's; exit 3 on a risk."""
    if args.audit and not args.json:
        from unseen.audit.command import audit_outputs

        risk = audit_outputs(plan, outcomes, False)
    return EXIT_RISK if risk and code == EXIT_OK else code


def _report(outcomes: list[Outcome], as_json: bool, extra: dict[str, Any] | None = None) -> int:
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"error: {o.error}", file=sys.stderr)
    done = [o for o in outcomes if o.ok]
    if as_json:
        out: dict[str, Any] = {
            "files": [{"path": o.path, "output": o.output, "regions": o.regions, "error": o.error} for o in outcomes],
            "done": len(done),
            "failed": len(failed),
        }
        if extra:
            out.update(extra)
        print(json.dumps(out, indent=1))
    else:
        faces = sum(o.regions for o in done)
        print(f"{len(done)} files written ({faces} faces obscured), {len(failed)} failed")
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
