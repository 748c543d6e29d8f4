"""Databricks serving endpoints: ``endpoint=`` targets and the ``databricks-model-serving``
provider. Both ``POST {host}/serving-endpoints/{name}/invocations`` with the unified schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import Task
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations._workspace import WorkspaceSignIn, normalized_host
from extmodels_integrations.providers._openai_format import OpenAIFormatAdapter

if TYPE_CHECKING:
    # The client imports this module for serving endpoints, which need no config models.
    from extmodels_integrations._config import ExternalModel

__all__ = ["TOKEN_FIELD", "DatabricksAdapter", "build"]

#: Where a ``databricks-model-serving`` block's token goes, as messages name it.
TOKEN_FIELD = "databricks_model_serving_config.databricks_api_token"


class DatabricksAdapter(OpenAIFormatAdapter):
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
        self.host = normalized_host(host)
        self.provider = provider
        self.stream_usage = stream_usage

    def _request(self, path: str, body: dict[str, Any], model: str | None) -> HttpRequest:
        # One invocations URL serves every task; a per-call model names another endpoint.
        name = quote(model or self.model, safe="")
        return HttpRequest(url=f"{self.host}/serving-endpoints/{name}/invocations", json=body)


def build(
    model: ExternalModel,
    resolver: SecretResolver,
    *,
    stream_usage: bool,
    workspace: Callable[[str], WorkspaceSignIn] | None = None,
) -> DatabricksAdapter:
    """The adapter for a ``databricks-model-serving`` external model, with its token resolved.
    Without a token, ``workspace(databricks_workspace_url)`` signs in to that workspace."""
    from extmodels_integrations._config import DatabricksModelServingConfig

    config = model.provider_config
    assert isinstance(config, DatabricksModelServingConfig)
    token = config.secret("databricks_api_token", resolver)
    auth: Auth
    if token is not None:
        auth = StaticAuth({"Authorization": ("Bearer ", token)})
    elif workspace is not None:
        auth = workspace(config.databricks_workspace_url).auth
    else:
        raise ConfigurationError(
            f"{TOKEN_FIELD}: not set and no workspace sign-in to fall back on: set it to a "
            "secret reference {{secrets/<scope>/<key>}} or databricks_api_token_plaintext"
        )
    return DatabricksAdapter(
        host=config.databricks_workspace_url,
        endpoint=model.name,
        auth=auth,
        task=model.task,
        provider=model.provider,
        stream_usage=stream_usage,
    )
