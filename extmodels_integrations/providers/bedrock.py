"""The ``amazon-bedrock`` provider: ``bedrock_provider`` anthropic, cohere, ai21labs and amazon
over the Bedrock runtime ``InvokeModel`` API.

``POST {base}/model/{modelId}/invoke`` and ``/invoke-with-response-stream``, SigV4-signed for the
signing name ``bedrock`` (botocore's ``bedrock-runtime`` service model: ``signingName``
``bedrock``, ``endpointPrefix`` ``bedrock-runtime``). The model id is percent-encoded as
botocore's rest-json serializer encodes a non-greedy URI label (``:`` -> ``%3A``, ``/`` in ARNs
-> ``%2F``); botocore's signer then double-encodes it in the canonical request, as AWS expects.

Bodies per ``bedrock_provider`` (AWS "Inference request parameters" pages, cross-checked with
cohere-python ``aws_client.py``, anthropic-sdk ``lib/bedrock``, LiteLLM's Bedrock invoke
transformations and MLflow's gateway ``bedrock.py``):

* ``anthropic`` -- the Anthropic Messages body minus ``model``/``stream``, plus
  ``anthropic_version: bedrock-2023-05-31``; responses and stream events as the Messages API.
* ``cohere`` -- Command R(+) take the v1 chat body (``message``, ``chat_history``, ``preamble``,
  ``tools`` with ``parameter_definitions``); ``command-text``/``command-light-text`` the v1
  generate body; embed models ``texts`` + ``input_type`` (96 texts per call).
* ``ai21labs`` -- Jamba takes an OpenAI-like chat body; Jurassic-2 (``j2``) the ``complete``
  body and cannot stream on Bedrock (a stream is served as one chunk from ``/invoke``).
* ``amazon`` -- Titan text (``inputText`` + ``textGenerationConfig``); Titan embeddings take
  one text per call, so ``embedding_batch_size`` is 1 and the client fans texts out.

Temperature and other values pass through unchanged (no rescaling): the provider validates
its own ranges and says so in its error. Usage comes from the body where the model reports it,
else from the ``X-Amzn-Bedrock-Input/Output-Token-Count`` response headers, and in streams from
``amazon-bedrock-invocationMetrics`` on the last chunk.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from extmodels_integrations._config import AmazonBedrockConfig, ExternalModel
from extmodels_integrations._exceptions import (
    APIError,
    ConfigurationError,
    RateLimitError,
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
    normalize_finish_reason,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers import ai21labs, anthropic
from extmodels_integrations.providers._aws import EventMessage, EventStreamDecoder, SigV4Auth
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    error_for_status,
    loads,
    provider_params,
)
from extmodels_integrations.providers._openai_format import parse_chat as parse_openai_chat

__all__ = [
    "ANTHROPIC_VERSION",
    "PROVIDER",
    "BedrockAdapter",
    "BedrockStreamParser",
    "build",
    "map_error",
    "stream_exception",
]

PROVIDER = "amazon-bedrock"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
"""The ``anthropic_version`` Bedrock requires in Anthropic bodies."""

_C = TypeVar("_C", ChatChunk, CompletionChunk)
_JSON = "application/json"

# Status of each exception event of the ResponseStream shape (botocore bedrock-runtime
# service-2.json); mapped through the same status rules as HTTP errors.
_STREAM_EXCEPTIONS = {
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "validationException": 400,
    "throttlingException": 429,
    "modelTimeoutException": 408,
    "serviceUnavailableException": 503,
}
_THROTTLING_CODES = frozenset({"ThrottlingException", "throttlingException"})


# ----------------------------------------------------------------------------- shared helpers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header, case-insensitively (plain dicts in tests, httpx.Headers live)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _header_usage(headers: Mapping[str, str]) -> Usage | None:
    """Usage from ``X-Amzn-Bedrock-Input/Output-Token-Count`` (models whose body has none)."""
    prompt = _header(headers, "X-Amzn-Bedrock-Input-Token-Count")
    completion = _header(headers, "X-Amzn-Bedrock-Output-Token-Count")
    if prompt is None and completion is None:
        return None
    return Usage(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0)).completed()


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


def _text(content: Any) -> str:
    """The text of a message ``content``: a string or a list of text parts."""
    if content is None or isinstance(content, str):
        return content or ""
    parts = [p if isinstance(p, str) else p.get("text") for p in content]
    return "".join(p for p in parts if isinstance(p, str))


def _one_prompt(prompt: str | list[str]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) != 1:
        raise ConfigurationError(
            f"provider '{PROVIDER}' takes one prompt per request, got {len(prompt)}: "
            "send them one at a time (CompletionExternal: batch_size=1)"
        )
    return prompt[0]


def _reject_n(n: int | None, family: str) -> None:
    if n not in (None, 1):
        raise UnsupportedParameterError(PROVIDER, "n", f"{family} generates one answer per call")


def _finish(table: Mapping[str, str], value: Any) -> str | None:
    """``value`` through a sub-provider's finish-reason table; unknown values are kept."""
    if value is None:
        return None
    return table.get(str(value)) or normalize_finish_reason(value)


def _usage_chunk(cls: type[_C]) -> Callable[[Usage], _C]:
    return lambda usage: cls(None, None, [], usage, PROVIDER)


# ----------------------------------------------------------------------------- errors


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a Bedrock rest-json error: ``{"message": ...}`` with the error code
    in ``x-amzn-ErrorType`` (the part before ``:``, as botocore's parser reads it)."""
    code = (_header(headers, "x-amzn-ErrorType") or "").split(":")[0] or None
    message = ""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        message = str(data.get("message") or data.get("Message") or "")
        code = code or data.get("__type")
    if not message:
        message = body[:500].decode("utf-8", "replace") or f"HTTP {status}"
    request_id = _header(headers, "x-amzn-RequestId")
    if code in _THROTTLING_CODES:  # botocore retries it even when it comes with a 400
        return RateLimitError(
            message, provider=PROVIDER, status_code=status, code=code, request_id=request_id
        )
    return error_for_status(
        status, message, provider=PROVIDER, code=code, request_id=request_id, body=body
    )


def stream_exception(message: EventMessage) -> APIError:
    """The typed error for an ``exception`` (or ``error``) message inside a response stream."""
    headers = message.headers
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "error")
        text = str(headers.get(":error-message") or code)
        return error_for_status(500, text, provider=PROVIDER, code=code)
    code = str(headers.get(":exception-type") or "exception")
    try:
        data = json.loads(message.payload)
    except ValueError:
        data = {}
    text = str(data.get("message") or code) if isinstance(data, Mapping) else code
    if isinstance(data, Mapping) and data.get("originalMessage"):
        text += f" (model said: {data['originalMessage']})"
    return error_for_status(_STREAM_EXCEPTIONS.get(code, 500), text, provider=PROVIDER, code=code)


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
            raise StreamError(
                "Bedrock stream chunk has no base64 'bytes' payload", provider=PROVIDER
            ) from None
        event = loads(raw, PROVIDER)
        if not isinstance(event, dict):
            raise StreamError(f"unexpected Bedrock chunk: {raw[:200]!r}", provider=PROVIDER)
        return event


# ----------------------------------------------------------------------------- sub-providers


class _Dialect:
    """What one ``bedrock_provider`` does differently: bodies, parsing, stream events."""

    name = ""
    embedding_batch_size = 1

    def check_model(self, configured: str, model: str) -> None:
        """Refuse a per-call model whose body family differs from the configured one's."""

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        raise self._no_task("llm/v1/chat")

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        raise self._no_task("llm/v1/chat")

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        raise self._no_task("llm/v1/chat")

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        raise self._no_task("llm/v1/completions")

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        raise self._no_task("llm/v1/completions")

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        raise self._no_task("llm/v1/completions")

    def streams(self, model: str) -> bool:
        """Whether ``model`` streams (else a stream is one chunk from ``/invoke``)."""
        return True

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        raise self._no_task("llm/v1/embeddings")

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        raise self._no_task("llm/v1/embeddings")

    def _no_task(self, task: str) -> ConfigurationError:
        return ConfigurationError(
            f"provider '{PROVIDER}' with bedrock_provider '{self.name}' does not offer the "
            f"task '{task}' here"
        )


def _event_stream(
    parse: Callable[[dict[str, Any]], _C | None],
    finish: Callable[[], None],
    cls: type[_C],
) -> ParsedStream[EventMessage, _C]:
    return ParsedStream(EventStreamDecoder(), BedrockStreamParser(parse, finish, _usage_chunk(cls)))


# -- amazon (Titan) ------------------------------------------------------------------------

# Titan completionReason values (AWS "Amazon Titan Text models" page; MLflow's fixture uses
# FINISH, the AWS page FINISHED).
_TITAN_FINISH = {
    "FINISH": "stop",
    "FINISHED": "stop",
    "STOP_CRITERIA_MET": "stop",
    "LENGTH": "length",
    "CONTENT_FILTERED": "content_filter",
}
# AWS: "you can only specify one of the following options: |, User:" (LiteLLM's filter regex
# ^(\|+|User:)$ also admits runs of '|').
_TITAN_STOPS = ("|", "User:")


def _titan_stop_ok(stop: str) -> bool:
    return stop == "User:" or (bool(stop) and set(stop) == {"|"})


class _Titan(_Dialect):
    name = "amazon"
    embedding_batch_size = 1  # inputText is one string: one text per call

    def _body(
        self, text: str, max_tokens: int | None, temperature: float | None, stop: Any, extra: Any
    ) -> dict[str, Any]:
        bad = [s for s in stop or () if not _titan_stop_ok(s)]
        if bad:
            raise UnsupportedParameterError(
                PROVIDER,
                "stop",
                f"Titan text models accept only {' or '.join(map(repr, _TITAN_STOPS))} (or runs "
                f"of '|') as stop sequences, not {bad[0]!r}",
            )
        config: dict[str, Any] = {}
        if max_tokens is not None:
            config["maxTokenCount"] = max_tokens
        if temperature is not None:
            config["temperature"] = temperature
        if stop:
            config["stopSequences"] = list(stop)
        config.update(provider_params(PROVIDER, extra, renamed={"top_p": "topP"}))
        body: dict[str, Any] = {"inputText": text}
        if config:
            body["textGenerationConfig"] = config
        return body

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        _reject_n(request.n, "Titan")
        for name in ("tools", "response_format"):
            if getattr(request, name):
                raise UnsupportedParameterError(PROVIDER, name, "Titan text models lack it")
        prompt = _titan_transcript(request.messages)
        return self._body(
            prompt, request.max_tokens, request.temperature, request.stop, request.extra_params
        )

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        _reject_n(request.n, "Titan")
        prompt = _one_prompt(request.prompt)
        return self._body(
            prompt, request.max_tokens, request.temperature, request.stop, request.extra_params
        )

    def _results(self, data: Any) -> tuple[list[tuple[str, str | None]], Usage]:
        try:
            results = [
                (r.get("outputText") or "", _finish(_TITAN_FINISH, r.get("completionReason")))
                for r in data["results"]
            ]
            usage = Usage(
                prompt_tokens=int(data.get("inputTextTokenCount") or 0),
                completion_tokens=sum(int(r.get("tokenCount") or 0) for r in data["results"]),
            ).completed()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise StreamError(f"unexpected Titan response: {exc!r}", provider=PROVIDER) from None
        return results, usage

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        results, usage = self._results(data)
        choices = [ChatChoice(i, text, finish_reason=f) for i, (text, f) in enumerate(results)]
        return ChatResponse(None, None, choices, usage, PROVIDER)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        results, usage = self._results(data)
        choices = [CompletionChoice(i, text, f) for i, (text, f) in enumerate(results)]
        return CompletionResponse(None, None, choices, usage, PROVIDER)

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        state = _Finished()

        def parse(event: dict[str, Any]) -> ChatChunk | None:
            text, finish = state.titan(event)
            return ChatChunk(None, None, [ChatChunkChoice(0, text, None, finish)], None, PROVIDER)

        return _event_stream(parse, state.check, ChatChunk)

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        state = _Finished()

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            text, finish = state.titan(event)
            return CompletionChunk(None, None, [CompletionChoice(0, text, finish)], None, PROVIDER)

        return _event_stream(parse, state.check, CompletionChunk)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        if len(request.input) != 1:
            raise ConfigurationError("Titan embeddings take one text per call")
        # dimensions / normalize / embeddingTypes (v2) pass through as given.
        return {"inputText": request.input[0], **provider_params(PROVIDER, request.extra_params)}

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        try:
            vector = data["embedding"]
            tokens = int(data.get("inputTextTokenCount") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise StreamError(
                f"unexpected Titan embeddings response: {exc!r}", provider=PROVIDER
            ) from None
        return EmbeddingsResponse([vector], None, Usage(tokens, 0, tokens), PROVIDER)


def _titan_transcript(messages: list[Message]) -> str:
    """A chat flattened into Titan's ``inputText`` in the "User: ...\\nBot:" form AWS
    recommends; system text leads."""
    lines: list[str] = []
    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role == "system":
            lines.append(text)
        elif role == "user":
            lines.append(f"User: {text}")
        elif role == "assistant" and not message.get("tool_calls"):
            lines.append(f"Bot: {text}")
        else:
            raise UnsupportedParameterError(
                PROVIDER, "tools", "Titan text models cannot take tool calls or tool results"
            )
    lines.append("Bot:")
    return "\n".join(lines)


class _Finished:
    """Remembers whether a stream reached its finishing event, to tell a cut stream apart."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    def titan(self, event: Mapping[str, Any]) -> tuple[str, str | None]:
        finish = _finish(_TITAN_FINISH, event.get("completionReason"))
        self.done = self.done or finish is not None
        return event.get("outputText") or "", finish

    def check(self) -> None:
        if not self.done:
            raise StreamError(
                "stream ended before the model finished; the connection was probably cut",
                provider=PROVIDER,
            )


# -- cohere --------------------------------------------------------------------------------

# Cohere v1 finish reasons (cohere-python types; LiteLLM maps ERROR_TOXIC to content_filter).
_COHERE_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "ERROR_TOXIC": "content_filter",
    "TOOL_CALL": "tool_calls",
}
_COHERE_RENAMES = {"top_p": "p", "top_k": "k"}
# JSON-schema types -> the Python-style type names of v1 ``parameter_definitions``.
_COHERE_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}
_INPUT_TYPES = {"query": "search_query", "document": "search_document"}


def _is_generate_model(model: str) -> bool:
    """``cohere.command-text-v14`` / ``command-light-text-v14`` take the generate body; the
    Command R family (and anything newer) the v1 chat body."""
    return "command-text" in model or "command-light-text" in model


class _Cohere(_Dialect):
    name = "cohere"
    embedding_batch_size = 96  # Cohere embed: at most 96 texts per call

    def check_model(self, configured: str, model: str) -> None:
        if _is_generate_model(configured) != _is_generate_model(model):
            raise ConfigurationError(
                f"model '{model}' takes a different request body than the configured "
                f"'{configured}' (Command text vs Command R): configure it as its own target"
            )

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        if _is_generate_model(model):
            raise ConfigurationError(
                f"'{model}' is a text-generation model: use it with the task "
                "'llm/v1/completions', or a Command R model (cohere.command-r*) for chat"
            )
        _reject_n(request.n, "Cohere chat")
        if request.response_format:
            raise UnsupportedParameterError(PROVIDER, "response_format", "Cohere v1 chat")
        if request.tools and request.tool_choice not in (None, "auto"):
            raise UnsupportedParameterError(
                PROVIDER, "tool_choice", "Cohere v1 chat on Bedrock always lets the model choose"
            )
        if request.tools and request.parallel_tool_calls is False:
            raise UnsupportedParameterError(PROVIDER, "parallel_tool_calls", "Cohere v1 chat")
        body = _cohere_conversation(request.messages)
        if request.tools:
            body["tools"] = [_cohere_tool(t) for t in request.tools]
        _cohere_sampling(body, request.max_tokens, request.temperature, request.stop)
        body.update(provider_params(PROVIDER, request.extra_params, renamed=_COHERE_RENAMES))
        return body

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        prompt = _one_prompt(request.prompt)
        body: dict[str, Any]
        if _is_generate_model(model):
            body = {"prompt": prompt}
            if request.n is not None:
                body["num_generations"] = request.n
            if stream:
                body["stream"] = True  # AWS Cohere Command page: required to stream
        else:
            _reject_n(request.n, "Cohere chat")
            body = {"message": prompt}
        _cohere_sampling(body, request.max_tokens, request.temperature, request.stop)
        body.update(provider_params(PROVIDER, request.extra_params, renamed=_COHERE_RENAMES))
        return body

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        try:
            prefix = str(data.get("generation_id") or "call")[:8]
            calls = [
                ToolCall(f"{prefix}_{i}", str(c["name"]), json.dumps(c.get("parameters") or {}))
                for i, c in enumerate(data.get("tool_calls") or [])
            ]
            finish = "tool_calls" if calls else _finish(_COHERE_FINISH, data.get("finish_reason"))
            choice = ChatChoice(0, data.get("text") or None, calls, finish)
            return ChatResponse(
                data.get("response_id"), None, [choice], _cohere_usage(data, headers), PROVIDER
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise StreamError(f"unexpected Cohere response: {exc!r}", provider=PROVIDER) from None

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        if not isinstance(data, Mapping) or "generations" not in data:
            return anthropic.completion_from_chat(self.parse_chat(data, headers))
        try:
            choices = [
                CompletionChoice(
                    g.get("index", i),
                    g.get("text") or "",
                    _finish(_COHERE_FINISH, g.get("finish_reason")),
                )
                for i, g in enumerate(data["generations"])
            ]
        except (AttributeError, TypeError) as exc:
            raise StreamError(f"unexpected Cohere response: {exc!r}", provider=PROVIDER) from None
        return CompletionResponse(
            data.get("id"), None, choices, _cohere_usage(data, headers), PROVIDER
        )

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        parser = _CohereStream()
        return _event_stream(parser.chat, parser.check, ChatChunk)

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        parser = _CohereStream()
        return _event_stream(parser.completion, parser.check, CompletionChunk)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "texts": request.input,
            "input_type": _INPUT_TYPES[request.input_kind],
        }
        body.update(provider_params(PROVIDER, request.extra_params))
        return body

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        try:
            vectors = data["embeddings"]
            if isinstance(vectors, Mapping):  # embedding_types given: {"float": [[...]], ...}
                vectors = vectors.get("float") or next(iter(vectors.values()))
        except (KeyError, TypeError, StopIteration) as exc:
            raise StreamError(
                f"unexpected Cohere embeddings response: {exc!r}", provider=PROVIDER
            ) from None
        return EmbeddingsResponse(list(vectors), None, _header_usage(headers), PROVIDER)


def _cohere_sampling(
    body: dict[str, Any], max_tokens: int | None, temperature: float | None, stop: Any
) -> None:
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stop:
        body["stop_sequences"] = list(stop)


def _cohere_usage(data: Mapping[str, Any], headers: Mapping[str, str]) -> Usage | None:
    meta = data.get("meta") or {}
    tokens = meta.get("billed_units") or meta.get("tokens")
    if isinstance(tokens, Mapping) and tokens:
        return Usage(
            prompt_tokens=int(tokens.get("input_tokens") or 0),
            completion_tokens=int(tokens.get("output_tokens") or 0),
        ).completed()
    return _header_usage(headers)


def _cohere_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI-style tool as a v1 tool: top-level JSON-schema properties become
    ``parameter_definitions`` (v1 has no nested schemas; the type is kept by name)."""
    function = tool.get("function", tool)
    schema = function.get("parameters") or {}
    required = set(schema.get("required") or ())
    definitions = {}
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, Mapping) else None
        definition: dict[str, Any] = {
            "type": _COHERE_TYPES.get(str(kind), "str"),
            "required": name in required,
        }
        if isinstance(prop, Mapping) and prop.get("description"):
            definition["description"] = prop["description"]
        definitions[name] = definition
    out: dict[str, Any] = {"name": function["name"], "description": function.get("description", "")}
    if definitions:
        out["parameter_definitions"] = definitions
    return out


def _tool_outputs(content: Any) -> list[dict[str, Any]]:
    """A tool message's content as v1 ``outputs`` (a list of objects)."""
    text = _text(content)
    try:
        value = json.loads(text)
    except ValueError:
        return [{"result": text}]
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    return [{"result": value}]


def _cohere_conversation(messages: list[Message]) -> dict[str, Any]:
    """``preamble`` / ``chat_history`` / ``message`` / ``tool_results`` of a v1 chat body.

    Leading system messages become the preamble. The last user turn is ``message``; when the
    conversation ends in tool results instead, ``message`` is empty and the results go in
    ``tool_results`` (Cohere's v1 tool-use flow). Tool results are paired with the calls by
    ``tool_call_id``, because v1 identifies a call by its name and parameters.
    """
    calls: dict[str, dict[str, Any]] = {}
    preamble: list[str] = []
    history: list[dict[str, Any]] = []
    rest = list(messages)
    while rest and rest[0].get("role") == "system":
        preamble.append(_text(rest.pop(0).get("content")))
    for message in rest:
        role = message.get("role")
        if role == "tool":
            result = {
                "call": calls.get(str(message.get("tool_call_id")), {"name": "", "parameters": {}}),
                "outputs": _tool_outputs(message.get("content")),
            }
            if history and history[-1]["role"] == "TOOL":
                history[-1]["tool_results"].append(result)
            else:
                history.append({"role": "TOOL", "tool_results": [result]})
        elif role == "assistant":
            turn: dict[str, Any] = {"role": "CHATBOT", "message": _text(message.get("content"))}
            if message.get("tool_calls"):
                turn["tool_calls"] = [_cohere_call(c, calls) for c in message["tool_calls"]]
            history.append(turn)
        else:
            history.append(
                {
                    "role": "SYSTEM" if role == "system" else "USER",
                    "message": _text(message.get("content")),
                }
            )
    body: dict[str, Any] = {}
    if preamble:
        body["preamble"] = "\n\n".join(preamble)
    last = history.pop() if history else {"role": "USER", "message": ""}
    if last["role"] == "USER":
        body["message"] = last["message"]
    elif last["role"] == "TOOL":
        body["message"] = ""
        body["tool_results"] = last["tool_results"]
    else:
        raise ConfigurationError(
            "Cohere chat needs the conversation to end with a user message or tool results"
        )
    if history:
        body["chat_history"] = history
    return body


def _cohere_call(call: Mapping[str, Any], calls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    parameters = json.loads(arguments) if isinstance(arguments, str) else arguments
    v1 = {"name": function.get("name") or "", "parameters": parameters}
    calls[str(call.get("id"))] = v1
    return v1


class _CohereStream:
    """Cohere v1 stream events (chat and generate), as Bedrock relays them: ``text-generation``
    text, complete ``tool-calls-generation`` calls (v1 gives no ids: they are made up), and the
    finishing ``stream-end`` / ``is_finished`` event."""

    __slots__ = ("_calls", "_done", "_id")

    def __init__(self) -> None:
        self._id: str | None = None
        self._calls = 0
        self._done = False

    def _step(self, event: Mapping[str, Any]) -> tuple[str, list[ToolCallDelta], str | None]:
        kind = event.get("event_type")
        self._id = self._id or event.get("generation_id")
        text = event.get("text") or "" if kind in (None, "text-generation") else ""
        deltas: list[ToolCallDelta] = []
        if kind == "tool-calls-generation":
            prefix = str(self._id or "call")[:8]
            for call in event.get("tool_calls") or ():
                deltas.append(
                    ToolCallDelta(
                        self._calls,
                        f"{prefix}_{self._calls}",
                        str(call.get("name") or ""),
                        json.dumps(call.get("parameters") or {}),
                    )
                )
                self._calls += 1
        finish = None
        if event.get("is_finished") or kind == "stream-end":
            self._done = True
            reason = event.get("finish_reason") or (event.get("response") or {}).get(
                "finish_reason"
            )
            finish = "tool_calls" if self._calls else _finish(_COHERE_FINISH, reason or "COMPLETE")
        return text, deltas, finish

    def chat(self, event: dict[str, Any]) -> ChatChunk | None:
        text, deltas, finish = self._step(event)
        if not (text or deltas or finish):
            return None
        choice = ChatChunkChoice(0, text or None, deltas or None, finish)
        return ChatChunk(self._id, None, [choice], None, PROVIDER)

    def completion(self, event: dict[str, Any]) -> CompletionChunk | None:
        text, _, finish = self._step(event)
        if not (text or finish):
            return None
        index = int(event.get("index") or 0)
        return CompletionChunk(
            self._id, None, [CompletionChoice(index, text, finish)], None, PROVIDER
        )

    def check(self) -> None:
        if not self._done:
            raise StreamError(
                "stream ended before the model finished; the connection was probably cut",
                provider=PROVIDER,
            )


# -- ai21labs ------------------------------------------------------------------------------


def _is_j2(model: str) -> bool:
    return ".j2-" in model or model.startswith("j2-")


class _AI21(_Dialect):
    """Jamba: the AWS "AI21 Labs Jamba models" body (messages, max_tokens, temperature,
    top_p, stop, n, penalties; no tools, no response_format, no model/stream keys).
    Jurassic-2: the ``complete`` body, built and parsed by the ``ai21labs`` provider's
    :func:`~extmodels_integrations.providers.ai21labs.j2_body` / ``parse_j2``."""

    name = "ai21labs"

    def check_model(self, configured: str, model: str) -> None:
        if _is_j2(configured) != _is_j2(model):
            raise ConfigurationError(
                f"model '{model}' takes a different request body than the configured "
                f"'{configured}' (Jurassic-2 vs Jamba): configure it as its own target"
            )

    def streams(self, model: str) -> bool:
        return not _is_j2(model)  # Bedrock does not stream Jurassic-2 (LiteLLM fakes it too)

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        if _is_j2(model):
            raise ConfigurationError(
                f"'{model}' is a Jurassic-2 completion model: use it with the task "
                "'llm/v1/completions', or a Jamba model (ai21.jamba-*) for chat"
            )
        for name in ("tools", "response_format"):
            if getattr(request, name):
                raise UnsupportedParameterError(
                    PROVIDER, name, "the Bedrock Jamba request body has no such field"
                )
        messages = [_jamba_message(m) for m in request.messages]
        return _jamba_body(messages, request)

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        if _is_j2(model):
            return ai21labs.j2_body(request, provider=PROVIDER)
        prompt = _one_prompt(request.prompt)
        return _jamba_body([{"role": "user", "content": prompt}], request)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        response = parse_openai_chat(data, PROVIDER)
        for choice in response.choices:
            choice.finish_reason = ai21labs.finish_reason(choice.finish_reason)
        response.usage = response.usage or _header_usage(headers)
        return response

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        if isinstance(data, Mapping) and "completions" in data:
            response = ai21labs.parse_j2(data, PROVIDER)
            response.usage = response.usage or _header_usage(headers)
            return response
        return anthropic.completion_from_chat(self.parse_chat(data, headers))

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        parser = ai21labs.ChatStreamParserAI21(PROVIDER)
        # The decoded chunk is OpenAI-shaped JSON: the OpenAI-format parser reads it as the
        # data of one server-sent event.
        return _event_stream(
            lambda event: parser.parse(SSEEvent(json.dumps(event))), parser.finish, ChatChunk
        )

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        if _is_j2(model):
            return ParsedStream(ai21labs.J2Decoder(), ai21labs.J2StreamParser(PROVIDER))
        parser = ai21labs.ChatStreamParserAI21(PROVIDER)

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            chunk = parser.parse(SSEEvent(json.dumps(event)))
            return None if chunk is None else anthropic.completion_chunk(chunk)

        return _event_stream(parse, parser.finish, CompletionChunk)


def _jamba_message(message: Message) -> dict[str, Any]:
    if message.get("tool_calls") or message.get("role") == "tool":
        raise UnsupportedParameterError(
            PROVIDER, "tools", "the Bedrock Jamba request body takes no tool calls or results"
        )
    role = "system" if message.get("role") == "developer" else message.get("role")
    return {"role": role, "content": _text(message.get("content"))}


def _jamba_body(
    messages: list[dict[str, Any]], request: ChatRequest | CompletionRequest
) -> dict[str, Any]:
    fields = {
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop or None,
        "n": request.n,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    body.update(provider_params(PROVIDER, request.extra_params))
    return body


# -- anthropic -----------------------------------------------------------------------------


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
        return anthropic.completion_from_chat(self.parse_chat(data, headers))

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        parser = anthropic.MessageEventParser(PROVIDER)

        def parse(event: dict[str, Any]) -> ChatChunk | None:
            return _invoked(parser.parse_event(event))

        return _event_stream(parse, parser.finish, ChatChunk)

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        parser = anthropic.MessageEventParser(PROVIDER)

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            chunk = _invoked(parser.parse_event(event))
            return None if chunk is None else anthropic.completion_chunk(chunk)

        return _event_stream(parse, parser.finish, CompletionChunk)


def _invoked(chunk: ChatChunk | None) -> ChatChunk | None:
    """Claude on Bedrock names its model family (``claude-3-5-haiku-20241022``), not the
    Bedrock model id or inference profile that was invoked; the model is left unset so the
    client names the id the caller invoked, as for the other Bedrock models."""
    if chunk is not None:
        chunk.model = None
    return chunk


# ----------------------------------------------------------------------------- the adapter

_DIALECTS: dict[str, Callable[[], _Dialect]] = {
    "anthropic": _Anthropic,
    "amazon": _Titan,
    "cohere": _Cohere,
    "ai21labs": _AI21,
}


class BedrockAdapter(Adapter):
    """Bedrock runtime ``InvokeModel`` requests for one ``bedrock_provider``."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: SigV4Auth,
        bedrock_provider: str,
        api_base: str,
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.bedrock_provider = bedrock_provider
        self.api_base = api_base.rstrip("/")
        self._dialect = _DIALECTS[bedrock_provider]()
        self.embedding_batch_size = self._dialect.embedding_batch_size

    def _model(self, requested: str | None) -> str:
        model = requested or self.model
        if model != self.model:
            self._dialect.check_model(self.model, model)
        return model

    def url(self, model: str, *, stream: bool) -> str:
        """``{base}/model/{modelId}/invoke[-with-response-stream]``, the id encoded as botocore
        encodes a URI label (every reserved character, ``:`` and ``/`` included)."""
        action = "invoke-with-response-stream" if stream else "invoke"
        return f"{self.api_base}/model/{quote(model, safe='')}/{action}"

    def _request(self, model: str, body: dict[str, Any], stream: bool) -> HttpRequest:
        stream = stream and self._dialect.streams(model)
        headers = {"Content-Type": _JSON}
        # botocore sends the response type as Accept on InvokeModel and as
        # X-Amzn-Bedrock-Accept on InvokeModelWithResponseStream (service model).
        headers["X-Amzn-Bedrock-Accept" if stream else "Accept"] = _JSON
        # Signed bytes are sent bytes: the body is serialized here, once.
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return HttpRequest(url=self.url(model, stream=stream), headers=headers, content=content)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        model = self._model(request.model)
        return self._request(model, self._dialect.chat_body(request, model, stream), stream)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return self._dialect.parse_chat(data, headers)

    def chat_stream(self) -> ParsedStream[Any, ChatChunk]:
        return self._dialect.chat_stream(self.model)

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        model = self._model(request.model)
        return self._request(model, self._dialect.completion_body(request, model, stream), stream)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return self._dialect.parse_completion(data, headers)

    def completion_stream(self) -> ParsedStream[Any, CompletionChunk]:
        return self._dialect.completion_stream(self.model)

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        model = self._model(request.model)
        return self._request(model, self._dialect.embeddings_body(request), stream=False)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        return self._dialect.parse_embeddings(data, headers)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(status, headers, body)


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> BedrockAdapter:
    """The adapter for an ``amazon-bedrock`` external model, with its keys resolved.

    Without an access-key pair (including when ``instance_profile_arn`` is set) requests are
    signed with botocore's default credential chain; on an AWS host with that instance profile
    attached the chain yields its role's credentials. ``stream_usage`` needs no switch here:
    Bedrock always reports invocation metrics at the end of a stream.
    """
    config = model.provider_config
    assert isinstance(config, AmazonBedrockConfig)
    auth = SigV4Auth(
        region=config.aws_region,
        access_key_id=config.secret("aws_access_key_id", resolver),
        secret_access_key=config.secret("aws_secret_access_key", resolver),
        session_token=config.secret("aws_session_token", resolver),
    )
    return BedrockAdapter(
        model=model.name,
        task=model.task,
        auth=auth,
        bedrock_provider=config.bedrock_provider,
        api_base=config.base_url,
    )
