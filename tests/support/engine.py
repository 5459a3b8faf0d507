"""The engine as these tests run it: the local engine process behind the ``Engine`` protocol."""

from __future__ import annotations

from desktop_app.engine.client import EngineClient
from desktop_app.engine.interface import Engine


def local_engine(engine: Engine) -> EngineClient:
    """``engine`` as the local process client it is here, for what only that client has (its
    process, whether it runs)."""
    assert isinstance(engine, EngineClient), engine
    return engine
