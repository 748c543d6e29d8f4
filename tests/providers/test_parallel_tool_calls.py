"""``parallel_tool_calls`` on every provider (issue 19): on the wire in the provider's own
shape where it has a switch (OpenAI and Azure as is; Anthropic, and Claude on Bedrock, as
``tool_choice.disable_parallel_tool_use``), and ``parallel_tool_calls=False`` refused before
sending, naming the parameter, where the provider may always answer with several calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extmodels_integrations import ChatRequest, UnsupportedParameterError
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers import build_adapter
from tests.providers.cases import ai21labs, amazon_bedrock, anthropic, cohere, vertex

HI = [{"role": "user", "content": "What is the weather in Paris and in Rome?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _openai(**config: Any) -> dict[str, Any]:
    model = {"name": "gpt-4o-mini", "provider": "openai", "task": "llm/v1/chat"}
    return {
        "external_model": {**model, "openai_config": {"openai_api_key_plaintext": "sk-t", **config}}
    }


AZURE = _openai(
    openai_api_type="azure",
    openai_api_base="https://r.openai.azure.com",
    openai_api_version="2024-10-21",
    openai_deployment_name="d",
)
SERVING = {
    "external_model": {
        "name": "ep",
        "provider": "databricks-model-serving",
        "task": "llm/v1/chat",
        "databricks_model_serving_config": {
            "databricks_workspace_url": "https://dbc-1.cloud.databricks.com",
            "databricks_api_token_plaintext": "dapi-t",
        },
    }
}
PASSED_AS_IS = {"openai": _openai(), "azure": AZURE, "databricks-model-serving": SERVING}
CLAUDES = {
    "anthropic": anthropic.target(),
    "bedrock-anthropic": amazon_bedrock.target(
        "anthropic.claude-sonnet-4-5-20250929-v1:0", "llm/v1/chat"
    ),
}
REFUSED = {
    "cohere": cohere.target("llm/v1/chat"),
    "bedrock-cohere": amazon_bedrock.target("cohere.command-r-plus-v1:0", "llm/v1/chat"),
    "vertex": vertex.target("llm/v1/chat", "gemini-2.5-flash"),
    "ai21labs": ai21labs.target("llm/v1/chat", "jamba-1.5-mini"),
}


def body(target: dict[str, Any], *, stream: bool, **fields: Any) -> dict[str, Any]:
    """The body ``target``'s adapter sends for a chat request with ``TOOL`` and ``fields``."""
    adapter = build_adapter(parse_external_model(target["external_model"]), SecretResolver(None))
    request = ChatRequest(messages=HI, tools=[TOOL], **fields)  # type: ignore[arg-type]
    sent = adapter.chat_request(request, stream=stream)
    # Bedrock signs the bytes, so its body is sent as content.
    out = sent.json if sent.content is None else json.loads(sent.content)
    assert isinstance(out, dict)
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("value", [False, True])
@pytest.mark.parametrize("name", sorted(PASSED_AS_IS))
def test_openai_format_targets_send_it_as_is(name: str, value: bool, stream: bool) -> None:
    sent = body(PASSED_AS_IS[name], stream=stream, parallel_tool_calls=value)
    assert sent["parallel_tool_calls"] is value


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("name", sorted(CLAUDES))
def test_claude_sends_false_as_disable_parallel_tool_use(name: str, stream: bool) -> None:
    sent = body(CLAUDES[name], stream=stream, parallel_tool_calls=False)
    assert sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "parallel_tool_calls" not in sent
    forced = body(CLAUDES[name], stream=stream, parallel_tool_calls=False, tool_choice="required")
    assert forced["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    # True is Claude's default: nothing to send.
    parallel = body(CLAUDES[name], stream=stream, parallel_tool_calls=True)
    assert "disable_parallel_tool_use" not in json.dumps(parallel)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_providers_without_the_switch_refuse_false_before_sending(name: str, stream: bool) -> None:
    with pytest.raises(UnsupportedParameterError, match="parallel_tool_calls") as refused:
        body(REFUSED[name], stream=stream, parallel_tool_calls=False)
    assert refused.value.parameter == "parallel_tool_calls"


@pytest.mark.parametrize("value", [False, True])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_caller_that_applies_it_itself_gets_the_request_without_it(
    name: str, value: bool
) -> None:
    # LlamaIndex's chat_with_tools keeps only the first call itself when parallel calls are
    # not allowed: a provider with no switch gets the tools and nothing to refuse.
    sent = body(
        REFUSED[name],
        stream=False,
        parallel_tool_calls=value,
        caller_applies_parallel_tool_calls=True,
    )
    assert "parallel" not in json.dumps(sent).lower()
    assert "get_weather" in json.dumps(sent)


@pytest.mark.parametrize("name", sorted(PASSED_AS_IS))
def test_a_caller_that_applies_it_still_sends_it_where_the_provider_takes_it(name: str) -> None:
    sent = body(
        PASSED_AS_IS[name],
        stream=False,
        parallel_tool_calls=False,
        caller_applies_parallel_tool_calls=True,
    )
    assert sent["parallel_tool_calls"] is False
    claude = body(
        CLAUDES["anthropic"],
        stream=False,
        parallel_tool_calls=False,
        caller_applies_parallel_tool_calls=True,
    )
    assert claude["tool_choice"]["disable_parallel_tool_use"] is True
