"""External-model endpoints as first-class models: a framework-free core, with LangChain
(``extmodels_integrations.langchain``) and LlamaIndex (``extmodels_integrations.llama_index``)
classes on top."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    ContextWindowExceededError,
    EmptyStreamError,
    ExternalModelError,
    MalformedResponseError,
    NotDeployableWarning,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnsupportedParameterError,
    renamed,
)
from extmodels_integrations._secrets import SecretReference, SecretResolver
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
    ReasoningBlock,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from extmodels_integrations._config import ExternalModel, parse_external_model
    from extmodels_integrations._endpoint_config import (
        EndpointConfig,
        RateLimit,
        ServedEntity,
        load_endpoint_config,
    )
    from extmodels_integrations._routing import routing_metadata

# Config models and routing load on first use: a client given endpoint= needs none of them,
# and building their pydantic classes was most of the core's own import time.
_LAZY = {
    "ExternalModel": "extmodels_integrations._config",
    "parse_external_model": "extmodels_integrations._config",
    "EndpointConfig": "extmodels_integrations._endpoint_config",
    "RateLimit": "extmodels_integrations._endpoint_config",
    "ServedEntity": "extmodels_integrations._endpoint_config",
    "load_endpoint_config": "extmodels_integrations._endpoint_config",
    "routing_metadata": "extmodels_integrations._routing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        return renamed(__name__, name, globals())
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatChoice",
    "ChatChunk",
    "ChatChunkChoice",
    "ChatRequest",
    "ChatResponse",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionRequest",
    "CompletionResponse",
    "ConfigurationError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "EmptyStreamError",
    "EndpointConfig",
    "ExternalClient",
    "ExternalModel",
    "ExternalModelError",
    "MalformedResponseError",
    "Message",
    "NotDeployableWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "ReasoningBlock",
    "SecretReference",
    "SecretResolver",
    "ServedEntity",
    "ServerError",
    "ToolCall",
    "ToolCallDelta",
    "UnsupportedParameterError",
    "Usage",
    "load_endpoint_config",
    "parse_external_model",
    "routing_metadata",
]
