"""Gemma 3 prompt rendering: the built-in template must say exactly what the official one says."""

from __future__ import annotations

import pytest

from desktop_app.engine import prompt
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ChatMessage
from desktop_app.gguf_fixtures import GEMMA3_TEMPLATE


def _image(seed: int) -> PreparedImage:
    rgb = bytes([seed]) * 12
    return PreparedImage(width=2, height=2, rgb=rgb, sha256=f"{seed:064x}", source_name=f"{seed}.png")


CONVERSATIONS = [
    ([ChatMessage.user("Hi!")], ""),
    ([ChatMessage.user("Hi!")], "You are terse."),
    ([ChatMessage.user(_image(1), "What is this?")], ""),
    (
        [
            ChatMessage.user("Compare ", _image(1), " and ", _image(2), " please"),
            ChatMessage.assistant("  The first is red.  "),
            ChatMessage.user(_image(3), "And this one?"),
        ],
        "Answer briefly.",
    ),
]


@pytest.mark.parametrize(("messages", "system"), CONVERSATIONS)
def test_built_in_template_matches_the_official_gemma3_template(messages, system) -> None:
    builtin, images_a = prompt.render(messages, system, None)
    official, images_b = prompt.render(messages, system, GEMMA3_TEMPLATE)
    assert builtin == official
    assert images_a == images_b


def test_system_prompt_is_folded_into_the_first_user_turn_only() -> None:
    messages = [ChatMessage.user("one"), ChatMessage.assistant("two"), ChatMessage.user("three")]
    text, images = prompt.render(messages, "Be kind.", None)
    assert images == []
    assert text == (
        "<bos><start_of_turn>user\nBe kind.\n\none<end_of_turn>\n"
        "<start_of_turn>model\ntwo<end_of_turn>\n"
        "<start_of_turn>user\nthree<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_images_become_media_markers_in_the_order_given() -> None:
    a, b, c = _image(1), _image(2), _image(3)
    messages = [ChatMessage.user("x", a, "y", b), ChatMessage.assistant("ok"), ChatMessage.user(c)]
    text, images = prompt.render(messages, "", None)
    assert images == [a, b, c]
    assert text.count(prompt.MEDIA_MARKER) == 3
    assert text.index("x") < text.index(prompt.MEDIA_MARKER) < text.index("y")


def test_roles_that_do_not_alternate_are_a_bug_not_a_prompt() -> None:
    with pytest.raises(ValueError):
        prompt.render([ChatMessage.user("a"), ChatMessage.user("b")], "", None)
    with pytest.raises(Exception, match="alternate"):
        prompt.render([ChatMessage.user("a"), ChatMessage.user("b")], "", GEMMA3_TEMPLATE)
