"""Gemma 3 prompt text: the one place that knows the chat format.

The GGUF's own ``tokenizer.chat_template`` is used when the file has one (rendered with a
sandboxed Jinja, as Hugging Face does); otherwise a built-in rendering of Gemma 3's official
template.  Either way each image becomes the media marker that llama.cpp's mtmd splits on, in the
order the user gave the images, and mtmd itself wraps it in ``<start_of_image>``/``<end_of_image>``.
Gemma 3 has no system role: the system prompt is folded into the first user turn.

Pan & Scan (Gemma 3's answer to text in tall or wide images, which llama.cpp lacks) is applied
here: the rules are in :func:`desktop_app.engine.images.pan_and_scan_crops`, the wording around
the crops follows the reference processor.  Crops are ordinary prepared images with their own
content hash, so the embedding cache and KV reuse treat them like any image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from desktop_app.engine.images import PreparedImage, crop_prepared, pan_scan_boxes
from desktop_app.engine.protocol import ChatMessage

if TYPE_CHECKING:
    from jinja2 import Template

MEDIA_MARKER = "<__media__>"
"""Placeholder mtmd replaces with an image's embeddings (set explicitly in the mtmd params)."""
START_OF_IMAGE = "<start_of_image>"
END_OF_TURN = "<end_of_turn>"
BOS = "<bos>"


PAN_SCAN_BEFORE = "Here is the original image "
PAN_SCAN_BETWEEN = " and here are some crops to help you see better "
"""The words Gemma 3's reference processor (transformers' ``Gemma3Processor``) puts around an
image and its Pan & Scan crops; the crops follow the whole image, separated by spaces."""


def render(
    messages: Sequence[ChatMessage],
    system_prompt: str = "",
    template: str | None = None,
    pan_scan: str = "off",
) -> tuple[str, list[PreparedImage]]:
    """Prompt text ending with the model's turn opened, and the images in marker order.

    The text starts with ``<bos>``; tokenize it with special tokens parsed and without adding
    another BOS.  With Pan & Scan, an image that qualifies is followed by its crops.
    """
    originals = [image for message in messages for image in message.images]
    text = (
        _render_jinja(template, messages, system_prompt)
        if template
        else _render_builtin(messages, system_prompt)
    )
    if text.count(MEDIA_MARKER) != len(originals):
        raise ValueError(
            f"chat template placed {text.count(MEDIA_MARKER)} images, expected {len(originals)}"
        )
    pieces = text.split(MEDIA_MARKER)
    out = [pieces[0]]
    images: list[PreparedImage] = []
    for image, after in zip(originals, pieces[1:], strict=True):
        crops = _crops(image, pan_scan)
        if crops:
            out.append(PAN_SCAN_BEFORE + MEDIA_MARKER + PAN_SCAN_BETWEEN)
            out.append(" ".join([MEDIA_MARKER] * len(crops)))
        else:
            out.append(MEDIA_MARKER)
        out.append(after)
        images += [image, *crops]
    return "".join(out), images


_crop_cache: OrderedDict[tuple[str, str], list[PreparedImage]] = OrderedDict()


def image_views(image: PreparedImage, pan_scan: str) -> list[PreparedImage]:
    """What the model sees of one picture: the picture, then its Pan & Scan crops."""
    return [image, *_crops(image, pan_scan)]


def _crops(image: PreparedImage, pan_scan: str) -> list[PreparedImage]:
    """Pan & Scan crops, remembered: every turn re-renders the images of the whole history.
    The picture's own mode, if it has one, wins over the conversation's ``pan_scan``."""
    mode = image.pan_scan or pan_scan
    key = (image.sha256, mode)
    if key not in _crop_cache:
        boxes = pan_scan_boxes(image.width, image.height, mode)
        _crop_cache[key] = [crop_prepared(image, box) for box in boxes]
        while len(_crop_cache) > 64:
            _crop_cache.popitem(last=False)
    return _crop_cache[key]


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
    rendered: str = _compile(template).render(
        messages=hf_messages, bos_token=BOS, eos_token="<eos>", add_generation_prompt=True
    )
    # The official template writes <start_of_image> where an image goes; mtmd adds its own
    # <start_of_image>...<end_of_image> around the embeddings, so the marker replaces it.
    return rendered.replace(START_OF_IMAGE, MEDIA_MARKER)


@lru_cache(maxsize=4)
def _compile(template: str) -> Template:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
