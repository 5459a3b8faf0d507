"""What a GGUF file is, read from its metadata alone: a Gemma 3 model or its vision projector,
and the numbers the app needs before loading it (context, widths, image tokens, template).

Used to refuse the wrong file with one clear sentence before llama.cpp gets to abort on it, and
to check that a model and a projector belong together.  Weights are never read.
"""

from __future__ import annotations

import collections
import io
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from gguf import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLQuantizationType,
    GGUFValueType,
    LlamaFileType,
)

from desktop_app.errors import UserError, os_reason, user_file_size

SUPPORTED_MODEL_ARCHS: tuple[str, ...] = ("gemma3",)
PROJECTOR_ARCH = "clip"
SUPPORTED_PROJECTOR_TYPES: tuple[str, ...] = ("gemma3",)

# The tensor whose shape tells the projector's output width.  llama.cpp's clip.cpp answers
# clip_n_mmproj_embd() for PROJECTOR_TYPE_GEMMA3 with mm_input_proj_w->ne[0], and multiplies
# ggml_transpose(mm_input_proj_w) by the [n_embd_vision, n_patches] activations, so in ggml's
# order the tensor is [n_embd_text, n_embd_vision].  GGUF stores dims in that same ggml order
# (numpy's view of the data, and the HF checkpoint's weight, is the reverse), and the header
# reader below keeps the stored order: dims[0] is the width the text model must have.
INPUT_PROJECTION_TENSOR = "mm.input_projection.weight"

# llama.cpp's default for Gemma 3 when clip.vision.projector.scale_factor is absent.
DEFAULT_GEMMA3_SCALE_FACTOR = 4

_GGUF_MAGIC = b"GGUF"
_READABLE_VERSIONS = (2, 3)


@dataclass(frozen=True)
class GGUFInfo:
    """Metadata of one GGUF file: a text model (``kind="model"``) or a projector (``"mmproj"``).

    For a model, ``embedding_length`` is ``{arch}.embedding_length`` (n_embd).  For a projector,
    it is the width of the embeddings it *produces*, which must equal the model's n_embd; the
    projector's own hidden width is ``vision_embedding_length``.  Fields the file does not hold
    are None; llama.cpp's defaults are not filled in.
    """

    path: Path
    kind: Literal["model", "mmproj"]
    architecture: str
    file_size: int
    name: str | None
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    has_vision: bool
    projector_type: str | None
    image_size: int | None
    patch_size: int | None
    tokens_per_image: int | None
    chat_template: str | None = field(repr=False)  # kilobytes of Jinja
    sliding_window: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    vision_embedding_length: int | None
    vocab_size: int | None
    file_type: int | None
    quantization: str | None
    parameter_count: int
    tensor_count: int

    @property
    def display_name(self) -> str:
        """The file name, which is what the user picked and will recognise in a message."""
        return self.path.name


def inspect_gguf(path: str | Path) -> GGUFInfo:
    """Read a GGUF file's metadata (never its weights) and say what it is.

    Raises :class:`UserError` for a missing file, a file that is not GGUF, a damaged or
    truncated one, or one that is neither a Gemma 3 text model (architectures in
    SUPPORTED_MODEL_ARCHS) nor a clip projector.  Nothing stays open or mapped afterwards, so the
    file can be moved or deleted at once, on Windows too.
    """
    path = Path(path)
    label = path.name or str(path)
    file_size = user_file_size(path, "GGUF file", "a GGUF file")
    if file_size == 0:
        raise UserError(f"'{label}' is empty (0 bytes), so it is not a GGUF file.")
    _check_signature(path, label)

    header = _read_header(path, label)
    return _describe(path, label, file_size, header)


def check_pair(model: GGUFInfo, mmproj: GGUFInfo | None) -> None:
    """Refuse, with one sentence, a model and projector that llama.cpp would not run together.

    llama.cpp's own answer to a mismatched projector is a NULL from mtmd_init_from_file and a
    log line; this says which file to change and why.
    """
    if model.kind != "model":
        raise UserError(
            f"'{model.display_name}' is a vision projector (mmproj), not a model; "
            "choose the Gemma 3 model file as the model."
        )
    if mmproj is None:
        return
    if mmproj.kind != "mmproj":
        raise UserError(
            f"'{mmproj.display_name}' is a model, not a vision projector; "
            "choose the mmproj file made for this model as the projector."
        )
    if mmproj.projector_type not in SUPPORTED_PROJECTOR_TYPES:
        kind = f"a {mmproj.projector_type} projector" if mmproj.projector_type else "a projector"
        raise UserError(
            f"'{mmproj.display_name}' is {kind}, not a Gemma 3 one; "
            "choose the projector made for this model."
        )
    if not mmproj.has_vision:
        raise UserError(
            f"'{mmproj.display_name}' has no vision encoder, so it cannot read images; "
            "choose the projector made for this model."
        )
    if mmproj.embedding_length != model.embedding_length:
        raise UserError(
            f"The projector {mmproj.display_name} produces {mmproj.embedding_length}-wide "
            f"embeddings but model {model.display_name} expects {model.embedding_length}; "
            "choose the projector made for this model."
        )


def require_vision(model: GGUFInfo, mmproj: GGUFInfo | None, n_images: int) -> None:
    """Refuse a request with images when the setup cannot see them; check the pair otherwise."""
    if n_images <= 0:
        return
    if mmproj is None:
        raise UserError(
            f"{model.display_name} is a text-only model setup: add its mmproj projector "
            "(--mmproj) to ask about images."
        )
    check_pair(model, mmproj)


# --- reading --------------------------------------------------------------------------------
#
# The header is read here with plain, bounded reads rather than with gguf.GGUFReader, for three
# measured reasons (gguf 0.19, Gemma 3 270M Q4_K_M, 2 cores):
# - GGUFReader builds numpy views for every entry of every array: 7.7-12 s and 739 MB peak RSS
#   to open a Gemma 3 GGUF (262,144-token vocabulary, the same for every Gemma 3 size); this
#   reader takes about 0.03 s and a few MB.
# - A single corrupted array count (2**40 one-byte items) sends GGUFReader into a loop that
#   reads empty views past the end of the file for hours, growing memory; every count and
#   length here is checked against the bytes left before it is trusted.
# - GGUFReader memory-maps the whole file and keeps it mapped while any field is referenced;
#   here one file handle is closed on leaving a ``with`` block, so nothing stays open.
# The gguf package still supplies the type tables, and the tests compare this reader's output
# with GGUFReader's, field by field, on generated files and on the real 270M file.

# Small arrays (image_mean, tags) are kept; the vocabulary's 262,144 entries are only counted.
_MAX_KEPT_ARRAY = 64
_MAX_ARRAY_NESTING = 2
_MAX_TENSOR_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses more

_SCALAR_FORMATS: dict[int, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


@dataclass(frozen=True)
class _TensorShape:
    dims: tuple[int, ...]  # ggml order, as stored: dims[0] is ne[0]
    ggml_type: int
    n_elements: int
    n_bytes: int


@dataclass(frozen=True)
class _Header:
    scalars: dict[str, Any]  # strings, numbers, bools, and arrays of up to _MAX_KEPT_ARRAY items
    array_lengths: dict[str, int]
    tensors: dict[str, _TensorShape]


class _Damaged(Exception):
    """The bytes do not form a whole GGUF header; turned into a UserError by the caller."""


def _check_signature(path: Path, label: str) -> None:
    """Check magic and version first, to tell "not GGUF" and "too new" apart from "damaged"."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise UserError(f"The GGUF file '{path}' could not be read: {os_reason(exc)}.") from None
    if head[:4] != _GGUF_MAGIC:
        raise UserError(f"'{label}' is not a GGUF model file (it lacks the GGUF signature).")
    if len(head) < 8:
        raise UserError(_damaged(label))
    version = _version_and_order(head)[0]
    if version not in _READABLE_VERSIONS:
        raise UserError(
            f"'{label}' is GGUF version {version}, which this version of Gemma Desktop cannot read."
        )


def _version_and_order(head: bytes) -> tuple[int, str]:
    version = struct.unpack("<I", head[4:8])[0]
    if version & 0xFFFF == 0:  # written for a big-endian machine: the low half reads as zero
        return struct.unpack(">I", head[4:8])[0], ">"
    return version, "<"


def _read_header(path: Path, label: str) -> _Header:
    try:
        with path.open("rb") as handle:
            return _HeaderReader(handle, path.stat().st_size).read()
    except (_Damaged, UnicodeDecodeError):
        pass
    except OSError as exc:
        raise UserError(f"The GGUF file '{path}' could not be read: {os_reason(exc)}.") from None
    # Raised outside the except block so the message is the only thing the user sees.
    raise UserError(_damaged(label))


class _HeaderReader:
    """Reads GGUF key/values and tensor infos from an open file, trusting no count or length."""

    def __init__(self, handle: BinaryIO, file_size: int) -> None:
        self._handle = handle
        self._size = file_size
        self._pos = 0
        self._order = "<"

    def read(self) -> _Header:
        head = self._take(8)
        self._order = _version_and_order(head)[1]
        n_tensors, n_kv = self._unpack("QQ")
        # Each key/value needs at least 13 bytes and each tensor info at least 24: a count
        # beyond that is corruption, caught before any loop trusts it.
        self._require(n_kv * 13 + n_tensors * 24)

        scalars: dict[str, Any] = {}
        array_lengths: dict[str, int] = {}
        for _ in range(n_kv):
            key = self._string().decode("utf-8")
            if key in scalars or key in array_lengths:
                raise _Damaged(f"duplicate key {key}")
            (value_type,) = self._unpack("I")
            if value_type == GGUFValueType.ARRAY:
                length, items = self._array(depth=1)
                array_lengths[key] = length
                if items is not None:
                    scalars[key] = items
            else:
                scalars[key] = self._value(value_type)

        raw_tensors: list[tuple[str, tuple[int, ...], int, int]] = []
        for _ in range(n_tensors):
            name = self._string().decode("utf-8")
            (n_dims,) = self._unpack("I")
            if not 1 <= n_dims <= _MAX_TENSOR_DIMS:
                raise _Damaged(f"tensor {name} has {n_dims} dimensions")
            dims = self._unpack("Q" * n_dims)
            ggml_type, offset = self._unpack("IQ")
            raw_tensors.append((name, dims, ggml_type, offset))

        alignment = scalars.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment < 1 or alignment & (alignment - 1):
            raise _Damaged(f"alignment {alignment!r}")
        data_start = -(-self._pos // alignment) * alignment

        tensors: dict[str, _TensorShape] = {}
        for name, dims, ggml_type, offset in raw_tensors:
            if name in tensors:
                raise _Damaged(f"duplicate tensor {name}")
            tensors[name] = shape = _tensor_shape(name, dims, ggml_type)
            # The check that catches an interrupted download: every tensor's bytes must exist.
            if data_start + offset + shape.n_bytes > self._size:
                raise _Damaged(f"tensor {name} ends past the end of the file")
        return _Header(scalars, array_lengths, tensors)

    def _value(self, value_type: int) -> Any:
        if value_type == GGUFValueType.STRING:
            # Values (a chat template, a name) are shown, not parsed: a stray byte must not
            # make the whole model unusable.
            return self._string().decode("utf-8", errors="replace")
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise _Damaged(f"unknown value type {value_type}")
        return self._unpack(fmt)[0]

    def _array(self, depth: int) -> tuple[int, list[Any] | None]:
        """Read one array; return its length and, when short, its items."""
        if depth > _MAX_ARRAY_NESTING:
            raise _Damaged("arrays nested too deeply")
        item_type, length = self._unpack("IQ")
        if item_type == GGUFValueType.STRING:
            self._require(length * 8)
            if length <= _MAX_KEPT_ARRAY:
                return length, [self._value(item_type) for _ in range(length)]
            for _ in range(length):
                self._skip_string()
            return length, None
        if item_type == GGUFValueType.ARRAY:
            self._require(length * 12)
            for _ in range(length):
                self._array(depth + 1)
            return length, None
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is None:
            raise _Damaged(f"unknown array item type {item_type}")
        item_size = struct.calcsize(fmt)
        if length <= _MAX_KEPT_ARRAY:
            return length, list(self._unpack(fmt * length)) if length else []
        self._skip(length * item_size)
        return length, None

    def _string(self) -> bytes:
        (length,) = self._unpack("Q")
        return self._take(length)

    def _skip_string(self) -> None:
        (length,) = self._unpack("Q")
        self._skip(length)

    def _unpack(self, fmt: str) -> tuple[Any, ...]:
        full = self._order + fmt
        return struct.unpack(full, self._take(struct.calcsize(full)))

    def _require(self, n_bytes: int) -> None:
        if n_bytes > self._size - self._pos:
            raise _Damaged(f"needs {n_bytes} bytes at {self._pos}, file is {self._size}")

    def _take(self, n_bytes: int) -> bytes:
        self._require(n_bytes)
        data = self._handle.read(n_bytes)
        if len(data) != n_bytes:  # the file shrank while we read it
            raise _Damaged("short read")
        self._pos += n_bytes
        return data

    def _skip(self, n_bytes: int) -> None:
        self._require(n_bytes)
        self._handle.seek(n_bytes, io.SEEK_CUR)
        self._pos += n_bytes


def _tensor_shape(name: str, dims: tuple[int, ...], ggml_type: int) -> _TensorShape:
    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise _Damaged(f"tensor {name} has unknown type {ggml_type}") from None
    if dims[0] % block_size:
        raise _Damaged(f"tensor {name} row of {dims[0]} is not whole {block_size}-blocks")
    n_elements = math.prod(dims)
    return _TensorShape(dims, ggml_type, n_elements, n_elements // block_size * type_size)


# --- interpreting ---------------------------------------------------------------------------


def _describe(path: Path, label: str, file_size: int, header: _Header) -> GGUFInfo:
    meta = header.scalars
    architecture = meta.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise UserError(
            f"'{label}' does not say which model architecture it holds, so it cannot be used."
        )
    if architecture == PROJECTOR_ARCH:
        return _describe_projector(path, label, file_size, header)
    if architecture not in SUPPORTED_MODEL_ARCHS:
        raise UserError(
            f"'{label}' holds a {architecture} model; Gemma Desktop runs Gemma 3 models "
            "(architecture gemma3) and their mmproj projectors."
        )

    def arch_int(key: str) -> int | None:
        return _as_int(meta.get(f"{architecture}.{key}"))

    embedding_length = arch_int("embedding_length")
    if embedding_length is None:
        raise UserError(_damaged(label))
    return GGUFInfo(
        path=path,
        kind="model",
        architecture=architecture,
        file_size=file_size,
        name=_as_str(meta.get("general.name")),
        context_length=arch_int("context_length"),
        embedding_length=embedding_length,
        block_count=arch_int("block_count"),
        has_vision=False,
        projector_type=None,
        image_size=None,
        patch_size=None,
        tokens_per_image=None,
        chat_template=_as_str(meta.get("tokenizer.chat_template")),
        sliding_window=arch_int("attention.sliding_window"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        key_length=arch_int("attention.key_length"),
        value_length=arch_int("attention.value_length"),
        vision_embedding_length=None,
        vocab_size=header.array_lengths.get("tokenizer.ggml.tokens"),
        file_type=_as_int(meta.get("general.file_type")),
        quantization=_quantization(meta, header.tensors),
        parameter_count=sum(t.n_elements for t in header.tensors.values()),
        tensor_count=len(header.tensors),
    )


def _describe_projector(path: Path, label: str, file_size: int, header: _Header) -> GGUFInfo:
    meta = header.scalars
    # Files holding both a vision and an audio projector name each under clip.vision. /
    # clip.audio.; single-modality files use clip.projector_type.  llama.cpp prefers the former.
    projector_type = _as_str(meta.get("clip.vision.projector_type")) or _as_str(
        meta.get("clip.projector_type")
    )
    image_size = _as_int(meta.get("clip.vision.image_size"))
    patch_size = _as_int(meta.get("clip.vision.patch_size"))

    embedding_length: int | None = None
    tokens_per_image: int | None = None
    if projector_type == "gemma3":
        projection = header.tensors.get(INPUT_PROJECTION_TENSOR)
        if projection is None or len(projection.dims) != 2:
            raise UserError(
                f"'{label}' is a Gemma 3 projector without its {INPUT_PROJECTION_TENSOR} "
                "tensor, so it is incomplete or damaged."
            )
        embedding_length = projection.dims[0]
        scale_factor = _as_int(meta.get("clip.vision.projector.scale_factor"))
        if scale_factor is None:
            scale_factor = DEFAULT_GEMMA3_SCALE_FACTOR
        if not image_size or not patch_size or scale_factor < 1:
            raise UserError(_damaged(label))
        # Integer steps, as clip.cpp computes it: patches per side, pooled by the scale factor.
        tokens_per_image = ((image_size // patch_size) // scale_factor) ** 2

    return GGUFInfo(
        path=path,
        kind="mmproj",
        architecture=PROJECTOR_ARCH,
        file_size=file_size,
        name=_as_str(meta.get("general.name")),
        context_length=None,
        embedding_length=embedding_length,
        block_count=_as_int(meta.get("clip.vision.block_count")),
        has_vision=bool(meta.get("clip.has_vision_encoder", False)),
        projector_type=projector_type,
        image_size=image_size,
        patch_size=patch_size,
        tokens_per_image=tokens_per_image,
        chat_template=None,
        sliding_window=None,
        head_count=_as_int(meta.get("clip.vision.attention.head_count")),
        head_count_kv=None,
        key_length=None,
        value_length=None,
        vision_embedding_length=_as_int(meta.get("clip.vision.embedding_length")),
        vocab_size=None,
        file_type=_as_int(meta.get("general.file_type")),
        quantization=_quantization(meta, header.tensors),
        parameter_count=sum(t.n_elements for t in header.tensors.values()),
        tensor_count=len(header.tensors),
    )


def _quantization(meta: dict[str, Any], tensors: dict[str, _TensorShape]) -> str | None:
    """The quantization name: from general.file_type, else the type holding the most bytes."""
    file_type = _as_int(meta.get("general.file_type"))
    if file_type is not None:
        try:
            name = LlamaFileType(file_type).name
        except ValueError:
            return f"file type {file_type}"
        return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if not tensors:
        return None
    bytes_by_type: collections.Counter[int] = collections.Counter()
    for tensor in tensors.values():
        bytes_by_type[tensor.ggml_type] += tensor.n_bytes
    dominant = bytes_by_type.most_common(1)[0][0]
    try:
        return GGMLQuantizationType(dominant).name
    except ValueError:
        return f"tensor type {dominant}"


def _as_int(value: Any) -> int | None:
    # Per-layer values (a list) appear in some architectures; the largest is what memory needs.
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return int(max(numbers)) if numbers else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _damaged(label: str) -> str:
    return f"'{label}' is a damaged or incomplete GGUF file (it may not have finished downloading)."
