"""``gemma-desktop selftest``: prove an installed (frozen) app works, with no window and no network.

It writes a tiny random-weight model and projector of one architecture (``--arch``: Gemma 3 by
default, Gemma 3n or Gemma 4; ``desktop_app.gguf_fixtures``) and a generated PNG into a temporary
folder, loads them in the engine's spawned child process, asks about the picture and checks the
reply's image tokens against what the app's GGUF reader predicts for that projector; for Gemma 4
it also asks the model to think and checks the thought comes apart from the answer.  Then it
starts the API server on a free loopback port and asks it twice, and starts Qt on the offscreen
platform and checks the image plugins the window needs. Exit 0 when every check passes, 1
otherwise, with one line per check (``--json``: one object).

Installers run it after building and the Linux smoke test runs it from the installed package
with a clean environment: it proves that frozen ``multiprocessing`` (spawn), llama.cpp, mtmd, the
API server's stack (uvicorn, Starlette, pydantic) and Qt's plugins are all inside the bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app.cli.parser import Subparsers

IMAGE_SIZE = 64
PATCH_SIZE = 4
TEXT_EMBD = 64
QUESTION = "What is in this image?"
ARCHITECTURES = ("gemma3", "gemma3n", "gemma4")
GEMMA4_THOUGHT = "the picture is"
GEMMA4_ANSWER = "Hello yes"
"""What the steered Gemma 4 fixture thinks and answers (``gguf_fixtures.GEMMA4_THINKING_CHAIN``)."""


def register(sub: Subparsers) -> None:
    """Add ``selftest`` to the CLI."""
    parser = sub.add_parser(
        "selftest", help="check this installation headless (engine, image, API server, Qt) and exit 0 if it works"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object with the results")
    parser.add_argument("--no-qt", action="store_true", help="skip the Qt check")
    parser.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        default="gemma3",
        help="the architecture of the generated model and projector (default gemma3)",
    )
    parser.add_argument(
        "--expect-backend",
        metavar="NAME",
        help='fail unless llama.cpp runs on this backend ("CPU", "CUDA", "Metal")',
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="keep every layer on the CPU (for machines whose GPU cannot run llama.cpp's GPU backend)",
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds allowed for load and reply (default 180)"
    )
    parser.set_defaults(func=run_selftest)


class _Check:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ok = False
        self.detail = ""
        self.seconds = 0.0


def _run(checks: list[_Check], name: str, fn: Callable[[], str]) -> bool:
    check = _Check(name)
    checks.append(check)
    started = time.perf_counter()
    try:
        check.detail = fn()
        check.ok = True
    except Exception as exc:  # every failure becomes a failed check, never a traceback exit
        check.detail = f"{type(exc).__name__}: {exc}"
        if os.environ.get("GEMMA_DESKTOP_SELFTEST_TRACE"):
            traceback.print_exc()
    check.seconds = round(time.perf_counter() - started, 3)
    return check.ok


def _write_picture(path: Path) -> Path:
    """A small picture with distinct shapes: enough for the projector, and a real PNG file."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (250, 246, 238))
    draw = ImageDraw.Draw(image)
    draw.ellipse((18, 22, 82, 86), fill=(66, 133, 244))
    draw.rectangle((92, 30, 142, 80), fill=(234, 67, 53))
    draw.polygon([(40, 112), (80, 92), (120, 112)], fill=(52, 168, 83))
    image.save(path, format="PNG")
    return path


def _write_pair(workdir: Path, arch: str) -> tuple[Path, Path]:
    """The tiny model and projector of ``arch``, paired as the app pairs them."""
    from desktop_app import gguf_fixtures
    from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector

    if arch == "gemma3n":
        model = gguf_fixtures.write_tiny_gemma3n_model(workdir / "tiny-gemma3n.gguf", n_embd=TEXT_EMBD)
        mmproj = gguf_fixtures.write_tiny_gemma3n_mmproj(
            workdir / "mmproj-tiny-gemma3n.gguf", text_embd=TEXT_EMBD, image_size=IMAGE_SIZE
        )
    elif arch == "gemma4":
        model = gguf_fixtures.write_tiny_gemma4_model(
            workdir / "tiny-gemma4.gguf", n_embd=TEXT_EMBD, reply_chain=gguf_fixtures.GEMMA4_THINKING_CHAIN
        )
        mmproj = gguf_fixtures.write_tiny_gemma4_mmproj(
            workdir / "mmproj-tiny-gemma4.gguf", text_embd=TEXT_EMBD, patch_size=PATCH_SIZE
        )
    else:
        model = gguf_fixtures.write_tiny_gemma3_model(workdir / "tiny-gemma3.gguf", n_embd=TEXT_EMBD)
        mmproj = gguf_fixtures.write_tiny_gemma3_mmproj(
            workdir / "mmproj-tiny.gguf", text_embd=TEXT_EMBD, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE
        )
    check_pair(inspect_model(model), inspect_projector(mmproj))
    return model, mmproj


def _engine_check(
    workdir: Path, timeout: float, expect_backend: str | None, cpu_only: bool, arch: str, facts: dict[str, Any]
) -> str:
    from desktop_app.engine.client import EngineClient
    from desktop_app.engine.images import prepare_image
    from desktop_app.engine.protocol import ChatMessage, Done, EngineError, LoadRequest, ModelLoaded
    from desktop_app.models.gemma_files import inspect_projector
    from desktop_app.settings import GenerationSettings, RuntimeSettings
    from desktop_app.thoughts import split_reply

    model, mmproj = _write_pair(workdir, arch)
    picture = prepare_image(_write_picture(workdir / "picture.png"))
    # What the window would show as the picture's cost before sending, from the GGUF header.
    expected_tokens = inspect_projector(mmproj).image_tokens(picture.width, picture.height)
    facts["arch"] = arch

    # --cpu: no layer offloaded (the GPU backend is still built in and loaded). GitHub's macOS
    # runners expose a paravirtual GPU on which llama.cpp's Metal backend hangs or returns
    # garbage (llama.cpp#8617; java-llama.cpp and unsloth's builds run CI with -ngl 0 there).
    runtime = RuntimeSettings(
        n_ctx=1024,
        n_threads=min(2, os.cpu_count() or 1),
        disk_cache=False,
        n_gpu_layers=0 if cpu_only else RuntimeSettings.n_gpu_layers,
    )
    # The app's default sampling (seeded), so a frozen build also runs the sampler's C pass.
    generation = GenerationSettings(seed=0, max_tokens=8, pan_scan="off", think=arch == "gemma4")
    client = EngineClient()
    try:
        client.load(LoadRequest.of(model, mmproj, runtime))
        loaded = client.wait_loaded(timeout)
        if isinstance(loaded, EngineError):
            raise RuntimeError(f"the engine could not load the fixture model: {loaded.message}")
        assert isinstance(loaded, ModelLoaded)
        facts["backend"] = loaded.backend
        if not loaded.has_vision:
            raise RuntimeError("the engine loaded the model but not its projector")
        if loaded.thinks != (arch == "gemma4"):
            raise RuntimeError(f"the engine says the model {'thinks' if loaded.thinks else 'does not think'}")
        if expect_backend and loaded.backend.lower() != expect_backend.lower():
            raise RuntimeError(f"llama.cpp runs on {loaded.backend}, expected {expect_backend}")

        deadline = time.monotonic() + timeout
        done: Done | None = None
        for event in client.stream([ChatMessage.user(picture, QUESTION)], "", generation):
            if isinstance(event, EngineError):
                raise RuntimeError(f"the reply failed: {event.message}")
            if isinstance(event, Done):
                done = event
            if time.monotonic() > deadline:
                client.cancel(hard=True)
                raise TimeoutError(f"no reply within {timeout:.0f} s")
        if done is None:
            raise RuntimeError("the engine ended the reply without a result")
        metrics = done.metrics
        facts["reply"] = done.text
        facts["metrics"] = {
            "load_s": metrics.load_s,
            "image_tokens": metrics.image_tokens,
            "prompt_tokens": metrics.prompt_tokens,
            "decode_tokens": metrics.decode_tokens,
            "ttft_s": metrics.ttft_s,
        }
        if done.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"the reply ended with {done.finish_reason!r}")
        if metrics.image_tokens != expected_tokens:
            raise RuntimeError(f"{metrics.image_tokens} image tokens, expected {expected_tokens}")
        if metrics.prompt_tokens <= expected_tokens:
            raise RuntimeError(f"prompt of {metrics.prompt_tokens} tokens holds no text around the image")
        if done.finish_reason == "length" and metrics.decode_tokens < 1:
            raise RuntimeError("no token was generated")
        if arch == "gemma4":
            reply = split_reply(done.text)
            facts["thought"], facts["answer"] = reply.thought, reply.answer
            if (reply.thought, reply.answer, done.finish_reason) != (GEMMA4_THOUGHT, GEMMA4_ANSWER, "stop"):
                raise RuntimeError(f"the thought did not come apart from the answer: {done.text!r}")
    finally:
        client.close()
    thought = f", thought {metrics.thought_tokens} tokens before answering" if arch == "gemma4" else ""
    where = loaded.backend if arch == "gemma3" else f"{arch} on {loaded.backend}"  # gemma3: as it always read
    return (
        f"{where}: {metrics.image_tokens} image tokens, {metrics.prompt_tokens} prompt "
        f"tokens, {metrics.decode_tokens} generated ({done.finish_reason}){thought} in {metrics.ttft_s:.2f} s "
        "to first token"
    )


def _api_check() -> str:
    """The API server's stack is in the bundle: uvicorn listens on loopback, Starlette routes,
    pydantic refuses a malformed body (no model is loaded: nothing reaches the engine)."""
    import http.client

    from desktop_app.engine.client import EngineClient
    from desktop_app.engine.shared import SharedEngine
    from desktop_app.server.config import ServerConfig
    from desktop_app.server.runner import ApiServer

    with SharedEngine(EngineClient()) as engine:
        server = ApiServer(engine, ServerConfig(port=0))
        server.start()
        try:
            answers = []
            for method, path, body in (("GET", "/health", None), ("POST", "/v1/chat/completions", "{")):
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                answers.append((response.status, json.loads(response.read())))
                connection.close()
        finally:
            server.stop()
    (health, health_body), (bad, bad_body) = answers
    if health != 503 or health_body.get("status") != "no model loaded":
        raise RuntimeError(f"/health answered {health} {health_body}")
    if bad != 400 or bad_body.get("error", {}).get("code") != "invalid_json":
        raise RuntimeError(f"a malformed body got {bad} {bad_body}")
    return f"listened on 127.0.0.1:{server.port}; /health and a malformed request answered as expected"


def _qt_check(facts: dict[str, Any]) -> str:
    """Qt starts (offscreen platform plugin), widgets paint, and PNG/JPEG/SVG/icons load."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import __version__ as pyside_version
    from PySide6.QtGui import QGuiApplication, QImageReader
    from PySide6.QtWidgets import QApplication, QLabel

    from desktop_app.resources import app_icon_path

    app = QApplication.instance() or QApplication(["gemma-desktop-selftest"])  # kept alive to the end
    label = QLabel("Gemma Desktop self-test")
    pixmap = label.grab()
    if pixmap.isNull():
        raise RuntimeError("a widget did not paint")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = {"png", "jpeg", "gif", "webp", "svg", "ico"} - formats
    if missing:
        raise RuntimeError(f"Qt cannot read {', '.join(sorted(missing))} (image plugins missing)")
    platform_name = QGuiApplication.platformName()
    facts["qt"] = {"pyside": pyside_version, "platform": platform_name}
    icon = app_icon_path()
    facts["icon"] = str(icon) if icon else None
    if icon is None and getattr(sys, "frozen", False):
        raise RuntimeError("the app icon is missing from the bundle's resources")
    del label, app
    return f"PySide6 {pyside_version} on {platform_name}, image formats ok, icon {'found' if icon else 'absent'}"


def run_selftest(args: argparse.Namespace) -> int:
    """Run the checks; 0 when all pass."""
    facts: dict[str, Any] = {
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "executable": sys.executable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    checks: list[_Check] = []
    with tempfile.TemporaryDirectory(prefix="gemma-desktop-selftest-") as tmp:
        workdir = Path(tmp)
        # The engine child inherits the environment: keep its caches and logs in the scratch
        # folder, out of the user's data, unless the caller chose a home already.
        home_set = "GEMMA_DESKTOP_HOME" in os.environ
        if not home_set:
            os.environ["GEMMA_DESKTOP_HOME"] = str(workdir / "home")
        try:
            _run(
                checks,
                "engine",
                lambda: _engine_check(workdir, args.timeout, args.expect_backend, args.cpu, args.arch, facts),
            )
            if not checks[-1].ok:
                log = workdir / "home" / "log" / "gemma-desktop.log"
                if log.is_file():
                    facts["engine_log_tail"] = log.read_text("utf-8", "replace")[-4000:]
        finally:
            if not home_set:
                os.environ.pop("GEMMA_DESKTOP_HOME", None)
    _run(checks, "api", _api_check)
    if not args.no_qt:
        _run(checks, "qt", lambda: _qt_check(facts))

    ok = all(c.ok for c in checks)
    if args.json:
        facts["checks"] = [
            {"name": c.name, "ok": c.ok, "detail": c.detail, "seconds": c.seconds} for c in checks
        ]
        facts["ok"] = ok
        print(json.dumps(facts, ensure_ascii=False, indent=2))
    else:
        kind = "frozen" if facts["frozen"] else "from source"
        print(f"Gemma Desktop {__version__} self-test ({kind}, Python {facts['python']}, {facts['machine']})")
        for c in checks:
            print(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail} ({c.seconds:.2f} s)")
        if "engine_log_tail" in facts:
            print("--- engine log ---\n" + facts["engine_log_tail"], file=sys.stderr)
        print("self-test passed" if ok else "self-test FAILED")
    return 0 if ok else 1
