"""The shipped catalog: well-formed, and saying what the issues promise users (Gemma 3 first, the
rest of the family beside it with what each can do)."""

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
    if entry.family.architecture != "gemma3":
        assert entry.shape.context_length in (32768, 131072, 262144)
    elif entry.params == "1B":
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
    assert all(e.quantization == "QAT Q4_0" and not e.gated and e.family.label == "Gemma 3" for e in ladder)


def test_the_rest_of_the_family_is_offered_with_what_it_can_do() -> None:
    by_id = {e.id: e for e in CATALOG}
    e2b = by_id["gemma-4-e2b-it-q8_0"]
    assert e2b.repo == "ggml-org/gemma-4-E2B-it-GGUF" and e2b.mmproj_file == "mmproj-gemma-4-E2B-it-Q8_0.gguf"
    assert e2b.abilities == ("text", "images", "thinking")
    assert {e.params for e in CATALOG if e.family.label == "Gemma 4"} == {"E2B", "E4B", "26B-A4B", "31B"}
    # ggml-org's Gemma 3n repositories publish no projector: offered as text models.
    assert [e.abilities for e in CATALOG if e.family.label == "Gemma 3n"] == [("text",), ("text",)]
    moe = by_id["gemma-4-26b-a4b-it-q4_k_m"].shape
    assert (moe.expert_count, moe.expert_used_count) == (128, 8)
    # The E models keep few KV layers, so their cache is small for their size.
    e4b = by_id["gemma-4-e4b-it-q4_k_m"].shape
    assert e4b.kv_layers == 24 and e4b.layer_is_sliding.count(False) == 7


def test_a_non_gemma3_first_run_entry_is_refused() -> None:
    raw = json.loads(resources.files("desktop_app").joinpath("data/gemma_catalog.json").read_text())
    for model in raw["models"]:
        if model["id"] == "gemma-4-e2b-it-q8_0":
            model["first_run"] = True
    with pytest.raises(ValueError, match="Gemma 3 builds only"):
        parse_catalog(raw)


def test_the_catalog_is_a_data_file_checked_on_load() -> None:
    raw = json.loads(resources.files("desktop_app").joinpath("data/gemma_catalog.json").read_text())
    assert parse_catalog(raw) == CATALOG
    raw["models"].append(dict(raw["models"][0]))
    with pytest.raises(ValueError, match="not unique"):
        parse_catalog(raw)
    with pytest.raises(ValueError, match="schema_version"):
        parse_catalog({**raw, "schema_version": 99})
