"""The Python API (unseen.anonymise, scan, apply, audit) on real files: what a script that
publishes a dataset would call, and the typed errors it can catch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import unseen
from tests.conftest import EXAMPLES, data

PHOTO = EXAMPLES / "astronaut.jpg"


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Two example photos in a folder of their own (inputs are never written into)."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("astronaut.jpg", "photographer.jpg"):
        shutil.copy(EXAMPLES / name, d / name)
    return d


def test_anonymise_writes_the_named_file_and_leaves_the_input(tmp_path: Path) -> None:
    before = PHOTO.read_bytes()
    outcome = unseen.anonymise(PHOTO, tmp_path / "public" / "portrait.jpeg", preset="fast", method="solid")
    assert isinstance(outcome, unseen.Outcome) and outcome.ok and outcome.regions >= 1
    assert outcome.output == str(tmp_path / "public" / "portrait.jpeg") and Path(outcome.output).is_file()
    assert PHOTO.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == ["portrait.jpeg"]  # no temporary left


def test_anonymise_beside_the_input_and_into_a_folder(folder: Path, tmp_path: Path) -> None:
    beside = unseen.anonymise(folder / "astronaut.jpg")
    assert beside.output == str(folder / "astronaut.unseen.jpg")
    (tmp_path / "out").mkdir()
    into = unseen.anonymise(folder / "astronaut.jpg", tmp_path / "out")
    assert into.output == str(tmp_path / "out" / "astronaut.jpg")


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda d: (d / "missing.jpg", d / "o.jpg"), unseen.UnseenError, "no such file"),
        (lambda d: (d / "astronaut.jpg", d / "astronaut.jpg"), unseen.OutputError, "overwrite the input"),
        (lambda d: (d / "astronaut.jpg", d / "out.png"), unseen.OutputError, "'.jpg'"),
        (lambda d: (d / "notes.jpg", d / "o.jpg"), unseen.MediaError, "re-export it"),
        (lambda d: (d, d / "o.jpg"), unseen.UnseenError, "is a folder; anonymise takes one file"),
    ],
    ids=["missing", "over-input", "other-format", "not-media", "folder"],
)
def test_anonymise_raises_typed_errors_and_writes_nothing(
    folder: Path, make: object, error: type[Exception], words: str
) -> None:
    (folder / "notes.jpg").write_text("not a photo")
    before = sorted(p.name for p in folder.iterdir())
    src, dst = make(folder)  # type: ignore[operator]
    with pytest.raises(error, match=words):
        unseen.anonymise(src, dst)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_options_are_checked() -> None:
    with pytest.raises(TypeError, match="colour"):
        unseen.anonymise(PHOTO, "x.jpg", colour="red")
    with pytest.raises(ValueError, match="method"):
        unseen.anonymise(PHOTO, "x.jpg", method="pixelate")
    with pytest.raises(unseen.UnseenError, match="preset"):  # OptionError: a ValueError and an UnseenError
        unseen.scan([PHOTO], preset="quick")


def test_scan_then_apply_renders_an_edited_plan(folder: Path, tmp_path: Path) -> None:
    plan = unseen.scan(folder)
    assert [f.path for f in plan.files] == ["astronaut.jpg", "photographer.jpg"]
    assert all(f.regions for f in plan.files)
    plan.files[1].regions = []  # an edit: leave the second photo as it is
    saved = tmp_path / "plan.json"
    plan.save(saved)
    outcomes = unseen.apply(saved, tmp_path / "out", method="solid")
    assert [(o.path, o.ok) for o in outcomes] == [("astronaut.jpg", True), ("photographer.jpg", True)]
    assert outcomes[1].regions == 0
    report = unseen.audit(folder, tmp_path / "out")
    assert [a.status for a in report.files] == ["clear", "risk"]  # the face left in is found
    assert report.risk and not report.clear
    assert report.to_json()["totals"] == {"files": 2, "clear": 1, "risk": 1, "error": 0}


def test_scan_names_unreadable_files_and_keeps_the_plan_of_the_others(folder: Path) -> None:
    (folder / "broken.jpg").write_bytes(PHOTO.read_bytes()[:2000])
    with pytest.raises(unseen.FilesFailed) as caught:
        unseen.scan([folder])
    assert [path for path, _ in caught.value.failures] == ["broken.jpg"]
    assert "broken.jpg" in str(caught.value)
    assert [f.path for f in caught.value.plan.files] == ["astronaut.jpg", "photographer.jpg"]


def test_apply_reports_a_changed_input_and_writes_the_rest(folder: Path, tmp_path: Path) -> None:
    plan = unseen.scan(folder, preset="fast")
    shutil.copy(EXAMPLES / "astronaut.jpg", folder / "photographer.jpg")  # changed since the plan
    outcomes = unseen.apply(plan, tmp_path / "out")
    assert outcomes[0].ok and not outcomes[1].ok and "changed since the plan" in (outcomes[1].error or "")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["astronaut.jpg"]


def test_apply_refuses_a_malformed_plan(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"schema": "unseen.plan/1", "root": ".", "files": [{"path": "../../etc/passwd"}]}')
    with pytest.raises(unseen.PlanError):
        unseen.apply(bad, tmp_path / "out")


def test_audit_of_an_untouched_copy_is_a_risk_and_missing_paths_raise(tmp_path: Path) -> None:
    report = unseen.audit(PHOTO, PHOTO)
    assert report.risk and {f.check for f in report.files[0].findings} >= {"face", "metadata"}
    with pytest.raises(unseen.UnseenError, match="no such file"):
        unseen.audit(PHOTO, tmp_path / "nothing.jpg")


def test_anonymise_a_real_phone_photo_with_gps(tmp_path: Path) -> None:
    """Beyond the examples: a real camera JPEG carrying GPS comes out clean through the API."""
    photo = data("dirty", "jpeg_camera", "DSCN0010.jpg")  # a Nikon JPEG with GPS (dirty/MANIFEST.tsv)
    from unseen.audit import metadata

    assert metadata.scan(photo)  # the original carries metadata
    out = unseen.anonymise(photo, tmp_path / photo.name)
    report = unseen.audit(photo, out.output or "")
    assert not [f for f in report.files[0].findings if f.check == "metadata"], report.summary()
