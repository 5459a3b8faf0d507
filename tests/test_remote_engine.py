"""The remote engine against a real llama-server (built from the vendored llama.cpp, started on
127.0.0.1 with the real Gemma 3 270M, a generated projector and Gemma 3's template): text, images
with Pan & Scan, several turns, Stop, keys, models, and a server that dies mid-reply.

Failures a real server cannot be made to produce are in test_remote_failures.py (a stub)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from desktop_app.engine.documents import prepare_document
from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import (
    ChatMessage,
    Done,
    EngineError,
    Event,
    ModelLoaded,
    Progress,
    ServerLoadRequest,
    Token,
    TokenCount,
)
from desktop_app.engine.remote import RemoteEngine
from desktop_app.engine.remote_probe import list_models
from desktop_app.settings import GenerationSettings
from tests.support.data import PHOTO, Models
from tests.support.remote import SERVER_KEY, llama_server

pytestmark = pytest.mark.slow

SHORT = GenerationSettings(temperature=0.0, max_tokens=8, seed=1)
STORY = "Write a long story about a lighthouse keeper and the sea, with many details."


def _request(server: Any, **overrides: Any) -> ServerLoadRequest:
    fields: dict[str, Any] = {"base_url": server.base_url, "model": _model_id(server),
                              "api_key": SERVER_KEY, "name": "test server"}
    fields.update(overrides)
    return ServerLoadRequest(**fields)


def _model_id(server: Any) -> str:
    return list_models(ServerLoadRequest(server.base_url, "", SERVER_KEY))[0]


def _loaded(request: ServerLoadRequest) -> RemoteEngine:
    engine = RemoteEngine()
    engine.load(request)
    result = engine.wait_loaded(timeout=60)
    assert isinstance(result, ModelLoaded), result
    return engine


def _reply(engine: RemoteEngine, messages: list[ChatMessage], settings: GenerationSettings = SHORT,
           system: str = "") -> tuple[list[Event], Done]:
    events = list(engine.stream(messages, system, settings))
    done = events[-1]
    assert isinstance(done, Done), done
    return events, done


def _interrupted(engine: RemoteEngine, after: int, interrupt: Callable[[], object], seed: int
                 ) -> tuple[list[str], Event]:
    """Ask for a long story and ``interrupt`` once ``after`` tokens have arrived; the tokens and
    the reply's last event."""
    tokens: list[str] = []
    long = GenerationSettings(temperature=1.0, max_tokens=2000, seed=seed)
    for event in engine.stream([ChatMessage.user(STORY)], "", long):
        if isinstance(event, Token):
            tokens.append(event.text)
            if len(tokens) == after:
                interrupt()
        end = event
    return tokens, end


def _load_error(request: ServerLoadRequest) -> str:
    with RemoteEngine() as engine:
        engine.load(request)
        result = engine.wait_loaded(timeout=60)
    assert isinstance(result, EngineError) and result.kind == "user", result
    assert result.message.endswith(".") and "\n" not in result.message
    return result.message


def test_the_server_model_is_checked_and_described(gemma_server: Any) -> None:
    ids = list_models(ServerLoadRequest(gemma_server.base_url, "", SERVER_KEY))
    assert len(ids) == 1 and "gemma-3-270m" in ids[0]
    with _loaded(_request(gemma_server)) as engine:
        loaded = engine.loaded
        assert loaded is not None and loaded.server == "test server"
        assert loaded.model_path == ids[0] and loaded.has_vision
        assert loaded.backend == "llama.cpp server" and loaded.n_ctx == 4096
        assert engine.capabilities is not None and engine.capabilities.server == "test server"


def test_a_text_reply_streams_with_the_servers_numbers(gemma_server: Any) -> None:
    with _loaded(_request(gemma_server)) as engine:
        events, done = _reply(engine, [ChatMessage.user("Name a colour.")])
        _, with_system = _reply(engine, [ChatMessage.user("Name a colour.")], system="Answer in French.")
        timings = dict(engine.last_server_timings)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens and "".join(tokens) == done.text
    assert done.finish_reason in ("stop", "length")
    metrics = done.metrics
    assert metrics.decode_tokens >= len(tokens) > 0 and metrics.prompt_tokens > 5
    assert metrics.ttft_s > 0 and metrics.decode_tok_s > 0
    assert timings["predicted_n"] == with_system.metrics.decode_tokens
    # The system prompt reached the server's template (it folds it into the first user turn).
    assert with_system.metrics.prompt_tokens > metrics.prompt_tokens


def test_the_same_seed_gives_the_same_reply(gemma_server: Any) -> None:
    settings = GenerationSettings(temperature=1.0, top_k=40, max_tokens=12, seed=1234)
    with _loaded(_request(gemma_server)) as engine:
        first = _reply(engine, [ChatMessage.user("Tell me a word.")], settings)[1].text
        second = _reply(engine, [ChatMessage.user("Tell me a word.")], settings)[1].text
    assert first == second


def test_an_image_reaches_the_projector(gemma_server: Any, models: Models) -> None:
    photo = prepare_image(PHOTO)
    with _loaded(_request(gemma_server)) as engine:
        _, text_only = _reply(engine, [ChatMessage.user("Describe it.")])
        events, with_image = _reply(engine, [ChatMessage.user(photo, "Describe it.")])
    extra = with_image.metrics.prompt_tokens - text_only.metrics.prompt_tokens
    # The projector's tokens plus the server's <start_of_image>/<end_of_image> wrapping.
    assert models.tokens_per_image <= extra <= models.tokens_per_image + 8
    assert any(isinstance(e, Progress) and e.phase == "reading the prompt" for e in events)


def test_pan_and_scan_sends_the_crops_of_a_wide_image(gemma_server: Any, models: Models, tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.linear_gradient("L").resize((1200, 400)).convert("RGB").save(wide)
    image = prepare_image(wide)
    with _loaded(_request(gemma_server)) as engine:
        _, plain = _reply(engine, [ChatMessage.user(image, "Read it.")], GenerationSettings(
            temperature=0.0, max_tokens=4, pan_scan="off"))
        _, scanned = _reply(engine, [ChatMessage.user(image, "Read it.")], GenerationSettings(
            temperature=0.0, max_tokens=4, pan_scan="auto"))
    # 1200x400 is cut into 3 crops, each costing the projector's tokens, plus the reference
    # processor's words around them.
    assert scanned.metrics.prompt_tokens - plain.metrics.prompt_tokens >= 3 * models.tokens_per_image + 10


def test_a_second_turn_carries_the_first_and_the_server_reuses_it(gemma_server: Any) -> None:
    photo = prepare_image(PHOTO)
    with _loaded(_request(gemma_server)) as engine:
        turn1 = ChatMessage.user(photo, "What is in this photo?")
        _, first = _reply(engine, [turn1])
        history = [turn1, ChatMessage.assistant(first.text), ChatMessage.user("And the colours?")]
        _, second = _reply(engine, history)
    assert second.metrics.prompt_tokens > first.metrics.prompt_tokens
    assert second.metrics.cached_tokens > 0


def test_stop_ends_the_reply_at_once_and_the_server_takes_the_next(gemma_server: Any) -> None:
    with _loaded(_request(gemma_server)) as engine:
        tokens, stopped = _interrupted(engine, 5, engine.cancel, seed=7)
        assert isinstance(stopped, Done) and stopped.finish_reason == "cancelled"
        assert stopped.text == "".join(tokens) and len(tokens) == 5
        _, after = _reply(engine, [ChatMessage.user("Name a colour.")])
    assert after.finish_reason in ("stop", "length") and after.text


@pytest.fixture
def text_server(
    llama_server_binary: Path, gemma270m: Path, gemma3_template: Path, tmp_path: Path
) -> Iterator[Any]:
    """A llama-server of its own (no key, no projector), for a test that kills it or needs a
    model that cannot see."""
    with llama_server.start_server(
        llama_server_binary, gemma270m, template=gemma3_template, threads=2, log_dir=tmp_path
    ) as server:
        yield server


def _text_request(server: Any, name: str = "") -> ServerLoadRequest:
    return ServerLoadRequest(server.base_url, list_models(ServerLoadRequest(server.base_url, ""))[0],
                             name=name)


def test_a_text_only_model_refuses_images_before_anything_is_sent(text_server: Any) -> None:
    with _loaded(_text_request(text_server)) as engine:
        assert engine.loaded is not None and not engine.loaded.has_vision
        requests_before = text_server.log_tail(100_000).count("POST /v1/chat/completions")
        events = list(engine.stream([ChatMessage.user(prepare_image(PHOTO), "What is it?")]))
        assert text_server.log_tail(100_000).count("POST /v1/chat/completions") == requests_before
    assert len(events) == 1 and isinstance(events[0], EngineError)
    assert "cannot see images" in events[0].message and events[0].kind == "user"


def test_a_wrong_or_missing_key_is_one_sentence(gemma_server: Any) -> None:
    assert "refused the API key (HTTP 401)" in _load_error(_request(gemma_server, api_key="wrong"))
    assert "needs an API key" in _load_error(_request(gemma_server, api_key=""))


def test_an_unknown_model_names_what_the_server_offers(gemma_server: Any) -> None:
    message = _load_error(_request(gemma_server, model="gemma-3-27b-it"))
    assert "has no model 'gemma-3-27b-it'" in message and _model_id(gemma_server) in message


def test_a_conversation_longer_than_the_server_context_is_one_sentence(gemma_server: Any) -> None:
    words = " ".join(["lighthouse"] * 6000)  # over the server's 4096-token context
    with _loaded(_request(gemma_server)) as engine:
        events = list(engine.stream([ChatMessage.user(words)], "", SHORT))
    end = events[-1]
    assert isinstance(end, EngineError) and end.kind == "user"
    assert "longer than the server test server can read at once" in end.message


def test_a_server_killed_mid_reply_keeps_the_partial_reply(text_server: Any) -> None:
    with _loaded(_text_request(text_server, "doomed")) as engine:
        tokens, end = _interrupted(engine, 3, text_server.kill, seed=3)
        assert isinstance(end, EngineError) and end.kind == "user"
        assert "lost in the middle of the reply" in end.message and "kept" in end.message
        assert len(tokens) >= 3
        # The server is gone: the next message says so in one sentence.
        events = list(engine.stream([ChatMessage.user("Hello?")]))
    assert isinstance(events[-1], EngineError) and "Nothing answers at" in events[-1].message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:{closed}/v1", "Nothing answers at"),
        ("http://no-such-host.invalid:8080/v1", "'no-such-host.invalid' could not be found"),
        ("http://127.0.0.1:{port}/nothing-here", "the address usually ends in /v1"),
        ("gopher://example", "is not a server address"),
    ],
)
def test_connection_failures_are_one_sentence(gemma_server: Any, url: str, words: str) -> None:
    url = url.format(port=gemma_server.port, closed=llama_server.free_port())
    assert words in _load_error(ServerLoadRequest(url, "any", SERVER_KEY))


def test_a_reply_asked_for_while_the_server_is_checked_waits_for_the_check(gemma_server: Any) -> None:
    with RemoteEngine() as engine:
        engine.load(_request(gemma_server))
        events = list(engine.stream([ChatMessage.user("Name a colour.")], "", SHORT))
    assert isinstance(events[0], ModelLoaded) and isinstance(events[-1], Done)


def test_a_reply_to_a_server_that_cannot_be_used_gets_the_checks_sentence() -> None:
    with RemoteEngine() as engine:
        engine.load(ServerLoadRequest(f"http://127.0.0.1:{llama_server.free_port()}/v1", "any"))
        request_id = engine.generate([ChatMessage.user("Hello?")])
        events = [engine.next_event(timeout=30), engine.next_event(timeout=30)]
    load_error, reply_error = events
    assert isinstance(load_error, EngineError) and load_error.request_id is None
    assert isinstance(reply_error, EngineError) and reply_error.request_id == request_id
    assert reply_error.kind == "user" and "Nothing answers at" in reply_error.message


def test_a_document_goes_as_text_and_the_server_counts_the_prompt(gemma_server: Any) -> None:
    notes = prepare_document(b"Lighthouse log.\nThe lamp was lit at dusk.\n" * 20, name="log.txt")
    message = ChatMessage.user(notes, "When was the lamp lit?")
    with _loaded(_request(gemma_server)) as engine:
        counted = engine.count([message], "", SHORT)
        _, plain = _reply(engine, [ChatMessage.user("When was the lamp lit?")])
        _, done = _reply(engine, [message])
    assert isinstance(counted, TokenCount) and counted.n_ctx == 4096
    assert counted.prompt_tokens == done.metrics.prompt_tokens
    assert done.metrics.prompt_tokens > plain.metrics.prompt_tokens + 20 * 8
