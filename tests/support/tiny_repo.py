"""The repository the fake hub hosts in download tests: the tiny generated Gemma 3 model and its
projector, under names a catalog entry points at."""

from __future__ import annotations

from desktop_app.models.catalog import CatalogEntry, load_catalog

REPO = "test-org/tiny-gemma-3-GGUF"
MODEL_FILE = "tiny-gemma-3-Q4_0.gguf"
MMPROJ_FILE = "mmproj-tiny-f16.gguf"


def make_entry(
    *,
    repo: str = REPO,
    gated: bool = False,
    mmproj: bool = True,
    model_sha256: str | None = None,
    entry_id: str = "tiny-test",
) -> CatalogEntry:
    """A catalog entry for the tiny repository (sizes of 1 byte: nothing checks them in advance)."""
    shape = load_catalog().get("gemma-3-4b-it-qat-q4_0").shape
    return CatalogEntry(
        id=entry_id,
        name="Tiny test Gemma",
        params="4B",
        quantization="Q4_0",
        repo=repo,
        model_file=MODEL_FILE,
        model_size=1,
        mmproj_file=MMPROJ_FILE if mmproj else None,
        mmproj_size=1 if mmproj else None,
        gated=gated,
        min_ram_gb=1,
        context_length=shape.context_length,
        shape=shape,
        first_run=False,
        model_sha256=model_sha256,
    )
