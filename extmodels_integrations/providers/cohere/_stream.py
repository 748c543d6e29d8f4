"""The v2 chat stream parsers: the event state machine (``message-start`` ..
``message-end``) and its completions view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import (
    ChatChunk,
    ChatChunkChoice,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.providers._base import loads
from extmodels_integrations.providers.cohere._errors import PROVIDER, _failed
from extmodels_integrations.providers.cohere._response import (
    chat_logprobs,
    finish_reason,
    parse_usage,
)


class ChatStreamParser:
    """Turns v2 chat stream events into unified chat chunks.

    ``message-start`` names the stream, ``content-delta`` carries text (or thinking) and,
    when asked for, that text's ``logprobs`` item,
    ``tool-plan-delta`` the plan (reported as reasoning), ``tool-call-start`` /
    ``tool-call-delta`` the calls, and ``message-end`` the finish reason and usage. A stream
    that ends without ``message-end`` was cut and raises.
    """

    __slots__ = ("_calls", "_done", "_id")

    def __init__(self) -> None:
        self._id: str | None = None
        self._calls: dict[int, int] = {}
        self._done = False

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        if event.data == "[DONE]":  # some gateways add it; the SDK skips it too
            return None
        data = loads(event.data, PROVIDER)
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"unexpected stream event: {event.data[:200]!r}", provider=PROVIDER
            )
        try:
            choice, usage = self._event(data.get("type") or event.event, data)
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"unexpected stream event shape: {exc}", provider=PROVIDER
            ) from None
        if choice is None and usage is None:
            return None
        return ChatChunk(self._id, None, [choice] if choice else [], usage, PROVIDER)

    def _event(
        self, kind: Any, data: Mapping[str, Any]
    ) -> tuple[ChatChunkChoice | None, Usage | None]:
        delta = data.get("delta") or {}
        message = delta.get("message") or {}
        if kind == "message-start":
            self._id = data.get("id")
            return ChatChunkChoice(role="assistant"), None
        if kind == "content-delta":
            content = message.get("content") or {}
            return ChatChunkChoice(
                content=content.get("text"),
                reasoning=content.get("thinking"),
                logprobs=chat_logprobs(data.get("logprobs")),
            ), None
        if kind == "tool-plan-delta":
            return ChatChunkChoice(reasoning=message.get("tool_plan")), None
        if kind in ("tool-call-start", "tool-call-delta"):
            return ChatChunkChoice(tool_calls=[self._call(kind, data, message)]), None
        if kind == "message-end":
            self._done = True
            error = _failed(delta.get("finish_reason"), delta.get("error"))
            if error is not None:
                raise error
            reason = finish_reason(delta.get("finish_reason"))
            return ChatChunkChoice(finish_reason=reason), parse_usage(delta.get("usage"))
        return None, None  # content-start/-end, tool-call-end, citations, debug

    def _call(
        self, kind: str, data: Mapping[str, Any], message: Mapping[str, Any]
    ) -> ToolCallDelta:
        # Calls are numbered by Cohere's event index; number them 0.. in arrival order.
        key = int(data.get("index") or 0)
        call = message.get("tool_calls") or {}
        function = call.get("function") or {}
        if kind == "tool-call-start":
            index = self._calls.setdefault(key, len(self._calls))
            return ToolCallDelta(
                index, call.get("id"), function.get("name"), function.get("arguments") or None
            )
        index = self._calls.get(key, max(self._calls.values(), default=0))
        return ToolCallDelta(index, arguments=function.get("arguments"))

    def finish(self) -> None:
        if not self._done:
            raise MalformedResponseError(
                "stream ended before message-end; the connection was probably cut",
                provider=PROVIDER,
            )
