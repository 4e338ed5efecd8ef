"""Review state: the plan being corrected, per-file review status (reviewed, exported, audit),
and the background jobs (the first scan, the export) that the page follows.

Edits are untrusted: each one is validated with `plan.from_json` before it replaces anything,
and saved atomically at once (a refresh or a crash loses nothing).
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unseen import plan as plan_mod
from unseen.errors import PlanError, UnseenError
from unseen.guard import Failed, guarded
from unseen.inputs import discover, sha256
from unseen.options import Options, Outcome
from unseen.output import check_output_folder, check_plan_outside
from unseen.pipeline import apply_file, scan_file
from unseen.plan import MediaPlan, Plan, Region, Settings
from unseen.review.frames import Pictures

OFF = "text_off"  # status key: a file's text regions switched off on the page (not in the plan)


class StaleEdit(UnseenError):
    """An edit made on a revision of the file that is no longer current (another tab or window
    changed it since): refused, so that it cannot silently undo the other change."""


def default_plan_path(target: Path) -> Path:
    """Where the plan of a reviewed folder (or single file) lives: a hidden `.unseen/` folder
    beside the media, so the review can be resumed later and never mixes with outputs."""
    target = Path(os.path.abspath(target))
    if target.is_dir():
        return target / ".unseen" / "plan.json"
    return target.parent / ".unseen" / f"{target.name}.plan.json"


def default_output(target: Path) -> Path:
    """Outputs go to a sibling folder `NAME-unseen`, outside the reviewed folder, so that a later
    review never takes published files for inputs."""
    target = Path(os.path.abspath(target))
    folder = target if target.is_dir() else target.parent
    return folder.parent / f"{folder.name}-unseen"


@dataclass
class Job:
    """Progress of the export (or of the initial scan): what the page's progress bar shows."""

    state: str = "idle"  # idle | running | done | failed
    done: int = 0
    total: int = 0
    current: str = ""
    fraction: float = 0.0
    message: str = ""
    output: str = ""
    audit: str = ""
    failed: list[dict[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # edited while the export ran: not exported

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Review:
    """The state behind the page: the plan being corrected, per-file review status, jobs.

    One lock guards the plan; every change is saved before the request that made it returns."""

    def __init__(
        self,
        target: Path,
        plan_path: Path | None = None,
        output: Path | None = None,
        opts: Options | None = None,
        detector_factory: Callable[[str], Any] | None = None,
    ) -> None:
        target = Path(os.path.abspath(target))
        if not target.exists():
            raise UnseenError(f"{target}: no such file or folder")
        self.root = target if target.is_dir() else target.parent
        self.only = None if target.is_dir() else target
        self.plan_path = Path(os.path.abspath(plan_path or default_plan_path(target)))
        self.status_path = self.plan_path.with_name(self.plan_path.stem + ".review.json")
        self.output = Path(os.path.abspath(output or default_output(target)))
        if self.output == self.root or self.output.is_relative_to(self.root):
            raise UnseenError(
                f"{self.output}: the output folder must be outside the reviewed folder {self.root}; "
                "choose another with -o"
            )
        check_output_folder(self.output, [self.root])  # a file, or a folder that holds the originals
        check_plan_outside(self.plan_path, self.output)  # the status file is beside the plan
        self.opts = opts or Options()
        self.detector_factory = detector_factory
        self.lock = threading.RLock()
        self.plan = self._load_plan()
        self.status: dict[str, dict[str, Any]] = self._load_status()
        self.pending: list[str] = []
        self.scan_failed: dict[str, str] = {}
        self.scan_job = Job()
        self.export_job = Job()
        self.pictures = Pictures(self.opts.max_pixels)
        self.revision = 0  # counts every change; a file's revision is the count at its last change
        self.revisions: dict[str, int] = {}

    # ---- plan and status on disk -------------------------------------------------------------

    def _load_plan(self) -> Plan:
        if self.plan_path.exists():
            plan = plan_mod.load(self.plan_path)
            if Path(plan.root) != self.root:
                plan.root = str(self.root)  # the folder was moved; entries are relative to it
            return plan
        return Plan(root=str(self.root), settings=Settings(method=self.opts.method, detector=self.opts.detector))

    def _load_status(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, dict)}

    def save(self) -> None:
        """Write plan and status atomically (called under the lock after every change)."""
        self.plan_path.parent.mkdir(parents=True, exist_ok=True)
        self.plan.save(self.plan_path)
        plan_mod.write_text_atomic(self.status_path, json.dumps(self.status, indent=1))

    # ---- scanning ----------------------------------------------------------------------------

    def find_pending(self) -> list[Path]:
        """Media under the reviewed folder that have no plan entry yet, or whose bytes changed
        since they were planned (their old entry is dropped: it would be refused at export)."""
        files = discover([self.only or self.root], self.opts.follow_symlinks).files
        planned = {m.path: m for m in self.plan.files}
        todo = []
        for p in files:
            rel = p.relative_to(self.root).as_posix()
            old = planned.get(rel)
            if old is not None:
                try:
                    same = sha256(p) == old.sha256
                except OSError:
                    same = False
                if same:
                    continue
                with self.lock:
                    self.plan.files.remove(old)
                    self.status.pop(rel, None)
                    self._touch(rel)
            todo.append(p)
        if self.only is not None:
            with self.lock:
                keep = self.only.relative_to(self.root).as_posix()
                self.plan.files = [m for m in self.plan.files if m.path == keep]
        self.pending = [p.relative_to(self.root).as_posix() for p in todo]
        return todo

    def scan_pending(self) -> None:
        """Detect faces in every file that has no plan yet; each file joins the page when done."""
        todo = self.find_pending()
        job = self.scan_job
        job.total, job.done, job.state = len(todo), 0, "running" if todo else "done"
        if not todo:
            with self.lock:
                self.save()
            return
        from unseen.detect.presets import make_detector

        factory = self.detector_factory or make_detector
        detector = factory(self.opts.detector)
        for p in todo:
            rel = p.relative_to(self.root).as_posix()
            job.current, job.fraction = rel, 0.0

            def progress(_: str, fraction: float, frames: int) -> None:
                job.fraction = fraction

            media = guarded(rel, lambda: scan_file(p, rel, detector, self.opts, progress))  # noqa: B023
            if isinstance(media, Failed):  # one odd file must not stop the scan; it is listed
                self.scan_failed[rel] = media.error
            else:
                with self.lock:
                    self.plan.files.append(media)
                    self.plan.files.sort(key=lambda m: m.path)
                    self._touch(rel)
                    self.save()
            job.done += 1
            self.pending = [x for x in self.pending if x != rel]
        job.state, job.current = "done", ""
        with self.lock:
            self.save()

    # ---- what the page reads -----------------------------------------------------------------

    def media(self, index: int) -> MediaPlan:
        with self.lock:
            if not 0 <= index < len(self.plan.files):
                raise KeyError(index)
            return self.plan.files[index]

    def source(self, media: MediaPlan) -> Path:
        """The input file of a plan entry, refused unless it resolves inside the reviewed folder."""
        path = (self.root / media.path).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            raise PermissionError(media.path)
        return path

    def file_state(self, index: int, media: MediaPlan) -> dict[str, Any]:
        st = self.status.get(media.path, {})
        return {
            "index": index,
            "path": media.path,
            "kind": media.kind,
            "width": media.width,
            "height": media.height,
            "frames": media.frames,
            "fps": media.fps,
            "regions": len(media.regions),
            "text": sum(r.kind == "text" for r in media.regions),
            "text_off": len(st.get(OFF) or []),
            "status": "exported" if st.get("exported") else "reviewed" if st.get("reviewed") else "not reviewed",
            "audit": st.get("audit"),
        }

    def state(self) -> dict[str, Any]:
        with self.lock:
            files = [self.file_state(i, m) for i, m in enumerate(self.plan.files)]
            return {
                "root": str(self.root),
                "plan": str(self.plan_path),
                "output": str(self.output),
                "method": self.plan.settings.method,
                "files": files,
                "pending": list(self.pending),
                "failed": [{"path": k, "error": v} for k, v in sorted(self.scan_failed.items())],
                "scan": self.scan_job.public(),
                "export": self.export_job.public(),
                "revision": self.revision,
            }

    def detail(self, index: int) -> dict[str, Any]:
        """A file's state and plan entry, with the revision an edit of it must name."""
        with self.lock:
            media = self.media(index)
            out = self.file_state(index, media)
            entry = Plan(root=self.plan.root, files=[media]).to_json()["files"][0]
            off = [{**r, "off": True} for r in self._entry(media, self._switched_off(media))["regions"]]
            out["plan"] = {"regions": entry["regions"] + off, "whole_frames": entry.get("whole_frames", [])}
            out["revision"] = self.revisions.get(media.path, 0)
            return out

    def _entry(self, media: MediaPlan, regions: list[Region]) -> dict[str, Any]:
        """`media`'s plan entry as JSON with `regions` in place of its own."""
        return Plan(root=self.plan.root, files=[replace(media, regions=regions)]).to_json()["files"][0]

    def _switched_off(self, media: MediaPlan) -> list[Region]:
        """The text regions of `media` switched off on the page. They are kept in the review status,
        not in the plan, so `apply` (and a plain `unseen apply` of the plan) never paints them and
        they can be switched on again. Read back from a file, they are validated like plan regions;
        a list that does not validate is dropped (its regions were not painted anyway)."""
        raw = self.status.get(media.path, {}).get(OFF)
        if not raw:
            return []
        entry = self._entry(media, [])
        entry["regions"] = raw
        try:
            checked = plan_mod.from_json({"schema": plan_mod.SCHEMA, "root": self.plan.root, "files": [entry]})
        except PlanError:
            return []
        return [r for r in checked.files[0].regions if r.kind == "text"]

    def _touch(self, path: str) -> None:
        """Record a change of `path` (under the lock): edits made on its earlier revision are stale."""
        self.revision += 1
        self.revisions[path] = self.revision

    def picture(self, index: int, published: bool, frame: int | None) -> bytes:
        """The upright picture as JPEG: the original, or rendered exactly as `apply` would."""
        media = self.media(index)
        frame = max(0, min(int(frame or 0), (media.frames or 1) - 1)) if media.kind == "video" else None
        path = self.source(media)
        if not published:
            return self.pictures.original(media, path, frame)
        with self.lock:
            regions = list(media.regions_in_frame(frame))
            whole = frame is not None and any(a <= frame <= b for a, b in media.whole_frames)
            method = self.plan.settings.method
        if whole:  # as unseen.video renders it: the whole picture is one more region
            regions.insert(0, Region(box=(0.0, 0.0, float(media.width), float(media.height)), shape="box"))
        return self.pictures.published(media, path, frame, regions, method)

    # ---- edits -------------------------------------------------------------------------------

    def update(self, index: int, body: Any) -> dict[str, Any]:
        """Replace a file's regions (and whole-frame spans) with the page's, after validating them
        exactly as a plan file is validated. Only regions, spans and the reviewed flag can change.
        A text region with `"off": true` is switched off: kept in the review status instead of the
        plan, so it is neither previewed nor exported until the page switches it on again.
        `body["revision"]` must be the file's current revision (from `detail`): an edit made on an
        older one (another tab saved since) raises StaleEdit and changes nothing."""
        if not isinstance(body, dict):
            raise PlanError("edit must be a JSON object")
        base = body.get("revision")
        if type(base) is not int:
            raise PlanError("edit must carry the file's `revision` (an integer, from api/file)")
        with self.lock:
            media = self.media(index)
            if base != self.revisions.get(media.path, 0):
                raise StaleEdit(
                    f"{media.path} was changed in another tab or window since this page loaded it. "
                    "The file has been reloaded with that change: make yours again."
                )
            entry = Plan(root=self.plan.root, files=[media]).to_json()
            f = entry["files"][0]
            off_flags: list[bool] | None = None
            if "regions" in body:
                f["regions"], off_flags = _split_off(body["regions"])
            if "whole_frames" in body and media.kind == "video":
                f["whole_frames"] = body["whole_frames"]
            checked = plan_mod.from_json(entry, source=f"edit of {media.path}").files[0]
            st = self.status.setdefault(media.path, {})
            if off_flags is not None:
                for j, (r, off) in enumerate(zip(checked.regions, off_flags, strict=True)):
                    if off and r.kind != "text":
                        raise PlanError(
                            f"edit of {media.path}: regions[{j}].off: only text regions can be switched off "
                            "(a face region that is wrong is deleted)"
                        )
                off_regions = [r for r, off in zip(checked.regions, off_flags, strict=True) if off]
                checked.regions = [r for r, off in zip(checked.regions, off_flags, strict=True) if not off]
                st[OFF] = json.loads(json.dumps(self._entry(media, off_regions)["regions"]))  # as read back
                if not off_regions:
                    del st[OFF]
            changed = checked.regions != media.regions or checked.whole_frames != media.whole_frames
            media.regions, media.whole_frames = checked.regions, checked.whole_frames
            if changed:
                st["exported"] = False
                st["audit"] = None
            if "reviewed" in body:
                st["reviewed"] = bool(body["reviewed"])
            self._touch(media.path)
            self.save()
            return self.detail(index)

    # ---- export ------------------------------------------------------------------------------

    def export(self) -> bool:
        """Start rendering every planned file into the output folder; False if one is running."""
        with self.lock:
            if self.export_job.state == "running" or self.scan_job.state == "running":
                return False
            plan = copy.deepcopy(self.plan)
            self.export_job = Job(state="running", total=len(plan.files), output=str(self.output))
        threading.Thread(target=self._export, args=(plan,), daemon=True, name="unseen-export").start()
        return True

    def _export(self, plan: Plan) -> None:
        job = self.export_job
        opts = copy.copy(self.opts)
        opts.method = plan.settings.method
        outcomes: list[Outcome] = []
        try:
            for media in plan.files:
                job.current, job.fraction = media.path, 0.0

                def progress(_: str, fraction: float, frames: int) -> None:
                    job.fraction = fraction

                dest = guarded(media.path, lambda: apply_file(plan, media, self.output, opts, progress))  # noqa: B023
                if isinstance(dest, Failed):  # one odd file must not stop the export; it is listed
                    outcomes.append(Outcome(media.path, error=dest.error))
                    job.failed.append({"path": media.path, "error": dest.error})
                else:
                    outcomes.append(Outcome(media.path, str(dest), media.faces))
                job.done += 1
            with self.lock:
                job.changed = self._changed_since(plan)
                for o in outcomes:
                    st = self.status.setdefault(o.path, {})
                    st["exported"] = o.ok and o.path not in job.changed
                    st["output"] = o.output
                self.save()
            job.current = "audit"
            job.audit = self._audit(plan, outcomes)
            job.state = "failed" if job.failed else "done"
            job.message = f"{job.done - len(job.failed)} of {job.total} files written to {self.output}"
            if job.changed:
                job.message += (
                    f"; {len(job.changed)} changed during the export and not marked exported "
                    f"(their output lacks the change): export again ({', '.join(job.changed)})"
                )
        except Exception as e:  # shown on the page; the server keeps running
            job.state, job.message = "failed", f"export stopped: {e}"
        job.current = ""

    def _changed_since(self, plan: Plan) -> list[str]:
        """Files whose plan entry differs from the one in `plan` (an export's copy): edited while
        it ran, so their output does not show the edit (under the lock)."""
        now = {m.path: m for m in self.plan.files}
        return sorted(m.path for m in plan.files if now.get(m.path) != m)

    def _audit(self, plan: Plan, outcomes: list[Outcome]) -> str:
        """Run the audit on the outputs when the audit module is installed; its verdict per file
        is stored in the review status so the file list shows it."""
        try:
            from unseen.review import audit_bridge
        except ImportError:  # pragma: no cover
            return "audit unavailable"
        try:
            results = audit_bridge.audit(plan, outcomes)
        except Exception as e:  # an audit problem must not hide that the files were written
            return f"audit failed: {e}"
        if results is None:
            return "audit unavailable"
        with self.lock:
            changed = set(self._changed_since(plan))
            for path, verdict in results.items():
                if path not in changed:  # the verdict is about an output that is already out of date
                    self.status.setdefault(path, {})["audit"] = verdict
            self.save()
        risky = sorted(p for p, v in results.items() if v != "clear")
        return "clear" if not risky else "risk: " + ", ".join(risky)

    def close(self) -> None:
        self.pictures.close()


def _split_off(regions: Any) -> tuple[Any, list[bool]]:
    """The page's regions without their `off` flags, and the flags (False where absent); anything
    that is not a list of objects is passed on for `plan.from_json` to refuse with its message."""
    if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
        return regions, [False] * (len(regions) if isinstance(regions, list) else 0)
    flags = []
    for j, r in enumerate(regions):
        off = r.get("off", False)
        if not isinstance(off, bool):
            raise PlanError(f"regions[{j}].off must be true or false, not {off!r:.40}")
        flags.append(off)
    return [{k: v for k, v in r.items() if k != "off"} for r in regions], flags
