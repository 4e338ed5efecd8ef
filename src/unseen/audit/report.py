"""Audit results for people: a one-screen terminal summary, JSON for pipelines, an HTML page.

The HTML page embeds only pixels read from the *output* files (downscaled, with boxes drawn
where something was found). It never reads the original, so it can never contain an original
face, and it loads nothing from the network: it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from unseen.audit.check import FileAudit

LABELS = {
    "face": "face visible",
    "reid": "re-identifiable",
    "speech": "speech",
    "metadata": "metadata",
    "mismatch": "mismatch",
}
MAX_LINES = 24  # the terminal summary stays on one screen
PREVIEW = 960  # px, longest side of the output previews in the HTML report


def totals(audits: list[FileAudit]) -> dict[str, int]:
    c = Counter(a.status for a in audits)
    return {"files": len(audits), "clear": c["clear"], "risk": c["risk"], "error": c["error"]}


def summary(audits: list[FileAudit]) -> str:
    lines: list[str] = []
    for a in audits:
        if a.status == "clear":
            continue
        if a.error:
            lines.append(f"ERROR {a.output}: {a.error}")
            continue
        kinds = Counter(f.check for f in a.findings)
        lines.append(f"RISK  {a.output}: " + ", ".join(f"{n} {LABELS.get(k, k)}" for k, n in kinds.items()))
        lines += [f"      - {f.message}" for f in a.findings[:3]]
        if len(a.findings) > 3:
            lines.append(f"      ... {len(a.findings) - 3} more (see --json or --html)")
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"... {len(lines) - MAX_LINES} more lines (see --json or --html)"]
    t = totals(audits)
    notes = sorted({n for a in audits for n in a.notes if n.startswith("sampled")})
    lines.append(
        f"audit: {t['files']} files, {t['clear']} clear, {t['risk']} at risk, {t['error']} could not be checked"
        + (" (videos: frames sampled, see --json)" if notes else "")
    )
    return "\n".join(lines)


def to_json(audits: list[FileAudit]) -> dict[str, Any]:
    return {"totals": totals(audits), "files": [a.to_json() for a in audits]}


# The report is read by people who publish, not by engineers: per kind of finding, what is at
# risk and what to do, in plain words; the measurements stay in a collapsed "technical details".
AT_RISK = {
    "face": (
        "{n} can still be seen (red boxes). Anyone who knows {them} may recognise {them}.",
        "Open the folder with <code>unseen review</code>, draw a region over each red box and export again.",
    ),
    "reid": (
        "Face-recognition software can still match {n} to the person in the original (red boxes): "
        "where a face was covered, the cover is too small or too weak.",
        "Make the regions larger (in <code>unseen review</code>, or <code>--margin</code>) or use "
        "<code>--method fill</code> instead of blur or pixelate, and export again.",
    ),
    "speech": (
        "Someone can be heard speaking: a voice identifies a person as surely as a face, and a "
        "disguised voice can still be matched.",
        "Export it again with <code>--audio drop</code> (the video without its sound).",
    ),
    "metadata": (
        "The file carries hidden information ({what}) that anyone who receives it can read, such as "
        "where, when or with which device it was taken.",
        "Export it again with unseen (it writes clean files); do not open and save it in another "
        "program before publishing.",
    ),
    "mismatch": (
        "The anonymised file does not match its original (another size or number of frames), so "
        "it could not be checked: it may be the wrong file, or a damaged one.",
        "Check that the two files belong together and export again.",
    ),
}
STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d1d1d}"
    ".clear{color:#176117}.risk{color:#a30000}.error{color:#8a5a00}"
    "section{border-top:1px solid #ccc;padding:.6em 0}h2{margin:.4em 0 .1em;overflow-wrap:anywhere}"
    ".path{color:#555;font-size:13px;overflow-wrap:anywhere;margin:0}"
    "h3{font-size:15px;margin:.7em 0 .2em}ul,ol{margin:.2em 0}"
    "details{margin:.5em 0}summary{cursor:pointer}.tech{font-size:13px;color:#444}"
    "figure{margin:.6em 0}figcaption{font-size:13px;color:#555}"
    # The markers are drawn over the picture, in its own box: the box shrinks to the picture, so
    # a picture narrower than the page keeps its markers on it.
    ".pic{position:relative;display:inline-block;max-width:100%;vertical-align:top;line-height:0}"
    ".pic img{display:block;max-width:100%;height:auto}"
    ".pic svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:visible}"
)


def write_html(audits: list[FileAudit], path: Path) -> None:
    """The report a person reads before publishing: files at risk first, each with what is at
    risk and what to do; files that could not be checked; the clear ones collapsed in a list."""
    t = totals(audits)
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8><title>unseen audit</title>",
        "<meta name=viewport content='width=device-width'>",
        f"<style>{STYLE}</style>",
        "<h1>unseen audit: can these files be published?</h1>",
        f"<p>{_files(t['files'])} checked: <b class=risk>{t['risk']} at risk</b> (do not publish "
        f"{'it' if t['risk'] == 1 else 'them'} yet), <b class=error>{t['error']} could not be checked</b> "
        f"(treat as at risk), <b class=clear>{t['clear']} clear</b> (nothing found).</p>",
        "<p>For every anonymised file the audit looked for faces that can still be seen, for faces "
        "that face-recognition software can still match to the person in the original, and for "
        "hidden information in the file. The pictures below are the anonymised files, with red boxes "
        "where something was found; no original is shown. A clear result means these checks found "
        "nothing, not that nobody could ever be recognised (voices, names, tattoos are not checked).</p>",
    ]
    for a in (a for a in audits if a.status == "risk"):
        parts.append(_risk_section(a))
    for a in (a for a in audits if a.status == "error"):
        parts.append(
            f"<section><h2 class=error>Could not be checked: {e(Path(a.output).name)}</h2>"
            f"<p class=path>{e(a.output)}</p><p>The audit could not read this file, so nothing is known "
            "about it: do not publish it until it has been checked.</p>"
            f"<details class=tech><summary>Technical details</summary><p>{e(a.error or '')}</p></details></section>"
        )
    clear = [a for a in audits if a.status == "clear"]
    if clear:
        items = "".join(f"<li>{e(a.output)} <span class=tech>({e(_checked(a))})</span></li>" for a in clear)
        parts.append(
            f"<section><details><summary><b class=clear>{_files(len(clear))} clear</b>: nothing found"
            f"</summary><ul>{items}</ul></details></section>"
        )
    parts.append("</html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _checked(a: FileAudit) -> str:
    """What was checked, in a few words."""
    what = f"{a.width}x{a.height} {'photo' if a.kind == 'image' else 'video'}"
    if a.kind == "video":
        what += f", {a.frames_checked} of {a.frames_total} frames checked"
    return f"{what}; {a.faces_compared} faces checked for recognition, {a.faces_erased} of them painted over"


def _risk_section(a: FileAudit) -> str:
    e = html.escape
    kinds: dict[str, list[Any]] = {}
    for f in a.findings:
        kinds.setdefault(f.check if f.check in AT_RISK else "face", []).append(f)
    risks, todos = [], []
    for kind, found in kinds.items():
        risk, todo = AT_RISK[kind]
        n = len({(tuple(f.box or ()), f.frame) for f in found})
        frames = sorted({f.frame for f in found if f.frame is not None})
        faces = f"{n} face" if n == 1 else f"{n} faces"
        text = risk.format(
            n=faces if kind != "metadata" else n,
            them="this person" if n == 1 else "them",
            what=e(", ".join(sorted({f.message.split(":")[0] for f in found}))),
        )
        if frames:
            text += f" Seen in {len(frames)} of the {a.frames_checked} frames checked (first: frame {frames[0]})."
        risks.append(f"<li>{text}</li>")
        todos.append(f"<li>{todo}</li>")
    todos.append("<li>Run the audit again on the new file before you publish it.</li>")
    out = [
        f"<section><h2 class=risk>At risk: {e(Path(a.output).name)}</h2><p class=path>{e(a.output)}</p>",
        f"<h3>What is at risk</h3><ul>{''.join(risks)}</ul><h3>What to do</h3><ol>{''.join(todos)}</ol>",
    ]
    boxes = [f for f in a.findings if f.box is not None]
    if boxes:
        frame = boxes[0].frame
        rgb = _output_pixels(Path(a.output), frame)
        if rgb is not None:
            shown = [f.box for f in boxes if f.frame == frame and f.box]
            caption = "The anonymised file" + (f", frame {frame}" if frame is not None else "")
            out.append(_figure(rgb, shown, a.width, a.height, caption + ": red boxes mark what was found."))
    lines = "".join(f"<li>{e(f.message)}</li>" for f in a.findings)
    notes = "".join(f"<li>{e(n)}</li>" for n in a.notes)
    out.append(
        f"<details class=tech><summary>Technical details</summary><p>{e(_checked(a))}.</p>"
        f"<ul>{lines}{notes}</ul></details></section>"
    )
    return "".join(out)


def _output_pixels(output: Path, frame: int | None) -> np.ndarray | None:
    """Pixels of the output file only (upright; the given video frame)."""
    try:
        if frame is None:
            from unseen.media import image

            return image.read(output).rgb
        from unseen.media import video

        dec = video.Decoded(output)
        try:
            for i, f in dec:
                if i == frame:
                    return video.upright_rgb(f, dec.info.turns)
        finally:
            dec.close()
    except Exception:  # the preview is a convenience; the findings are listed above it
        return None
    return None


def _figure(rgb: np.ndarray, boxes: list[list[float]], width: int, height: int, caption: str) -> str:
    """The output picture with the boxes (pixels of the upright output, `width` x `height`) drawn
    on it: the SVG spans exactly the image's box, whatever size the page gives the image."""
    im = Image.fromarray(rgb)
    im.thumbnail((PREVIEW, PREVIEW))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    rects = "".join(
        f"<rect x={b[0]:.0f} y={b[1]:.0f} width={b[2] - b[0]:.0f} height={b[3] - b[1]:.0f} "
        "fill=none stroke='#ff2a2a' stroke-width=3 vector-effect=non-scaling-stroke />"
        for b in boxes
    )
    return (
        f"<figure><div class=pic><img alt='anonymised output' width={im.width} height={im.height} "
        f"src='data:image/jpeg;base64,{data}'><svg viewBox='0 0 {width} {height}' preserveAspectRatio=none "
        f"aria-hidden=true>{rects}</svg></div><figcaption>{html.escape(caption)}</figcaption></figure>"
    )
