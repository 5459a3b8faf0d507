"""Will this model run here?  A memory estimate from GGUF metadata, set against RAM and VRAM.

The estimate follows what llama.cpp allocates for the Gemma family: the weights (the file,
memory-mapped and all touched on the CPU), the KV cache of the layers that keep one (Gemma 3n and
the Gemma 4 E models let their last layers reuse earlier caches) with each layer's own heads and
sliding window, the vision projector, and the working memory of a forward pass.  The numbers were
checked against the real Gemma 3 270M in llama.cpp (see the tests): within a few per cent of the
process's resident memory with the context filled, always on the high side; and the weights and
KV cache against what llama.cpp allocates for the generated Gemma 3n and Gemma 4 models.

Everything but :func:`machine_memory` is a pure function of numbers, so the window can show a
verdict for a catalog entry before anything is downloaded.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import psutil

from desktop_app.errors import Sentence, UserError
from desktop_app.models.sizes import GIB, MIB, ByteSize
from desktop_app.settings import SWA_FULL_CACHE

if TYPE_CHECKING:
    from desktop_app.models.gemma_files import ModelFile, ProjectorFile

SWA_PATTERN = 6
"""Gemma 3 makes every sixth layer global and the five before it sliding-window (llama.cpp's
``set_swa_pattern(6)`` for gemma3): 3 of the 270M's 18 layers, 5 of the 4B's 34.  Gemma 3n and
Gemma 4 files say per layer (:attr:`ModelShape.sliding_layers`)."""

DEFAULT_UBATCH = 512
"""llama.cpp's default micro-batch; the reduced sliding-window cache and the scratch scale with it."""

KV_BYTES_PER_VALUE = 2
"""llama.cpp's default KV cache type is f16."""

RUNTIME_BASE = 64 * MIB
"""Fixed cost of a loaded model beyond weights and caches (tokenizer tables for Gemma's 262,144
tokens, runtime structures), measured on the 270M."""

ACTIVATION_FACTOR = 20
"""Scratch for one micro-batch, in f32 rows of n_embd: attention and feed-forward intermediates."""

ATTENTION_SCORES_FACTOR = 1.5
"""Without flash attention, llama.cpp materialises n_ubatch x n_ctx x n_head f32 scores (plus a
softmax copy); measured 92 MiB for the 270M at 8,192 tokens against 64 MiB for one matrix."""

PROJECTOR_SCRATCH_RATIO = 0.75
"""Encoding one 896-pixel image costs about three quarters of the projector's size again
(peak resident 1.46 GB with the 845 MB SigLIP projector, ENGINE-FACTS.md)."""

FREE_HEADROOM = 512 * MIB
"""Left free when judging against available memory, so the system does not start swapping."""

GPU_HEADROOM = 256 * MIB
"""Left free on a GPU for the driver and the desktop."""

UNKNOWN_AVAILABLE_SHARE = 0.6
"""Where free memory cannot be read (macOS without psutil), assume this share of RAM is usable."""

CONTEXT_STEPS = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
"""Context sizes a suggestion may name: the choices the window offers."""

DEFAULT_CONTEXT_STEPS = (8192, 16384, 32768, 65536, 131072)
"""The sizes a machine-sized default picks from (8K is where it starts, whatever the memory)."""

COMFORT_SHARE = 0.7
"""A default context must keep the whole estimate within this share of the free memory: the
rest is left to the system, the window, and the snapshots of other conversations."""

FitLevel = Literal["fits", "tight", "will not fit"]


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a Gemma text model that decide its cache and scratch memory.

    The first eight describe a Gemma 3; the rest default to what Gemma 3 does and describe what
    Gemma 3n and Gemma 4 do differently.  Where sliding and global layers differ (Gemma 4), the
    unsuffixed head numbers are the global layers' and the ``_swa`` ones the sliding layers'.
    """

    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    key_length: int
    value_length: int
    sliding_window: int
    """0 when the model has no sliding-window layers (then every layer keeps the full context)."""
    context_length: int
    sliding_layers: tuple[bool, ...] | None = None
    """Per layer, whether it attends through the sliding window; None: Gemma 3's layout
    (:data:`SWA_PATTERN`)."""
    kv_layers: int | None = None
    """How many leading layers keep a KV cache (Gemma 3n: 20; Gemma 4 E models: all but the
    shared ones); the rest reuse an earlier layer's.  None: every layer."""
    head_count_kv_swa: int | None = None
    key_length_swa: int | None = None
    value_length_swa: int | None = None
    per_layer_embedding_length: int = 0
    """Width of the per-layer embeddings (E models): each token brings one row per layer."""
    altup_streams: int = 1
    """Gemma 3n carries its hidden state as four streams (AltUp); the others one."""
    expert_count: int = 0
    expert_used_count: int = 0
    expert_feed_forward_length: int = 0

    @classmethod
    def from_gguf(cls, info: ModelFile) -> ModelShape:
        """Read the shape from a model's GGUF metadata, with llama.cpp's defaults for gaps."""
        if not info.block_count or not info.embedding_length or not info.head_count:
            raise UserError(
                "'{name}' lacks the layer counts needed to estimate its memory, so it is probably damaged.",
                name=info.display_name,
            )
        head_dim = info.embedding_length // info.head_count  # llama.cpp's default head size
        sliding = info.sliding_layers
        kv_heads = info.head_count_kv or info.head_count
        kv_heads_swa: int | None = None
        per_layer = info.head_count_kv_per_layer
        if per_layer is not None and len(per_layer) == len(sliding):
            kv_heads = max((n for n, swa in zip(per_layer, sliding, strict=True) if not swa), default=kv_heads)
            kv_heads_swa = max((n for n, swa in zip(per_layer, sliding, strict=True) if swa), default=None)
        default_layout = sliding == _gemma3_layout(info.block_count, info.sliding_window or 0)
        return cls(
            block_count=info.block_count,
            embedding_length=info.embedding_length,
            head_count=info.head_count,
            head_count_kv=kv_heads,
            key_length=info.key_length or head_dim,
            value_length=info.value_length or head_dim,
            sliding_window=info.sliding_window or 0,
            context_length=info.context_length or 0,
            sliding_layers=None if default_layout else sliding,
            kv_layers=None if info.kv_layers == info.block_count else info.kv_layers,
            head_count_kv_swa=kv_heads_swa,
            key_length_swa=info.key_length_swa,
            value_length_swa=info.value_length_swa,
            per_layer_embedding_length=info.per_layer_embedding_length or 0,
            altup_streams=GEMMA3N_ALTUP_STREAMS if info.architecture == "gemma3n" else 1,
            expert_count=info.expert_count or 0,
            expert_used_count=info.expert_used_count or 0,
            expert_feed_forward_length=info.expert_feed_forward_length or 0,
        )

    @property
    def layer_is_sliding(self) -> tuple[bool, ...]:
        """Per layer, whether it attends through the window (never, without a window)."""
        if self.sliding_window <= 0:
            return (False,) * self.block_count
        if self.sliding_layers is not None:
            return self.sliding_layers
        return _gemma3_layout(self.block_count, self.sliding_window)

    def kv_bytes_per_cell(self, sliding: bool) -> int:
        """f16 K and V bytes one cache cell holds in one layer of this kind."""
        heads = (self.head_count_kv_swa if sliding else None) or self.head_count_kv
        key = (self.key_length_swa if sliding else None) or self.key_length
        value = (self.value_length_swa if sliding else None) or self.value_length
        return KV_BYTES_PER_VALUE * heads * (key + value)


GEMMA3N_ALTUP_STREAMS = 4
"""llama.cpp's fixed AltUp width for gemma3n (llama-hparams.h n_altup)."""


def _gemma3_layout(block_count: int, sliding_window: int) -> tuple[bool, ...]:
    if sliding_window <= 0:
        return (False,) * block_count
    return tuple((i + 1) % SWA_PATTERN != 0 for i in range(block_count))


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a loaded model needs, by part; ``total`` is what is compared with the machine."""

    n_ctx: int
    weights: int
    projector: int
    kv_cache: int
    compute: int
    per_layer_embeddings: int = 0
    """Bytes of ``weights`` that llama.cpp keeps memory-mapped on the CPU even when every layer is
    on the GPU: the E models' per-layer embedding table, read a row per token."""

    @property
    def total(self) -> int:
        return self.weights + self.projector + self.kv_cache + self.compute

    @property
    def gpu_total(self) -> int:
        """What must fit in GPU memory to run with every layer offloaded."""
        return self.total - self.per_layer_embeddings


@dataclass(frozen=True)
class MachineMemory:
    """What this computer offers; None where it could not be read."""

    total_ram: int
    available_ram: int | None
    gpu_total: int | None = None
    gpu_free: int | None = None
    gpu_name: str | None = None
    unified: bool = False
    """Apple silicon: the GPU shares RAM, so RAM is the only budget."""


@dataclass(frozen=True)
class FitVerdict:
    """The answer shown before loading: a level, one sentence for the user, and the numbers."""

    level: FitLevel
    said: Sentence
    estimate: MemoryEstimate
    on_gpu: bool

    @property
    def sentence(self) -> str:
        """The sentence in English (the window translates ``said``)."""
        return str(self.said)


def swa_cache_cells(n_ctx: int, sliding_window: int, n_ubatch: int = DEFAULT_UBATCH) -> int:
    """Cells llama.cpp keeps per sliding-window layer when the reduced SWA cache is on.

    The window plus one micro-batch (tokens being added), padded to 256, never above n_ctx.
    """
    padded = -(-(sliding_window + n_ubatch) // 256) * 256
    return min(n_ctx, padded)


def kv_cache_bytes(
    shape: ModelShape, n_ctx: int, *, swa_full: bool = SWA_FULL_CACHE, n_ubatch: int = DEFAULT_UBATCH
) -> int:
    """f16 K and V for every layer that keeps a cache: 2 bytes x cells x KV heads x (key + value
    length), each with its own layer kind's heads.

    Global layers keep ``n_ctx`` cells.  Sliding-window layers keep ``n_ctx`` too when
    ``swa_full``, otherwise (the engine's choice, :data:`SWA_FULL_CACHE`) only the window plus a
    micro-batch.  Layers past ``kv_layers`` reuse an earlier layer's cache and cost nothing.
    """
    local_cells = n_ctx if swa_full else swa_cache_cells(n_ctx, shape.sliding_window, n_ubatch)
    kv_layers = shape.block_count if shape.kv_layers is None else shape.kv_layers
    return sum(
        shape.kv_bytes_per_cell(sliding) * (local_cells if sliding else n_ctx)
        for sliding in shape.layer_is_sliding[:kv_layers]
    )


def compute_bytes(
    shape: ModelShape,
    n_ctx: int,
    *,
    swa_full: bool = SWA_FULL_CACHE,
    flash_attn: bool = True,
    n_ubatch: int = DEFAULT_UBATCH,
) -> int:
    """Working memory a forward pass touches: runtime, activations, attention masks and scores.

    llama.cpp reserves a larger compute buffer (it sizes logits for a whole micro-batch: 512 MiB
    with Gemma's vocabulary) but only the last token's row is ever written, so those pages stay
    untouched and cost no RAM; this counts what becomes resident.  The masks are one
    n_ubatch x cells matrix per cache (f16 with flash attention, f32 without).  Gemma 3n's four
    AltUp streams multiply the activations; the E models' per-layer embeddings (one row per layer
    and token, selected, projected and summed) and the experts' intermediates (gate, up and their
    product for each expert a token uses) add theirs.
    """
    activations = n_ubatch * shape.embedding_length * 4 * ACTIVATION_FACTOR * shape.altup_streams
    per_layer = 3 * n_ubatch * shape.per_layer_embedding_length * shape.block_count * 4
    experts = 3 * n_ubatch * shape.expert_used_count * shape.expert_feed_forward_length * 4
    mask_cells = n_ctx
    if any(shape.layer_is_sliding):
        mask_cells += n_ctx if swa_full else swa_cache_cells(n_ctx, shape.sliding_window, n_ubatch)
    masks = n_ubatch * mask_cells * (2 if flash_attn else 4)
    scores = 0 if flash_attn else int(n_ubatch * n_ctx * shape.head_count * 4 * ATTENTION_SCORES_FACTOR)
    return RUNTIME_BASE + activations + per_layer + experts + masks + scores


def estimate_memory(
    model_bytes: int,
    shape: ModelShape,
    n_ctx: int,
    *,
    projector_bytes: int = 0,
    per_layer_embedding_bytes: int = 0,
    swa_full: bool = SWA_FULL_CACHE,
    flash_attn: bool = True,
    n_ubatch: int = DEFAULT_UBATCH,
) -> MemoryEstimate:
    """Everything a model (and its projector) needs at ``n_ctx`` tokens of context."""
    projector = projector_bytes + int(projector_bytes * PROJECTOR_SCRATCH_RATIO)
    return MemoryEstimate(
        n_ctx=n_ctx,
        weights=model_bytes,
        projector=projector,
        kv_cache=kv_cache_bytes(shape, n_ctx, swa_full=swa_full, n_ubatch=n_ubatch),
        compute=compute_bytes(shape, n_ctx, swa_full=swa_full, flash_attn=flash_attn, n_ubatch=n_ubatch),
        per_layer_embeddings=per_layer_embedding_bytes,
    )


def check_fit(
    model_bytes: int,
    shape: ModelShape,
    n_ctx: int,
    machine: MachineMemory,
    *,
    projector_bytes: int = 0,
    per_layer_embedding_bytes: int = 0,
    swa_full: bool = SWA_FULL_CACHE,
    flash_attn: bool = True,
    n_ubatch: int = DEFAULT_UBATCH,
    label: str = "This model",
) -> FitVerdict:
    """Say whether the model fits at ``n_ctx``: "fits", "tight" or "will not fit", in one sentence.

    "fits": it fits in the GPU's free memory, or in free RAM with headroom to spare.
    "tight": it fits in RAM only if other programs make room.  "will not fit": it needs more
    than the machine has.  Anything short of "fits" suggests the largest context that would fit,
    or a smaller quantisation or model when no context does.
    """

    def estimate_at(context: int) -> MemoryEstimate:
        return estimate_memory(
            model_bytes,
            shape,
            context,
            projector_bytes=projector_bytes,
            per_layer_embedding_bytes=per_layer_embedding_bytes,
            swa_full=swa_full,
            flash_attn=flash_attn,
            n_ubatch=n_ubatch,
        )

    estimate = estimate_at(n_ctx)
    level, on_gpu = _level(estimate, machine)
    # Every case is its own whole sentence, so a translation never has to join fragments.
    facts = {"name": label, "needed": ByteSize(estimate.total), "n_ctx": n_ctx}
    if level == "fits":
        if on_gpu:
            said = Sentence(
                "{name} needs about {needed} with {n_ctx} tokens of context and {free} is free on the "
                "GPU, so it fits.",
                free=ByteSize(_gpu_budget(machine) or 0),
                **facts,
            )
        else:
            said = Sentence(
                "{name} needs about {needed} with {n_ctx} tokens of context and {free} of memory is "
                "free, so it fits.",
                free=ByteSize(_ram_budget(machine)),
                **facts,
            )
        return FitVerdict(level, said, estimate, on_gpu)

    smaller = [c for c in CONTEXT_STEPS if c < n_ctx and _level(estimate_at(c), machine)[0] == "fits"]
    least_ctx = min(CONTEXT_STEPS[0], n_ctx)
    least = ByteSize(estimate_at(least_ctx).total)
    if level == "tight":
        free = ByteSize(_ram_budget(machine))
        if smaller:
            said = Sentence(
                "{name} needs about {needed} with {n_ctx} tokens of context but only {free} of memory "
                "is free, so close other programs first; a context of {smaller} tokens would fit, or "
                "choose a smaller quantisation.",
                free=free,
                smaller=smaller[-1],
                **facts,
            )
        else:
            said = Sentence(
                "{name} needs about {needed} with {n_ctx} tokens of context but only {free} of memory "
                "is free, so close other programs first; choose a smaller quantisation or model (even "
                "{least_ctx} tokens of context need {least}).",
                free=free,
                least_ctx=least_ctx,
                least=least,
                **facts,
            )
    elif smaller:
        said = Sentence(
            "{name} needs about {needed} with {n_ctx} tokens of context, more than this computer's "
            "{total} of memory; a context of {smaller} tokens would fit, or choose a smaller "
            "quantisation.",
            total=ByteSize(machine.total_ram),
            smaller=smaller[-1],
            **facts,
        )
    else:
        said = Sentence(
            "{name} needs about {needed} with {n_ctx} tokens of context, more than this computer's "
            "{total} of memory; choose a smaller quantisation or model (even {least_ctx} tokens of "
            "context need {least}).",
            total=ByteSize(machine.total_ram),
            least_ctx=least_ctx,
            least=least,
            **facts,
        )
    return FitVerdict(level, said, estimate, on_gpu)


def check_files_fit(
    model: ModelFile,
    mmproj: ProjectorFile | None,
    n_ctx: int,
    machine: MachineMemory,
    *,
    swa_full: bool = SWA_FULL_CACHE,
    flash_attn: bool = True,
) -> FitVerdict:
    """:func:`check_fit` for files on disk, from their GGUF metadata."""
    return check_fit(
        model.file_size,
        ModelShape.from_gguf(model),
        n_ctx,
        machine,
        projector_bytes=mmproj.file_size if mmproj else 0,
        per_layer_embedding_bytes=model.per_layer_embedding_bytes,
        swa_full=swa_full,
        flash_attn=flash_attn,
        label=model.display_name,
    )


def default_context(
    model_bytes: int,
    shape: ModelShape,
    machine: MachineMemory,
    *,
    projector_bytes: int = 0,
    flash_attn: bool = True,
) -> int:
    """The largest of 8K/16K/32K/64K/128K, up to the model's trained length, that keeps the
    estimate comfortably inside free memory (8K, or the model's own limit if smaller, when none
    does: the fit verdict then speaks for itself)."""
    limit = shape.context_length or DEFAULT_CONTEXT_STEPS[0]
    chosen = min(DEFAULT_CONTEXT_STEPS[0], limit)
    for n_ctx in DEFAULT_CONTEXT_STEPS:
        if n_ctx > limit:
            break
        total = estimate_memory(
            model_bytes, shape, n_ctx, projector_bytes=projector_bytes, flash_attn=flash_attn
        ).total
        gpu = _gpu_budget(machine)
        on_gpu = gpu is not None and total <= gpu * COMFORT_SHARE
        if on_gpu or total + FREE_HEADROOM <= _ram_budget(machine) * COMFORT_SHARE:
            chosen = n_ctx
    return chosen


def default_context_for_files(
    model: ModelFile, mmproj: ProjectorFile | None, machine: MachineMemory, *, flash_attn: bool = True
) -> int:
    """:func:`default_context` for files on disk, from their GGUF metadata."""
    return default_context(
        model.file_size,
        ModelShape.from_gguf(model),
        machine,
        projector_bytes=mmproj.file_size if mmproj else 0,
        flash_attn=flash_attn,
    )


def _ram_budget(machine: MachineMemory) -> int:
    if machine.available_ram is not None:
        return machine.available_ram
    return int(machine.total_ram * UNKNOWN_AVAILABLE_SHARE)


def _gpu_budget(machine: MachineMemory) -> int | None:
    if machine.unified:
        return None
    free = machine.gpu_free if machine.gpu_free is not None else machine.gpu_total
    return None if free is None else free - GPU_HEADROOM


def _os_reserve(total_ram: int) -> int:
    """What the system and a desktop keep for themselves even when the user closes everything."""
    return max(2 * GIB, int(total_ram * 0.15))


def _level(estimate: MemoryEstimate, machine: MachineMemory) -> tuple[FitLevel, bool]:
    """The level and whether the GPU holds it all; a model split between GPU and RAM is judged
    on RAM alone, which errs on the safe side."""
    total = estimate.total
    gpu = _gpu_budget(machine)
    if gpu is not None and estimate.gpu_total <= gpu:
        return "fits", True
    if total + FREE_HEADROOM <= _ram_budget(machine):
        return "fits", False
    if total <= machine.total_ram - _os_reserve(machine.total_ram):
        return "tight", False
    return "will not fit", False


# --- asking the machine -----------------------------------------------------------------------


def machine_memory() -> MachineMemory:
    """RAM (total and available) and, with an NVIDIA GPU, its memory; the only impure function."""
    memory = psutil.virtual_memory()
    total, available = int(memory.total), int(memory.available)
    unified = sys.platform == "darwin" and platform.machine() == "arm64"
    gpu = None if unified else _nvidia_gpus()
    if gpu is None:
        return MachineMemory(total_ram=total, available_ram=available, unified=unified)
    name, gpu_total, gpu_free = gpu
    return MachineMemory(total, available, gpu_total, gpu_free, name, unified)


def parse_nvidia_smi(text: str) -> tuple[str, int, int] | None:
    """(names, total, free) summed over GPUs from ``nvidia-smi --query-gpu=name,memory.total,
    memory.free --format=csv,noheader,nounits`` (MiB); llama.cpp splits a model across all."""
    names: list[str] = []
    total = free = 0
    for line in text.strip().splitlines():
        fields = [f.strip() for f in line.rsplit(",", 2)]
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
            continue
        names.append(fields[0])
        total += int(fields[1]) * MIB
        free += int(fields[2]) * MIB
    if not names:
        return None
    label = names[0] if len(names) == 1 else f"{len(names)} GPUs ({names[0]}, ...)"
    return label, total, free


def _nvidia_gpus() -> tuple[str, int, int] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(out.stdout) if out.returncode == 0 else None


def context_that_holds(
    model: ModelFile,
    mmproj: ProjectorFile | None,
    tokens: int,
    machine: MachineMemory,
    *,
    flash_attn: bool = True,
) -> int | None:
    """The smallest context step that holds ``tokens``, within the model's own limit, that the
    estimate says fits this computer; None when none does (for "a larger context" offers)."""
    limit = model.context_length or CONTEXT_STEPS[-1]
    for context in CONTEXT_STEPS:
        if tokens <= context <= limit:
            verdict = check_files_fit(model, mmproj, context, machine, flash_attn=flash_attn)
            return context if verdict.level == "fits" else None
    return None
