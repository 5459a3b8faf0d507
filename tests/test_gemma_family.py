"""Gemma 3n and Gemma 4 on tiny generated files: the real llama.cpp runs them, the GGUF reader says
what they are, projectors pair with their own models only, and the fit estimate's weights and KV
cache match what llama.cpp allocates for them."""

from __future__ import annotations

import ctypes
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from gguf import GGUFWriter
from llama_cpp import mtmd_cpp

from desktop_app.errors import UserError
from desktop_app.models import fit
from desktop_app.models.gemma_files import (
    ModelFile,
    ProjectorFile,
    check_pair,
    inspect_gguf,
    inspect_model,
    inspect_projector,
    projector_beside,
)
from desktop_app.models.sizes import GIB, MIB
from tests.support.data import FamilyModels, Models

MARKER = "<__media__>"


# ----------------------------------------------------------------- llama.cpp runs them


@pytest.fixture(params=["gemma3n", "gemma4", "gemma4_moe"])
def text_model(request: pytest.FixtureRequest, family: FamilyModels) -> Path:
    path: Path = getattr(family, request.param)
    return path


@pytest.fixture()
def llm(text_model: Path) -> Iterator[llama_cpp.Llama]:
    model = llama_cpp.Llama(
        model_path=str(text_model), n_ctx=2048, n_batch=512, n_threads=2, flash_attn=True, verbose=False
    )
    yield model
    model.close()


def test_the_text_models_load_and_generate(llm: llama_cpp.Llama, text_model: Path) -> None:
    arch = inspect_model(text_model).architecture
    assert llm.metadata["general.architecture"] == arch
    tokens = llm.tokenize(b"hello the picture", add_bos=True)
    llm.eval(tokens)
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    assert np.isfinite(logits).all() and logits.std() > 0
    out = llm.create_completion("hello the", max_tokens=6, temperature=0.0)
    assert isinstance(out, dict)  # not streamed
    assert out["usage"]["completion_tokens"] >= 1


def test_gemma4_control_tokens_are_single_tokens(family: FamilyModels) -> None:
    llm = llama_cpp.Llama(model_path=str(family.gemma4), n_ctx=256, verbose=False)
    try:
        for text in ("<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<|image>", "<image|>"):
            assert len(llm.tokenize(text.encode(), add_bos=False, special=True)) == 1, text
        # The thought markers are rendered in the output (USER_DEFINED), so a reply can be split.
        channel = llm.tokenize(b"<|channel>", add_bos=False, special=True)[0]
        assert llm.detokenize([channel]) == b"<|channel>"
        # "<turn|>" ends a Gemma 4 turn: llama.cpp makes it an end-of-generation token.
        end = llm.tokenize(b"<turn|>", add_bos=False, special=True)[0]
        assert llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), end)
    finally:
        llm.close()


def _eval_image(model: Path, mmproj: Path, width: int, height: int) -> tuple[int, np.ndarray]:
    """Load model and projector in llama.cpp, evaluate text + one image; (image tokens, logits)."""
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=4096, n_batch=2048, n_ubatch=2048, verbose=False)
    params = mtmd_cpp.mtmd_context_params_default()
    params.use_gpu, params.n_threads, params.warmup, params.print_timings = False, 2, False, False
    params.media_marker = MARKER.encode()
    ctx = mtmd_cpp.mtmd_init_from_file(str(mmproj).encode(), llm.model, params)
    assert ctx, "llama.cpp refused a projector that should fit"
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes()
    bitmap = mtmd_cpp.mtmd_bitmap_init(width, height, (ctypes.c_uint8 * len(rgb)).from_buffer_copy(rgb))
    chunks = mtmd_cpp.mtmd_input_chunks_init()
    try:
        text = f"<bos>user {MARKER} what is this".encode()
        inp = mtmd_cpp.mtmd_input_text(text, len(text), False, True)
        bitmaps = (mtmd_cpp.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd_cpp.mtmd_tokenize(ctx, chunks, ctypes.byref(inp), bitmaps, 1) == 0
        kinds = [
            mtmd_cpp.mtmd_input_chunk_get_type(mtmd_cpp.mtmd_input_chunks_get(chunks, i))
            for i in range(mtmd_cpp.mtmd_input_chunks_size(chunks))
        ]
        assert kinds.count(mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_IMAGE) == 1
        image = mtmd_cpp.mtmd_input_chunks_get(chunks, kinds.index(mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_IMAGE))
        n_image = mtmd_cpp.mtmd_input_chunk_get_n_tokens(image)
        n_past = llama_cpp.llama_pos(0)
        assert mtmd_cpp.mtmd_helper_eval_chunks(ctx, llm.ctx, chunks, 0, 0, 2048, True, ctypes.byref(n_past)) == 0
        n_vocab = llm.n_vocab()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,)).copy()
        return n_image, logits
    finally:
        mtmd_cpp.mtmd_input_chunks_free(chunks)
        mtmd_cpp.mtmd_bitmap_free(bitmap)
        mtmd_cpp.mtmd_free(ctx)
        llm.close()


def test_gemma3n_projector_encodes_an_image(family: FamilyModels) -> None:
    n_image, logits = _eval_image(family.gemma3n, family.gemma3n_mmproj, 160, 120)
    assert n_image == inspect_projector(family.gemma3n_mmproj).image_tokens(160, 120) == 16
    assert np.isfinite(logits).all()


@pytest.mark.parametrize(("width", "height"), [(160, 120), (1000, 37), (40, 40), (900, 1400), (600, 150)])
def test_gemma4_projector_costs_what_llama_cpp_says(family: FamilyModels, width: int, height: int) -> None:
    """The token cost shown before sending follows llama.cpp's resize for every aspect ratio
    (600 x 150 has a side of 12.5 steps, which C rounds up and numpy would round down)."""
    n_image, logits = _eval_image(family.gemma4, family.gemma4_mmproj, width, height)
    assert n_image == inspect_projector(family.gemma4_mmproj).image_tokens(width, height)
    assert 70 <= n_image <= 1120
    assert np.isfinite(logits).all()


def test_gemma4_audio_runs_through_the_low_level_api(tmp_path: Path, family: FamilyModels) -> None:
    """The vendored mtmd's audio path can be driven as the image path is (a bitmap of 16 kHz
    float samples, tokenized, encoded and decoded): 25 tokens a second.  The app does not offer
    audio yet: its attachments are images end to end (store, composer, exports)."""
    from desktop_app.gguf_fixtures import write_tiny_gemma4_mmproj

    mmproj = write_tiny_gemma4_mmproj(tmp_path / "mmproj-av.gguf", audio=True)
    assert inspect_projector(mmproj).projector_type == "gemma4v"  # the vision side pairs as before
    llm = llama_cpp.Llama(model_path=str(family.gemma4), n_ctx=1024, n_batch=512, n_ubatch=512, verbose=False)
    params = mtmd_cpp.mtmd_context_params_default()
    params.use_gpu, params.n_threads, params.warmup, params.print_timings = False, 2, False, False
    params.media_marker = MARKER.encode()
    ctx = mtmd_cpp.mtmd_init_from_file(str(mmproj).encode(), llm.model, params)
    assert ctx and mtmd_cpp.mtmd_support_audio(ctx) and mtmd_cpp.mtmd_get_audio_sample_rate(ctx) == 16000
    pcm = (np.random.default_rng(0).standard_normal(32000) * 0.1).astype(np.float32)  # two seconds
    bitmap = mtmd_cpp.mtmd_bitmap_init_from_audio(len(pcm), pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    chunks = mtmd_cpp.mtmd_input_chunks_init()
    try:
        text = f"<bos>user {MARKER} what was said".encode()
        inp = mtmd_cpp.mtmd_input_text(text, len(text), False, True)
        bitmaps = (mtmd_cpp.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd_cpp.mtmd_tokenize(ctx, chunks, ctypes.byref(inp), bitmaps, 1) == 0
        audio = [
            mtmd_cpp.mtmd_input_chunks_get(chunks, i)
            for i in range(mtmd_cpp.mtmd_input_chunks_size(chunks))
            if mtmd_cpp.mtmd_input_chunk_get_type(mtmd_cpp.mtmd_input_chunks_get(chunks, i))
            == mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_AUDIO
        ]
        assert [mtmd_cpp.mtmd_input_chunk_get_n_tokens(c) for c in audio] == [50]
        n_past = llama_cpp.llama_pos(0)
        assert mtmd_cpp.mtmd_helper_eval_chunks(ctx, llm.ctx, chunks, 0, 0, 512, True, ctypes.byref(n_past)) == 0
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        assert np.isfinite(logits).all()
    finally:
        mtmd_cpp.mtmd_input_chunks_free(chunks)
        mtmd_cpp.mtmd_bitmap_free(bitmap)
        mtmd_cpp.mtmd_free(ctx)
        llm.close()


def test_gemma4_projector_serves_the_experts_model_too(family: FamilyModels) -> None:
    n_image, logits = _eval_image(family.gemma4_moe, family.gemma4_mmproj, 160, 120)
    assert n_image == 130 and np.isfinite(logits).all()


def test_gemma4_image_cost_by_size(family: FamilyModels) -> None:
    proj = replace(inspect_projector(family.gemma4_mmproj), patch_size=16)  # the real patch size
    assert proj.image_tokens(768, 768) == 256  # 768 / 48 = 16 a side
    assert proj.image_tokens(64, 64) == 81  # scaled up past the minimum of 70: 9 a side
    assert proj.image_tokens(4000, 3000) <= 1120  # scaled down to the maximum
    assert proj.image_tokens(4000, 3000) > 1000


# ----------------------------------------------------------------- inspection and pairing


def test_inspection_of_the_family(family: FamilyModels) -> None:
    g3n = inspect_model(family.gemma3n)
    assert g3n.family.label == "Gemma 3n" and not g3n.family.thinks and not g3n.family.pan_scan
    assert g3n.sliding_layers == (True, True, True, True, False, True)
    assert g3n.kv_layers == 6  # fewer than llama.cpp's 20, so all keep a cache
    assert g3n.vocab_size is not None
    assert g3n.per_layer_embedding_bytes == 256 * 6 * g3n.vocab_size * 2

    g4 = inspect_model(family.gemma4)
    assert g4.family.label == "Gemma 4" and g4.family.thinks and not g4.family.pan_scan
    assert g4.sliding_layers == (True, True, True, False) * 2
    assert g4.kv_layers == 4 and g4.head_count_kv_per_layer == (2, 2, 2, 1) * 2
    assert (g4.key_length, g4.key_length_swa) == (32, 16)
    assert g4.per_layer_embedding_bytes > 0 and g4.expert_count is None

    moe = inspect_model(family.gemma4_moe)
    assert (moe.expert_count, moe.expert_used_count, moe.kv_layers, moe.per_layer_embedding_bytes) == (4, 2, 8, 0)
    # A token reads the weights less the experts it does not use, and one row of the E models' table.
    assert moe.expert_bytes > 0 and moe.bytes_read_per_token == moe.file_size - moe.expert_bytes // 2
    assert g4.bytes_read_per_token == g4.file_size - g4.per_layer_embedding_bytes

    for path, kind, tokens in ((family.gemma3n_mmproj, "gemma3nv", 16), (family.gemma4_mmproj, "gemma4v", None)):
        proj = inspect_projector(path)
        assert (proj.projector_type, proj.embedding_length, proj.tokens_per_image) == (kind, 64, tokens)


def test_each_projector_pairs_with_its_own_family(models: Models, family: FamilyModels) -> None:
    g3, g3n, g4 = inspect_model(models.tiny), inspect_model(family.gemma3n), inspect_model(family.gemma4)
    p3, p3n, p4 = (inspect_projector(p) for p in (models.mmproj, family.gemma3n_mmproj, family.gemma4_mmproj))
    check_pair(g3, p3)
    check_pair(g3n, p3n)
    check_pair(g4, p4)
    check_pair(inspect_model(family.gemma4_moe), p4)
    # Every projector here produces 64-wide embeddings, so only the architecture tells them apart.
    for model, projector in ((g4, p3), (g4, p3n), (g3, p4), (g3n, p3), (g3, p3n)):
        with pytest.raises(UserError) as caught:
            check_pair(model, projector)
        message = str(caught.value)
        assert model.family.label in message and projector.display_name in message
        assert message.count(".") == message.count(".gguf") + 1  # one sentence


def test_a_gemma4_model_given_a_gemma3_projector_is_refused_in_one_sentence(
    models: Models, family: FamilyModels
) -> None:
    with pytest.raises(UserError) as caught:
        check_pair(inspect_model(family.gemma4), inspect_projector(models.mmproj))
    assert str(caught.value) == (
        "The projector mmproj-tiny.gguf is made for Gemma 3 models but tiny-gemma4.gguf is a Gemma 4 "
        "model; choose the projector made for this model."
    )


def test_the_projector_beside_a_model_is_its_familys(tmp_path: Path, models: Models, family: FamilyModels) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in (models.mmproj, family.gemma3n_mmproj, family.gemma4_mmproj, family.gemma4, family.gemma3n):
        (folder / path.name).write_bytes(path.read_bytes())
    found = projector_beside(inspect_model(folder / family.gemma4.name))
    assert found is not None and found.path.name == family.gemma4_mmproj.name
    found = projector_beside(inspect_model(folder / family.gemma3n.name))
    assert found is not None and found.path.name == family.gemma3n_mmproj.name


def test_a_gemma4_assistant_is_refused(tmp_path: Path) -> None:
    """A drafter for speculative decoding is a Gemma 4 file that cannot chat."""
    path = tmp_path / "gemma-4-E2B-it-assistant.gguf"
    writer = GGUFWriter(str(path), "gemma4-assistant")
    writer.add_embedding_length(64)
    writer.add_tensor("token_embd.weight", np.zeros((4, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(UserError, match="Gemma 4 assistant"):
        inspect_gguf(path)


# ----------------------------------------------------------------- the fit estimate


_ALLOCATE = r"""
import sys, llama_cpp
llama_cpp.Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), n_batch=512, n_ubatch=512,
                n_threads=2, flash_attn=True, swa_full=sys.argv[3] == "1", verbose=True)
"""


def _allocated(model: Path, n_ctx: int, swa_full: bool) -> dict[str, float]:
    """What llama.cpp says it allocated (MiB), from its own load log."""
    log = subprocess.run(
        [sys.executable, "-c", _ALLOCATE, str(model), str(n_ctx), "1" if swa_full else "0"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stderr

    def total(pattern: str) -> float:
        return sum(float(v) for v in re.findall(pattern + r" buffer size =\s+([\d.]+) MiB", log))

    return {"weights": total("model"), "kv_cache": total("KV"), "compute": total(r"sched_reserve:\s+\S+ compute")}


@pytest.mark.parametrize("arch", ["gemma3n", "gemma4", "gemma4_moe"])
@pytest.mark.parametrize(("n_ctx", "swa_full"), [(4096, False), (4096, True), (16384, False)])
def test_estimate_matches_what_llama_cpp_allocates(family: FamilyModels, arch: str, n_ctx: int, swa_full: bool) -> None:
    """Weights and KV cache within 10% of llama.cpp's buffers (measured: within 2%, the log's
    two decimals).  The working-memory part is calibrated on resident memory of the real 270M and
    carries the fixed cost of Gemma's 262,144-token vocabulary, which the tiny files lack."""
    path: Path = getattr(family, arch)
    info = inspect_model(path)
    estimate = fit.estimate_memory(
        info.file_size, fit.ModelShape.from_gguf(info), n_ctx, swa_full=swa_full,
        per_layer_embedding_bytes=info.per_layer_embedding_bytes,
    )
    allocated = _allocated(path, n_ctx, swa_full)
    assert estimate.weights / MIB == pytest.approx(allocated["weights"], rel=0.10)
    assert estimate.kv_cache / MIB == pytest.approx(allocated["kv_cache"], rel=0.10)


def test_kv_layout_of_the_family(family: FamilyModels) -> None:
    # gemma4 tiny: KV layers 0-3 only; sliding 0-2 (2 heads x 16), global 3 (1 head x 32).
    shape = fit.ModelShape.from_gguf(inspect_model(family.gemma4))
    assert shape.kv_layers == 4 and shape.head_count_kv_swa == 2 and shape.head_count_kv == 1
    per_swa, per_global = 2 * 2 * (16 + 16), 2 * 1 * (32 + 32)
    assert fit.kv_cache_bytes(shape, 4096, swa_full=True) == 4096 * (3 * per_swa + per_global)
    assert fit.kv_cache_bytes(shape, 4096, swa_full=False) == 1024 * 3 * per_swa + 4096 * per_global
    # The experts model shares nothing: all 8 layers keep a cache.
    moe = fit.ModelShape.from_gguf(inspect_model(family.gemma4_moe))
    assert fit.kv_cache_bytes(moe, 4096, swa_full=True) == 4096 * 2 * (3 * per_swa + per_global)
    assert moe.expert_used_count == 2 and fit.compute_bytes(moe, 4096) > fit.compute_bytes(
        replace(moe, expert_used_count=0), 4096
    )


def test_per_layer_embeddings_stay_off_the_gpu(family: FamilyModels) -> None:
    info = inspect_model(family.gemma4)
    shape = fit.ModelShape.from_gguf(info)
    ple = info.per_layer_embedding_bytes
    estimate = fit.estimate_memory(info.file_size, shape, 4096, per_layer_embedding_bytes=ple)
    assert estimate.gpu_total == estimate.total - ple
    # A GPU with room for everything but the per-layer table still runs it all there.
    gpu = fit.MachineMemory(
        total_ram=8 * GIB, available_ram=6 * GIB, gpu_total=GIB, gpu_free=estimate.gpu_total + fit.GPU_HEADROOM
    )
    assert fit.check_fit(info.file_size, shape, 4096, gpu, per_layer_embedding_bytes=ple).on_gpu
    assert not fit.check_fit(info.file_size, shape, 4096, gpu).on_gpu


def test_files_fit_for_every_family(family: FamilyModels) -> None:
    machine = fit.MachineMemory(8 * GIB, 6 * GIB)
    for model, proj in ((family.gemma3n, family.gemma3n_mmproj), (family.gemma4, family.gemma4_mmproj)):
        info: ModelFile = inspect_model(model)
        projector: ProjectorFile = inspect_projector(proj)
        verdict = fit.check_files_fit(info, projector, 4096, machine)
        assert verdict.level == "fits" and verdict.estimate.per_layer_embeddings == info.per_layer_embedding_bytes
