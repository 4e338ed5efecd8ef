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
