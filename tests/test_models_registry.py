"""The local model registry: importing GGUFs in place, pairing projectors by fit, removing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app import gguf_fixtures, paths
from desktop_app.errors import UserError
from desktop_app.models.catalog import load_catalog
from desktop_app.models.download import DownloadedFiles, destination_for
from desktop_app.models.registry import ModelRegistry
from tests.support.data import Models


@pytest.fixture
def library(tmp_path: Path, models: Models) -> Path:
    """A user's folder: two models of different widths, their projectors, and clutter.

    File names say nothing true on purpose: pairing must come from metadata alone.
    """
    folder = tmp_path / "my models"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(models.tiny, folder / "a.gguf")  # 64-wide model
    gguf_fixtures.write_tiny_gemma3_model(folder / "sub" / "b.gguf", n_embd=48)
    shutil.copy(models.mmproj_mismatch, folder / "projector-for-a.gguf")  # really 48 wide
    shutil.copy(models.mmproj, folder / "sub" / "zzz.gguf")  # really 64 wide
    shutil.copy(models.not_gguf, folder / "notes.gguf")
    (folder / "readme.txt").write_text("not a model")
    return folder


def test_import_a_folder_pairs_projectors_by_width_not_by_name(library: Path) -> None:
    registry = ModelRegistry()
    result = registry.import_path(library)

    by_file = {m.model_path.name: m for m in result.models}
    assert set(by_file) == {"a.gguf", "b.gguf"}
    assert by_file["a.gguf"].mmproj_path == library / "sub" / "zzz.gguf"
    assert by_file["b.gguf"].mmproj_path == library / "projector-for-a.gguf"
    assert all(m.source == "imported" for m in result.models)
    assert len(result.skipped) == 1 and "notes.gguf" in str(result.skipped[0])
    assert sorted(m.id for m in registry.models()) == ["a", "b"]


def test_imported_files_are_referenced_in_place_never_copied(library: Path) -> None:
    ModelRegistry().import_path(library / "a.gguf")
    assert not list(paths.models_dir().rglob("*"))
    assert ModelRegistry().get("a").model_path == library / "a.gguf"


def test_a_projector_imported_later_joins_the_model_it_fits(library: Path) -> None:
    registry = ModelRegistry()
    registry.import_path(library / "a.gguf")
    assert registry.get("a").mmproj_path is None

    with pytest.raises(UserError, match="48-wide models and no known model fits it"):
        registry.import_path(library / "projector-for-a.gguf")
    result = registry.import_path(library / "sub" / "zzz.gguf")

    assert [m.id for m in result.models] == ["a"]
    assert registry.get("a").mmproj_path == library / "sub" / "zzz.gguf"


def test_importing_the_same_file_again_updates_rather_than_duplicates(library: Path) -> None:
    registry = ModelRegistry()
    registry.import_path(library / "a.gguf")
    registry.import_path(library)
    assert sorted(m.id for m in registry.models()) == ["a", "b"]


def test_same_file_name_in_two_folders_gets_two_ids(tmp_path: Path, models: Models) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        shutil.copy(models.tiny, tmp_path / name / "model.gguf")
    registry = ModelRegistry()
    registry.import_path(tmp_path / "one" / "model.gguf")
    registry.import_path(tmp_path / "two" / "model.gguf")
    assert sorted(m.id for m in registry.models()) == ["model", "model-2"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.gguf", "does not exist"),
        (lambda d: d, "No GGUF files were found"),
        (lambda d: shutil.copy(Path(__file__), d / "x.gguf") and d / "x.gguf", "not a GGUF model file"),
    ],
)
def test_import_problems_are_one_sentence(tmp_path: Path, make: Callable[[Path], str | Path], message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        ModelRegistry().import_path(make(tmp_path))
    assert "\n" not in str(info.value)
    assert ModelRegistry().models() == []


def test_removing_an_imported_model_keeps_its_files(library: Path) -> None:
    registry = ModelRegistry()
    registry.import_path(library)
    removal = registry.remove("a")
    assert removal.deleted == ()
    assert (library / "a.gguf").exists() and (library / "sub" / "zzz.gguf").exists()
    assert [m.id for m in registry.models()] == ["b"]


def _fake_download(entry_id: str, models: Models) -> DownloadedFiles:
    """Put tiny files where a download of ``entry_id`` would, as run_download leaves them."""
    entry = load_catalog().get(entry_id)
    assert entry.mmproj_file is not None
    model = destination_for(entry.repo, entry.model_file)
    mmproj = destination_for(entry.repo, entry.mmproj_file)
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(models.tiny, model)
    shutil.copy(models.mmproj, mmproj)
    return DownloadedFiles(model, "a" * 64, mmproj, "b" * 64)


def test_removing_a_download_deletes_its_files_but_not_a_shared_projector(models: Models) -> None:
    catalog = load_catalog()
    registry = ModelRegistry()
    # Two quantisations from one repository share mmproj-model-f16.gguf.
    q4 = registry.add_download(catalog.get("gemma-3-4b-it-q4_k_m"), _fake_download("gemma-3-4b-it-q4_k_m", models))
    q8 = registry.add_download(catalog.get("gemma-3-4b-it-q8_0"), _fake_download("gemma-3-4b-it-q8_0", models))
    assert q4.mmproj_path == q8.mmproj_path
    assert registry.verified_files()[q4.model_path] == "a" * 64

    first = registry.remove(q4.id)
    assert first.deleted == (q4.model_path,)
    assert q8.mmproj_path is not None and q8.mmproj_path.exists()

    second = registry.remove(q8.id)
    assert set(second.deleted) == {q8.model_path, q8.mmproj_path}
    assert not list(paths.models_dir().iterdir())  # empty owner/repo folders went too


def test_importing_the_models_folder_leaves_downloads_as_downloads(models: Models) -> None:
    registry = ModelRegistry()
    entry = load_catalog().get("gemma-3-4b-it-q4_k_m")
    registry.add_download(entry, _fake_download(entry.id, models))
    with pytest.raises(UserError, match="already in the list of models"):
        registry.import_path(paths.models_dir())
    assert [(m.id, m.source) for m in registry.models()] == [(entry.id, "downloaded")]


def test_a_download_outside_the_models_folder_is_never_deleted(tmp_path: Path, models: Models) -> None:
    outside = tmp_path / "elsewhere.gguf"
    shutil.copy(models.tiny, outside)
    registry = ModelRegistry()
    registry.add_download(
        load_catalog().get("gemma-3-1b-it-q4_k_m"), DownloadedFiles(outside, "c" * 64, None, None)
    )
    assert registry.remove("gemma-3-1b-it-q4_k_m").deleted == ()
    assert outside.exists()


def test_a_download_whose_projector_does_not_fit_is_not_recorded(models: Models) -> None:
    files = _fake_download("gemma-3-4b-it-q4_k_m", models)
    assert files.mmproj_path is not None
    shutil.copy(models.mmproj_mismatch, files.mmproj_path)
    registry = ModelRegistry()
    with pytest.raises(UserError, match="expects 64"):
        registry.add_download(load_catalog().get("gemma-3-4b-it-q4_k_m"), files)
    assert registry.models() == []


def test_a_moved_file_shows_as_unavailable(library: Path) -> None:
    registry = ModelRegistry()
    registry.import_path(library / "a.gguf")
    (library / "a.gguf").rename(library / "moved.gguf")
    assert not registry.get("a").available


def test_the_registry_is_plain_json_in_the_config_dir(library: Path) -> None:
    ModelRegistry().import_path(library / "a.gguf")
    data = json.loads((paths.config_dir() / "models.json").read_text())
    assert data["schema_version"] == 1
    assert data["models"][0]["model_path"] == str(library / "a.gguf")


def test_a_damaged_registry_is_one_sentence(library: Path) -> None:
    (paths.config_dir() / "models.json").write_text("{not json")
    with pytest.raises(UserError, match="is damaged; delete that file"):
        ModelRegistry().models()


def test_unknown_ids(library: Path) -> None:
    with pytest.raises(UserError, match="no local model called 'nope'"):
        ModelRegistry().remove("nope")
    with pytest.raises(UserError, match="no catalog model called 'nope'"):
        load_catalog().get("nope")


def test_another_projector_is_checked_before_it_is_paired(library: Path, models: Models) -> None:
    registry = ModelRegistry()
    model = registry.import_path(library / "a.gguf").models[0]
    assert model.mmproj_path is None
    with pytest.raises(UserError, match=r"48-wide embeddings but model a\.gguf expects 64"):
        registry.set_projector(model.id, library / "projector-for-a.gguf")
    with pytest.raises(UserError, match="is a model, not a vision projector"):
        registry.set_projector(model.id, library / "sub" / "b.gguf")
    paired = registry.set_projector(model.id, library / "sub" / "zzz.gguf")
    assert paired.mmproj_path == (library / "sub" / "zzz.gguf").resolve()
    assert registry.get(model.id) == paired
    assert registry.set_projector(model.id, None).mmproj_path is None
