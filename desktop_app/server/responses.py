"""The JSON the server answers with, in the OpenAI API's shapes, plus llama-server's ``timings``.

``usage`` counts the whole prompt (images included, as the model reads them) and the reply's
tokens, with ``prompt_tokens_details.cached_tokens`` for what the KV cache already held;
``timings`` has llama-server's fields (``cache_n``, ``prompt_n``, ``prompt_ms``,
``predicted_per_second``...) so tools written for it read ours, plus the image encoder's time.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from desktop_app.engine.protocol import Metrics
from desktop_app.server.replies import ReplyEnd

OWNER = "gemma-desktop"


@dataclass(frozen=True)
class CompletionIds:
    """What every chunk of one completion repeats."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))


def model_entry(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": OWNER}


def usage(metrics: Metrics) -> dict[str, Any]:
    return {
        "prompt_tokens": metrics.prompt_tokens,
        "completion_tokens": metrics.decode_tokens,
        "total_tokens": metrics.prompt_tokens + metrics.decode_tokens,
        "prompt_tokens_details": {"cached_tokens": metrics.cached_tokens, "image_tokens": metrics.image_tokens},
    }


def timings(metrics: Metrics) -> dict[str, Any]:
    """llama-server's ``timings``: prompt time runs to the first token (image encoding included,
    as in llama-server), predicted time from the first token to the last."""
    prompt_n = max(0, metrics.prompt_tokens - metrics.cached_tokens)
    prompt_ms = metrics.ttft_s * 1000.0
    predicted_n = metrics.decode_tokens
    predicted_ms = predicted_n / metrics.decode_tok_s * 1000.0 if metrics.decode_tok_s > 0 else 0.0
    return {
        "cache_n": metrics.cached_tokens,
        "prompt_n": prompt_n,
        "prompt_ms": round(prompt_ms, 3),
        "prompt_per_token_ms": round(prompt_ms / prompt_n, 3) if prompt_n else 0.0,
        "prompt_per_second": round(prompt_n / prompt_ms * 1000.0, 2) if prompt_ms > 0 else 0.0,
        "predicted_n": predicted_n,
        "predicted_ms": round(predicted_ms, 3),
        "predicted_per_token_ms": round(predicted_ms / predicted_n, 3) if predicted_n else 0.0,
        "predicted_per_second": metrics.decode_tok_s,
        "image_encode_ms": round(metrics.image_encode_s * 1000.0, 3),
        "images_from_cache": metrics.images_from_cache,
    }


def completion(ids: CompletionIds, end: ReplyEnd) -> dict[str, Any]:
    """The body of a non-streamed reply."""
    return {
        **_header(ids, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": end.text},
                "finish_reason": end.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage(end.metrics),
        "timings": timings(end.metrics),
    }


def chunk(ids: CompletionIds, delta: dict[str, str], finish_reason: str | None = None,
          **extra: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    return {**_header(ids, "chat.completion.chunk"), "choices": [choice], **extra}


def usage_chunk(ids: CompletionIds, metrics: Metrics) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage`` asks for it: no choices, the usage."""
    return {**_header(ids, "chat.completion.chunk"), "choices": [], "usage": usage(metrics),
            "timings": timings(metrics)}


def _header(ids: CompletionIds, kind: str) -> dict[str, Any]:
    return {"id": ids.id, "object": kind, "created": ids.created, "model": ids.model}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event, as OpenAI streams them (``data: ...`` and a blank line)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()
