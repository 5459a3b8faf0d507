"""Generate tiny random-weight GGUF files that the real llama.cpp loads and runs.

The test-suite needs a Gemma 3 text model and Gemma 3 vision projectors (mmproj) without
shipping or downloading hundreds of megabytes; the installed app's ``selftest`` command writes
the same files to prove that a frozen build loads a model and projector in its engine process
(a frozen app cannot import ``tests/``, so the generator lives in the package).

These writers produce structurally faithful files (the same architecture, metadata keys,
tensor names and shapes llama.cpp's `gemma3` text loader and its `clip`/mtmd `gemma3`
projector loader require) with seeded random weights, so tests exercise the real engine code
paths in milliseconds. The output text is nonsense.

Facts baked in (checked against the llama.cpp vendored in llama-cpp-python 0.3.36):

* `gemma3` turns on sliding-window attention when `gemma3.attention.sliding_window` > 0 and
  then uses Gemma's 5-local-to-1-global layer pattern, so the default model has 6 blocks
  (five sliding-window layers and one global one), like the real models.
* llama.cpp finds `<end_of_turn>` by its text and makes it an end-of-generation token.
* The projector's output width is the column count of `mm.input_projection.weight`;
  `mtmd_init_from_file` refuses (returns NULL) a projector whose width differs from the text
  model's `n_embd`.
* clip swaps `ffn_up`/`ffn_down` of a `gemma3` projector when `ffn_down`'s input width equals
  the hidden size (old converters named them backwards), so the projector's feed-forward width
  is kept different from its hidden size to keep the names unambiguous.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

__all__ = [
    "BOS_ID",
    "CONTROL_TOKENS",
    "EOS_ID",
    "GEMMA3_TEMPLATE",
    "PAD_ID",
    "UNK_ID",
    "add_gemma3_tokenizer",
    "image_tokens_for",
    "write_not_a_gguf",
    "write_tiny_gemma3_mmproj",
    "write_tiny_gemma3_model",
    "write_truncated_copy",
]

# Gemma 3's chat template exactly as in google/gemma-3-*-it tokenizer_config.json.
GEMMA3_TEMPLATE: str = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

# Control tokens and their ids in the tiny vocabulary. pad/eos/bos/unk keep Gemma's real ids;
# the others are packed right after them (the real model has them at 105/106/255999/256000).
CONTROL_TOKENS: dict[str, int] = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<mask>": 4,
    "<start_of_turn>": 5,
    "<end_of_turn>": 6,
    "<start_of_image>": 7,
    "<end_of_image>": 8,
    "<image_soft_token>": 9,
}
PAD_ID, EOS_ID, BOS_ID, UNK_ID = 0, 1, 2, 3
_FIRST_BYTE_ID = len(CONTROL_TOKENS)  # <0x00> .. <0xFF> follow the control tokens

# Whole words get every prefix as a piece too: llama.cpp's SentencePiece tokenizer builds a
# word by merging adjacent pieces whose concatenation is in the vocabulary.
_WORDS = [
    "▁the", "▁a", "▁an", "▁is", "▁of", "▁and", "▁to", "▁in", "▁it", "▁that", "▁this",
    "▁you", "▁I", "▁hi", "▁hello", "▁Hello", "▁what", "▁image", "▁picture", "▁describe",
    "▁yes", "▁no", "▁how", "▁are", "▁be", "▁can", "▁for", "▁with", "▁on", "▁not",
    "user", "model", "hi", "Hi", "Hello", "What", "The", "This",
]


def _vocabulary() -> tuple[list[str], list[float], list[int]]:
    """SentencePiece-style vocabulary: Gemma control tokens, 256 byte tokens, small pieces."""
    tokens: list[str] = list(CONTROL_TOKENS)
    scores: list[float] = [0.0] * len(tokens)
    types: list[int] = [int(TokenType.CONTROL)] * len(tokens)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(int(TokenType.BYTE))
    pieces: list[str] = ["▁", "\n", "\n\n", "▁▁"]
    pieces += [chr(c) for c in range(0x21, 0x7F)]  # printable ASCII (space is "▁")
    for word in _WORDS:
        pieces += [word[:n] for n in range(2, len(word) + 1)]
    seen: set[str] = set(tokens)
    for piece in pieces:
        if piece in seen:
            continue
        seen.add(piece)
        tokens.append(piece)
        # Longer pieces score higher so merges prefer whole words, as in a trained model.
        scores.append(-10.0 + len(piece) - len(tokens) * 1e-4)
        types.append(int(TokenType.NORMAL))
    return tokens, scores, types


def add_gemma3_tokenizer(writer: GGUFWriter, chat_template: str | None, n_vocab: int | None = None) -> int:
    """Write the Gemma-like tokenizer into ``writer``; return its vocabulary size.

    ``n_vocab`` pads the vocabulary with unused tokens to that size (Gemma 3's real 262,144 makes
    the embedding table, and so the speed, of a real model; ``bench/speed_estimate.py``).
    """
    tokens, scores, types = _vocabulary()
    if n_vocab is not None:
        filler = n_vocab - len(tokens)
        tokens += [f"<unused{i}>" for i in range(filler)]
        scores += [-1000.0] * filler
        types += [int(TokenType.UNUSED)] * filler
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(UNK_ID)
    writer.add_pad_token_id(PAD_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    return len(tokens)


def image_tokens_for(image_size: int, patch_size: int, scale_factor: int = 4) -> int:
    """Image tokens a gemma3 projector emits per image: ((image_size/patch_size)/scale_factor)^2."""
    side = image_size // patch_size
    if side * patch_size != image_size or side % scale_factor:
        raise ValueError("image_size/patch_size must be a whole multiple of scale_factor")
    return (side // scale_factor) ** 2


def _finish(writer: GGUFWriter) -> None:
    """Write header, metadata and tensors, then close (GGUFWriter's three-step protocol)."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_tiny_gemma3_model(
    path: Path,
    *,
    n_embd: int = 64,
    chat_template: str | None = GEMMA3_TEMPLATE,
    context_length: int = 8192,
    seed: int = 0,
    block_count: int = 6,
) -> Path:
    """Write a tiny random-weight `gemma3` text model with a Gemma-like tokenizer; return path.

    6 blocks by default so the sliding-window pattern (5 local, 1 global) has both kinds.
    Matrices are F16 and norms F32, which keeps the file well under 2 MB.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    n_head, n_head_kv = 4, 1  # like the real 270M: grouped-query attention with one KV head
    head_dim = max(8, n_embd // n_head)
    n_ff = 2 * n_embd
    w = GGUFWriter(str(path), "gemma3")
    w.add_name("Tiny Gemma 3 (random test weights)")
    w.add_context_length(context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(block_count)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(512)
    w.add_rope_freq_base(1_000_000.0)
    w.add_float32("gemma3.rope.freq_base_swa", 10_000.0)
    w.add_file_type(1)  # mostly F16
    n_vocab = add_gemma3_tokenizer(w, chat_template)

    def mat(rows: int, cols: int) -> np.ndarray:
        """Random matrix in numpy (out, in) order, i.e. ggml ne = [in, out]."""
        matrix: np.ndarray = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float16)
        return matrix

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    w.add_tensor("token_embd.weight", (rng.standard_normal((n_vocab, n_embd)) * 0.05).astype(np.float16))
    w.add_tensor("output_norm.weight", ones(n_embd))
    for i in range(block_count):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(n_embd))
        w.add_tensor(p + "attn_q.weight", mat(n_head * head_dim, n_embd))
        w.add_tensor(p + "attn_k.weight", mat(n_head_kv * head_dim, n_embd))
        w.add_tensor(p + "attn_v.weight", mat(n_head_kv * head_dim, n_embd))
        w.add_tensor(p + "attn_output.weight", mat(n_embd, n_head * head_dim))
        w.add_tensor(p + "attn_q_norm.weight", ones(head_dim))
        w.add_tensor(p + "attn_k_norm.weight", ones(head_dim))
        w.add_tensor(p + "post_attention_norm.weight", ones(n_embd))
        w.add_tensor(p + "ffn_norm.weight", ones(n_embd))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_down.weight", mat(n_embd, n_ff))
        w.add_tensor(p + "post_ffw_norm.weight", ones(n_embd))
    _finish(w)
    return path


def write_tiny_gemma3_mmproj(
    path: Path,
    *,
    text_embd: int = 64,
    image_size: int = 64,
    patch_size: int = 4,
    hidden: int = 64,
    blocks: int = 2,
    seed: int = 0,
    ffn: int | None = None,
    heads: int | None = None,
    f16: bool = False,
) -> Path:
    """Write a tiny random-weight Gemma 3 vision projector (clip, projector type gemma3).

    Its output width is `text_embd`; it fits a text model only when that equals the model's
    n_embd. Emits image_tokens_for(image_size, patch_size) tokens per image.

    `ffn` (feed-forward width, default 2 * hidden), `heads` (default 4, or 1 when hidden is not
    a multiple of 4) and `f16` (weight matrices and the patch kernel stored as F16, like a
    converted ``mmproj-*-f16.gguf``; default all F32) let the benchmark write a real-shaped
    SigLIP-So400m tower; the defaults give exactly the file this function always wrote.
    """
    path = Path(path)
    image_tokens_for(image_size, patch_size)  # validates the geometry
    rng = np.random.default_rng(seed)
    n_head = heads if heads is not None else (4 if hidden % 4 == 0 else 1)
    n_ff = ffn if ffn is not None else 2 * hidden  # must differ from hidden, see the docstring
    if n_ff == hidden:
        raise ValueError("ffn must differ from hidden (see the module docstring)")
    n_patches = (image_size // patch_size) ** 2
    matrix_type = np.float16 if f16 else np.float32

    w = GGUFWriter(str(path), "clip")
    w.add_name("Tiny Gemma 3 projector (random test weights)")
    w.add_file_type(1 if f16 else 0)  # MOSTLY_F16 (vectors stay F32) or all F32
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    w.add_string("clip.projector_type", "gemma3")
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.embedding_length", hidden)
    w.add_uint32("clip.vision.feed_forward_length", n_ff)
    w.add_uint32("clip.vision.block_count", blocks)
    w.add_uint32("clip.vision.attention.head_count", n_head)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    w.add_uint32("clip.vision.projection_dim", text_embd)
    w.add_uint32("clip.vision.image_size", image_size)
    w.add_uint32("clip.vision.patch_size", patch_size)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    w.add_uint32("clip.vision.projector.scale_factor", 4)

    def mat(rows: int, cols: int) -> np.ndarray:
        """Random matrix in numpy (out, in) order, i.e. ggml ne = [in, out]."""
        matrix: np.ndarray = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(matrix_type)
        return matrix

    def vec(n: int, value: float | None = None) -> np.ndarray:
        if value is not None:
            return np.full(n, value, dtype=np.float32)
        return (rng.standard_normal(n) * 0.02).astype(np.float32)

    # Conv kernel: ggml ne [patch, patch, 3, hidden].
    patch_w = rng.standard_normal((hidden, 3, patch_size, patch_size)) / np.sqrt(3 * patch_size**2)
    w.add_tensor("v.patch_embd.weight", patch_w.astype(matrix_type))
    w.add_tensor("v.patch_embd.bias", vec(hidden))
    # F32 even with f16: clip adds it to F32 activations and ggml's CPU add has no F32 + F16.
    w.add_tensor("v.position_embd.weight", (rng.standard_normal((n_patches, hidden)) * 0.02).astype(np.float32))
    for i in range(blocks):
        p = f"v.blk.{i}."
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(p + name + ".weight", mat(hidden, hidden))
            w.add_tensor(p + name + ".bias", vec(hidden))
        w.add_tensor(p + "ln1.weight", vec(hidden, 1.0))
        w.add_tensor(p + "ln1.bias", vec(hidden, 0.0))
        w.add_tensor(p + "ln2.weight", vec(hidden, 1.0))
        w.add_tensor(p + "ln2.bias", vec(hidden, 0.0))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, hidden))
        w.add_tensor(p + "ffn_up.bias", vec(n_ff))
        w.add_tensor(p + "ffn_down.weight", mat(hidden, n_ff))
        w.add_tensor(p + "ffn_down.bias", vec(hidden))
    w.add_tensor("v.post_ln.weight", vec(hidden, 1.0))
    w.add_tensor("v.post_ln.bias", vec(hidden, 0.0))
    w.add_tensor("mm.soft_emb_norm.weight", vec(hidden, 1.0))
    # ggml ne [text_embd, hidden]: clip transposes it, so the projection maps hidden -> text_embd.
    w.add_tensor("mm.input_projection.weight", mat(hidden, text_embd))
    _finish(w)
    return path


def write_not_a_gguf(path: Path, *, size: int = 4096, seed: int = 0) -> Path:
    """Write random bytes (no GGUF magic) for bad-input tests; return path."""
    path = Path(path)
    data = bytearray(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    if data[:4] == b"GGUF":  # astronomically unlikely, but keep the promise
        data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def write_truncated_copy(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    """Copy the first `fraction` of `src` to `dst`: a GGUF whose tensor data is cut off."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("fraction must be in [0, 1)")
    src, dst = Path(src), Path(dst)
    keep = int(os.path.getsize(src) * fraction)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.write(fin.read(keep))
    return dst
