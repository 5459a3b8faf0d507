"""Chat templates from GGUF files are untrusted code: each hostile kind costs one sentence, never a
hang or an "internal failure", and the built-in Gemma 3 template takes over.

The time bound is tested with a shorter limit than the app's (the outcome is checked, never the
clock); the engine tests at the end run the same templates inside the real engine process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from pytestqt.qtbot import QtBot

from desktop_app import gguf_fixtures
from desktop_app.engine import chat_template, prompt
from desktop_app.engine.chat_template import TemplateFailure, render_template
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ChatMessage, Done, LoadRequest, ModelLoaded
from desktop_app.errors import UserError
from desktop_app.gguf_fixtures import GEMMA3_TEMPLATE
from desktop_app.settings import GenerationSettings, RuntimeSettings
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from tests.support.cli import run_cli
from tests.support.window import send, stored, wait_done, wait_ready

OK_PREFIX = "{{ bos_token }}{% for m in messages %}{{ m['content'][0]['text'] }}{% endfor %}"

NESTED_LOOPS = (
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}" + OK_PREFIX
)
"""10**10 steps: minutes of work for an unbounded render (ENGINE-FACTS.md)."""

RECURSION = "limits|time"
"""Python's recursion limit, or the deadline on a machine slow enough to reach it first."""

HOSTILE: dict[str, tuple[str, str]] = {
    # name: (template, the problem it must be reported as; "a|b": either)
    "raises": ("{{ raise_exception('This template refuses every conversation') }}", "raised"),
    "reads __class__": ("{{ ''.__class__ }}" + OK_PREFIX, "sandbox"),
    "walks to os via __mro__": (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}" + OK_PREFIX,
        "sandbox",
    ),
    "reaches globals of a function": ("{{ raise_exception.__globals__ }}" + OK_PREFIX, "sandbox"),
    "nested 100,000-step loops": (NESTED_LOOPS, "time"),
    "loop whose filter rejects everything": (
        "{% for i in range(100000) %}{% for j in range(100000) if j < 0 %}{% endfor %}{% endfor %}",
        "time",
    ),
    "macro that calls itself": ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", RECURSION),
    "recursive loop": ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", RECURSION),
    "string doubled in a loop": (
        "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "limits",
    ),
    "string multiplied by a billion": ("{{ 'x' * 1000000000 }}", "limits"),
    "list multiplied by a billion": ("{{ ([1] * 1000000000)|length }}", "limits"),
    "giant power": ("{{ 10 ** 100000000 }}", "limits"),
    "centred to a billion columns": ("{{ 'x'|center(1000000000) }}", "limits"),
    "percent format a billion wide": ("{{ '%1000000000d' % 1 }}", "limits"),
    "str.format a billion wide": ("{{ '{:>1000000000}'.format(1) }}", "limits"),
    "replace into ten million characters": ("{{ ('x' * 1000000).replace('x', 'yyyyyyyyyy') }}", "limits"),
    "a format field repeated 300,000 times": ("{{ ('{0}' * 300000).format('x' * 100000) }}", "limits"),
    "one long string joined five times": ("{% set b = 'x' * 900000 %}{{ [b, b, b, b, b]|join }}", "limits"),
    "one long string printed in a list": ("{% set b = 'x' * 900000 %}{{ [b, b, b, b, b] }}", "limits"),
    "one long string in a list, with ~": ("{% set b = 'x' * 900000 %}{{ '' ~ [b, b, b, b, b] }}", "limits"),
    "one long string in a list, as JSON": ("{% set b = 'x' * 900000 %}{{ [b, b, b, b, b]|tojson }}", "limits"),
    "a list of it, repeated": ("{% set b = 'x' * 900000 %}{{ ([b] * 100000)|length }}", "limits"),
    "indenting many lines far": ("{{ ('\\n' * 900000)|indent(100000) }}", "limits"),
    "a lorem ipsum generator": ("{{ lipsum(1000000) }}", "broken"),
    "output without end": (
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "limits",
    ),
    "syntax error": ("{% for m in messages %}", "broken"),
    "undefined variable used": ("{{ nothing.at.all }}", "broken"),
    "division by zero": ("{{ 1 // 0 }}", "broken"),
    "includes another file": ("{% include 'other.j2' %}", "broken"),
    "drops the user's words": ("{{ bos_token }}<start_of_turn>model\n", "not a prompt"),
    "blank output": ("{{ ' ' }}", "not a prompt"),
    "loses the image": (
        "{{ bos_token }}{% for m in messages %}{% for c in m['content'] %}"
        "{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}",
        "not a prompt",
    ),
    "doubles the image": (
        "{% for m in messages %}{% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<start_of_image><start_of_image>{% else %}{{ c['text'] }}"
        "{% endif %}{% endfor %}{% endfor %}",
        "not a prompt",
    ),
}


def _image() -> PreparedImage:
    return PreparedImage.from_rgb(2, 2, bytes(12), "red.png")


MESSAGES = [ChatMessage.user(_image(), "What colour is this square?")]


@pytest.fixture(autouse=True)
def _short_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenth of the app's limit keeps the looping templates' share of the suite short."""
    monkeypatch.setattr(chat_template, "TIME_LIMIT_S", 0.2)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_is_stopped_and_named(name: str) -> None:
    source, problem = HOSTILE[name]
    with pytest.raises(TemplateFailure) as caught:
        prompt.render(MESSAGES, "", source, "off")
    assert caught.value.problem in problem.split("|")


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_costs_one_sentence_and_the_built_in_template_answers(name: str) -> None:
    chat_format = prompt.ChatFormat(HOSTILE[name][0], "evil-gemma.gguf")
    text, images, said = chat_format.render(MESSAGES, "", "off")
    assert (text, images) == prompt.render(MESSAGES, "", None, "off")
    assert said is not None
    notice = str(said)
    assert notice.startswith("The chat template in 'evil-gemma.gguf' ")
    assert notice.endswith("uses its built-in Gemma 3 template instead.")
    assert "\n" not in notice and "internal" not in notice
    # Said once: later conversations use the built-in template without another word.
    assert chat_format.render(MESSAGES, "", "off")[2] is None


def test_each_problem_has_its_own_sentence() -> None:
    problems: tuple[chat_template.Problem, ...] = get_args(chat_template.Problem)
    assert {problem for _, named in HOSTILE.values() for problem in named.split("|")} == set(problems)
    sentences = {
        problem: str(chat_template.fallback_notice(TemplateFailure(problem, "why"), "m.gguf")) for problem in problems
    }
    assert len(set(sentences.values())) == len(sentences) == 6
    assert "'why'" in sentences["raised"] and "sandbox" in sentences["sandbox"]
    assert "more than why seconds" in sentences["time"]


def test_the_template_raising_quotes_its_own_words() -> None:
    chat_format = prompt.ChatFormat(HOSTILE["raises"][0], "m.gguf")
    said = chat_format.check()
    assert said is not None and "('This template refuses every conversation')" in str(said)


def test_the_official_template_passes_every_check_and_matches_the_built_in_one() -> None:
    chat_format = prompt.ChatFormat(GEMMA3_TEMPLATE, "gemma.gguf")
    assert chat_format.check() is None
    text, _images, notice = chat_format.render(MESSAGES, "Be brief.", "off")
    assert notice is None and text == prompt.render(MESSAGES, "Be brief.", None, "off")[0]
    assert chat_format.template == GEMMA3_TEMPLATE


def test_a_long_honest_conversation_is_within_the_limits() -> None:
    # 400 turns of 5,000 characters: 2 MB of conversation, more than the least size bound.
    words = "word " * 1000
    messages = [
        ChatMessage.user(words) if n % 2 == 0 else ChatMessage.assistant(words) for n in range(401)
    ]
    text = render_template(
        GEMMA3_TEMPLATE,
        {
            "messages": [{"role": m.role, "content": m.text} for m in messages],
            "bos_token": "<bos>",
            "add_generation_prompt": True,
        },
        input_chars=sum(len(m.text) for m in messages),
    )
    assert text.count("<start_of_turn>") == 402


PICKY = (
    "{% if 'boom' in messages[-1]['content'][0]['text'] %}{{ raise_exception('no boom') }}{% endif %}"
    + GEMMA3_TEMPLATE
)
"""Works until a message says "boom"."""


def test_a_template_may_fail_on_one_conversation_only() -> None:
    chat_format = prompt.ChatFormat(PICKY, "picky.gguf")
    assert chat_format.check() is None
    assert chat_format.render([ChatMessage.user("hello")], "", "off")[2] is None
    _, _, said = chat_format.render([ChatMessage.user("boom")], "", "off")
    assert said is not None and "'picky.gguf'" in str(said) and "no boom" in str(said)


# --- inside the engine process --------------------------------------------------------------

RUNTIME = RuntimeSettings(n_ctx=512, n_threads=2)


@pytest.fixture(scope="module")
def hostile_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    return {
        name: gguf_fixtures.write_tiny_gemma3_model(root / f"{slug}.gguf", chat_template=source)
        for name, slug, source in (
            ("raises", "raising", HOSTILE["raises"][0]),
            ("escapes", "escaping", HOSTILE["walks to os via __mro__"][0]),
            ("loops", "looping", NESTED_LOOPS),
            ("picky", "picky", PICKY),
        )
    }


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("raises", "stopped with its own error"),
        ("escapes", "outside its sandbox"),
        ("loops", "ran for more than 2 seconds"),
    ],
)
def test_the_engine_reports_a_hostile_template_at_load_and_still_answers(
    hostile_models: dict[str, Path], name: str, words: str
) -> None:
    model = hostile_models[name]
    with EngineClient() as client:
        client.load(LoadRequest.of(model, None, RUNTIME))
        loaded = client.wait_loaded(timeout=120)
        assert isinstance(loaded, ModelLoaded), loaded
        assert loaded.notice is not None and f"'{model.name}'" in str(loaded.notice) and words in str(loaded.notice)
        events = list(client.stream([ChatMessage.user("Hi")], "", GenerationSettings(max_tokens=4, seed=1)))
    done = events[-1]
    assert isinstance(done, Done) and done.notice is None
    assert done.metrics.prompt_tokens > 0 and done.metrics.decode_tokens > 0


def test_the_engine_reports_a_template_that_fails_on_one_conversation_with_that_reply(
    hostile_models: dict[str, Path],
) -> None:
    model = hostile_models["picky"]
    settings = GenerationSettings(max_tokens=4, seed=1)
    with EngineClient() as client:
        client.load(LoadRequest.of(model, None, RUNTIME))
        loaded = client.wait_loaded(timeout=120)
        assert isinstance(loaded, ModelLoaded) and loaded.notice is None
        first = list(client.stream([ChatMessage.user("Hi")], "", settings))[-1]
        assert isinstance(first, Done) and first.notice is None
        history = [ChatMessage.user("Hi"), ChatMessage.assistant(first.text), ChatMessage.user("boom")]
        second = list(client.stream(history, "", settings))[-1]
        third = list(client.stream([ChatMessage.user("boom")], "", settings))[-1]
    assert isinstance(second, Done), second
    assert second.notice is not None and "'picky.gguf'" in str(second.notice) and "no boom" in str(second.notice)
    assert isinstance(third, Done) and third.notice is None


def test_ask_says_the_template_was_set_aside_and_answers(hostile_models: dict[str, Path]) -> None:
    result = run_cli(
        "ask", "--model", hostile_models["escapes"], "--ctx", "512", "--max-tokens", "4", "--seed", "1",
        "--json", "Hi",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["decode_tokens"] == 4
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("note: The chat template in 'escaping.gguf' tried to reach outside its sandbox")


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_window_shows_the_sentence_and_the_reply_arrives(
    qtbot: QtBot, window: MainWindow, hostile_models: dict[str, Path]
) -> None:
    window.model_controller.open(ModelChoice(hostile_models["raises"]))
    wait_ready(qtbot, window)
    assert window.notice.isVisible()
    assert "'raising.gguf' stopped with its own error" in window.notice.label.text()
    send(qtbot, window, "Hi", seed=1, max_tokens=4)
    wait_done(qtbot, window)
    assert stored(window)[-1].finish_reason == "length"


@pytest.mark.parametrize(
    "name", ["raises", "nested 100,000-step loops", "walks to os via __mro__", "drops the user's words"]
)
def test_a_gemma_4_template_has_no_stand_in_so_its_failure_is_one_sentence(name: str) -> None:
    # Gemma 4 writes its turns differently: the built-in Gemma 3 template would be wrong.
    chat_format = prompt.ChatFormat(HOSTILE[name][0], "gemma-4-e4b.gguf", "gemma4")
    with pytest.raises(UserError) as caught:
        chat_format.check()
    sentence = str(caught.value)
    assert sentence.startswith("The chat template in 'gemma-4-e4b.gguf' ") and "cannot be used" in sentence
    assert "\n" not in sentence


def test_gemma_3n_falls_back_like_gemma_3() -> None:
    chat_format = prompt.ChatFormat(HOSTILE["raises"][0], "gemma-3n-e4b.gguf", "gemma3n")
    assert chat_format.check() is not None and chat_format.template is None
