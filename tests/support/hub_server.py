"""A small stand-in for the Hugging Face Hub's file endpoints, so the real huggingface_hub client
can be tested without a network.

Two HTTP servers on 127.0.0.1 (two ports, hence two origins, like huggingface.co and its CDN):

* the hub answers ``GET /api/whoami-v2`` (who owns a token; 401 for an unknown one), and
  ``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` the way the real one does
  for LFS files: a 302 to the CDN carrying ``X-Repo-Commit``, ``X-Linked-Etag`` (the sha256),
  ``X-Linked-Size`` and ``ETag``, or an error with the hub's ``X-Error-Code`` /
  ``X-Error-Message`` headers (401 ``GatedRepo`` without a token, 401 "Invalid credentials" for
  an unknown token, 403 ``GatedRepo`` for a token without access, 404 ``EntryNotFound``,
  404 ``RepoNotFound``);
* the CDN serves the bytes with ``Range`` support (206 and ``Content-Range``), and can be told
  to drop the connection part-way, to serve bytes that do not match the announced sha256, to
  trickle them, or to hold a transfer part-way until the test lets it go on.

Every request is recorded for assertions.  The servers stop when the ``with`` block ends, and
on their own after ``lifetime_s`` in case a test never gets there.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNK = 16 * 1024
"""The CDN writes bodies in pieces of this size; download tests read with the same size."""
GOOD_TOKEN = "hf_good_token"
"""Has access to every gated repository."""
NO_ACCESS_TOKEN = "hf_valid_but_no_access"
"""A real token whose owner never accepted the licence."""
USER = "test-user"
"""Whose both tokens are, as whoami tells."""


@dataclass
class HostedFile:
    """One file in a repository, and how the CDN should misbehave when serving it."""

    data: bytes
    corrupt: bool = False
    """Serve bytes whose sha256 differs from the announced one (same length)."""
    drop_after: int | None = None
    """On the first GET only, close the connection after this many body bytes."""
    chunk_delay_s: float = 0.0
    """Pause after every chunk: a lower bound on how long a transfer takes, whatever the machine."""
    hold_after: int | None = None
    """On the first GET only, stop at the first chunk boundary at or past this many body bytes
    until ``release`` is set, so a test can act in the middle of a transfer (pause it, say)
    knowing that the transfer cannot have finished meanwhile."""
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def served_bytes(self) -> bytes:
        if not self.corrupt:
            return self.data
        return bytes([self.data[0] ^ 0xFF]) + self.data[1:]


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names, as HTTP treats them."""


@dataclass
class FakeHub:
    """The state both servers share: repositories, gating, and the request log."""

    repos: dict[str, dict[str, HostedFile]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    hub_url: str = ""
    cdn_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _dropped: set[int] = field(default_factory=set)
    _held: set[int] = field(default_factory=set)

    def add(
        self,
        repo: str,
        filename: str,
        data: bytes,
        *,
        corrupt: bool = False,
        drop_after: int | None = None,
        chunk_delay_s: float = 0.0,
        hold_after: int | None = None,
    ) -> HostedFile:
        """Host ``data`` as ``filename`` in ``repo`` (replacing what was there), served as told."""
        hosted = HostedFile(
            data, corrupt=corrupt, drop_after=drop_after, chunk_delay_s=chunk_delay_s, hold_after=hold_after
        )
        self.repos.setdefault(repo, {})[filename] = hosted
        return hosted

    def cdn_gets(self) -> list[Request]:
        return [r for r in self.requests if r.server == "cdn" and r.method == "GET"]

    def blob(self, sha256: str, repo: str | None = None, filename: str | None = None) -> HostedFile | None:
        """The file the hub redirected to (its repository and name ride along in the CDN URL, so
        two files with the same bytes can behave differently), or any file with these bytes."""
        named = self.repos.get(repo or "", {}).get(filename or "")
        if named is not None and named.sha256 == sha256:
            return named
        for files in self.repos.values():
            for hosted in files.values():
                if hosted.sha256 == sha256:
                    return hosted
        return None

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def first_drop(self, hosted: HostedFile) -> bool:
        """True once per file: the first GET is the one that gets cut."""
        return self._first(self._dropped, hosted)

    def first_hold(self, hosted: HostedFile) -> bool:
        """True once per file: the first GET is the one that is held."""
        return self._first(self._held, hosted)

    def _first(self, seen: set[int], hosted: HostedFile) -> bool:
        with self._lock:
            if id(hosted) in seen:
                return False
            seen.add(id(hosted))
            return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub
    role: str

    def log_message(self, format: str, *args: object) -> None:
        return  # keep test output clean

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def _handle(self, send_body: bool) -> None:
        self.hub.record(
            Request(self.role, self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        if self.role == "hub":
            self._resolve()
        else:
            self._serve_blob(send_body)

    # --- hub ------------------------------------------------------------------------------

    def _whoami(self) -> None:
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ").strip() not in (GOOD_TOKEN, NO_ACCESS_TOKEN):
            self._error(401, None, "Invalid credentials in Authorization header")
            return
        body = json.dumps({"type": "user", "name": USER}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _resolve(self) -> None:
        if self.path.split("?", 1)[0] == "/api/whoami-v2":
            self._whoami()
            return
        parts = unquote(self.path.split("?", 1)[0]).lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            self._error(404, "RepoNotFound", "Repository not found")
            return
        repo, filename = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
        if repo not in self.hub.repos:
            self._error(404, "RepoNotFound", "Repository not found")
            return
        if repo in self.hub.gated and not self._authorised():
            return
        hosted = self.hub.repos[repo].get(filename)
        if hosted is None:
            self._error(404, "EntryNotFound", f"{filename} does not exist on main")
            return
        self.send_response(302)
        where = urlencode({"repo": repo, "file": filename})
        self.send_header("Location", f"{self.hub.cdn_url}/blobs/{hosted.sha256}?{where}")
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("X-Linked-Etag", f'"{hosted.sha256}"')
        self.send_header("X-Linked-Size", str(len(hosted.data)))
        self.send_header("ETag", '"0000000000000000000000000000000000000000"')  # the pointer's git sha
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not token:
            self._error(
                401,
                "GatedRepo",
                "Access to this model is restricted. You must have access to it and be "
                "authenticated to access it. Please log in.",
            )
        elif token == NO_ACCESS_TOKEN:
            self._error(403, "GatedRepo", "Access to this model is restricted and you are not in the authorized list.")
        elif token != GOOD_TOKEN:
            self._error(401, None, "Invalid credentials in Authorization header")
        else:
            return True
        return False

    def _error(self, status: int, code: str | None, message: str) -> None:
        body = message.encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- cdn ------------------------------------------------------------------------------

    def _serve_blob(self, send_body: bool) -> None:
        path, _, query = self.path.partition("?")
        sha256 = path.rsplit("/", 1)[-1]
        named = parse_qs(query)
        hosted = self.hub.blob(sha256, *(named.get(key, [None])[0] for key in ("repo", "file")))
        if hosted is None:
            self._error(404, None, "No such blob")
            return
        data = hosted.served_bytes()
        start = 0
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
            start = int(range_header[len("bytes=") : -1])
        body = data[start:]
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not send_body:
            return
        if hosted.drop_after is not None and self.hub.first_drop(hosted):
            self.wfile.write(body[: hosted.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        hold = hosted.hold_after if hosted.hold_after is not None and self.hub.first_hold(hosted) else None
        for offset in range(0, len(body), CHUNK):
            if hold is not None and offset >= hold:
                self.wfile.flush()
                hosted.release.wait()
                hold = None
            self.wfile.write(body[offset : offset + CHUNK])
            if hosted.chunk_delay_s:
                self.wfile.flush()
                threading.Event().wait(hosted.chunk_delay_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        """A client that hangs up mid-transfer (a cancelled download) is expected, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _start(hub: FakeHub, role: str) -> _Server:
    handler = type(f"{role.title()}Handler", (_Handler,), {"hub": hub, "role": role})
    server = _Server(("127.0.0.1", 0), handler)
    # A short poll interval lets shutdown() return quickly at the end of every test.
    threading.Thread(target=server.serve_forever, args=(0.05,), name=f"fake-{role}", daemon=True).start()
    return server


@contextmanager
def fake_hub(lifetime_s: float = 120.0) -> Iterator[FakeHub]:
    """Run a fake hub and CDN on 127.0.0.1 for the duration of the ``with`` block."""
    hub = FakeHub()
    servers = [_start(hub, "hub"), _start(hub, "cdn")]
    hub.hub_url = f"http://127.0.0.1:{servers[0].server_address[1]}"
    hub.cdn_url = f"http://127.0.0.1:{servers[1].server_address[1]}"

    def stop() -> None:
        for files in hub.repos.values():
            for hosted in files.values():
                hosted.release.set()  # no handler thread left waiting
        for server in servers:
            server.shutdown()
            server.server_close()

    watchdog = threading.Timer(lifetime_s, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield hub
    finally:
        watchdog.cancel()
        stop()
