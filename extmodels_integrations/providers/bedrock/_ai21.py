"""``bedrock_provider: ai21labs``: Jamba's OpenAI-like chat body and stream, and Jurassic-2's
``complete`` body (built and parsed by the ``ai21labs`` provider; Bedrock does not stream it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError, UnsupportedParameterError
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Message,
)
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.providers import ai21labs
from extmodels_integrations.providers._base import ParsedStream, provider_params
from extmodels_integrations.providers._openai_response import parse_chat as parse_openai_chat
from extmodels_integrations.providers._views import completion_chunk, completion_from_chat
from extmodels_integrations.providers.bedrock._common import (
    NO_REASONING,
    PROVIDER,
    _Dialect,
    _header_usage,
    _one_prompt,
    _text,
)
from extmodels_integrations.providers.bedrock._stream import _event_stream


def _is_j2(model: str) -> bool:
    return ".j2-" in model or model.startswith("j2-")


class _AI21(_Dialect):
    """Jamba: the AWS "AI21 Labs Jamba models" body (messages, max_tokens, temperature,
    top_p, stop, n, penalties; no tools, no response_format, no model/stream keys).
    Jurassic-2: the ``complete`` body, built and parsed by the ``ai21labs`` provider's
    :func:`~extmodels_integrations.providers.ai21labs.j2_body` / ``parse_j2``."""

    name = "ai21labs"

    def check_model(self, configured: str, model: str) -> None:
        if _is_j2(configured) != _is_j2(model):
            raise ConfigurationError(
                f"model '{model}' takes a different request body than the configured "
                f"'{configured}' (Jurassic-2 vs Jamba): configure it as its own target"
            )

    def streams(self, model: str) -> bool:
        return not _is_j2(model)  # Bedrock does not stream Jurassic-2 (LiteLLM fakes it too)

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        if _is_j2(model):
            raise ConfigurationError(
                f"'{model}' is a Jurassic-2 completion model: use it with the task "
                "'llm/v1/completions', or a Jamba model (ai21.jamba-*) for chat"
            )
        for name in ("tools", "response_format"):
            if getattr(request, name):
                raise UnsupportedParameterError(
                    PROVIDER, name, "the Bedrock Jamba request body has no such field"
                )
        messages = [_jamba_message(m) for m in request.messages]
        return _jamba_body(messages, request, request.extra_params)

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        if _is_j2(model):
            return ai21labs.j2_body(request, provider=PROVIDER)
        prompt = _one_prompt(request.prompt)
        messages = [{"role": "user", "content": prompt}]
        return _jamba_body(messages, request, _legacy_logprobs(request.extra_params))

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        response = parse_openai_chat(data, PROVIDER)
        for choice in response.choices:
            choice.finish_reason = ai21labs.finish_reason(choice.finish_reason)
        response.usage = response.usage or _header_usage(headers)
        return response

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        if isinstance(data, Mapping) and "completions" in data:
            response = ai21labs.parse_j2(data, PROVIDER)
            response.usage = response.usage or _header_usage(headers)
            return response
        return completion_from_chat(self.parse_chat(data, headers))

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        parser = ai21labs.ChatStreamParserAI21(PROVIDER)
        # The decoded chunk is OpenAI-shaped JSON: the OpenAI-format parser reads it as the
        # data of one server-sent event.
        return _event_stream(
            lambda event: parser.parse(SSEEvent(json.dumps(event))), parser.finish, ChatChunk
        )

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        if _is_j2(model):
            return ParsedStream(ai21labs.J2Decoder(), ai21labs.J2StreamParser(PROVIDER))
        parser = ai21labs.ChatStreamParserAI21(PROVIDER)
        offsets: dict[int, int] = {}

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            chunk = parser.parse(SSEEvent(json.dumps(event)))
            return None if chunk is None else completion_chunk(chunk, offsets)

        return _event_stream(parse, parser.finish, CompletionChunk)


def _jamba_message(message: Message) -> dict[str, Any]:
    if message.get("tool_calls") or message.get("role") == "tool":
        raise UnsupportedParameterError(
            PROVIDER, "tools", "the Bedrock Jamba request body takes no tool calls or results"
        )
    role = "system" if message.get("role") == "developer" else message.get("role")
    return {"role": role, "content": _text(message.get("content"))}


def _legacy_logprobs(extra: Mapping[str, Any]) -> Mapping[str, Any]:
    """Completions ``extra_params`` with OpenAI's legacy ``logprobs=k`` as Jamba's chat
    fields: ``logprobs=true`` and, for k > 0, ``top_logprobs=k``."""
    count = extra.get("logprobs")
    if count is None or isinstance(count, bool):
        return extra
    top = {"top_logprobs": count} if count else {}
    return {**extra, "logprobs": True, **top}


def _jamba_body(
    messages: list[dict[str, Any]],
    request: ChatRequest | CompletionRequest,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    fields = {
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop or None,
        "n": request.n,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    body.update(provider_params(PROVIDER, extra, rejected=NO_REASONING))
    return body
