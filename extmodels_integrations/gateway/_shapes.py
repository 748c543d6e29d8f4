"""The unified schema on the wire, both ways: request bodies to unified requests, unified
responses and chunks to the OpenAI-style JSON the workspace answers with.

Request fields the unified request has no slot for go to ``extra_params`` and so reach the
provider (or its adapter refuses them): nothing a client sends is dropped.
"""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsResponse,
    Usage,
    signed_call,
)
from extmodels_integrations.gateway._errors import bad_request

__all__ = [
    "chat_request",
    "chunk_json",
    "completion_request",
    "embeddings_input",
    "embeddings_json",
    "response_json",
]

# Keys of the body the gateway itself reads: never forwarded to the provider.
_TRANSPORT_KEYS = ("stream", "stream_options", "model")
_CHAT_FIELDS = (
    "temperature",
    "max_tokens",
    "n",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)
_COMPLETION_FIELDS = ("temperature", "max_tokens", "n")


def _stop(body: dict[str, Any]) -> list[str] | None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, list):
        return stop
    if isinstance(stop, str):
        return [stop]
    raise bad_request("stop: must be a string or a list of strings")


def _extra(body: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    skip = {*known, *_TRANSPORT_KEYS, "stop", "messages", "prompt"}
    return {k: v for k, v in body.items() if k not in skip}


def chat_request(body: dict[str, Any]) -> ChatRequest:
    """A chat body (invocations or ``/chat/completions``) as a :class:`ChatRequest`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: required: a non-empty list of chat messages")
    fields = {k: body[k] for k in _CHAT_FIELDS if k in body}
    return ChatRequest(
        messages=messages, stop=_stop(body), extra_params=_extra(body, _CHAT_FIELDS), **fields
    )


def completion_request(body: dict[str, Any]) -> CompletionRequest:
    """A completions body as a :class:`CompletionRequest`."""
    prompt = body.get("prompt")
    if not isinstance(prompt, (str, list)):
        raise bad_request("prompt: required: a string or a list of strings")
    fields = {k: body[k] for k in _COMPLETION_FIELDS if k in body}
    return CompletionRequest(
        prompt=prompt, stop=_stop(body), extra_params=_extra(body, _COMPLETION_FIELDS), **fields
    )


def embeddings_input(body: dict[str, Any]) -> tuple[list[str], str, dict[str, Any]]:
    """The texts, the encoding format (``float`` or ``base64``) and the extra parameters."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise bad_request("input: required: a string or a list of strings")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request("encoding_format: use 'float' or 'base64'")
    extra = {k: v for k, v in body.items() if k not in ("input", "encoding_format", "model")}
    return texts, encoding, extra


def usage_json(usage: Usage | None) -> dict[str, int] | None:
    """OpenAI's usage object."""
    if usage is None:
        return None
    usage.completed()
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _tool_calls(choice: Any) -> list[dict[str, Any]]:
    # Signed calls keep their signature (extra_content), so clients can send it back.
    return [c.as_message_call() for c in choice.tool_calls]


def _created(answered: int | None) -> int:
    """The provider's own ``created``; now, for a provider that sends none (Anthropic, Gemini)."""
    return int(time.time()) if answered is None else answered


def response_json(result: ChatResponse | CompletionResponse, model: str) -> dict[str, Any]:
    """A complete chat or completions response."""
    head = {
        "id": result.id or "",
        "created": _created(result.created),
        "model": result.model or model,
    }
    if isinstance(result, ChatResponse):
        choices: list[dict[str, Any]] = []
        for c in result.choices:
            message: dict[str, Any] = {"role": c.role, "content": c.content}
            if c.tool_calls:
                message["tool_calls"] = _tool_calls(c)
            choices.append(
                {
                    "index": c.index,
                    "message": message,
                    "logprobs": c.logprobs,
                    "finish_reason": c.finish_reason,
                }
            )
        body = {**head, "object": "chat.completion", "choices": choices}
    else:
        choices = [
            {
                "index": c.index,
                "text": c.text,
                "finish_reason": c.finish_reason,
                "logprobs": c.logprobs,
            }
            for c in result.choices
        ]
        body = {**head, "object": "text_completion", "choices": choices}
    body["usage"] = usage_json(result.usage)
    return body


def chunk_json(chunk: ChatChunk | CompletionChunk, model: str) -> dict[str, Any]:
    """One stream chunk (usage only on the chunk that carries it)."""
    head = {"id": chunk.id or "", "created": _created(chunk.created), "model": chunk.model or model}
    if isinstance(chunk, ChatChunk):
        choices: list[dict[str, Any]] = []
        for c in chunk.choices:
            delta: dict[str, Any] = {}
            if c.role:
                delta["role"] = c.role
            if c.content is not None:
                delta["content"] = c.content
            if c.tool_calls:
                delta["tool_calls"] = [
                    signed_call(
                        {
                            "index": d.index,
                            **({"id": d.id, "type": "function"} if d.id else {}),
                            "function": {
                                k: v
                                for k, v in (("name", d.name), ("arguments", d.arguments))
                                if v is not None
                            },
                        },
                        d.signature,
                    )
                    for d in c.tool_calls
                ]
            choices.append(
                {
                    "index": c.index,
                    "delta": delta,
                    "logprobs": c.logprobs,
                    "finish_reason": c.finish_reason,
                }
            )
        body = {**head, "object": "chat.completion.chunk", "choices": choices}
    else:
        body = {
            **head,
            "object": "text_completion",
            "choices": [
                {
                    "index": c.index,
                    "text": c.text,
                    "logprobs": c.logprobs,
                    "finish_reason": c.finish_reason,
                }
                for c in chunk.choices
            ],
        }
    if chunk.usage is not None:
        body["usage"] = usage_json(chunk.usage)
    return body


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embeddings_json(result: EmbeddingsResponse, model: str, encoding: str) -> dict[str, Any]:
    """An embeddings response; ``base64`` packs little-endian float32 as the OpenAI SDK asks."""
    data = [
        {"object": "embedding", "index": i, "embedding": _base64(v) if encoding == "base64" else v}
        for i, v in enumerate(result.embeddings)
    ]
    usage = usage_json(result.usage) or {"prompt_tokens": 0, "total_tokens": 0}
    return {"object": "list", "data": data, "model": result.model or model, "usage": usage}
