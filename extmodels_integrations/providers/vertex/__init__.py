"""The ``google-cloud-vertex-ai`` provider: Gemini chat and completions through
``generateContent`` / ``streamGenerateContent?alt=sse``, text embeddings through ``predict``.

URLs are ``{base}/v1/projects/{project_id}/locations/{region}/publishers/google/models/
{model}:{method}``, ``base`` being ``https://{region}-aiplatform.googleapis.com`` (or
``https://aiplatform.googleapis.com`` for ``region="global"``, as MLflow's vertex_ai.py does),
unless ``vertex_api_base`` overrides it. Auth is a service-account token (``_google_auth``).

Wire facts were checked against python-genai (``types.py``: FinishReason, usage fields,
FunctionCallingConfigMode), MLflow's gateway (``gemini.py`` / ``vertex_ai.py`` and their tests),
the Vertex v1 REST reference (``GoogleCloudAiplatformV1Schema`` fields) and the Vertex
"Get text embeddings" page (batch limits).

This module holds the URL rules, the adapter and ``build``; request bodies are built in
``_request`` (tool and response schemas in ``_schema``), responses are parsed in ``_response``,
streams in ``_stream``, and errors are mapped in ``_errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from extmodels_integrations._auth import Auth
from extmodels_integrations._config import ExternalModel, GoogleCloudVertexAiConfig
from extmodels_integrations._exceptions import APIError, MalformedResponseError
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
    Usage,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    provider_params,
    sse_stream,
)
from extmodels_integrations.providers._google_auth import (
    ServiceAccountTokenAuth,
    parse_service_account_key,
)

# PROVIDER was public in the single-module vertex.py; the alias keeps it re-exported.
from extmodels_integrations.providers.vertex._errors import PROVIDER as PROVIDER
from extmodels_integrations.providers.vertex._errors import map_error
from extmodels_integrations.providers.vertex._request import (
    _chat_body,
    _completion_body,
    gemini_contents,
    gemini_tools,
)
from extmodels_integrations.providers.vertex._response import (
    parse_chat,
    parse_completion,
    parse_usage,
    tool_call_id,
)
from extmodels_integrations.providers.vertex._schema import gemini_schema
from extmodels_integrations.providers.vertex._stream import ChatStreamParser, CompletionStreamParser

__all__ = [
    "ChatStreamParser",
    "CompletionStreamParser",
    "VertexAdapter",
    "build",
    "embedding_batch_limit",
    "gemini_contents",
    "gemini_schema",
    "gemini_tools",
    "map_error",
    "parse_chat",
    "parse_completion",
    "parse_usage",
    "tool_call_id",
    "vertex_base_url",
]

# -- targets -----------------------------------------------------------------------------------


def vertex_base_url(region: str, api_base: str | None = None) -> str:
    """Scheme and host calls go to: the override, else the regional (or global) host."""
    if api_base:
        return api_base.rstrip("/")
    if region == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{region}-aiplatform.googleapis.com"


def embedding_batch_limit(model: str) -> int:
    """Most texts one ``predict`` call takes for ``model`` (Vertex "Get text embeddings":
    250 per request, but one for gemini-embedding-001; the retired gecko models took 5).
    The 20,000-input-token cap per request cannot be checked here (no tokenizer)."""
    name = model.lower()
    if name.startswith("gemini-embedding"):
        return 1
    if name.startswith("textembedding-gecko"):
        return 5
    return 250


# -- adapter -----------------------------------------------------------------------------------

_TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
_INSTANCE_KEYS = ("task_type", "title")
_EMBEDDING_RENAMED = {
    "dimensions": "outputDimensionality",
    "output_dimensionality": "outputDimensionality",
    "auto_truncate": "autoTruncate",
}


class VertexAdapter(Adapter):
    """Gemini on Vertex AI (chat, completions) and Vertex text embeddings."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: Auth,
        project_id: str,
        region: str,
        api_base: str | None = None,
        stream_usage: bool = True,
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.project_id = project_id
        self.region = region
        self.base_url = vertex_base_url(region, api_base)
        self.stream_usage = stream_usage
        self.embedding_batch_size = embedding_batch_limit(model)

    def url(self, model: str | None, method: str) -> str:
        """``.../publishers/google/models/{model}:{method}`` for this project and region."""
        project, region = quote(self.project_id, safe=""), quote(self.region, safe="")
        name = quote(model or self.model, safe="@")
        return (
            f"{self.base_url}/v1/projects/{project}/locations/{region}"
            f"/publishers/google/models/{name}:{method}"
        )

    def _generate(self, body: dict[str, Any], model: str | None, stream: bool) -> HttpRequest:
        if stream:
            return HttpRequest(
                url=self.url(model, "streamGenerateContent"), json=body, params={"alt": "sse"}
            )
        return HttpRequest(url=self.url(model, "generateContent"), json=body)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._generate(_chat_body(request), request.model, stream)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParser(self.stream_usage))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        return self._generate(_completion_body(request), request.model, stream)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_completion(data)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(CompletionStreamParser(self.stream_usage))

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        extra = dict(request.extra_params)
        instance = {"task_type": _TASK_TYPES[request.input_kind]}
        instance.update({k: extra.pop(k) for k in _INSTANCE_KEYS if k in extra})
        body: dict[str, Any] = {
            "instances": [{"content": text, **instance} for text in request.input]
        }
        parameters = provider_params(PROVIDER, extra, renamed=_EMBEDDING_RENAMED)
        if parameters:
            body["parameters"] = parameters
        return HttpRequest(url=self.url(request.model, "predict"), json=body)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        try:
            found = [p["embeddings"] for p in data["predictions"]]
            vectors = [[float(x) for x in e["values"]] for e in found]
            tokens = sum(int((e.get("statistics") or {}).get("token_count") or 0) for e in found)
        except (KeyError, TypeError, ValueError):
            raise MalformedResponseError(
                "Vertex AI predict response has no predictions[].embeddings.values",
                provider=PROVIDER,
            ) from None
        return EmbeddingsResponse(vectors, None, Usage(tokens, 0, tokens), PROVIDER)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(status, headers, body)


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> VertexAdapter:
    """The adapter for a ``google-cloud-vertex-ai`` external model, its key read and checked."""
    config = model.provider_config
    assert isinstance(config, GoogleCloudVertexAiConfig)
    secret = config.secret("private_key", resolver)
    assert secret is not None  # validation requires private_key or private_key_plaintext
    auth = ServiceAccountTokenAuth(parse_service_account_key(secret), secret=secret)
    return VertexAdapter(
        model=model.name,
        task=model.task,
        auth=auth,
        project_id=config.project_id,
        region=config.region,
        api_base=config.vertex_api_base,
        stream_usage=stream_usage,
    )
