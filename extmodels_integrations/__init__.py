"""External-model endpoints as first-class models: a framework-free core, with LangChain
(``extmodels_integrations.langchain``) and LlamaIndex (``extmodels_integrations.llama_index``)
classes on top."""

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._config import ExternalModel, parse_external_model
from extmodels_integrations._endpoint_config import (
    EndpointConfig,
    RateLimit,
    ServedEntity,
    load_endpoint_config,
)
from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionError,
    ContentFilterError,
    ContextWindowExceededError,
    ExternalModelError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    TimeoutError,
    UnsupportedParameterError,
)
from extmodels_integrations._routing import (
    routing_metadata,
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
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "APIError",
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
    "ConnectionError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "EndpointConfig",
    "ExternalClient",
    "ExternalModel",
    "ExternalModelError",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "SecretReference",
    "SecretResolver",
    "ServedEntity",
    "ServerError",
    "StreamError",
    "TimeoutError",
    "ToolCall",
    "ToolCallDelta",
    "UnsupportedParameterError",
    "Usage",
    "load_endpoint_config",
    "parse_external_model",
    "routing_metadata",
]
