"""Progress on stderr (rich), silent under --json so stdout stays machine-readable."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


class FrameRate:
    """Frames/s of each file in progress, measured from the first progress report for it."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[float, int]] = {}

    def text(self, file: str, frames: int) -> str:
        """' 14.2 frames/s', or '' before there is a rate to show (photos, a file's first report)."""
        now = time.monotonic()
        t0, f0 = self.first.setdefault(file, (now, frames))
        return f" {(frames - f0) / (now - t0):.1f} frames/s" if frames > f0 and now > t0 else ""


class Reporter:
    """One bar per stage; `update(file, fraction)` advances it as files (or frames) finish."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[file]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=quiet,
            transient=False,
        )
        self.task: TaskID | None = None
        self.done: set[str] = set()
        self.rate = FrameRate()

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def start(self, stage: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(stage, total=total, file="")
        self.done = set()

    def update(self, file: str, fraction: float, frames: int = 0) -> None:
        """`frames`: frames of a video done so far, shown as frames/s."""
        if self.task is None:
            return
        if fraction >= 1.0 and file not in self.done:
            self.done.add(file)
            self.progress.update(self.task, completed=len(self.done), file=file[-40:])
        else:
            text = f"{file[-30:]} {100 * fraction:.0f}%{self.rate.text(file, frames)}"
            self.progress.update(self.task, completed=len(self.done) + fraction, file=text)
