"""unseen: make the people in photos and videos unrecognisable, offline, and prove it."""

from __future__ import annotations

__version__ = "0.1.0"
