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

    w.add_tensor("token_embd.weight", _noise(rng, n_vocab, n_embd, scale=0.05))
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


# ------------------------------------------------------------------------------------------
# The rest of the family: Gemma 3n and Gemma 4 text models and their projectors.
#
# Checked against the llama.cpp vendored in llama-cpp-python 0.3.36 (src/models/gemma3n.cpp,
# src/models/gemma4.cpp, tools/mtmd/clip.cpp, models/mobilenetv5.cpp, models/gemma4v.cpp):
#
# * gemma3n hard-codes 4 AltUp streams, a LAuReL rank of 64 and 256-wide per-layer embeddings
#   (llama-hparams.h), whatever the file says, and gives only the first 20 layers a KV cache;
#   the tiny model keeps fewer layers than that, so every layer has its own cache.
# * gemma4 reads all of that from the file: a per-layer sliding-window pattern (required), the
#   head size of full and sliding layers apart, the per-layer embedding width, and how many of
#   the last layers reuse an earlier layer's cache (a full layer reuses the last full KV layer,
#   a sliding one the last sliding KV layer, so the layer before the first shared one must be
#   full and the one before that sliding).  Full layers rotate only part of each head through a
#   ``rope_freqs`` tensor; experts (26B-A4B) come as a fused gate+up tensor, a down tensor and a
#   per-expert scale beside the ordinary feed-forward, which acts as a shared expert.
# * gemma4's tokenizer is SentencePiece-style BPE ("gemma4": merges over "▁"-escaped text, byte
#   tokens <0xNN> as fallback); <|channel> and <channel|> are USER_DEFINED so they are rendered
#   in the output, which is how a reply's thinking can be told from its answer.
# * A gemma3nv projector is a MobileNetV5: the stem, four stages of blocks found by name, a
#   multi-scale fusion of the last two stages, then the soft-embedding norm and a projection
#   whose ne[0] llama.cpp takes as the output width but whose ne[1] the graph produces, so the
#   encoder width, the projection's two sides and the text width must all be equal.  Tokens per
#   image are image_size / patch_size (the converter sets patch_size = image_size / 256).
# * A gemma4v projector is a ViT with RMS norms, 2D rotary positions and a learned x/y position
#   table, average-pooled 3x3; an image costs 70 to 1120 tokens by its size.  Its projection is
#   [vision width, text width] in ggml order.
# ------------------------------------------------------------------------------------------

GEMMA3N_TEMPLATE: str = GEMMA3_TEMPLATE.replace(
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n",
    "            {%- if item['type'] == 'audio' -%}\n"
    "                {{ '<audio_soft_token>' }}\n"
    "            {%- elif item['type'] == 'image' -%}\n"
    "                {{ '<image_soft_token>' }}\n",
)
"""Gemma 3n's chat template (google/gemma-3n-*-it): Gemma 3's, with soft tokens for media."""

# The parts of Gemma 4's official template this app renders (google/gemma-4-*-it; llama.cpp
# ships it as models/templates/google-gemma-4-31B-it.jinja): a native system turn, the
# <|think|> switch, thoughts stripped from earlier model turns, media placeholders, and the empty
# thought channel that opens the answer when thinking is off.  Tool declarations are left out.
GEMMA4_TEMPLATE: str = (
    "{%- macro strip_thinking(text) -%}\n"
    "    {%- set ns = namespace(result='') -%}\n"
    "    {%- for part in text.split('<channel|>') -%}\n"
    "        {%- if '<|channel>' in part -%}\n"
    "            {%- set ns.result = ns.result + part.split('<|channel>')[0] -%}\n"
    "        {%- else -%}\n"
    "            {%- set ns.result = ns.result + part -%}\n"
    "        {%- endif -%}\n"
    "    {%- endfor -%}\n"
    "    {{- ns.result | trim -}}\n"
    "{%- endmacro -%}\n"
    "{%- set loop_messages = messages -%}\n"
    "{{- bos_token -}}\n"
    "{%- if (enable_thinking is defined and enable_thinking) or messages[0]['role'] in ['system', 'developer'] -%}\n"
    "    {{- '<|turn>system\\n' -}}\n"
    "    {%- if enable_thinking is defined and enable_thinking -%}\n"
    "        {{- '<|think|>\\n' -}}\n"
    "    {%- endif -%}\n"
    "    {%- if messages[0]['role'] in ['system', 'developer'] -%}\n"
    "        {{- messages[0]['content'] | trim -}}\n"
    "        {%- set loop_messages = messages[1:] -%}\n"
    "    {%- endif -%}\n"
    "    {{- '<turn|>\\n' -}}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}\n"
    "    {{- '<|turn>' + role + '\\n' -}}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {%- if role == 'model' -%}\n"
    "            {{- strip_thinking(message['content']) -}}\n"
    "        {%- else -%}\n"
    "            {{- message['content'] | trim -}}\n"
    "        {%- endif -%}\n"
    "    {%- else -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'text' -%}\n"
    "                {%- if role == 'model' -%}\n"
    "                    {{- strip_thinking(item['text']) -}}\n"
    "                {%- else -%}\n"
    "                    {{- item['text'] | trim -}}\n"
    "                {%- endif -%}\n"
    "            {%- elif item['type'] == 'image' -%}\n"
    "                {{- '<|image|>' -}}\n"
    "            {%- elif item['type'] == 'audio' -%}\n"
    "                {{- '<|audio|>' -}}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- endif -%}\n"
    "    {{- '<turn|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{- '<|turn>model\\n' -}}\n"
    "    {%- if not enable_thinking | default(false) -%}\n"
    "        {{- '<|channel>thought\\n<channel|>' -}}\n"
    "    {%- endif -%}\n"
    "{%- endif -%}\n"
)

GEMMA4_CONTROL_TOKENS: dict[str, int] = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<mask>": 4,
    "<|turn>": 5,
    "<turn|>": 6,
    "<|channel>": 7,
    "<channel|>": 8,
    "<|think|>": 9,
    "<|image>": 10,
    "<image|>": 11,
    "<|image|>": 12,
    "<|audio>": 13,
    "<audio|>": 14,
    "<|audio|>": 15,
}
"""Gemma 4's control tokens in the tiny vocabulary (pad/eos/bos/unk at Gemma's ids)."""
_GEMMA4_USER_DEFINED = ("<|channel>", "<channel|>")  # rendered in the output, as converted

GEMMA3N_BLOCK_COUNT = 6
GEMMA4_BLOCK_COUNT = 8
GEMMA4_SWA_PATTERN: tuple[bool, ...] = (True, True, True, False) * 2
"""Three sliding-window layers per full one; layers 3 and 7 are full."""
GEMMA4_SHARED_KV_LAYERS = 4
"""Layers 4-7 reuse the caches of layers 2 (sliding) and 3 (full), like the E models."""
GEMMA4_PER_LAYER_EMBD = 16
GEMMA3N_PER_LAYER_EMBD = 256  # llama.cpp's fixed value for gemma3n


def _gemma4_vocabulary() -> tuple[list[str], list[float], list[int], list[str]]:
    """The tiny vocabulary re-keyed for Gemma 4, with BPE merges that build every piece."""
    base_tokens, base_scores, base_types = _vocabulary()
    skip = len(CONTROL_TOKENS)
    tokens = list(GEMMA4_CONTROL_TOKENS)
    types = [
        int(TokenType.USER_DEFINED if t in _GEMMA4_USER_DEFINED else TokenType.CONTROL) for t in tokens
    ]
    tokens += base_tokens[skip:]
    scores = [0.0] * len(GEMMA4_CONTROL_TOKENS) + base_scores[skip:]
    types += base_types[skip:]
    known = set(tokens)
    merges: list[str] = []
    seen: set[str] = set()
    for token, kind in zip(tokens, types, strict=True):
        if kind != int(TokenType.NORMAL) or len(token) < 2:
            continue
        # Merges grow a piece one character at a time, in the order the pieces were added.
        for end in range(2, len(token) + 1):
            left, right = token[: end - 1], token[end - 1 : end]
            merge = f"{left} {right}"
            if left in known and right in known and token[:end] in known and merge not in seen:
                seen.add(merge)
                merges.append(merge)
    return tokens, scores, types, merges


def _random_matrix(rng: np.random.Generator, rows: int, cols: int, dtype: type = np.float16) -> np.ndarray:
    """A random matrix scaled by 1/sqrt(cols), in numpy (out, in) order, i.e. ggml ne = [in, out]."""
    matrix: np.ndarray = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(dtype)
    return matrix


def _noise(rng: np.random.Generator, *shape: int, scale: float, dtype: type = np.float16) -> np.ndarray:
    """Normal noise of this numpy shape times ``scale``."""
    noise: np.ndarray = (rng.standard_normal(shape) * scale).astype(dtype)
    return noise


def _ones(*shape: int) -> np.ndarray:
    return np.ones(shape, dtype=np.float32)


def _write_tokenizer_and_common(
    w: GGUFWriter,
    *,
    name: str,
    n_embd: int,
    block_count: int,
    context_length: int,
    chat_template: str | None,
    gemma4_tokenizer: bool,
) -> int:
    """Metadata every tiny text model shares; returns the vocabulary size."""
    w.add_name(name)
    w.add_context_length(context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(block_count)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1_000_000.0)
    w.add_rope_freq_base_swa(10_000.0)
    w.add_final_logit_softcapping(30.0)
    w.add_file_type(1)  # mostly F16
    if gemma4_tokenizer:
        tokens, scores, types, merges = _gemma4_vocabulary()
        w.add_tokenizer_model("gemma4")
        w.add_tokenizer_pre("gemma4")
        w.add_token_merges(merges)
    else:
        tokens, scores, types = _vocabulary()
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(BOS_ID)
    w.add_eos_token_id(EOS_ID)
    w.add_unk_token_id(UNK_ID)
    w.add_pad_token_id(PAD_ID)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    return len(tokens)


def write_tiny_gemma3n_model(
    path: Path,
    *,
    n_embd: int = 64,
    chat_template: str | None = GEMMA3N_TEMPLATE,
    context_length: int = 8192,
    seed: int = 0,
    block_count: int = GEMMA3N_BLOCK_COUNT,
) -> Path:
    """Write a tiny random-weight `gemma3n` text model (AltUp, LAuReL, per-layer embeddings).

    Four sliding-window layers per global one, as in E2B/E4B (layer 4 is global).  The per-layer
    embedding table is the bulk of the file (256 x layers x vocabulary, F16), as in the real E
    models, where it is most of the "total" parameters.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    n_head, n_head_kv, head_dim = 4, 2, 16
    n_ff = 2 * n_embd
    n_altup, laurel_rank, n_pl = 4, 64, GEMMA3N_PER_LAYER_EMBD  # fixed in llama.cpp

    w = GGUFWriter(str(path), "gemma3n")
    n_vocab = _write_tokenizer_and_common(
        w,
        name="Tiny Gemma 3n (random test weights)",
        n_embd=n_embd,
        block_count=block_count,
        context_length=context_length,
        chat_template=chat_template,
        gemma4_tokenizer=False,
    )
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_sliding_window(512)
    w.add_sliding_window_pattern([(i + 1) % 5 != 0 for i in range(block_count)])
    w.add_altup_active_idx(0)
    w.add_altup_num_inputs(n_altup)
    w.add_embedding_length_per_layer_input(n_pl)
    w.add_shared_kv_layers(0)
    w.add_activation_sparsity_scale([1.6448533535003662] * min(block_count, 10) + [0.0] * max(block_count - 10, 0))

    def mat(rows: int, cols: int) -> np.ndarray:
        return _random_matrix(rng, rows, cols)

    w.add_tensor("token_embd.weight", _noise(rng, n_vocab, n_embd, scale=0.05))
    w.add_tensor("per_layer_token_embd.weight", _noise(rng, n_vocab, n_pl * block_count, scale=0.05))
    w.add_tensor("per_layer_model_proj.weight", mat(n_pl * block_count, n_embd))
    w.add_tensor("per_layer_proj_norm.weight", _ones(n_pl))
    # ggml ne [n_embd, n_embd, n_altup - 1]: numpy (n_altup - 1, n_embd, n_embd).
    w.add_tensor("altup_proj.weight", _noise(rng, n_altup - 1, n_embd, n_embd, scale=n_embd**-0.5))
    w.add_tensor("altup_unembd_proj.weight", _noise(rng, n_altup - 1, n_embd, n_embd, scale=n_embd**-0.5))
    w.add_tensor("output_norm.weight", _ones(n_embd))
    for i in range(block_count):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", _ones(n_embd))
        w.add_tensor(p + "attn_q.weight", mat(n_head * head_dim, n_embd))
        w.add_tensor(p + "attn_k.weight", mat(n_head_kv * head_dim, n_embd))
        w.add_tensor(p + "attn_v.weight", mat(n_head_kv * head_dim, n_embd))
        w.add_tensor(p + "attn_output.weight", mat(n_embd, n_head * head_dim))
        w.add_tensor(p + "attn_q_norm.weight", _ones(head_dim))
        w.add_tensor(p + "attn_k_norm.weight", _ones(head_dim))
        w.add_tensor(p + "post_attention_norm.weight", _ones(n_embd))
        w.add_tensor(p + "ffn_norm.weight", _ones(n_embd))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_down.weight", mat(n_embd, n_ff))
        w.add_tensor(p + "post_ffw_norm.weight", _ones(n_embd))
        w.add_tensor(p + "inp_gate.weight", mat(n_pl, n_embd))
        w.add_tensor(p + "proj.weight", mat(n_embd, n_pl))
        w.add_tensor(p + "post_norm.weight", _ones(n_embd))
        w.add_tensor(p + "altup_correct_coef.weight", _noise(rng, n_altup, n_altup, scale=0.1, dtype=np.float32))
        w.add_tensor(p + "altup_correct_scale.weight", _ones(n_embd))
        predict = _noise(rng, n_altup * n_altup, n_altup, scale=0.1, dtype=np.float32)
        w.add_tensor(p + "altup_predict_coef.weight", predict)
        w.add_tensor(p + "altup_router.weight", mat(n_altup, n_embd))
        w.add_tensor(p + "altup_router_norm.weight", _ones(n_embd))
        w.add_tensor(p + "laurel_l.weight", mat(laurel_rank, n_embd))
        w.add_tensor(p + "laurel_r.weight", mat(n_embd, laurel_rank))
        w.add_tensor(p + "laurel_post_norm.weight", _ones(n_embd))
    _finish(w)
    return path


def write_tiny_gemma4_model(
    path: Path,
    *,
    n_embd: int = 64,
    chat_template: str | None = GEMMA4_TEMPLATE,
    context_length: int = 8192,
    seed: int = 0,
    experts: int = 0,
    reply_chain: tuple[str, ...] | None = None,
) -> Path:
    """Write a tiny random-weight `gemma4` text model; return path.

    By default an E-model layout: per-layer embeddings, the last four layers sharing the KV
    caches of layers 2 and 3, and double-width feed-forward on the shared layers.  With
    ``experts`` > 0, a 26B-A4B layout instead: no per-layer embeddings, no shared caches, and in
    every layer that many experts (two used per token) beside the shared feed-forward.

    ``reply_chain`` makes a model whose reply is known: the layers' output projections are zero
    (every layer passes the token's embedding through unchanged), the pieces of the chain get
    one-hot embeddings and a separate output head maps each to the next, so whatever the prompt,
    a reply that starts after the chain's first piece walks the rest of it.  The tensor layout is
    the same; this is how the tests see a thought end and an answer begin without a trained model.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    block_count = GEMMA4_BLOCK_COUNT
    pattern = GEMMA4_SWA_PATTERN
    n_head = 4
    head_full, head_swa = 32, 16  # full layers have wider heads, as in every Gemma 4
    kv_full, kv_swa = 1, 2
    moe = experts > 0
    shared = 0 if moe else GEMMA4_SHARED_KV_LAYERS
    n_pl = 0 if moe else GEMMA4_PER_LAYER_EMBD
    n_ff = [2 * n_embd if i < block_count - shared else 4 * n_embd for i in range(block_count)]
    n_ff_exp = n_embd // 2
    partial_rotary = 0.25  # full layers rotate a quarter of each head ("proportional" RoPE)

    w = GGUFWriter(str(path), "gemma4")
    n_vocab = _write_tokenizer_and_common(
        w,
        name=f"Tiny Gemma 4{' MoE' if moe else ''} (random test weights)",
        n_embd=n_embd,
        block_count=block_count,
        context_length=context_length,
        chat_template=chat_template,
        gemma4_tokenizer=True,
    )
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv([kv_swa if swa else kv_full for swa in pattern])
    w.add_key_length(head_full)
    w.add_value_length(head_full)
    w.add_key_length_swa(head_swa)
    w.add_value_length_swa(head_swa)
    w.add_rope_dimension_count(head_full)
    w.add_rope_dimension_count_swa(head_swa)
    w.add_sliding_window(512)
    w.add_sliding_window_pattern(list(pattern))
    w.add_shared_kv_layers(shared)
    w.add_embedding_length_per_layer_input(n_pl)
    if moe:
        w.add_expert_count(experts)
        w.add_expert_used_count(2)
        w.add_expert_feed_forward_length(n_ff_exp)

    def mat(rows: int, cols: int) -> np.ndarray:
        return _random_matrix(rng, rows, cols)

    def out(rows: int, cols: int) -> np.ndarray:
        """A layer's output projection: zero when the reply is steered."""
        return np.zeros((rows, cols), np.float16) if reply_chain else mat(rows, cols)

    token_embd = _noise(rng, n_vocab, n_embd, scale=0.05)
    if reply_chain:
        tokens = _gemma4_vocabulary()[0]
        ids = [tokens.index(piece) for piece in reply_chain]
        if len(set(ids)) != len(ids) or len(ids) > n_embd:
            raise ValueError("reply_chain must hold distinct pieces, at most n_embd of them")
        lm_head = _noise(rng, n_vocab, n_embd, scale=0.01)
        for slot, (current, following) in enumerate(zip(ids, [*ids[1:], -1], strict=True)):
            token_embd[current] = 0.0
            token_embd[current, slot] = 1.0
            if following >= 0:
                lm_head[following, slot] = 3.0  # 24 logits above the rest once normalised
        w.add_tensor("output.weight", lm_head)
    w.add_tensor("token_embd.weight", token_embd)
    if n_pl:
        w.add_tensor("per_layer_token_embd.weight", _noise(rng, n_vocab, n_pl * block_count, scale=0.05))
        w.add_tensor("per_layer_model_proj.weight", mat(n_pl * block_count, n_embd))
        w.add_tensor("per_layer_proj_norm.weight", _ones(n_pl))
    n_rot = int(head_full * partial_rotary / 2)
    freqs = np.array([1.0] * n_rot + [1e30] * (head_full // 2 - n_rot), dtype=np.float32)
    w.add_tensor("rope_freqs.weight", freqs)
    w.add_tensor("output_norm.weight", _ones(n_embd))
    for i, swa in enumerate(pattern):
        p = f"blk.{i}."
        head = head_swa if swa else head_full
        kv = kv_swa if swa else kv_full
        w.add_tensor(p + "attn_norm.weight", _ones(n_embd))
        w.add_tensor(p + "attn_q.weight", mat(n_head * head, n_embd))
        w.add_tensor(p + "attn_q_norm.weight", _ones(head))
        if i < block_count - shared:  # shared layers have no K/V of their own
            w.add_tensor(p + "attn_k.weight", mat(kv * head, n_embd))
            w.add_tensor(p + "attn_v.weight", mat(kv * head, n_embd))
            w.add_tensor(p + "attn_k_norm.weight", _ones(head))
        w.add_tensor(p + "attn_output.weight", out(n_embd, n_head * head))
        w.add_tensor(p + "post_attention_norm.weight", _ones(n_embd))
        w.add_tensor(p + "layer_output_scale.weight", np.full(1, 0.5, dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", _ones(n_embd))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff[i], n_embd))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff[i], n_embd))
        w.add_tensor(p + "ffn_down.weight", out(n_embd, n_ff[i]))
        w.add_tensor(p + "post_ffw_norm.weight", _ones(n_embd))
        if moe:
            w.add_tensor(p + "ffn_gate_inp.weight", mat(experts, n_embd))
            w.add_tensor(p + "ffn_gate_inp.scale", _ones(n_embd))
            w.add_tensor(p + "pre_ffw_norm_2.weight", _ones(n_embd))
            w.add_tensor(p + "post_ffw_norm_1.weight", _ones(n_embd))
            w.add_tensor(p + "post_ffw_norm_2.weight", _ones(n_embd))
            # ggml ne [n_embd, 2 * n_ff_exp, n_expert]: gate and up of each expert, fused.
            gate_up = rng.standard_normal((experts, 2 * n_ff_exp, n_embd)) / np.sqrt(n_embd)
            w.add_tensor(p + "ffn_gate_up_exps.weight", gate_up.astype(np.float16))
            down = rng.standard_normal((experts, n_embd, n_ff_exp)) / np.sqrt(n_ff_exp)
            w.add_tensor(p + "ffn_down_exps.weight", down.astype(np.float16) * (0 if reply_chain else 1))
            w.add_tensor(p + "ffn_down_exps.scale", _ones(experts))
        if n_pl:
            w.add_tensor(p + "inp_gate.weight", mat(n_pl, n_embd))
            w.add_tensor(p + "proj.weight", out(n_embd, n_pl))
            w.add_tensor(p + "post_norm.weight", _ones(n_embd))
    _finish(w)
    return path


GEMMA4_THINKING_CHAIN: tuple[str, ...] = (
    "\n", "<|channel>", "▁the", "▁picture", "▁is", "<channel|>", "Hello", "▁yes", "<turn|>",
)
"""A steered reply (see ``reply_chain``): after the prompt's closing newline, a thought ("the
picture is") between the markers, then the answer "Hello yes" and the end of the turn.  With
thinking off, Gemma 4's template ends the prompt with an empty thought, so the reply is just the
answer."""


def _clip_header(w: GGUFWriter, *, name: str, projector_type: str, hidden: int, ffn: int, blocks: int,
                 heads: int, text_embd: int, image_size: int, patch_size: int,
                 mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
    """The clip metadata every vision projector carries (llama.cpp's load_hparams requires it)."""
    w.add_name(name)
    w.add_file_type(0)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    # Converted Gemma 3n and Gemma 4 files name the vision projector under clip.vision. (they can
    # carry an audio one too); llama.cpp reads that key when clip.projector_type is absent.
    w.add_string("clip.vision.projector_type", projector_type)
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.embedding_length", hidden)
    w.add_uint32("clip.vision.feed_forward_length", ffn)
    w.add_uint32("clip.vision.block_count", blocks)
    w.add_uint32("clip.vision.attention.head_count", heads)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    w.add_uint32("clip.vision.projection_dim", text_embd)
    w.add_uint32("clip.vision.image_size", image_size)
    w.add_uint32("clip.vision.patch_size", patch_size)
    w.add_array("clip.vision.image_mean", list(mean))
    w.add_array("clip.vision.image_std", list(std))


def write_tiny_gemma3n_mmproj(
    path: Path, *, text_embd: int = 64, image_size: int = 64, tokens: int = 16, seed: int = 0
) -> Path:
    """Write a tiny random-weight Gemma 3n vision projector (clip, projector type gemma3nv).

    A MobileNetV5 in miniature: the stem, an edge-residual stage, two inverted-residual stages
    with a multi-query attention block each, and the multi-scale fusion adapter over the last two
    stages.  A 64-pixel image shrinks 32 -> 16 -> 8 -> 4 -> 2 and is fused at 4x4: 16 tokens, which
    is what ``image_size / patch_size`` must say.  The encoder width equals ``text_embd`` (see the
    notes above).
    """
    path = Path(path)
    if image_size % tokens:
        raise ValueError("image_size must be a multiple of tokens")
    rng = np.random.default_rng(seed)
    c = text_embd

    def conv(out_ch: int, in_ch: int, k: int) -> np.ndarray:
        """A convolution kernel: numpy (out, in, kh, kw) = ggml ne [kw, kh, in, out].

        Depthwise kernels (in == 1) are F16: ggml_conv_2d_dw builds an F16 im2col, and the CPU
        backend multiplies that only by an F16 kernel (an F32 one aborts the graph, measured).
        """
        dtype = np.float16 if in_ch == 1 else np.float32
        return _noise(rng, out_ch, in_ch, k, k, scale=(in_ch * k * k) ** -0.5, dtype=dtype)

    def gamma(ch: int) -> np.ndarray:
        """A per-channel scale broadcast over [W, H, C, B]: numpy (1, C, 1, 1)."""
        return np.full((1, ch, 1, 1), 0.5, dtype=np.float32)

    w = GGUFWriter(str(path), "clip")
    _clip_header(
        w, name="Tiny Gemma 3n projector (random test weights)", projector_type="gemma3nv",
        hidden=c, ffn=4 * c, blocks=4, heads=2, text_embd=text_embd, image_size=image_size,
        patch_size=image_size // tokens, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    )
    stem, s0, s1, s2, head_dim, n_head = 8, 16, 24, 32, 8, 2
    w.add_tensor("v.conv_stem.conv.weight", conv(stem, 3, 3))
    w.add_tensor("v.conv_stem.conv.bias", np.zeros((1, stem, 1, 1), dtype=np.float32))
    w.add_tensor("v.conv_stem.bn.weight", _ones(stem))
    # Stage 0: edge residual (stride 2).
    w.add_tensor("v.blk.0.0.conv_exp.weight", conv(s0, stem, 3))
    w.add_tensor("v.blk.0.0.bn1.weight", _ones(s0))
    w.add_tensor("v.blk.0.0.conv_pwl.weight", conv(s0, s0, 1))
    w.add_tensor("v.blk.0.0.bn2.weight", _ones(s0))

    def inverted_residual(stage: int, block: int, cin: int, cout: int) -> None:
        p = f"v.blk.{stage}.{block}."
        w.add_tensor(p + "dw_start.conv.weight", conv(cin, 1, 3))
        w.add_tensor(p + "dw_start.bn.weight", _ones(cin))
        w.add_tensor(p + "pw_exp.conv.weight", conv(2 * cin, cin, 1))
        w.add_tensor(p + "pw_exp.bn.weight", _ones(2 * cin))
        w.add_tensor(p + "dw_mid.conv.weight", conv(2 * cin, 1, 3))  # the stride-2 step
        w.add_tensor(p + "dw_mid.bn.weight", _ones(2 * cin))
        w.add_tensor(p + "pw_proj.conv.weight", conv(cout, 2 * cin, 1))
        w.add_tensor(p + "pw_proj.bn.weight", _ones(cout))
        w.add_tensor(p + "layer_scale.gamma", gamma(cout))

    def attention(stage: int, block: int, ch: int) -> None:
        p = f"v.blk.{stage}.{block}."
        w.add_tensor(p + "norm.weight", _ones(ch))
        w.add_tensor(p + "attn.query.proj.weight", conv(n_head * head_dim, ch, 1))
        w.add_tensor(p + "attn.key.down_conv.weight", conv(ch, 1, 3))
        w.add_tensor(p + "attn.key.norm.weight", _ones(ch))
        w.add_tensor(p + "attn.key.proj.weight", conv(head_dim, ch, 1))
        w.add_tensor(p + "attn.value.down_conv.weight", conv(ch, 1, 3))
        w.add_tensor(p + "attn.value.norm.weight", _ones(ch))
        w.add_tensor(p + "attn.value.proj.weight", conv(head_dim, ch, 1))
        w.add_tensor(p + "attn.output.proj.weight", conv(ch, n_head * head_dim, 1))
        w.add_tensor(p + "layer_scale.gamma", gamma(ch))

    inverted_residual(1, 0, s0, s1)
    inverted_residual(2, 0, s1, s2)
    attention(2, 1, s2)
    inverted_residual(3, 0, s2, s2)
    attention(3, 1, s2)
    # Multi-scale fusion: stage 2 (4x4) and stage 3 upsampled (2x2 -> 4x4), concatenated.
    w.add_tensor("v.msfa.ffn.pw_exp.conv.weight", conv(4 * c, 2 * s2, 1))
    w.add_tensor("v.msfa.ffn.pw_exp.bn.weight", _ones(4 * c))
    w.add_tensor("v.msfa.ffn.pw_proj.conv.weight", conv(c, 4 * c, 1))
    w.add_tensor("v.msfa.ffn.pw_proj.bn.weight", _ones(c))
    w.add_tensor("v.msfa.norm.weight", _ones(c))
    w.add_tensor("mm.soft_emb_norm.weight", _ones(c))
    w.add_tensor("mm.input_projection.weight", _random_matrix(rng, text_embd, c, np.float32))
    _finish(w)
    return path


def write_tiny_gemma4_mmproj(
    path: Path,
    *,
    text_embd: int = 64,
    patch_size: int = 4,
    hidden: int = 32,
    blocks: int = 2,
    positions: int = 512,
    seed: int = 0,
    audio: bool = False,
) -> Path:
    """Write a tiny random-weight Gemma 4 vision projector (clip, projector type gemma4v).

    Its output width is ``text_embd``.  An image costs 70 to 1120 tokens by its size (the window
    prices it with ``ProjectorFile.image_tokens``); ``positions`` bounds the patches per side.
    With ``audio``, the file also holds an audio encoder (projector type gemma4a), as the E
    models' projectors do: see :func:`_add_gemma4_audio`.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    n_head = 2
    head_dim = hidden // n_head
    n_ff = 2 * hidden

    w = GGUFWriter(str(path), "clip")
    _clip_header(
        w, name="Tiny Gemma 4 projector (random test weights)", projector_type="gemma4v",
        hidden=hidden, ffn=n_ff, blocks=blocks, heads=n_head, text_embd=text_embd,
        image_size=224, patch_size=patch_size, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    )

    def mat(rows: int, cols: int) -> np.ndarray:
        return _random_matrix(rng, rows, cols, np.float32)

    patch = rng.standard_normal((hidden, 3, patch_size, patch_size)) / np.sqrt(3 * patch_size**2)
    w.add_tensor("v.patch_embd.weight", patch.astype(np.float32))
    # ggml ne [hidden, positions, 2]: a lookup table for x, then one for y.
    w.add_tensor("v.position_embd.weight", _noise(rng, 2, positions, hidden, scale=0.02, dtype=np.float32))
    for i in range(blocks):
        p = f"v.blk.{i}."
        w.add_tensor(p + "ln1.weight", _ones(hidden))
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(p + name + ".weight", mat(hidden, hidden))
        w.add_tensor(p + "attn_q_norm.weight", _ones(head_dim))
        w.add_tensor(p + "attn_k_norm.weight", _ones(head_dim))
        w.add_tensor(p + "attn_post_norm.weight", _ones(hidden))
        w.add_tensor(p + "ln2.weight", _ones(hidden))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, hidden))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, hidden))
        w.add_tensor(p + "ffn_down.weight", mat(hidden, n_ff))
        w.add_tensor(p + "ffn_post_norm.weight", _ones(hidden))
    # ggml ne [hidden, text_embd]: the graph multiplies it directly (no transpose, unlike Gemma 3).
    w.add_tensor("mm.input_projection.weight", mat(text_embd, hidden))
    if audio:
        _add_gemma4_audio(w, rng, text_embd)
    _finish(w)
    return path


GEMMA4_AUDIO_MEL_BINS = 16


def _add_gemma4_audio(w: GGUFWriter, rng: np.random.Generator, text_embd: int, hidden: int = 32) -> None:
    """A Gemma 4 audio encoder in miniature (clip.cpp's gemma4a): two stride-2 convolutions over
    the log-mel frames (16 kHz, 10 ms hop: 25 tokens a second), one conformer block (feed-forward
    half step, chunked self-attention with relative positions, a gated depthwise convolution,
    another half step) and the projection into the text width."""
    n_head, n_ff, channels = 2, 2 * hidden, (8, 4)
    freq = GEMMA4_AUDIO_MEL_BINS // 4  # two stride-2 convolutions

    def mat(rows: int, cols: int) -> np.ndarray:
        return _random_matrix(rng, rows, cols, np.float32)

    w.add_bool("clip.has_audio_encoder", True)
    w.add_string("clip.audio.projector_type", "gemma4a")
    w.add_uint32("clip.audio.num_mel_bins", GEMMA4_AUDIO_MEL_BINS)
    w.add_uint32("clip.audio.embedding_length", hidden)
    w.add_uint32("clip.audio.feed_forward_length", n_ff)
    w.add_uint32("clip.audio.block_count", 1)
    w.add_uint32("clip.audio.attention.head_count", n_head)
    w.add_float32("clip.audio.attention.layer_norm_epsilon", 1e-6)
    w.add_uint32("clip.audio.projection_dim", text_embd)
    # Convolutions over [mel bins, frames, channels]: kernels numpy (out, in, 3, 3).
    w.add_tensor("a.conv1d.0.weight", _noise(rng, channels[0], 1, 3, 3, scale=1 / 3, dtype=np.float32))
    w.add_tensor("a.conv1d.0.norm.weight", _ones(channels[0]))
    w.add_tensor("a.conv1d.1.weight", _noise(rng, channels[1], channels[0], 3, 3, scale=0.2, dtype=np.float32))
    w.add_tensor("a.conv1d.1.norm.weight", _ones(channels[1]))
    w.add_tensor("a.input_projection.weight", mat(hidden, channels[1] * freq))
    p = "a.blk.0."
    for name in ("ffn_norm", "ffn_post_norm", "attn_pre_norm", "attn_post_norm", "conv_norm", "norm_conv",
                 "ffn_norm_1", "ffn_post_norm_1", "ln2"):
        w.add_tensor(p + name + ".weight", _ones(hidden))
    w.add_tensor(p + "ffn_up.weight", mat(n_ff, hidden))
    w.add_tensor(p + "ffn_down.weight", mat(hidden, n_ff))
    for name in ("attn_q", "attn_k", "attn_v", "attn_out", "attn_k_rel"):
        w.add_tensor(p + name + ".weight", mat(hidden, hidden))
    w.add_tensor(p + "per_dim_scale.weight", _ones(hidden // n_head))
    w.add_tensor(p + "per_dim_k_scale.weight", _ones(hidden // n_head))
    w.add_tensor(p + "conv_pw1.weight", mat(2 * hidden, hidden))  # gated: half is the gate
    w.add_tensor(p + "conv_dw.weight", _noise(rng, hidden, 5, scale=0.3, dtype=np.float32))  # ne [5, hidden]
    w.add_tensor(p + "conv_pw2.weight", mat(hidden, hidden))
    w.add_tensor(p + "ffn_up_1.weight", mat(n_ff, hidden))
    w.add_tensor(p + "ffn_down_1.weight", mat(hidden, n_ff))
    w.add_tensor("mm.a.soft_emb_norm.weight", _ones(hidden))
    w.add_tensor("mm.a.input_projection.weight", mat(text_embd, hidden))
