"""Gemma 3 prompt text: the one place that knows the chat format.

The GGUF's own ``tokenizer.chat_template`` is used when the file has one (rendered with a
sandboxed Jinja, as Hugging Face does); otherwise a built-in rendering of Gemma 3's official
template.  Either way each image becomes the media marker that llama.cpp's mtmd splits on, in the
order the user gave the images, and mtmd itself wraps it in ``<start_of_image>``/``<end_of_image>``.
Gemma 3 has no system role: the system prompt is folded into the first user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ChatMessage

MEDIA_MARKER = "<__media__>"
"""Placeholder mtmd replaces with an image's embeddings (set explicitly in the mtmd params)."""
START_OF_IMAGE = "<start_of_image>"
END_OF_TURN = "<end_of_turn>"
BOS = "<bos>"


def render(
    messages: Sequence[ChatMessage], system_prompt: str = "", template: str | None = None
) -> tuple[str, list[PreparedImage]]:
    """Prompt text ending with the model's turn opened, and the images in marker order.

    The text starts with ``<bos>``; tokenize it with special tokens parsed and without adding
    another BOS.
    """
    images = [image for message in messages for image in message.images]
    text = (
        _render_jinja(template, messages, system_prompt)
        if template
        else _render_builtin(messages, system_prompt)
    )
    if text.count(MEDIA_MARKER) != len(images):
        raise ValueError(
            f"chat template placed {text.count(MEDIA_MARKER)} images, expected {len(images)}"
        )
    return text, images


def _render_builtin(messages: Sequence[ChatMessage], system_prompt: str) -> str:
    """Gemma 3's official template, written out: what the GGUF would say if it had one."""
    out = [BOS]
    system = system_prompt.strip()
    for index, message in enumerate(messages):
        role = "model" if message.role == "assistant" else "user"
        if (index % 2 == 0) != (message.role == "user"):
            raise ValueError("conversation roles must alternate user/assistant/user/...")
        out.append(f"<start_of_turn>{role}\n")
        if index == 0 and system:
            out.append(f"{system}\n\n")
        for part in message.parts:
            out.append(MEDIA_MARKER if isinstance(part, PreparedImage) else part.strip())
        out.append(f"{END_OF_TURN}\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def _render_jinja(template: str, messages: Sequence[ChatMessage], system_prompt: str) -> str:
    """Render the GGUF's template with Hugging Face's message shape, then mark the images."""
    hf_messages: list[dict[str, object]] = []
    if system_prompt.strip():
        hf_messages.append(
            {"role": "system", "content": [{"type": "text", "text": system_prompt.strip()}]}
        )
    for message in messages:
        content = [
            {"type": "image"} if isinstance(p, PreparedImage) else {"type": "text", "text": p}
            for p in message.parts
        ]
        hf_messages.append({"role": message.role, "content": content})
    rendered = _compile(template).render(
        messages=hf_messages, bos_token=BOS, eos_token="<eos>", add_generation_prompt=True
    )
    # The official template writes <start_of_image> where an image goes; mtmd adds its own
    # <start_of_image>...<end_of_image> around the embeddings, so the marker replaces it.
    return rendered.replace(START_OF_IMAGE, MEDIA_MARKER)


@lru_cache(maxsize=4)
def _compile(template: str):  # type: ignore[no-untyped-def]
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
