"""A model's page: what a Gemma GGUF is and what it would cost here, read without loading it.

One description for both front ends: the window's Models page shows it and ``models info ID|PATH
[--json]`` prints it.  Everything comes from the files' GGUF metadata (:mod:`gemma_files`), the
memory estimate (:mod:`fit`) and the decode-speed estimate (:mod:`speed`); nothing is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from desktop_app.errors import UserError
from desktop_app.models import fit
from desktop_app.models.catalog import Catalog
from desktop_app.models.gemma_files import ModelFile, ProjectorFile, inspect_projector, resolve_setup
from desktop_app.models.registry import LocalModel, ModelRegistry
from desktop_app.models.speed import MachineSpeed, SpeedEstimate, estimate_decode_speed
from desktop_app.settings import SWA_FULL_CACHE

Source = Literal["downloaded", "imported", "file"]


@dataclass(frozen=True)
class ModelPage:
    """A model and its projector as a person reads about them, with this machine's numbers."""

    name: str
    model: ModelFile
    projector: ProjectorFile | None
    source: Source
    """Downloaded by the app, imported in place, or a file named on the command line."""
    model_id: str | None
    """The id in the list of local models (None for a file that is not in it)."""
    n_ctx: int
    """The context the memory estimate is for: the chosen one, at most the trained one."""
    verdict: fit.FitVerdict
    speed: SpeedEstimate

    @property
    def vision(self) -> bool:
        return self.projector is not None

    @property
    def memory_needed(self) -> int:
        return self.verdict.estimate.total

    def to_json(self) -> dict[str, Any]:
        """The ``models info --json`` object (its keys are a contract the checks rely on)."""
        projector = None
        if self.projector is not None:
            projector = {
                "path": str(self.projector.path),
                "image_size": self.projector.image_size,
                "tokens_per_image": self.projector.tokens_per_image,
            }
        return {
            "name": self.name,
            "architecture": self.model.architecture,
            "parameters": self.model.parameter_count,
            "quantization": self.model.quantization,
            "file_size": self.model.file_size,
            "context_length": self.model.context_length,
            "vision": self.vision,
            "projector": projector,
            "license": self.model.license,
            "memory_needed": self.memory_needed,
            "expected_tok_s": round(self.speed.tokens_per_second, 1),
        }


def describe(
    model_path: Path,
    projector_path: Path | None,
    *,
    n_ctx: int,
    machine: fit.MachineMemory,
    speed: MachineSpeed,
    find_projector: bool = False,
    name: str | None = None,
    source: Source = "file",
    model_id: str | None = None,
    swa_full: bool = SWA_FULL_CACHE,
) -> ModelPage:
    """Read the files' metadata and judge them for this machine at ``n_ctx`` tokens (cut to what
    the model was trained for).  With ``find_projector`` and no projector given, a fitting one is
    looked for beside the model, as opening the file in the window does."""
    setup = resolve_setup(model_path, projector_path, find_projector=find_projector)
    model, projector = setup.model, setup.projector
    if model.context_length:
        n_ctx = min(n_ctx, model.context_length)
    verdict = fit.check_files_fit(model, projector, n_ctx, machine, swa_full=swa_full)
    return ModelPage(
        name=name or model.name or model.path.stem,
        model=model,
        projector=projector,
        source=source,
        model_id=model_id,
        n_ctx=n_ctx,
        verdict=verdict,
        speed=estimate_decode_speed(model.bytes_read_per_token, speed, on_gpu=verdict.on_gpu),
    )


def describe_local(
    model: LocalModel, *, n_ctx: int, machine: fit.MachineMemory, speed: MachineSpeed
) -> ModelPage:
    """The page of a downloaded or imported model, with the projector the list pairs it with."""
    if not model.model_path.is_file():
        raise UserError(
            "The model file of {name} is no longer at {path}; it was moved or deleted, so remove "
            "it from the list or import it again from where it is now.",
            name=model.name,
            path=str(model.model_path),
        )
    projector = model.mmproj_path
    if projector is not None and not projector.is_file():
        raise UserError(
            "The vision projector of {name} is no longer at {path}; choose another projector or "
            "import it again from where it is now.",
            name=model.name,
            path=str(projector),
        )
    return describe(
        model.model_path,
        projector,
        n_ctx=n_ctx,
        machine=machine,
        speed=speed,
        name=model.name,
        source=model.source,
        model_id=model.id,
    )


def describe_target(
    target: str,
    *,
    projector: Path | None,
    n_ctx: int,
    machine: fit.MachineMemory,
    speed: MachineSpeed,
    registry: ModelRegistry,
    catalog: Catalog,
) -> ModelPage:
    """``models info ID|PATH``: a local model's id, else a GGUF path (its projector found beside
    it unless one is given)."""
    local = registry.find(target)
    if local is not None:
        if projector is not None:
            inspect_projector(projector)  # a wrong file is refused before the model is read
            local = replace(local, mmproj_path=projector)
        return describe_local(local, n_ctx=n_ctx, machine=machine, speed=speed)
    path = Path(target).expanduser()
    if path.exists() or path.suffix.lower() == ".gguf" or "/" in target or "\\" in target:
        listed = next((m for m in registry.models() if m.model_path == path.resolve()), None)
        if listed is not None and projector is None:
            return describe_local(listed, n_ctx=n_ctx, machine=machine, speed=speed)
        return describe(
            path, projector, n_ctx=n_ctx, machine=machine, speed=speed, find_projector=projector is None
        )
    if any(entry.id == target for entry in catalog):
        raise UserError(
            "{id} is in the download catalog but not on this computer; download it with 'models "
            "download {id}' to see its page.",
            id=target,
        )
    raise UserError(
        "There is no local model or GGUF file called '{name}'; run 'models list' to see the ids.",
        name=target,
    )
