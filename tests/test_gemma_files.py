"""Tests for GGUF inspection (``models.gguf_reader`` and ``models.gemma_files``) on small GGUFs written here with
gguf.GGUFWriter, on broken files, and on the real Gemma 3 270M GGUF from PyPI.

The module reads headers itself; gguf.GGUFReader serves here as the reference it must agree with.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFEndian, GGUFReader, GGUFValueType, GGUFWriter

from desktop_app.errors import UserError
from desktop_app.models.gemma_files import (
    INPUT_PROJECTION_TENSOR,
    SUPPORTED_MODEL_ARCHS,
    ModelFile,
    ProjectorFile,
    check_pair,
    inspect_gguf,
    inspect_model,
    inspect_projector,
    require_vision,
)
from desktop_app.models.gguf_reader import read_header

TEMPLATE = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['content'] }}{% endfor %}"


def _write_gguf(
    path: Path,
    arch: str,
    metadata: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray | tuple[np.ndarray, GGMLQuantizationType]],
    endianess: GGUFEndian = GGUFEndian.LITTLE,
) -> Path:
    """Write a GGUF; a tensor given as (bytes array, type) is stored raw as that ggml type."""
    writer = GGUFWriter(path, arch, endianess=endianess)
    for key, value in metadata.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, value)
    for name, tensor in tensors.items():
        if isinstance(tensor, tuple):
            writer.add_tensor(name, tensor[0], raw_dtype=tensor[1])
        else:
            writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _model_metadata(n_embd: int = 640, **overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "general.name": "Tiny Gemma",
        "general.file_type": 1,  # MOSTLY_F16
        "gemma3.context_length": 8192,
        "gemma3.embedding_length": n_embd,
        "gemma3.block_count": 2,
        "gemma3.feed_forward_length": 4 * n_embd,
        "gemma3.attention.head_count": 4,
        "gemma3.attention.head_count_kv": 1,
        "gemma3.attention.key_length": 256,
        "gemma3.attention.value_length": 256,
        "gemma3.attention.sliding_window": 512,
        "gemma3.attention.layer_norm_rms_epsilon": 1e-6,
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": ["<pad>", "<eos>", "<bos>", "<unk>", "hello"],
        "tokenizer.chat_template": TEMPLATE,
    }
    metadata.update(overrides)
    return metadata


def _mmproj_metadata(**overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "general.name": "Tiny Gemma projector",
        "clip.has_vision_encoder": True,
        "clip.projector_type": "gemma3",
        "clip.use_gelu": True,
        "clip.vision.image_size": 64,
        "clip.vision.patch_size": 4,
        "clip.vision.embedding_length": 64,
        "clip.vision.feed_forward_length": 128,
        "clip.vision.block_count": 2,
        "clip.vision.projection_dim": 640,
        "clip.vision.attention.head_count": 4,
        "clip.vision.attention.layer_norm_epsilon": 1e-6,
        "clip.vision.image_mean": [0.5, 0.5, 0.5],
        "clip.vision.image_std": [0.5, 0.5, 0.5],
    }
    metadata.update(overrides)
    return {k: v for k, v in metadata.items() if v is not None}


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "tiny-gemma.gguf", n_embd: int = 640, **overrides: Any) -> Path:
        tensors: dict[str, np.ndarray] = {
            "token_embd.weight": np.zeros((5, n_embd), dtype=np.float16),
            "output_norm.weight": np.ones(n_embd, dtype=np.float32),
        }
        return _write_gguf(tmp_path / name, "gemma3", _model_metadata(n_embd, **overrides), tensors)

    return make


@pytest.fixture
def make_mmproj(tmp_path: Path) -> Callable[..., Path]:
    def make(
        name: str = "mmproj-tiny.gguf",
        numpy_projection_shape: tuple[int, int] | None = (64, 640),
        **overrides: Any,
    ) -> Path:
        tensors: dict[str, np.ndarray] = {
            "v.patch_embd.weight": np.zeros((64, 3, 4, 4), dtype=np.float16),
            "mm.soft_emb_norm.weight": np.ones(64, dtype=np.float32),
        }
        if numpy_projection_shape is not None:
            # numpy (n_embd_vision, n_embd_text), as convert_hf_to_gguf writes the HF weight;
            # on disk (ggml order) that is [n_embd_text, n_embd_vision].
            tensors[INPUT_PROJECTION_TENSOR] = np.zeros(numpy_projection_shape, dtype=np.float32)
        return _write_gguf(tmp_path / name, "clip", _mmproj_metadata(**overrides), tensors)

    return make


def _raw_tensor_dims(path: Path) -> dict[str, list[int]]:
    """Tensor dims exactly as stored on disk, parsed by hand (independent of gguf's reader)."""
    data = path.read_bytes()
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    offset = 4

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def skip_string() -> bytes:
        nonlocal offset
        (length,) = take("Q")
        offset += length
        return data[offset - length : offset]

    def skip_value(value_type: int) -> None:
        nonlocal offset
        if value_type == 8:
            skip_string()
        elif value_type == 9:
            item_type, count = take("IQ")
            for _ in range(count):
                skip_value(item_type)
        else:
            offset += sizes[value_type]

    _version, n_tensors, n_kv = take("IQQ")
    for _ in range(n_kv):
        skip_string()
        skip_value(take("I")[0])
    dims: dict[str, list[int]] = {}
    for _ in range(n_tensors):
        name = skip_string().decode()
        (n_dims,) = take("I")
        dims[name] = list(take(f"{n_dims}Q"))
        take("IQ")  # type, offset
    return dims


def _assert_released(path: Path) -> None:
    """No handle or mapping of the file is left (checked on Linux), and it can be deleted."""
    target = str(path.resolve())
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert target not in maps.read_text()
    fds = Path("/proc/self/fd")
    if fds.exists():
        open_files = set()
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                open_files.add(str(fd.resolve()))
        assert target not in open_files
    path.unlink()  # on Windows this fails while a mapping or handle is open
    assert not path.exists()


def _reference_header(path: Path) -> tuple[dict[str, Any], dict[str, int], dict[str, tuple]]:
    """What gguf.GGUFReader reads from the file, in the shape of the module's _Header."""
    reader = GGUFReader(path)
    scalars: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue  # the reader's own bookkeeping (version, counts), not file metadata
        if field.types[0] == GGUFValueType.ARRAY:
            lengths[key] = len(field.data)
            if len(field.data) <= 64:
                scalars[key] = field.contents()
        else:
            scalars[key] = field.contents()
    tensors = {
        t.name: (
            tuple(int(d) for d in t.shape),
            int(t.tensor_type),
            int(t.n_elements),
            int(t.n_bytes),
        )
        for t in reader.tensors
    }
    return scalars, lengths, tensors


def _assert_matches_reference(path: Path) -> None:
    header = read_header(path)
    scalars, lengths, tensors = _reference_header(path)
    assert header.scalars == scalars
    assert header.array_lengths == lengths
    assert {
        name: (t.dims, t.ggml_type, t.n_elements, t.n_bytes) for name, t in header.tensors.items()
    } == tensors


def _refusal(path: Path) -> str:
    with pytest.raises(UserError) as caught:
        inspect_gguf(path)
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    return message


# --- models and projectors ------------------------------------------------------------------


def test_fake_gemma3_model_is_described(make_model: Callable[..., Path]) -> None:
    path = make_model()

    info = inspect_model(path)

    assert isinstance(info, ModelFile)
    assert info.architecture == "gemma3" and "gemma3" in SUPPORTED_MODEL_ARCHS
    assert info.path == path and info.display_name == "tiny-gemma.gguf"
    assert info.file_size == path.stat().st_size
    assert info.name == "Tiny Gemma"
    assert info.context_length == 8192
    assert info.embedding_length == 640
    assert info.block_count == 2
    assert (info.head_count, info.head_count_kv) == (4, 1)
    assert (info.key_length, info.value_length) == (256, 256)
    assert info.sliding_window == 512
    assert info.chat_template == TEMPLATE
    assert "chat_template" not in repr(info)
    assert info.vocab_size == 5
    assert info.quantization == "F16"
    assert info.parameter_count == 5 * 640 + 640
    assert info.tensor_count == 2


def test_fake_projector_is_described(make_mmproj: Callable[..., Path]) -> None:
    info = inspect_projector(make_mmproj())

    assert isinstance(info, ProjectorFile)
    assert info.has_vision
    assert info.projector_type == "gemma3"
    assert (info.image_size, info.patch_size) == (64, 4)
    assert info.tokens_per_image == ((64 // 4) // 4) ** 2 == 16  # default scale factor 4
    assert info.embedding_length == 640  # what it produces, i.e. the text model's width
    assert info.vision_embedding_length == 64
    assert info.block_count == 2 and info.head_count == 4
    assert info.quantization == "F32"  # no general.file_type: the type holding most bytes


def test_tokens_per_image_uses_the_scale_factor(make_mmproj: Callable[..., Path]) -> None:
    path = make_mmproj(**{"clip.vision.projector.scale_factor": 2})
    assert inspect_projector(path).tokens_per_image == ((64 // 4) // 2) ** 2 == 64


def test_real_sized_projector_numbers(make_mmproj: Callable[..., Path]) -> None:
    # Gemma 3 4B's projector: 896 px, patch 14, scale 4 -> 256 tokens; 1152 -> 2560 wide.
    path = make_mmproj(
        numpy_projection_shape=(1152, 2560),
        **{"clip.vision.image_size": 896, "clip.vision.patch_size": 14},
    )
    info = inspect_projector(path)
    assert info.tokens_per_image == 256
    assert info.embedding_length == 2560


def test_projection_width_is_the_first_stored_dim(make_mmproj: Callable[..., Path]) -> None:
    # numpy (64, 640) is stored reversed, [640, 64]: llama.cpp's ne[0] = n_embd_text = 640.
    path = make_mmproj(numpy_projection_shape=(64, 640))
    assert _raw_tensor_dims(path)[INPUT_PROJECTION_TENSOR] == [640, 64]
    assert inspect_gguf(path).embedding_length == 640

    # The same tensor written the other way round would produce 64-wide embeddings.
    flipped = make_mmproj("flipped.gguf", numpy_projection_shape=(640, 64))
    assert _raw_tensor_dims(flipped)[INPUT_PROJECTION_TENSOR] == [64, 640]
    assert inspect_gguf(flipped).embedding_length == 64


def test_header_reader_agrees_with_gguf_reader(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path], tmp_path: Path
) -> None:
    _assert_matches_reference(make_model())
    _assert_matches_reference(make_mmproj())
    quantized = _write_gguf(
        tmp_path / "q8.gguf",
        "gemma3",
        _model_metadata(64),
        # Two rows of 64 Q8_0 values, each row 2 blocks of 34 bytes.
        {"token_embd.weight": (np.zeros((2, 68), dtype=np.uint8), GGMLQuantizationType.Q8_0)},
    )
    _assert_matches_reference(quantized)
    info = inspect_gguf(quantized)
    assert info.parameter_count == 2 * 64
    data = quantized.read_bytes()
    quantized.write_bytes(data[:-40])
    with pytest.raises(UserError, match="damaged or incomplete"):
        inspect_gguf(quantized)


def test_big_endian_file_reads_the_same(tmp_path: Path) -> None:
    little = _write_gguf(
        tmp_path / "le.gguf",
        "gemma3",
        _model_metadata(),
        {"a.weight": np.zeros((3, 640), np.float32)},
    )
    big = _write_gguf(
        tmp_path / "be.gguf",
        "gemma3",
        _model_metadata(),
        {"a.weight": np.zeros((3, 640), np.float32)},
        endianess=GGUFEndian.BIG,
    )
    assert little.read_bytes() != big.read_bytes()
    info_le, info_be = inspect_gguf(little), inspect_gguf(big)
    assert isinstance(info_le, ModelFile) and isinstance(info_be, ModelFile)
    assert info_be.embedding_length == info_le.embedding_length == 640
    assert info_be.chat_template == info_le.chat_template == TEMPLATE
    assert info_be.parameter_count == info_le.parameter_count == 3 * 640


def test_nothing_stays_open_after_inspection(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path], tmp_path: Path
) -> None:
    for path in (make_model(), make_mmproj()):
        inspect_gguf(path)
        _assert_released(path)

    damaged = tmp_path / "damaged.gguf"
    data = make_model("whole.gguf").read_bytes()
    damaged.write_bytes(data[: len(data) - 700])
    with pytest.raises(UserError):
        inspect_gguf(damaged)
    _assert_released(damaged)


# --- refusals -------------------------------------------------------------------------------


def test_llama_model_is_refused_naming_its_architecture(tmp_path: Path) -> None:
    path = _write_gguf(
        tmp_path / "llama.gguf",
        "llama",
        {"llama.embedding_length": 64, "llama.context_length": 2048},
        {"token_embd.weight": np.zeros((4, 64), dtype=np.float32)},
    )
    assert _refusal(path) == (
        "'llama.gguf' holds a llama model; Gemma Desktop runs Gemma 3, Gemma 3n and Gemma 4 "
        "models and their mmproj projectors."
    )


def test_gemma3n_is_read_as_gemma3n(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "e2b.gguf", "gemma3n", {"gemma3n.embedding_length": 64}, {})
    info = inspect_model(path)
    assert info.architecture == "gemma3n" and info.family.label == "Gemma 3n"


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.gguf"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert _refusal(path) == "'noise.gguf' is not a GGUF model file (it lacks the GGUF signature)."


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    assert _refusal(path) == "'empty.gguf' is empty (0 bytes), so it is not a GGUF file."


def test_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"
    assert _refusal(missing) == f"The GGUF file '{missing}' was not found."
    assert _refusal(tmp_path) == f"'{tmp_path}' is a folder, not a GGUF file."


@pytest.mark.parametrize("keep", [6, 30, 200, "all but 700"])
def test_truncated_copy_is_refused(
    make_model: Callable[..., Path], tmp_path: Path, keep: int | str
) -> None:
    data = make_model().read_bytes()
    cut = len(data) - 700 if keep == "all but 700" else int(keep)
    path = tmp_path / "partial.gguf"
    path.write_bytes(data[:cut])
    assert _refusal(path) == (
        "'partial.gguf' is a damaged or incomplete GGUF file (it may not have finished "
        "downloading)."
    )


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<I", 99) + b"\x00" * 64)
    assert _refusal(path) == (
        "'future.gguf' is GGUF version 99, which this version of Gemma Desktop cannot read."
    )


def test_gemma3_projector_without_its_projection_is_refused(
    make_mmproj: Callable[..., Path],
) -> None:
    path = make_mmproj("hollow.gguf", numpy_projection_shape=None)
    assert _refusal(path) == (
        "'hollow.gguf' is a Gemma projector without its mm.input_projection.weight tensor, "
        "so it is incomplete or damaged."
    )


def _patch_array_count(path: Path, key: str, item_type: int, count: int) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(key.encode()) + len(key)
    assert struct.unpack_from("<I", data, at)[0] == GGUFValueType.ARRAY
    struct.pack_into("<IQ", data, at + 4, item_type, count)
    path.write_bytes(bytes(data))


def test_corrupted_array_count_is_refused_not_looped_on(make_mmproj: Callable[..., Path]) -> None:
    # A single flipped count: gguf.GGUFReader spins on this for hours reading empty views past
    # the end of the file.  The module must refuse it at once.
    path = make_mmproj("corrupt.gguf")
    _patch_array_count(path, "clip.vision.image_mean", GGUFValueType.UINT8, 1 << 40)
    assert "'corrupt.gguf' is a damaged or incomplete GGUF file" in _refusal(path)

    path = make_mmproj("corrupt-strings.gguf")
    _patch_array_count(path, "clip.vision.image_mean", GGUFValueType.STRING, 1 << 33)
    assert "damaged or incomplete" in _refusal(path)


def test_absurd_counts_are_refused(make_model: Callable[..., Path]) -> None:
    path = make_model("counts.gguf")
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 16, 1 << 50)  # key/value count
    path.write_bytes(bytes(data))
    assert "damaged or incomplete" in _refusal(path)


# --- pairs ----------------------------------------------------------------------------------


def test_matching_pair_passes(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path]
) -> None:
    model, mmproj = inspect_model(make_model()), inspect_projector(make_mmproj())
    check_pair(model, mmproj)
    require_vision(model, mmproj, 2)
    require_vision(model, None, 0)


def test_width_mismatch_is_refused(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path]
) -> None:
    model = inspect_model(make_model("gemma-270m.gguf"))
    mmproj = inspect_projector(make_mmproj("mmproj-4b.gguf", numpy_projection_shape=(64, 1152)))
    with pytest.raises(UserError) as caught:
        check_pair(model, mmproj)
    assert str(caught.value) == (
        "The projector mmproj-4b.gguf produces 1152-wide embeddings but model gemma-270m.gguf "
        "expects 640; choose the projector made for this model."
    )
    with pytest.raises(UserError, match="1152-wide"):
        require_vision(model, mmproj, 1)


def test_swapped_files_are_refused(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path]
) -> None:
    model_path, mmproj_path = make_model(), make_mmproj()
    with pytest.raises(UserError) as as_model:
        inspect_model(mmproj_path)
    assert str(as_model.value) == (
        "'mmproj-tiny.gguf' is a vision projector (mmproj), not a model; choose the Gemma model "
        "file as the model."
    )
    with pytest.raises(UserError) as as_projector:
        inspect_projector(model_path)
    assert str(as_projector.value) == (
        "'tiny-gemma.gguf' is a model, not a vision projector; choose the mmproj file made for "
        "this model as the projector."
    )


def test_other_projector_types_are_refused(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path]
) -> None:
    model = inspect_model(make_model())
    llava = inspect_projector(make_mmproj("mmproj-llava.gguf", **{"clip.projector_type": "mlp"}))
    assert llava.tokens_per_image is None and llava.embedding_length is None
    with pytest.raises(UserError) as caught:
        check_pair(model, llava)
    assert str(caught.value) == (
        "'mmproj-llava.gguf' is a mlp projector, which Gemma Desktop does not run; choose the "
        "projector made for this model."
    )

    untyped = inspect_projector(make_mmproj("mmproj-old.gguf", **{"clip.projector_type": None}))
    with pytest.raises(UserError, match=r"'mmproj-old\.gguf' is a projector of no known type; choose"):
        check_pair(model, untyped)


def test_projector_without_vision_is_refused(
    make_model: Callable[..., Path], make_mmproj: Callable[..., Path]
) -> None:
    model = inspect_model(make_model())
    audio_only = inspect_projector(
        make_mmproj("mmproj-audio.gguf", **{"clip.has_vision_encoder": False})
    )
    with pytest.raises(UserError, match="has no vision encoder, so it cannot read images"):
        check_pair(model, audio_only)


def test_images_without_a_projector_are_refused(make_model: Callable[..., Path]) -> None:
    model = inspect_model(make_model("gemma-text.gguf"))
    with pytest.raises(UserError) as caught:
        require_vision(model, None, 1)
    assert str(caught.value) == (
        "gemma-text.gguf is a text-only model setup: add its mmproj projector (--mmproj) to ask "
        "about images."
    )


# --- the real Gemma 3 270M ------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_270m(gemma270m: Path) -> ModelFile:
    return inspect_model(gemma270m)


@pytest.mark.slow
def test_real_270m_metadata(real_270m: ModelFile, gemma270m: Path) -> None:
    assert real_270m.architecture == "gemma3"
    assert real_270m.name == "Gemma 3 270m"
    assert real_270m.embedding_length == 640
    assert real_270m.context_length == 32768
    assert real_270m.block_count == 18
    assert (real_270m.head_count, real_270m.head_count_kv) == (4, 1)
    assert (real_270m.key_length, real_270m.value_length) == (256, 256)
    assert real_270m.sliding_window == 512
    assert real_270m.vocab_size == 262_144
    assert real_270m.quantization == "Q4_K_M"
    assert real_270m.tensor_count == 236
    assert 260_000_000 < real_270m.parameter_count < 280_000_000
    assert real_270m.file_size == gemma270m.stat().st_size
    # It ships without tokenizer.chat_template (the app falls back to its built-in Gemma 3
    # template); reading a template works, as the fake model above shows.
    assert real_270m.chat_template is None


@pytest.mark.slow
def test_real_270m_header_agrees_with_gguf_reader(gemma270m: Path) -> None:
    # GGUFReader needs seconds and hundreds of MB here (its per-entry views of the vocabulary).
    _assert_matches_reference(gemma270m)


@pytest.mark.slow
def test_real_270m_pairs_only_with_a_640_wide_projector(
    real_270m: ModelFile, make_mmproj: Callable[..., Path]
) -> None:
    check_pair(real_270m, inspect_projector(make_mmproj("mmproj-640.gguf")))
    wide = inspect_projector(make_mmproj("mmproj-2560.gguf", numpy_projection_shape=(64, 2560)))
    with pytest.raises(
        UserError, match=r"produces 2560-wide embeddings but model gemma-3-270m-q4_k_m\.gguf expects 640"
    ):
        check_pair(real_270m, wide)
    with pytest.raises(UserError, match="text-only model setup"):
        require_vision(real_270m, None, 1)


@pytest.mark.slow
def test_real_270m_truncated_is_refused(gemma270m: Path, tmp_path: Path) -> None:
    partial = tmp_path / "gemma-3-270m.part.gguf"
    # An interrupted download: the header is whole, the weights stop a third of the way in.
    with gemma270m.open("rb") as source:
        partial.write_bytes(source.read(gemma270m.stat().st_size // 3))
    assert "is a damaged or incomplete GGUF file" in _refusal(partial)
    _assert_released(partial)
