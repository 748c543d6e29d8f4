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

This package holds the adapter and :func:`build`; each ``bedrock_provider`` has its dialect
module (``_anthropic``, ``_cohere``, ``_ai21``, ``_titan``) on the shared ``_common``, with
``_stream`` (event-stream chunks) and ``_errors`` (error responses and stream exceptions).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from extmodels_integrations._config import AmazonBedrockConfig, ExternalModel
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
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.providers._aws import SigV4Auth
from extmodels_integrations.providers._base import Adapter, ParsedStream
from extmodels_integrations.providers.bedrock._ai21 import _AI21
from extmodels_integrations.providers.bedrock._anthropic import ANTHROPIC_VERSION, _Anthropic
from extmodels_integrations.providers.bedrock._cohere import _Cohere
from extmodels_integrations.providers.bedrock._common import PROVIDER, _Dialect, model_id
from extmodels_integrations.providers.bedrock._errors import map_error, stream_exception
from extmodels_integrations.providers.bedrock._stream import BedrockStreamParser
from extmodels_integrations.providers.bedrock._titan import _Titan

__all__ = [
    "ANTHROPIC_VERSION",
    "PROVIDER",
    "BedrockAdapter",
    "BedrockStreamParser",
    "build",
    "map_error",
    "model_id",
    "stream_exception",
]

_JSON = "application/json"

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
        model = model_id(requested, self.bedrock_provider) if requested else self.model
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
        model=model_id(model.name, config.bedrock_provider),
        task=model.task,
        auth=auth,
        bedrock_provider=config.bedrock_provider,
        api_base=config.base_url,
    )
