"""A conversation as an OpenAI chat completions request: messages with ``image_url`` parts, and the
sampling settings mapped onto the fields servers accept.

Images arrive here already prepared by Pillow (:mod:`desktop_app.engine.images`: checked, upright,
RGB, bounded), expanded into Pan & Scan views by the same rule as the local prompt
(:func:`desktop_app.engine.prompt.image_views`) when the server's model is a Gemma 3, and travel as
base64 PNG data URLs: lossless, so text in a screenshot reaches the server as the user saw it.
Documents go as the text block every engine reads, with their scanned pages as images.
The system prompt goes as a ``system`` message; the server's chat template places it (Gemma 3's
own template folds it into the first user turn, as the local engine does).
"""

from __future__ import annotations

import base64
import io
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from PIL import Image

from desktop_app.engine.documents import PreparedDocument, document_parts
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.prompt import image_views
from desktop_app.engine.protocol import ChatMessage, Part
from desktop_app.settings import GenerationSettings

GEMMA3_IMAGE_SIDE = 896
"""Gemma 3's vision tower sees 896 x 896 pixels per view (SigLIP, every Gemma 3 size)."""

_URL_CACHE_SIZE = 64
"""Data URLs kept: each turn sends the images of the whole conversation again, and PNG-encoding a
4-megapixel photo takes ~0.3 s that a follow-up question should not pay."""

_url_cache: OrderedDict[tuple[str, int | None], str] = OrderedDict()


def chat_messages(
    messages: Sequence[ChatMessage],
    system_prompt: str = "",
    *,
    pan_scan: str | None = "off",
    image_side: int | None = None,
) -> list[dict[str, Any]]:
    """The ``messages`` array of a chat completions request.

    ``pan_scan`` expands each picture into its Pan & Scan views (None: a model without Pan &
    Scan, whatever a picture chose); ``image_side`` shrinks each view until its shorter side is at most that many pixels
    (the model would scale it down that far anyway), which keeps requests small.
    """
    out: list[dict[str, Any]] = []
    if system_prompt.strip():
        out.append({"role": "system", "content": system_prompt.strip()})
    for message in messages:
        if message.role == "assistant" or not (message.images or message.documents):
            out.append({"role": message.role, "content": message.text})
            continue
        content: list[dict[str, Any]] = []
        for part in message.parts:
            for view in _views(part, pan_scan):
                if isinstance(view, PreparedImage):
                    url = data_url(view, image_side)
                    content.append({"type": "image_url", "image_url": {"url": url}})
                elif view:
                    content.append({"type": "text", "text": view})
        out.append({"role": "user", "content": content})
    return out


def has_images(payload: list[dict[str, Any]]) -> bool:
    """Whether a ``messages`` array carries an image (a picture, or a document's scanned page)."""
    return any(
        isinstance(message["content"], list)
        and any(part["type"] == "image_url" for part in message["content"])
        for message in payload
    )


def _views(part: Part, pan_scan: str | None) -> tuple[str | PreparedImage, ...]:
    """A part as text and images: a picture's Pan & Scan views, a document's text block with its
    scanned pages (:func:`~desktop_app.engine.documents.document_parts`, as every engine reads it)."""
    if isinstance(part, PreparedImage):
        return image_views(part, pan_scan)
    if isinstance(part, PreparedDocument):
        return tuple(document_parts(part))
    return (part,)


def data_url(image: PreparedImage, shorter_side: int | None = None) -> str:
    """The image as a ``data:image/png;base64,...`` URL, shrunk (never enlarged) so its shorter
    side is at most ``shorter_side``; remembered by content."""
    key = (image.sha256, shorter_side)
    cached = _url_cache.get(key)
    if cached is not None:
        _url_cache.move_to_end(key)
        return cached
    picture = image.to_pil()
    short = min(image.width, image.height)
    if shorter_side is not None and short > shorter_side:
        scale = shorter_side / short
        size = (max(1, math.floor(image.width * scale)), max(1, math.floor(image.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    # Level 1: a fraction of the default's encode time for a few percent more bytes.
    picture.save(buffer, format="PNG", compress_level=1)
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    _url_cache[key] = url
    while len(_url_cache) > _URL_CACHE_SIZE:
        _url_cache.popitem(last=False)
    return url


def sampling_fields(settings: GenerationSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(standard, extra)``: the OpenAI request fields, and the ones outside the OpenAI schema
    that llama-server, vLLM and LM Studio read (``top_k``, ``min_p``, the repeat penalty)."""
    standard: dict[str, Any] = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": settings.max_tokens,
    }
    if settings.seed != -1:
        standard["seed"] = settings.seed
    extra: dict[str, Any] = {}
    if settings.top_k > 0:
        extra["top_k"] = settings.top_k
    if settings.min_p > 0:
        extra["min_p"] = settings.min_p
    if settings.repeat_penalty != 1.0:
        # llama-server and LM Studio call it repeat_penalty, vLLM repetition_penalty; each
        # ignores the other's name.
        extra["repeat_penalty"] = settings.repeat_penalty
        extra["repetition_penalty"] = settings.repeat_penalty
    return standard, extra
