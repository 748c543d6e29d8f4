"""The completions task served from a chat API: providers whose only text endpoint is chat
(Anthropic Messages, Cohere v2, Claude on Bedrock, ...) answer ``llm/v1/completions`` through
these views of their chat responses and streams, written once."""

from __future__ import annotations

from typing import Generic, TypeVar

from extmodels_integrations._types import (
    ChatChunk,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionResponse,
)
from extmodels_integrations.providers._base import EventParser

__all__ = ["CompletionView", "completion_chunk", "completion_from_chat"]

Ev = TypeVar("Ev")


def completion_from_chat(response: ChatResponse) -> CompletionResponse:
    """The completions view of a chat response: each choice's text and finish reason."""
    return CompletionResponse(
        id=response.id,
        model=response.model,
        choices=[
            CompletionChoice(index=c.index, text=c.content or "", finish_reason=c.finish_reason)
            for c in response.choices
        ],
        usage=response.usage,
        provider=response.provider,
        metadata=response.metadata,
        created=response.created,
    )


def completion_chunk(chunk: ChatChunk) -> CompletionChunk | None:
    """The completions view of a chat chunk: text, finish reason and usage; ``None`` when the
    chunk carries none of them (reasoning-only or tool-call chunks)."""
    choices = [
        CompletionChoice(index=c.index, text=c.content or "", finish_reason=c.finish_reason)
        for c in chunk.choices
        if c.content or c.finish_reason
    ]
    if not choices and chunk.usage is None:
        return None
    return CompletionChunk(
        chunk.id, chunk.model, choices, chunk.usage, chunk.provider, created=chunk.created
    )


class CompletionView(Generic[Ev]):
    """A chat stream parser whose chunks are reported as completion chunks."""

    __slots__ = ("_chat",)

    def __init__(self, chat: EventParser[Ev, ChatChunk]) -> None:
        self._chat = chat

    def parse(self, event: Ev) -> CompletionChunk | None:
        """The completion chunk of ``event``'s chat chunk, if it carries text or an end."""
        chunk = self._chat.parse(event)
        return None if chunk is None else completion_chunk(chunk)

    def finish(self) -> None:
        """Ends the chat parser (which raises if the stream was cut)."""
        self._chat.finish()
