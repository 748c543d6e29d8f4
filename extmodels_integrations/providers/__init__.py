"""Provider adapters: one module per provider, pure translation, no I/O."""

from __future__ import annotations

from extmodels_integrations._auth import StaticAuth
from extmodels_integrations._config import DatabricksModelServingConfig, ExternalModel, OpenAiConfig
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers._base import Adapter
from extmodels_integrations.providers.databricks import DatabricksAdapter
from extmodels_integrations.providers.openai import OpenAIAdapter, openai_auth

__all__ = ["Adapter", "build_adapter"]


def build_adapter(
    model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool = True
) -> Adapter:
    """The adapter for a validated ``external_model`` block, with its secrets resolved."""
    config = model.provider_config
    if isinstance(config, OpenAiConfig):
        return _openai(model, config, resolver, stream_usage)
    if isinstance(config, DatabricksModelServingConfig):
        token = config.secret("databricks_api_token", resolver)
        assert token is not None  # validation guarantees one of the pair
        return DatabricksAdapter(
            host=config.databricks_workspace_url,
            endpoint=model.name,
            auth=StaticAuth({"Authorization": ("Bearer ", token)}),
            task=model.task,
            provider=model.provider,
            stream_usage=stream_usage,
        )
    raise ConfigurationError(
        f"external_model.provider '{model.provider}' is validated but cannot be called yet in "
        "this version; supported now: 'openai' and 'databricks-model-serving' "
        "(or point endpoint= at a serving endpoint that fronts it)"
    )


def _openai(
    model: ExternalModel, config: OpenAiConfig, resolver: SecretResolver, stream_usage: bool
) -> OpenAIAdapter:
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
