"""The OpenAI wire format, shared by every target that speaks it (OpenAI, Azure OpenAI,
Databricks serving endpoints and the ``databricks-model-serving`` provider): the adapter and
the request bodies it builds. Answers are parsed in ``_openai_response``, streams in
``_openai_stream``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import APIError
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import Adapter, ParsedStream, sse_stream
from extmodels_integrations.providers._openai_response import (
    map_error,
    parse_chat,
    parse_completion,
    parse_embeddings,
)
from extmodels_integrations.providers._openai_stream import (
    ChatStreamParser,
    CompletionStreamParser,
)

__all__ = ["OpenAIFormatAdapter"]


# Signed reasoning of earlier answers (see ``_types.Message``): the Chat Completions schema has
# no place for them, and OpenAI answers 400 to an unknown content part type.
_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _has_thinking(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and isinstance(content, list)
        and any(isinstance(b, Mapping) and b.get("type") in _THINKING_BLOCKS for b in content)
    )


def _without_thinking(message: Mapping[str, Any]) -> Any:
    if not _has_thinking(message):
        return message
    kept = [b for b in message["content"] if b.get("type") not in _THINKING_BLOCKS]
    if all(b.get("type") == "text" for b in kept):
        # Text alone goes as a string, as an answer without reasoning would have.
        text = "".join(b.get("text") or "" for b in kept)
        return {**message, "content": text or None}
    return {**message, "content": kept}


class OpenAIFormatAdapter(Adapter):
    """Base of the adapters whose targets speak the OpenAI format: subclasses only say where
    a request goes (:meth:`_request`) and may adjust the chat body (:meth:`_chat_body`)."""

    stream_usage: bool = True
    prompts_per_request = None  # the OpenAI schema takes a list of prompts

    def _request(self, path: str, body: dict[str, Any], model: str | None) -> HttpRequest:
        """The request for ``path`` (``chat/completions``, ``completions``, ``embeddings``)."""
        raise NotImplementedError

    def _with_stream(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body.setdefault("stream_options", {"include_usage": True})
        return body

    def _chat_body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = request.to_payload()
        if any(_has_thinking(m) for m in request.messages):
            body["messages"] = [_without_thinking(m) for m in request.messages]
        return self._with_stream(body, stream)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._request("chat/completions", self._chat_body(request, stream), request.model)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data, self.provider)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParser(self.provider))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        body = self._with_stream(request.to_payload(), stream)
        return self._request("completions", body, request.model)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_completion(data, self.provider)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(CompletionStreamParser(self.provider))

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        return self._request("embeddings", request.to_payload(), request.model)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        return parse_embeddings(data, self.provider)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(self.provider, status, headers, body)
