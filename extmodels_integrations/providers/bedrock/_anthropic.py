"""``bedrock_provider: anthropic``: Claude through the ``anthropic`` provider's Messages bodies,
responses and stream events, with ``anthropic_version`` in the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import UnsupportedParameterError
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
)
from extmodels_integrations.providers import anthropic
from extmodels_integrations.providers._base import ParsedStream
from extmodels_integrations.providers._views import completion_chunk, completion_from_chat
from extmodels_integrations.providers.bedrock._common import PROVIDER, _Dialect
from extmodels_integrations.providers.bedrock._stream import _event_stream

ANTHROPIC_VERSION = "bedrock-2023-05-31"
"""The ``anthropic_version`` Bedrock requires in Anthropic bodies."""


class _Anthropic(_Dialect):
    """Claude on Bedrock: the Messages body and events of the ``anthropic`` provider, with
    ``anthropic_version`` in the body instead of ``model``/``stream`` (anthropic-sdk
    ``lib/bedrock/_client.py``); ``anthropic_beta`` goes in the body too, via extra_params."""

    name = "anthropic"

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        _check_inline(request)
        body = anthropic.messages_body(request, provider=PROVIDER, model=model)
        return {"anthropic_version": ANTHROPIC_VERSION, **body}

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        body = anthropic.completion_messages_body(request, provider=PROVIDER, model=model)
        return {"anthropic_version": ANTHROPIC_VERSION, **body}

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        response = anthropic.parse_message(data, PROVIDER)
        response.model = None  # see _invoked
        return response

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return completion_from_chat(self.parse_chat(data, headers))

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        parser = anthropic.MessageEventParser(PROVIDER)

        def parse(event: dict[str, Any]) -> ChatChunk | None:
            return _invoked(parser.parse_event(event))

        return _event_stream(parse, parser.finish, ChatChunk)

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        parser = anthropic.MessageEventParser(PROVIDER)

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            chunk = _invoked(parser.parse_event(event))
            return None if chunk is None else completion_chunk(chunk)

        return _event_stream(parse, parser.finish, CompletionChunk)


def _url_of(part: Mapping[str, Any]) -> tuple[str, Any] | None:
    if part.get("type") == "image_url":
        image = part.get("image_url")
        return "image_url.url", image.get("url") if isinstance(image, Mapping) else image
    if part.get("type") == "file" and isinstance(part.get("file"), Mapping):
        return "file.file_data", part["file"].get("file_data")
    return None


def _check_inline(request: ChatRequest) -> None:
    """Claude on Bedrock takes images and documents as base64 only: an Anthropic ``url``
    source fails there after the request is sent (the ``anthropic`` provider fetches URLs)."""
    for i, message in enumerate(request.messages):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            found = _url_of(part) if isinstance(part, Mapping) else None
            if found and isinstance(found[1], str) and not found[1].startswith("data:"):
                raise UnsupportedParameterError(
                    PROVIDER,
                    f"messages[{i}].content[{j}].{found[0]}",
                    "Claude on Bedrock reads images and documents from base64 only: send a "
                    "data: URL (data:image/png;base64,...); the anthropic provider and Vertex "
                    "AI fetch URLs themselves",
                )


def _invoked(chunk: ChatChunk | None) -> ChatChunk | None:
    """Claude on Bedrock names its model family (``claude-3-5-haiku-20241022``), not the
    Bedrock model id or inference profile that was invoked; the model is left unset so the
    client names the id the caller invoked, as for the other Bedrock models."""
    if chunk is not None:
        chunk.model = None
    return chunk
