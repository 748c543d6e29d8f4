"""The ``ai21labs`` provider: Jamba chat (``POST {base}/chat/completions``, OpenAI-like) for
``llm/v1/chat`` and the legacy Jurassic-2 completions (``POST {base}/{model}/complete``) for
``llm/v1/completions``. ``ai21labs_api_base`` defaults to ``https://api.ai21.com/studio/v1``.

Wire facts come from AI21Labs/ai21-python: ``clients/studio/resources/chat`` (the chat body:
model, messages, max_tokens, temperature, top_p, stop, n, stream, tools, response_format,
documents; no tool_choice), ``models/chat/chat_completion_{response,chunk}.py`` (OpenAI-shaped
replies; a stream ends with ``data: [DONE]`` and its last chunk may carry ``usage``),
``clients/studio/resources/studio_completion.py`` and ``models/responses/completion_response.py``
(J2). J2 cannot stream: a stream request is sent as a plain one and answered by one honest
chunk holding the whole text, finish reasons and usage.

:func:`j2_body` and :func:`parse_j2` are pure and public so the Amazon Bedrock adapter can reuse
them for ``bedrock_provider: ai21labs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._config import Ai21LabsConfig, ExternalModel
from extmodels_integrations._exceptions import (
    APIError,
    MalformedResponseError,
    UnsupportedParameterError,
)
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Task,
    Usage,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    body_error,
    error_json,
    header_value,
    loads,
    provider_params,
    sse_stream,
)
from extmodels_integrations.providers._openai_response import parse_chat as parse_openai_chat
from extmodels_integrations.providers._openai_stream import ChatStreamParser

__all__ = [
    "Ai21LabsAdapter",
    "J2Decoder",
    "J2StreamParser",
    "build",
    "chat_body",
    "finish_reason",
    "j2_body",
    "parse_j2",
]

PROVIDER = "ai21labs"

# One map for both APIs: J2's finishReason.reason (endoftext, stop, length) and Jamba's
# OpenAI-style finish_reason. Unknown values are kept as they are.
_FINISH_REASONS: Mapping[str, str] = {
    "endoftext": "stop",
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}

_CHAT_REJECTED = {
    "logit_bias": "Jamba chat has no logit_bias; remove it",
    "top_k": "Jamba chat has no top-k sampling; use top_p",
    "reasoning_effort": "Jamba models do not reason; remove reasoning_effort",
}
# J2 spells its fields in camelCase; penalties are objects ({"scale": x, ...}).
_J2_RENAMED = {"top_p": "topP", "min_tokens": "minTokens"}
_J2_PENALTIES = {
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
    "count_penalty": "countPenalty",
}
_J2_REJECTED = {
    "logit_bias": "J2's logitBias is keyed by token text, not token id; pass it as 'logitBias'",
    "top_k": "J2 has no top-k sampling; use top_p",
}
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")


def finish_reason(value: Any) -> str | None:
    """The unified finish reason for a J2 or Jamba one."""
    if value is None:
        return None
    text = str(value)
    return _FINISH_REASONS.get(text, text)


# -- Jamba chat ---------------------------------------------------------------------------------


def _text(content: Any) -> str:
    """Jamba messages take string content: text parts are joined, anything else refused."""
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(part.get("text") or "")
        else:
            raise UnsupportedParameterError(
                PROVIDER, f"content part '{part.get('type')}'", "Jamba chat takes text only"
            )
    return "".join(parts)


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(message)
    if out.get("role") == "developer":
        out["role"] = "system"
    text = _text(out.get("content"))
    # An assistant turn that only calls tools has no content (null, as in OpenAI's shape).
    out["content"] = text or None if out.get("tool_calls") else text
    return out


def chat_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The Jamba chat body for a unified chat request."""
    _check_tools(request)
    fields = {
        "model": model,
        "messages": [_message(m) for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "stop": request.stop or None,
        "n": request.n,
        "tools": request.tools or None,
        "response_format": request.response_format,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    body.update(provider_params(PROVIDER, request.extra_params, rejected=_CHAT_REJECTED))
    if stream:
        # No stream_options: the API documents none, and it reports usage on the last chunk.
        body["stream"] = True
    return body


def _check_tools(request: ChatRequest) -> None:
    if not request.tools:
        return
    if request.tool_choice not in (None, "auto"):
        raise UnsupportedParameterError(
            PROVIDER,
            "tool_choice",
            f"Jamba chat cannot force or forbid tool use ({request.tool_choice!r}); "
            "the model decides",
        )
    if request.parallel_tool_calls_switch() is not None:
        raise UnsupportedParameterError(
            PROVIDER, "parallel_tool_calls", "Jamba chat has no such switch; remove it"
        )


def parse_chat(data: Any) -> ChatResponse:
    """A unified chat response from a Jamba chat response (OpenAI-shaped, no ``model``)."""
    response = parse_openai_chat(data, PROVIDER)
    for choice in response.choices:
        choice.finish_reason = finish_reason(choice.finish_reason)
    return response


class ChatStreamParserAI21(ChatStreamParser):
    """OpenAI-style chat chunks, with finish reasons through AI21's map."""

    __slots__ = ()

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        chunk = super().parse(event)
        if chunk is not None:
            for choice in chunk.choices:
                choice.finish_reason = finish_reason(choice.finish_reason)
        return chunk


# -- Jurassic-2 completions ---------------------------------------------------------------------


def _penalty(value: Any) -> Any:
    # A bare number is the scale; a full penalty object (applyToNumbers...) passes as it is.
    return value if isinstance(value, Mapping) else {"scale": value}


def j2_body(request: CompletionRequest, *, provider: str = PROVIDER) -> dict[str, Any]:
    """The J2 ``complete`` body for a unified completions request (no model, no stream: the
    model is in the URL and J2 cannot stream). ``provider`` names who refuses a parameter."""
    prompt = request.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise UnsupportedParameterError(
                provider,
                "prompt",
                f"a list of {len(prompt)} prompts; J2 takes one prompt per call "
                "(CompletionExternal: batch_size=1)",
            )
        prompt = prompt[0]
    body: dict[str, Any] = {"prompt": prompt}
    if request.max_tokens is not None:
        body["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stopSequences"] = list(request.stop)
    if request.n is not None:
        body["numResults"] = request.n
    extra = dict(request.extra_params)
    for name, field in _J2_PENALTIES.items():
        if name in extra:
            body[field] = _penalty(extra.pop(name))
    body.update(provider_params(provider, extra, renamed=_J2_RENAMED, rejected=_J2_REJECTED))
    return body


def _token_count(holder: Any) -> int | None:
    tokens = holder.get("tokens") if isinstance(holder, Mapping) else None
    return len(tokens) if isinstance(tokens, list) else None


def _j2_usage(data: Mapping[str, Any], completions: list[Any]) -> Usage | None:
    """Usage counted from the token lists J2 returns; ``None`` when they are absent."""
    prompt = _token_count(data.get("prompt"))
    outputs = [_token_count(c.get("data")) for c in completions]
    if prompt is None and all(o is None for o in outputs):
        return None
    return Usage(
        prompt_tokens=prompt or 0, completion_tokens=sum(o or 0 for o in outputs)
    ).completed()


def parse_j2(data: Any, provider: str = PROVIDER) -> CompletionResponse:
    """A unified completions response from a J2 ``complete`` response."""
    try:
        completions = data["completions"]
        choices = [
            CompletionChoice(
                index=i,
                text=(c.get("data") or {}).get("text") or "",
                finish_reason=finish_reason((c.get("finishReason") or {}).get("reason")),
            )
            for i, c in enumerate(completions)
        ]
        identifier = data.get("id")
        return CompletionResponse(
            id=None if identifier is None else str(identifier),
            model=None,
            choices=choices,
            usage=_j2_usage(data, completions),
            provider=provider,
        )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise MalformedResponseError(
            f"unexpected J2 response shape: {exc!r}", provider=provider
        ) from None


class J2Decoder:
    """A "stream" decoder for an API that cannot stream: holds the whole body and releases it
    when the response ends."""

    __slots__ = ("_body",)

    def __init__(self) -> None:
        self._body = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._body += chunk
        return []

    def close(self) -> list[bytes]:
        return [bytes(self._body)] if self._body else []


class J2StreamParser:
    """Turns the whole J2 body into the stream's one chunk (every choice, finish reasons and
    usage in it)."""

    __slots__ = ("_done", "_provider")

    def __init__(self, provider: str = PROVIDER) -> None:
        self._provider = provider
        self._done = False

    def parse(self, body: bytes) -> CompletionChunk:
        response = parse_j2(loads(body, self._provider), self._provider)
        self._done = True
        return CompletionChunk(
            response.id, response.model, response.choices, response.usage, self._provider
        )

    def finish(self) -> None:
        if not self._done:
            raise MalformedResponseError("J2 answered with an empty body", provider=self._provider)


# -- errors -------------------------------------------------------------------------------------


def _detail(detail: Any) -> str:
    # FastAPI-style validation errors: [{"loc": [...], "msg": "..."}].
    if isinstance(detail, list):
        return "; ".join(
            str(d.get("msg") or d) if isinstance(d, Mapping) else str(d) for d in detail
        )
    return str(detail or "")


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for an AI21 error body: ``{"detail": ...}`` (a string, or validation
    items), ``{"message": ...}`` or OpenAI-style ``{"error": {"message": ...}}``."""
    message, code = "", None
    data = error_json(body)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or "")
            code = error.get("code") or error.get("type")
        else:
            message = _detail(data.get("detail")) or str(data.get("message") or error or "")
    request_id = header_value(headers, _REQUEST_ID_HEADERS)
    return body_error(status, body, message, provider=PROVIDER, code=code, request_id=request_id)


# -- adapter ------------------------------------------------------------------------------------


class Ai21LabsAdapter(Adapter):
    """AI21 Studio: Jamba chat and J2 completions."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: Auth,
        api_base: str = "https://api.ai21.com/studio/v1",
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.api_base = api_base.rstrip("/")

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        body = chat_body(request, request.model or self.model, stream=stream)
        return HttpRequest(url=f"{self.api_base}/chat/completions", json=body)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParserAI21(PROVIDER))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        # The same request either way: J2 has no streaming (see completion_stream).
        model = request.model or self.model
        return HttpRequest(url=f"{self.api_base}/{model}/complete", json=j2_body(request))

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_j2(data)

    def completion_stream(self) -> ParsedStream[bytes, CompletionChunk]:
        return ParsedStream(J2Decoder(), J2StreamParser())

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(status, headers, body)


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> Ai21LabsAdapter:
    """The adapter for an ``ai21labs`` external model, with its key resolved. Jamba streams
    report usage unasked and J2 answers whole, so ``stream_usage`` needs no request field."""
    config = model.provider_config
    assert isinstance(config, Ai21LabsConfig)
    key = config.secret("ai21labs_api_key", resolver)
    assert key is not None  # validation guarantees one of the pair
    return Ai21LabsAdapter(
        model=model.name,
        task=model.task,
        auth=StaticAuth({"Authorization": ("Bearer ", key)}),
        api_base=config.ai21labs_api_base,
    )
