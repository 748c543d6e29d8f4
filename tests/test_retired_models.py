"""Models the providers have shut down, as the external-model docs still name them, fail at
validation with what to use instead (issue 19), never as a provider error after the fact."""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations import ConfigurationError, parse_external_model


def _block(provider: str, name: str, task: str = "llm/v1/chat", **config: Any) -> dict[str, Any]:
    if provider == "anthropic":
        key, base = "anthropic_config", {"anthropic_api_key_plaintext": "sk-ant-x"}
    else:
        key = "google_cloud_vertex_ai_config"
        base = {"project_id": "p", "region": "us-central1", "private_key_plaintext": "k"}
    return {"name": name, "provider": provider, "task": task, key: {**base, **config}}


@pytest.mark.parametrize(
    ("name", "task", "date"),
    [
        ("claude-2", "llm/v1/completions", "2025-07-21"),
        ("claude-2.1", "llm/v1/chat", "2025-07-21"),
        ("claude-instant-1.2", "llm/v1/chat", "2024-11-06"),
        ("claude-3-sonnet-20240229", "llm/v1/chat", "2025-07-21"),
        ("claude-3-opus-20240229", "llm/v1/chat", "2026-01-05"),
    ],
)
def test_retired_claude_models_name_the_date_and_a_replacement(
    name: str, task: str, date: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_external_model(_block("anthropic", name, task))
    message = str(caught.value)
    assert f"external_model.name: {name!r} was retired by Anthropic on {date}" in message
    assert "claude-sonnet-4-5" in message


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("chat-bison", "llm/v1/chat"),
        ("text-bison@002", "llm/v1/completions"),
        ("text-bison-32k", "llm/v1/completions"),
        ("textembedding-gecko@001", "llm/v1/embeddings"),
    ],
)
def test_palm_models_on_vertex_name_the_shutdown_and_gemini(name: str, task: str) -> None:
    with pytest.raises(ConfigurationError, match=r"shut down on Vertex AI on 2025-04-09") as e:
        parse_external_model(_block("google-cloud-vertex-ai", name, task))
    assert "Gemini" in str(e.value)


@pytest.mark.parametrize(
    ("provider", "name"),
    [
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("google-cloud-vertex-ai", "gemini-2.5-flash"),
        ("google-cloud-vertex-ai", "textembedding-gecko@003"),
    ],
)
def test_current_models_pass(provider: str, name: str) -> None:
    assert parse_external_model(_block(provider, name)).name == name


def test_a_proxy_base_is_trusted_with_its_own_names() -> None:
    block = _block("anthropic", "claude-2", anthropic_api_base="https://proxy.example")
    assert parse_external_model(block).name == "claude-2"
