"""The Messages stream: :class:`MessageEventParser` (decoded events -> chat chunks, shared with
Bedrock) and the SSE wrappers the adapter streams chat and completions through."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import (
    ChatChunk,
    ChatChunkChoice,
    ToolCallDelta,
)
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.providers._base import loads
from extmodels_integrations.providers.anthropic._errors import event_error
from extmodels_integrations.providers.anthropic._response import parse_usage, stop_reason


class MessageEventParser:
    """Turns decoded Messages stream events (``data`` objects; ``type`` names the event) into
    unified chat chunks; stateful per stream.

    ``message_start`` yields nothing by itself (its id, model and input usage ride on later
    chunks), so an ``error`` event right after it still counts as "nothing yielded" and the
    transport may retry. Usage is merged from ``message_start`` and the cumulative
    ``message_delta`` and reported once, on the chunk that carries the finish reason.
    Tool calls are numbered by their own order, not by content-block index (text blocks would
    shift it); the first delta of a call carries its id and name. Thinking blocks are numbered
    the same way (``reasoning_index``), and their ``signature_delta`` and ``redacted_thinking``
    data are passed on, so the joined blocks can be sent back on the next turn.
    """

    __slots__ = (
        "_blocks",
        "_finished",
        "_id",
        "_model",
        "_provider",
        "_reasoning",
        "_role_sent",
        "_stopped",
        "_usage",
    )

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._id: str | None = None
        self._model: str | None = None
        self._usage: dict[str, Any] = {}
        # content-block index -> [tool ordinal, whether any argument text was sent]
        self._blocks: dict[int, list[Any]] = {}
        # content-block index -> reasoning ordinal
        self._reasoning: dict[int, int] = {}
        self._role_sent = False
        self._finished = False
        self._stopped = False

    def parse_event(self, data: Mapping[str, Any]) -> ChatChunk | None:
        """The chunk for one event, or ``None`` for events that carry nothing."""
        kind = data.get("type")
        try:
            if kind == "message_start":
                self._start(data.get("message") or {})
                return None
            if kind == "content_block_start":
                return self._block_start(data["index"], data.get("content_block") or {})
            if kind == "content_block_delta":
                return self._delta(data["index"], data.get("delta") or {})
            if kind == "content_block_stop":
                return self._block_stop(data["index"])
            if kind == "message_delta":
                return self._message_delta(data)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            raise MalformedResponseError(
                f"unexpected {kind} event shape: {exc!r}", provider=self._provider
            ) from None
        if kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            raise event_error(data, self._provider)
        return None  # ping, and event types added after this was written

    def finish(self) -> None:
        """Raise :class:`MalformedResponseError` when the stream ended before the message did."""
        if not (self._stopped or self._finished):
            raise MalformedResponseError(
                "stream ended before the message did (no message_delta stop_reason, no "
                "message_stop); the connection was probably cut",
                provider=self._provider,
            )

    def _start(self, message: Mapping[str, Any]) -> None:
        self._id = message.get("id")
        self._model = message.get("model")
        self._merge_usage(message.get("usage"))

    def _block_start(self, index: int, block: Mapping[str, Any]) -> ChatChunk | None:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return self._chunk(ChatChunkChoice(content=block["text"]))
        if kind in ("thinking", "redacted_thinking"):
            ordinal = self._reasoning.setdefault(index, len(self._reasoning))
            return self._chunk(
                ChatChunkChoice(
                    reasoning=block.get("thinking") or None,
                    reasoning_index=ordinal,
                    reasoning_signature=block.get("signature") or None,
                    reasoning_redacted=block.get("data"),
                )
            )
        if kind != "tool_use":
            return None
        ordinal = len(self._blocks)
        given = block.get("input")
        # Some relays send the whole input here instead of as input_json_delta fragments.
        arguments = json.dumps(given, ensure_ascii=False) if given else None
        self._blocks[index] = [ordinal, arguments is not None]
        delta = ToolCallDelta(ordinal, block.get("id"), block.get("name"), arguments)
        return self._chunk(ChatChunkChoice(tool_calls=[delta]))

    def _delta(self, index: int, delta: Mapping[str, Any]) -> ChatChunk | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._chunk(ChatChunkChoice(content=delta["text"])) if delta["text"] else None
        if kind == "thinking_delta":
            ordinal = self._reasoning.setdefault(index, len(self._reasoning))
            return self._chunk(
                ChatChunkChoice(reasoning=delta["thinking"], reasoning_index=ordinal)
            )
        if kind == "signature_delta":
            ordinal = self._reasoning.setdefault(index, len(self._reasoning))
            signature = delta["signature"]
            return self._chunk(
                ChatChunkChoice(reasoning_index=ordinal, reasoning_signature=signature)
            )
        if kind == "input_json_delta" and delta.get("partial_json"):
            state = self._blocks[index]
            state[1] = True
            call = ToolCallDelta(state[0], arguments=delta["partial_json"])
            return self._chunk(ChatChunkChoice(tool_calls=[call]))
        return None  # citations_delta, empty fragments

    def _block_stop(self, index: int) -> ChatChunk | None:
        state = self._blocks.get(index)
        if state is None or state[1]:
            return None
        # A call without arguments streams no fragments; its arguments are still an object.
        state[1] = True
        return self._chunk(ChatChunkChoice(tool_calls=[ToolCallDelta(state[0], arguments="{}")]))

    def _message_delta(self, data: Mapping[str, Any]) -> ChatChunk:
        self._merge_usage(data.get("usage"))
        finish = stop_reason((data.get("delta") or {}).get("stop_reason"))
        self._finished = self._finished or finish is not None
        chunk = self._chunk(ChatChunkChoice(finish_reason=finish))
        chunk.usage = parse_usage(self._usage) if self._usage else None
        return chunk

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            # message_delta counts are cumulative: the newest non-null value of each wins.
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _chunk(self, choice: ChatChunkChoice) -> ChatChunk:
        if not self._role_sent:
            choice.role = "assistant"
            self._role_sent = True
        return ChatChunk(self._id, self._model, [choice], None, self._provider)


class _ChatEvents:
    """SSE events -> chat chunks."""

    __slots__ = ("_parser", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._parser = MessageEventParser(provider)

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        data = loads(event.data, self._provider)
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"unexpected stream event: {event.data[:200]!r}", provider=self._provider
            )
        # The event name and the data's type agree on the API; the name wins if a relay
        # drops the type.
        if event.event and "type" not in data:
            data["type"] = event.event
        return self._parser.parse_event(data)

    def finish(self) -> None:
        self._parser.finish()
