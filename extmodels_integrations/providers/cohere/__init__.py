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

This module holds the adapter and ``build``; request bodies are built in ``_request``,
responses are parsed in ``_response``, streams in ``_stream``, and errors are mapped in
``_errors``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._config import CohereConfig, ExternalModel
from extmodels_integrations._exceptions import APIError
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Task,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    provider_params,
    sse_stream,
)

# Public in the single-module cohere.py but not in its __all__: the "X as X" form keeps them
# re-exported (tests use ChatStreamParser and parse_usage) without widening __all__.
from extmodels_integrations.providers._views import CompletionView
from extmodels_integrations.providers.cohere._errors import PROVIDER as PROVIDER
from extmodels_integrations.providers.cohere._errors import map_error as map_error
from extmodels_integrations.providers.cohere._request import (
    chat_body,
    to_cohere_messages,
    to_cohere_tool_choice,
)
from extmodels_integrations.providers.cohere._request import completion_body as completion_body
from extmodels_integrations.providers.cohere._response import finish_reason
from extmodels_integrations.providers.cohere._response import parse_chat as parse_chat
from extmodels_integrations.providers.cohere._response import parse_completion as parse_completion
from extmodels_integrations.providers.cohere._response import parse_embeddings as parse_embeddings
from extmodels_integrations.providers.cohere._response import parse_usage as parse_usage
from extmodels_integrations.providers.cohere._stream import ChatStreamParser as ChatStreamParser

__all__ = [
    "CohereAdapter",
    "build",
    "chat_body",
    "finish_reason",
    "to_cohere_messages",
    "to_cohere_tool_choice",
]

#: Most texts one v2 embed call takes (``texts`` docstring in cohere-python v2/raw_client.py).
EMBEDDING_BATCH_SIZE = 96

_EMBED_RENAMED = {"dimensions": "output_dimension"}
_EMBED_REJECTED = {
    "encoding_format": "Cohere embeddings are requested as floats here; remove encoding_format",
}
_INPUT_TYPES = {"query": "search_query", "document": "search_document"}
_VERSION_SUFFIX = re.compile(r"/v[12]$")


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
        return sse_stream(CompletionView(ChatStreamParser()))

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
