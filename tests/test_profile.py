"""``ChatExternal.profile`` (LangChain's ``ModelProfile``) for each kind of target: the table in
``_profile.py`` is checked against what every adapter actually sends or refuses, so a
profile never promises what the adapter refuses (or hides what it takes)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from extmodels_integrations import (
    ChatRequest,
    ConfigurationError,
    UnsupportedParameterError,
    load_endpoint_config,
    parse_external_model,
)
from extmodels_integrations._models import lookup
from extmodels_integrations._profile import _beyond_model, capability_kind, external_model_profile
from extmodels_integrations.langchain import ChatExternal
from tests.providers.cases import amazon_bedrock
from tests.providers.test_feature_matrix import PDF, PNG, PROVIDERS, _body
from tests.providers.test_parallel_tool_calls import TOOL

HI = [{"role": "user", "content": "Hi"}]
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
TARGETS = {label: target for label, (target, _, _) in PROVIDERS.items()}
TARGETS["Bedrock AI21"] = amazon_bedrock.target("ai21.jamba-1-5-mini-v1:0", "llm/v1/chat")


def _part(part: dict[str, Any]) -> ChatRequest:
    content = [{"type": "text", "text": "What is this?"}, part]
    return ChatRequest(messages=[{"role": "user", "content": content}])  # type: ignore[list-item]


PROBES: dict[str, ChatRequest] = {
    "tool_calling": ChatRequest(messages=HI, tools=[TOOL]),  # type: ignore[arg-type]
    "tool_choice": ChatRequest(messages=HI, tools=[TOOL], tool_choice="required"),  # type: ignore[arg-type]
    "structured_output": ChatRequest(
        messages=HI,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}},
    ),
    "image_inputs": _part(
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    ),
    "image_url_inputs": _part(
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    ),
    "pdf_inputs": _part(
        {
            "type": "file",
            "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
        }
    ),
}


def _sent(target: dict[str, Any], request: ChatRequest) -> bool:
    try:
        _body(target, request)
    except (UnsupportedParameterError, ConfigurationError):
        return False
    return True


@pytest.mark.parametrize("label", sorted(TARGETS))
def test_the_profile_says_what_the_adapter_does(label: str) -> None:
    target = TARGETS[label]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profile = external_model_profile(parse_external_model(target["external_model"]))
    does = {feature: _sent(target, request) for feature, request in PROBES.items()}
    # Less what the probed model itself lacks (a text-only family), tested on its own below.
    lacking = _beyond_model(lookup(target["external_model"]["name"]))
    assert {f: profile[f] for f in PROBES} == {f: does[f] and f not in lacking for f in PROBES}


def test_every_kind_of_target_is_probed() -> None:
    from extmodels_integrations._profile import _CAPABILITIES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probed = {
            capability_kind(parse_external_model(t["external_model"])) for t in TARGETS.values()
        }
    assert probed == set(_CAPABILITIES)


@pytest.mark.parametrize(
    ("label", "name", "reasons"),
    [
        ("OpenAI", "o4-mini", True),
        ("OpenAI", "gpt-4o-mini", False),
        ("Anthropic", "claude-sonnet-4-5", True),
        ("Anthropic", "claude-3-5-haiku-latest", False),
        ("Vertex AI (Gemini)", "gemini-2.5-flash", True),
        ("Vertex AI (Gemini)", "gemini-2.0-flash", False),
        ("Serving endpoint", "databricks-claude-sonnet-4", True),
        ("Serving endpoint", "databricks-meta-llama-3-3-70b-instruct", False),
    ],
)
def test_reasoning_follows_the_model_family(label: str, name: str, reasons: bool) -> None:
    block = {**TARGETS[label]["external_model"], "name": name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert external_model_profile(parse_external_model(block))["reasoning_output"] is reasons


def test_langchain_sets_the_profile_with_the_published_limits() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llm = ChatExternal(external_model={**TARGETS["Anthropic"]["external_model"]})
    assert llm.profile is not None
    assert llm.profile["tool_calling"] and llm.profile["pdf_inputs"]
    assert llm.profile["max_input_tokens"] == 200_000


def test_a_profile_given_by_the_user_wins() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llm = ChatExternal(external_model=TARGETS["Cohere"]["external_model"], profile={"x": 1})
    assert llm.profile == {"x": 1}


def _profile_of(label: str, name: str) -> dict[str, Any]:
    block = {**TARGETS[label]["external_model"], "name": name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return external_model_profile(parse_external_model(block))


@pytest.mark.parametrize(
    ("label", "name", "images", "tools"),
    [
        ("Cohere", "command-a-vision-07-2025", True, True),
        ("Cohere", "command-a-03-2025", False, True),
        ("Cohere", "command-r-plus-08-2024", False, True),
        ("OpenAI", "gpt-4o-mini", True, True),
        ("OpenAI", "gpt-3.5-turbo-0125", False, True),
        ("OpenAI", "o1-mini", False, False),
        ("Serving endpoint", "databricks-meta-llama-3-3-70b-instruct", False, True),
        ("Serving endpoint", "my-own-finetune", True, True),  # unknown: the adapter's word
    ],
)
def test_a_text_only_or_toolless_model_says_so_whatever_its_provider_takes(
    label: str, name: str, images: bool, tools: bool
) -> None:
    profile = _profile_of(label, name)
    assert profile["image_inputs"] is images and profile["image_url_inputs"] is images
    assert profile["tool_calling"] is tools and profile["tool_choice"] is tools


def test_an_endpoint_config_offers_what_every_entity_offers() -> None:
    anthropic = TARGETS["Anthropic"]["external_model"]
    cohere = {**TARGETS["Cohere"]["external_model"], "name": "command-a-vision-07-2025"}
    routes = [{"served_model_name": n, "traffic_percentage": 50} for n in ("a", "c")]
    body = {
        "name": "split",
        "config": {
            "served_entities": [
                {"name": "a", "external_model": anthropic},
                {"name": "c", "external_model": cohere},
            ],
            "traffic_config": {"routes": routes},
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llm = ChatExternal(endpoint_config=load_endpoint_config(body))
    assert llm.profile is not None
    assert llm.profile["image_inputs"] and not llm.profile["pdf_inputs"]  # Cohere takes none


def test_a_serving_endpoint_by_name_tells_only_its_limits() -> None:
    llm = ChatExternal(endpoint="databricks-claude-sonnet-4", host="https://h", token="t")
    assert llm.profile == {"max_input_tokens": 200_000, "max_output_tokens": 64_000}
    assert ChatExternal(endpoint="my-bot", host="https://h", token="t").profile is None


def test_claude_on_bedrock_refuses_a_document_url_before_sending() -> None:
    request = _part({"type": "file", "file": {"file_data": "https://example.com/a.pdf"}})
    with pytest.raises(UnsupportedParameterError) as refused:
        _body(TARGETS["Bedrock Anthropic"], request)
    assert refused.value.parameter == "messages[0].content[1].file.file_data"
    assert "base64" in str(refused.value)
