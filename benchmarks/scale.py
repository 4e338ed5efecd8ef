"""Throughput of the batch engines on a folder of a few thousand photos, and the cost of resuming.

The folder is the WIDER FACE images in ../shared/data repeated (hard links, or copies where links
cannot be made) in benchmarks/.cache/scale/N/, so every run reads the same real photos. Rows:
one local worker, the local engine on all cores, the Ray engine on a local Ray instance with as many
actors, and a rerun of the finished all-core run (everything skipped through the manifest).

    python benchmarks/scale.py --limit 40        # quick, on a shared machine
    python benchmarks/scale.py                   # 3,000 photos

"Wall" is the whole call (start-up included: pool spawn, Ray start); "steady" is files per second
between the first and the last file finished, which is what a long archive run sees. The last
line compares every output of the one-worker row with the other rows' byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, need  # noqa: E402
from unseen.detect.centerface import usable_cores  # noqa: E402
from unseen.engines.batch import Summary  # noqa: E402
from unseen.engines.local import run_local  # noqa: E402
from unseen.engines.manifest import Record  # noqa: E402
from unseen.pipeline import Options  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"


def build_folder(n: int) -> Path:
    """N photos: the WIDER images cycled, named rep{k}_{event}_{file} so every path is distinct."""
    images = sorted(need(DATA / "widerface" / "images").rglob("*.jpg"))
    folder = CACHE / "scale" / str(n)
    if folder.is_dir() and len(list(folder.iterdir())) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        src = images[i % len(images)]
        dest = folder / f"rep{i // len(images)}_{src.name}"
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
    return folder


def source_stamp() -> str:
    """A hash of unseen's source files. Pool workers and Ray actors import the code on disk when
    they start, the one-worker row runs what this process imported: a file edited while the
    benchmark runs makes the rows run different code, and their outputs differ for that reason
    alone (what an earlier "identical: False" turned out to be)."""
    import unseen

    h = hashlib.sha256()
    for p in sorted(Path(unseen.__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


class Clock:
    """Times of each finished file, for the steady-state rate."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, rec: Record) -> None:
        self.times.append(time.monotonic())

    def steady(self) -> float:
        t = self.times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 and t[-1] > t[0] else 0.0


def timed(label: str, fn: Callable[[Clock], Summary]) -> tuple[str, Summary, Clock]:
    clock = Clock()
    print(f"running: {label}", file=sys.stderr)
    return label, fn(clock), clock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=3000, help="number of photos (default 3000)")
    ap.add_argument("--preset", default="default", help="detector preset (default: default)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray row")
    args = ap.parse_args()

    folder = build_folder(args.limit)
    outs = CACHE / "scale-out"
    shutil.rmtree(outs, ignore_errors=True)
    opts = Options(detector=args.preset)
    cores = usable_cores()
    stamp = source_stamp()

    rows = [
        timed("local, 1 worker", lambda c: run_local([folder], outs / "one", opts, 1, True, c)),
        timed(f"local, {cores} workers", lambda c: run_local([folder], outs / "all", opts, cores, True, c)),
    ]
    if not args.no_ray:
        from unseen.engines.ray import run_ray

        label = f"ray (local), {cores} actors"
        rows.append(timed(label, lambda c: run_ray([folder], outs / "ray", opts, None, cores, True, c)))
    resume_label, resume, _ = timed("resume", lambda c: run_local([folder], outs / "all", opts, cores, True, c))

    base = rows[0][1]
    print(f"\n{args.limit} WIDER FACE photos (1024 px wide), preset `{args.preset}`, {cores} cores\n")
    print("| engine | files done | failed | wall s | files/s (wall) | files/s (steady) | speed-up vs 1 worker (wall) |")
    print("|---|---|---|---|---|---|---|")
    for label, s, clock in rows:
        print(
            f"| {label} | {len(s.done)} | {len(s.failed)} | {s.seconds:.1f} | {s.throughput:.2f} "
            f"| {clock.steady():.2f} | {base.seconds / s.seconds:.2f}x |"
        )
    full = rows[1][1]
    print(
        f"\n| {resume_label} | skipped | redone | wall s | share of the full run |\n|---|---|---|---|---|\n"
        f"| local, {cores} workers | {len(resume.skipped)} | {len(resume.done)} | {resume.seconds:.2f} "
        f"| {resume.seconds / full.seconds:.1%} |"
    )
    differ = sorted(
        {
            r.path
            for r in base.done
            for name in ("all", "ray")
            if (outs / name).is_dir() and r.output
            if (outs / "one" / r.output).read_bytes() != (outs / name / r.output).read_bytes()
        }
    )
    print(f"\noutputs identical across engines ({len(base.done)} files): {not differ}")
    if differ:
        print(f"differing: {', '.join(differ[:10])}")
    if source_stamp() != stamp:
        print("warning: unseen's sources changed during the run, so the rows ran different code: rerun")


if __name__ == "__main__":
    main()
