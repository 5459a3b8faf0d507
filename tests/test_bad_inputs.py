"""Bad inputs, one table: images, GGUF files, chat templates, settings and conversation imports.

Each is fed to the function the window and the command line call, and must be refused in one
sentence (a single line, ending with a full stop, short enough to read, naming the input where
it has a name), never a traceback; the input itself is left as it was, and a refused import
leaves the store as it was.  Documents are checked where document attachments are built.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from desktop_app.engine import images, prompt
from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import ChatMessage
from desktop_app.errors import UserError
from desktop_app.gguf_fixtures import GEMMA3_TEMPLATE
from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector
from desktop_app.settings import GenerationSettings, RuntimeSettings
from desktop_app.store import ConversationStore
from desktop_app.store import export as export_module
from desktop_app.store.export import import_conversation
from tests.support.data import Models

Feed = Callable[[], "str | None"]
"""Hands the input to the app: raises its UserError, or returns the sentence that set it aside."""


def _no_sentence(call: Callable[[], object]) -> Feed:
    """The feed of an input refused by raising a UserError: taken, it would give no sentence."""

    def feed() -> None:
        call()

    return feed


@dataclass(frozen=True)
class Case:
    """``prepare`` writes the bad input under a folder and returns how to feed it."""

    prepare: Callable[[Path, Models], Feed]
    words: tuple[str, ...]
    """What the sentence must say (the input's name, the limit, the reason)."""


def _png(width: int = 8, height: int = 6) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).save(out, "PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def _ico() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "ICO")
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) claims this size over a tiny image's data."""
    data = bytearray(_png())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def _image(name: str, data: bytes) -> Callable[[Path, Models], Feed]:
    def prepare(folder: Path, _models: Models) -> Feed:
        path = folder / name
        path.write_bytes(data)
        return _no_sentence(lambda: prepare_image(path))

    return prepare


def _sparse_file(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    with path.open("wb") as handle:
        handle.truncate(size)  # no disk is used: the size is what is checked, before reading
    return path


def _huge_image(folder: Path, _models: Models) -> Feed:
    path = _sparse_file(folder, "huge.png", images.MAX_FILE_BYTES + 1)
    return _no_sentence(lambda: prepare_image(path))


def _folder_as_image(folder: Path, _models: Models) -> Feed:
    (folder / "photos.png").mkdir()
    return _no_sentence(lambda: prepare_image(folder / "photos.png"))


def _gguf_as_image(_folder: Path, models: Models) -> Feed:
    return _no_sentence(lambda: prepare_image(models.tiny))


def _pasted_nothing(_folder: Path, _models: Models) -> Feed:
    return _no_sentence(lambda: prepare_image(b""))


# --- GGUF files, written byte by byte -------------------------------------------------------------


def _gguf(kvs: list[bytes], *, n_kv: int | None = None, tensors: bytes = b"", n_tensors: int = 0,
          version: int = 3) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kvs) if n_kv is None else n_kv)
    return head + b"".join(kvs) + tensors


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("<Q", len(raw)) + raw


def _string_kv(key: str, value: str) -> bytes:
    return _text(key) + struct.pack("<I", 8) + _text(value)


def _gguf_model(name: str, data: bytes) -> Callable[[Path, Models], Feed]:
    def prepare(folder: Path, _models: Models) -> Feed:
        path = folder / name
        path.write_bytes(data)
        return _no_sentence(lambda: inspect_model(path))

    return prepare


def _five_dimensional_tensor() -> bytes:
    tensor = _text("token_embd.weight") + struct.pack("<I", 5) + struct.pack("<5Q", 1, 1, 1, 1, 1)
    return _gguf([_string_kv("general.architecture", "gemma3")], tensors=tensor + struct.pack("<IQ", 0, 0),
                 n_tensors=1)


def _projector_as_model(_folder: Path, models: Models) -> Feed:
    return _no_sentence(lambda: inspect_model(models.mmproj))


def _model_as_projector(_folder: Path, models: Models) -> Feed:
    return _no_sentence(lambda: inspect_projector(models.tiny))


def _mismatched_pair(_folder: Path, models: Models) -> Feed:
    return lambda: check_pair(inspect_model(models.tiny), inspect_projector(models.mmproj_mismatch))


def _truncated_model(_folder: Path, models: Models) -> Feed:
    return _no_sentence(lambda: inspect_model(models.truncated))


def _missing_model(folder: Path, _models: Models) -> Feed:
    return _no_sentence(lambda: inspect_model(folder / "gone.gguf"))


def _folder_as_model(folder: Path, _models: Models) -> Feed:
    (folder / "model.gguf").mkdir()
    return _no_sentence(lambda: inspect_model(folder / "model.gguf"))


# --- chat templates: set aside in one sentence, the built-in template answers ---------------------


def _template(source: str) -> Callable[[Path, Models], Feed]:
    def prepare(_folder: Path, _models: Models) -> Feed:
        chat_format = prompt.ChatFormat(source, "odd-gemma.gguf")

        def said() -> str | None:
            notice = chat_format.render([ChatMessage.user("Hi")], "", "off")[2]
            return str(notice) if notice is not None else None

        return said

    return prepare


# --- settings -------------------------------------------------------------------------------------


def _generation(**values: Any) -> Callable[[Path, Models], Feed]:
    return lambda _folder, _models: _no_sentence(lambda: GenerationSettings(**values).validate())


def _runtime(**values: Any) -> Callable[[Path, Models], Feed]:
    return lambda _folder, _models: _no_sentence(lambda: RuntimeSettings(**values).validate())


# --- conversation imports -------------------------------------------------------------------------


def _export(messages: list[dict[str, Any]] | None = None, **conversation: Any) -> dict[str, Any]:
    return {
        "format": "gemma-desktop-conversation",
        "version": 1,
        "conversation": {"title": "Birds", **conversation},
        "messages": messages if messages is not None else [{"role": "user", "text": "Hi"}],
    }


def _attachment(data: bytes) -> dict[str, Any]:
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "mime": "image/png",
        "width": 8,
        "height": 6,
        "data_base64": base64.b64encode(data).decode(),
    }


def _import_file(path: Path) -> Feed:
    def feed() -> None:
        with ConversationStore() as store:
            try:
                import_conversation(store, path)
            finally:
                assert store.list_conversations() == []  # nothing half-imported

    return feed


def _import(document: dict[str, Any] | str) -> Callable[[Path, Models], Feed]:
    def prepare(folder: Path, _models: Models) -> Feed:
        path = folder / "conversation.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
        return _import_file(path)

    return prepare


def _import_too_large_a_file(folder: Path, _models: Models) -> Feed:
    return _import_file(_sparse_file(folder, "huge.json", export_module.MAX_IMPORT_BYTES + 1))


def _import_too_large_an_attachment(folder: Path, models: Models) -> Feed:
    feed = _import(_export([{"role": "user", "text": "Look", "attachments": [_attachment(_png())]}]))(folder, models)

    def with_a_small_limit() -> None:
        # A 256 MB image in a test would take seconds to encode; a lower limit runs the same check.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(export_module, "MAX_ATTACHMENT_BYTES", 64)
            feed()

    return with_a_small_limit


ONE_USER = {"role": "user", "text": "Hi"}

CASES: dict[str, Case] = {
    # images
    "image: empty file": Case(_image("empty.png", b""), ("'empty.png'", "empty (0 bytes)")),
    "image: random bytes": Case(_image("noise.png", bytes(range(256)) * 8), ("'noise.png'", "not an image")),
    "image: text named .jpg": Case(_image("notes.jpg", b"Dear diary,\n" * 40), ("'notes.jpg'", "not an image")),
    "image: truncated PNG": Case(_image("cut.png", _png(64, 48)[:-40]), ("'cut.png'", "damaged or incomplete")),
    "image: truncated JPEG": Case(_image("cut.jpg", _jpeg()[:200]), ("'cut.jpg'", "damaged or incomplete")),
    "image: PNG with a bad checksum": Case(
        _image("crc.png", _png()[:-5] + bytes([_png()[-5] ^ 0xFF]) + _png()[-4:]), ("'crc.png'", "damaged")
    ),
    "image: PNG claiming 12000x12000 pixels": Case(
        _image("bomb.png", _png_claiming(12_000, 12_000)), ("'bomb.png'", "12000x12000", "too large to open safely")
    ),
    "image: PNG claiming 50000x50000 pixels": Case(
        _image("bigger.png", _png_claiming(50_000, 50_000)), ("'bigger.png'", "too large to open safely")
    ),
    "image: PNG claiming 0 pixels wide": Case(_image("zero.png", _png_claiming(0, 6)), ("'zero.png'",)),
    "image: a HEIC photo": Case(
        _image("IMG_0001.heic", b"\x00\x00\x00\x18ftypheic" + bytes(64)), ("HEIC", "JPEG or PNG")
    ),
    "image: an ICO icon": Case(_image("icon.ico", _ico()), ("'icon.ico'", "ICO format")),
    "image: file over 256 MB": Case(_huge_image, ("'huge.png'", "256 MB")),
    "image: a folder": Case(_folder_as_image, ("photos.png", "is a folder")),
    "image: a GGUF model": Case(_gguf_as_image, ("'tiny-gemma3.gguf'", "not an image")),
    "image: pasted nothing": Case(_pasted_nothing, ("'pasted image'", "empty")),
    # GGUF files
    "gguf: empty file": Case(_gguf_model("empty.gguf", b""), ("'empty.gguf'", "empty (0 bytes)")),
    "gguf: not a GGUF": Case(_gguf_model("photo.gguf", _png()), ("'photo.gguf'", "lacks the GGUF signature")),
    "gguf: signature only": Case(_gguf_model("stub.gguf", b"GGUF\x03"), ("'stub.gguf'", "damaged or incomplete")),
    "gguf: version 99": Case(_gguf_model("future.gguf", _gguf([], version=99)), ("'future.gguf'", "version 99")),
    "gguf: 2**40 key/values claimed": Case(
        _gguf_model("counts.gguf", _gguf([], n_kv=2**40)), ("'counts.gguf'", "damaged or incomplete")
    ),
    "gguf: a key 2**63 bytes long": Case(
        _gguf_model("longkey.gguf", _gguf([struct.pack("<Q", 2**63)], n_kv=1)), ("'longkey.gguf'", "damaged")
    ),
    "gguf: a five-dimensional tensor": Case(
        _gguf_model("dims.gguf", _five_dimensional_tensor()), ("'dims.gguf'", "damaged or incomplete")
    ),
    "gguf: a Llama model": Case(
        _gguf_model("llama.gguf", _gguf([_string_kv("general.architecture", "llama")])),
        ("'llama.gguf'", "holds a llama model", "Gemma 3"),
    ),
    "gguf: no architecture": Case(
        _gguf_model("anon.gguf", _gguf([_string_kv("general.name", "who knows")])),
        ("'anon.gguf'", "does not say which model architecture"),
    ),
    "gguf: download cut in half": Case(_truncated_model, ("'truncated.gguf'", "may not have finished downloading")),
    "gguf: projector chosen as the model": Case(_projector_as_model, ("'mmproj-tiny.gguf'", "not a model")),
    "gguf: model chosen as the projector": Case(_model_as_projector, ("'tiny-gemma3.gguf'", "not a vision projector")),
    "gguf: projector of another model": Case(_mismatched_pair, ("mmproj-48.gguf", "48-wide", "expects 64")),
    "gguf: missing file": Case(_missing_model, ("gone.gguf", "was not found")),
    "gguf: a folder": Case(_folder_as_model, ("model.gguf", "is a folder")),
    # chat templates (each set aside for the built-in one, in one sentence)
    "template: raises": Case(_template("{{ raise_exception('no') }}"), ("'odd-gemma.gguf'", "its own error ('no')")),
    "template: escapes the sandbox": Case(
        _template("{{ ''.__class__.__mro__ }}" + GEMMA3_TEMPLATE), ("'odd-gemma.gguf'", "outside its sandbox")
    ),
    "template: does not parse": Case(_template("{% if %}"), ("'odd-gemma.gguf'", "does not work")),
    "template: builds a gigabyte": Case(_template("{{ 'x' * 10**9 }}"), ("'odd-gemma.gguf'", "more text")),
    "template: not a prompt": Case(_template("<start_of_turn>model\n"), ("'odd-gemma.gguf'", "not a prompt")),
    # settings
    "setting: temperature 6": Case(_generation(temperature=6.0), ("temperature", "between 0 and 5")),
    "setting: top-k 1001": Case(_generation(top_k=1001), ("top-k", "1000")),
    "setting: top-p 0": Case(_generation(top_p=0.0), ("top-p", "above 0")),
    "setting: min-p 1": Case(_generation(min_p=1.0), ("min-p", "below 1")),
    "setting: repeat penalty 3": Case(_generation(repeat_penalty=3.0), ("repeat penalty", "0.5 and 2")),
    "setting: seed -2": Case(_generation(seed=-2), ("seed", "-1 (random)")),
    "setting: max tokens 0": Case(_generation(max_tokens=0), ("max tokens", "8192")),
    "setting: pan & scan sideways": Case(_generation(pan_scan="sideways"), ("pan & scan", "off, auto or on")),
    "setting: context 100 tokens": Case(_runtime(n_ctx=100), ("context size", "256 and 131072")),
    "setting: 0 threads": Case(_runtime(n_threads=0), ("thread count", "1 and 512")),
    "setting: GPU layers -2": Case(_runtime(n_gpu_layers=-2), ("GPU layers", "-1 (all)")),
    # conversation imports
    "import: 10-million-character title": Case(
        _import(_export(title="T" * 10_000_000)), ("conversation.json", "title of 10,000,000 characters", "500")
    ),
    "import: 20,001 messages": Case(
        _import(_export([ONE_USER, {"role": "assistant", "text": "Yo"}] * 10_000 + [ONE_USER])),
        ("conversation.json", "20,001 messages", "20,000"),
    ),
    "import: a message of 2,000,001 characters": Case(
        _import(_export([{"role": "user", "text": "w" * 2_000_001}])),
        ("Message 1", "2,000,001 characters", "2,000,000"),
    ),
    "import: a system prompt of 2,000,001 characters": Case(
        _import(_export(system_prompt="s" * 2_000_001)), ("system prompt", "2,000,001 characters")
    ),
    "import: 65 attachments in one message": Case(
        _import(_export([{"role": "user", "text": "Look", "attachments": [_attachment(_png())] * 65}])),
        ("Message 1", "65 attachments", "64"),
    ),
    "import: an attachment over the size limit": Case(
        _import_too_large_an_attachment, ("Attachment 1 of message 1", "64 bytes")
    ),
    "import: a file over 1 GB": Case(_import_too_large_a_file, ("huge.json", "1,073,741,824")),
    "import: JSON nested 100,000 deep": Case(
        _import('{"format": "gemma-desktop-conversation", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("conversation.json", "not a conversation exported by Gemma Desktop"),
    ),
    "import: a 5,000-digit number": Case(
        _import('{"format": "gemma-desktop-conversation", "version": ' + "9" * 5000 + "}"),
        ("conversation.json", "not a conversation exported"),
    ),
    "import: metrics holding an object": Case(
        _import(_export([ONE_USER, {"role": "assistant", "text": "Yo", "finish_reason": "stop",
                                    "metrics": {"decode_tokens": {"deep": [1, 2, 3]}}}])),
        ("is damaged", "metrics"),
    ),
    "import: a 10,000-character model path": Case(
        _import(_export(model_path="/m/" + "x" * 10_000)), ("is damaged", "model_path is too long")
    ),
    "import: a million-character role": Case(
        _import(_export([{"role": "r" * 1_000_000, "text": "Hi"}])), ("is damaged", "unknown role 'rrrr")
    ),
    "import: temperature 'hot'": Case(
        _import(_export(settings={"temperature": "hot"})), ("is damaged", "settings are invalid")
    ),
}


def _files(folder: Path) -> dict[Path, tuple[int, bytes]]:
    """Each file's size and first bytes (a sparse 1 GB file is not read whole)."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                out[path] = (path.stat().st_size, handle.read(65536))
    return out


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_is_refused_in_one_sentence(name: str, tmp_path: Path, models: Models) -> None:
    case = CASES[name]
    folder = tmp_path / "inputs"
    folder.mkdir()
    feed = case.prepare(folder, models)
    given = _files(folder)
    try:
        sentence = feed()
    except UserError as refusal:
        sentence = str(refusal)
    assert sentence is not None, "accepted"
    assert "\n" not in sentence and sentence.endswith("."), sentence
    assert len(sentence) <= 400, sentence
    assert "Traceback" not in sentence and "internal" not in sentence
    for words in case.words:
        assert words in sentence, sentence
    assert _files(folder) == given  # what the user gave is left as it was


def test_there_are_at_least_forty_of_them() -> None:
    areas = {name.split(":")[0] for name in CASES}
    assert len(CASES) >= 40 and areas == {"image", "gguf", "template", "setting", "import"}
