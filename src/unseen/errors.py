"""Typed errors with messages a user can act on; the CLI maps them to exit codes."""

from __future__ import annotations


class UnseenError(Exception):
    """Base class: anything unseen refuses to do, with a message that says what to do."""


class MediaError(UnseenError):
    """An input file cannot be read safely (corrupt, truncated, unsupported, lying extension)."""


class LimitError(MediaError):
    """An input exceeds a configured resource limit (pixels, frames): refused, not attempted."""


class PlanError(UnseenError):
    """A plan file is malformed, does not match its media, or points outside allowed folders."""


class OutputError(UnseenError):
    """An output path is unsafe (would overwrite an input) or cannot be written."""


class OptionError(UnseenError, ValueError):
    """An option value unseen cannot use (a method or preset it does not have, a negative margin):
    a ValueError for Python callers, bad usage (exit 2) on the command line."""


class FilesFailed(UnseenError):
    """Some files of a batch could not be read (the Python API's `scan`). `failures` names each
    (path, reason); `plan` holds the plan of the other files, so a caller can go on with them."""

    def __init__(self, failures: list[tuple[str, str]], plan: object) -> None:
        reasons = "\n".join(reason for _, reason in failures)  # each reason names its file
        super().__init__(f"{len(failures)} file(s) could not be read:\n{reasons}")
        self.failures = failures
        self.plan = plan
