"""Which Gemma 3 suits this machine, and which models it already has: the window's questions to the
model library, each slow enough (nvidia-smi, the disk) to be asked off the UI thread.

The choice and the fit verdict come from :mod:`desktop_app.models` (the same code as ``python -m
desktop_app models list``); the downloads themselves are :mod:`desktop_app.ui.download_queue`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.models.catalog import CatalogEntry, load_catalog
from desktop_app.models.fit import FitVerdict, machine_memory
from desktop_app.models.registry import LocalModel, ModelRegistry
from desktop_app.models.speed import SpeedEstimate, measure_machine_speed
from desktop_app.settings import DEFAULT_CONTEXT


@dataclass(frozen=True)
class Recommendation:
    """The download to offer, whether it fits this machine at the default context, and how
    fast it would write here."""

    entry: CatalogEntry
    verdict: FitVerdict
    speed: SpeedEstimate


def recommend_for_this_machine(n_ctx: int = DEFAULT_CONTEXT) -> Recommendation:
    """Slow (it asks nvidia-smi about the GPU and measures memory bandwidth for a fraction of a
    second): call off the UI thread."""
    machine = machine_memory()
    speed = measure_machine_speed(machine)
    entry = load_catalog().recommend(machine, speed)
    return Recommendation(entry, entry.check_fit(machine, n_ctx), entry.expected_speed(machine, speed, n_ctx))


def first_available_model() -> LocalModel | None:
    """A model downloaded or imported earlier (by the window or the command line), if any."""
    return next(iter(available_models()), None)


def available_models() -> list[LocalModel]:
    """The models downloaded or imported earlier whose files are still there (reads the disk)."""
    return [model for model in ModelRegistry().models() if model.available]
