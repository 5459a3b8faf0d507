"""The remote engine's failures that a real llama-server cannot be made to produce: a stream of
data that is not JSON, 429, 413, 503, a stall mid-reply, a stream that ends unfinished.  Each is
one sentence, and what streamed before it is kept.  (Everything a real server can do is in
test_remote_engine.py, against llama-server.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.engine.protocol import ChatMessage, Done, EngineError, ServerLoadRequest, Token
from desktop_app.engine.remote import RemoteEngine
from desktop_app.engine.remote_probe import list_models
from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings
from tests.support.openai_stub import GOOD_WORDS, MODEL, self_signed_certificate, stub_server


def _reply(behaviour: str, read_timeout_s: float = 300.0) -> tuple[list[str], EngineError | Done]:
    with stub_server(behaviour) as stub, RemoteEngine() as engine:
        engine.load(ServerLoadRequest(stub.url, MODEL, name="stub", read_timeout_s=read_timeout_s))
        loaded = engine.wait_loaded(timeout=30)
        assert not isinstance(loaded, EngineError), loaded
        tokens: list[str] = []
        end: EngineError | Done | None = None
        for event in engine.stream([ChatMessage.user("Hi")], "", GenerationSettings(max_tokens=8)):
            if isinstance(event, Token):
                tokens.append(event.text)
            elif isinstance(event, (Done, EngineError)):
                end = event
        assert end is not None
        return tokens, end


def _one_sentence(message: str) -> None:
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message


def test_data_that_is_not_json_stops_the_reply_and_keeps_what_came_before() -> None:
    tokens, end = _reply("malformed")
    assert tokens == list(GOOD_WORDS)
    assert isinstance(end, EngineError) and end.kind == "user"
    assert "sent data that is not a chat reply" in end.message and "kept" in end.message
    _one_sentence(end.message)


def test_a_server_that_stops_sending_is_given_up_on_after_the_read_timeout() -> None:
    tokens, end = _reply("stall", read_timeout_s=2)
    assert tokens == list(GOOD_WORDS)
    assert isinstance(end, EngineError) and end.kind == "user"
    assert "sent nothing for 2 seconds" in end.message and "kept" in end.message
    _one_sentence(end.message)


def test_a_stream_that_ends_without_finishing_keeps_the_text() -> None:
    tokens, end = _reply("unfinished")
    assert tokens == list(GOOD_WORDS)
    assert isinstance(end, EngineError) and "without finishing it" in end.message


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("rate-limited", "busy with other requests (HTTP 429); try again in 7 seconds"),
        ("too-large", "too large for the server stub (HTTP 413)"),
        ("unavailable", "not ready (HTTP 503"),
    ],
)
def test_refusals_before_the_reply_are_one_sentence_and_not_retried(behaviour: str, words: str) -> None:
    with stub_server(behaviour) as stub, RemoteEngine() as engine:
        engine.load(ServerLoadRequest(stub.url, MODEL, name="stub"))
        assert not isinstance(engine.wait_loaded(timeout=30), EngineError)
        events = list(engine.stream([ChatMessage.user("Hi")]))
        assert len(stub.requests) == 1  # a chat request is never sent twice
    end = events[-1]
    assert isinstance(end, EngineError) and end.kind == "user"
    assert words in end.message
    assert not any(isinstance(e, Token) for e in events)
    _one_sentence(end.message)


def test_stop_during_a_stall_ends_the_reply_at_once_with_its_text() -> None:
    with stub_server("stall") as stub, RemoteEngine() as engine:
        engine.load(ServerLoadRequest(stub.url, MODEL))
        assert not isinstance(engine.wait_loaded(timeout=30), EngineError)
        tokens: list[str] = []
        for event in engine.stream([ChatMessage.user("Hi")]):
            if isinstance(event, Token):
                tokens.append(event.text)
                if len(tokens) == len(GOOD_WORDS):
                    engine.cancel()
            elif isinstance(event, (Done, EngineError)):
                end = event
    assert isinstance(end, Done) and end.finish_reason == "cancelled"
    assert end.text == "".join(GOOD_WORDS)


def test_certificates_are_checked_and_a_servers_own_authority_can_be_trusted(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    certificate = self_signed_certificate(tmp_path)
    with stub_server("malformed", certificate) as stub:
        with pytest.raises(UserError) as refused:
            list_models(ServerLoadRequest(stub.url, ""))
        assert list_models(ServerLoadRequest(stub.url, "", ca_file=str(certificate[0]))) == [MODEL]
    message = str(refused.value)
    assert "certificate of 127.0.0.1 could not be verified" in message
    assert "self-signed" in message and message.endswith(".")


def test_a_ca_file_that_is_not_a_certificate_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(UserError, match="could not be read as PEM certificates"):
        list_models(ServerLoadRequest("https://127.0.0.1:1/v1", "", ca_file=str(bad)))
