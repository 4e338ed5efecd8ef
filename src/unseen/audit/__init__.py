"""The audit: prove an output protects the people in it (residual faces, re-identification,
metadata), or say where it does not. See docs/audit.md."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_AUDITOR: Any = None


class _CallableModule(types.ModuleType):
    """`unseen.audit(original, anonymised)` is the Python API's audit (unseen.api.audit). This
    package has the same name, and importing it makes `unseen.audit` this module, hiding the
    function: so the module itself answers the call."""

    def __call__(self, original: Any, anonymised: Any, **kw: Any) -> Any:
        from unseen.api import audit

        return audit(original, anonymised, **kw)


sys.modules[__name__].__class__ = _CallableModule


@dataclass(frozen=True)
class Verdict:
    """What the review page shows per file: `risk` is True for a risk *or* a file that could not be
    checked (unverified is never "clear"); `summary` says what was found."""

    risk: bool
    summary: str


def audit_file(plan: Any, media: Any, output: str | Path) -> Verdict:
    """Audit one rendered file of a plan (used by the review page). Models are loaded once."""
    global _AUDITOR
    from unseen.audit.check import Auditor
    from unseen.audit.report import summary

    if _AUDITOR is None:
        _AUDITOR = Auditor()
    result = _AUDITOR.pair(Path(plan.root) / media.path, Path(output))
    return Verdict(result.status != "clear", summary([result]).split("\n")[0])
