"""Run the audit (src/unseen/audit/, when installed) on exported files, one verdict per file.

The review page only needs "clear" or a short reason per file; this adapter keeps the server
independent of the audit module's exact API, and says "unavailable" rather than guessing."""

from __future__ import annotations

from typing import Any

from unseen.options import Outcome
from unseen.plan import Plan


def audit(plan: Plan, outcomes: list[Outcome]) -> dict[str, str] | None:
    """Verdict per input path ("clear" or what the audit found), or None without an audit."""
    try:
        from unseen import audit as audit_mod
    except ImportError:
        return None
    fn: Any = getattr(audit_mod, "audit_file", None)
    if fn is None:
        return None
    by_path = {m.path: m for m in plan.files}
    out: dict[str, str] = {}
    for o in outcomes:
        if not o.ok or o.output is None or o.path not in by_path:
            continue
        out[o.path] = _verdict(fn(plan, by_path[o.path], o.output))
    return out


def _verdict(result: Any) -> str:
    risk = getattr(result, "risk", None)
    if risk is None and isinstance(result, dict):
        risk = result.get("risk")
    if not risk:
        return "clear"
    return str(getattr(result, "summary", None) or risk)
