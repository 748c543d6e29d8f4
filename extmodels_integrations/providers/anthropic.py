"""The ``anthropic`` provider: chat and completions through the Anthropic Messages API.

``POST {anthropic_api_base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``. Wire facts
come from ``anthropics/anthropic-sdk-python`` (``types/message_create_params.py``,
``types/stop_reason.py``, ``types/usage.py``, ``types/message_delta_usage.py``,
``types/tool_choice_*_param.py``, ``_client.py`` for headers and the status map) and Anthropic's
Messages / streaming / structured-outputs documentation.

The pure building blocks (:func:`messages_body`, :func:`completion_messages_body`,
:func:`parse_message`, :func:`completion_from_chat`, :class:`MessageEventParser`,
:func:`completion_chunk`, :func:`event_error`) are shared with ``amazon-bedrock`` targets whose
``bedrock_provider`` is ``anthropic``: Bedrock carries the same bodies and events.

Policies a user may not guess:

* ``temperature`` is sent as given (Anthropic accepts 0-1). It is not rescaled, unlike MLflow's
  gateway, so a value means what it means in the Anthropic SDK and in ``ChatAnthropic``.
* ``max_tokens`` is required by the API; when the request has none, the model family's documented
  output cap is sent (see :func:`default_max_tokens`).
* ``prompt_tokens`` counts every input token: ``input_tokens`` (only the tokens after the last
  cache breakpoint) plus cache reads and cache writes, as OpenAI's ``prompt_tokens`` includes
  cached tokens and as ``ChatAnthropic`` reports ``input_tokens``. The cache parts are also
  reported on their own (``cache_read_tokens`` / ``cache_creation_tokens``).
* Stop reasons: ``end_turn`` / ``stop_sequence`` -> ``stop``; ``max_tokens`` /
  ``model_context_window_exceeded`` -> ``length``; ``tool_use`` -> ``tool_calls``; ``refusal``
  -> ``content_filter``; anything else (``pause_turn``: a server-tool turn to be resumed) is kept
  as Anthropic spells it, since calling it ``stop`` would hide an unfinished answer.
* Message ``name`` fields are dropped (the Messages API has no such field), and reasoning the
  model produced earlier is not sent back (its ``signature`` is not part of the unified schema).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._config import AnthropicConfig, ExternalModel
from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
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
    "ANTHROPIC_VERSION",
    "AnthropicAdapter",
    "MessageEventParser",
    "build",
    "completion_chunk",
    "completion_from_chat",
    "completion_messages_body",
    "default_max_tokens",
    "event_error",
    "map_error",
    "messages_body",
    "parse_message",
    "parse_usage",
]

#: The API version header the SDK sends by default (``anthropic-sdk-python`` ``_client.py``).
ANTHROPIC_VERSION = "2023-06-01"

# Output caps from Anthropic's model comparison table (docs "Models overview"), the same numbers
# langchain-anthropic and vercel/ai default to. Matched by longest prefix, so a dated id
# (claude-3-5-haiku-20241022), a Bedrock id (us.anthropic.claude-sonnet-4-...) or a newer point
# release of a family (claude-opus-4-6) gets its family's cap: caps have only grown within a
# family, so the value is always accepted.
_MAX_OUTPUT_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-3-haiku", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-5-haiku", 8192),
    ("claude-3-5-sonnet", 8192),
    ("claude-3-7-sonnet", 64000),
    ("claude-sonnet-4", 64000),
    ("claude-haiku-4", 64000),
    ("claude-opus-4", 32000),
    ("claude-opus-4-5", 64000),
)
#: For ids the table does not know: every Claude 3+ model accepts it.
FALLBACK_MAX_TOKENS = 4096

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# OpenAI-schema parameters the Messages API has no equivalent for, with the fix.
_REJECTED = {
    "logprobs": "Anthropic does not return log probabilities; remove it",
    "top_logprobs": "Anthropic does not return log probabilities; remove it",
    "logit_bias": "Anthropic has no token biasing; remove it",
    "frequency_penalty": "Anthropic has no repetition penalties; remove it",
    "presence_penalty": "Anthropic has no repetition penalties; remove it",
    "seed": "Anthropic sampling cannot be seeded; remove it",
    "user": "pass metadata={'user_id': ...} instead",
}
# The Messages API spells OpenAI's newer name for max_tokens the old way.
_RENAMED = {"max_completion_tokens": "max_tokens"}

# Error ``type`` -> class, for error events that arrive after HTTP 200 (no status to go on).
# The types and the statuses they come with: anthropic-sdk-python ``types/shared/*_error.py``.
_EVENT_ERRORS: Mapping[str, type[APIError]] = {
    "invalid_request_error": BadRequestError,
    "request_too_large": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "api_error": ServerError,
    "timeout_error": ServerError,
    "overloaded_error": ServerError,
}


def default_max_tokens(model: str) -> int:
    """The ``max_tokens`` sent when a request has none: the model family's output cap.

    The cap, not a small number, because the unified schema (like OpenAI's) treats a missing
    ``max_tokens`` as "as long as the answer needs": a small default silently truncates long
    answers and large tool calls, which is why langchain-anthropic and vercel/ai moved to the
    caps. Pass ``max_tokens`` to reserve less (Anthropic meters output-token rate limits
    against it at the start of a request).
    """
    start = model.find("claude-")
    family = model[start:] if start >= 0 else model
    best = ("", FALLBACK_MAX_TOKENS)
    for prefix, cap in _MAX_OUTPUT_TOKENS:
        if family.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, cap)
    return best[1]


# -- request -------------------------------------------------------------------------------------


def messages_body(request: ChatRequest, *, provider: str, model: str) -> dict[str, Any]:
    """The Messages API body for a chat request, without ``model`` and ``stream``.

    ``model`` only picks the default ``max_tokens``. Raises
    :class:`UnsupportedParameterError` for OpenAI-only parameters instead of dropping them.
    """
    if (request.n or 1) > 1:
        raise UnsupportedParameterError(
            provider, "n", "Anthropic returns one message per request; make n calls instead"
        )
    system, messages = convert_messages(request.messages, provider)
    body: dict[str, Any] = {
        "max_tokens": request.max_tokens
        if request.max_tokens is not None
        else default_max_tokens(model),
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    output_format = _output_format(request.response_format, provider)
    if output_format is not None:
        body["output_config"] = {"format": output_format}
    return _with_extra(body, request.extra_params, provider)


def completion_messages_body(
    request: CompletionRequest, *, provider: str, model: str
) -> dict[str, Any]:
    """The Messages API body for a completions request: the prompt as one user message."""
    prompts = [request.prompt] if isinstance(request.prompt, str) else list(request.prompt)
    if len(prompts) != 1:
        raise UnsupportedParameterError(
            provider,
            "prompt",
            f"Anthropic answers one prompt per request and {len(prompts)} were given; "
            "send one prompt per call",
        )
    chat = ChatRequest(
        messages=[{"role": "user", "content": prompts[0]}],
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=request.stop,
        n=request.n,
        extra_params=request.extra_params,
    )
    return messages_body(chat, provider=provider, model=model)


def _with_extra(body: dict[str, Any], extra: Mapping[str, Any], provider: str) -> dict[str, Any]:
    # Provider-native fields (top_k, top_p, metadata, thinking...) pass through and win.
    body.update(provider_params(provider, extra, renamed=_RENAMED, rejected=_REJECTED))
    return body


def convert_messages(
    messages: Iterable[Mapping[str, Any]], provider: str
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """``(system, messages)`` for the Messages API from OpenAI-style messages.

    System (and ``developer``) messages are lifted into ``system``; tool results become
    ``tool_result`` blocks of a user turn; assistant tool calls become ``tool_use`` blocks;
    empty text is dropped (the API rejects it); consecutive turns of one role are merged, since
    Bedrock and older API versions reject them rather than merging.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system += _blocks(message.get("content"))
            continue
        if role == "tool":
            content: Any = [_tool_result(message)]
            role = "user"
        elif role == "assistant":
            content = _assistant_blocks(message)
        elif role == "user":
            content = _content(message.get("content"))
        else:
            raise ConfigurationError(
                f"provider '{provider}': message role {role!r} is not one of system, user, "
                "assistant, tool"
            )
        if not content:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(content)
        else:
            turns.append({"role": role, "content": content})
    for turn in turns:
        if turn["role"] == "user" and isinstance(turn["content"], list):
            # The API wants a turn's tool results before any other block in it.
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return _system(system), turns


def _system(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    if not blocks:
        return None
    if all(set(block) <= {"type", "text"} for block in blocks):
        return "\n\n".join(block["text"] for block in blocks)
    return blocks  # blocks with cache_control (prompt caching) keep their shape


def _content(content: Any) -> str | list[dict[str, Any]]:
    """A user turn's content: a non-empty string as is, else its non-empty blocks."""
    if isinstance(content, str):
        return content if content.strip() else []
    return _blocks(content)


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks from OpenAI-style content (a string or a list of parts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        block = _block(part)
        if block is not None:
            blocks.append(block)
    return blocks


def _block(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"type": "text", "text": part} if part.strip() else None
    kind = part.get("type")
    if kind == "text":
        return dict(part) if (part.get("text") or "").strip() else None
    if kind == "image_url":
        url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
        return {"type": "image", "source": _source(url)}
    if kind == "file" and isinstance(part.get("file"), dict) and part["file"].get("file_data"):
        return {"type": "document", "source": _source(part["file"]["file_data"])}
    if kind in ("reasoning", "thinking_summary"):
        return None  # unsigned reasoning cannot be sent back; the API would reject it
    return dict(part)  # already an Anthropic block (image, document, tool_use, thinking...)


def _source(url: str) -> dict[str, str]:
    """A ``base64`` source from a data URL, else a ``url`` source."""
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _assistant_blocks(message: Mapping[str, Any]) -> str | list[dict[str, Any]]:
    calls = message.get("tool_calls") or []
    if not calls:
        return _content(message.get("content"))
    blocks = _blocks(message.get("content"))
    known = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    for call in calls:
        if call.get("id") in known:
            continue  # content already carried this call as a tool_use block
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_input(call.get("id"), function.get("arguments")),
            }
        )
    return blocks


def _tool_input(call_id: Any, arguments: Any) -> Any:
    if arguments is None or arguments == "":
        return {}
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        raise ConfigurationError(
            f"tool call {call_id!r}: arguments are not valid JSON, and Anthropic takes tool "
            "input as a JSON object; fix or drop that tool call from the history"
        ) from None


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content:
        block["content"] = _blocks(content)
    return block


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic tool from an OpenAI function tool; Anthropic-native tools pass through."""
    if tool.get("type") != "function" or "function" not in tool:
        return dict(tool)
    function = tool["function"]
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if function.get("strict") is not None:
        out["strict"] = function["strict"]
    return out


def _tool_choice(choice: Any, parallel: bool | None) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` -> Anthropic's; ``parallel_tool_calls=False`` rides on it."""
    mapped: dict[str, Any] | None
    if choice is None:
        mapped = None
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice in ("required", "any"):
        mapped = {"type": "any"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif isinstance(choice, str):
        mapped = {"type": "tool", "name": choice}
    elif choice.get("type") == "function":
        mapped = {"type": "tool", "name": choice["function"]["name"]}
    else:
        mapped = dict(choice)  # already Anthropic's shape
    if parallel is False and (mapped is None or mapped["type"] != "none"):
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    return mapped


def _output_format(response_format: Mapping[str, Any] | None, provider: str) -> Any:
    """``json_schema`` -> structured outputs (``output_config.format``); ``json_object`` has no
    equivalent and is refused."""
    kind = (response_format or {}).get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_schema":
        assert response_format is not None
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, Mapping):
            raise ConfigurationError("response_format json_schema needs json_schema.schema")
        return {"type": "json_schema", "schema": _closed(schema)}
    raise UnsupportedParameterError(
        provider,
        "response_format",
        f"Anthropic has no '{kind}' mode; use a json_schema response_format or a forced tool "
        "call (with_structured_output(schema) does that)",
    )


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that does not say:
    Anthropic's structured outputs require it (the SDK's ``transform_schema`` does the same)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: _closed(value) for key, value in schema.items()}
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


# -- response ------------------------------------------------------------------------------------


def stop_reason(value: Any) -> str | None:
    """The unified finish reason for an Anthropic ``stop_reason``."""
    return None if value is None else _STOP_REASONS.get(str(value), str(value))


def parse_usage(data: Any) -> Usage | None:
    """Unified usage from an Anthropic ``usage`` object (see the module notes on
    ``prompt_tokens``)."""
    if not isinstance(data, Mapping):
        return None
    read = _int_or_none(data.get("cache_read_input_tokens"))
    created = _int_or_none(data.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=int(data.get("input_tokens") or 0) + (read or 0) + (created or 0),
        completion_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=read,
        cache_creation_tokens=created,
    ).completed()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_message(data: Any, provider: str) -> ChatResponse:
    """A unified chat response from a Messages API ``message``."""
    try:
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for block in data.get("content") or ():
            kind = block.get("type")
            if kind == "text":
                text.append(block.get("text") or "")
            elif kind == "thinking":
                reasoning.append(block.get("thinking") or "")
            elif kind == "tool_use":
                calls.append(
                    ToolCall(
                        id=block.get("id") or f"toolu_{len(calls)}",
                        name=block.get("name") or "",
                        arguments=json.dumps(block.get("input") or {}, ensure_ascii=False),
                    )
                )
        choice = ChatChoice(
            index=0,
            content="".join(text) if text or not calls else None,
            tool_calls=calls,
            finish_reason=stop_reason(data.get("stop_reason")),
            reasoning="".join(reasoning) if reasoning else None,
        )
        return ChatResponse(
            id=data.get("id"),
            model=data.get("model"),
            choices=[choice],
            usage=parse_usage(data.get("usage")),
            provider=provider,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise StreamError(f"unexpected message shape: {exc}", provider=provider) from None


def completion_from_chat(response: ChatResponse) -> CompletionResponse:
    """The completions view of a one-message chat response."""
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
    )


# -- stream --------------------------------------------------------------------------------------


class MessageEventParser:
    """Turns decoded Messages stream events (``data`` objects; ``type`` names the event) into
    unified chat chunks; stateful per stream.

    ``message_start`` yields nothing by itself (its id, model and input usage ride on later
    chunks), so an ``error`` event right after it still counts as "nothing yielded" and the
    transport may retry. Usage is merged from ``message_start`` and the cumulative
    ``message_delta`` and reported once, on the chunk that carries the finish reason.
    Tool calls are numbered by their own order, not by content-block index (text blocks would
    shift it); the first delta of a call carries its id and name.
    """

    __slots__ = (
        "_blocks",
        "_finished",
        "_id",
        "_model",
        "_provider",
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
            raise StreamError(
                f"unexpected {kind} event shape: {exc!r}", provider=self._provider
            ) from None
        if kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            raise event_error(data, self._provider)
        return None  # ping, and event types added after this was written

    def finish(self) -> None:
        """Raise :class:`StreamError` when the stream ended before the message did."""
        if not (self._stopped or self._finished):
            raise StreamError(
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
        if kind == "thinking" and block.get("thinking"):
            return self._chunk(ChatChunkChoice(reasoning=block["thinking"]))
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
            return self._chunk(ChatChunkChoice(reasoning=delta["thinking"]))
        if kind == "input_json_delta" and delta.get("partial_json"):
            state = self._blocks[index]
            state[1] = True
            call = ToolCallDelta(state[0], arguments=delta["partial_json"])
            return self._chunk(ChatChunkChoice(tool_calls=[call]))
        return None  # signature_delta, citations_delta, empty fragments

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
    return CompletionChunk(chunk.id, chunk.model, choices, chunk.usage, chunk.provider)


def event_error(data: Mapping[str, Any], provider: str) -> APIError:
    """The typed error for an ``error`` stream event (which arrives after HTTP 200, so it has
    no status): ``overloaded_error`` and ``api_error`` are retryable server errors."""
    error = data.get("error")
    detail = error if isinstance(error, Mapping) else {}
    kind = str(detail.get("type") or "error")
    cls = _EVENT_ERRORS.get(kind, APIError)
    return cls(
        str(detail.get("message") or error or "error event without a message"),
        provider=provider,
        code=kind,
        request_id=data.get("request_id"),
    )


class _ChatEvents:
    """SSE events -> chat chunks."""

    __slots__ = ("_parser", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._parser = MessageEventParser(provider)

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        data = loads(event.data, self._provider)
        if not isinstance(data, dict):
            raise StreamError(
                f"unexpected stream event: {event.data[:200]!r}", provider=self._provider
            )
        # The event name and the data's type agree on the API; the name wins if a relay
        # drops the type.
        if event.event and "type" not in data:
            data["type"] = event.event
        return self._parser.parse_event(data)

    def finish(self) -> None:
        self._parser.finish()


class _CompletionEvents:
    """SSE events -> completion chunks."""

    __slots__ = ("_chat",)

    def __init__(self, provider: str) -> None:
        self._chat = _ChatEvents(provider)

    def parse(self, event: SSEEvent) -> CompletionChunk | None:
        chunk = self._chat.parse(event)
        return None if chunk is None else completion_chunk(chunk)

    def finish(self) -> None:
        self._chat.finish()


# -- errors --------------------------------------------------------------------------------------


def map_error(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for an Anthropic error body
    ``{"type": "error", "error": {"type", "message"}, "request_id"}``; 529 ``overloaded_error``
    is a retryable :class:`ServerError`."""
    message, code, request_id = "", None, headers.get("request-id")
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or "")
            code = error.get("type")
        request_id = request_id or data.get("request_id")
    return error_for_status(
        status,
        message or body[:500].decode("utf-8", "replace") or f"HTTP {status}",
        provider=provider,
        code=str(code) if code is not None else None,
        request_id=request_id,
        body=body,
    )


# -- adapter -------------------------------------------------------------------------------------


class AnthropicAdapter(Adapter):
    """Chat and completions through ``POST {api_base}/v1/messages``."""

    provider = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: Auth,
        api_base: str = "https://api.anthropic.com",
        version: str = ANTHROPIC_VERSION,
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        base = api_base.rstrip("/")
        # Accept a base given with the version segment, as some proxies document it.
        self.url = f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"
        self.version = version

    def headers(self) -> dict[str, str]:
        return {"anthropic-version": self.version}

    def _request(self, body: dict[str, Any], model: str, stream: bool) -> HttpRequest:
        payload = {"model": model, **body}
        if stream:
            payload["stream"] = True
        return HttpRequest(url=self.url, json=payload, headers=self.headers())

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        model = request.model or self.model
        body = messages_body(request, provider=self.provider, model=model)
        return self._request(body, model, stream)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_message(data, self.provider)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(_ChatEvents(self.provider))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        model = request.model or self.model
        body = completion_messages_body(request, provider=self.provider, model=model)
        return self._request(body, model, stream)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return completion_from_chat(parse_message(data, self.provider))

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(_CompletionEvents(self.provider))

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(self.provider, status, headers, body)


def build(
    model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool
) -> AnthropicAdapter:
    """The adapter for an ``anthropic`` external model, with its key resolved.

    ``stream_usage`` needs nothing here: Anthropic streams always report usage.
    """
    config = model.provider_config
    assert isinstance(config, AnthropicConfig)
    key = config.secret("anthropic_api_key", resolver)
    assert key is not None  # validation requires the key or its plaintext twin
    return AnthropicAdapter(
        model=model.name,
        task=model.task,
        auth=StaticAuth({"x-api-key": ("", key)}),
        api_base=config.anthropic_api_base,
    )
