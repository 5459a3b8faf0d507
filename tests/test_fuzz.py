"""Fuzzing with hypothesis: what users hand the app from outside never raises anything but a
UserError, never allocates beyond a bound, and never runs without end.

Targets: the GGUF reader (through ``inspect_gguf``, header and Gemma interpretation), image
preparation, documents (mutated PDF, Word and text files; arbitrary bytes are fuzzed in
tests/test_documents.py), conversation import, and chat templates.  Each gets arbitrary bytes and mutations
of a valid file.  Allocation is measured per example with ``tracemalloc`` (Python's and numpy's
allocations; Pillow's pixel buffers are C memory, bounded by ``MAX_SOURCE_PIXELS`` instead).
Time is bounded by construction (every count is checked against the bytes left, every template
loop checks a deadline): ``make test`` relies on pytest-timeout for a hang, ``make fuzz`` adds a
per-example deadline.

``make test`` runs :data:`EXAMPLES` examples per target with a fixed seed (the same examples
every run, a few seconds in all); ``make fuzz`` sets ``GEMMA_FUZZ_EXAMPLES`` (default there
5,000) for a longer run with fresh random examples, remembering failures in ``.hypothesis/``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from desktop_app import paths
from desktop_app.engine import chat_template, prompt
from desktop_app.engine.images import DEFAULT_MAX_PIXELS, prepare_image
from desktop_app.engine.protocol import ChatMessage
from desktop_app.errors import UserError
from desktop_app.gguf_fixtures import GEMMA3_TEMPLATE
from desktop_app.models.gemma_files import inspect_gguf
from desktop_app.store import ConversationStore
from desktop_app.store.export import export_conversation, import_conversation
from tests.support.data import Models

LONG_RUN = "GEMMA_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("GEMMA_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_RUN,
    database=settings().database if LONG_RUN else None,
    deadline=timedelta(seconds=30) if LONG_RUN else None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the isolated app home is shared by a test's examples
    ],
)

MIB = 1024 * 1024


@contextlib.contextmanager
def allocations_at_most(limit: int) -> Iterator[None]:
    """Fail when the block's peak traced allocation passes ``limit`` bytes (whatever it raised)."""
    tracemalloc.start()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= limit, f"peak allocation {peak:,} bytes, bound {limit:,}"


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or its UserError: anything else is a bug and fails the example."""
    try:
        return call()
    except UserError as exc:
        sentence = str(exc)
        assert sentence and "\n" not in sentence and "Traceback" not in sentence, sentence
        return exc


class Sample(bytes):
    """A valid file to mutate, shown by its size in hypothesis's reports (not megabytes of it)."""

    def __repr__(self) -> str:
        return f"<{len(self):,} bytes>"


@st.composite
def mutated(draw: st.DrawFn, original: bytes, hot_span: int | None = None) -> bytes:
    """``original`` with a few bytes changed, runs replaced by extreme integers, cut short, or
    grown; ``hot_span`` keeps most changes in the first bytes (a header), where they matter."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["byte", "u32", "u64", "cut", "insert"]))
        span = min(len(data), hot_span or len(data))
        at = draw(st.integers(0, max(0, span - 1)))
        if kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind in ("u32", "u64"):
            fmt = "<I" if kind == "u32" else "<Q"
            top = 2**32 - 1 if kind == "u32" else 2**64 - 1
            value = draw(st.sampled_from([0, 1, 2, 255, 65535, top // 2, top, 2**31, 10**9]))
            data[at : at + struct.calcsize(fmt)] = struct.pack(fmt, value)
        elif kind == "cut":
            del data[draw(st.integers(0, len(data))) :]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@contextlib.contextmanager
def _file(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        yield path


# --- GGUF files ---------------------------------------------------------------------------------

GGUF_HEAD = b"GGUF" + struct.pack("<I", 3)


def _inspect_bounded(data: bytes) -> Any:
    with _file(data, ".gguf") as path, allocations_at_most(4 * len(data) + 2 * MIB):
        return outcome(lambda: inspect_gguf(path))


@FUZZ
@given(tail=st.binary(max_size=4096))
def test_any_bytes_after_the_gguf_signature(tail: bytes) -> None:
    _inspect_bounded(GGUF_HEAD + tail)


@pytest.fixture(scope="module")
def gguf_bytes(models: Models) -> dict[str, bytes]:
    return {"model": Sample(models.tiny.read_bytes()), "projector": Sample(models.mmproj.read_bytes())}


@FUZZ
@given(data=st.data())
def test_mutated_gemma_models_and_projectors(gguf_bytes: dict[str, bytes], data: st.DataObject) -> None:
    original = gguf_bytes[data.draw(st.sampled_from(["model", "projector"]))]
    # The header (metadata and tensor infos) is the first few tens of KB of these files.
    _inspect_bounded(data.draw(mutated(original, hot_span=64 * 1024)))


# --- images -------------------------------------------------------------------------------------


def _encoded(fmt: str) -> bytes:
    picture = Image.linear_gradient("L").resize((24, 16)).convert("RGB")
    out = io.BytesIO()
    picture.save(out, fmt)
    return out.getvalue()


IMAGES = {fmt: Sample(_encoded(fmt)) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


def _prepare_bounded(data: bytes) -> None:
    # A few KB may legitimately decode to a large image (one was 24 x 1,572,864 pixels, within
    # MAX_SOURCE_PIXELS), so the bound is the prepared pixels, twice (``tobytes`` joins a copy).
    with allocations_at_most(2 * 3 * DEFAULT_MAX_PIXELS + 8 * len(data) + 16 * MIB):
        result = outcome(lambda: prepare_image(data, name="fuzzed"))
    if not isinstance(result, UserError):
        assert result.width * result.height <= DEFAULT_MAX_PIXELS


@FUZZ
@given(data=st.binary(max_size=4096))
def test_any_bytes_as_an_image(data: bytes) -> None:
    _prepare_bounded(data)


@FUZZ
@given(data=st.data())
def test_mutated_images_of_every_format(data: st.DataObject) -> None:
    original = IMAGES[data.draw(st.sampled_from(sorted(IMAGES)))]
    _prepare_bounded(data.draw(mutated(original, hot_span=64)))


# --- documents ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from tests.support.document_files import CHINESE, text_pdf, word_document

    folder = tmp_path_factory.mktemp("documents")
    return {
        "notes.pdf": Sample(text_pdf(["Gemma reads documents.", "Page two, with more words."])),
        "notes.docx": Sample(word_document(folder / "notes.docx").read_bytes()),
        "notes.txt": Sample(("Gemma reads documents.\n" + CHINESE).encode("utf-16")),
    }


@FUZZ
@given(data=st.data())
def test_mutated_documents_of_every_kind(documents: dict[str, bytes], data: st.DataObject) -> None:
    from desktop_app.engine.documents import prepare_document

    name = data.draw(st.sampled_from(sorted(documents)))
    fuzzed = data.draw(mutated(documents[name], hot_span=2048))
    # pdfium's and the zip reader's buffers are C memory; Python's side is bounded by the
    # extracted text (MAX_TEXT_CHARS) and the file.
    with allocations_at_most(16 * len(fuzzed) + 64 * MIB):
        outcome(lambda: prepare_document(fuzzed, name=name, vision=True))


# --- conversation imports -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_export(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    home = tmp_path_factory.mktemp("export-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.HOME_ENV, str(home))
        with ConversationStore() as store:
            conversation = store.create_conversation(title="Birds", system_prompt="Be brief.")
            image = store.add_attachment(IMAGES["PNG"], "image/png", 24, 16)
            store.add_user_message(conversation.id, "What bird?", [image])
            reply = store.begin_assistant_message(conversation.id)
            store.finish_assistant_message(reply, "A robin.", "stop", {"decode_tokens": 3, "ttft_s": 0.2})
            out = export_conversation(store, conversation.id, home / "birds.json", "json")
    return Sample(out.read_bytes())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _objects_in(value: Any) -> list[dict[str, Any]]:
    """Every JSON object in ``value``, itself included: the places a field can be edited."""
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in _objects_in(item))]
    if isinstance(value, list):
        return [found for item in value for found in _objects_in(item)]
    return []


@st.composite
def export_documents(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid export whose fields are replaced, removed or added with arbitrary JSON values."""
    document = json.loads(valid)
    for _ in range(draw(st.integers(1, 4))):
        holder = draw(st.sampled_from(_objects_in(document)))
        key = draw(st.sampled_from([*holder.keys(), "extra"]))
        if draw(st.booleans()):
            holder[key] = draw(JSON_VALUES)
        else:
            holder.pop(key, None)
    return json.dumps(document).encode()


def _import_bounded(store: ConversationStore, data: bytes) -> None:
    before = store.list_conversations()
    with _file(data, ".json") as path, allocations_at_most(12 * len(data) + 4 * MIB):
        result = outcome(lambda: import_conversation(store, path))
    if isinstance(result, UserError):
        assert store.list_conversations() == before  # a refused file changes nothing
    else:
        store.delete_conversation(result)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_any_bytes_as_a_conversation_export(store: ConversationStore, data: bytes) -> None:
    _import_bounded(store, data)


@FUZZ
@given(data=st.data())
def test_mutated_conversation_exports(store: ConversationStore, valid_export: bytes, data: st.DataObject) -> None:
    edit = export_documents(valid_export) if data.draw(st.booleans()) else mutated(valid_export)
    _import_bounded(store, data.draw(edit))


# --- chat templates ----------------------------------------------------------------------------

TEMPLATE_PIECES = [
    "{{", "}}", "{%", "%}", " for x in ", " endfor ", " if ", " endif ", " else ", " set y = ",
    "range(100000)", "messages", "message['content']", "[0]", "['text']", "loop.index", " recursive ",
    "loop(x)", "'ab'", " ~ ", " * ", " ** ", " + ", "99", "10**9", "|join", "|center(", "|length", ")",
    "(", "[", "]", ".", "__class__", "__mro__", "raise_exception('no')", " macro m() ", " endmacro ",
    "m()", "namespace(s='x')", "bos_token", "<start_of_turn>", "<start_of_image>", "\n", " ",
    ".replace('', 'xy')", ".format(", "'{0}{0}'", "|indent(", "|tojson", "|string", "'%5s' % ", ",",
]


@FUZZ
@given(pieces=st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=40))
def test_any_chat_template_gives_a_prompt_or_one_sentence(pieces: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_template, "TIME_LIMIT_S", 0.05)
    source = "".join(pieces) + GEMMA3_TEMPLATE
    messages = [ChatMessage.user("Hello there")]
    with allocations_at_most(64 * MIB):
        text, images, said = prompt.ChatFormat(source, "fuzzed.gguf").render(messages, "", "off")
    notice = str(said) if said is not None else None
    assert "Hello there" in text and images == []
    if notice is not None:  # set aside: the built-in template's prompt, and one sentence
        assert text == prompt.render(messages, "", None, "off")[0]
        assert notice.startswith("The chat template in 'fuzzed.gguf' ") and "\n" not in notice

