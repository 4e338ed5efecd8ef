"""`unseen doctor`: is everything unseen needs here, offline? Models (with checksums), runtimes,
codecs, the cache folder, and a word on the network: one screen, exit 0 when all is well and 1
naming what is missing, so a newcomer or a deployment script knows before the first real file."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from unseen import __version__

EXIT_OK, EXIT_MISSING = 0, 1

EPILOG = """examples:
  unseen doctor          what is installed, and whether unseen can run here (offline)
  unseen doctor --json   the same for scripts and bug reports
checks: the shipped models and their checksums, onnxruntime, PyAV/FFmpeg with the H.264 and
AAC encoders, Pillow with HEIF support, dlib, OpenCV, and the cache folder
exit codes: 0 all is well, 1 something required is missing or damaged (each named)"""


@dataclass
class Check:
    """One line of the report. A failed check that is not `required` costs speed or one feature,
    never a face: it is shown as a warning and does not fail the doctor."""

    group: str
    name: str
    ok: bool
    detail: str
    required: bool = True


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check models, runtimes, codecs and the cache folder; exit 1 if anything is missing",
        description="Check that everything unseen needs is installed here and works offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON on stdout")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    checks = run_checks()
    problems = [c for c in checks if c.required and not c.ok]
    if args.json:
        out = {
            "version": __version__,
            "ok": not problems,
            "checks": [asdict(c) for c in checks],
            "cache": str(_cache()),
            "network_needed": False,
            "problems": [f"{c.name}: {c.detail}" for c in problems],
        }
        print(json.dumps(out, indent=1))
    else:
        print(_text(checks, problems))
    return EXIT_MISSING if problems else EXIT_OK


def run_checks() -> list[Check]:
    """Every check, each guarded: one broken library is reported, never a traceback."""
    checks: list[Check] = []
    for group, name, probe, required in PROBES:
        try:
            ok, detail = probe()
        except Exception as e:  # noqa: BLE001 - a missing or broken library is what the doctor reports
            ok, detail = False, f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
        checks.append(Check(group, name, ok, detail, required))
    return checks


def _text(checks: list[Check], problems: list[Check]) -> str:
    lines = [f"unseen {__version__} (Python {platform.python_version()}, {Path(__file__).parent})"]
    group = ""
    for c in checks:
        if c.group != group:
            group = c.group
            lines.append(group)
        mark = "ok  " if c.ok else ("MISS" if c.required else "warn")
        lines.append(f"  {mark} {c.name:<24} {c.detail}")
    if problems:
        lines.append(f"{len(problems)} problem(s): " + "; ".join(c.name for c in problems))
        lines.append("reinstall unseen in a fresh virtual environment: pip install .  (see README, Set up)")
    else:
        lines.append("all is well: unseen can run here, offline")
    return "\n".join(lines)


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _centerface() -> tuple[bool, str]:
    from unseen.models import CENTERFACE

    problem = CENTERFACE.verify()
    if problem:
        return False, problem
    return True, f"{CENTERFACE.path} ({_mb(CENTERFACE.path)}, sha256 ok, MIT: LICENSE beside it)"


def _shipped(name: str) -> Callable[[], tuple[bool, str]]:
    """A model of unseen.models other than CenterFace: there, and its checksum right."""

    def check() -> tuple[bool, str]:
        from unseen import models

        model = getattr(models, name)
        problem = model.verify()
        return (False, problem) if problem else (True, f"{model.path} ({_mb(model.path)}, sha256 ok, {model.licence})")

    return check


def _int8_ranges() -> tuple[bool, str]:
    from importlib.resources import files

    from unseen.detect.centerface import INT8_RANGES, int8_is_fast

    path = Path(str(files("unseen.detect") / INT8_RANGES))
    use = "int8 video model used on this CPU" if int8_is_fast() else "float model on this CPU (no int8 dot product)"
    if not path.is_file():
        return False, f"{path} missing: video runs the float model (slower)"
    return True, f"{path.name}: {use}"


def _recogniser() -> tuple[bool, str]:
    from unseen.audit.reid import _model_dir

    d = _model_dir()
    names = ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat")
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        return False, f"{d}: missing {', '.join(missing)} (pip install face-recognition-models)"
    return True, f"{d} ({_mb(d / names[0])}, CC0; audit)"


def _haar() -> tuple[bool, str]:
    import cv2

    root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
    names = ("haarcascade_frontalface_alt2.xml", "haarcascade_profileface.xml")
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        return False, f"{root}: missing {', '.join(missing)} (opencv-python-headless 4.x ships them)"
    return True, f"{root} (BSD; audit)"


def _hog() -> tuple[bool, str]:
    import dlib

    dlib.get_frontal_face_detector()
    return True, f"in dlib {dlib.__version__} (Boost licence; audit)"


def _onnxruntime() -> tuple[bool, str]:
    import onnxruntime as ort

    from unseen.detect.centerface import _session

    _session(1)  # the model loads and onnxruntime accepts it
    return True, f"{ort.__version__} ({', '.join(ort.get_available_providers())}); CenterFace loads"


def _pyav() -> tuple[bool, str]:
    import av

    ffmpeg = getattr(av, "ffmpeg_version_info", None) or ".".join(map(str, av.library_versions["libavcodec"]))
    return True, f"PyAV {av.__version__}, FFmpeg {ffmpeg}"


def _pillow() -> tuple[bool, str]:
    import PIL
    import pillow_heif

    return True, f"Pillow {PIL.__version__}, pillow-heif {pillow_heif.__version__} (HEIC, AVIF)"


def _module(name: str, label: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        import importlib

        module = importlib.import_module(name)
        return True, f"{label} {getattr(module, '__version__', '?')}"

    return probe


def _codec(name: str, mode: Literal["r", "w"], why: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        import av

        try:
            codec = av.codec.Codec(name, mode)
        except ValueError:  # av.codec.UnknownCodecError
            return False, f"{name} not in this PyAV's FFmpeg: {why} (install the PyAV wheel from PyPI)"
        return True, f"{codec.name}: {why}"

    return probe


def _cache() -> Path:
    from unseen.detect.centerface import cache_dir

    return cache_dir()


def _cache_check() -> tuple[bool, str]:
    path = _cache()
    kept = len(list(path.glob("centerface-int8-*.onnx"))) if path.is_dir() else 0
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return False, f"{path}: not writable; the int8 model is rebuilt each run (1-2.5 s); set UNSEEN_CACHE_DIR"
    what = f"{kept} int8 model(s) kept" if kept else "empty (int8 model built on the first video, 1-2.5 s)"
    return True, f"{path}: {what}, nothing of your media"


def _network() -> tuple[bool, str]:
    return True, "not needed: every model above is a local file; nothing is downloaded"


PROBES: list[tuple[str, str, Callable[[], tuple[bool, str]], bool]] = [
    ("models", "CenterFace face detector", _centerface, True),
    ("models", "CenterFace int8 ranges", _int8_ranges, False),
    ("models", "dlib ResNet recogniser", _recogniser, True),
    ("models", "PP-OCRv6 text detector (--text)", _shipped("TEXT_DETECTOR"), False),
    ("models", "speaker encoder (audit of voices)", _shipped("VOICE_ENCODER"), True),
    ("models", "dlib HOG face detector", _hog, True),
    ("models", "OpenCV Haar cascades", _haar, True),
    ("runtimes", "onnxruntime", _onnxruntime, True),
    ("runtimes", "PyAV / FFmpeg", _pyav, True),
    ("runtimes", "Pillow / pillow-heif", _pillow, True),
    ("runtimes", "OpenCV", _module("cv2", "opencv-python-headless"), True),
    ("runtimes", "numpy", _module("numpy", "numpy"), True),
    ("codecs", "H.264 encoder", _codec("libx264", "w", "writes every video"), True),
    ("codecs", "H.264 decoder", _codec("h264", "r", "reads most phone and camera videos"), True),
    ("codecs", "AAC encoder", _codec("aac", "w", "audio that MP4 cannot carry as it is"), True),
    ("codecs", "Opus encoder", _codec("libopus", "w", "audio of WebM outputs only"), False),
    ("cache", "cache folder", _cache_check, False),
    ("network", "network", _network, True),
]
