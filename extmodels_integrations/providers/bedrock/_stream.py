"""The event-stream side of ``InvokeModelWithResponseStream``: :class:`BedrockStreamParser`
unwraps ``chunk`` events for a dialect's parser and reports invocation metrics as usage."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from extmodels_integrations._exceptions import MalformedResponseError
from extmodels_integrations._types import ChatChunk, CompletionChunk, Usage
from extmodels_integrations.providers._aws import EventMessage, EventStreamDecoder
from extmodels_integrations.providers._base import ParsedStream, loads
from extmodels_integrations.providers.bedrock._common import PROVIDER
from extmodels_integrations.providers.bedrock._errors import stream_exception

_C = TypeVar("_C", ChatChunk, CompletionChunk)


def _metrics_usage(metrics: Any) -> Usage | None:
    if not isinstance(metrics, Mapping):
        return None
    return Usage(
        prompt_tokens=int(metrics.get("inputTokenCount") or 0),
        completion_tokens=int(metrics.get("outputTokenCount") or 0),
        cache_read_tokens=_int_or_none(metrics.get("cacheReadInputTokenCount")),
        cache_creation_tokens=_int_or_none(metrics.get("cacheWriteInputTokenCount")),
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _usage_chunk(cls: type[_C]) -> Callable[[Usage], _C]:
    return lambda usage: cls(None, None, [], usage, PROVIDER)


class BedrockStreamParser(Generic[_C]):
    """Turns event-stream messages into unified chunks: raises exception messages as typed
    errors, base64-decodes ``chunk`` events into the model's own JSON events for the
    sub-provider's parser, and reports ``amazon-bedrock-invocationMetrics`` as usage when the
    sub-provider reported none."""

    __slots__ = ("_finish", "_parse", "_usage_chunk", "_usage_seen")

    def __init__(
        self,
        parse: Callable[[dict[str, Any]], _C | None],
        finish: Callable[[], None],
        usage_chunk: Callable[[Usage], _C],
    ) -> None:
        self._parse: Callable[[dict[str, Any]], _C | None] = parse
        self._finish = finish
        self._usage_chunk: Callable[[Usage], _C] = usage_chunk
        self._usage_seen = False

    def parse(self, message: EventMessage) -> _C | None:
        kind = message.headers.get(":message-type")
        if kind in ("exception", "error"):
            raise stream_exception(message)
        if message.headers.get(":event-type") != "chunk":
            return None
        event = self._decode(message.payload)
        metrics = event.pop("amazon-bedrock-invocationMetrics", None)
        chunk = self._parse(event)
        if chunk is not None and chunk.usage is not None:
            self._usage_seen = True
        usage = None if self._usage_seen else _metrics_usage(metrics)
        if usage is None:
            return chunk
        self._usage_seen = True
        if chunk is None:
            return self._usage_chunk(usage)
        chunk.usage = usage
        return chunk

    def finish(self) -> None:
        self._finish()

    @staticmethod
    def _decode(payload: bytes) -> dict[str, Any]:
        wrapper = loads(payload, PROVIDER)
        try:
            raw = base64.b64decode(wrapper["bytes"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise MalformedResponseError(
                "Bedrock stream chunk has no base64 'bytes' payload", provider=PROVIDER
            ) from None
        event = loads(raw, PROVIDER)
        if not isinstance(event, dict):
            raise MalformedResponseError(
                f"unexpected Bedrock chunk: {raw[:200]!r}", provider=PROVIDER
            )
        return event


def _event_stream(
    parse: Callable[[dict[str, Any]], _C | None],
    finish: Callable[[], None],
    cls: type[_C],
) -> ParsedStream[EventMessage, _C]:
    return ParsedStream(EventStreamDecoder(), BedrockStreamParser(parse, finish, _usage_chunk(cls)))
