"""``python -m desktop_app models list|info ID|PATH|download ID|import PATH|remove ID``: the model
library headless.

Each handler is a thin layer over catalog, download, registry and fit, the same calls the window
makes, so the command line is also the quickest way to exercise them by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from desktop_app.cli.parser import Subparsers
from desktop_app.errors import UserError
from desktop_app.models import fit
from desktop_app.models.catalog import load_catalog
from desktop_app.models.download import DownloadProgress, mirror_endpoint, source_name
from desktop_app.models.gemma_files import ProjectorFile, abilities, inspect_model, inspect_projector
from desktop_app.models.model_page import ModelPage, describe_target
from desktop_app.models.registry import LocalModel, ModelRegistry, download_entry
from desktop_app.models.sizes import format_parameters, format_size
from desktop_app.models.speed import MachineSpeed, estimate_decode_speed, measure_machine_speed
from desktop_app.settings import DEFAULT_CONTEXT

PROGRESS_INTERVAL_S = 0.2
"""How often the progress line is redrawn on a terminal: smooth without flooding it."""


def register(subparsers: Subparsers) -> None:
    """Add the ``models`` command and its actions to the CLI."""
    parser = subparsers.add_parser("models", help="list, describe, download, import or remove Gemma models")
    actions = parser.add_subparsers(
        dest="models_action", metavar="ACTION", required=True, parser_class=type(parser)
    )
    listing = actions.add_parser("list", help="models on this computer and in the download catalog")
    listing.add_argument(
        "--context",
        type=int,
        default=DEFAULT_CONTEXT,
        help=f"context size (tokens) for the memory check (default {DEFAULT_CONTEXT})",
    )
    listing.set_defaults(func=list_models)
    info = actions.add_parser(
        "info", help="what a model is and what it needs here, read from its GGUF without loading it"
    )
    info.add_argument("target", metavar="ID|PATH", help="a local model's id ('models list') or a GGUF file")
    info.add_argument("--mmproj", type=Path, help="judge it with this vision projector instead of its own")
    info.add_argument(
        "--context",
        type=int,
        default=DEFAULT_CONTEXT,
        help=f"context size (tokens) for the memory estimate (default {DEFAULT_CONTEXT}, at most the model's)",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=show_info)
    download = actions.add_parser(
        "download",
        help="download a catalog model and its projector (gated ones read HF_TOKEN or 'hf auth login')",
    )
    download.add_argument("id", help="catalog id, as 'models list' shows it")
    download.add_argument(
        "--mirror",
        metavar="URL",
        help="download through this mirror of Hugging Face, e.g. https://hf-mirror.com "
        "(the window's Download source setting; HF_ENDPOINT works too)",
    )
    download.set_defaults(func=download_model)
    importing = actions.add_parser("import", help="use a GGUF file, or the GGUFs in a folder, where they are")
    importing.add_argument("path")
    importing.set_defaults(func=import_models)
    remove = actions.add_parser("remove", help="forget a model (and delete it if the app downloaded it)")
    remove.add_argument("id")
    remove.set_defaults(func=remove_model)


def list_models(args: argparse.Namespace) -> int:
    registry = ModelRegistry()
    catalog = load_catalog()
    machine = fit.machine_memory()
    speed = measure_machine_speed(machine)
    local = registry.models()
    print("On this computer:" if local else "No models on this computer yet.")
    for model in local:
        vision = "text and images" if model.has_vision else "text only"
        print(f"  {model.id}  {model.name}, {vision}, {model.source}")
        print(f"      {model.model_path}")
        print(f"      projector: {model.mmproj_path or 'none (text only)'}")
        if not model.available:
            print("      (missing: the file was moved or deleted)")
            continue
        for line in _local_verdict(model, args.context, machine, speed):
            print(f"      {line}")
    print()
    print("Catalog (download with: models download ID; speeds are expected decode speeds here):")
    have = {m.catalog_id for m in local if m.catalog_id}
    width = max(len(e.id) for e in catalog)
    for entry in catalog:
        expected = entry.expected_speed(machine, speed, args.context)
        notes = [
            entry.family.label,
            _ability_phrase(entry.abilities),
            f"needs {entry.min_ram_gb} GB RAM",
            f"~{expected.rounded} tokens/s",
        ]
        if entry.gated:
            notes.append("gated: needs a Hugging Face token")
        if entry.id in have:
            notes.append("downloaded")
        print(f"  {entry.id:<{width}}  {format_size(entry.download_size):>8}  {', '.join(notes)}")
    recommended = catalog.recommend(machine, speed)
    fit_verdict = recommended.check_fit(machine, args.context)
    expected = recommended.expected_speed(machine, speed, args.context)
    print()
    print(f"Recommended for this computer: {recommended.id}, expected {expected}. {fit_verdict.sentence}")
    return 0


def show_info(args: argparse.Namespace) -> int:
    if args.context < 1:
        raise UserError("--context must be a positive number of tokens.")
    machine = fit.machine_memory()
    page = describe_target(
        args.target,
        projector=args.mmproj,
        n_ctx=args.context,
        machine=machine,
        speed=measure_machine_speed(machine),
        registry=ModelRegistry(),
        catalog=load_catalog(),
    )
    if args.json:
        print(json.dumps(page.to_json(), ensure_ascii=False))
        return 0
    for label, value in _info_lines(page):
        print(f"{label:<16} {value}" if label else value)
    return 0


def _info_lines(page: ModelPage) -> list[tuple[str, str]]:
    model, projector = page.model, page.projector
    where = {"downloaded": "downloaded", "imported": "imported", "file": "file"}[page.source]
    layers = f"{model.block_count}" if model.block_count else "unknown"
    if model.sliding_window:
        layers += f", sliding window {model.sliding_window:,} tokens"
    lines = [
        ("", page.name + (f"  [{page.model_id}]" if page.model_id else "")),
        (where, str(model.path)),
        ("architecture", model.architecture),
        ("parameters", f"{format_parameters(model.parameter_count)} ({model.parameter_count:,})"),
        ("quantization", model.quantization or "unknown"),
        ("file size", format_size(model.file_size)),
        ("trained context", f"{model.context_length:,} tokens" if model.context_length else "unknown"),
        ("layers", layers),
        (
            "chat template",
            "its own" if model.chat_template else "none (the built-in Gemma 3 template is used)",
        ),
        ("licence", model.license or "not stated in the file"),
        ("can do", _ability_phrase(abilities(model.family, page.vision))),
    ]
    if projector is not None:
        lines.append(("projector", str(projector.path)))
        lines.append(
            (
                "",
                f"{' ' * 17}{_image_cost(projector)}; "
                f"encoder {format_parameters(projector.parameter_count)} parameters, "
                f"{format_size(projector.file_size)}",
            )
        )
    lines.append(
        ("memory needed", f"{format_size(page.memory_needed)} at {page.n_ctx:,} tokens ({page.verdict.level})")
    )
    lines.append(("", " " * 17 + page.verdict.sentence))
    lines.append(("expected speed", str(page.speed)))
    return lines


def _ability_phrase(names: tuple[str, ...]) -> str:
    """ "text only", "text and images", "text, images and thinking" (the window says the same)."""
    if len(names) == 1:
        return f"{names[0]} only"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _image_cost(projector: ProjectorFile) -> str:
    """What an image costs with this projector: one size for all, or a range by size (Gemma 4)."""
    low, high = projector.image_token_range
    if low == high:
        return f"{projector.image_size} px images, {low} tokens each"
    return f"images at their own size, {low} to {high:,} tokens each"


def download_model(args: argparse.Namespace) -> int:
    entry = load_catalog().get(args.id)
    endpoint = mirror_endpoint(args.mirror) if args.mirror else None
    registry = ModelRegistry()
    present = registry.find(entry.id)
    if present is None or not present.available:
        print(f"Downloading {entry.name} from {source_name(endpoint)}.", file=sys.stderr)
    line = _ProgressLine(sys.stderr)
    try:
        model = download_entry(entry, registry, on_progress=line.show, endpoint=endpoint)
    except KeyboardInterrupt:
        line.finish()
        print("Download paused; run the same command again to resume it.", file=sys.stderr)
        return 130
    finally:
        line.finish()
    with_projector = f" with its vision projector {model.mmproj_path}" if model.mmproj_path else ""
    came_from = f" (downloaded from {model.downloaded_from})" if model.downloaded_from else ""
    print(f"{model.name} is ready: {model.model_path}{with_projector}{came_from}")
    return 0


def import_models(args: argparse.Namespace) -> int:
    result = ModelRegistry().import_path(args.path)
    for model in result.models:
        projector = f" with projector {model.mmproj_path}" if model.mmproj_path else " (text only)"
        print(f"Imported {model.id}: {model.model_path}{projector}")
    for reason in result.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    return 0


def remove_model(args: argparse.Namespace) -> int:
    removal = ModelRegistry().remove(args.id)
    if removal.deleted:
        print(f"Removed {removal.model.id} and deleted {', '.join(str(p) for p in removal.deleted)}.")
    else:
        print(f"Removed {removal.model.id} from the list; its files were left where they are.")
    return 0


def _local_verdict(
    model: LocalModel, n_ctx: int, machine: fit.MachineMemory, speed: MachineSpeed
) -> list[str]:
    """The fit check and expected speed for a file on disk, or why its metadata could not be read."""
    try:
        info = inspect_model(model.model_path)
        mmproj = inspect_projector(model.mmproj_path) if model.mmproj_path else None
        verdict = fit.check_files_fit(info, mmproj, n_ctx, machine)
    except UserError as exc:
        return [str(exc)]
    expected = estimate_decode_speed(info.bytes_read_per_token, speed, on_gpu=verdict.on_gpu)
    return [f"{verdict.level}: {verdict.sentence}", f"expected speed: {expected}"]


class _ProgressLine:
    """One status line on stderr, redrawn in place on a terminal; plain lines now and then otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last_draw = 0.0
        self._last_key: tuple[str, str, int] | None = None
        self._drawn = False

    def show(self, progress: DownloadProgress) -> None:
        percent = int(progress.fraction * 100)
        # Off a terminal, a line per file, phase and tenth, so logs stay short.
        key = (progress.filename, progress.phase, percent // 10)
        now = time.monotonic()
        if self._tty:
            if key == self._last_key and now - self._last_draw < PROGRESS_INTERVAL_S:
                return
            self._stream.write("\r\033[K" + _describe(progress, percent))
            self._drawn = True
        else:
            if key == self._last_key:
                return
            self._stream.write(_describe(progress, percent) + "\n")
        self._stream.flush()
        self._last_key, self._last_draw = key, now

    def finish(self) -> None:
        if self._tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def _describe(progress: DownloadProgress, percent: int) -> str:
    text = (
        f"{'Verifying' if progress.phase == 'verifying' else 'Downloading'} {progress.filename}  "
        f"{format_size(progress.done_bytes)} of {format_size(progress.total_bytes)} ({percent}%)"
    )
    if progress.bytes_per_second:
        text += f"  {format_size(progress.bytes_per_second)}/s"
    if progress.seconds_left is not None:
        text += f"  {_duration(progress.seconds_left)} left"
    return text


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
