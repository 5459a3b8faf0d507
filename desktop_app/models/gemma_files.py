"""What a GGUF file is for this app: a Gemma model or its vision projector, read from metadata alone.

Used to refuse the wrong file with one clear sentence before llama.cpp gets to abort on it, to pair
a projector with its model, and to give the fit estimate and the window the numbers they need
before anything is loaded.  The bytes are read by :mod:`desktop_app.models.gguf_reader`; this
module only interprets them.  Weights are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.errors import UserError
from desktop_app.models.gguf_reader import GGUFHeader, damaged_file, read_header

SUPPORTED_MODEL_ARCHS: tuple[str, ...] = ("gemma3",)
PROJECTOR_ARCH = "clip"
SUPPORTED_PROJECTOR_TYPES: tuple[str, ...] = ("gemma3",)

# The tensor whose shape tells the projector's output width.  llama.cpp's clip.cpp answers
# clip_n_mmproj_embd() for PROJECTOR_TYPE_GEMMA3 with mm_input_proj_w->ne[0], and multiplies
# ggml_transpose(mm_input_proj_w) by the [n_embd_vision, n_patches] activations, so in ggml's
# order the tensor is [n_embd_text, n_embd_vision].  GGUF stores dims in that same ggml order
# (numpy's view of the data, and the HF checkpoint's weight, is the reverse), and the header
# reader keeps the stored order: dims[0] is the width the text model must have.
INPUT_PROJECTION_TENSOR = "mm.input_projection.weight"

# llama.cpp's default for Gemma 3 when clip.vision.projector.scale_factor is absent.
DEFAULT_GEMMA3_SCALE_FACTOR = 4


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

    @property
    def display_name(self) -> str:
        """The file name, which is what the user picked and will recognise in a message."""
        return self.path.name


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
    quantization: str | None
    parameter_count: int
    tensor_count: int

    @property
    def display_name(self) -> str:
        return self.path.name


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
    if architecture not in SUPPORTED_MODEL_ARCHS:
        raise UserError(
            "'{name}' holds a {architecture} model; Gemma Desktop runs Gemma 3 models "
            "(architecture gemma3) and their mmproj projectors.",
            name=label,
            architecture=architecture,
        )
    return _model(header, label, architecture)


def inspect_model(path: str | Path) -> ModelFile:
    """:func:`inspect_gguf` for a file that must be a model."""
    info = inspect_gguf(path)
    if not isinstance(info, ModelFile):
        raise UserError(
            "'{name}' is a vision projector (mmproj), not a model; choose the Gemma 3 model file "
            "as the model.",
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
    if projector.projector_type not in SUPPORTED_PROJECTOR_TYPES:
        if projector.projector_type:
            raise UserError(
                "'{name}' is a {type} projector, not a Gemma 3 one; choose the projector made "
                "for this model.",
                name=projector.display_name,
                type=projector.projector_type,
            )
        raise UserError(
            "'{name}' is a projector of no known type, not a Gemma 3 one; choose the projector "
            "made for this model.",
            name=projector.display_name,
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
    )


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
    if projector_type == "gemma3":
        projection = header.tensors.get(INPUT_PROJECTION_TENSOR)
        if projection is None or len(projection.dims) != 2:
            raise UserError(
                "'{name}' is a Gemma 3 projector without its {tensor} tensor, so it is incomplete "
                "or damaged.",
                name=label,
                tensor=INPUT_PROJECTION_TENSOR,
            )
        embedding_length = projection.dims[0]
        scale_factor = header.int_value("clip.vision.projector.scale_factor")
        if scale_factor is None:
            scale_factor = DEFAULT_GEMMA3_SCALE_FACTOR
        if not image_size or not patch_size or scale_factor < 1:
            raise damaged_file(label)
        # Integer steps, as clip.cpp computes it: patches per side, pooled by the scale factor.
        tokens_per_image = ((image_size // patch_size) // scale_factor) ** 2

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
    )
