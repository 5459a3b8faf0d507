"""The OpenAI-compatible server end to end: the official ``openai`` client and raw HTTP against a
real server (uvicorn on a free port) over a real engine (llama.cpp on generated Gemma 3 GGUFs).

One engine per module keeps the suite quick; each test that needs other settings (a token, small
limits, stored conversations) starts its own server over the same shared engine, which is also
how the window shares its engine with the server.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psutil
import pytest
from openai.types.chat import ChatCompletionContentPartImageParam, ChatCompletionMessageParam
from PIL import Image

from desktop_app.cli.chat import load_engine
from desktop_app.engine.client import EngineClient
from desktop_app.engine.protocol import ChatMessage, Done, EngineError, Event, LoadRequest, ModelLoaded, TokenCount
from desktop_app.engine.shared import EventSink, ReplyTicket, SharedEngine
from desktop_app.server.config import ServerConfig, ServerLimits
from desktop_app.server.keeping import StoreKeeper
from desktop_app.server.runner import ApiServer
from desktop_app.settings import GenerationSettings, RuntimeSettings
from desktop_app.store import ConversationStore
from tests.support.data import PHOTO, Models

RUNTIME = RuntimeSettings(n_ctx=2048, n_threads=2)
STORY = "Tell me a long story."
"""With seed 33 the tiny model writes until the context is full (~2,000 tokens): a reply to cut."""
GREEDY: dict[str, Any] = {"temperature": 0, "seed": 7}


class RecordingEngine(SharedEngine):
    """A shared engine that also remembers how each reply ended, for the tests to wait on."""

    def __init__(self, engine: EngineClient) -> None:
        super().__init__(engine)
        self.ended: list[Done | EngineError] = []
        self.threads: list[str] = []
        self._changed = threading.Condition()

    def submit(
        self, messages: Any, system_prompt: str, settings: GenerationSettings, sink: EventSink, *, thread: str = ""
    ) -> ReplyTicket:
        self.threads.append(thread)

        def record(event: Event) -> None:
            # Recorded before the client hears of it: a test that starts once its client has
            # its answer must find the earlier replies already counted.
            if isinstance(event, (Done, EngineError)):
                with self._changed:
                    self.ended.append(event)
                    self._changed.notify_all()
            sink(event)

        return super().submit(messages, system_prompt, settings, record, thread=thread)

    def wait_ended(self, count: int, timeout: float = 120) -> list[Done | EngineError]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.ended) >= count, timeout), self.ended
            return list(self.ended)


@pytest.fixture(scope="module")
def engine(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingEngine]:
    with pytest.MonkeyPatch.context() as patch:
        # The engine process is spawned now, before any test's own app home exists.
        patch.setenv("GEMMA_DESKTOP_HOME", str(tmp_path_factory.mktemp("server-home")))
        shared = RecordingEngine(load_engine(LoadRequest.of(models.tiny, models.mmproj, RUNTIME)))
    yield shared
    shared.close()


def _serve(engine: SharedEngine, **config: Any) -> ApiServer:
    server = ApiServer(engine, ServerConfig(port=0, pan_scan="off", **config))
    server.start()
    return server


@pytest.fixture(scope="module")
def server(engine: RecordingEngine) -> Iterator[ApiServer]:
    server = _serve(engine)
    yield server
    server.stop()


@pytest.fixture
def client(server: ApiServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="not-needed", max_retries=0, timeout=120)


def data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def gradient(width: int = 96, height: int = 64, shade: int = 0) -> Image.Image:
    return Image.linear_gradient("L").resize((width, height)).convert("RGB").point(lambda v: (v + shade) % 256)


def image_part(url: str) -> ChatCompletionContentPartImageParam:
    return {"type": "image_url", "image_url": {"url": url}}


def raw_request(
    server: ApiServer, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One request over http.client: the status and the JSON body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        data = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def assert_error(status: int, body: dict[str, Any], expected_status: int, *words: str) -> dict[str, Any]:
    assert status == expected_status, (status, body)
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"].endswith(".") and "Traceback" not in error["message"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    return error


# ------------------------------------------------------------------------- the openai client
def test_the_openai_client_gets_a_text_reply_with_usage_and_timings(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny-gemma3", messages=[{"role": "user", "content": "hello there"}], max_tokens=12, **GREEDY
    )
    assert reply.object == "chat.completion" and reply.model == "tiny-gemma3"
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"  # random weights rarely stop by themselves
    usage = reply.usage
    assert usage is not None and usage.completion_tokens == 12 and usage.prompt_tokens > 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    timings = reply.model_extra["timings"]
    assert timings["predicted_n"] == 12 and timings["predicted_per_second"] > 0
    assert timings["cache_n"] + timings["prompt_n"] == usage.prompt_tokens
    assert {"prompt_ms", "prompt_per_second", "predicted_ms", "image_encode_ms"} <= set(timings)


def test_the_models_route_names_the_served_model(client: openai.OpenAI) -> None:
    listed = client.models.list()
    assert [m.id for m in listed.data] == ["tiny-gemma3"]
    assert client.models.retrieve("tiny-gemma3").id == "tiny-gemma3"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_an_image_reaches_the_model_and_is_counted(client: openai.OpenAI, models: Models) -> None:
    reply = client.chat.completions.create(
        model="tiny-gemma3",
        messages=[{"role": "user", "content": [image_part(data_url(gradient())), {"type": "text", "text": "What?"}]}],
        max_tokens=4,
        **GREEDY,
    )
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.image_tokens == models.tokens_per_image
    assert usage.prompt_tokens > models.tokens_per_image


def test_a_real_photo_as_jpeg_and_pan_and_scan_on_request(client: openai.OpenAI, models: Models) -> None:
    url = "data:image/jpeg;base64," + base64.b64encode(PHOTO.read_bytes()).decode()
    message: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": [{"type": "text", "text": "Describe"}, image_part(url)]}
    ]
    plain = client.chat.completions.create(model="tiny-gemma3", messages=message, max_tokens=2, **GREEDY)
    scanned = client.chat.completions.create(
        model="tiny-gemma3", messages=message, max_tokens=2, extra_body={"pan_scan": "on"}, **GREEDY
    )
    assert plain.usage is not None and scanned.usage is not None
    assert plain.usage.prompt_tokens_details.image_tokens == models.tokens_per_image
    # "on" cuts the photo into crops, each read as another image.
    assert scanned.usage.prompt_tokens_details.image_tokens > 2 * models.tokens_per_image


def test_multi_turn_with_images_reuses_what_the_engine_already_read(
    client: openai.OpenAI, models: Models, engine: RecordingEngine
) -> None:
    first_image, second_image = data_url(gradient(shade=11)), data_url(gradient(shade=99))
    history: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [image_part(first_image), {"type": "text", "text": "And this?"}]},
    ]
    turn1 = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=6, **GREEDY)
    history += [
        {"role": "assistant", "content": turn1.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "Compare with"}, image_part(second_image)]},
    ]
    turn2 = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=6, **GREEDY)
    elsewhere: ChatCompletionMessageParam = {
        "role": "user",
        "content": [image_part(second_image), {"type": "text", "text": "Another"}],
    }
    other = client.chat.completions.create(model="tiny-gemma3", messages=[history[0], elsewhere], max_tokens=1)
    # Turn 2 continues turn 1's conversation in the engine; another conversation is another thread.
    thread1, thread2, thread3 = engine.threads[-3:]
    assert thread1 == thread2 != thread3 and thread1.startswith("api-")
    assert turn1.usage is not None and turn2.usage is not None and other.choices
    assert turn2.usage.prompt_tokens_details.image_tokens == 2 * models.tokens_per_image
    # Everything of turn 1 (its image included) came from the KV cache.
    assert turn2.usage.prompt_tokens_details.cached_tokens >= turn1.usage.prompt_tokens
    assert turn2.model_extra["timings"]["cache_n"] == turn2.usage.prompt_tokens_details.cached_tokens


def test_an_api_conversation_stays_warm_while_another_is_answered(
    client: openai.OpenAI, engine: RecordingEngine
) -> None:
    history: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name a colour, then a river."}]
    turn1 = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=6, **GREEDY)
    client.chat.completions.create(
        model="tiny-gemma3", messages=[{"role": "user", "content": "Something else: a fruit."}], max_tokens=4
    )
    history += [
        {"role": "assistant", "content": turn1.choices[0].message.content},
        {"role": "user", "content": "And another colour?"},
    ]
    turn2 = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=6, **GREEDY)
    first, other, again = engine.threads[-3:]
    assert first == again != other
    # The engine kept the first conversation's memory while it answered the other one (without
    # threads it would have read it all again: a few tokens of the template reused at most).
    assert turn1.usage is not None and turn2.usage is not None
    assert turn2.usage.prompt_tokens_details.cached_tokens >= turn1.usage.prompt_tokens


def test_streaming_gives_the_same_text_and_usage_last(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "stream this"}]
    whole = client.chat.completions.create(model="tiny-gemma3", messages=messages, max_tokens=16, **GREEDY)
    chunks = list(
        client.chat.completions.create(
            model="tiny-gemma3",
            messages=messages,
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
            **GREEDY,
        )
    )
    content = [c for c in chunks if c.choices]
    assert content[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content) == whole.choices[0].message.content
    assert content[-1].choices[0].finish_reason == "length"
    assert all(c.usage is None for c in content)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 16
    assert last.model_extra["timings"]["predicted_n"] == 16


def test_a_stop_string_cuts_the_reply(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]
    whole = client.chat.completions.create(model="tiny-gemma3", messages=messages, max_tokens=24, **GREEDY)
    text = whole.choices[0].message.content or ""
    cut = len(text) // 2
    stop = text[cut : cut + 3]
    assert len(stop) == 3
    stopped = client.chat.completions.create(
        model="tiny-gemma3", messages=messages, max_tokens=24, stop=[stop], **GREEDY
    )
    assert stopped.choices[0].message.content == text[: text.index(stop)]
    assert stopped.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(
        model="tiny-gemma3", messages=messages, max_tokens=24, stop=stop, stream=True, **GREEDY
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == text[: text.index(stop)]


def test_concurrent_clients_each_get_their_own_reply(client: openai.OpenAI, engine: RecordingEngine) -> None:
    prompts = ["first question", "second, different question", "a third one, longer than the others"]

    def ask(prompt: str, stream: bool) -> str:
        kwargs: dict[str, Any] = {"model": "tiny-gemma3", "messages": [{"role": "user", "content": prompt}],
                                  "max_tokens": 20, **GREEDY}
        if stream:
            chunks = client.chat.completions.create(stream=True, **kwargs)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return client.chat.completions.create(**kwargs).choices[0].message.content or ""

    alone = {prompt: ask(prompt, False) for prompt in prompts}
    assert len(set(alone.values())) == len(prompts)
    together: dict[tuple[str, bool], str] = {}
    threads = [
        threading.Thread(target=lambda p=p, s=s: together.__setitem__((p, s), ask(p, s)))
        for p in prompts
        for s in (False, True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(together) == 2 * len(prompts)
    for (prompt, _stream), text in together.items():
        assert text == alone[prompt]


# ------------------------------------------------------------------------ stop by disconnect
def _open_stream(server: ApiServer, prompt: str) -> socket.socket:
    """A raw streaming request, read up to its first event; the caller hangs up."""
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "stream": True, "max_tokens": 8192,
                       "seed": 33}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def _read_until(sock: socket.socket, marker: bytes, received: bytes = b"") -> bytes:
    while marker not in received:
        data = sock.recv(4096)
        assert data, received
        received += data
    return received


def test_a_client_that_disconnects_stops_its_reply(server: ApiServer, engine: RecordingEngine) -> None:
    before = len(engine.ended)
    sock = _open_stream(server, STORY)
    received = _read_until(sock, b"data: ")
    assert received.startswith(b"HTTP/1.1 200")
    sock.close()
    ended = engine.wait_ended(before + 1)[before]
    assert isinstance(ended, Done) and ended.finish_reason == "cancelled"
    assert 0 < ended.metrics.decode_tokens < 8192


def test_a_queued_request_whose_client_leaves_never_reaches_the_engine(
    server: ApiServer, engine: RecordingEngine
) -> None:
    before = len(engine.ended)
    running = _open_stream(server, STORY)
    _read_until(running, b"data: ")
    # Sent whole, then abandoned while it waits behind the running reply (which writes ~2,000
    # tokens): the server reads it, queues it, sees the client gone and takes it off the queue.
    _open_stream(server, "I will not wait").close()
    ended = engine.wait_ended(before + 1)[before]
    assert isinstance(ended, Done) and ended.finish_reason == "cancelled"
    assert ended.metrics.prompt_tokens == 0  # cancelled in the queue: the engine never saw it
    running.close()
    last = engine.wait_ended(before + 2)[before + 1]
    assert isinstance(last, Done) and last.finish_reason == "cancelled" and last.metrics.decode_tokens > 0


# ----------------------------------------------------------------------- what is refused
def test_malformed_json_is_one_sentence(server: ApiServer) -> None:
    status, body = raw_request(server, "POST", "/v1/chat/completions", '{"messages": [')
    error = assert_error(status, body, 400, "not valid JSON")
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("payload", "param", "words"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature", ["number"]),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": "10"}, "max_tokens", ["integer"]),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text",
         ["string"]),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role", ["user"]),
        ({"messages": []}, "messages", ["at least 1"]),
        ({"messages": "hi"}, "messages", ["array"]),
        ({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream", ["boolean"]),
        ({"messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]}, "stop", ["4"]),
    ],
)
def test_wrong_types_name_the_field(server: ApiServer, payload: dict[str, Any], param: str, words: list[str]) -> None:
    status, body = raw_request(server, "POST", "/v1/chat/completions", json.dumps(payload))
    error = assert_error(status, body, 400, *words)
    assert error["param"] == param


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"temperature": 9}, ["temperature"]),
        ({"n": 2}, ["n must be 1"]),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, ["Tools"]),
        ({"frequency_penalty": 0.5}, ["repeat_penalty"]),
        ({"response_format": {"type": "json_object"}}, ["plain text"]),
        ({"seed": -5}, ["seed"]),
        ({"max_tokens": 0}, ["at least 1"]),
    ],
)
def test_values_the_server_cannot_honour_are_refused(client: openai.OpenAI, payload: dict[str, Any],
                                                     words: list[str]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny-gemma3", messages=[{"role": "user", "content": "hi"}],
                                       extra_body=payload)
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([{"role": "assistant", "content": "I start"}, {"role": "user", "content": "hi"}], ["start with a user"]),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "prefill"}], ["last message"]),
        ([{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}], ["System messages"]),
        ([{"role": "tool", "content": "42", "tool_call_id": "x"}], ["Tools"]),
        ([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}],
         ["input_audio"]),
        ([{"role": "assistant", "content": [image_part("data:image/png;base64,AAAA")]},
          {"role": "user", "content": "hi"}], ["image_url"]),
    ],
)
def test_conversations_gemma_cannot_read_are_refused(client: openai.OpenAI, messages: list[dict[str, Any]],
                                                      words: list[str]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny-gemma3", messages=messages)  # type: ignore[arg-type]
    for word in words:
        assert word in caught.value.message


def test_consecutive_messages_of_one_role_are_joined(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny-gemma3",
        messages=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
        max_tokens=2,
    )
    assert reply.choices[0].message.content is not None


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "tiny-gemma3" in caught.value.message
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_unknown_route_is_404_json(server: ApiServer) -> None:
    status, body = raw_request(server, "GET", "/v1/embeddings")
    assert_error(status, body, 404, "no such route")


@pytest.mark.parametrize(
    ("url", "status", "code", "words"),
    [
        ("https://example.com/cat.png", 400, "remote_image_refused", ["remote URL", "data URL"]),
        ("file:///etc/passwd", 400, None, ["never read"]),
        ("/etc/passwd", 400, None, ["never read"]),
        ("data:image/png;base64,not base64!", 400, None, ["not valid base64"]),
        ("data:text/plain;base64,aGk=", 400, None, ["not a base64 image data URL"]),
        ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nbroken").decode(), 400, "invalid_image",
         ["image 1"]),
    ],
)
def test_images_come_only_from_the_request(server: ApiServer, url: str, status: int, code: str | None,
                                           words: list[str]) -> None:
    payload = {"messages": [{"role": "user", "content": [image_part(url), {"type": "text", "text": "?"}]}]}
    got, body = raw_request(server, "POST", "/v1/chat/completions", json.dumps(payload))
    error = assert_error(got, body, status, *words)
    assert error["param"] == "messages.0.content.0"
    if code:
        assert error["code"] == code


def test_limits_on_body_images_and_image_size(engine: RecordingEngine) -> None:
    limits = ServerLimits(max_body_bytes=256 * 1024, max_images=2, max_image_bytes=4 * 1024)
    server = _serve(engine, limits=limits)
    try:
        big = {"messages": [{"role": "user", "content": "x" * 300_000}]}
        error = assert_error(*raw_request(server, "POST", "/v1/chat/completions", json.dumps(big)), 413, "limit")
        assert error["code"] == "body_too_large"
        # Without a Content-Length (chunked), the body is still read only up to the limit.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("POST", "/v1/chat/completions", body=iter([json.dumps(big).encode()]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"]["code"] == "body_too_large"
        connection.close()

        small = data_url(gradient(16, 16))
        three = {"messages": [{"role": "user", "content": [image_part(small)] * 3}]}
        error = assert_error(*raw_request(server, "POST", "/v1/chat/completions", json.dumps(three)), 400, "3 images")
        assert error["code"] == "too_many_images"
        noisy = Image.effect_noise((128, 128), 100).convert("RGB")
        large = {"messages": [{"role": "user", "content": [image_part(data_url(noisy))]}]}
        status, body = raw_request(server, "POST", "/v1/chat/completions", json.dumps(large))
        error = assert_error(status, body, 413, "Image 1", "4.0 KB")
        assert error["code"] == "image_too_large"
    finally:
        server.stop()


def test_a_token_is_required_when_one_is_set(engine: RecordingEngine) -> None:
    token = "a-long-enough-secret-token"
    server = _serve(engine, api_key=token)
    try:
        message: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
        for wrong in ("", "nope-nope-nope-nope-nope"):
            anonymous = openai.OpenAI(base_url=server.url, api_key=wrong or "x", max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                anonymous.chat.completions.create(model="tiny-gemma3", messages=message, max_tokens=1)
        status, body = raw_request(server, "GET", "/v1/models")
        assert_error(status, body, 401, "bearer token")
        # The health route says nothing private and stays open, as llama-server's does.
        assert raw_request(server, "GET", "/health") == (200, {"status": "ok", "model": "tiny-gemma3"})
        allowed = openai.OpenAI(base_url=server.url, api_key=token, max_retries=0)
        assert allowed.chat.completions.create(model="tiny-gemma3", messages=message, max_tokens=1).choices
    finally:
        server.stop()


def test_web_pages_and_rebound_host_names_are_refused(server: ApiServer) -> None:
    payload = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    status, body = raw_request(server, "POST", "/v1/chat/completions", payload, {"Host": "attacker.example:8765"})
    assert_error(status, body, 421, "this computer")
    status, body = raw_request(server, "POST", "/v1/chat/completions", payload,
                               {"Origin": "https://attacker.example", "Content-Type": "text/plain"})
    assert_error(status, body, 403, "web pages")
    status, _ = raw_request(server, "POST", "/v1/chat/completions", payload, {"Origin": "http://localhost:3000"})
    assert status == 200


def test_listening_on_the_network_needs_a_token(engine: RecordingEngine) -> None:
    from desktop_app.errors import UserError

    with pytest.raises(UserError, match="GEMMA_DESKTOP_API_KEY"):
        ApiServer(engine, ServerConfig(host="0.0.0.0", port=0))


def test_a_port_in_use_is_one_sentence(server: ApiServer, engine: RecordingEngine) -> None:
    from desktop_app.errors import UserError

    with pytest.raises(UserError, match=f"Port {server.port} is already in use"):
        ApiServer(engine, ServerConfig(port=server.port))


def test_a_text_only_model_refuses_images_and_no_model_is_503(models: Models) -> None:
    with SharedEngine(EngineClient()) as empty:
        server = _serve(empty)
        try:
            status, body = raw_request(server, "GET", "/health")
            assert status == 503 and body == {"status": "no model loaded"}
            payload = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
            error = assert_error(*raw_request(server, "POST", "/v1/chat/completions", payload), 503, "No model")
            assert error["code"] == "model_not_loaded"
            lane = empty.lane()
            empty.load(LoadRequest.of(models.tiny, None, RUNTIME))
            assert isinstance(lane.wait_loaded(120), ModelLoaded)
            with_image = {"messages": [{"role": "user", "content": [image_part(data_url(gradient()))]}]}
            error = assert_error(*raw_request(server, "POST", "/v1/chat/completions", json.dumps(with_image)), 400,
                                 "vision projector")
            assert error["code"] == "vision_not_supported"
        finally:
            server.stop()


def test_a_conversation_longer_than_the_context_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny-gemma3", messages=[{"role": "user", "content": "word " * 3000}],
                                       stream=True)
    assert "context" in caught.value.message


# ------------------------------------------------------------------- conversations stay private
def test_api_conversations_are_not_stored_by_default(client: openai.OpenAI, app_home: Path) -> None:
    client.chat.completions.create(model="tiny-gemma3", messages=[{"role": "user", "content": "private"}],
                                   max_tokens=2)
    assert not list(app_home.rglob("*.sqlite3"))


def test_keep_conversations_stores_each_api_conversation_once(engine: RecordingEngine, app_home: Path) -> None:
    keeper = StoreKeeper()
    server = ApiServer(engine, ServerConfig(port=0, pan_scan="off"), keeper)
    server.start()
    try:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        picture = data_url(gradient(shade=42))
        history: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": [image_part(picture), {"type": "text", "text": "keep me"}]}
        ]
        first = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=3)
        history += [{"role": "assistant", "content": first.choices[0].message.content},
                    {"role": "user", "content": "and again"}]
        second = client.chat.completions.create(model="tiny-gemma3", messages=history, max_tokens=3)
        client.chat.completions.create(model="tiny-gemma3", messages=[{"role": "user", "content": "another"}],
                                       max_tokens=2)
        keeper.flush()
    finally:
        server.stop()
        keeper.close()
    with ConversationStore() as store:
        conversations = store.list_conversations()
        assert [c.title for c in conversations] == ["another", "keep me"]
        messages = store.messages(conversations[1].id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0].text == "keep me" and len(messages[0].attachments) == 1
    assert messages[3].text == second.choices[0].message.content


def test_a_crashed_engine_is_a_503_and_the_next_request_restarts_it(engine: RecordingEngine,
                                                                     server: ApiServer) -> None:
    child = next(p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline()))
    before = len(engine.ended)
    sock = _open_stream(server, STORY)
    received = _read_until(sock, b"data: ")
    child.kill()
    ended = engine.wait_ended(before + 1)[before]
    assert isinstance(ended, EngineError) and ended.kind == "crashed"
    received = _read_until(sock, b"[DONE]", received)
    sock.close()
    assert b"The engine stopped unexpectedly" in received and b'"type": "server_error"' in received
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=120)
    assert client.chat.completions.create(model="tiny-gemma3", messages=[{"role": "user", "content": "again"}],
                                          max_tokens=2).choices[0].message.content


# ------------------------------------------------------------------------- the shared engine
def test_two_lanes_of_one_engine_never_see_each_others_text(engine: RecordingEngine) -> None:
    lane_a, lane_b = engine.lane(), engine.lane()
    try:
        settings = GenerationSettings(max_tokens=6, temperature=0)
        id_a = lane_a.generate([ChatMessage.user("from lane a")], "", settings)
        id_b = lane_b.generate([ChatMessage.user("from lane b")], "", settings)
        seen: dict[str, list[Event]] = {"a": [], "b": []}
        for name, lane in (("a", lane_a), ("b", lane_b)):
            while not seen[name] or not isinstance(seen[name][-1], (Done, EngineError)):
                event = lane.next_event(timeout=120)
                assert event is not None
                seen[name].append(event)
        assert {getattr(e, "request_id", None) for e in seen["a"]} == {id_a}
        assert {getattr(e, "request_id", None) for e in seen["b"]} == {id_b}
        done_b = seen["b"][-1]
        assert isinstance(done_b, Done) and done_b.metrics.decode_tokens == 6
    finally:
        lane_a.close()
        lane_b.close()


def test_a_lane_counts_tokens_without_waiting_for_its_turn(engine: RecordingEngine, models: Models) -> None:
    lane = engine.lane()
    try:
        counted = lane.count([ChatMessage.user("count these words")], "be brief")
        assert isinstance(counted, TokenCount) and counted.prompt_tokens > 4 and counted.n_ctx == RUNTIME.n_ctx
        asked = lane.count_tokens([ChatMessage.user("count these words")], "be brief")
        event = lane.next_event(timeout=120)
        assert isinstance(event, TokenCount) and event.request_id == asked
        assert event.prompt_tokens == counted.prompt_tokens
    finally:
        lane.close()


class _CountingClient(EngineClient):
    """An engine client that counts how often it is read."""

    reads = 0

    def next_event(self, timeout: float | None = None) -> Event | None:
        self.reads += 1
        return super().next_event(timeout)


def test_a_waiting_reader_is_woken_once_however_often_it_is_woken() -> None:
    client = EngineClient()  # no engine process: only a wake can end the wait
    got: list[Event | None] = []
    reader = threading.Thread(target=lambda: got.append(client.next_event()))
    reader.start()
    for _ in range(3):
        client.wake()
    reader.join(timeout=30)
    assert not reader.is_alive() and got == [None]
    assert client.next_event(timeout=0) is None  # the three wakes left nothing behind to consume
    client.close()


def test_the_shared_engine_sleeps_until_the_engine_or_a_caller_has_something(models: Models) -> None:
    """Its pump reads the engine when an event comes or a command wakes it, never on a timer: a
    poll every 20 ms took ~0.7% of the cores a 45 s image encode runs on (2 cores, measured)."""
    client = _CountingClient()
    with SharedEngine(client) as shared:
        loaded = threading.Event()
        shared.subscribe(lambda event: loaded.set() if isinstance(event, ModelLoaded) else None)
        shared.load(LoadRequest.of(models.tiny, None, RUNTIME))
        assert loaded.wait(120)
        idle_from = client.reads
        threading.Event().wait(0.5)  # a pump on a timer would read the engine 10-25 times meanwhile
        assert client.reads - idle_from == 0
        ended: list[Event] = []
        finished = threading.Event()

        def sink(event: Event) -> None:
            if isinstance(event, (Done, EngineError)):
                ended.append(event)
                finished.set()

        shared.submit([ChatMessage.user("Hello")], "", GenerationSettings(max_tokens=4, **GREEDY), sink)
        assert finished.wait(120), "a reply submitted to a sleeping pump was never started"
        assert isinstance(ended[0], Done) and ended[0].metrics.decode_tokens > 0
