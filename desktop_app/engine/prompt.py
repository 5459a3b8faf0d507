"""Gemma prompt text: the one place that knows the chat format.

The GGUF's own ``tokenizer.chat_template`` is used when the file has one (rendered with a
sandboxed Jinja, as Hugging Face does); otherwise a built-in rendering of Gemma 3's official
template (Gemma 3n's is the same but for its media tokens).  Either way each image becomes the
media marker that llama.cpp's mtmd splits on, in the order the user gave the images, and mtmd
itself wraps it in the model's image delimiters.  Gemma 3 and 3n have no system role (their
templates fold the system prompt into the first user turn); Gemma 4 has one, and a thinking
switch the template reads as ``enable_thinking``.  A reply's thought is never sent back: history
carries the answer only (:mod:`desktop_app.thoughts`).

A document enters the user turn at its place as the block :func:`documents.document_parts`
writes (its name, page markers, and its scanned pages as images).  Its words are wrapped in
:data:`DOCUMENT_START`/:data:`DOCUMENT_END` in the rendered text, so the engine tokenizes them as
plain text: a PDF quoting ``<end_of_turn>`` or a source file holding ``<__media__>`` is read as
written and can neither end the user's turn nor stand for an image.

Pan & Scan (Gemma 3's answer to text in tall or wide images, which llama.cpp lacks) is applied
here: the rules are in :func:`desktop_app.engine.images.pan_and_scan_crops`, the wording around
the crops follows the reference processor.  Crops are ordinary prepared images with their own
content hash, so the embedding cache and KV reuse treat them like any image.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from desktop_app.engine.documents import PreparedDocument, document_parts
from desktop_app.engine.images import PreparedImage, crop_prepared, pan_scan_boxes
from desktop_app.engine.protocol import ChatMessage, Part
from desktop_app.thoughts import split_reply

if TYPE_CHECKING:
    from jinja2 import Template

MEDIA_MARKER = "<__media__>"
"""Placeholder mtmd replaces with an image's embeddings (set explicitly in the mtmd params)."""
IMAGE_PLACEHOLDERS = ("<start_of_image>", "<image_soft_token>", "<|image|>")
"""What the official templates write where an image goes: Gemma 3, Gemma 3n, Gemma 4."""
END_OF_TURN = "<end_of_turn>"
GEMMA4_END_OF_TURN = "<turn|>"
BOS = "<bos>"

DOCUMENT_START = "\x02"
DOCUMENT_END = "\x03"
"""Around a document's words in the rendered text (ASCII STX/ETX).  Document preparation removes
control characters from every document and :func:`render` from typed text, so these are ours."""
_DOCUMENT_SPAN = re.compile(f"({DOCUMENT_START}.*?{DOCUMENT_END})", re.DOTALL)


PAN_SCAN_BEFORE = "Here is the original image "
PAN_SCAN_BETWEEN = " and here are some crops to help you see better "
"""The words Gemma 3's reference processor (transformers' ``Gemma3Processor``) puts around an
image and its Pan & Scan crops; the crops follow the whole image, separated by spaces."""


def render(
    messages: Sequence[ChatMessage],
    system_prompt: str = "",
    template: str | None = None,
    pan_scan: str = "off",
    think: bool = False,
) -> tuple[str, list[PreparedImage]]:
    """Prompt text ending with the model's turn opened, and the images in marker order.

    The text starts with ``<bos>``; tokenize it (see :func:`segments`) with special tokens parsed
    outside documents and without adding another BOS.  With Pan & Scan, an image that qualifies
    is followed by its crops.  A document's scanned pages are images like any other.  ``think``
    asks a model whose template has the switch to think before answering.
    """
    messages = [_with_documents_expanded(_without_thought(message)) for message in messages]
    originals = [image for message in messages for image in message.images]
    text = (
        _render_jinja(template, messages, system_prompt, think)
        if template
        else _render_builtin(messages, system_prompt)
    )
    pieces = _pieces(text)
    placed = pieces.count(None)
    if placed != len(originals):
        raise ValueError(f"chat template placed {placed} images, expected {len(originals)}")
    queue = iter(originals)
    out: list[str] = []
    images: list[PreparedImage] = []
    for piece in pieces:
        if piece is not None:
            out.append(piece)
            continue
        image = next(queue)
        crops = _crops(image, pan_scan)
        if crops:
            out.append(PAN_SCAN_BEFORE + MEDIA_MARKER + PAN_SCAN_BETWEEN)
            out.append(" ".join([MEDIA_MARKER] * len(crops)))
        else:
            out.append(MEDIA_MARKER)
        images += [image, *crops]
    return "".join(out), images


def segments(text: str) -> list[tuple[str, bool]]:
    """The rendered text in order as (piece, is_document_text); empty pieces left out."""
    out: list[tuple[str, bool]] = []
    for index, chunk in enumerate(text.split(DOCUMENT_START)):
        inside, _, after = chunk.partition(DOCUMENT_END) if index else ("", "", chunk)
        out += [(piece, is_document) for piece, is_document in ((inside, True), (after, False)) if piece]
    return out


def readable(text: str, images: Sequence[PreparedImage]) -> str:
    """The rendered prompt as a person reads it: documents' delimiters dropped, and each image as
    a placeholder line naming it (``ask --print-prompt``)."""
    queue = iter(enumerate(images, 1))
    out: list[str] = []
    for piece in _pieces(text):
        if piece is not None:
            out.append(piece.replace(DOCUMENT_START, "").replace(DOCUMENT_END, ""))
            continue
        number, image = next(queue)
        before = "\n" if out and out[-1] and not out[-1].endswith("\n") else ""
        out.append(f"{before}[image {number}: {image.source_name}, {image.width}x{image.height}]\n")
    return "".join(out)


def _pieces(text: str) -> list[str | None]:
    """The rendered text as pieces, None where an image goes: a marker counts only outside a
    document (inside one it is the document's own words)."""
    out: list[str | None] = []
    for piece, is_document in segments(text):
        if is_document:
            out.append(DOCUMENT_START + piece + DOCUMENT_END)
            continue
        chunks = piece.split(MEDIA_MARKER)
        out.append(chunks[0])
        for after in chunks[1:]:
            out += [None, after]
    return out


def _with_documents_expanded(message: ChatMessage) -> ChatMessage:
    """Documents as delimited text and scanned-page images; typed text without our delimiters."""
    parts: list[Part] = []
    for part in message.parts:
        if isinstance(part, PreparedDocument):
            parts += [
                piece if isinstance(piece, PreparedImage) else DOCUMENT_START + piece + DOCUMENT_END
                for piece in document_parts(part)
            ]
        elif isinstance(part, str):
            parts.append(part.replace(DOCUMENT_START, "").replace(DOCUMENT_END, ""))
        else:
            parts.append(part)
    return ChatMessage(message.role, tuple(parts))


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
            out.append(part.strip() if isinstance(part, str) else MEDIA_MARKER)
        out.append(f"{END_OF_TURN}\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def _without_thought(message: ChatMessage) -> ChatMessage:
    """An earlier reply as the model may see it again: its answer, not its thought."""
    if message.role != "assistant":
        return message
    answer = split_reply(message.text).answer
    return message if answer == message.text else ChatMessage.assistant(answer)


def _render_jinja(template: str, messages: Sequence[ChatMessage], system_prompt: str, think: bool) -> str:
    """Render the GGUF's template with Hugging Face's message shape, then mark the images."""
    hf_messages: list[dict[str, object]] = []
    if system_prompt.strip():
        # A plain string: Gemma 3's template takes a string or a list, Gemma 4's only a string.
        hf_messages.append({"role": "system", "content": system_prompt.strip()})
    for message in messages:
        content = [
            {"type": "text", "text": p} if isinstance(p, str) else {"type": "image"}
            for p in message.parts
        ]
        hf_messages.append({"role": message.role, "content": content})
    rendered: str = _compile(template).render(
        messages=hf_messages,
        bos_token=BOS,
        eos_token="<eos>",
        add_generation_prompt=True,
        enable_thinking=think,
    )
    # The official templates write a placeholder token where an image goes; mtmd adds the
    # model's own delimiters around the embeddings, so the marker replaces the placeholder
    # (outside documents, whose words are read as written).
    pieces = _DOCUMENT_SPAN.split(rendered)
    for index in range(0, len(pieces), 2):
        for placeholder in IMAGE_PLACEHOLDERS:
            pieces[index] = pieces[index].replace(placeholder, MEDIA_MARKER)
    return "".join(pieces)


@lru_cache(maxsize=4)
def _compile(template: str) -> Template:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
