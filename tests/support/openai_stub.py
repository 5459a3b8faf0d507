"""A loopback stand-in for an OpenAI-compatible server, only for what a real llama-server cannot be
made to do: stream data that is not JSON, answer 429 (with ``Retry-After``), 413 or 503, stall in
the middle of a reply, end a stream without finishing the reply, or speak https with a
certificate of its own authority (the llama-server built for the tests has no TLS).

Everything else the remote engine does is tested against the real llama-server (see
``gemma_server`` in conftest.py).  ``/v1/models`` answers the way llama-server does, so the engine
learns the model's capabilities without a probe request.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "stub-gemma-3"
GOOD_WORDS = ("Hello", " there")
"""The content of the chunks streamed before the failure."""

BEHAVIOURS = ("malformed", "rate-limited", "too-large", "unavailable", "stall", "unfinished")


def _chunk(content: str | None = None, finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def log_message(self, format: str, *args: object) -> None:  # the stub keeps quiet
        pass

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {
                "object": "list",
                "data": [{"id": MODEL, "object": "model", "owned_by": "llamacpp",
                          "meta": {"n_ctx": 4096, "n_ctx_train": 32768}}],
                "models": [{"name": MODEL, "model": MODEL, "capabilities": ["completion", "multimodal"]}],
            })
        else:
            self._json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
        behaviour = self.server.behaviour
        if behaviour == "rate-limited":
            self._json(429, {"error": {"code": 429, "message": "Too many requests", "type": "rate_limit"}},
                       {"Retry-After": "7"})
            return
        if behaviour == "too-large":
            self._json(413, {"error": {"code": 413, "message": "Payload Too Large", "type": "invalid_request_error"}})
            return
        if behaviour == "unavailable":
            self._json(503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for word in GOOD_WORDS:
            self.wfile.write(_chunk(word))
            self.wfile.flush()
        if behaviour == "malformed":
            self.wfile.write(b'data: {"choices": [{"delta": {"content": "and th\n\n')
        elif behaviour == "stall":
            # Say nothing more until the client gives up (or the test ends).
            self.server.release.wait(60)
            return
        elif behaviour == "unfinished":
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: str, certificate: tuple[Path, Path] | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.requests: list[dict[str, object]] = []
        self.release = threading.Event()
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.socket = context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def stub_server(behaviour: str, certificate: tuple[Path, Path] | None = None) -> Iterator[_StubServer]:
    """A stub that misbehaves as ``behaviour`` says, over https with ``certificate`` (PEM
    certificate and key files); its base URL is ``.url``."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    server = _StubServer(behaviour, certificate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (its own authority), and its key, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gemma test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path
