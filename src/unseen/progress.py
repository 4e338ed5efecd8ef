"""Progress on stderr (rich), silent under --json so stdout stays machine-readable."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


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

    def update(self, file: str, fraction: float) -> None:
        if self.task is None:
            return
        if fraction >= 1.0 and file not in self.done:
            self.done.add(file)
            self.progress.update(self.task, completed=len(self.done), file=file[-40:])
        else:
            self.progress.update(
                self.task, completed=len(self.done) + fraction, file=f"{file[-30:]} {100 * fraction:.0f}%"
            )
