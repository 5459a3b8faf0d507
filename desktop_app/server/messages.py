"""OpenAI chat messages into the engine's: a system prompt and alternating user/assistant turns,
with images read from base64 data URLs (or fetched, when the user allows it), never from a file.

Gemma 3 has no system role and wants turns to alternate, so system and developer messages (only
before the conversation starts) become the system prompt, and consecutive messages of one role
are joined.  Each image goes through :func:`~desktop_app.engine.images.prepare_image`, the same
checks as an image dropped on the window; a conversation resends its images every turn, so
prepared images are remembered by the hash of their encoded bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.protocol import ChatMessage, Part, Role
from desktop_app.errors import UserError
from desktop_app.models.sizes import format_size
from desktop_app.server.config import MIB, ServerLimits
from desktop_app.server.refusal import Refused
from desktop_app.server.requests import ImagePart, Message, TextPart

REMOTE_TIMEOUT_S = 20.0
PREPARED_CACHE_BYTES = 512 * MIB
"""Prepared images kept for the next turn (their RGB; a 4 MP image is 12 MB)."""


@dataclass(frozen=True)
class EngineConversation:
    """A request as the engine takes it."""

    system_prompt: str
    messages: tuple[ChatMessage, ...]

    @property
    def image_count(self) -> int:
        return sum(len(message.images) for message in self.messages)


class ImageReader:
    """Turns an ``image_url`` into a :class:`PreparedImage`, within the limits; thread-safe."""

    def __init__(self, limits: ServerLimits, allow_remote: bool) -> None:
        self._limits = limits
        self._allow_remote = allow_remote
        self._prepared: OrderedDict[str, PreparedImage] = OrderedDict()
        self._prepared_bytes = 0
        self._lock = threading.Lock()

    def read(self, url: str, param: str, label: str) -> PreparedImage:
        """The image at ``url`` (a data URL, or http(s) when allowed); :class:`Refused` otherwise."""
        if url.startswith("data:"):
            data = self._decode_data_url(url, param, label)
        elif url.startswith(("http://", "https://")):
            if not self._allow_remote:
                raise Refused(
                    f"{label.capitalize()} is a remote URL; this server does not fetch images from the "
                    "network. Send it as a base64 data URL (data:image/png;base64,...).",
                    param=param,
                    code="remote_image_refused",
                )
            data = self._fetch(url, param, label)
        else:
            raise Refused(
                f"{label.capitalize()} must be a base64 data URL (data:image/png;base64,...); files "
                "are never read on a request's behalf.",
                param=param,
            )
        key = hashlib.sha256(data).hexdigest()
        with self._lock:
            cached = self._prepared.get(key)
            if cached is not None:
                self._prepared.move_to_end(key)
                return cached
        try:
            image = prepare_image(data, name=label)
        except UserError as exc:
            raise Refused(str(exc), param=param, code="invalid_image") from None
        self._remember(key, image)
        return image

    def _remember(self, key: str, image: PreparedImage) -> None:
        with self._lock:
            if key in self._prepared:
                return
            self._prepared[key] = image
            self._prepared_bytes += len(image.rgb)
            while self._prepared_bytes > PREPARED_CACHE_BYTES and len(self._prepared) > 1:
                _, dropped = self._prepared.popitem(last=False)
                self._prepared_bytes -= len(dropped.rgb)

    def _too_large(self, label: str, param: str) -> Refused:
        return Refused(
            f"{label.capitalize()} is larger than the server's limit of "
            f"{format_size(self._limits.max_image_bytes)}.",
            status=413,
            param=param,
            code="image_too_large",
        )

    def _decode_data_url(self, url: str, param: str, label: str) -> bytes:
        header, comma, payload = url.partition(",")
        if not comma or not header.endswith(";base64") or not header[5:].startswith("image/"):
            raise Refused(
                f"{label.capitalize()} is not a base64 image data URL (data:image/png;base64,...).",
                param=param,
            )
        # Checked before decoding: base64 is 4 characters for 3 bytes.
        if (len(payload) // 4) * 3 > self._limits.max_image_bytes + 3:
            raise self._too_large(label, param)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(f"{label.capitalize()} is not valid base64.", param=param) from None
        if len(data) > self._limits.max_image_bytes:
            raise self._too_large(label, param)
        return data

    def _fetch(self, url: str, param: str, label: str) -> bytes:
        limit = self._limits.max_image_bytes
        opener = urllib.request.build_opener(_HttpOnlyRedirects())
        request = urllib.request.Request(url, headers={"User-Agent": "gemma-desktop"})
        try:
            with opener.open(request, timeout=REMOTE_TIMEOUT_S) as response:
                data: bytes = response.read(limit + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Refused(
                f"{label.capitalize()} could not be fetched: {reason}.", param=param, code="image_fetch_failed"
            ) from None
        if len(data) > limit:
            raise self._too_large(label, param)
        return data


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only (urllib would follow one to ftp too)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if not newurl.startswith(("http://", "https://")):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def count_images(messages: Sequence[Message]) -> int:
    return sum(
        isinstance(part, ImagePart)
        for message in messages
        if isinstance(message.content, list)
        for part in message.content
    )


def engine_conversation(messages: Sequence[Message], reader: ImageReader, max_images: int) -> EngineConversation:
    """The request's messages as the engine takes them; :class:`Refused` names the first problem.

    Reads (and decodes) images: call it off the event loop.
    """
    n_images = count_images(messages)
    if n_images > max_images:
        raise Refused(
            f"The request holds {n_images} images; this server takes at most {max_images} per request.",
            param="messages",
            code="too_many_images",
        )
    system: list[str] = []
    turns: list[tuple[Role, list[Part]]] = []
    image_number = 0
    for index, message in enumerate(messages):
        param = f"messages.{index}"
        if message.role in ("tool", "function") or message.tool_calls:
            raise Refused("Tools and function calling are not supported by this server.", param=param)
        if message.role in ("system", "developer"):
            if turns:
                raise Refused(
                    "System messages must come before the conversation; Gemma 3 reads them as part "
                    "of the first user turn.",
                    param=param,
                )
            system.append(_text_only(message, param))
            continue
        role: Role = "user" if message.role == "user" else "assistant"
        parts: list[Part] = []
        if isinstance(message.content, str):
            parts.append(message.content)
        elif message.content is not None:
            for part_index, part in enumerate(message.content):
                part_param = f"{param}.content.{part_index}"
                if isinstance(part, TextPart):
                    parts.append(part.text)
                elif isinstance(part, ImagePart) and role == "user":
                    image_number += 1
                    parts.append(reader.read(part.image_url.url, part_param, f"image {image_number}"))
                else:
                    kind = "image_url" if isinstance(part, ImagePart) else part.type
                    raise Refused(
                        f"A {message.role} message cannot hold a '{kind}' part here; user messages "
                        "take text and image_url parts, the others text.",
                        param=part_param,
                    )
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(["\n\n", *parts])  # Gemma 3 wants turns to alternate
        else:
            turns.append((role, parts))
    if not turns or turns[0][0] != "user":
        raise Refused("The conversation must start with a user message.", param="messages")
    if turns[-1][0] != "user":
        raise Refused("The last message must come from the user.", param="messages")
    return EngineConversation(
        "\n\n".join(text for text in system if text.strip()),
        tuple(ChatMessage(role, tuple(parts)) for role, parts in turns),
    )


def _text_only(message: Message, param: str) -> str:
    if isinstance(message.content, str):
        return message.content
    if message.content is None:
        return ""
    texts: list[str] = []
    for part in message.content:
        if not isinstance(part, TextPart):
            raise Refused(f"A {message.role} message holds text only.", param=param)
        texts.append(part.text)
    return "".join(texts)
