"""unseen: make the people in photos and videos unrecognisable, offline, and prove it.

The Python API (documented in unseen.api and the README): `anonymise`, `scan`, `apply`, `audit`.
It is imported on first use, so that `unseen --help` and `import unseen` stay quick.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# onnxruntime >= 1.29 on Linux and macOS starts a telemetry uploader (1DS, to
# mobile.events.data.microsoft.com) when it is imported: a DNS lookup some seconds after a model
# loads, and a device identifier and event cache in ~/.cache/Microsoft/DeveloperTools/.onnxruntime.
# Its `disable_telemetry_events()` API does not stop either. Only this variable does, and only
# if it is set before onnxruntime is first imported (onnxruntime reads it once per process), so
# it is set here, where every unseen process (the CLI, pool and Ray workers) starts, overriding
# any other value; worker processes inherit it.
TELEMETRY_ALREADY_ON = "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


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
