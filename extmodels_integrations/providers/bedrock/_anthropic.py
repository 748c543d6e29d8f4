"""``bedrock_provider: anthropic``: Claude through the ``anthropic`` provider's Messages bodies,
responses and stream events, with ``anthropic_version`` in the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def _invoked(chunk: ChatChunk | None) -> ChatChunk | None:
    """Claude on Bedrock names its model family (``claude-3-5-haiku-20241022``), not the
    Bedrock model id or inference profile that was invoked; the model is left unset so the
    client names the id the caller invoked, as for the other Bedrock models."""
    if chunk is not None:
        chunk.model = None
    return chunk
