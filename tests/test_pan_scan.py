"""Pan & Scan end to end: modes, the prompt the model sees, and the tokens it costs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import llama_cpp
import pytest
from PIL import Image

from desktop_app.engine import prompt
from desktop_app.engine.images import pan_scan_for_backend, prepare_image, view_count
from desktop_app.engine.protocol import ChatMessage
from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings
from tests.support.cli import run_cli
from tests.support.data import Models


def _receipt(path: Path, size: tuple[int, int] = (300, 1200)) -> Path:
    """A tall, narrow 'receipt': the case Pan & Scan exists for."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.save(path)
    return path


@pytest.mark.parametrize(
    ("size", "mode", "views"),
    [
        ((300, 1200), "auto", 5),  # ratio 4: four 300x300 crops
        ((300, 1200), "off", 1),
        ((1000, 900), "auto", 1),  # ratio 1.11 is below the 1.2 threshold
        ((1000, 900), "on", 3),  # "on" drops the threshold: two halves of 500 px
        ((200, 800), "auto", 1),  # crops would be under 256 px
        ((4000, 1000), "on", 5),
    ],
)
def test_view_count_per_mode(size: tuple[int, int], mode: str, views: int) -> None:
    assert view_count(*size, mode) == views


def test_prompt_carries_the_whole_image_then_its_crops_with_the_reference_words(tmp_path: Path) -> None:
    receipt = prepare_image(_receipt(tmp_path / "receipt.png"))
    messages = [ChatMessage.user(receipt, "What is the total?")]
    text, images = prompt.render(messages, "", None, "auto")
    assert images[0] == receipt and len(images) == 5
    assert [(i.width, i.height) for i in images[1:]] == [(300, 300)] * 4
    assert len({i.sha256 for i in images}) == 5  # each crop is its own content-addressed image
    assert (
        prompt.PAN_SCAN_BEFORE + prompt.MEDIA_MARKER + prompt.PAN_SCAN_BETWEEN
        + " ".join([prompt.MEDIA_MARKER] * 4) + "What is the total?"
    ) in text
    plain, only = prompt.render(messages, "", None, "off")
    assert only == [receipt] and plain.count(prompt.MEDIA_MARKER) == 1


def test_the_default_is_off_on_a_cpu_and_auto_on_a_gpu() -> None:
    assert pan_scan_for_backend("default", "CPU") == "off"
    assert pan_scan_for_backend("default", "CUDA") == "auto"
    assert pan_scan_for_backend("default", "Metal") == "auto"
    assert pan_scan_for_backend("on", "CPU") == "on"  # a chosen mode is kept everywhere


def test_one_pictures_own_choice_wins_over_the_conversations(tmp_path: Path) -> None:
    receipt = prepare_image(_receipt(tmp_path / "receipt.png"))
    one_view = dataclasses.replace(receipt, pan_scan="off")
    _, scanned = prompt.render([ChatMessage.user(receipt, "Total?")], "", None, "auto")
    _, single = prompt.render([ChatMessage.user(one_view, "Total?")], "", None, "auto")
    _, views = prompt.render([ChatMessage.user(dataclasses.replace(receipt, pan_scan="auto"), "?")], "", None, "off")
    assert len(scanned) == 5 and len(single) == 1 and len(views) == 5
    assert one_view.sha256 == receipt.sha256  # the choice is not part of the picture's identity


def test_unknown_mode_is_refused_in_one_sentence() -> None:
    with pytest.raises(UserError, match="pan & scan"):
        GenerationSettings(pan_scan="sometimes").validate()


def test_a_tall_receipt_reaches_the_model_as_1_plus_n_views(models: Models, tmp_path: Path) -> None:
    receipt = _receipt(tmp_path / "receipt.png")
    common = ("ask", "--model", models.tiny, "--mmproj", models.mmproj, "--image", receipt,
              "--max-tokens", "4", "--ctx", "1024", "--json")
    default = run_cli(*common, "Total?")
    auto = run_cli(*common, "--pan-scan", "auto", "Total?")
    off = run_cli(*common, "--pan-scan", "off", "Total?")
    assert default.returncode == 0 and auto.returncode == 0 and off.returncode == 0, auto.stderr + off.stderr
    # The default follows the build: each view is another encode, slow on a CPU.
    default_views = 5 if llama_cpp.llama_supports_gpu_offload() else 1
    assert json.loads(default.stdout)["metrics"]["image_tokens"] == default_views * models.tokens_per_image
    assert json.loads(auto.stdout)["metrics"]["image_tokens"] == 5 * models.tokens_per_image
    assert json.loads(off.stdout)["metrics"]["image_tokens"] == models.tokens_per_image
    bad = run_cli(*common, "--pan-scan", "maybe", "Total?")
    assert bad.returncode == 2 and "maybe" in bad.stderr
