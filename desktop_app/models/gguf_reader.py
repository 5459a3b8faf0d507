"""A bounded reader of GGUF headers: metadata and tensor shapes, never the weights.

Generic GGUF, no model knowledge: :mod:`desktop_app.models.gemma_files` says what the metadata
means for a Gemma model or projector.  Every count and length in the file is checked against the
bytes left before it is trusted, so a damaged or hostile file costs a sentence, not a hang.
"""

from __future__ import annotations

import collections
import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gguf import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLQuantizationType,
    GGUFValueType,
    LlamaFileType,
)

from desktop_app.errors import UserError, os_reason, user_file_size

_GGUF_MAGIC = b"GGUF"
_READABLE_VERSIONS = (2, 3)


def read_header(path: str | Path) -> GGUFHeader:
    """Read a GGUF file's metadata and tensor shapes (never its weights).

    Raises :class:`UserError` for a missing, empty or unreadable file, one that is not GGUF, a
    GGUF version this reader does not know, or a damaged or truncated header.  Nothing stays open
    or mapped afterwards, so the file can be moved or deleted at once, on Windows too.
    """
    path = Path(path)
    label = path.name or str(path)
    file_size = user_file_size(path, "gguf")
    if file_size == 0:
        raise UserError("'{name}' is empty (0 bytes), so it is not a GGUF file.", name=label)
    _check_signature(path, label)
    try:
        with path.open("rb") as handle:
            return _HeaderReader(handle, path.stat().st_size).read(path)
    except (_Damaged, UnicodeDecodeError):
        pass
    except OSError as exc:
        raise UserError(
            "The GGUF file '{path}' could not be read: {reason}.", path=str(path), reason=os_reason(exc)
        ) from None
    # Raised outside the except block so the message is the only thing the user sees.
    raise damaged_file(label)


def damaged_file(label: str) -> UserError:
    """The sentence for a GGUF whose bytes do not hold what they should."""
    return UserError(
        "'{name}' is a damaged or incomplete GGUF file (it may not have finished downloading).",
        name=label,
    )


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

# Small arrays (image_mean, tags, a per-layer list for up to llama.cpp's 512 layers) are kept; the
# vocabulary's 262,144 entries are only counted.
_MAX_KEPT_ARRAY = 512
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
class TensorShape:
    """One tensor's shape and size, as the header declares it."""

    dims: tuple[int, ...]
    """ggml order, as stored: ``dims[0]`` is ne[0] (numpy's and Hugging Face's order is the reverse)."""
    ggml_type: int
    n_elements: int
    n_bytes: int


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF header says: key/values, array lengths and tensor shapes."""

    path: Path
    file_size: int
    scalars: dict[str, Any]
    """Strings, numbers, bools, and arrays of up to 512 items (longer ones only in ``array_lengths``)."""
    array_lengths: dict[str, int]
    tensors: dict[str, TensorShape]

    @property
    def architecture(self) -> str | None:
        return as_str(self.scalars.get("general.architecture"))

    def int_value(self, key: str) -> int | None:
        """An integer field (the largest, for a per-layer list), or None when absent or not a number."""
        return as_int(self.scalars.get(key))

    def str_value(self, key: str) -> str | None:
        """A non-empty string field, or None."""
        return as_str(self.scalars.get(key))

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors.values())

    @property
    def quantization(self) -> str | None:
        """The quantization name: from general.file_type, else the type holding the most bytes."""
        file_type = self.int_value("general.file_type")
        if file_type is not None:
            try:
                name = LlamaFileType(file_type).name
            except ValueError:
                return f"file type {file_type}"
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
        if not self.tensors:
            return None
        bytes_by_type: collections.Counter[int] = collections.Counter()
        for tensor in self.tensors.values():
            bytes_by_type[tensor.ggml_type] += tensor.n_bytes
        dominant = bytes_by_type.most_common(1)[0][0]
        try:
            return GGMLQuantizationType(dominant).name
        except ValueError:
            return f"tensor type {dominant}"


class _Damaged(Exception):
    """The bytes do not form a whole GGUF header; turned into a UserError by the caller."""


def _check_signature(path: Path, label: str) -> None:
    """Check magic and version first, to tell "not GGUF" and "too new" apart from "damaged"."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise UserError(
            "The GGUF file '{path}' could not be read: {reason}.", path=str(path), reason=os_reason(exc)
        ) from None
    if head[:4] != _GGUF_MAGIC:
        raise UserError("'{name}' is not a GGUF model file (it lacks the GGUF signature).", name=label)
    if len(head) < 8:
        raise damaged_file(label)
    version = _version_and_order(head)[0]
    if version not in _READABLE_VERSIONS:
        raise UserError(
            "'{name}' is GGUF version {version}, which this version of Gemma Desktop cannot read.",
            name=label,
            version=version,
        )


def _version_and_order(head: bytes) -> tuple[int, str]:
    version = struct.unpack("<I", head[4:8])[0]
    if version & 0xFFFF == 0:  # written for a big-endian machine: the low half reads as zero
        return struct.unpack(">I", head[4:8])[0], ">"
    return version, "<"


class _HeaderReader:
    """Reads GGUF key/values and tensor infos from an open file, trusting no count or length."""

    def __init__(self, handle: BinaryIO, file_size: int) -> None:
        self._handle = handle
        self._size = file_size
        self._pos = 0
        self._order = "<"

    def read(self, path: Path) -> GGUFHeader:
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

        tensors: dict[str, TensorShape] = {}
        for name, dims, ggml_type, offset in raw_tensors:
            if name in tensors:
                raise _Damaged(f"duplicate tensor {name}")
            tensors[name] = shape = _tensor_shape(name, dims, ggml_type)
            # The check that catches an interrupted download: every tensor's bytes must exist.
            if data_start + offset + shape.n_bytes > self._size:
                raise _Damaged(f"tensor {name} ends past the end of the file")
        return GGUFHeader(path, self._size, scalars, array_lengths, tensors)

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


def _tensor_shape(name: str, dims: tuple[int, ...], ggml_type: int) -> TensorShape:
    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise _Damaged(f"tensor {name} has unknown type {ggml_type}") from None
    if dims[0] % block_size:
        raise _Damaged(f"tensor {name} row of {dims[0]} is not whole {block_size}-blocks")
    n_elements = math.prod(dims)
    return TensorShape(dims, ggml_type, n_elements, n_elements // block_size * type_size)



def as_int(value: Any) -> int | None:
    # Per-layer values (a list) appear in some architectures; the largest is what memory needs.
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return int(max(numbers)) if numbers else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
