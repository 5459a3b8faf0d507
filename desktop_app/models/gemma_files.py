"""What a GGUF file is for this app: a Gemma model or its vision projector, read from metadata alone.

Used to refuse the wrong file with one clear sentence before llama.cpp gets to abort on it, to pair
a projector with its model, and to give the fit estimate and the window the numbers they need
before anything is loaded.  The bytes are read by :mod:`desktop_app.models.gguf_reader`; this
module only interprets them.  Weights are never read.

Three architectures of the family run here (:data:`FAMILIES`): Gemma 3, Gemma 3n and Gemma 4, each
with its own kind of vision projector.  What llama.cpp does with their numbers (which layers keep
a KV cache, which attend through the sliding window, how many tokens an image costs) was read in
the llama.cpp that llama-cpp-python 0.3.36 vendors and is written down where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.errors import UserError
from desktop_app.models.gguf_reader import GGUFHeader, damaged_file, read_header


@dataclass(frozen=True)
class GemmaFamily:
    """One architecture of the Gemma family as this app runs it."""

    architecture: str
    """``general.architecture`` of its text models."""
    label: str
    """Its name for people: "Gemma 3"."""
    projector_type: str
    """``clip`` projector type of its vision projectors."""
    thinks: bool
    """Its models can think before answering (a switch in the chat template)."""
    pan_scan: bool
    """Images may be read in crops as well as whole (Gemma 3's Pan & Scan)."""
    default_sliding_period: int
    """Without a per-layer pattern in the file, every this-many-th layer is global and the others
    attend through the sliding window (llama.cpp's set_swa_pattern default for the architecture)."""


FAMILIES: dict[str, GemmaFamily] = {
    f.architecture: f
    for f in (
        GemmaFamily("gemma3", "Gemma 3", "gemma3", thinks=False, pan_scan=True, default_sliding_period=6),
        GemmaFamily("gemma3n", "Gemma 3n", "gemma3nv", thinks=False, pan_scan=False, default_sliding_period=5),
        # Gemma 4 files always carry the per-layer pattern (llama.cpp requires it).
        GemmaFamily("gemma4", "Gemma 4", "gemma4v", thinks=True, pan_scan=False, default_sliding_period=6),
    )
}
SUPPORTED_MODEL_ARCHS: tuple[str, ...] = tuple(FAMILIES)


def abilities(family: GemmaFamily, vision: bool) -> tuple[str, ...]:
    """What a model of this family can do here, as words the front ends show: "text", "images"
    (with a projector), "thinking"."""
    return ("text",) + (("images",) if vision else ()) + (("thinking",) if family.thinks else ())


PROJECTOR_ARCH = "clip"
SUPPORTED_PROJECTOR_TYPES: tuple[str, ...] = tuple(f.projector_type for f in FAMILIES.values())
_PROJECTOR_FAMILY = {f.projector_type: f for f in FAMILIES.values()}
ASSISTANT_ARCH = "gemma4-assistant"
"""A Gemma 4 drafter for speculative decoding: a Gemma 4 file that cannot chat on its own."""

# The tensor whose shape tells the projector's output width.  llama.cpp's clip.cpp answers
# clip_n_mmproj_embd() for gemma3 and gemma3nv with mm_input_proj_w->ne[0] (Gemma 3 multiplies
# ggml_transpose(mm_input_proj_w) by the [n_embd_vision, n_patches] activations, so in ggml's
# order the tensor is [n_embd_text, n_embd_vision]), and for gemma4v with ne[1] (Gemma 4 multiplies
# it as it is: [n_embd_vision, n_embd_text]).  GGUF stores dims in ggml order (numpy's view of the
# data, and the HF checkpoint's weight, is the reverse), and the header reader keeps that order.
INPUT_PROJECTION_TENSOR = "mm.input_projection.weight"
_OUTPUT_WIDTH_DIM = {"gemma3": 0, "gemma3nv": 0, "gemma4v": 1}

# llama.cpp's default for Gemma 3 when clip.vision.projector.scale_factor is absent.
DEFAULT_GEMMA3_SCALE_FACTOR = 4

# Gemma 4's vision projector takes images at their own aspect ratio: llama.cpp resizes them to
# sides that are multiples of patch_size x merge, to between 70 and 1120 tokens' worth of pixels
# (clip.cpp: n_merge = 3 unless the file says otherwise, set_limit_image_tokens(70, 1120)).
DEFAULT_GEMMA4_MERGE = 3
GEMMA4_IMAGE_TOKENS = (70, 1120)

GEMMA3N_KV_LAYERS = 20
"""llama.cpp gives only the first 20 layers of a gemma3n model a KV cache (the later ones reuse
layer 18's or 19's), whatever the file says: the split of both E2B (30 layers) and E4B (35)."""

# The per-layer embedding table of the E models: an input-layer tensor llama.cpp keeps memory-mapped
# on the CPU and reads a row of per token (Gemma 4 marks it for lazy reading), never on the GPU.
PER_LAYER_EMBEDDINGS_TENSOR = "per_layer_token_embd.weight"


@dataclass(frozen=True)
class ModelFile:
    """A Gemma text model GGUF.  Fields the file does not hold are None (llama.cpp's defaults are
    not filled in)."""

    path: Path
    file_size: int
    architecture: str
    name: str | None
    embedding_length: int
    """n_embd: the width a projector's output must have."""
    context_length: int | None
    block_count: int | None
    sliding_window: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    vocab_size: int | None
    quantization: str | None
    parameter_count: int
    tensor_count: int
    license: str | None
    chat_template: str | None = field(repr=False)  # kilobytes of Jinja
    sliding_window_pattern: tuple[bool, ...] | None = None
    """Per layer, whether it attends through the sliding window, where the file says so."""
    head_count_kv_per_layer: tuple[int, ...] | None = None
    """Where KV heads differ by layer (Gemma 4: fewer on the global layers)."""
    key_length_swa: int | None = None
    value_length_swa: int | None = None
    shared_kv_layers: int | None = None
    per_layer_embedding_length: int | None = None
    per_layer_embedding_bytes: int = 0
    """Bytes of the per-layer embedding table (E models); kept memory-mapped on the CPU."""
    expert_count: int | None = None
    expert_used_count: int | None = None
    expert_feed_forward_length: int | None = None
    expert_bytes: int = 0
    """Bytes of the experts' weights (26B-A4B), of which a token reads only the ones it uses."""

    @property
    def display_name(self) -> str:
        """The file name, which is what the user picked and will recognise in a message."""
        return self.path.name

    @property
    def bytes_read_per_token(self) -> int:
        """Weight bytes one decoded token reads: the file, less the per-layer embedding table (a
        row per token) and the experts a token does not use."""
        unused = 0
        if self.expert_count and self.expert_used_count:
            unused = self.expert_bytes * (self.expert_count - self.expert_used_count) // self.expert_count
        return self.file_size - self.per_layer_embedding_bytes - unused

    @property
    def family(self) -> GemmaFamily:
        return FAMILIES[self.architecture]

    @property
    def sliding_layers(self) -> tuple[bool, ...]:
        """Per layer, whether llama.cpp gives it a sliding window: the file's pattern, or the
        architecture's default period; none without a window."""
        layers = self.block_count or 0
        if not self.sliding_window:
            return (False,) * layers
        if self.sliding_window_pattern is not None and len(self.sliding_window_pattern) == layers:
            return self.sliding_window_pattern
        return sliding_pattern(layers, self.family.default_sliding_period)

    @property
    def kv_layers(self) -> int:
        """How many leading layers keep a KV cache of their own (the rest reuse an earlier one)."""
        layers = self.block_count or 0
        if self.architecture == "gemma3n":
            return min(layers, GEMMA3N_KV_LAYERS)
        return layers - min(self.shared_kv_layers or 0, layers)


def _round_half_away(x: float) -> int:
    """C's round(): halves go away from zero (numpy's round goes to even: 12.5 -> 12, not 13)."""
    whole = math.floor(x)
    return whole + (1 if x - whole >= 0.5 else 0)


def sliding_pattern(block_count: int, period: int) -> tuple[bool, ...]:
    """Gemma's default layout: every ``period``-th layer global, the ones between sliding."""
    return tuple((i + 1) % period != 0 for i in range(block_count))


@dataclass(frozen=True)
class ProjectorFile:
    """A vision projector (mmproj) GGUF, llama.cpp's ``clip`` architecture."""

    path: Path
    file_size: int
    name: str | None
    projector_type: str | None
    has_vision: bool
    embedding_length: int | None
    """The width of the embeddings it *produces*, which must equal the model's n_embd (known for
    the projector types this app runs)."""
    vision_embedding_length: int | None
    """The encoder's own hidden width."""
    block_count: int | None
    head_count: int | None
    image_size: int | None
    patch_size: int | None
    tokens_per_image: int | None
    """Tokens every image costs, for the projector types that resize images to one square size
    (gemma3, gemma3nv); None where the cost depends on the image (gemma4v: :meth:`image_tokens`)."""
    quantization: str | None
    parameter_count: int
    tensor_count: int
    merge: int | None = None
    """gemma4v: the side of the square of patches pooled into one token."""

    @property
    def display_name(self) -> str:
        return self.path.name

    @property
    def family(self) -> GemmaFamily | None:
        """The family whose models this projector serves; None for a type this app does not run."""
        return _PROJECTOR_FAMILY.get(self.projector_type or "")

    @property
    def image_token_range(self) -> tuple[int, int]:
        """The fewest and most tokens an image can cost (equal where every image costs the same)."""
        if self.tokens_per_image is not None:
            return self.tokens_per_image, self.tokens_per_image
        return GEMMA4_IMAGE_TOKENS if self.projector_type == "gemma4v" else (0, 0)

    def image_tokens(self, width: int, height: int) -> int:
        """Tokens an image of this size takes in the context (0 for a type this app cannot price).

        gemma4v follows llama.cpp's resize (mtmd-image.cpp, calc_size_preserved_ratio, in float32
        as there): sides rounded to multiples of patch_size x merge, scaled down past 1120 tokens'
        worth of pixels or up below 70, then pooled merge x merge into tokens.
        """
        if self.tokens_per_image is not None:
            return self.tokens_per_image
        if self.projector_type != "gemma4v" or not self.patch_size or not self.merge:
            return 0
        align = self.patch_size * self.merge
        low, high = GEMMA4_IMAGE_TOKENS
        f32, step = np.float32, np.float32(align)

        def snapped(x: np.float32, how: Callable[[float], int]) -> int:
            return how(float(np.float32(x / step))) * align

        w_bar = max(align, snapped(f32(width), _round_half_away))
        h_bar = max(align, snapped(f32(height), _round_half_away))
        if w_bar * h_bar > high * align * align:
            beta = np.sqrt(f32(height) * f32(width) / f32(high * align * align), dtype=f32)
            h_bar = max(align, snapped(f32(height) / beta, math.floor))
            w_bar = max(align, snapped(f32(width) / beta, math.floor))
        elif w_bar * h_bar < low * align * align:
            beta = np.sqrt(f32(low * align * align) / (f32(height) * f32(width)), dtype=f32)
            h_bar = snapped(f32(height) * beta, math.ceil)
            w_bar = snapped(f32(width) * beta, math.ceil)
        return (w_bar // align) * (h_bar // align)


GemmaFile = ModelFile | ProjectorFile


def inspect_gguf(path: str | Path) -> GemmaFile:
    """Say what a GGUF file is: a supported model or a projector.

    Raises :class:`UserError` for a missing file, a file that is not GGUF, a damaged or truncated
    one, or one that is neither a model of an architecture in SUPPORTED_MODEL_ARCHS nor a clip
    projector.
    """
    header = read_header(path)
    label = header.path.name or str(header.path)
    architecture = header.architecture
    if architecture is None:
        raise UserError(
            "'{name}' does not say which model architecture it holds, so it cannot be used.",
            name=label,
        )
    if architecture == PROJECTOR_ARCH:
        return _projector(header, label)
    if architecture == ASSISTANT_ARCH:
        raise UserError(
            "'{name}' is a Gemma 4 assistant, a small drafter that speeds up a Gemma 4 model and "
            "cannot chat on its own; choose the Gemma 4 model itself.",
            name=label,
        )
    if architecture not in SUPPORTED_MODEL_ARCHS:
        raise UserError(
            "'{name}' holds a {architecture} model; Gemma Desktop runs Gemma 3, Gemma 3n and "
            "Gemma 4 models and their mmproj projectors.",
            name=label,
            architecture=architecture,
        )
    return _model(header, label, architecture)


def inspect_model(path: str | Path) -> ModelFile:
    """:func:`inspect_gguf` for a file that must be a model."""
    info = inspect_gguf(path)
    if not isinstance(info, ModelFile):
        raise UserError(
            "'{name}' is a vision projector (mmproj), not a model; choose the Gemma model file as "
            "the model.",
            name=info.display_name,
        )
    return info


def inspect_projector(path: str | Path) -> ProjectorFile:
    """:func:`inspect_gguf` for a file that must be a projector."""
    info = inspect_gguf(path)
    if not isinstance(info, ProjectorFile):
        raise UserError(
            "'{name}' is a model, not a vision projector; choose the mmproj file made for this "
            "model as the projector.",
            name=info.display_name,
        )
    return info


def check_pair(model: ModelFile, projector: ProjectorFile) -> None:
    """Refuse, with one sentence, a model and projector that llama.cpp would not run together.

    llama.cpp's own answer to a mismatched projector is a NULL from mtmd_init_from_file and a
    log line; this says which file to change and why.
    """
    family = projector.family
    if family is None:
        if projector.projector_type:
            raise UserError(
                "'{name}' is a {type} projector, which Gemma Desktop does not run; choose the "
                "projector made for this model.",
                name=projector.display_name,
                type=projector.projector_type,
            )
        raise UserError(
            "'{name}' is a projector of no known type; choose the projector made for this model.",
            name=projector.display_name,
        )
    if family is not model.family:
        raise UserError(
            "The projector {projector} is made for {projector_family} models but {model} is a "
            "{model_family} model; choose the projector made for this model.",
            projector=projector.display_name,
            projector_family=family.label,
            model=model.display_name,
            model_family=model.family.label,
        )
    if not projector.has_vision:
        raise UserError(
            "'{name}' has no vision encoder, so it cannot read images; choose the projector made "
            "for this model.",
            name=projector.display_name,
        )
    if projector.embedding_length != model.embedding_length:
        raise UserError(
            "The projector {projector} produces {projector_width}-wide embeddings but model "
            "{model} expects {model_width}; choose the projector made for this model.",
            projector=projector.display_name,
            projector_width=str(projector.embedding_length),  # a dimension: no thousands separator
            model=model.display_name,
            model_width=str(model.embedding_length),
        )


def fits(model: ModelFile, projector: ProjectorFile) -> bool:
    """Whether :func:`check_pair` accepts the pair."""
    try:
        check_pair(model, projector)
    except UserError:
        return False
    return True


def require_vision(model: ModelFile, projector: ProjectorFile | None, n_images: int) -> None:
    """Refuse a request with images when the setup cannot see them; check the pair otherwise."""
    if n_images <= 0:
        return
    if projector is None:
        raise UserError(
            "{name} is a text-only model setup: add its mmproj projector (--mmproj) to ask about "
            "images.",
            name=model.display_name,
        )
    check_pair(model, projector)


def best_projector(model: ModelFile, projectors: list[ProjectorFile]) -> ProjectorFile | None:
    """The projector among ``projectors`` that fits ``model``: one in the model's folder first,
    then by name, names containing "mmproj" first."""
    fitting = [p for p in projectors if fits(model, p)]
    fitting.sort(
        key=lambda p: (
            p.path.parent != model.path.parent,
            "mmproj" not in p.path.name.lower(),
            p.path.name.lower(),
        )
    )
    return fitting[0] if fitting else None


def projector_beside(model: ModelFile) -> ProjectorFile | None:
    """The first projector in ``model``'s folder that fits it, or None.

    Files are read in name order with names containing "mmproj" first, which finds the usual
    layout at once; anything unreadable or unfitting is skipped quietly.
    """
    candidates = sorted(
        (p for p in model.path.parent.glob("*.gguf") if p != model.path and p.is_file()),
        key=lambda p: ("mmproj" not in p.name.lower(), p.name.lower()),
    )
    for path in candidates:
        try:
            info = inspect_gguf(path)
        except UserError:
            continue
        if isinstance(info, ProjectorFile) and fits(model, info):
            return info
    return None


@dataclass(frozen=True)
class ModelSetup:
    """A model and its projector (None: text only), checked to belong together."""

    model: ModelFile
    projector: ProjectorFile | None
    projector_searched: bool
    """True when the projector was looked for in the model's folder (not chosen by hand)."""


def resolve_setup(model_path: Path, projector_path: Path | None, *, find_projector: bool) -> ModelSetup:
    """Inspect the chosen files; with ``find_projector`` and no projector given, pair a fitting one
    from the model's folder.  Raises :class:`UserError` for a file that is not a supported model,
    or a chosen projector that does not fit it.  Reads headers: call it off the UI thread."""
    model = inspect_model(model_path)
    if projector_path is not None:
        projector = inspect_projector(projector_path)
        check_pair(model, projector)
        return ModelSetup(model, projector, projector_searched=False)
    if not find_projector:
        return ModelSetup(model, None, projector_searched=False)
    return ModelSetup(model, projector_beside(model), projector_searched=True)


# --- interpreting ---------------------------------------------------------------------------


def _model(header: GGUFHeader, label: str, architecture: str) -> ModelFile:
    def arch_int(key: str) -> int | None:
        return header.int_value(f"{architecture}.{key}")

    embedding_length = arch_int("embedding_length")
    if embedding_length is None:
        raise damaged_file(label)
    per_layer = header.tensors.get(PER_LAYER_EMBEDDINGS_TENSOR)
    return ModelFile(
        path=header.path,
        file_size=header.file_size,
        architecture=architecture,
        name=header.str_value("general.name"),
        embedding_length=embedding_length,
        context_length=arch_int("context_length"),
        block_count=arch_int("block_count"),
        sliding_window=arch_int("attention.sliding_window"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        key_length=arch_int("attention.key_length"),
        value_length=arch_int("attention.value_length"),
        vocab_size=header.array_lengths.get("tokenizer.ggml.tokens"),
        quantization=header.quantization,
        parameter_count=header.parameter_count,
        tensor_count=len(header.tensors),
        license=header.str_value("general.license"),
        chat_template=header.str_value("tokenizer.chat_template"),
        sliding_window_pattern=_bools(header.scalars.get(f"{architecture}.attention.sliding_window_pattern")),
        head_count_kv_per_layer=_ints(header.scalars.get(f"{architecture}.attention.head_count_kv")),
        key_length_swa=arch_int("attention.key_length_swa"),
        value_length_swa=arch_int("attention.value_length_swa"),
        shared_kv_layers=arch_int("attention.shared_kv_layers"),
        per_layer_embedding_length=arch_int("embedding_length_per_layer_input"),
        per_layer_embedding_bytes=per_layer.n_bytes if per_layer is not None else 0,
        expert_count=arch_int("expert_count"),
        expert_used_count=arch_int("expert_used_count"),
        expert_feed_forward_length=arch_int("expert_feed_forward_length"),
        expert_bytes=sum(t.n_bytes for name, t in header.tensors.items() if "_exps." in name),
    )


def _bools(value: object) -> tuple[bool, ...] | None:
    """A per-layer flag list as written by the converters (bools, or 0/1 integers)."""
    if not isinstance(value, list) or not all(isinstance(v, (bool, int)) for v in value):
        return None
    return tuple(bool(v) for v in value)


def _ints(value: object) -> tuple[int, ...] | None:
    """A per-layer count list (a single number, as most files have, gives None)."""
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    return tuple(value)


def _projector(header: GGUFHeader, label: str) -> ProjectorFile:
    # Files holding both a vision and an audio projector name each under clip.vision. /
    # clip.audio.; single-modality files use clip.projector_type.  llama.cpp prefers the former.
    projector_type = header.str_value("clip.vision.projector_type") or header.str_value(
        "clip.projector_type"
    )
    image_size = header.int_value("clip.vision.image_size")
    patch_size = header.int_value("clip.vision.patch_size")

    embedding_length: int | None = None
    tokens_per_image: int | None = None
    merge: int | None = None
    if projector_type in _OUTPUT_WIDTH_DIM:
        projection = header.tensors.get(INPUT_PROJECTION_TENSOR)
        if projection is None or len(projection.dims) != 2:
            raise UserError(
                "'{name}' is a Gemma projector without its {tensor} tensor, so it is incomplete "
                "or damaged.",
                name=label,
                tensor=INPUT_PROJECTION_TENSOR,
            )
        if not image_size or not patch_size:
            raise damaged_file(label)
        embedding_length = projection.dims[_OUTPUT_WIDTH_DIM[projector_type]]
        scale_factor = header.int_value("clip.vision.projector.scale_factor")
        if projector_type == "gemma3":
            if scale_factor is None:
                scale_factor = DEFAULT_GEMMA3_SCALE_FACTOR
            if scale_factor < 1:
                raise damaged_file(label)
            # Integer steps, as clip.cpp computes it: patches per side, pooled by the scale factor.
            tokens_per_image = ((image_size // patch_size) // scale_factor) ** 2
        elif projector_type == "gemma3nv":
            # MobileNetV5 ends at a fixed grid; clip.cpp counts it as image_size / patch_size (the
            # converter writes patch_size = image_size / 256: 256 tokens at 768 pixels).
            tokens_per_image = image_size // patch_size
        else:
            merge = scale_factor or DEFAULT_GEMMA4_MERGE

    return ProjectorFile(
        path=header.path,
        file_size=header.file_size,
        name=header.str_value("general.name"),
        projector_type=projector_type,
        has_vision=bool(header.scalars.get("clip.has_vision_encoder", False)),
        embedding_length=embedding_length,
        vision_embedding_length=header.int_value("clip.vision.embedding_length"),
        block_count=header.int_value("clip.vision.block_count"),
        head_count=header.int_value("clip.vision.attention.head_count"),
        image_size=image_size,
        patch_size=patch_size,
        tokens_per_image=tokens_per_image,
        quantization=header.quantization,
        parameter_count=header.parameter_count,
        tensor_count=len(header.tensors),
        merge=merge,
    )
