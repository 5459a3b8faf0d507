"""The shipped Gemma 3 catalog: well-formed, and saying what the issue promises users."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from desktop_app.models.catalog import CatalogEntry, load_catalog, parse_catalog

CATALOG = load_catalog()


def test_every_size_and_quantisation_is_offered() -> None:
    offered = {(e.params, e.quantization) for e in CATALOG if not e.gated}
    for params in ("1B", "4B", "12B", "27B"):
        assert (params, "QAT Q4_0") in offered
        assert (params, "Q4_K_M") in offered


@pytest.mark.parametrize("entry", CATALOG.entries, ids=lambda e: e.id)
def test_entry_is_well_formed(entry: CatalogEntry) -> None:
    assert re.fullmatch(r"[a-z0-9._-]+", entry.id)
    assert re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", entry.repo)
    assert entry.model_file.endswith(".gguf") and "/" not in entry.model_file
    if entry.params == "1B":
        assert entry.mmproj_file is None and entry.context_length == 32768  # text only, 32K
        assert entry.shape.sliding_window == 512
    else:
        assert entry.mmproj_file and entry.mmproj_file.startswith("mmproj") and entry.mmproj_size
        assert entry.context_length == 131072 and entry.shape.sliding_window == 1024
    for digest in (entry.model_sha256, entry.mmproj_sha256):
        assert digest is None or re.fullmatch(r"[0-9a-f]{64}", digest)
    assert entry.gated == entry.repo.startswith("google/")
    assert entry.min_ram_gb * 2**30 > entry.download_size


def test_ungated_repositories_come_first() -> None:
    gated = [e.gated for e in CATALOG]
    assert gated == sorted(gated)


def test_first_run_ladder_is_one_ungated_qat_model_per_size() -> None:
    ladder = [e for e in CATALOG if e.first_run]
    assert [e.params for e in ladder] == ["1B", "4B", "12B", "27B"]
    assert all(e.quantization == "QAT Q4_0" and not e.gated for e in ladder)


def test_the_catalog_is_a_data_file_checked_on_load() -> None:
    raw = json.loads(resources.files("desktop_app").joinpath("data/gemma3_catalog.json").read_text())
    assert parse_catalog(raw) == CATALOG
    raw["models"].append(dict(raw["models"][0]))
    with pytest.raises(ValueError, match="not unique"):
        parse_catalog(raw)
    with pytest.raises(ValueError, match="schema_version"):
        parse_catalog({**raw, "schema_version": 99})
