"""The ``openai`` provider: OpenAI, any OpenAI-compatible base URL, Azure OpenAI with an API key
(``openai_api_type=azure``) and with Microsoft Entra ID (``azuread``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._auth import Auth, EntraTokenAuth, StaticAuth
from extmodels_integrations._config import ExternalModel, OpenAiConfig
from extmodels_integrations._exceptions import (
    APIError,
    ConfigurationError,
    UnsupportedParameterError,
)
from extmodels_integrations._provider_configs import DEFAULT_OPENAI_API_BASE
from extmodels_integrations._reading import public_url
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import ChatRequest, Message, Task
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.providers._openai_format import OpenAIFormatAdapter
from extmodels_integrations.providers._served_limits import (
    context_window_requests,
    read_context_window,
)

__all__ = ["OpenAIAdapter", "build", "openai_auth"]

# Azure rejects stream_options (HTTP 400) before this api-version.
_AZURE_STREAM_USAGE_SINCE = "2024-09-01"
# Reasoning models reject max_tokens; they take max_completion_tokens.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def _for_openai(message: Message) -> Message:
    """``message`` without what only other providers read: Gemini's signatures on tool calls
    (``extra_content``, see ``_types.Message``) and Anthropic's ``cache_control`` hints (OpenAI
    caches long prompts by itself and reports ``cached_tokens``). OpenAI's schema has neither,
    and its older models answer 400 "Additional properties are not allowed" to a field they
    do not know."""
    calls = message.get("tool_calls")
    content = message.get("content")
    out = dict(message)
    if calls and any("extra_content" in call for call in calls):
        out["tool_calls"] = [_without(call, "extra_content") for call in calls]
    if isinstance(content, list) and any("cache_control" in part for part in content):
        out["content"] = [_without(part, "cache_control") for part in content]
    return out  # type: ignore[return-value]


def _without(values: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != key}


def _check_files(message: Message, where: str) -> None:
    """OpenAI's Chat Completions read a document only from base64 (``data:`` URL) or a Files
    API id; a URL is refused by the service after the request is sent."""
    content = message.get("content")
    for j, part in enumerate(content if isinstance(content, list) else ()):
        file = part.get("file") if part.get("type") == "file" else None
        data = file.get("file_data") if isinstance(file, Mapping) else None
        if isinstance(data, str) and not data.startswith("data:"):
            raise UnsupportedParameterError(
                "openai",
                f"{where}.content[{j}].file.file_data",
                "OpenAI and Azure OpenAI read documents from base64 only: send a data: URL "
                "(data:application/pdf;base64,...) or a Files API file_id; Vertex AI and "
                "Anthropic targets fetch a document URL themselves",
            )


class OpenAIAdapter(OpenAIFormatAdapter):
    """OpenAI-format requests to OpenAI or Azure OpenAI."""

    provider = "openai"
    embedding_batch_size = 2048

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: Auth,
        api_base: str = DEFAULT_OPENAI_API_BASE,
        api_type: str = "openai",
        api_version: str | None = None,
        deployment: str | None = None,
        organization: str | None = None,
        stream_usage: bool = True,
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.api_base = api_base.rstrip("/")
        self.api_type = api_type
        self.api_version = api_version
        self.deployment = deployment
        self._static_headers = {"OpenAI-Organization": organization} if organization else {}
        azure = api_type in ("azure", "azuread")
        self.stream_usage = stream_usage and (
            not azure or (api_version or "")[:10] >= _AZURE_STREAM_USAGE_SINCE
        )

    def headers(self) -> dict[str, str]:
        return dict(self._static_headers)

    @property
    def is_azure(self) -> bool:
        """Whether requests go to an Azure OpenAI deployment."""
        return self.api_type in ("azure", "azuread")

    def _request(self, path: str, body: dict[str, Any], model: str | None) -> HttpRequest:
        params = {"api-version": self.api_version} if self.api_version else None
        if self.is_azure:
            # The deployment picks the model on Azure; a per-call model names another deployment.
            deployment = model or self.deployment
            url = f"{self.api_base}/openai/deployments/{deployment}/{path}"
        else:
            url = f"{self.api_base}/{path}"
            body["model"] = model or self.model
        return HttpRequest(url=url, json=body, headers=self.headers(), params=params)

    @property
    def _is_openai_service(self) -> bool:
        # OpenAI itself or Azure, not a compatible server (vLLM, Gemini's OpenAI API...),
        # which may take what OpenAI refuses.
        return self.is_azure or self.api_base == DEFAULT_OPENAI_API_BASE

    def context_window_requests(self) -> tuple[HttpRequest, ...]:
        # OpenAI and Azure publish their limits; only a compatible server may state its own.
        if self._is_openai_service:
            return ()
        return context_window_requests(self.api_base)

    def read_context_window(self, data: Any) -> int | None:
        return read_context_window(data, self.model)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        error = super().map_error(status, headers, body)
        if status == 404 and not self.is_azure and not self.api_base.endswith("/v1"):
            # The most common wrong base URL: an OpenAI-compatible server's root instead of
            # its /v1 (llama.cpp, vLLM, Ollama, LM Studio all serve under /v1).
            base = public_url(self.api_base)
            error.hint(
                f"openai_api_base is {base!r}: OpenAI-compatible servers usually serve under "
                f"/v1, try openai_api_base='{base}/v1'"
            )
        return error

    def _chat_body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = super()._chat_body(request, stream)
        if body.get("tools") and "tool_choice" not in body:
            # OpenAI's default with tools is "auto"; llama.cpp's server (llama-cpp-python)
            # reads a missing tool_choice as "none" and never calls a tool. Saying it keeps
            # the meaning on OpenAI and gives it on the compatible servers.
            body["tool_choice"] = "auto"
        if self._is_openai_service:
            for i, message in enumerate(request.messages):
                _check_files(message, f"messages[{i}]")
            body["messages"] = [_for_openai(m) for m in body["messages"]]
        model = request.model or self.model
        if "max_tokens" in body and not self.is_azure and model.startswith(_REASONING_PREFIXES):
            body["max_completion_tokens"] = body.pop("max_tokens")
        return body


def openai_auth(
    api_type: str,
    *,
    api_key: Any,
    entra: tuple[str, str, Any] | None,
) -> Auth:
    """The auth for an ``openai_config``: ``api-key`` on Azure, a bearer token elsewhere, or an
    Entra ID client-credentials token for ``azuread`` when the tenant/client fields are set."""
    if api_type == "azuread" and entra is not None:
        tenant, client, secret = entra
        return EntraTokenAuth(tenant_id=tenant, client_id=client, client_secret=secret)
    if api_key is None:
        raise ConfigurationError(
            "openai_config: an API key is required (openai_api_key or openai_api_key_plaintext)"
        )
    if api_type == "azure":
        return StaticAuth({"api-key": ("", api_key)})
    return StaticAuth({"Authorization": ("Bearer ", api_key)})


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> OpenAIAdapter:
    """The adapter for an ``openai`` external model, with its secrets resolved."""
    config = model.provider_config
    assert isinstance(config, OpenAiConfig)
    entra = None
    if config.microsoft_entra_tenant_id and config.microsoft_entra_client_id:
        entra = (
            config.microsoft_entra_tenant_id,
            config.microsoft_entra_client_id,
            config.secret("microsoft_entra_client_secret", resolver),
        )
    auth = openai_auth(
        config.openai_api_type,
        api_key=config.secret("openai_api_key", resolver),
        entra=entra,
    )
    return OpenAIAdapter(
        model=model.name,
        task=model.task,
        auth=auth,
        api_base=config.openai_api_base,
        api_type=config.openai_api_type,
        api_version=config.openai_api_version,
        deployment=config.openai_deployment_name,
        organization=config.openai_organization,
        stream_usage=stream_usage,
    )
