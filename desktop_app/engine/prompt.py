"""Gemma prompt text: the one place that knows the chat format.

The GGUF's own ``tokenizer.chat_template`` is used when the file has one (rendered as untrusted
code by :mod:`desktop_app.engine.chat_template`: sandboxed and bounded in time and size);
otherwise, or when it fails on a Gemma 3 or 3n model, a built-in rendering of Gemma 3's official
template (Gemma 3n's is the same but for its media tokens; :class:`ChatFormat` keeps that choice
for a loaded model).  Either way each image becomes the
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

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence

from desktop_app.engine.chat_template import TemplateFailure, fallback_notice, refusal, render_template
from desktop_app.engine.documents import PreparedDocument, document_parts
from desktop_app.engine.images import PreparedImage, crop_prepared, pan_scan_boxes
from desktop_app.engine.protocol import ChatMessage, Part
from desktop_app.errors import Sentence
from desktop_app.thoughts import split_reply

log = logging.getLogger(__name__)

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
    pan_scan: str | None = "off",
    think: bool = False,
) -> tuple[str, list[PreparedImage]]:
    """Prompt text ending with the model's turn opened, and the images in marker order.

    The text starts with ``<bos>``; tokenize it (see :func:`segments`) with special tokens parsed
    outside documents and without adding another BOS.  With Pan & Scan, an image that qualifies
    is followed by its crops.  A document's scanned pages are images like any other.  ``think``
    asks a model whose template has the switch to think before answering.  A ``template`` that
    fails, or whose text is not a prompt for these messages, raises :class:`TemplateFailure`.
    """
    messages = [_with_documents_expanded(_without_thought(message)) for message in messages]
    originals = [image for message in messages for image in message.images]
    if template:
        text = _render_jinja(template, messages, system_prompt, think)
        pieces = _pieces(text)
        _check_is_prompt(pieces, messages, len(originals))
    else:
        text = _render_builtin(messages, system_prompt)
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
        for part in image_views(next(queue), pan_scan):
            if isinstance(part, PreparedImage):
                out.append(MEDIA_MARKER)
                images.append(part)
            else:
                out.append(part)
    return "".join(out), images


def image_views(image: PreparedImage, pan_scan: str | None = "off") -> tuple[str | PreparedImage, ...]:
    """What one picture becomes in a Gemma 3 prompt: the image alone, or, when Pan & Scan crops
    it, the reference processor's words around the whole image and its crops (crops separated
    by spaces).  The local prompt and the remote engine's messages are both built from this."""
    crops = _crops(image, pan_scan)
    if not crops:
        return (image,)
    parts: list[str | PreparedImage] = [PAN_SCAN_BEFORE, image, PAN_SCAN_BETWEEN]
    for index, crop in enumerate(crops):
        parts += [" ", crop] if index else [crop]
    return tuple(parts)


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


def _crops(image: PreparedImage, pan_scan: str | None) -> list[PreparedImage]:
    """Pan & Scan crops, remembered: every turn re-renders the images of the whole history.
    The picture's own mode, if it has one, wins over the conversation's ``pan_scan``; None
    means the model has no Pan & Scan at all (only Gemma 3 has), whatever the picture chose."""
    if pan_scan is None:
        return []
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
    rendered = render_template(
        template,
        {
            "messages": hf_messages,
            "bos_token": BOS,
            "eos_token": "<eos>",
            "add_generation_prompt": True,
            "enable_thinking": think,
        },
        input_chars=len(system_prompt) + sum(len(message.text) for message in messages),
    )
    # The official templates write a placeholder token where an image goes; mtmd adds the
    # model's own delimiters around the embeddings, so the marker replaces the placeholder
    # (outside documents, whose words are read as written).
    pieces = _DOCUMENT_SPAN.split(rendered)
    for index in range(0, len(pieces), 2):
        for placeholder in IMAGE_PLACEHOLDERS:
            pieces[index] = pieces[index].replace(placeholder, MEDIA_MARKER)
    return "".join(pieces)


def _check_is_prompt(pieces: list[str | None], messages: Sequence[ChatMessage], n_images: int) -> None:
    """What any prompt for this conversation holds: one marker per image (outside documents),
    and the words of the message being answered (templates trim them, so the trimmed words)."""
    if pieces.count(None) != n_images:
        raise TemplateFailure("not a prompt")
    text = "".join(piece for piece in pieces if piece is not None)
    if messages:
        for part in messages[-1].parts:
            if isinstance(part, str) and part.strip() not in text:
                raise TemplateFailure("not a prompt")


BUILT_IN_FAMILIES = ("gemma3", "gemma3n")
"""Architectures whose turns the built-in template writes (Gemma 3n's are Gemma 3's)."""


class ChatFormat:
    """How one loaded model's conversations become prompts: its own chat template while that
    works; for Gemma 3 and 3n, the built-in one from the first time it does not.  Gemma 4 writes
    its turns differently, so its template has no stand-in and its failure is a UserError.

    The switch is reported once, as a sentence naming the model file and what went wrong.
    """

    def __init__(self, template: str | None, model_name: str, architecture: str = "gemma3") -> None:
        self.template = template
        self.model_name = model_name
        self.architecture = architecture

    def check(self) -> Sentence | None:
        """Try the template on a small conversation with a system prompt, an image and a reply
        (done at load, so a broken template is reported before the first message); the
        sentence when it failed and the built-in template took over, else None."""
        image = PreparedImage.from_rgb(1, 1, b"\x80\x80\x80", "check.png")
        sample = [
            ChatMessage.user(image, "Describe this picture."),
            ChatMessage.assistant("A grey square."),
            ChatMessage.user("Thank you."),
        ]
        return self.render(sample, "Answer briefly.", "off")[2]

    def render(
        self, messages: Sequence[ChatMessage], system_prompt: str, pan_scan: str | None, think: bool = False
    ) -> tuple[str, list[PreparedImage], Sentence | None]:
        """:func:`render` with this model's template; the third item is the sentence saying the
        built-in template took over on this call, else None."""
        notice: Sentence | None = None
        if self.template is not None:
            try:
                return (*render(messages, system_prompt, self.template, pan_scan, think), None)
            except TemplateFailure as failure:
                log.warning("chat template of %s failed: %s", self.model_name, failure)
                if self.architecture not in BUILT_IN_FAMILIES:
                    raise refusal(failure, self.model_name) from None
                self.template = None
                notice = fallback_notice(failure, self.model_name).sentence
        return (*render(messages, system_prompt, None, pan_scan, think), notice)
