"""``bedrock_provider: cohere``: Command R(+) on the v1 chat body, ``command-text`` /
``command-light-text`` on the v1 generate body, their v1 stream events, and Cohere embed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import (
    ConfigurationError,
    MalformedResponseError,
    UnsupportedParameterError,
)
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
    ToolCall,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._warn import warn_user
from extmodels_integrations.providers._base import ParsedStream, provider_params
from extmodels_integrations.providers._views import completion_from_chat
from extmodels_integrations.providers.bedrock._common import (
    NO_REASONING,
    PROVIDER,
    _Dialect,
    _finish,
    _header_usage,
    _one_prompt,
    _reject_n,
    _text,
)
from extmodels_integrations.providers.bedrock._stream import _event_stream

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
# OpenAI names the two Bedrock Cohere bodies lack (AWS "Cohere Command R and Command R+ models",
# "Cohere Command models"); Bedrock refuses unknown keys, so they are refused here with the fix.
_NO_LOGPROBS = "Cohere on Bedrock returns no OpenAI-style log probabilities; remove it"
_CHAT_LACKS = {
    **NO_REASONING,
    "logprobs": _NO_LOGPROBS,
    "top_logprobs": _NO_LOGPROBS,
    "logit_bias": "Command R chat on Bedrock has no logit_bias; remove it",
    "user": "Command R chat on Bedrock has no user field; remove it",
}
_GENERATE_LACKS = {
    **NO_REASONING,
    "logprobs": _NO_LOGPROBS,
    "top_logprobs": _NO_LOGPROBS,
    **dict.fromkeys(
        ("presence_penalty", "frequency_penalty", "seed", "user"),
        "Command text on Bedrock has no such field; remove it, or use a Command R model",
    ),
}
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
        if request.tools and request.parallel_tool_calls_switch() is False:
            raise UnsupportedParameterError(PROVIDER, "parallel_tool_calls", "Cohere v1 chat")
        body = _cohere_conversation(request.messages)
        if request.tools:
            body["tools"] = [_cohere_tool(t) for t in request.tools]
        _cohere_sampling(body, request.max_tokens, request.temperature, request.stop)
        body.update(
            provider_params(
                PROVIDER, request.extra_params, renamed=_COHERE_RENAMES, rejected=_CHAT_LACKS
            )
        )
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
        lacks = _GENERATE_LACKS if _is_generate_model(model) else _CHAT_LACKS
        body.update(
            provider_params(PROVIDER, request.extra_params, renamed=_COHERE_RENAMES, rejected=lacks)
        )
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
            raise MalformedResponseError(
                f"unexpected Cohere response: {exc!r}", provider=PROVIDER
            ) from None

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        if not isinstance(data, Mapping) or "generations" not in data:
            return completion_from_chat(self.parse_chat(data, headers))
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
            raise MalformedResponseError(
                f"unexpected Cohere response: {exc!r}", provider=PROVIDER
            ) from None
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
            raise MalformedResponseError(
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
    if function.get("strict"):
        # Strict is a guarantee the caller cannot get here; the call itself still works.
        warn_user(
            f"tool {function['name']!r}: strict dropped: Cohere chat on Bedrock has no strict "
            "tool schemas (use bedrock_provider anthropic, or check the arguments yourself)"
        )
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
    ``tool_results`` (Cohere's v1 tool-use flow).
    """
    preamble: list[str] = []
    rest = list(messages)
    while rest and rest[0].get("role") == "system":
        preamble.append(_text(rest.pop(0).get("content")))
    history = _cohere_history(rest)
    body: dict[str, Any] = {}
    if preamble:
        body["preamble"] = "\n\n".join(preamble)
    body.update(_cohere_last_turn(history))
    if history:
        body["chat_history"] = history
    return body


def _cohere_history(messages: list[Message]) -> list[dict[str, Any]]:
    """v1 ``chat_history`` turns for ``messages``; consecutive tool results share one TOOL turn.

    Tool results are paired with the calls by ``tool_call_id``, because v1 identifies a call by
    its name and parameters.
    """
    calls: dict[str, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for message in messages:
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
    return history


def _cohere_last_turn(history: list[dict[str, Any]]) -> dict[str, Any]:
    """``message`` (and ``tool_results``) from the turn that ends ``history``, popped off it:
    v1 sends the newest turn outside ``chat_history``."""
    last = history.pop() if history else {"role": "USER", "message": ""}
    if last["role"] == "USER":
        return {"message": last["message"]}
    if last["role"] == "TOOL":
        return {"message": "", "tool_results": last["tool_results"]}
    raise ConfigurationError(
        "Cohere chat needs the conversation to end with a user message or tool results"
    )


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
            raise MalformedResponseError(
                "stream ended before the model finished; the connection was probably cut",
                provider=PROVIDER,
            )
