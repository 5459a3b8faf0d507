"""``models info ID|PATH [--json]``: a model's page headless, read from its GGUF metadata without
loading it, for a generated model with its projector, the real Gemma 3 270M (text only, and with
a projector that fits it), a model known by its id, and every way the target can be wrong.

Run as real subprocesses, the way scripts and the checks use the command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from desktop_app.models import fit
from desktop_app.models.gemma_files import inspect_model, inspect_projector
from desktop_app.models.registry import ModelRegistry
from tests.support.cli import assert_one_clear_line, run_cli
from tests.support.data import Models

CONTRACT_KEYS = [
    "name",
    "architecture",
    "parameters",
    "quantization",
    "file_size",
    "context_length",
    "vision",
    "projector",
    "license",
    "memory_needed",
    "expected_tok_s",
]
PROJECTOR_KEYS = ["path", "image_size", "tokens_per_image"]


def info_json(*args: str | Path) -> dict[str, Any]:
    """``models info ARGS --json``: one JSON object (parsed JSON, so its values are Any)."""
    result = run_cli("models", "info", *args, "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    page = json.loads(lines[0])
    assert list(page) == CONTRACT_KEYS
    return page


def test_a_generated_model_with_the_projector_beside_it(models: Models) -> None:
    page = info_json(models.tiny)
    header = inspect_model(models.tiny)
    projector = inspect_projector(models.mmproj)

    assert page["name"] == header.name
    assert page["architecture"] == "gemma3"
    assert page["parameters"] == header.parameter_count and header.parameter_count > 0
    assert page["quantization"] == header.quantization
    assert page["file_size"] == models.tiny.stat().st_size
    assert page["context_length"] == 8192
    assert page["vision"] is True
    # Of the three projectors in the folder, the one that fits (64-wide), as opening the file does.
    assert page["projector"] == {
        "path": str(models.mmproj),
        "image_size": projector.image_size,
        "tokens_per_image": models.tokens_per_image,
    }
    assert list(page["projector"]) == PROJECTOR_KEYS
    assert page["license"] is None  # the generated file states none
    # The memory estimate of the fit check, at the default context (8,192, the tiny model's own).
    expected = fit.estimate_memory(
        header.file_size, fit.ModelShape.from_gguf(header), 8192, projector_bytes=projector.file_size
    )
    assert page["memory_needed"] == expected.total
    assert isinstance(page["expected_tok_s"], float) and page["expected_tok_s"] > 0


@pytest.mark.slow
def test_the_real_270m_text_only_and_with_a_projector(gemma270m: Path, models: Models) -> None:
    page = info_json(gemma270m, "--context", "4096")
    assert page["name"] == "Gemma 3 270m"
    assert (page["architecture"], page["quantization"], page["license"]) == ("gemma3", "Q4_K_M", "gemma")
    assert page["context_length"] == 32768
    assert 260_000_000 < page["parameters"] < 280_000_000
    assert page["vision"] is False and page["projector"] is None  # nothing fitting beside it
    at_4k = page["memory_needed"]
    assert at_4k == fit.check_files_fit(inspect_model(gemma270m), None, 4096, fit.machine_memory()).estimate.total

    with_projector = info_json(gemma270m, "--mmproj", models.mmproj_270m, "--context", "4096")
    assert with_projector["vision"] is True
    assert with_projector["projector"] == {
        "path": str(models.mmproj_270m),
        "image_size": 64,
        "tokens_per_image": models.tokens_per_image,
    }
    assert with_projector["memory_needed"] > at_4k

    text = run_cli("models", "info", gemma270m)
    assert text.returncode == 0, text.stderr
    for words in ("Gemma 3 270m", "Q4_K_M", "32,768 tokens", "18, sliding window 512 tokens",
                  "the built-in Gemma 3 template is used", "text only", "tokens/s on"):
        assert words in text.stdout, text.stdout


def test_a_local_model_by_its_id_and_a_file_deleted_behind_the_apps_back(tmp_path: Path, models: Models) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    model = Path(shutil.copy(models.tiny, folder / "gemma.gguf"))
    shutil.copy(models.mmproj, folder / "mmproj-gemma.gguf")
    imported = ModelRegistry().import_path(folder).models[0]

    page = info_json(imported.id)
    assert page["name"] == imported.name and page["vision"] is True
    assert page["projector"]["path"] == str(folder / "mmproj-gemma.gguf")
    assert info_json(model)["name"] == imported.name  # the same page when named by its path

    model.unlink()
    assert_one_clear_line(run_cli("models", "info", imported.id), 2, "no longer at", str(model))


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no-such-model", ("no local model or GGUF file called 'no-such-model'",)),
        ("gemma-3-4b-it-qat-q4_0", ("in the download catalog but not on this computer", "models download")),
        ("missing/model.gguf", ("was not found",)),
    ],
)
def test_a_wrong_target_is_one_clear_line(target: str, words: tuple[str, ...]) -> None:
    assert_one_clear_line(run_cli("models", "info", target, "--json"), 2, *words)


def test_a_projector_or_a_mismatched_pair_is_one_clear_line(models: Models) -> None:
    assert_one_clear_line(run_cli("models", "info", models.mmproj), 2, "is a vision projector (mmproj), not a model")
    assert_one_clear_line(
        run_cli("models", "info", models.tiny, "--mmproj", models.mmproj_mismatch), 2, "48-wide", "expects 64"
    )
    assert_one_clear_line(run_cli("models", "info", models.tiny, "--context", "0"), 2, "--context")
