"""OpenAI's ``reasoning_effort`` on every provider: the provider's own thinking setting on the
wire where it has one, a clear error before sending where it has none or the value cannot go."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from extmodels_integrations import (
    ChatRequest,
    ConfigurationError,
    ExternalClient,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers import build_adapter
from extmodels_integrations.providers._base import Adapter
from tests.providers.cases import ai21labs, amazon_bedrock, anthropic, cohere, vertex
from tests.support.openai_server import OpenAIStubServer

HI = [{"role": "user", "content": "Hi"}]


def _adapter(kwargs: dict[str, Any]) -> Adapter:
    model = parse_external_model(kwargs["external_model"])
    return build_adapter(model, SecretResolver(None))


def _body(kwargs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    request = ChatRequest(messages=HI, **fields)  # type: ignore[arg-type]
    sent = _adapter(kwargs).chat_request(request, stream=False)
    # Bedrock signs the bytes, so its body is sent as content.
    body = sent.json if sent.content is None else json.loads(sent.content)
    assert isinstance(body, dict)
    return body


CLAUDE = anthropic.target()
BEDROCK_CLAUDE = amazon_bedrock.target("anthropic.claude-sonnet-4-5-20250929-v1:0", "llm/v1/chat")
GEMINI = vertex.target("llm/v1/chat", "gemini-2.5-flash")
COMMAND = cohere.target("llm/v1/chat", "command-a-reasoning-08-2025")


@pytest.mark.parametrize("target", [CLAUDE, BEDROCK_CLAUDE], ids=["anthropic", "bedrock"])
@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("minimal", {"type": "enabled", "budget_tokens": 1024}),
        ("low", {"type": "enabled", "budget_tokens": 1024}),
        ("medium", {"type": "enabled", "budget_tokens": 2048}),
        ("high", {"type": "enabled", "budget_tokens": 4096}),
        ("none", {"type": "disabled"}),
    ],
)
def test_claude_thinks_with_the_budget_of_the_effort(
    target: dict[str, Any], effort: str, thinking: dict[str, Any]
) -> None:
    body = _body(target, max_tokens=8000, extra_params={"reasoning_effort": effort})
    assert body["thinking"] == thinking
    assert "reasoning_effort" not in body


def test_claude_refuses_a_budget_that_max_tokens_cannot_hold() -> None:
    with pytest.raises(UnsupportedParameterError, match=r"4096 tokens.*max_tokens \(1000\)"):
        _body(CLAUDE, max_tokens=1000, extra_params={"reasoning_effort": "high"})


def test_claude_refuses_thinking_at_another_temperature() -> None:
    with pytest.raises(UnsupportedParameterError, match=r"temperature.*not 0\.2"):
        _body(CLAUDE, max_tokens=8000, temperature=0.2, extra_params={"reasoning_effort": "low"})
    body = _body(CLAUDE, max_tokens=8000, temperature=1, extra_params={"reasoning_effort": "low"})
    assert body["thinking"]["type"] == "enabled"


@pytest.mark.parametrize(
    ("effort", "config"),
    [
        ("none", {"thinkingBudget": 0, "includeThoughts": False}),
        ("low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("high", {"thinkingBudget": 24576, "includeThoughts": True}),
    ],
)
def test_gemini_thinks_with_googles_own_budgets(effort: str, config: dict[str, Any]) -> None:
    body = _body(GEMINI, temperature=0.3, extra_params={"reasoning_effort": effort})
    assert body["generationConfig"] == {"temperature": 0.3, "thinkingConfig": config}
    assert "reasoning_effort" not in body


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("medium", {"type": "enabled", "token_budget": 2048}),
        ("none", {"type": "disabled"}),
    ],
)
def test_command_a_reasoning_takes_a_token_budget(effort: str, thinking: dict[str, Any]) -> None:
    body = _body(COMMAND, extra_params={"reasoning_effort": effort})
    assert body["thinking"] == thinking
    assert "reasoning_effort" not in body


@pytest.mark.parametrize(
    ("target", "native"),
    [
        (CLAUDE, {"thinking": {"type": "enabled", "budget_tokens": 2000}}),
        (GEMINI, {"thinkingConfig": {"thinkingBudget": 10}}),
        (COMMAND, {"thinking": {"type": "disabled"}}),
    ],
    ids=["anthropic", "vertex", "cohere"],
)
def test_effort_and_the_native_setting_together_are_refused(
    target: dict[str, Any], native: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError, match=r"reasoning_effort and .* both set"):
        _body(target, max_tokens=8000, extra_params={"reasoning_effort": "low", **native})


@pytest.mark.parametrize("target", [CLAUDE, GEMINI, COMMAND], ids=["anthropic", "vertex", "cohere"])
def test_an_unknown_effort_names_the_valid_ones(target: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameterError, match="'extreme' is not one of none, minimal"):
        _body(target, max_tokens=8000, extra_params={"reasoning_effort": "extreme"})


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (ai21labs.CHAT, "Jamba models do not reason"),
        (amazon_bedrock.target("amazon.titan-text-express-v1", "llm/v1/chat"), "only"),
        (amazon_bedrock.target("cohere.command-r-plus-v1:0", "llm/v1/chat"), "only"),
        (amazon_bedrock.target("ai21.jamba-1-5-large-v1:0", "llm/v1/chat"), "only"),
    ],
    ids=["ai21labs", "bedrock-titan", "bedrock-cohere", "bedrock-jamba"],
)
def test_models_that_do_not_reason_refuse_it_before_sending(
    target: dict[str, Any], match: str
) -> None:
    with pytest.raises(UnsupportedParameterError, match=f"reasoning_effort.*{match}"):
        _body(target, extra_params={"reasoning_effort": "low"})


# -- end to end against the stub's Anthropic wire, which checks the budget as the API does ------


@pytest.fixture
def claude(server: OpenAIStubServer) -> Iterator[ExternalClient]:
    config = {"anthropic_api_key_plaintext": "test-key", "anthropic_api_base": server.base_url}
    target = anthropic.target(**config)["external_model"]
    with ExternalClient(external_model=target, max_retries=0) as client:
        yield client


def test_claude_answers_with_signed_reasoning(claude: ExternalClient) -> None:
    request = ChatRequest(messages=HI, max_tokens=3000, extra_params={"reasoning_effort": "low"})
    plain = claude.chat(request)
    streamed = list(claude.stream_chat(request))
    choice = plain.choices[0]
    assert choice.reasoning and choice.reasoning_blocks[0].signature
    assert "".join(c.reasoning or "" for chunk in streamed for c in chunk.choices) == (
        choice.reasoning
    )


async def test_claude_answers_with_reasoning_async(claude: ExternalClient) -> None:
    request = ChatRequest(messages=HI, max_tokens=3000, extra_params={"reasoning_effort": "low"})
    answer = await claude.achat(request)
    assert answer.choices[0].reasoning
