"""The ``cohere`` provider: chat and completions through the v2 chat API, embeddings through
v2 embed.

Wire facts come from cohere-ai/cohere-python (``src/cohere/v2/raw_client.py`` for the request
fields, ``src/cohere/types/*`` for responses and stream events). Decisions of ours:

* Completions are a chat with one user message (Cohere's legacy generate API is deprecated).
* Usage: ``usage.tokens`` (what the model actually read and wrote, prompt template included,
  like OpenAI's counts) is preferred over ``usage.billed_units`` (what Cohere charges for,
  which leaves the template out); ``billed_units`` is used only when ``tokens`` is absent.
* The v2 chat API has no ``n``, ``logit_bias`` or ``parallel_tool_calls``, and its
  ``tool_choice`` is only ``REQUIRED`` / ``NONE``: what it cannot express is refused with
  :class:`UnsupportedParameterError` rather than dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._config import CohereConfig, ExternalModel
from extmodels_integrations._exceptions import (
    APIError,
    ServerError,
    StreamError,
    UnsupportedParameterError,
)
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Message,
    Task,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    error_for_status,
    loads,
    provider_params,
    sse_stream,
)

__all__ = [
    "CohereAdapter",
    "build",
    "chat_body",
    "finish_reason",
    "to_cohere_messages",
    "to_cohere_tool_choice",
]

PROVIDER = "cohere"
#: Most texts one v2 embed call takes (``texts`` docstring in cohere-python v2/raw_client.py).
EMBEDDING_BATCH_SIZE = 96

# One map for the v2 finish reasons (upper case in the API; one SDK version spelled them in
# lower case, so lookups are case-insensitive). ERROR and TIMEOUT are raised, not mapped.
_FINISH_REASONS: Mapping[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
    "CONTENT_BLOCKED": "content_filter",
}
_FAILED = frozenset({"ERROR", "TIMEOUT"})

_CHAT_RENAMED = {"top_k": "k", "top_p": "p"}
_CHAT_REJECTED = {
    "logit_bias": "the v2 chat API has no logit_bias; remove it",
    "n": "the v2 chat API returns one generation per call; call it n times",
    "top_logprobs": "the v2 chat API only takes logprobs=true; remove top_logprobs",
}
_EMBED_RENAMED = {"dimensions": "output_dimension"}
_EMBED_REJECTED = {
    "encoding_format": "Cohere embeddings are requested as floats here; remove encoding_format",
}
_INPUT_TYPES = {"query": "search_query", "document": "search_document"}
# Cohere sends no request-id header of its own name; x-debug-trace-id is what its API returns
# (seen in recorded api.cohere.com responses); x-request-id is kept for proxies in front.
_REQUEST_ID_HEADERS = ("x-request-id", "x-debug-trace-id")
_VERSION_SUFFIX = re.compile(r"/v[12]$")


def finish_reason(value: Any) -> str | None:
    """The unified finish reason for a Cohere one; unknown values are kept as they are."""
    if value is None:
        return None
    text = str(value)
    return _FINISH_REASONS.get(text.upper(), text)


def _failed(value: Any, message: Any) -> APIError | None:
    """The error for a generation that ended in ERROR or TIMEOUT, else ``None``."""
    if value is None or str(value).upper() not in _FAILED:
        return None
    text = str(message or f"generation ended with finish_reason {value}")
    return ServerError(text, provider=PROVIDER, code=str(value))


# -- requests -----------------------------------------------------------------------------------


def _text(content: Any) -> str:
    """The text of an OpenAI-style ``content``: a string or a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(part.get("text") or "")
        else:
            raise UnsupportedParameterError(
                PROVIDER,
                f"content part '{part.get('type')}'",
                "only text parts can go in this message",
            )
    return "".join(parts)


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
        },
    }


def _message(message: Message) -> dict[str, Any]:
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(content)}
    if role == "user":
        # User turns may carry image parts; v2 takes the OpenAI part shapes as they are.
        return {"role": "user", "content": content if isinstance(content, list) else content or ""}
    if role == "assistant":
        text = _text(content)
        calls = message.get("tool_calls")
        if calls:
            # v2 puts the text an assistant wrote before calling tools in ``tool_plan``.
            out: dict[str, Any] = {
                "role": "assistant",
                "tool_calls": [_tool_call(c) for c in calls],
            }
            if text:
                out["tool_plan"] = text
            return out
        return {"role": "assistant", "content": text}
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.get("tool_call_id"),
            "content": _text(content),
        }
    raise UnsupportedParameterError(PROVIDER, f"message role '{role}'")


def to_cohere_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI-style messages in the v2 chat shape."""
    return [_message(m) for m in messages]


def to_cohere_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> str | None:
    """The v2 ``tool_choice`` (``REQUIRED`` / ``NONE``) for an OpenAI-style one; ``None`` when
    the default (auto) says the same. A named tool can be forced only when it is the sole tool
    bound, since v2 cannot name one."""
    if choice is None or choice == "auto":
        return None
    if choice == "none":
        return "NONE"
    if choice in ("required", "any"):
        return "REQUIRED"
    name = ((choice.get("function") or choice).get("name")) if isinstance(choice, dict) else None
    names = [(t.get("function") or t).get("name") for t in tools]
    if name is not None and names == [name]:
        return "REQUIRED"
    raise UnsupportedParameterError(
        PROVIDER,
        "tool_choice",
        f"v2 chat cannot force one named tool among several ({choice!r}); bind only that "
        "tool, or use tool_choice='required'",
    )


def _response_format(value: dict[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "json_schema": schema} if schema else {"type": "json_object"}
    if kind in ("json_object", "text"):
        return {"type": kind}
    raise UnsupportedParameterError(PROVIDER, "response_format", f"type {kind!r} is not known")


def chat_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The v2 chat body for a unified chat request."""
    if request.n is not None and request.n > 1:
        raise UnsupportedParameterError(PROVIDER, "n", _CHAT_REJECTED["n"])
    body: dict[str, Any] = {"model": model, "messages": to_cohere_messages(request.messages)}
    if request.tools:
        body["tools"] = request.tools
        choice = to_cohere_tool_choice(request.tool_choice, request.tools)
        if choice is not None:
            body["tool_choice"] = choice
        if request.parallel_tool_calls is False:
            raise UnsupportedParameterError(
                PROVIDER,
                "parallel_tool_calls",
                "v2 chat may always return several tool calls; remove parallel_tool_calls",
            )
    if request.response_format:
        body["response_format"] = _response_format(request.response_format)
    _sampling(body, request.temperature, request.max_tokens, request.stop)
    body.update(
        provider_params(
            PROVIDER, request.extra_params, renamed=_CHAT_RENAMED, rejected=_CHAT_REJECTED
        )
    )
    if stream:
        body["stream"] = True
    return body


def _sampling(
    body: dict[str, Any],
    temperature: float | None,
    max_tokens: int | None,
    stop: list[str] | None,
) -> None:
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stop:
        body["stop_sequences"] = list(stop)


def _prompt(request: CompletionRequest) -> str:
    prompt = request.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise UnsupportedParameterError(
                PROVIDER,
                "prompt",
                f"a list of {len(prompt)} prompts; send one prompt per call "
                "(CompletionExternal: batch_size=1)",
            )
        prompt = prompt[0]
    return prompt


def completion_body(request: CompletionRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The v2 chat body for a unified completions request: the prompt as one user turn."""
    chat = ChatRequest(
        messages=[{"role": "user", "content": _prompt(request)}],
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=request.stop,
        n=request.n,
        extra_params=request.extra_params,
    )
    return chat_body(chat, model, stream=stream)


# -- responses ----------------------------------------------------------------------------------


def parse_usage(usage: Any) -> Usage | None:
    """Unified usage from a v2 ``usage`` (or embed ``meta``) object; see the module docstring
    for why ``tokens`` wins over ``billed_units``."""
    if not isinstance(usage, Mapping):
        return None
    counts = usage.get("tokens") or usage.get("billed_units")
    if not isinstance(counts, Mapping):
        return None
    return Usage(
        prompt_tokens=int(counts.get("input_tokens") or 0),
        completion_tokens=int(counts.get("output_tokens") or 0),
        cache_read_tokens=_int_or_none(usage.get("cached_tokens")),
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _content(parts: Any) -> tuple[str | None, str | None]:
    """``(text, thinking)`` of a v2 assistant ``content`` list."""
    if isinstance(parts, str):
        return parts, None
    text = [p.get("text") or "" for p in parts or () if p.get("type") == "text"]
    thinking = [p.get("thinking") or "" for p in parts or () if p.get("type") == "thinking"]
    return ("".join(text) if text else None), ("".join(thinking) if thinking else None)


def _chat_choice(data: Mapping[str, Any]) -> tuple[ChatChoice, Usage | None]:
    error = _failed(data.get("finish_reason"), data.get("error"))
    if error is not None:
        raise error
    message = data.get("message") or {}
    text, thinking = _content(message.get("content"))
    reasoning = "".join(r for r in (thinking, message.get("tool_plan")) if r) or None
    calls = [
        ToolCall(
            id=call.get("id") or f"call_{i}",
            name=(call.get("function") or {}).get("name") or "",
            arguments=_tool_call(call)["function"]["arguments"],
        )
        for i, call in enumerate(message.get("tool_calls") or [])
    ]
    choice = ChatChoice(
        index=0,
        content=text,
        tool_calls=calls,
        finish_reason=finish_reason(data.get("finish_reason")),
        reasoning=reasoning,
    )
    return choice, parse_usage(data.get("usage"))


def parse_chat(data: Any) -> ChatResponse:
    """A unified chat response from a v2 chat response."""
    try:
        choice, usage = _chat_choice(data)
        return ChatResponse(data.get("id"), None, [choice], usage, PROVIDER)
    except (AttributeError, TypeError, ValueError) as exc:
        raise StreamError(f"unexpected chat response shape: {exc}", provider=PROVIDER) from None


def parse_completion(data: Any) -> CompletionResponse:
    """A unified completions response from a v2 chat response."""
    try:
        choice, usage = _chat_choice(data)
    except (AttributeError, TypeError, ValueError) as exc:
        raise StreamError(f"unexpected chat response shape: {exc}", provider=PROVIDER) from None
    text = CompletionChoice(0, choice.content or "", choice.finish_reason)
    return CompletionResponse(data.get("id"), None, [text], usage, PROVIDER)


def parse_embeddings(data: Any) -> EmbeddingsResponse:
    """Unified embeddings from a v2 embed response (``embeddings.float``; a bare list as in v1
    is accepted too)."""
    try:
        vectors = data["embeddings"]
        if isinstance(vectors, Mapping):
            vectors = vectors["float"]
        meta = data.get("meta") or {}
        return EmbeddingsResponse(
            embeddings=[list(v) for v in vectors], usage=parse_usage(meta), provider=PROVIDER
        )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise StreamError(
            f"unexpected embeddings response shape: {exc!r}", provider=PROVIDER
        ) from None


# -- streams ------------------------------------------------------------------------------------


class ChatStreamParser:
    """Turns v2 chat stream events into unified chat chunks.

    ``message-start`` names the stream, ``content-delta`` carries text (or thinking),
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
            raise StreamError(f"unexpected stream event: {event.data[:200]!r}", provider=PROVIDER)
        try:
            choice, usage = self._event(data.get("type") or event.event, data)
        except (AttributeError, TypeError, ValueError) as exc:
            raise StreamError(f"unexpected stream event shape: {exc}", provider=PROVIDER) from None
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
                content=content.get("text"), reasoning=content.get("thinking")
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
            raise StreamError(
                "stream ended before message-end; the connection was probably cut",
                provider=PROVIDER,
            )


class CompletionStreamParser:
    """The chat stream parser, with text deltas reported as completion chunks."""

    __slots__ = ("_chat",)

    def __init__(self) -> None:
        self._chat = ChatStreamParser()

    def parse(self, event: SSEEvent) -> CompletionChunk | None:
        chunk = self._chat.parse(event)
        if chunk is None:
            return None
        choices = [
            CompletionChoice(0, c.content or "", c.finish_reason)
            for c in chunk.choices
            if c.content or c.finish_reason
        ]
        if not choices and chunk.usage is None:
            return None
        return CompletionChunk(chunk.id, None, choices, chunk.usage, PROVIDER)

    def finish(self) -> None:
        self._chat.finish()


# -- errors -------------------------------------------------------------------------------------


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a Cohere error body ``{"message": ...}`` (v2 may add ``"id"``)."""
    message, body_id = "", None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        message = str(data.get("message") or data.get("detail") or "")
        body_id = data.get("id")
    if not message:
        message = body[:500].decode("utf-8", "replace") or f"HTTP {status}"
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    # 498 is Cohere's "invalid token": an authentication failure by another number.
    return error_for_status(
        401 if status == 498 else status,
        message,
        provider=PROVIDER,
        request_id=request_id or (str(body_id) if body_id else None),
        body=body,
    )


# -- adapter ------------------------------------------------------------------------------------


def api_root(base: str) -> str:
    """``cohere_api_base`` without a trailing ``/v1`` or ``/v2``: the MLflow gateway's default
    base is ``https://api.cohere.ai/v1``, and the v2 paths are added here."""
    return _VERSION_SUFFIX.sub("", base.rstrip("/"))


class CohereAdapter(Adapter):
    """Cohere v2 chat (chat and completions) and v2 embed."""

    provider = PROVIDER
    embedding_batch_size = EMBEDDING_BATCH_SIZE

    def __init__(
        self, *, model: str, task: Task | None, auth: Auth, api_base: str = "https://api.cohere.com"
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.api_base = api_root(api_base)

    def _post(self, path: str, body: dict[str, Any]) -> HttpRequest:
        return HttpRequest(url=f"{self.api_base}/{path}", json=body)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._post("v2/chat", chat_body(request, request.model or self.model, stream=stream))

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParser())

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        body = completion_body(request, request.model or self.model, stream=stream)
        return self._post("v2/chat", body)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_completion(data)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(CompletionStreamParser())

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "texts": request.input,
            "input_type": _INPUT_TYPES[request.input_kind],
            "embedding_types": ["float"],
        }
        body.update(
            provider_params(
                PROVIDER, request.extra_params, renamed=_EMBED_RENAMED, rejected=_EMBED_REJECTED
            )
        )
        return self._post("v2/embed", body)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        return parse_embeddings(data)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(status, headers, body)


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> CohereAdapter:
    """The adapter for a ``cohere`` external model, with its key resolved. Cohere streams
    always end with usage, so ``stream_usage`` needs no request field."""
    config = model.provider_config
    assert isinstance(config, CohereConfig)
    key = config.secret("cohere_api_key", resolver)
    assert key is not None  # validation guarantees one of the pair
    return CohereAdapter(
        model=model.name,
        task=model.task,
        auth=StaticAuth({"Authorization": ("Bearer ", key)}),
        api_base=config.cohere_api_base,
    )
