"""What a client may send to ``/v1/chat/completions``, validated by pydantic before anything runs.

Strict types (a number sent as a string is refused, not guessed at), fields the OpenAI API has and
this server cannot honour are refused by name rather than ignored (``n`` above 1, tools,
``logprobs``, JSON modes, presence and frequency penalties), and fields that change nothing here
(``user``, ``metadata``, ``store``...) are accepted and ignored, as clients send them by habit.
llama-server's extensions ``top_k``, ``min_p`` and ``repeat_penalty`` are honoured, and so is
``pan_scan`` ("off", "auto", "on"), this app's own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)


class TextPart(BaseModel):
    model_config = _STRICT
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    model_config = _STRICT
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(BaseModel):
    model_config = _STRICT
    type: Literal["image_url"]
    image_url: ImageUrl


class OtherPart(BaseModel):
    """A part of a kind this server cannot read (audio, files): named in the refusal."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    type: str


def _part_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("text", "image_url") else "other"


ContentPart = Annotated[
    Annotated[TextPart, Tag("text")] | Annotated[ImagePart, Tag("image_url")] | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_kind),
]


class Message(BaseModel):
    model_config = _STRICT
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[Any] | None = None


class StreamOptions(BaseModel):
    model_config = _STRICT
    include_usage: bool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    type: str


class ChatCompletionRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``."""

    model_config = _STRICT

    model: str | None = None
    """Optional here (llama-server does not require it either); when given it must name the
    served model."""
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    pan_scan: Literal["off", "auto", "on"] | None = None
    prompt_cache_key: str | None = None
    """OpenAI's name for "these requests belong together": used to recognise a conversation."""

    # Accepted when they ask for nothing this server lacks; refused by name otherwise.
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: ResponseFormat | None = None


def unsupported_field(request: ChatCompletionRequest) -> tuple[str, str] | None:
    """The first field asking for something this server cannot do: (field, sentence), or None."""
    if request.n not in (None, 1):
        return "n", "Only one choice per request is supported (n must be 1)."
    if request.logprobs or request.top_logprobs:
        return "logprobs", "Log probabilities are not supported."
    if request.presence_penalty or request.frequency_penalty:
        field = "presence_penalty" if request.presence_penalty else "frequency_penalty"
        return field, f"{field} is not supported; use repeat_penalty (1.0 is off) instead."
    if request.tools or request.functions:
        return "tools", "Tools and function calling are not supported by this server."
    if request.response_format is not None and request.response_format.type != "text":
        return "response_format", "Only plain text responses are supported (response_format 'text')."
    return None


def describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """The problem pydantic found, as (the field's dotted path, one sentence naming it).

    A field that takes several shapes (``content``: a string or a list of parts) is reported by
    each shape; the deepest report is the one about what the client actually sent.
    """
    problems = error.errors(include_url=False)
    deepest = max(range(len(problems)), key=lambda i: (len(problems[i]["loc"]), i))
    problem = problems[deepest]
    path = ".".join(_field_path(problem["loc"])) or "body"
    message = str(problem["msg"]).rstrip(".")
    return path, f"Invalid value for '{path}': {message}."


def _field_path(location: tuple[int | str, ...]) -> list[str]:
    """The location without pydantic's names for union branches ("str", "list[...]") and the
    tags of tagged unions, which mean nothing to a client."""
    path: list[str] = []
    skip_tag = False
    for part in location:
        text = str(part)
        if text.startswith("list[tagged-union["):
            skip_tag = True
            continue
        if text in _BRANCHES or text.startswith(("list[", "tagged-union[")):
            continue
        if skip_tag and not isinstance(part, int):
            skip_tag = False
            continue
        path.append(text)
    return path


_BRANCHES = {"str", "int", "float", "bool", "none", "TextPart", "ImagePart", "OtherPart"}
