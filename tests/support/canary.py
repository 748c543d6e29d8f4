"""Canary credentials for every provider and every way a user can give them.

Each secret a config can hold gets a distinctive fake value that matches none of the
credential-looking patterns ``redact`` masks, so a leak is caught even where redaction by shape
would not help. Targets point at the loopback stub server (``tests/support/openai_server.py``)
and the Vertex token server, so the same targets make real calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.providers.cases.vertex import PRIVATE_PEM, service_account
from tests.support.wires.vertex import TOKEN as VERTEX_ACCESS_TOKEN

#: secret reference key -> canary value.
CANARIES: dict[str, str] = {
    "openai": "canary-OPENAI-4c1f9e2b7d",
    "azure": "canary-AZUREKEY-93be0c11aa",
    "entra": "canary-ENTRA~SECRET-5d7e21f0",
    "anthropic": "canary-ANTHROPIC-0af3b8c6e1",
    "cohere": "canary-COHERE-77d05e9a3c",
    "ai21": "canary-AI21-e2c4a19b58",
    "aws-key-id": "CANARYAWSKEYID7Q2Z",
    "aws-secret": "canary/AWS+SECRET/8f0d3c2b1a9e7f6d5c4b",
    "aws-token": "canary-AWS-SESSION-TOKEN-2b9c7e41",
    "databricks": "canary-DATABRICKS-SERVING-6e3a1d90",
    "workspace": "canary-WORKSPACE-TOKEN-b5f2c87e",
}
#: A line from the middle of the service-account key (the key itself is the secret).
PEM_CANARY = PRIVATE_PEM.splitlines()[5]
#: What a leak scan looks for: every canary, the private key, the minted access token.
SECRETS: tuple[str, ...] = (*CANARIES.values(), PEM_CANARY, VERTEX_ACCESS_TOKEN)
SCOPE = "canary"

# provider config key -> (secret field -> canary name)
_SECRET_FIELDS: dict[str, dict[str, str]] = {
    "openai": {"openai_api_key": "openai"},
    "azure": {"openai_api_key": "azure"},
    "entra": {"microsoft_entra_client_secret": "entra"},
    "anthropic": {"anthropic_api_key": "anthropic"},
    "cohere": {"cohere_api_key": "cohere"},
    "ai21labs": {"ai21labs_api_key": "ai21"},
    "bedrock": {
        "aws_access_key_id": "aws-key-id",
        "aws_secret_access_key": "aws-secret",
        "aws_session_token": "aws-token",
    },
    "databricks": {"databricks_api_token": "databricks"},
}


def env_var(name: str) -> str:
    """The ``EXTMODELS_SECRET__`` variable that resolves ``{{secrets/canary/<name>}}``."""
    return f"EXTMODELS_SECRET__{SCOPE.upper()}__{name.upper().replace('-', '_')}"


def resolver(token_uri: str) -> Callable[[str, str], str | None]:
    """A ``secret_resolver=`` that knows the canaries (and the service-account key)."""
    values = {**CANARIES, "vertex-key": _vertex_key_json(token_uri)}

    def lookup(scope: str, key: str) -> str | None:
        return values.get(key) if scope == SCOPE else None

    return lookup


def environment(token_uri: str) -> dict[str, str]:
    """Environment variables that resolve every canary reference."""
    env = {env_var(name): value for name, value in CANARIES.items()}
    env[env_var("vertex-key")] = _vertex_key_json(token_uri)
    return env


def _vertex_key_json(token_uri: str) -> str:
    return json.dumps(service_account(token_uri=token_uri))


def _block(name: str, provider: str, config_key: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "provider": provider, "task": "llm/v1/chat", config_key: config}


def _secrets(kind: str, mode: str) -> dict[str, str]:
    """The secret fields of ``kind``: ``plaintext`` values or ``{{secrets/...}}`` references."""
    fields = _SECRET_FIELDS[kind]
    if mode == "plaintext":
        return {f"{field}_plaintext": CANARIES[name] for field, name in fields.items()}
    return {field: f"{{{{secrets/{SCOPE}/{name}}}}}" for field, name in fields.items()}


def external_models(base: str, token_uri: str, mode: str) -> dict[str, dict[str, Any]]:
    """An ``external_model`` block per provider (and per OpenAI auth kind), secrets given as
    ``mode`` (``plaintext`` or ``reference``), every base URL on the stub at ``base``."""
    vertex_key = (
        {"private_key_plaintext": _vertex_key_json(token_uri)}
        if mode == "plaintext"
        else {"private_key": f"{{{{secrets/{SCOPE}/vertex-key}}}}"}
    )
    azure = {
        "openai_api_base": base,
        "openai_api_version": "2024-10-21",
        "openai_deployment_name": "gpt-4o-mini",
    }
    return {
        "openai": _block(
            "gpt-4o-mini",
            "openai",
            "openai_config",
            {"openai_api_base": f"{base}/v1", **_secrets("openai", mode)},
        ),
        "azure": _block(
            "gpt-4o-mini",
            "openai",
            "openai_config",
            {"openai_api_type": "azure", **azure, **_secrets("azure", mode)},
        ),
        "entra": _block(
            "gpt-4o-mini",
            "openai",
            "openai_config",
            {
                "openai_api_type": "azuread",
                **azure,
                "microsoft_entra_tenant_id": "tenant",
                "microsoft_entra_client_id": "client",
                **_secrets("entra", mode),
            },
        ),
        "anthropic": _block(
            "claude-sonnet-4-5",
            "anthropic",
            "anthropic_config",
            {"anthropic_api_base": base, **_secrets("anthropic", mode)},
        ),
        "cohere": _block(
            "command-r-plus",
            "cohere",
            "cohere_config",
            {"cohere_api_base": base, **_secrets("cohere", mode)},
        ),
        "ai21labs": _block(
            "jamba-mini",
            "ai21labs",
            "ai21labs_config",
            {"ai21labs_api_base": base, **_secrets("ai21labs", mode)},
        ),
        "bedrock": _block(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "amazon-bedrock",
            "amazon_bedrock_config",
            {
                "aws_region": "us-east-1",
                "bedrock_provider": "anthropic",
                "bedrock_api_base": base,
                **_secrets("bedrock", mode),
            },
        ),
        "vertex": _block(
            "gemini-2.0-flash",
            "google-cloud-vertex-ai",
            "google_cloud_vertex_ai_config",
            {"project_id": "canary-project", "region": "us-central1", "vertex_api_base": base}
            | vertex_key,
        ),
        "databricks": _block(
            "remote-endpoint",
            "databricks-model-serving",
            "databricks_model_serving_config",
            {"databricks_workspace_url": base, **_secrets("databricks", mode)},
        ),
    }


def targets(base: str, token_uri: str, mode: str) -> dict[str, dict[str, Any]]:
    """Constructor kwargs per target: every ``external_model`` plus an ``endpoint=`` target."""
    out: dict[str, dict[str, Any]] = {
        name: {"external_model": block}
        for name, block in external_models(base, token_uri, mode).items()
    }
    out["endpoint"] = {"endpoint": "my-endpoint", "host": base, "token": CANARIES["workspace"]}
    return out


def leaks(texts: Iterable[str]) -> list[str]:
    """The canaries (shortened) found in any of ``texts``."""
    blob = "\n".join(texts)
    return [secret[:18] + "..." for secret in SECRETS if secret in blob]
