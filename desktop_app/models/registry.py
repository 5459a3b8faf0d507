"""The models this machine has: ones the app downloaded and GGUFs the user imported in place.

Kept as a small JSON file in the config dir and read or rewritten whole on every call, so the
window and a command-line run see each other's changes.  Imported files are referenced where
they are, never copied: a 16 GB model should not exist twice.  What a file is (model or
projector) comes from its GGUF metadata, never its name, and projectors are paired with models
by fit: a projector's output width must equal the model's embedding width.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from desktop_app import paths
from desktop_app.errors import Sentence, UserError
from desktop_app.models.catalog import CatalogEntry
from desktop_app.models.download import (
    DownloadedFiles,
    ProgressCallback,
    bytes_on_disk,
    entry_destinations,
    partial_files,
    plan_download,
    run_download,
)
from desktop_app.models.gemma_files import (
    GemmaFile,
    ModelFile,
    ProjectorFile,
    best_projector,
    check_pair,
    inspect_gguf,
    inspect_model,
    inspect_projector,
)

log = logging.getLogger(__name__)

REGISTRY_FILE = "models.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LocalModel:
    """A model the app can load: a Gemma 3 GGUF and, for vision, the projector paired with it."""

    id: str
    name: str
    model_path: Path
    mmproj_path: Path | None
    source: Literal["downloaded", "imported"]
    embedding_length: int | None
    """Kept so a projector imported later can be paired with this model by width."""
    catalog_id: str | None = None
    model_sha256: str | None = None
    mmproj_sha256: str | None = None
    downloaded_from: str | None = None
    """Where a download came from: "Hugging Face" or a mirror's host (None: imported, or
    downloaded by a version that did not record it)."""

    @property
    def has_vision(self) -> bool:
        return self.mmproj_path is not None

    @property
    def available(self) -> bool:
        """False when an imported file was moved or deleted since."""
        return self.model_path.is_file() and (self.mmproj_path is None or self.mmproj_path.is_file())


@dataclass(frozen=True)
class ImportResult:
    """What an import added or updated, and one sentence per file it left out."""

    models: tuple[LocalModel, ...]
    skipped: tuple[Sentence, ...]


@dataclass(frozen=True)
class Removal:
    """The model forgotten and the files deleted with it (none for an imported model)."""

    model: LocalModel
    deleted: tuple[Path, ...]


class ModelRegistry:
    """The list of local models, stored at ``paths.config_dir()/models.json`` by default."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / REGISTRY_FILE

    # --- reading ---------------------------------------------------------------------------

    def models(self) -> list[LocalModel]:
        return self._load()

    def find(self, model_id: str) -> LocalModel | None:
        return next((m for m in self._load() if m.id == model_id), None)

    def get(self, model_id: str) -> LocalModel:
        model = self.find(model_id)
        if model is None:
            raise _no_such_model(model_id)
        return model

    def verified_files(self) -> dict[Path, str]:
        """Downloaded files whose sha256 was checked, so a re-download need not hash them again."""
        known: dict[Path, str] = {}
        for m in self._load():
            if m.model_sha256:
                known[m.model_path] = m.model_sha256
            if m.mmproj_path and m.mmproj_sha256:
                known[m.mmproj_path] = m.mmproj_sha256
        return known

    # --- changing --------------------------------------------------------------------------

    def add_download(self, entry: CatalogEntry, files: DownloadedFiles) -> LocalModel:
        """Record a finished download, after checking from metadata that the pair really fits."""
        model_info = inspect_model(files.model_path)
        if files.mmproj_path is not None:
            check_pair(model_info, inspect_projector(files.mmproj_path))
        record = LocalModel(
            id=entry.id,
            name=entry.name,
            model_path=files.model_path,
            mmproj_path=files.mmproj_path,
            source="downloaded",
            embedding_length=model_info.embedding_length,
            catalog_id=entry.id,
            model_sha256=files.model_sha256,
            mmproj_sha256=files.mmproj_sha256,
            downloaded_from=files.source,
        )
        records = [m for m in self._load() if m.id != entry.id]
        self._save([*records, record])
        return record

    def import_path(self, path: str | Path) -> ImportResult:
        """Reference a GGUF, or every GGUF in a folder and below, where it is.

        Models get the projector that fits them from the same import (one in the same folder
        first); a projector that no imported model fits is attached to registered models that
        lack one and fit it.  Raises UserError when nothing could be imported.
        """
        root = Path(path).expanduser()
        if not root.exists():
            raise UserError("'{path}' does not exist.", path=root)
        root = root.resolve()
        files = sorted(p for p in root.rglob("*.gguf") if p.is_file()) if root.is_dir() else [root]
        if not files:
            raise UserError("No GGUF files were found in {folder}.", folder=root)

        infos: list[GemmaFile] = []
        skipped: list[Sentence] = []
        for file in files:
            try:
                infos.append(inspect_gguf(file))
            except UserError as exc:
                skipped.append(exc.sentence)
        models = [i for i in infos if isinstance(i, ModelFile)]
        projectors = [i for i in infos if isinstance(i, ProjectorFile)]

        records = self._load()
        changed: list[LocalModel] = []
        used: set[Path] = set()
        for info in models:
            existing = next((r for r in records if r.model_path == info.path), None)
            if existing is not None and existing.source == "downloaded":
                # The app's own download (someone imported the models folder): leave it alone,
                # or removing it later would no longer delete its files.
                if existing.mmproj_path:
                    used.add(existing.mmproj_path)
                continue
            projector = best_projector(info, projectors)
            mmproj_path = projector.path if projector else (existing.mmproj_path if existing else None)
            if projector:
                used.add(projector.path)
            record = LocalModel(
                id=existing.id if existing else _unique_id(info.path.stem, records),
                name=_display_name(info),
                model_path=info.path,
                mmproj_path=mmproj_path,
                source="imported",
                embedding_length=info.embedding_length,
            )
            records = [r for r in records if r.model_path != info.path] + [record]
            changed.append(record)

        for projector in projectors:
            if projector.path in used:
                continue
            takers = [
                r for r in records if r.mmproj_path is None and r.embedding_length == projector.embedding_length
            ]
            if not takers:
                skipped.append(
                    Sentence(
                        "'{name}' is a vision projector for {width}-wide models and no known model "
                        "fits it; import its Gemma 3 model too.",
                        name=projector.display_name,
                        width=str(projector.embedding_length),
                    )
                )
                continue
            for taker in takers:
                updated = replace(taker, mmproj_path=projector.path)
                records = [updated if r.id == taker.id else r for r in records]
                changed = [c for c in changed if c.id != taker.id] + [updated]

        if not changed:
            if not skipped:
                raise UserError("Everything in {folder} is already in the list of models.", folder=root)
            if len(skipped) == 1:
                raise UserError.saying(skipped[0])
            raise UserError(
                "None of the {count} GGUF files in {folder} could be imported. The first: {reason}",
                count=len(files),
                folder=root,
                reason=skipped[0],
            )
        self._save(records)
        return ImportResult(tuple(changed), tuple(skipped))

    def remove(self, model_id: str) -> Removal:
        """Forget a model; delete its files only when the app downloaded them into its own folder.

        A file that another registered model still uses (two quantisations sharing one projector)
        stays.
        """
        records = self._load()
        target = next((m for m in records if m.id == model_id), None)
        if target is None:
            raise _no_such_model(model_id)
        remaining = [m for m in records if m.id != model_id]
        deleted: list[Path] = []
        if target.source == "downloaded":
            root = paths.models_dir().resolve()
            in_use = {p for m in remaining for p in (m.model_path, m.mmproj_path) if p is not None}
            for file in (target.model_path, target.mmproj_path):
                if file is None or file in in_use or not file.resolve().is_relative_to(root):
                    continue
                if file.exists():
                    file.unlink()
                    deleted.append(file)
                _prune_empty_dirs(file.parent, root)
        self._save(remaining)
        return Removal(target, tuple(deleted))

    def set_projector(self, model_id: str, projector: Path | None) -> LocalModel:
        """Pair another projector with a model (None: text only), after checking from metadata
        that the pair fits; the old projector file is left where it is."""
        records = self._load()
        target = self.get(model_id)
        if projector is not None:
            check_pair(inspect_model(target.model_path), inspect_projector(projector))
            projector = projector.resolve()
        updated = replace(target, mmproj_path=projector, mmproj_sha256=None)
        self._save([updated if r.id == model_id else r for r in records])
        return updated

    def discard_download(self, entry: CatalogEntry, keep: Collection[Path] = ()) -> tuple[Path, ...]:
        """Delete what a cancelled download of ``entry`` left: its partial files, and files that
        finished but no registered model uses (a model whose projector never arrived).  Files in
        ``keep`` (another queued download's) stay."""
        in_use = {p for m in self._load() for p in (m.model_path, m.mmproj_path) if p is not None}
        root = paths.models_dir().resolve()
        deleted: list[Path] = []
        for destination in entry_destinations(entry):
            if destination in keep:
                continue
            leftovers = partial_files(destination)
            if destination.is_file() and destination not in in_use:
                leftovers.append(destination)
            for file in leftovers:
                file.unlink(missing_ok=True)
                deleted.append(file)
            _prune_empty_dirs(destination.parent, root)
        return tuple(deleted)

    # --- storage ---------------------------------------------------------------------------

    def _load(self) -> list[LocalModel]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return [_from_json(raw) for raw in data["models"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable model registry %s: %r", self.path, exc)
            raise UserError(
                "The list of models in {path} is damaged; delete that file and import or download "
                "your models again (downloaded files are found and kept).",
                path=self.path,
            ) from None

    def _save(self, records: list[LocalModel]) -> None:
        """Write to a temporary file and rename, so a crash never leaves half a registry."""
        data = {"schema_version": SCHEMA_VERSION, "models": [_to_json(r) for r in records]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def download_entry(
    entry: CatalogEntry,
    registry: ModelRegistry,
    *,
    token: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    endpoint: str | None = None,
) -> LocalModel:
    """Download a catalog model with its projector and record the pair in the registry.

    Returns at once, without network, when the registry already holds the entry's files.
    """
    existing = registry.find(entry.id)
    if existing is not None and existing.available:
        return existing
    plan = plan_download(entry, token=token, endpoint=endpoint)
    files = run_download(plan, on_progress=on_progress, cancel=cancel, verified=registry.verified_files())
    return registry.add_download(entry, files)


def unfinished_downloads(entries: Iterable[CatalogEntry], registry: ModelRegistry) -> list[tuple[CatalogEntry, int]]:
    """Catalog downloads an earlier run left half-done, with the bytes already here: entries not
    in the list of local models that have a partial file, or a finished file no model uses (the
    model arrived, its projector did not)."""
    records = registry.models()
    have = {m.catalog_id for m in records if m.catalog_id}
    in_use = {p for m in records for p in (m.model_path, m.mmproj_path) if p is not None}
    found: list[tuple[CatalogEntry, int]] = []
    for entry in entries:
        if entry.id in have:
            continue
        destinations = entry_destinations(entry)
        started = any(partial_files(d) for d in destinations) or any(
            d.is_file() and d not in in_use for d in destinations
        )
        if started:
            found.append((entry, bytes_on_disk(entry)))
    return found


def _no_such_model(model_id: str) -> UserError:
    return UserError("There is no local model called '{id}'; run 'models list' to see them.", id=model_id)


def _display_name(info: ModelFile) -> str:
    base = info.name or info.path.stem
    return f"{base} ({info.quantization})" if info.quantization else base


def _unique_id(stem: str, records: list[LocalModel]) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-") or "model"
    taken = {r.id for r in records}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    """Remove the now-empty <owner>/<repo> folders a download created, never the models folder."""
    folder = folder.resolve()
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _to_json(model: LocalModel) -> dict[str, Any]:
    raw = asdict(model)
    raw["model_path"] = str(model.model_path)
    raw["mmproj_path"] = str(model.mmproj_path) if model.mmproj_path else None
    return raw


def _from_json(raw: dict[str, Any]) -> LocalModel:
    return LocalModel(
        id=raw["id"],
        name=raw["name"],
        model_path=Path(raw["model_path"]),
        mmproj_path=Path(raw["mmproj_path"]) if raw.get("mmproj_path") else None,
        source=raw["source"],
        embedding_length=raw.get("embedding_length"),
        catalog_id=raw.get("catalog_id"),
        model_sha256=raw.get("model_sha256"),
        mmproj_sha256=raw.get("mmproj_sha256"),
        downloaded_from=raw.get("downloaded_from"),
    )
