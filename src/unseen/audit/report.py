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


def write_html(audits: list[FileAudit], path: Path) -> None:
    t = totals(audits)
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8><title>unseen audit</title>",
        "<meta name=viewport content='width=device-width'>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
        ".clear{color:#176117}.risk{color:#a30000}.error{color:#8a5a00}section{border-top:1px solid #ccc;"
        "padding:.6em 0}img{max-width:100%;display:block}figure{position:relative;margin:.5em 0}"
        "svg{position:absolute;left:0;top:0;width:100%;height:100%}</style>",
        "<h1>unseen audit</h1>",
        f"<p>{t['files']} files: <b class=clear>{t['clear']} clear</b>, <b class=risk>{t['risk']} at risk</b>, "
        f"<b class=error>{t['error']} could not be checked</b>.</p>",
        "<p>Each file was checked for faces left visible (detectors of other families than the one that "
        "made the plan), for faces a recognition model still matches with the original, and for metadata. "
        "Pictures below are the anonymised outputs; boxes mark what was found. No original is shown.</p>",
    ]
    for a in sorted(audits, key=lambda a: {"risk": 0, "error": 1, "clear": 2}[a.status]):
        parts.append(f"<section><h2 class={a.status}>{a.status.upper()}: {html.escape(a.output)}</h2>")
        if a.error:
            parts.append(f"<p>{html.escape(a.error)}</p></section>")
            continue
        frames = f", {a.frames_checked} of {a.frames_total} frames checked" if a.kind == "video" else ""
        parts.append(
            f"<p>{a.width}x{a.height} {a.kind}{frames}; {a.faces_compared} faces checked for "
            f"re-identification ({a.faces_erased} painted flat).</p>"
        )
        for n in a.notes:
            parts.append(f"<p><i>{html.escape(n)}</i></p>")
        if a.findings:
            parts.append("<ul>" + "".join(f"<li>{html.escape(f.message)}</li>" for f in a.findings) + "</ul>")
        boxes = [f for f in a.findings if f.box is not None]
        if boxes:
            frame = boxes[0].frame
            rgb = _output_pixels(Path(a.output), frame)
            if rgb is not None:
                parts.append(_figure(rgb, [f.box for f in boxes if f.frame == frame and f.box], a.width, a.height))
        parts.append("</section>")
    parts.append("</html>")
    path.write_text("\n".join(parts), encoding="utf-8")


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


def _figure(rgb: np.ndarray, boxes: list[list[float]], width: int, height: int) -> str:
    im = Image.fromarray(rgb)
    im.thumbnail((PREVIEW, PREVIEW))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    rects = "".join(
        f"<rect x={b[0]:.0f} y={b[1]:.0f} width={b[2] - b[0]:.0f} height={b[3] - b[1]:.0f} "
        "fill=none stroke='#ff2a2a' stroke-width=4 vector-effect=non-scaling-stroke />"
        for b in boxes
    )
    return (
        f"<figure><img alt='anonymised output' src='data:image/jpeg;base64,{data}'>"
        f"<svg viewBox='0 0 {width} {height}' preserveAspectRatio=none>{rects}</svg></figure>"
    )
