"""``python -m desktop_app serve``: the model as an OpenAI-compatible server for other programs.

    python -m desktop_app serve [--port N] [--model ID|PATH] [--mmproj PATH]

``--model`` takes a model id from ``models list`` or a GGUF path (its projector is found beside it
by metadata unless ``--mmproj`` names one); without it, the one model on this computer.  The
server listens on 127.0.0.1 only; ``--host`` opens it to the network and then needs a bearer token
in ``GEMMA_DESKTOP_API_KEY``, which is also honoured (and required of clients) on loopback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from desktop_app.cli.chat import (
    add_pan_scan_option,
    add_runtime_options,
    load_model,
    runtime_settings,
    sized_to_machine,
)
from desktop_app.cli.parser import Subparsers
from desktop_app.engine.client import EngineClient
from desktop_app.engine.protocol import LoadRequest
from desktop_app.engine.shared import SharedEngine
from desktop_app.errors import UserError
from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector, resolve_setup
from desktop_app.models.registry import ModelRegistry
from desktop_app.server.config import (
    API_KEY_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MIB,
    ServerConfig,
    ServerLimits,
)


def register(sub: Subparsers) -> None:
    """Add ``serve`` to the CLI."""
    limits = ServerLimits()
    serve = sub.add_parser(
        "serve", help="serve a model to other programs through the OpenAI chat completions API"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--model", metavar="ID|PATH",
                       help="a model id from 'models list' or a GGUF file (default: the only local model)")
    serve.add_argument("--mmproj", type=Path, metavar="PATH",
                       help="its vision projector (default: the one registered or found beside it)")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}, this computer only; any "
                            f"other needs a bearer token in {API_KEY_ENV})")
    serve.add_argument("--allow-remote-images", action="store_true",
                       help="fetch http(s) image URLs (off: only base64 data URLs are read)")
    serve.add_argument("--keep-conversations", action="store_true",
                       help="keep API conversations in the app's conversation list (off: nothing is stored)")
    serve.add_argument("--max-body-mb", type=int, default=limits.max_body_bytes // MIB,
                       help="largest request body in MB")
    serve.add_argument("--max-images", type=int, default=limits.max_images, help="most images per request")
    serve.add_argument("--max-image-mb", type=int, default=limits.max_image_bytes // MIB,
                       help="largest image file in MB")
    add_pan_scan_option(serve)
    add_runtime_options(serve)
    serve.set_defaults(func=run_serve)


@dataclass(frozen=True)
class ServedFiles:
    model: Path
    mmproj: Path | None
    alias: str | None
    """The registry id the model was named by, which clients may use as the model name."""


def resolve_files(spec: str | None, mmproj: Path | None, registry: ModelRegistry) -> ServedFiles:
    """The model and projector ``--model``/``--mmproj`` name, checked to fit each other."""
    if spec is None:
        available = [m for m in registry.models() if m.available]
        if len(available) != 1:
            names = ", ".join(m.id for m in available) or "none yet; see 'models download' or 'models import'"
            raise UserError("Choose a model with --model ID or --model PATH (local models: {names}).",
                            names=names)
        spec = available[0].id
    path = Path(spec).expanduser()
    local = None if path.suffix.lower() == ".gguf" or path.exists() else registry.find(spec)
    if local is not None:
        projector = mmproj or local.mmproj_path
        if projector is not None:
            check_pair(inspect_model(local.model_path), inspect_projector(projector))
        else:
            inspect_model(local.model_path)
        return ServedFiles(local.model_path, projector, local.id)
    if not path.exists() and path.suffix.lower() != ".gguf":
        raise UserError(
            "There is no local model called '{name}' and no such file; run 'models list' to see them.",
            name=spec,
        )
    setup = resolve_setup(path, mmproj, find_projector=mmproj is None)
    return ServedFiles(setup.model.path, setup.projector.path if setup.projector else None, None)


def run_serve(args: argparse.Namespace) -> int:
    """``serve``: load the model, then answer API requests until Ctrl+C."""
    from desktop_app.server.runner import ApiServer  # uvicorn only for this command

    runtime = runtime_settings(args)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=os.environ.get(API_KEY_ENV) or None,
        limits=ServerLimits(args.max_body_mb * MIB, args.max_images, args.max_image_mb * MIB),
        allow_remote_images=args.allow_remote_images,
        pan_scan=args.pan_scan,
    ).validate()
    files = resolve_files(args.model, args.mmproj, ModelRegistry())
    config = replace(config, model_alias=files.alias)
    engine = SharedEngine(EngineClient())
    keeper = None
    try:
        if args.keep_conversations:
            from desktop_app.server.keeping import StoreKeeper

            keeper = StoreKeeper()
        server = ApiServer(engine, config, keeper)  # binds now: a port in use fails before the load
        model = inspect_model(files.model)
        mmproj = inspect_projector(files.mmproj) if files.mmproj else None
        _load(engine, LoadRequest.of(files.model, files.mmproj, sized_to_machine(runtime, model, mmproj)))
        vision = "with" if files.mmproj else "without"
        print(
            f"Serving {files.model.name} ({vision} vision) at {server.url}"
            + (" (bearer token required)" if config.api_key else "")
            + "; Ctrl+C stops.",
            file=sys.stderr,
            flush=True,
        )
        # uvicorn stops gracefully on Ctrl+C or SIGTERM, then raises the signal again: both end
        # here as a normal stop, so the engine is shut down and the exit status is 0.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        engine.close()
        if keeper is not None:
            keeper.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _load(engine: SharedEngine, request: LoadRequest) -> None:
    """Load the model into the shared engine through a lane, which hears the load's outcome."""
    lane = engine.lane()
    load_model(lane, request)
    lane.close()
