"""Which files to load when the user opens a model: the GGUF they chose and a projector that fits.

Reading GGUF headers takes a moment for big files, so :func:`resolve_model` runs off the UI
thread.  Projectors are recognised and paired from metadata (not file names): a ``clip`` GGUF in
the same folder whose output width is the model's embedding width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.engine.gguf_info import GGUFInfo, check_pair, inspect_gguf
from desktop_app.errors import UserError


@dataclass(frozen=True)
class ModelFiles:
    """A model and its projector (None: text only), checked to belong together."""

    model: GGUFInfo
    mmproj: GGUFInfo | None
    projector_searched: bool
    """True when the projector was looked for in the model's folder (not chosen by hand)."""


def resolve_model(model_path: Path, mmproj_path: Path | None, *, find_projector: bool) -> ModelFiles:
    """Inspect the chosen files; with ``find_projector``, pair a fitting projector from the
    model's folder.  Raises :class:`UserError` for a file that is not a Gemma 3 model, or a
    hand-picked projector that does not fit it."""
    model = inspect_gguf(model_path)
    check_pair(model, None)
    if mmproj_path is not None:
        mmproj = inspect_gguf(mmproj_path)
        check_pair(model, mmproj)
        return ModelFiles(model, mmproj, projector_searched=False)
    if not find_projector:
        return ModelFiles(model, None, projector_searched=False)
    return ModelFiles(model, fitting_projector(model), projector_searched=True)


def fitting_projector(model: GGUFInfo) -> GGUFInfo | None:
    """The first projector beside ``model`` that fits it, or None.

    Files are tried in name order with names containing "mmproj" first, which finds the usual
    layout at once; anything unreadable or unfitting is skipped quietly.
    """
    folder = model.path.parent
    candidates = sorted(
        (path for path in folder.glob("*.gguf") if path != model.path and path.is_file()),
        key=lambda path: ("mmproj" not in path.name.lower(), path.name.lower()),
    )
    for path in candidates:
        try:
            info = inspect_gguf(path)
            if info.kind != "mmproj":
                continue
            check_pair(model, info)
        except UserError:
            continue
        return info
    return None
