"""What the remote-engine tests share: bench/'s llama-server runner and the key it is started with."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """A module of bench/ (the llama.cpp tool builder and the server runner live there)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


llama_server = bench_module("llama_server")
"""``start_server`` / ``RunningServer``: llama-server on 127.0.0.1 (see bench/llama_server.py)."""

SERVER_KEY = "test-server-key"
"""The API key the shared llama-server is started with."""
