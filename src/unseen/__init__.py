"""unseen: make the people in photos and videos unrecognisable, offline, and prove it."""

from __future__ import annotations

import os
import sys

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
