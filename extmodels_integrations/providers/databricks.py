"""Databricks serving endpoints: ``endpoint=`` targets and the ``databricks-model-serving``
provider. Both ``POST {host}/serving-endpoints/{name}/invocations`` with the unified schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from extmodels_integrations._auth import Auth
from extmodels_integrations._exceptions import APIError
from extmodels_integrations._transport import HttpRequest, SSEEvent
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
from extmodels_integrations.providers import _openai_format as fmt
from extmodels_integrations.providers._base import Adapter, ParsedStream, sse_stream

__all__ = ["DatabricksAdapter", "normalize_host"]


def normalize_host(host: str) -> str:
    """Add ``https://`` when missing and drop a trailing slash: ``DATABRICKS_HOST`` varies."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    return host


class DatabricksAdapter(Adapter):
    """A serving endpoint that already speaks the unified schema."""

    # Databricks embedding endpoints (e.g. GTE, BGE) cap a request at 150 inputs.
    embedding_batch_size = 150

    def __init__(
        self,
        *,
        host: str,
        endpoint: str,
        auth: Auth,
        task: Task | None = None,
        provider: str = "databricks",
        stream_usage: bool = True,
    ) -> None:
        super().__init__(model=endpoint, task=task, auth=auth)
        self.host = normalize_host(host)
        self.provider = provider
        self.stream_usage = stream_usage

    def _request(self, body: dict[str, Any], model: str | None) -> HttpRequest:
        # A per-call model names another endpoint on the same workspace.
        name = quote(model or self.model, safe="")
        return HttpRequest(url=f"{self.host}/serving-endpoints/{name}/invocations", json=body)

    def _with_stream(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body.setdefault("stream_options", {"include_usage": True})
        return body

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._request(self._with_stream(request.to_payload(), stream), request.model)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return fmt.parse_chat(data, self.provider)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(fmt.ChatStreamParser(self.provider))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        return self._request(self._with_stream(request.to_payload(), stream), request.model)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return fmt.parse_completion(data, self.provider)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(fmt.CompletionStreamParser(self.provider))

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        return self._request(request.to_payload(), request.model)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        return fmt.parse_embeddings(data, self.provider)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return fmt.map_error(self.provider, status, headers, body)
