"""The Gemma models the app offers to download, read from ``desktop_app/data/gemma_catalog.json``.

The catalog is data, not code: adding a quantisation or fixing a file name is an edit to the JSON,
which also records each model's architecture numbers so the fit check can judge a download before
a single byte of it exists.  Gemma 3 builds lead (the first-run recommendation is always one of
them); Gemma 3n and Gemma 4 builds follow, each saying what it can do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from desktop_app.errors import UserError
from desktop_app.models.fit import FitVerdict, MachineMemory, ModelShape, check_fit
from desktop_app.models.gemma_files import FAMILIES, GemmaFamily, abilities, sliding_pattern
from desktop_app.models.sizes import GIB
from desktop_app.models.speed import MachineSpeed, SpeedEstimate, estimate_decode_speed
from desktop_app.settings import DEFAULT_CONTEXT, SWA_FULL_CACHE

CATALOG_RESOURCE = "gemma_catalog.json"
SCHEMA_VERSION = 1

MIN_RAM_TOLERANCE = 0.9
"""A "16 GB" laptop reports a little less than 16 GiB (firmware and graphics keep some), so a
model's minimum counts as met at 90 % of it."""


@dataclass(frozen=True)
class CatalogEntry:
    """One downloadable model: a text GGUF and, except for 1B, its vision projector."""

    id: str
    name: str
    params: str
    quantization: str
    repo: str
    model_file: str
    model_size: int
    """Approximate bytes; the hub's own figure is used once a download starts."""
    mmproj_file: str | None
    mmproj_size: int | None
    gated: bool
    """Google's own repositories ask the user to accept the Gemma licence and need a token."""
    min_ram_gb: int
    context_length: int
    shape: ModelShape
    first_run: bool
    """On the ladder the first-run dialog picks from (the ungated Gemma 3 QAT builds, one per size)."""
    family: GemmaFamily = FAMILIES["gemma3"]
    model_sha256: str | None = None
    mmproj_sha256: str | None = None
    """Pinned checksums where public material confirmed them; a hub checksum that differs is refused."""

    @property
    def has_vision(self) -> bool:
        return self.mmproj_file is not None

    @property
    def abilities(self) -> tuple[str, ...]:
        """What it can do here, in words: "text", "images", "thinking"."""
        return abilities(self.family, self.has_vision)

    @property
    def download_size(self) -> int:
        """Approximate bytes of the model and its projector together."""
        return self.model_size + (self.mmproj_size or 0)

    def check_fit(self, machine: MachineMemory, n_ctx: int, *, swa_full: bool = SWA_FULL_CACHE) -> FitVerdict:
        """Whether this model would run here at ``n_ctx`` tokens, judged before downloading it."""
        return check_fit(
            self.model_size,
            self.shape,
            n_ctx,
            machine,
            projector_bytes=self.mmproj_size or 0,
            swa_full=swa_full,
            label=self.name,
        )

    def expected_speed(
        self, machine: MachineMemory, speed: MachineSpeed, n_ctx: int = DEFAULT_CONTEXT
    ) -> SpeedEstimate:
        """How fast it would write here: on the GPU if it fits there whole, else on the CPU."""
        on_gpu = self.check_fit(machine, n_ctx).on_gpu
        return estimate_decode_speed(self.model_size, speed, on_gpu=on_gpu)



@dataclass(frozen=True)
class Catalog:
    """All entries, in the file's order: ungated repositories first, then Google's gated ones."""

    entries: tuple[CatalogEntry, ...]

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def get(self, entry_id: str) -> CatalogEntry:
        """The entry with this id, or a UserError that lists what exists."""
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise UserError(
            "There is no catalog model called '{id}'; run 'models list' to see the ids you can download.",
            id=entry_id,
        )

    def recommend(self, machine: MachineMemory, speed: MachineSpeed) -> CatalogEntry:
        """The download to offer on first run: the biggest first-run model this machine can hold
        that also writes at a usable speed here (:data:`speed.USABLE_TOKENS_PER_SECOND`).

        By memory: 4B QAT on a typical 8-16 GB laptop, 12B from 16 GB and 27B from 32 GB (of
        RAM, or of GPU memory on a discrete card), 1B below 8 GB.  By speed, a CPU that would
        write a 12B's reply at 2-3 tokens a second gets the 4B instead; when none is fast enough,
        the smallest.  The window shows :func:`fit.check_fit` for it as well, since free memory
        changes from minute to minute and this should not.
        """
        memory = machine.total_ram
        if machine.gpu_total and not machine.unified:
            memory = max(memory, machine.gpu_total)
        ladder = sorted((e for e in self.entries if e.first_run), key=lambda e: e.min_ram_gb)
        if not ladder:
            raise ValueError("the catalog has no first-run entries")
        held = [e for e in ladder if memory >= e.min_ram_gb * GIB * MIN_RAM_TOLERANCE] or ladder[:1]
        fast = [e for e in held if e.expected_speed(machine, speed).usable]
        return fast[-1] if fast else held[0]


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped with the app (read once; it cannot change while the app runs)."""
    text = resources.files("desktop_app").joinpath("data").joinpath(CATALOG_RESOURCE).read_text("utf-8")
    return parse_catalog(json.loads(text))


def parse_catalog(data: dict[str, Any]) -> Catalog:
    """Build a Catalog from the JSON structure, checking it as it goes (a typo fails loudly)."""
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"catalog schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
    shapes: dict[str, tuple[GemmaFamily, ModelShape]] = {
        name: _architecture(dict(numbers)) for name, numbers in data["architectures"].items()
    }
    entries: list[CatalogEntry] = []
    for raw in data["models"]:
        family, shape = shapes[raw["architecture"]]
        entries.append(
            CatalogEntry(
                id=raw["id"],
                name=raw["name"],
                params=raw["params"],
                quantization=raw["quantization"],
                repo=raw["repo"],
                model_file=raw["model_file"],
                model_size=int(raw["model_size"]),
                mmproj_file=raw["mmproj_file"],
                mmproj_size=raw.get("mmproj_size"),
                gated=bool(raw["gated"]),
                min_ram_gb=int(raw["min_ram_gb"]),
                context_length=shape.context_length,
                shape=shape,
                first_run=bool(raw.get("first_run", False)),
                family=family,
                model_sha256=raw.get("model_sha256"),
                mmproj_sha256=raw.get("mmproj_sha256"),
            )
        )
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("catalog ids are not unique")
    if any(e.first_run and e.family.architecture != "gemma3" for e in entries):
        raise ValueError("the first-run ladder holds Gemma 3 builds only")
    return Catalog(tuple(entries))


def _architecture(numbers: dict[str, Any]) -> tuple[GemmaFamily, ModelShape]:
    """An architecture's family and shape; "sliding_period" N stands for every N-th layer global."""
    family = FAMILIES[numbers.pop("family")]
    period = numbers.pop("sliding_period", None)
    if period is not None:
        numbers["sliding_layers"] = sliding_pattern(numbers["block_count"], period)
    return family, ModelShape(**numbers)
