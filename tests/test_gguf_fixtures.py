"""Prove the generated GGUF fixtures load and run in the real llama.cpp (via llama-cpp-python).

If these fail, every test built on desktop_app/gguf_fixtures.py would be testing nothing, so this
file checks the fixtures against the engine itself: text generation, Gemma control-token
tokenization, and the mtmd image path (fitting, mismatched and broken projectors), both beside
the tiny model and beside the real Gemma 3 270M GGUF.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_cpp import mtmd_cpp

from desktop_app.engine.backend import _TextSpan, chunk_spans
from desktop_app.gguf_fixtures import (
    BOS_ID,
    CONTROL_TOKENS,
    EOS_ID,
    GEMMA3_TEMPLATE,
    image_tokens_for,
    write_not_a_gguf,
    write_tiny_gemma3_mmproj,
    write_tiny_gemma3_model,
    write_truncated_copy,
)
from tests.support.data import Models

MARKER = "<__media__>"


# ----------------------------------------------------------------- fixtures


@pytest.fixture()
def tiny_llm(models: Models) -> Iterator[llama_cpp.Llama]:
    llm = llama_cpp.Llama(model_path=str(models.tiny), n_ctx=512, n_threads=2, verbose=False)
    yield llm
    llm.close()


# ----------------------------------------------------------------- mtmd helpers


def _mtmd_init(mmproj: Path, llm: llama_cpp.Llama) -> int | None:
    """mtmd_init_from_file against llm's llama_model; None when llama.cpp refuses the file."""
    params = mtmd_cpp.mtmd_context_params_default()
    params.use_gpu = False
    params.n_threads = 2
    params.print_timings = False
    params.warmup = False
    return mtmd_cpp.mtmd_init_from_file(str(mmproj).encode(), llm.model, params)


def _rgb_image(width: int, height: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes()


def _tokenize_and_eval(
    ctx: int, llm: llama_cpp.Llama, text: str, width: int = 80, height: int = 60
) -> tuple[list[tuple[str, list[int] | int]], int]:
    """Tokenize text with one image at the marker, evaluate all chunks into llm's context.

    Returns the chunks as ("text", token ids) / ("image", n_tokens) and the new n_past.
    The image is deliberately not square and not the projector's size, so it is resized.
    """
    rgb = _rgb_image(width, height)
    buf = (ctypes.c_uint8 * len(rgb)).from_buffer(bytearray(rgb))
    bitmap = mtmd_cpp.mtmd_bitmap_init(width, height, buf)
    assert bitmap is not None
    chunks = mtmd_cpp.mtmd_input_chunks_init()
    try:
        inp = mtmd_cpp.mtmd_input_text()
        raw = text.encode("utf-8")
        inp.text, inp.text_len, inp.add_special, inp.parse_special = raw, len(raw), True, True
        bitmaps = (mtmd_cpp.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd_cpp.mtmd_tokenize(ctx, chunks, ctypes.byref(inp), bitmaps, 1) == 0

        out: list[tuple[str, list[int] | int]] = [
            ("text", span.tokens) if isinstance(span, _TextSpan) else ("image", span.n_tokens)
            for span in chunk_spans(chunks)
        ]

        new_n_past = llama_cpp.llama_pos(0)
        rc = mtmd_cpp.mtmd_helper_eval_chunks(
            ctx, llm._ctx.ctx, chunks, 0, 0, llm.n_batch, True, ctypes.byref(new_n_past)
        )
        assert rc == 0
        return out, new_n_past.value
    finally:
        mtmd_cpp.mtmd_input_chunks_free(chunks)
        mtmd_cpp.mtmd_bitmap_free(bitmap)


def _check_fitting_projector(mmproj: Path, llm: llama_cpp.Llama, expected_tokens: int) -> None:
    """The projector loads, yields expected_tokens image tokens framed by the image markers,
    and encoding + decoding them leaves finite logits."""
    ctx = _mtmd_init(mmproj, llm)
    assert ctx is not None, "llama.cpp refused a projector that should fit"
    try:
        assert mtmd_cpp.mtmd_support_vision(ctx)
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        soi = llm.tokenize(b"<start_of_image>", add_bos=False, special=True)
        eoi = llm.tokenize(b"<end_of_image>", add_bos=False, special=True)
        assert len(soi) == 1 and len(eoi) == 1

        chunks, n_past = _tokenize_and_eval(ctx, llm, f"<start_of_turn>user\n{MARKER}What is this?<end_of_turn>\n")
        kinds = [k for k, _ in chunks]
        assert kinds == ["text", "image", "text"]
        assert chunks[1][1] == expected_tokens
        before, after = chunks[0][1], chunks[2][1]
        assert isinstance(before, list) and isinstance(after, list)
        assert before[0] == llama_cpp.llama_vocab_bos(vocab)
        assert before[-1] == soi[0] and after[0] == eoi[0]
        assert n_past == len(before) + expected_tokens + len(after)

        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        assert np.isfinite(logits).all()
    finally:
        mtmd_cpp.mtmd_free(ctx)


# ----------------------------------------------------------------- pure helpers


def test_image_tokens_for() -> None:
    assert image_tokens_for(64, 4) == 16
    assert image_tokens_for(896, 14) == 256  # the real Gemma 3 encoder
    assert image_tokens_for(64, 4, scale_factor=2) == 64
    with pytest.raises(ValueError):
        image_tokens_for(60, 4)  # 15 patches a side, not divisible by 4


def test_files_are_small_and_deterministic(tmp_path: Path) -> None:
    a = write_tiny_gemma3_model(tmp_path / "a.gguf")
    b = write_tiny_gemma3_model(tmp_path / "b.gguf")
    c = write_tiny_gemma3_model(tmp_path / "c.gguf", seed=1)
    assert a.stat().st_size < 2_000_000
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    p = write_tiny_gemma3_mmproj(tmp_path / "p.gguf")
    assert p.stat().st_size < 2_000_000


def test_bad_input_writers(tmp_path: Path) -> None:
    junk = write_not_a_gguf(tmp_path / "junk.gguf")
    assert junk.stat().st_size > 0 and junk.read_bytes()[:4] != b"GGUF"
    src = write_tiny_gemma3_model(tmp_path / "m.gguf")
    cut = write_truncated_copy(src, tmp_path / "cut.gguf", fraction=0.5)
    assert cut.read_bytes() == src.read_bytes()[: src.stat().st_size // 2]


# ----------------------------------------------------------------- text model


def test_tiny_model_loads_and_generates(tiny_llm: llama_cpp.Llama) -> None:
    assert tiny_llm.n_embd() == 64
    assert tiny_llm.metadata["general.architecture"] == "gemma3"
    assert tiny_llm.metadata["tokenizer.chat_template"] == GEMMA3_TEMPLATE
    out = tiny_llm.create_completion("hello the", max_tokens=4, temperature=0.0)
    assert isinstance(out, dict)  # not streamed
    assert out["usage"]["completion_tokens"] >= 1
    # generate() never stops by itself; take a few tokens.
    tokens = list(itertools.islice(tiny_llm.generate(tiny_llm.tokenize(b"hi"), temp=0.0), 5))
    assert len(tokens) == 5 and all(0 <= t < tiny_llm.n_vocab() for t in tokens)
    # Streaming a chat reply through the template works end to end.
    chunks = list(
        tiny_llm.create_chat_completion([{"role": "user", "content": "hi"}], max_tokens=3, stream=True)
    )
    assert chunks


def test_control_tokens(tiny_llm: llama_cpp.Llama) -> None:
    ids = tiny_llm.tokenize(b"<start_of_turn>user\nhi<end_of_turn>\n", add_bos=False, special=True)
    sot, eot = CONTROL_TOKENS["<start_of_turn>"], CONTROL_TOKENS["<end_of_turn>"]
    assert ids[0] == sot
    assert ids.count(eot) == 1 and ids.index(eot) == len(ids) - 2
    assert tiny_llm.detokenize(ids, special=True) == b"<start_of_turn>user\nhi<end_of_turn>\n"
    # Without special parsing the markers are plain text, never the control ids.
    plain = tiny_llm.tokenize(b"<start_of_turn>", add_bos=False, special=False)
    assert sot not in plain and len(plain) > 1
    for text, tid in CONTROL_TOKENS.items():
        assert tiny_llm.tokenize(text.encode(), add_bos=False, special=True) == [tid]
    assert tiny_llm.token_bos() == BOS_ID and tiny_llm.token_eos() == EOS_ID
    assert tiny_llm.tokenize(b"hi")[0] == BOS_ID  # add_bos_token is true
    vocab = llama_cpp.llama_model_get_vocab(tiny_llm.model)
    assert llama_cpp.llama_vocab_is_eog(vocab, eot)  # llama.cpp stops a reply at <end_of_turn>
    assert llama_cpp.llama_vocab_is_control(vocab, sot)
    # Any text tokenizes (byte fallback) and round-trips.
    text = "Ünïcode ✓ and tabs\tok 123"
    assert tiny_llm.detokenize(tiny_llm.tokenize(text.encode(), add_bos=False)).decode() == text


def test_template_can_be_omitted(tmp_path: Path) -> None:
    path = write_tiny_gemma3_model(tmp_path / "nt.gguf", chat_template=None, n_embd=32, context_length=2048)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, verbose=False)
    try:
        assert "tokenizer.chat_template" not in llm.metadata
        assert llm.n_embd() == 32 and llama_cpp.llama_model_n_ctx_train(llm.model) == 2048
    finally:
        llm.close()


def test_broken_model_files_raise(tmp_path: Path, models: Models) -> None:
    for bad in (
        write_not_a_gguf(tmp_path / "junk.gguf"),
        write_truncated_copy(models.tiny, tmp_path / "cut.gguf"),
    ):
        with pytest.raises(ValueError):
            llama_cpp.Llama(model_path=str(bad), n_ctx=256, verbose=False)


# ----------------------------------------------------------------- projector


def test_mmproj_fits_tiny_model(tmp_path: Path, tiny_llm: llama_cpp.Llama) -> None:
    mmproj = write_tiny_gemma3_mmproj(tmp_path / "mmproj.gguf", text_embd=64)
    _check_fitting_projector(mmproj, tiny_llm, image_tokens_for(64, 4))


def test_mmproj_other_geometry(tmp_path: Path, tiny_llm: llama_cpp.Llama) -> None:
    mmproj = write_tiny_gemma3_mmproj(tmp_path / "p.gguf", image_size=96, patch_size=6, hidden=32, blocks=1)
    _check_fitting_projector(mmproj, tiny_llm, image_tokens_for(96, 6))


def test_bad_projectors_are_refused(tmp_path: Path, tiny_llm: llama_cpp.Llama) -> None:
    mismatched = write_tiny_gemma3_mmproj(tmp_path / "mismatch.gguf", text_embd=48)
    good = write_tiny_gemma3_mmproj(tmp_path / "good.gguf")
    for bad in (
        mismatched,
        write_truncated_copy(good, tmp_path / "cut.gguf"),
        write_not_a_gguf(tmp_path / "junk.gguf"),
    ):
        assert _mtmd_init(bad, tiny_llm) is None, bad.name
    # The model is still usable after the refusals.
    out = tiny_llm.create_completion("hi", max_tokens=2)
    assert isinstance(out, dict) and out["choices"]


@pytest.mark.slow
def test_mmproj_beside_real_gemma3_270m(tmp_path: Path, gemma270m: Path) -> None:
    llm = llama_cpp.Llama(model_path=str(gemma270m), n_ctx=512, n_threads=2, verbose=False)
    try:
        assert llm.n_embd() == 640
        fitting = write_tiny_gemma3_mmproj(tmp_path / "fit.gguf", text_embd=640)
        _check_fitting_projector(fitting, llm, image_tokens_for(64, 4))
        mismatched = write_tiny_gemma3_mmproj(tmp_path / "mismatch.gguf", text_embd=64)
        assert _mtmd_init(mismatched, llm) is None
    finally:
        llm.close()
