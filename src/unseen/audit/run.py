"""Pair originals with outputs and audit each pair: what `unseen audit`, `run --audit` and the
Python API's `audit` share (the command-line layer is unseen.audit.command)."""

from __future__ import annotations

from pathlib import Path

from unseen.audit.check import Auditor, FileAudit
from unseen.guard import Failed, guarded


def pairs(original: Path, anonymised: Path) -> list[tuple[Path, Path]]:
    """(original, output) pairs: two files, or every media file of a folder and its mirror (the
    output may also carry unseen's `.unseen` tag, as when written beside the input, and a video
    written in another container has `.mp4` added: `clip.wmv` -> `clip.wmv.mp4`)."""
    from unseen.errors import UnseenError
    from unseen.inputs import discover, tagged
    from unseen.media.image import SUFFIX_OF
    from unseen.media.kind import kind
    from unseen.video import output_name

    for p in (original, anonymised):
        if not p.exists():
            raise UnseenError(f"{p}: no such file or folder")
    if original.is_dir() != anonymised.is_dir():
        raise UnseenError("give two files or two folders (ORIGINAL ANONYMISED)")
    if not original.is_dir():
        return [(original, anonymised)]
    out = []
    for f in discover([original]).files:
        rel = f.relative_to(original.resolve()).as_posix()
        # a photo whose name does not say its format has the format's suffix added (`IMG_0001.jpg`)
        names = [output_name(rel)] if kind(f) == "video" else [rel, *(rel + s for s in sorted(set(SUFFIX_OF.values())))]
        found = [m for n in names for m in (anonymised / n, anonymised / tagged(n)) if m.exists()]
        out.append((f, found[0] if found else anonymised / names[0]))
    return out


def load_auditor(every: int | None = None) -> Auditor | Failed:
    """A new Auditor (its models take a few seconds to load), or Failed when they cannot load."""
    return guarded("the audit", lambda: Auditor(every=every), "nothing audited")


def run_audit(
    todo: list[tuple[Path, Path]], quiet: bool, every: int | None = None, auditor: Auditor | Failed | None = None
) -> list[FileAudit]:
    """Audit each pair with `auditor` (or a new one, see load_auditor)."""
    from unseen.progress import Reporter

    if auditor is None:
        auditor = load_auditor(every)
    if isinstance(auditor, Failed):  # its models cannot be loaded: every file is unchecked, not clear
        why = auditor.error
        return [FileAudit(str(orig), str(out), error=f"{out}: not audited: {why}") for orig, out in todo]
    audits = []
    with Reporter(quiet=quiet) as rep:
        rep.start("auditing", len(todo))
        for orig, out in todo:
            if not out.is_file():  # missing, or not a regular file (a pipe would block the read)
                audits.append(FileAudit(str(orig), str(out), error=f"{out}: no anonymised file for {orig}"))
            else:
                audits.append(auditor.pair(orig, out))
            rep.update(str(out), 1.0)
    return audits
