"""Validation of ``external_model`` blocks: one test per rule, each checking field and fix."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from extmodels_integrations._config import (
    DEFAULT_COHERE_API_BASE,
    DEFAULT_OPENAI_API_BASE,
    PROVIDER_TASKS,
    PROVIDERS,
    AmazonBedrockConfig,
    ExternalModel,
    OpenAiConfig,
    parse_external_model,
)
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._secrets import SecretResolver

CANARY = "sk-canary-DO-NOT-LEAK-123"
AZURE_BASE = "https://my-resource.openai.azure.com"

MINIMAL: dict[str, dict[str, Any]] = {
    "openai": {"openai_config": {"openai_api_key": "{{secrets/s/openai}}"}},
    "anthropic": {"anthropic_config": {"anthropic_api_key": "{{secrets/s/anthropic}}"}},
    "cohere": {"cohere_config": {"cohere_api_key_plaintext": "co-key"}},
    "amazon-bedrock": {
        "amazon_bedrock_config": {"aws_region": "us-east-1", "bedrock_provider": "anthropic"}
    },
    "ai21labs": {"ai21labs_config": {"ai21labs_api_key": "{{secrets/s/ai21}}"}},
    "google-cloud-vertex-ai": {
        "google_cloud_vertex_ai_config": {
            "project_id": "p",
            "region": "us-central1",
            "private_key": "{{secrets/s/vertex}}",
        }
    },
    "databricks-model-serving": {
        "databricks_model_serving_config": {
            "databricks_workspace_url": "https://dbc-1.cloud.databricks.com",
            "databricks_api_token": "{{secrets/s/dbx}}",
        }
    },
}


def block(provider: str = "openai", task: str = "llm/v1/chat", **config: Any) -> dict[str, Any]:
    """A minimal valid block for ``provider``; ``config`` replaces its provider config."""
    data: dict[str, Any] = {"name": "m", "provider": provider, "task": task}
    data.update(copy.deepcopy(MINIMAL[provider]))
    if config:
        key = next(iter(MINIMAL[provider]))
        data[key] = config
    return data


def error_of(data: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse_external_model(data, **kwargs)
    return str(info.value)


def azure(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "openai_api_type": "azure",
        "openai_api_key": "{{secrets/s/azure}}",
        "openai_api_base": AZURE_BASE,
        "openai_api_version": "2024-10-21",
        "openai_deployment_name": "gpt-4o",
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


# --- every provider's minimal config -----------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_minimal_valid_config_parses(provider: str) -> None:
    model = parse_external_model(block(provider))
    assert model.provider == provider
    assert model.provider_config is getattr(model, next(iter(MINIMAL[provider])))


def test_provider_tasks_table() -> None:
    assert set(PROVIDER_TASKS) == set(PROVIDERS)
    assert PROVIDER_TASKS["anthropic"] == ("llm/v1/chat", "llm/v1/completions")
    assert PROVIDER_TASKS["ai21labs"] == ("llm/v1/chat", "llm/v1/completions")
    assert "llm/v1/embeddings" in PROVIDER_TASKS["openai"]


# --- top level -----------------------------------------------------------------------------


def test_unknown_provider_lists_valid_ones() -> None:
    data = block()
    data["provider"] = "opnai"
    message = error_of(data)
    assert "external_model.provider" in message
    assert "did you mean 'openai'" in message
    for provider in PROVIDERS:
        assert provider in message


def test_unknown_task_lists_valid_ones() -> None:
    message = error_of(block(task="llm/v1/chats"))
    assert "external_model.task" in message
    assert "llm/v1/chat, llm/v1/completions, llm/v1/embeddings" in message


def test_task_the_provider_does_not_offer() -> None:
    message = error_of(block("anthropic", task="llm/v1/embeddings"))
    assert "external_model.task" in message
    assert "'anthropic' does not offer 'llm/v1/embeddings'" in message
    assert "it offers llm/v1/chat, llm/v1/completions" in message


def test_config_block_for_a_different_provider() -> None:
    data = block("openai")
    data["cohere_config"] = data.pop("openai_config")
    message = error_of(data)
    assert "external_model.openai_config: required for provider 'openai'" in message
    assert "external_model.cohere_config: does not match provider 'openai'" in message
    assert "remove it" in message


def test_two_config_blocks() -> None:
    data = block("openai")
    data.update(copy.deepcopy(MINIMAL["anthropic"]))
    message = error_of(data)
    assert "external_model.anthropic_config" in message
    assert "does not match provider 'openai', which reads only openai_config" in message
    assert "external_model.openai_config:" not in message


def test_unknown_field_typo_suggests_the_right_one() -> None:
    message = error_of(block(openai_api_kye="{{secrets/s/k}}"))
    assert "external_model.openai_config.openai_api_kye: unknown field" in message
    assert "did you mean 'openai_api_key'" in message


def test_unknown_top_level_field() -> None:
    data = block()
    data["taks"] = "llm/v1/chat"
    message = error_of(data)
    assert "external_model.taks: unknown field (did you mean 'task'?)" in message


def test_missing_required_field_gives_a_hint() -> None:
    message = error_of(block("amazon-bedrock", bedrock_provider="amazon"))
    assert "external_model.amazon_bedrock_config.aws_region: required" in message
    assert "'us-east-1'" in message


def test_where_prefixes_every_path() -> None:
    where = "endpoint_config.config.served_entities[0].external_model"
    message = error_of(block(task="nope"), where=where)
    assert f"{where}.task" in message


def test_not_a_mapping() -> None:
    message = error_of(["openai"])
    assert "external_model must be a mapping" in message


def test_several_problems_are_all_reported() -> None:
    message = error_of(block(**azure(openai_api_version=None, openai_deployment_name=None)))
    assert "(2 problems)" in message
    assert "openai_api_version" in message and "openai_deployment_name" in message


# --- secrets -------------------------------------------------------------------------------


def test_both_key_and_plaintext() -> None:
    message = error_of(block(openai_api_key="{{secrets/s/k}}", openai_api_key_plaintext=CANARY))
    assert "external_model.openai_config.openai_api_key:" in message
    assert "give either openai_api_key or openai_api_key_plaintext, not both" in message
    assert CANARY not in message


def test_neither_key_nor_plaintext() -> None:
    message = error_of(block("anthropic", anthropic_api_base="https://proxy.local"))
    assert "external_model.anthropic_config.anthropic_api_key: required" in message
    assert "{{secrets/<scope>/<key>}} or anthropic_api_key_plaintext" in message


@pytest.mark.parametrize("reference", ["secrets/a/b", "{{secrets/a}}", "{{ secret/a/b }}"])
def test_malformed_secret_reference(reference: str) -> None:
    message = error_of(block("cohere", cohere_api_key=reference))
    assert "external_model.cohere_config.cohere_api_key: not a valid secret reference" in message
    assert "write it as {{secrets/<scope>/<key>}}" in message
    assert "cohere_api_key_plaintext" in message


def test_empty_plaintext() -> None:
    message = error_of(block("cohere", cohere_api_key_plaintext=""))
    assert "external_model.cohere_config.cohere_api_key_plaintext: is empty" in message


def test_secret_method_returns_plaintext_or_resolves_reference() -> None:
    resolver = SecretResolver(environ={"EXTMODELS_SECRET__S__OPENAI": "from-env"})
    cfg = parse_external_model(block()).provider_config
    assert isinstance(cfg, OpenAiConfig)
    assert cfg.secret("openai_api_key", resolver) == SecretStr("from-env")
    assert cfg.secret("microsoft_entra_client_secret", resolver) is None
    plain = parse_external_model(block("cohere")).provider_config
    assert plain.secret("cohere_api_key", resolver) == SecretStr("co-key")
    with pytest.raises(ConfigurationError, match="has no secret 'cohere_api_base'"):
        plain.secret("cohere_api_base", resolver)


# --- OpenAI / Azure ------------------------------------------------------------------------


def test_azure_valid() -> None:
    cfg = parse_external_model(block(**azure())).provider_config
    assert isinstance(cfg, OpenAiConfig)
    assert cfg.base_url == AZURE_BASE


def test_azure_without_version() -> None:
    message = error_of(block(**azure(openai_api_version=None)))
    assert (
        "external_model.openai_config.openai_api_version: required when openai_api_type is "
        "'azure': set it to the Azure OpenAI API version, e.g. '2024-10-21'"
    ) in message


def test_azure_without_deployment() -> None:
    message = error_of(block(**azure(openai_deployment_name=None)))
    assert "external_model.openai_config.openai_deployment_name: required when" in message
    assert "name of your Azure OpenAI deployment" in message


def test_azure_without_base() -> None:
    message = error_of(block(**azure(openai_api_base=None)))
    assert "external_model.openai_config.openai_api_base: required when" in message
    assert "https://<resource>.openai.azure.com" in message


def test_azure_with_the_public_openai_base() -> None:
    message = error_of(block(**azure(openai_api_base=DEFAULT_OPENAI_API_BASE)))
    assert "external_model.openai_config.openai_api_base: required when" in message


def test_azure_without_key() -> None:
    message = error_of(block(**azure(openai_api_key=None)))
    assert "external_model.openai_config.openai_api_key: required when" in message


def test_azuread_with_entra_client_credentials() -> None:
    config = azure(
        openai_api_type="azuread",
        openai_api_key=None,
        microsoft_entra_tenant_id="tenant",
        microsoft_entra_client_id="client",
        microsoft_entra_client_secret_plaintext=CANARY,
    )
    cfg = parse_external_model(block(**config)).provider_config
    assert isinstance(cfg, OpenAiConfig)
    assert cfg.openai_api_type == "azuread"


def test_azuread_with_api_key_as_bearer_token() -> None:
    assert parse_external_model(block(**azure(openai_api_type="AzureAD")))


def test_azuread_with_entra_fields_incomplete() -> None:
    config = azure(openai_api_type="azuread", openai_api_key=None, microsoft_entra_tenant_id="t")
    message = error_of(block(**config))
    for field in ("microsoft_entra_client_id", "microsoft_entra_client_secret"):
        assert f"external_model.openai_config.{field}: required when" in message
    assert "microsoft_entra_tenant_id: required" not in message
    assert "or give openai_api_key" in message


def test_azuread_with_key_and_entra_fields() -> None:
    config = azure(openai_api_type="azuread", microsoft_entra_client_id="c")
    message = error_of(block(**config))
    assert "external_model.openai_config.openai_api_key: give either openai_api_key" in message
    assert "microsoft_entra_client_id" in message


@pytest.mark.parametrize("api_type", [None, "openai", "azure"])
def test_entra_fields_only_with_azuread(api_type: str | None) -> None:
    config: dict[str, Any] = {
        "openai_api_key": "{{secrets/s/k}}",
        "microsoft_entra_tenant_id": "t",
        "microsoft_entra_client_secret_plaintext": CANARY,
    }
    if api_type == "azure":
        config = azure(**config)
    elif api_type:
        config["openai_api_type"] = api_type
    message = error_of(block(**config))
    assert "external_model.openai_config.microsoft_entra_tenant_id: only used when" in message
    assert "microsoft_entra_client_secret_plaintext: only used when" in message
    assert "set openai_api_type to 'azuread'" in message
    assert CANARY not in message


def test_invalid_openai_api_type() -> None:
    message = error_of(block(openai_api_key="{{secrets/s/k}}", openai_api_type="azure_ad"))
    assert "external_model.openai_config.openai_api_type" in message
    assert "'openai', 'azure' or 'azuread'" in message


# --- other providers -----------------------------------------------------------------------


def test_bedrock_keys_half_given() -> None:
    config = {
        "aws_region": "us-east-1",
        "bedrock_provider": "amazon",
        "aws_access_key_id": "{{secrets/s/id}}",
    }
    message = error_of(block("amazon-bedrock", **config))
    assert "external_model.amazon_bedrock_config.aws_secret_access_key: required when" in message
    assert "default AWS credential chain" in message


def test_bedrock_session_token_needs_keys() -> None:
    config = {
        "aws_region": "us-east-1",
        "bedrock_provider": "amazon",
        "aws_session_token_plaintext": CANARY,
    }
    message = error_of(block("amazon-bedrock", **config))
    assert "amazon_bedrock_config.aws_session_token: only used together" in message
    assert CANARY not in message


def test_bedrock_provider_is_case_insensitive_and_checked() -> None:
    config = {"aws_region": "us-east-1", "bedrock_provider": "AI21Labs"}
    cfg = parse_external_model(block("amazon-bedrock", **config)).provider_config
    assert isinstance(cfg, AmazonBedrockConfig)
    assert cfg.bedrock_provider == "ai21labs"
    assert cfg.base_url == "https://bedrock-runtime.us-east-1.amazonaws.com"
    message = error_of(block("amazon-bedrock", aws_region="us-east-1", bedrock_provider="meta"))
    assert "amazon_bedrock_config.bedrock_provider" in message


def test_bad_base_url() -> None:
    message = error_of(block("cohere", cohere_api_key="{{secrets/s/k}}", cohere_api_base="proxy"))
    assert "external_model.cohere_config.cohere_api_base: must be a URL" in message


# --- defaults ------------------------------------------------------------------------------


def test_defaults() -> None:
    openai = parse_external_model(block()).provider_config
    assert isinstance(openai, OpenAiConfig)
    assert openai.openai_api_type == "openai"
    assert openai.openai_api_base == DEFAULT_OPENAI_API_BASE == "https://api.openai.com/v1"
    cohere = parse_external_model(block("cohere")).provider_config
    assert cohere.base_url == DEFAULT_COHERE_API_BASE == "https://api.cohere.com"
    anthropic = parse_external_model(block("anthropic")).provider_config
    assert anthropic.base_url == "https://api.anthropic.com"
    ai21labs = parse_external_model(block("ai21labs")).provider_config
    assert ai21labs.base_url == "https://api.ai21.com/studio/v1"


def test_vertex_default_base_is_regional_and_global_has_no_prefix() -> None:
    vertex = MINIMAL["google-cloud-vertex-ai"]["google_cloud_vertex_ai_config"]
    regional = parse_external_model(block("google-cloud-vertex-ai", **vertex)).provider_config
    assert regional.base_url == "https://us-central1-aiplatform.googleapis.com"
    worldwide = block("google-cloud-vertex-ai", **{**vertex, "region": "global"})
    cfg = parse_external_model(worldwide).provider_config
    assert cfg.base_url == "https://aiplatform.googleapis.com"


def test_base_override_trailing_slash_is_dropped() -> None:
    cfg = parse_external_model(
        block(openai_api_key="{{secrets/s/k}}", openai_api_base="http://127.0.0.1:8000/v1/")
    ).provider_config
    assert cfg.base_url == "http://127.0.0.1:8000/v1"


# --- secrecy, immutability -----------------------------------------------------------------


def test_plaintext_never_leaks() -> None:
    model = parse_external_model(block(openai_api_key_plaintext=CANARY))
    cfg = model.provider_config
    assert isinstance(cfg.openai_api_key_plaintext, SecretStr)  # type: ignore[union-attr]
    for text in (
        repr(model),
        str(model),
        repr(cfg),
        str(model.model_dump()),
        model.model_dump_json(),
    ):
        assert CANARY not in text
    assert cfg.secret("openai_api_key", SecretResolver(environ={})) == SecretStr(CANARY)


def test_plaintext_never_in_error_messages() -> None:
    bad = block(
        openai_api_key_plaintext=CANARY,
        microsoft_entra_client_secret_plaintext=CANARY,
        openai_api_version=7,
    )
    bad["name"] = ""
    message = error_of(bad)
    assert CANARY not in message
    assert "external_model.name" in message
    # A key pasted into the reference field is not echoed either.
    assert CANARY not in error_of(block(openai_api_key=CANARY))
    # Nor by pydantic itself when a model is validated directly.
    with pytest.raises(ValidationError) as info:
        OpenAiConfig.model_validate({"openai_api_key_plaintext": CANARY, "bogus": CANARY})
    assert CANARY not in str(info.value)
    with pytest.raises(ValidationError) as info:
        ExternalModel.model_validate(bad)
    assert CANARY not in str(info.value)


def test_error_does_not_chain_the_validation_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_external_model(block(openai_api_key_plaintext=CANARY, openai_api_type="x"))
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_input_dict_is_not_mutated() -> None:
    for data in (block(**azure(openai_api_type="AZURE")), block(task="bad"), block("cohere")):
        before = copy.deepcopy(data)
        with contextlib.suppress(ConfigurationError):
            parse_external_model(data)
        assert data == before


def test_models_are_frozen() -> None:
    model = parse_external_model(block())
    with pytest.raises(ValidationError):
        model.name = "other"
    assert parse_external_model(model) is model


@pytest.mark.parametrize("sub", ["anthropic", "ai21labs"])
def test_bedrock_sub_provider_without_embeddings_is_refused_at_config_time(sub: str) -> None:
    data = block(
        "amazon-bedrock", "llm/v1/embeddings", aws_region="us-east-1", bedrock_provider=sub
    )
    message = error_of(data)
    assert f"external_model.task: bedrock_provider '{sub}' does not offer 'llm/v1/embeddings'" in (
        message
    )
    assert "use bedrock_provider cohere or amazon for embeddings" in message


@pytest.mark.parametrize("sub", ["cohere", "amazon"])
def test_bedrock_sub_providers_with_embeddings_are_accepted(sub: str) -> None:
    data = block(
        "amazon-bedrock", "llm/v1/embeddings", aws_region="us-east-1", bedrock_provider=sub
    )
    assert parse_external_model(data).task == "llm/v1/embeddings"
