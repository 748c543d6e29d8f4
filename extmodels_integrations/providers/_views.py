"""The completions task served from a chat API: providers whose only text endpoint is chat
(Anthropic Messages, Cohere v2, Claude on Bedrock, ...) answer ``llm/v1/completions`` through
these views of their chat responses and streams, written once."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from extmodels_integrations._types import (
    ChatChunk,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionResponse,
)
from extmodels_integrations.providers._base import EventParser

__all__ = ["CompletionView", "completion_chunk", "completion_from_chat", "legacy_logprobs"]

Ev = TypeVar("Ev")


def legacy_logprobs(
    chat: dict[str, Any] | None, offset: int = 0
) -> tuple[dict[str, Any] | None, int]:
    """Chat ``logprobs`` (OpenAI's chat shape) as OpenAI's legacy completions object
    (``tokens``, ``token_logprobs``, ``top_logprobs`` as token -> logprob, ``text_offset``
    counted from ``offset``), and the offset after the last token: a stream's next chunk
    starts there."""
    entries = (chat or {}).get("content") or []
    if not entries:
        return None, offset
    # .get throughout: entries come from the provider as sent (an OpenAI-format server's).
    tokens = [str(e.get("token") or "") for e in entries]
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    legacy = {
        "tokens": tokens,
        "token_logprobs": [e.get("logprob") for e in entries],
        "top_logprobs": [
            {t.get("token"): t.get("logprob") for t in e.get("top_logprobs") or ()} for e in entries
        ],
        "text_offset": offsets,
    }
    return legacy, offset


def completion_from_chat(response: ChatResponse) -> CompletionResponse:
    """The completions view of a chat response: each choice's text, finish reason and log
    probabilities."""
    return CompletionResponse(
        id=response.id,
        model=response.model,
        choices=[
            CompletionChoice(
                index=c.index,
                text=c.content or "",
                finish_reason=c.finish_reason,
                logprobs=legacy_logprobs(c.logprobs)[0],
            )
            for c in response.choices
        ],
        usage=response.usage,
        provider=response.provider,
        metadata=response.metadata,
        created=response.created,
    )


def completion_chunk(
    chunk: ChatChunk, offsets: dict[int, int] | None = None
) -> CompletionChunk | None:
    """The completions view of a chat chunk: text, finish reason, log probabilities and usage;
    ``None`` when the chunk carries none of them (reasoning-only or tool-call chunks).
    ``offsets`` holds each choice's text offset so far, for the logprobs' ``text_offset``
    (updated here; a stream keeps one for all its chunks)."""
    offsets = {} if offsets is None else offsets
    choices = []
    for c in chunk.choices:
        if not (c.content or c.finish_reason):
            continue
        logprobs, offsets[c.index] = legacy_logprobs(c.logprobs, offsets.get(c.index, 0))
        choices.append(
            CompletionChoice(
                index=c.index,
                text=c.content or "",
                finish_reason=c.finish_reason,
                logprobs=logprobs,
            )
        )
    if not choices and chunk.usage is None:
        return None
    return CompletionChunk(
        chunk.id, chunk.model, choices, chunk.usage, chunk.provider, created=chunk.created
    )


class CompletionView(Generic[Ev]):
    """A chat stream parser whose chunks are reported as completion chunks."""

    __slots__ = ("_chat", "_offsets")

    def __init__(self, chat: EventParser[Ev, ChatChunk]) -> None:
        self._chat = chat
        self._offsets: dict[int, int] = {}

    def parse(self, event: Ev) -> CompletionChunk | None:
        """The completion chunk of ``event``'s chat chunk, if it carries text or an end."""
        chunk = self._chat.parse(event)
        return None if chunk is None else completion_chunk(chunk, self._offsets)

    def finish(self) -> None:
        """Ends the chat parser (which raises if the stream was cut)."""
        self._chat.finish()
