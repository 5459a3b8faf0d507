"""Every thread stays warm: snapshots of conversation memory in the real engine.

Real llama.cpp throughout: the real Gemma 3 270M where replies must be compared word for word
(its real tokenizer), tiny generated models where only the plumbing matters.  "Read fresh" means
a new engine process answering the same messages under a thread name it has never seen, so
nothing but the prompt itself can shape its reply.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from desktop_app import gguf_fixtures
from desktop_app.engine.cancel import CancelFlag
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.protocol import (
    ChatMessage,
    Done,
    EngineError,
    GenerateRequest,
    ImageStatus,
    LoadRequest,
    ModelLoaded,
    ReadAheadDone,
    Token,
)
from desktop_app.engine.snapshots import read_snapshot, snapshot_folder
from desktop_app.settings import GenerationSettings, RuntimeSettings
from tests.support.data import PHOTO, Models

GREEDY = GenerationSettings(max_tokens=24, temperature=0.0)
SEEDED = GenerationSettings(max_tokens=16, seed=5)
RUNTIME = RuntimeSettings(n_ctx=2048, n_threads=2)
QUESTIONS = {
    "rivers": ["Name three rivers in Europe.", "Which is the longest?", "Where does it start?"],
    "haiku": ["Write a haiku about snow.", "Now one about rain.", "And one about the sun."],
    "sums": ["What is 12 times 7?", "And 13 times 7?", "Add the two results."],
}


def _engine(model: Path, mmproj: Path | None = None, runtime: RuntimeSettings = RUNTIME) -> EngineClient:
    client = EngineClient()
    client.load(LoadRequest.of(model, mmproj, runtime))
    loaded = client.wait_loaded(timeout=120)
    assert isinstance(loaded, ModelLoaded), loaded
    return client


def _ask(
    client: EngineClient,
    messages: Sequence[ChatMessage],
    thread: str,
    settings: GenerationSettings = GREEDY,
) -> Done:
    for event in client.stream(messages, "", settings, thread=thread):
        if isinstance(event, EngineError):
            raise AssertionError(event)
        if isinstance(event, Done):
            return event
    raise AssertionError("the stream ended without Done")


def _fresh(model: Path, prompts: Sequence[Sequence[ChatMessage]], settings: GenerationSettings) -> list[str]:
    """Each prompt answered by a new engine that has never seen its thread."""
    with _engine(model) as client:
        return [_ask(client, prompt, f"fresh-{i}", settings).text for i, prompt in enumerate(prompts)]


def _conversation(length: int) -> list[ChatMessage]:
    """``length`` messages, user first, with words enough for a few hundred tokens."""
    return [
        ChatMessage.user(f"Question {i}: " + "tell me about the river and the stone " * 6)
        if i % 2 == 0
        else ChatMessage.assistant(f"Answer {i}: " + "the garden window holds a silver candle " * 6)
        for i in range(length)
    ]


# -------------------------------------------------------------------------- threads


@pytest.mark.slow
def test_three_threads_visited_in_turn_answer_as_if_each_were_read_fresh(gemma270m: Path) -> None:
    histories: dict[str, list[ChatMessage]] = {thread: [] for thread in QUESTIONS}
    read_before = dict.fromkeys(QUESTIONS, 0)
    asked: list[list[ChatMessage]] = []
    answers: list[str] = []
    with _engine(gemma270m) as client:
        for turn in range(3):
            for thread, questions in QUESTIONS.items():
                messages = [*histories[thread], ChatMessage.user(questions[turn])]
                done = _ask(client, messages, thread)
                m = done.metrics
                if turn == 0:
                    assert m.restored is None and m.cached_tokens <= 4
                else:  # back from two other threads: its memory came back, nothing was re-read
                    assert m.restored == "ram", m
                    assert m.cached_tokens >= read_before[thread], m
                read_before[thread] = m.prompt_tokens
                histories[thread] = [*messages, ChatMessage.assistant(done.text)]
                asked.append(messages)
                answers.append(done.text)
    assert _fresh(gemma270m, asked, GREEDY) == answers


def test_a_thread_whose_reply_reads_back_otherwise_keeps_its_memory_across_a_switch(models: Models) -> None:
    # The tiny model writes bytes that do not tokenize back the same, as a real reply ending in a
    # newline does not (the template trims it): the next prompt parts from the memory inside the
    # reply.  A restored snapshot cannot be trimmed back to there, so it must not hold that tail.
    conversation = _conversation(7)  # ~1,200 tokens: beyond the 512-token window
    with _engine(models.tiny, runtime=RuntimeSettings(n_ctx=4096, n_threads=2)) as client:
        done = _ask(client, conversation, "long", SEEDED)
        _ask(client, [ChatMessage.user("Meanwhile, elsewhere.")], "other", SEEDED)
        follow = [*conversation, ChatMessage.assistant(done.text), ChatMessage.user("And then?")]
        back = _ask(client, follow, "long", SEEDED)
    assert back.metrics.restored == "ram"
    assert back.metrics.cached_tokens >= done.metrics.prompt_tokens


@pytest.mark.slow
def test_a_restart_continues_from_disk_with_the_same_reply(gemma270m: Path) -> None:
    first = [ChatMessage.user(QUESTIONS["rivers"][0])]
    with _engine(gemma270m) as client:
        done = _ask(client, first, "rivers")
        client.save_snapshot()  # what the window does when idle and on quit
    follow_up = [*first, ChatMessage.assistant(done.text), ChatMessage.user(QUESTIONS["rivers"][1])]
    with _engine(gemma270m) as client:
        again = _ask(client, follow_up, "rivers")
    assert again.metrics.restored == "disk"
    assert again.metrics.cached_tokens >= done.metrics.prompt_tokens
    assert [again.text] == _fresh(gemma270m, [follow_up], GREEDY)


def test_damaged_cut_and_foreign_snapshot_files_are_ignored_with_the_same_reply(
    models: Models,
) -> None:
    threads = ("damaged", "cut", "foreign", "donor")
    histories = {}
    with _engine(models.tiny) as client:
        for thread in threads:
            first = [ChatMessage.user(f"Hello from the {thread} thread, tell me a story.")]
            done = _ask(client, first, thread, SEEDED)
            histories[thread] = [*first, ChatMessage.assistant(done.text), ChatMessage.user("More?")]
    # Closing kept every thread on disk; now spoil three of the files.
    files = {path.read_bytes(): path for path in snapshot_folder().glob("*.kv")}
    by_thread = {}
    for data, path in files.items():
        for thread in threads:
            if f'"thread":"{thread}"'.encode() in data[:4096]:
                by_thread[thread] = path
    assert sorted(by_thread) == sorted(threads)
    damaged = bytearray(by_thread["damaged"].read_bytes())
    damaged[-100] ^= 0x01  # one bit of the KV state
    by_thread["damaged"].write_bytes(bytes(damaged))
    cut = by_thread["cut"].read_bytes()
    by_thread["cut"].write_bytes(cut[: len(cut) * 2 // 3])  # as if written half-way
    by_thread["foreign"].write_bytes(by_thread["donor"].read_bytes())  # another thread's memory
    with _engine(models.tiny) as client:
        replies = {thread: _ask(client, histories[thread], thread, SEEDED) for thread in threads}
        spoilt = [thread for thread in threads if not by_thread[thread].exists()]
    assert spoilt == ["damaged", "cut", "foreign"]  # found unsound and deleted
    # The control: a sound file is used (its reply is the live conversation's, not a fresh
    # read's: the tiny model's sampled tokens are sensitive to how the prompt was batched).
    assert [replies[t].metrics.restored for t in threads] == [None, None, None, "disk"]
    spoilt_replies = [replies[t].text for t in spoilt]
    assert spoilt_replies == _fresh(models.tiny, [histories[t] for t in spoilt], SEEDED)


def test_another_model_or_context_size_never_uses_the_snapshot(models: Models, tmp_path: Path) -> None:
    other_model = gguf_fixtures.write_tiny_gemma3_model(tmp_path / "other.gguf", seed=1)
    first = [ChatMessage.user("Tell me about the sea.")]
    with _engine(models.tiny) as client:
        done = _ask(client, first, "sea", SEEDED)
    follow = [*first, ChatMessage.assistant(done.text), ChatMessage.user("And the sky?")]
    bigger = RuntimeSettings(n_ctx=4096, n_threads=2)
    for model, runtime in ((models.tiny, bigger), (other_model, RUNTIME)):
        with _engine(model, runtime=runtime) as client:
            other = _ask(client, follow, "sea", SEEDED)
        assert other.metrics.restored is None and other.metrics.cached_tokens == 0
    with _engine(models.tiny) as client:  # the original shape still finds its own file
        same = _ask(client, follow, "sea", SEEDED)
    assert same.metrics.restored == "disk"


def test_the_disk_cap_holds_across_fifty_threads(models: Models) -> None:
    runtime = RuntimeSettings(n_ctx=2048, n_threads=2, snapshot_disk_mib=1)
    long_question = [ChatMessage.user("Remember these words: " + "river stone garden window " * 20)]
    with _engine(models.tiny, runtime=runtime) as client:
        for i in range(50):
            done = _ask(client, long_question, f"thread-{i:02d}", GenerationSettings(max_tokens=2, seed=i))
        client.save_snapshot()
    files = list(snapshot_folder().glob("*.kv"))
    total = sum(path.stat().st_size for path in files)
    assert 1 < len(files) < 50 and total <= 1 << 20, (len(files), total)
    with _engine(models.tiny, runtime=runtime) as client:  # the newest threads are the ones kept
        newest = _ask(client, long_question, "thread-49", GenerationSettings(max_tokens=2, seed=49))
        oldest = _ask(client, long_question, "thread-00", GenerationSettings(max_tokens=2, seed=0))
    assert newest.metrics.restored == "disk" and oldest.metrics.restored is None
    assert done.metrics.prompt_tokens > 400  # each snapshot is big enough for the cap to matter


def _write_then_die(model: Path, home: str, ready: multiprocessing.synchronize.Event) -> None:
    """In a child process: answer on a thread, then start writing its snapshot and stop dead
    half-way through the file (the parent kills this process there)."""
    os.environ["GEMMA_DESKTOP_HOME"] = home
    from desktop_app.engine import snapshots
    from desktop_app.engine.backend import LlamaBackend

    real_write = snapshots.write_snapshot

    def half_then_hang(file, digest, thread, snapshot) -> None:
        real_write(file, digest, thread, snapshot)
        file.flush()
        file.truncate(file.tell() // 2)
        ready.set()
        threading.Event().wait()  # the writer thread stops here until the process is killed

    snapshots.write_snapshot = half_then_hang
    store = snapshots.SnapshotStore(snapshots.snapshot_folder())
    backend = LlamaBackend(model, None, RUNTIME, CancelFlag(multiprocessing.get_context("spawn")), snapshots=store)
    request = GenerateRequest(1, tuple(_conversation(3)), "", SEEDED, thread="killed")
    backend.generate(request, lambda _piece: None, 0.0)
    backend.save_snapshot()
    signal.pause()


def test_an_engine_killed_while_writing_a_snapshot_leaves_nothing_that_is_used(
    models: Models, app_home: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_write_then_die, args=(models.tiny, str(app_home), ready))
    child.start()
    try:
        assert ready.wait(120), "the child never reached its snapshot write"
    finally:
        child.kill()
        child.join()
    assert list(snapshot_folder().glob("*.tmp")) and not list(snapshot_folder().glob("*.kv"))
    conversation = _conversation(3)
    with _engine(models.tiny) as client:
        after = _ask(client, conversation, "killed", SEEDED)
    assert after.metrics.restored is None
    assert [after.text] == _fresh(models.tiny, [conversation], SEEDED)


# ------------------------------------------------------------------------- overflow


@pytest.mark.slow
def test_a_thread_that_outgrows_the_context_keeps_its_first_exchange_and_newest_turns(
    gemma270m: Path,
) -> None:
    # The real tokenizer: a reply read back in the next turn gives the tokens that were written,
    # so what the next turn keeps in memory can be checked.
    runtime = RuntimeSettings(n_ctx=1024, n_threads=2)
    settings = GenerationSettings(max_tokens=64, temperature=0.0)
    messages = _conversation(41)  # ~2,000 tokens: far more than 1,024
    with _engine(gemma270m, runtime=runtime) as client:
        done = _ask(client, messages, "long", settings)
        dropped = done.metrics.dropped_turns
        assert dropped > 0 and dropped % 2 == 0
        assert done.metrics.prompt_tokens + settings.max_tokens <= 1024  # room left for the reply
        # What Gemma saw is exactly the first exchange and the newest turns: the same messages
        # with the middle taken out get the same prompt (all of it reused) and the same reply.
        kept = [*messages[:2], *messages[2 + dropped :]]
        again = _ask(client, kept, "long-kept", settings)
        assert again.metrics.dropped_turns == 0
        assert again.metrics.prompt_tokens == done.metrics.prompt_tokens and again.text == done.text
        # The next turn leaves out the same turns, so the memory of this one is kept.
        following = [*messages, ChatMessage.assistant(done.text), ChatMessage.user("And then?")]
        next_turn = _ask(client, following, "long", settings)
        assert next_turn.metrics.dropped_turns == dropped
        assert next_turn.metrics.restored == "ram"
        assert next_turn.metrics.cached_tokens >= done.metrics.prompt_tokens


def test_stop_when_full_keeps_todays_sentence(models: Models) -> None:
    stop = GenerationSettings(max_tokens=8, seed=1, stop_when_full=True)
    with _engine(models.tiny, runtime=RuntimeSettings(n_ctx=512, n_threads=2)) as client:
        events = list(client.stream(_conversation(11), "", stop, thread="full"))
    assert isinstance(events[-1], EngineError) and events[-1].kind == "user"
    assert "context holds 512" in events[-1].message and "start a new chat" in events[-1].message


# -------------------------------------------------------------------------- prefetch


def test_an_image_removed_while_queued_is_never_encoded(models: Models, image_file: Path, app_home: Path) -> None:
    removed, kept = prepare_image(image_file), prepare_image(PHOTO)
    with _engine(models.tiny, models.mmproj) as client:
        # A reply of a few hundred tokens keeps the engine busy far longer than three sends take.
        client.generate([ChatMessage.user("Tell me a long story.")], "", GenerationSettings(max_tokens=300, seed=33))
        sent = False
        statuses: list[ImageStatus] = []
        while not statuses or statuses[-1].state != "ready":
            event = client.next_event(timeout=60)
            assert event is not None and not isinstance(event, EngineError), event
            if isinstance(event, Token) and not sent:
                # The engine is writing the reply: all three wait in its queue behind it.
                client.prefetch_image(removed, "off")
                client.prefetch_image(kept, "off")
                client.drop_prefetch(removed.sha256)
                sent = True
            elif isinstance(event, ImageStatus):
                statuses.append(event)
        # Each was said to be queued ("reading"); only the one kept was read.
        assert [s for s in statuses if s.sha256 == kept.sha256] == [
            ImageStatus(kept.sha256, "reading"),
            ImageStatus(kept.sha256, "ready"),
        ]
        assert ImageStatus(removed.sha256, "ready") not in statuses
        done = _ask(client, [ChatMessage.user(kept, "What is it?")], "photo", SEEDED)
    cached = {path.stem for path in app_home.glob("cache/embeddings/*/*.npy")}
    assert removed.sha256 not in cached and kept.sha256 in cached
    # Send found the image read already: no encode on the way to the first token.
    assert done.metrics.images_from_cache == 1 and done.metrics.image_encode_s == 0


def _noise(width: int, height: int, seed: int) -> PreparedImage:
    pixels = np.random.default_rng(seed).integers(0, 256, width * height * 3, dtype=np.uint8)
    return PreparedImage.from_rgb(width, height, pixels.tobytes(), f"noise-{seed}.png")


def test_prefetch_reads_every_pan_and_scan_view(models: Models, app_home: Path) -> None:
    image = _noise(900, 300, 7)  # three distinct square crops
    with _engine(models.tiny, models.mmproj) as client:
        client.prefetch_image(image, "auto")
        while not isinstance(event := client.next_event(timeout=60), ImageStatus) or event.state != "ready":
            assert not isinstance(event, EngineError), event
        settings = GenerationSettings(max_tokens=2, seed=1, pan_scan="auto")
        done = _ask(client, [ChatMessage.user(image, "Read it.")], "wide", settings)
    assert done.metrics.images_from_cache == 4 and done.metrics.image_encode_s == 0  # whole + 3 crops
    assert len(list(app_home.glob("cache/embeddings/*/*.npy"))) == 4


def test_pictures_read_ahead_leave_send_only_the_words_and_removed_ones_cost_nothing(
    models: Models,
) -> None:
    photo = prepare_image(PHOTO)
    # 36 pictures of the tiny projector's 16 positions: more than the 512 positions the
    # sliding-window cache keeps beyond its window, so trimming them off would not be exact.
    others = [_noise(64, 64, seed) for seed in range(36)]
    history = _conversation(6)  # ~1,000 tokens: beyond the tiny model's 512-token window
    with _engine(models.tiny, models.mmproj, RuntimeSettings(n_ctx=4096, n_threads=2)) as client:

        def read_ahead(messages: list[ChatMessage]) -> int:
            client.read_ahead(messages, "", SEEDED, thread="compose")
            while not isinstance(event := client.next_event(timeout=120), ReadAheadDone):
                assert not isinstance(event, EngineError), event
            return event.positions

        read = read_ahead([*history, ChatMessage.user(photo)])
        sent = _ask(client, [*history, ChatMessage.user(photo, "What is it?")], "compose", SEEDED)
        assert sent.metrics.image_tokens == models.tokens_per_image
        assert sent.metrics.cached_tokens == read  # Send read only the words
        assert sent.metrics.image_encode_s == 0

        history = [*history, ChatMessage.user(photo, "What is it?"), ChatMessage.assistant("A person.")]
        assert read_ahead([*history, ChatMessage.user(*others)]) > sent.metrics.prompt_tokens + 36 * 16
        words = _ask(client, [*history, ChatMessage.user("Never mind the pictures.")], "compose", SEEDED)
    # The pictures were removed before Send: the memory went back to where the message began
    # (trimming them off would reach past the sliding window and mean reading it all again).
    assert words.metrics.image_tokens == models.tokens_per_image  # the photo of the turn before
    assert words.metrics.cached_tokens > sent.metrics.prompt_tokens


def test_a_thread_opened_is_read_ahead_while_its_next_message_is_written(models: Models) -> None:
    conversation = _conversation(6)  # no snapshot anywhere: the disk is off, the engine new
    runtime = RuntimeSettings(n_ctx=4096, n_threads=2, disk_cache=False)
    with _engine(models.tiny, runtime=runtime) as client:
        client.read_ahead([*conversation, ChatMessage.user()], "", SEEDED, thread="opened")
        while not isinstance(event := client.next_event(timeout=120), ReadAheadDone):
            assert not isinstance(event, EngineError), event
        done = _ask(client, [*conversation, ChatMessage.user("Go on.")], "opened", SEEDED)
    assert event.positions > 500
    assert done.metrics.cached_tokens == event.positions  # Send read only the new message


def test_snapshot_files_are_complete_whenever_they_exist(models: Models) -> None:
    with _engine(models.tiny) as client:
        _ask(client, _conversation(3), "complete", SEEDED)
        client.save_snapshot()
    for path in snapshot_folder().glob("*.kv"):
        digest = path.stem.split("-", 1)[0]
        assert read_snapshot(path.read_bytes(), digest, "complete").keys
