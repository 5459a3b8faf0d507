"""Runs the API application with uvicorn: in the foreground (``serve``) or on a thread (the window).

The socket is bound here, before uvicorn starts, so a port in use or a host that is not this
computer's is one sentence (uvicorn would log it and exit the process), and port 0 reports the
free port it got.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time

import uvicorn

from desktop_app.engine.shared import SharedEngine
from desktop_app.errors import UserError, os_reason
from desktop_app.server.app import ConversationKeeper, build_app
from desktop_app.server.config import ServerConfig

MAX_CONNECTIONS = 64
"""Beyond this many open connections uvicorn answers 503 at once: replies run one at a time, and
a runaway script should not pile up sockets and memory."""
GRACEFUL_STOP_S = 3.0
"""How long a stop waits for replies still streaming before they are cut off."""


class ApiServer:
    """The API server for one shared engine; ``start``/``stop`` on a thread, or ``run`` in front."""

    def __init__(
        self, engine: SharedEngine, config: ServerConfig, keeper: ConversationKeeper | None = None
    ) -> None:
        self.config = config.validate()
        self._socket = _bind(config.host, config.port)
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                build_app(engine, config, keeper),
                http="h11",
                ws="none",
                lifespan="off",
                loop="asyncio",
                log_config=None,
                access_log=False,  # request lines are nobody's business; errors still go to the log
                server_header=False,
                limit_concurrency=MAX_CONNECTIONS,
                timeout_graceful_shutdown=int(GRACEFUL_STOP_S),
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL clients use (``.../v1``)."""
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}/v1"

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C, SIGTERM) or :meth:`stop`; blocks."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self, timeout: float = 10.0) -> None:
        """Serve on a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = GRACEFUL_STOP_S + 5.0) -> None:
        """Stop accepting, let replies in flight end (briefly), and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
            self._thread = None
        else:
            self._socket.close()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise UserError("'{host}' is not an address of this computer.", host=host) from None
    sock = socket.socket(family, kind, proto)
    if os.name != "nt":  # on Windows it would let another program take the port over
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)):
            # str(): a port is a name, not an amount (no thousands separator, in any language).
            raise UserError(
                "Port {port} is already in use; choose another with --port.", port=str(port)
            ) from None
        raise UserError(
            "The server cannot listen on {host}:{port}: {reason}.", host=host, port=str(port), reason=os_reason(exc)
        ) from None
    sock.listen(128)
    return sock
