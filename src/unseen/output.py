"""Writing outputs atomically: a hidden temporary file in the target folder, renamed into place
only when complete, so a crash, Ctrl-C or error never leaves a partly obscured file under the
final name; temporaries carry this run's tag, so that only unseen's own are ever swept."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from unseen.errors import OutputError, UnseenError


@contextlib.contextmanager
def folders(dest: Path) -> Iterator[None]:
    """The folders `dest` needs are made by the writing; a failed file leaves none it made
    behind (empty ones only)."""
    made = missing_dirs(dest.parent)
    try:
        yield
    except BaseException:
        for d in made:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def missing_dirs(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first."""
    out = []
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


# Every temporary output this process writes ends in `.TAG.part`. A batch records its tag in its
# resume state (engines.manifest) and hands it to its workers, so that a later run into the same
# folder removes the temporaries a killed run left, and nothing else: not a file of the user's
# that happens to be named like one, not the temporary of a run still writing.
_temp_tag = secrets.token_hex(8)


def temp_tag() -> str:
    """The tag this process's temporary outputs carry."""
    return _temp_tag


def set_temp_tag(tag: str) -> None:
    """Take the batch's tag (a worker process, in its initializer)."""
    global _temp_tag
    _temp_tag = tag


def is_temporary(name: str, tags: set[str]) -> bool:
    """A temporary output written under one of `tags` (see atomic_output)."""
    return name.startswith(".") and name.endswith(".part") and name.rsplit(".", 2)[-2] in tags


def check_output_folder(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse (UnseenError) an output folder that is a file, that is or lies inside an input
    folder (its outputs would be taken for inputs by the next run and anonymised again), or that
    holds an input (the folder the user publishes would hold originals)."""
    if out.exists() and not out.is_dir():
        raise UnseenError(f"-o {out}: is a file, not a folder; give a folder for the outputs")
    real = out.resolve()
    for p in inputs:
        if p.is_dir() and real.is_relative_to(p.resolve()):
            raise UnseenError(
                f"-o {out}: is inside the input folder {p}; the next run would take the outputs for inputs: "
                "choose an output folder outside the inputs"
            )
        if p.exists() and p.resolve().is_relative_to(real):
            raise UnseenError(
                f"-o {out}: holds the input {p}; the folder published would hold originals: "
                "choose an output folder outside the inputs"
            )


def check_plan_outside(plan: Path, out: Path) -> None:
    """Refuse (UnseenError) a plan file inside the output folder: the plan holds each original's
    SHA-256, the inputs' folder and every face box, and published with the outputs it would tie
    each one to its original (as the resume state did when it was kept there)."""
    if Path(os.path.realpath(plan)).is_relative_to(os.path.realpath(out)):
        raise UnseenError(
            f"--plan {plan}: is inside the output folder {out}, which is for the anonymised media only "
            "(the plan ties each output to its original): keep it outside"
        )


class atomic_output:
    """Context manager yielding a temporary path beside `dest`; renamed to `dest` only on success.

    The temporary name starts with a dot and ends in `.TAG.part` (temp_tag), so a crash leaves
    at worst a hidden `.part` file, never a partial file under the final name, and the run that
    sweeps it knows it was unseen's. An OS error about the temporary or the output (a full disk,
    a read-only folder, a folder where the file should go) is an OutputError naming the output,
    not the temporary the user never asked for."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        suffix = f"{dest.suffix}.{_temp_tag}.part"
        for attempt in range(3):
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{dest.stem[:40]}.", suffix=suffix, dir=dest.parent)
                break
            except FileNotFoundError as e:  # a sibling worker's failed file removed the empty folder just now
                if attempt == 2:
                    raise self._cannot(e) from e
            except OSError as e:
                raise self._cannot(e) from e
        os.close(fd)
        self.tmp = Path(name)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc_type is None:
                if self.tmp.stat().st_size == 0:
                    raise OutputError(f"{self.dest}: nothing was written; no output was made")
                with open(self.tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.chmod(self.tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are for sharing
                os.replace(self.tmp, self.dest)
        except OSError as e:
            raise self._cannot(e) from e
        finally:  # also on Ctrl-C during fsync/rename
            self.tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and {exc.filename, exc.filename2} & {str(self.tmp), str(self.dest)}:
            raise self._cannot(exc) from exc

    def _cannot(self, e: OSError) -> OutputError:
        return OutputError(f"{self.dest}: cannot write ({e.strerror or e}); check free space and permissions")
