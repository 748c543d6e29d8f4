"""The ``anthropic`` provider: chat and completions through the Anthropic Messages API.

``POST {anthropic_api_base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``. Wire facts
come from ``anthropics/anthropic-sdk-python`` (``types/message_create_params.py``,
``types/stop_reason.py``, ``types/usage.py``, ``types/message_delta_usage.py``,
``types/tool_choice_*_param.py``, ``_client.py`` for headers and the status map) and Anthropic's
Messages / streaming / structured-outputs documentation.

The pure building blocks (:func:`messages_body`, :func:`completion_messages_body`,
:func:`parse_message`, :class:`MessageEventParser`, :func:`event_error`, and the completions
views of :mod:`~extmodels_integrations.providers._views`) are shared with ``amazon-bedrock``
targets whose ``bedrock_provider`` is ``anthropic``: Bedrock carries the same bodies and events.

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
* Message ``name`` fields are dropped (the Messages API has no such field). Signed ``thinking``
  and ``redacted_thinking`` blocks of earlier answers are sent back as they came (the API
  requires them on the turn after a tool call when thinking is on); unsigned reasoning is not.

This package holds the adapter and :func:`build`; the building blocks live in ``_request``
(bodies), ``_messages`` (message conversion), ``_response`` (messages, usage, stop reasons),
``_stream`` (the stream event parser) and ``_errors`` (error bodies and events), and are
re-exported here under their old names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._config import AnthropicConfig, ExternalModel
from extmodels_integrations._exceptions import APIError
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Task,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import Adapter, ParsedStream, sse_stream
from extmodels_integrations.providers._views import (
    CompletionView,
    completion_chunk,
    completion_from_chat,
)
from extmodels_integrations.providers.anthropic._errors import event_error, map_error
from extmodels_integrations.providers.anthropic._messages import (
    convert_messages as convert_messages,
)
from extmodels_integrations.providers.anthropic._request import (
    FALLBACK_MAX_TOKENS as FALLBACK_MAX_TOKENS,
)
from extmodels_integrations.providers.anthropic._request import (
    completion_messages_body,
    default_max_tokens,
    messages_body,
)
from extmodels_integrations.providers.anthropic._response import parse_message, parse_usage
from extmodels_integrations.providers.anthropic._response import stop_reason as stop_reason
from extmodels_integrations.providers.anthropic._stream import MessageEventParser, _ChatEvents

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
        return sse_stream(CompletionView(_ChatEvents(self.provider)))

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
