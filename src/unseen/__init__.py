"""unseen: make the people in photos and videos unrecognisable, offline, and prove it.

The Python API (documented in unseen.api and the README): `anonymise`, `scan`, `apply`, `audit`.
It is imported on first use, so that `unseen --help` and `import unseen` stay quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from unseen.api import Outcome, Plan, Report, anonymise, apply, audit, scan
    from unseen.errors import FilesFailed, LimitError, MediaError, OutputError, PlanError, UnseenError

__all__ = [
    "FilesFailed",
    "LimitError",
    "MediaError",
    "Outcome",
    "OutputError",
    "Plan",
    "PlanError",
    "Report",
    "UnseenError",
    "anonymise",
    "apply",
    "audit",
    "scan",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        module = "unseen.errors" if name.endswith(("Error", "Failed")) else "unseen.api"
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'unseen' has no attribute {name!r}")
