"""One policy for a file that fails: it fails alone, with one line that says which and why.

Every loop over files (scan, apply and run in this process, the local and Ray engines' workers,
the review server's scan and export, the audit) runs each file through `guarded`, so a decoder
bug, a full disk or an odd file of any kind is that file's error, never the end of the batch,
and the line the user reads is the same whichever command met it. Ctrl-C and SIGTERM
(KeyboardInterrupt, SystemExit) are not a file's failure: they stop the batch, as asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from unseen.errors import UnseenError

T = TypeVar("T")


@dataclass(frozen=True)
class Failed:
    """What is left of one file's work that raised: the line to show, naming the file."""

    error: str


def guarded(rel: str, work: Callable[[], T], left: str = "no output written") -> T | Failed:
    """`work()`, or Failed with the reason when it raises any Exception (MemoryError included).
    `left`: what the failure left behind, said after an unexpected error ("not audited")."""
    try:
        return work()
    except Exception as e:  # noqa: BLE001 - the one place where a file's failure is caught
        return Failed(describe(rel, e, left))


def describe(rel: str, e: Exception, left: str = "no output written") -> str:
    """One line for a failure of the file `rel`: unseen's own message as it is; an OS error with
    the path it was about; anything else as a bug to report. Never a traceback, never two lines."""
    if isinstance(e, UnseenError):
        text = str(e)
    elif isinstance(e, OSError):
        where = f" {e.filename}" if e.filename else ""
        text = f"{rel}: cannot read or write{where} ({e.strerror or e}); check free space and permissions"
    elif isinstance(e, MemoryError):
        text = f"{rel}: out of memory; lower --max-pixels / --max-frames or free memory"
    else:
        why = " ".join(str(e).split())[:200]
        text = f"{rel}: unexpected {type(e).__name__}: {why} ({left}; please report this bug)"
    return text.replace("\r", "\\r").replace("\n", "\\n")  # a name with a newline stays one line
