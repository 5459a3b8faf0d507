"""What a server says about a model: whether it has it, whether it sees images, how much context it
gives, and which server it is, asked the way each kind of server answers.

llama-server lists its model's capabilities (``multimodal``) and context in ``/v1/models``; Ollama
answers ``POST /api/show`` with ``capabilities``; LM Studio's ``/api/v1/models`` has
``capabilities.vision`` and its context lengths; for anything else (vLLM among them) a one-token
request about a tiny image shows whether the model takes images.  Everything here blocks: the
remote engine calls it on a worker thread, the window on a background task.

The ``openai`` client built here talks to the configured URL and nowhere else: no proxy from the
environment, no ``OPENAI_*`` settings from the user's environment, certificates always verified
(against the operating system's store, or a CA file for a server with its own authority), and
retries only of connection attempts, which the server never saw.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ServerLoadRequest
from desktop_app.engine.remote_errors import MalformedReply, sentence, server_detail
from desktop_app.engine.remote_messages import data_url
from desktop_app.errors import UserError

CONNECT_TIMEOUT_S = 10.0
"""A server on a LAN or the internet answers a TCP handshake in well under a second."""
PROBE_TIMEOUT_S = 30.0
"""Model lists and model facts are small; a server busy with other users' prompts still answers."""
CONNECT_RETRIES = 1
"""Attempts to connect again (the server never saw the request): a dropped SYN on a busy network."""

_GEMMA3 = re.compile(r"gemma[-_ ]?3(?![0-9n])", re.IGNORECASE)
"""Gemma 3 (1B-27B) in a model id, path or family name; not Gemma 3n, whose vision differs."""

_NO_IMAGE_WORDS = ("image", "vision", "multimodal", "mmproj", "media")


@dataclass(frozen=True)
class ServerModel:
    """What the server reported (or a probe showed) about the model."""

    kind: str
    """Which server it is, as people call it: "llama.cpp server", "vLLM", "Ollama", ..."""
    vision: bool
    n_ctx: int = 0
    """The context the server gives a request, 0 when it does not say."""
    n_ctx_train: int = 0
    gemma3: bool = False
    """A Gemma 3 model: Pan & Scan applies, and images need not be larger than 896 px."""
    progress: bool = False
    """llama-server streams prompt-reading progress when asked (``return_progress``)."""


def client_for(request: ServerLoadRequest) -> openai.OpenAI:
    """An ``openai`` client that talks to this server and nowhere else (see the module doc)."""
    verify: ssl.SSLContext | bool = True
    if request.ca_file:
        try:
            verify = ssl.create_default_context(cafile=request.ca_file)
        except (OSError, ssl.SSLError):
            raise UserError(
                "The certificate authority file '{path}' could not be read as PEM certificates.",
                path=request.ca_file,
            ) from None
    http = httpx2.Client(
        transport=httpx2.HTTPTransport(retries=CONNECT_RETRIES, verify=verify, trust_env=False),
        trust_env=False,
        timeout=httpx2.Timeout(PROBE_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        follow_redirects=False,
    )
    try:
        client = openai.OpenAI(
            # The client insists on a key; servers without authentication ignore this one.
            api_key=request.api_key or "no-key",
            admin_api_key="",
            base_url=request.base_url,
            max_retries=0,  # a request is never repeated; the transport retries connecting
            http_client=http,
        )
    except ValueError:
        http.close()
        raise UserError(
            "'{url}' is not a server address; it should look like http://host:8080/v1.",
            url=request.base_url,
        ) from None
    # Never forward the user's OpenAI account settings to some other server.
    client.organization = None
    client.project = None
    return client


def check_url(url: str) -> str:
    """The URL, stripped, if it can address a server; UserError otherwise."""
    url = url.strip().rstrip("/")
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UserError(
            "'{url}' is not a server address; it should look like http://host:8080/v1.", url=url
        )
    return url


def list_models(request: ServerLoadRequest) -> list[str]:
    """The model ids the server offers (``GET /v1/models``); blocks, so never on the UI thread.

    ``request.model`` is not used: this is how the user picks it.
    """
    check_url(request.base_url)
    with client_for(request) as client:
        try:
            body = _get_json(client, "models")
        except openai.OpenAIError as exc:
            raise sentence(exc, request, "connect") from None
    return [entry["id"] for entry in _model_entries(body)]


def probe(request: ServerLoadRequest) -> ServerModel:
    """Check that the server has the model and find out what it can do; blocks."""
    check_url(request.base_url)
    with client_for(request) as client:
        try:
            return _probe(client, request)
        except openai.OpenAIError as exc:
            raise sentence(exc, request, "connect") from None


def _get_json(client: openai.OpenAI, path: str, body: object = None) -> Any:
    """GET (or POST ``body``) a path under the base URL, or an absolute URL, as JSON."""
    if body is None:
        response = client.get(path, cast_to=httpx2.Response)
    else:
        response = client.post(path, cast_to=httpx2.Response, body=body)
    try:
        return response.json()
    except ValueError:
        raise openai.APIResponseValidationError(response, response.text) from None


def _model_entries(body: object) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise MalformedReply("no model list")
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]


def _root(base_url: str) -> str | None:
    """The server's root, where Ollama and LM Studio keep their own APIs (None if not ``/v1``)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def positive_int(value: object) -> int:
    """A count from a server's JSON; 0 when it is missing or not a positive integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _probe(client: openai.OpenAI, request: ServerLoadRequest) -> ServerModel:
    try:
        body = _get_json(client, "models")
        entries = _model_entries(body)
    except MalformedReply:
        raise UserError(
            "The answer at {url}/models is not a model list; check that {url} is an "
            "OpenAI-compatible API.",
            url=request.base_url,
        ) from None
    entry = next((e for e in entries if e["id"] == request.model), None) or next(
        (e for e in entries if e["id"] == f"{request.model}:latest"), None  # Ollama's tag
    )
    if entry is None and not entries:
        raise UserError(
            "The server {server} has no model '{model}'; it offers no models at all.",
            server=request.label,
            model=request.model,
        )
    if entry is None:
        raise UserError(
            "The server {server} has no model '{model}'; it offers: {offered}.",
            server=request.label,
            model=request.model,
            offered=", ".join(e["id"] for e in entries),
        )
    model_id: str = entry["id"]
    owner = str(entry.get("owned_by", ""))
    meta = _dict(entry.get("meta"))
    names = [model_id, str(entry.get("root", ""))]

    if owner == "llamacpp":
        listed = body.get("models") if isinstance(body.get("models"), list) else []
        capabilities = next(
            (m.get("capabilities") for m in listed
             if isinstance(m, dict) and model_id in (m.get("name"), m.get("model"))),
            None,
        )
        if isinstance(capabilities, list):
            return ServerModel(
                "llama.cpp server",
                "multimodal" in capabilities,
                positive_int(meta.get("n_ctx")),
                positive_int(meta.get("n_ctx_train")),
                _gemma3(names),
                progress=True,
            )
    kind = {"vllm": "vLLM"}.get(owner, "OpenAI-compatible server")
    max_len = positive_int(entry.get("max_model_len"))  # vLLM
    root = _root(request.base_url)
    if root is not None:
        found = _ollama_facts(client, root, model_id, names) or _lm_studio_facts(
            client, root, model_id, names
        )
        if found is not None:
            return found
    vision = _accepts_an_image(client, request, model_id)
    return ServerModel(kind, vision, max_len, max_len, _gemma3(names))


def _gemma3(names: Iterable[str]) -> bool:
    return any(_GEMMA3.search(name) for name in names)


def _optional_json(client: openai.OpenAI, url: str, body: object = None) -> Any:
    """A server-specific endpoint's JSON, or None when this server has no such endpoint."""
    try:
        return _get_json(client, url, body)
    except (openai.APIStatusError, openai.APIResponseValidationError):
        return None


def _ollama_facts(
    client: openai.OpenAI, root: str, model_id: str, names: list[str]
) -> ServerModel | None:
    """Ollama's ``POST /api/show``: ``capabilities`` lists "vision" for a model that sees."""
    shown = _optional_json(client, f"{root}/api/show", {"model": model_id})
    if not isinstance(shown, dict) or not isinstance(shown.get("capabilities"), list):
        return None
    details, info = _dict(shown.get("details")), _dict(shown.get("model_info"))
    n_ctx_train = next((positive_int(v) for k, v in info.items() if k.endswith(".context_length")), 0)
    return ServerModel(
        "Ollama",
        "vision" in shown["capabilities"],
        0,
        n_ctx_train,
        _gemma3([*names, str(details.get("family", ""))]),
    )


def _lm_studio_facts(
    client: openai.OpenAI, root: str, model_id: str, names: list[str]
) -> ServerModel | None:
    """LM Studio's ``GET /api/v1/models``: ``capabilities.vision`` and the context lengths."""
    listed = _optional_json(client, f"{root}/api/v1/models")
    models = listed.get("models") if isinstance(listed, dict) else None
    if not isinstance(models, list):
        return None
    for model in models:
        if not isinstance(model, dict):
            continue
        instances = [i for i in model.get("loaded_instances") or [] if isinstance(i, dict)]
        if model_id not in (model.get("key"), *(i.get("id") for i in instances)):
            continue
        capabilities = _dict(model.get("capabilities"))
        config = _dict(instances[0].get("config")) if instances else {}
        return ServerModel(
            "LM Studio",
            bool(capabilities.get("vision")),
            positive_int(config.get("context_length")),
            positive_int(model.get("max_context_length")),
            _gemma3([*names, str(model.get("architecture", ""))]),
        )
    return None


_PROBE_IMAGE = PreparedImage.from_rgb(8, 8, bytes([128]) * (8 * 8 * 3), "probe")


def _accepts_an_image(client: openai.OpenAI, request: ServerLoadRequest, model_id: str) -> bool:
    """Ask for one token about a tiny grey image: servers refuse images for a text-only model."""
    try:
        client.chat.completions.create(
            model=model_id,
            messages=[{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": data_url(_PROBE_IMAGE)}},
                {"type": "text", "text": "?"},
            ]}],
            max_tokens=1,
            timeout=httpx2.Timeout(request.read_timeout_s, connect=CONNECT_TIMEOUT_S),
        )
    except openai.APIStatusError as exc:
        refusal = exc.status_code in (400, 422, 500, 501)
        if refusal and any(word in server_detail(exc).lower() for word in _NO_IMAGE_WORDS):
            return False
        raise
    return True


def count_prompt(
    client: openai.OpenAI, request: ServerLoadRequest, model: ServerModel, payload: list[dict[str, Any]]
) -> int:
    """The prompt tokens of a chat request as the server's own tokenizer counts them (images
    included), or 0 from a server that cannot count: llama-server answers
    ``/v1/chat/completions/input_tokens``, vLLM ``/tokenize`` with the messages; blocks."""
    body = {"model": request.model, "messages": payload}
    try:
        if model.kind == "llama.cpp server":
            answer = _get_json(client, "chat/completions/input_tokens", body)
            return positive_int(answer.get("input_tokens") if isinstance(answer, dict) else None)
        root = _root(request.base_url)
        if model.kind == "vLLM" and root is not None:
            answer = _optional_json(client, f"{root}/tokenize", body)
            return positive_int(answer.get("count") if isinstance(answer, dict) else None)
    except openai.OpenAIError as exc:
        raise sentence(exc, request, "connect") from None
    return 0
