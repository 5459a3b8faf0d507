"""Gemma 3n and Gemma 4 through the real engine process: their templates, images through their
projectors at the cost the window shows, thinking told apart from the answer with the reply
budget on the answer, Pan & Scan kept to Gemma 3, and the headless contract (``ask --think``,
``selftest --arch``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.engine import prompt
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import ChatMessage, Done, EngineError, LoadRequest, ModelLoaded, Token
from desktop_app.gguf_fixtures import GEMMA4_TEMPLATE
from desktop_app.models.gemma_files import inspect_projector
from desktop_app.settings import GenerationSettings, RuntimeSettings
from desktop_app.thoughts import join_reply, split_reply, unanswered
from tests.support.cli import run_cli
from tests.support.data import FamilyModels, Models

RUNTIME = RuntimeSettings(n_ctx=2048, n_threads=2)
GREEDY = GenerationSettings(temperature=0.0, max_tokens=32)


def _load(
    client: EngineClient, model: Path, mmproj: Path | None, runtime: RuntimeSettings = RUNTIME
) -> ModelLoaded:
    client.load(LoadRequest.of(model, mmproj, runtime))
    loaded = client.wait_loaded(timeout=120)
    assert isinstance(loaded, ModelLoaded), loaded
    return loaded


def _ask(
    client: EngineClient, messages: list[ChatMessage], settings: GenerationSettings, system: str = ""
) -> tuple[str, Done]:
    streamed = ""
    for event in client.stream(messages, system, settings):
        if isinstance(event, Token):
            streamed += event.text
        elif isinstance(event, Done):
            assert event.text == streamed
            return streamed, event
        elif isinstance(event, EngineError):
            raise AssertionError(event.message)
    raise AssertionError("no Done")


@pytest.fixture(scope="module")
def thinker(family: FamilyModels) -> Iterator[EngineClient]:
    with EngineClient() as client:
        loaded = _load(client, family.gemma4_thinking, family.gemma4_mmproj)
        assert loaded.thinks and loaded.capabilities.thinking and loaded.has_vision
        yield client


def test_a_thought_comes_apart_from_the_answer(
    thinker: EngineClient, image_file: Path, family: FamilyModels
) -> None:
    image = prepare_image(image_file)
    thinking = GenerationSettings(temperature=0.0, max_tokens=32, think=True)
    text, done = _ask(thinker, [ChatMessage.user(image, "What is in this picture?")], thinking)
    reply = split_reply(text)
    assert (reply.thought, reply.answer, reply.thinking) == ("the picture is", "Hello yes", False)
    assert done.finish_reason == "stop"
    assert done.metrics.thought_tokens == 4  # <|channel> and three words
    # The image went through the Gemma 4 projector at the cost the window shows before sending.
    assert done.metrics.image_tokens == inspect_projector(family.gemma4_mmproj).image_tokens(image.width, image.height)


def test_thinking_off_answers_straight_away(thinker: EngineClient) -> None:
    text, done = _ask(thinker, [ChatMessage.user("hi")], GREEDY)
    assert text == "Hello yes" and done.metrics.thought_tokens == 0


def test_the_reply_budget_applies_to_the_answer(thinker: EngineClient) -> None:
    """One token of answer allowed: the whole thought is still written, then one word."""
    one_word = GenerationSettings(temperature=0.0, max_tokens=1, think=True)
    text, done = _ask(thinker, [ChatMessage.user("hi")], one_word)
    reply = split_reply(text)
    assert (reply.thought, reply.answer, done.finish_reason) == ("the picture is", "Hello", "length")
    assert unanswered(reply, done.finish_reason) is None


def test_a_context_filled_while_thinking_is_said_in_one_sentence(family: FamilyModels) -> None:
    with EngineClient() as client:
        _load(client, family.gemma4_thinking, None, RuntimeSettings(n_ctx=256, n_threads=2))
        long_question = "the " * 230  # 253 prompt tokens: room for the thought to start, not to end
        thinking = GenerationSettings(temperature=0.0, think=True)
        text, done = _ask(client, [ChatMessage.user(long_question)], thinking)
    reply = split_reply(text)
    assert done.finish_reason == "context" and reply.thinking and not reply.answer
    problem = unanswered(reply, done.finish_reason)
    assert problem is not None and "still thinking when the context filled up" in str(problem)


def test_an_earlier_thought_is_not_sent_back() -> None:
    earlier = join_reply("the picture is", "Hello yes")
    text, _ = prompt.render(
        [ChatMessage.user("hi"), ChatMessage.assistant(earlier), ChatMessage.user("and now?")],
        "Be brief.",
        GEMMA4_TEMPLATE,
        think=True,
    )
    assert "the picture is" not in text and "Hello yes" in text
    assert text.startswith("<bos><|turn>system\n<|think|>\nBe brief.<turn|>\n")
    assert text.endswith("<|turn>model\n")  # thinking on: no empty thought channel
    off, _ = prompt.render([ChatMessage.user("hi")], "", GEMMA4_TEMPLATE)
    assert off.endswith("<|turn>model\n<|channel>thought\n<channel|>")


def test_gemma3n_answers_about_a_picture(family: FamilyModels, image_file: Path) -> None:
    with EngineClient() as client:
        loaded = _load(client, family.gemma3n, family.gemma3n_mmproj)
        assert loaded.has_vision and not loaded.thinks
        image = prepare_image(image_file)
        _, done = _ask(client, [ChatMessage.user(image, "What is this?")], GREEDY)
    assert done.metrics.image_tokens == 16 and done.metrics.decode_tokens >= 1


def test_pan_and_scan_stays_with_gemma3(
    thinker: EngineClient, family: FamilyModels, models: Models, tmp_path: Path
) -> None:
    from PIL import Image

    wide = tmp_path / "wide.png"
    Image.linear_gradient("L").resize((1200, 300)).convert("RGB").save(wide)
    image = prepare_image(wide)
    crops_on = GenerationSettings(temperature=0.0, max_tokens=2, pan_scan="on")
    _, done = _ask(thinker, [ChatMessage.user(image, "hi")], crops_on)
    assert done.metrics.image_tokens == inspect_projector(family.gemma4_mmproj).image_tokens(1200, 300)
    with EngineClient() as client:  # Gemma 3 still reads the crops
        _load(client, models.tiny, models.mmproj)
        _, done3 = _ask(client, [ChatMessage.user(image, "hi")], GenerationSettings(max_tokens=2, pan_scan="on"))
    assert done3.metrics.image_tokens > models.tokens_per_image


# ----------------------------------------------------------------- the headless contract


def test_ask_think_on_streams_the_thought_to_stderr(family: FamilyModels) -> None:
    result = run_cli("ask", "--model", family.gemma4_thinking, "--think", "on", "--temperature", "0", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello yes"
    assert "Thinking: the picture is" in result.stderr


def test_ask_think_json_has_the_thought_beside_the_answer(family: FamilyModels, image_file: Path) -> None:
    result = run_cli(
        "ask", "--model", family.gemma4_thinking, "--mmproj", family.gemma4_mmproj, "--image", image_file,
        "--think", "on", "--temperature", "0", "--json", "What is this?",
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert (reply["thought"], reply["text"], reply["finish_reason"]) == ("the picture is", "Hello yes", "stop")
    assert reply["metrics"]["thought_tokens"] == 4
    off = json.loads(run_cli("ask", "--model", family.gemma4_thinking, "--think", "off", "--json", "hi").stdout)
    assert off["text"] == "Hello yes" and "thought" not in off  # the shape of every other reply


def test_ask_think_on_with_a_model_that_does_not_think_is_one_sentence(models: Models) -> None:
    result = run_cli("ask", "--model", models.tiny, "--think", "on", "hi")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: tiny-gemma3.gguf is a Gemma 3 model, which does not think; leave --think off."
    )


def test_ask_with_a_gemma4_model_and_a_gemma3_projector_is_one_sentence(
    family: FamilyModels, models: Models, image_file: Path
) -> None:
    result = run_cli("ask", "--model", family.gemma4, "--mmproj", models.mmproj, "--image", image_file, "hi")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "made for Gemma 3 models but tiny-gemma4.gguf is a Gemma 4 model" in result.stderr


def test_models_list_shows_the_family_with_what_each_can_do() -> None:
    listing = run_cli("models", "list").stdout
    e2b = next(line for line in listing.splitlines() if "gemma-4-e2b-it-q8_0" in line)
    assert "Gemma 4, text, images and thinking" in e2b
    assert "Recommended for this computer: gemma-3-" in listing  # the first run stays on Gemma 3


@pytest.mark.parametrize("arch", ["gemma3", "gemma3n", "gemma4"])
def test_selftest_proves_each_architecture(arch: str) -> None:
    result = run_cli("selftest", "--arch", arch, "--no-qt", "--json", timeout=240)
    facts = json.loads(result.stdout)
    assert result.returncode == 0 and facts["ok"], facts
    assert facts["arch"] == arch and facts["metrics"]["image_tokens"] > 0
    if arch == "gemma4":
        assert (facts["thought"], facts["answer"]) == ("the picture is", "Hello yes")
