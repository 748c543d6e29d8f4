"""The README's provider-by-feature matrix, computed from the adapters (issue 19), so it cannot
drift: each cell builds the request that asks for the feature and reads the body. ✓ means the
feature is on the wire in the provider's shape; "clear error" means the build (or the config's
validation) raised our typed error naming what to do instead. A feature that neither reaches
the wire nor raises fails the test: silently dropped is not a cell value.

Regenerate the README block with ``python -m tests.providers.test_feature_matrix``."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from extmodels_integrations import (
    ChatRequest,
    ConfigurationError,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers import build_adapter
from tests.providers.cases import ai21labs, amazon_bedrock, anthropic, cohere, vertex
from tests.providers.test_parallel_tool_calls import AZURE, SERVING, TOOL, _openai

README = Path(__file__).parents[2] / "README.md"
START, END = "<!-- feature-matrix:start -->", "<!-- feature-matrix:end -->"
OK, ERROR, STRICT_DROPPED = "✓", "clear error", "✓ (strict dropped, with a warning)"
NO_HINTS = "hint ignored"
CONSTRAINED = (
    '"strict": true',
    '"strict_tools": true',
    '"output_config"',
    '"type": "json_object", "json_schema"',
    '"responseSchema"',
    '"responseJsonSchema"',
)
PNG = "iVBORw0KGgoAAAANSUhEUg"
PDF = "JVBERi0xLjQK"


def _with(target: dict[str, Any], task: str, name: str) -> dict[str, Any]:
    model = {**target["external_model"], "task": task, "name": name}
    return {"external_model": model}


def _bedrock(model: str) -> dict[str, Any]:
    return amazon_bedrock.target(model, "llm/v1/chat")


#: provider label -> (chat target, reasoning-model name, embeddings model name or None)
PROVIDERS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "OpenAI": (_openai(), "o4-mini", "text-embedding-3-small"),
    "Azure OpenAI": (AZURE, "o4-mini", "text-embedding-3-small"),
    "Serving endpoint": (SERVING, "ep", "ep"),
    "Anthropic": (anthropic.target(), "claude-sonnet-4-5", None),
    "Bedrock Anthropic": (
        _bedrock("anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        None,
    ),
    "Bedrock Cohere": (
        _bedrock("cohere.command-r-plus-v1:0"),
        "cohere.command-r-plus-v1:0",
        "cohere.embed-english-v3",
    ),
    "Bedrock Titan": (
        _bedrock("amazon.titan-text-express-v1"),
        "amazon.titan-text-express-v1",
        "amazon.titan-embed-text-v2:0",
    ),
    "Cohere": (cohere.target("llm/v1/chat"), "command-a-reasoning-08-2025", "embed-english-v3.0"),
    "Vertex AI (Gemini)": (
        vertex.target("llm/v1/chat", "gemini-2.5-flash"),
        "gemini-2.5-flash",
        "text-embedding-005",
    ),
    "AI21 Labs": (ai21labs.target("llm/v1/chat", "jamba-1.5-mini"), "jamba-1.5-mini", None),
}


def _body(target: dict[str, Any], request: ChatRequest) -> tuple[str, list[str]]:
    adapter = build_adapter(parse_external_model(target["external_model"]), SecretResolver(None))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sent = adapter.chat_request(request, stream=False)
    body = sent.json if sent.content is None else json.loads(sent.content)
    return json.dumps(body), [str(w.message) for w in seen]


def _cell(target: dict[str, Any], request: ChatRequest, on_wire: Callable[[str], bool]) -> str:
    try:
        body, _ = _body(target, request)
    except (UnsupportedParameterError, ConfigurationError):
        return ERROR
    assert on_wire(body), f"{request} was dropped from {body}"
    return OK


def _caching(target: dict[str, Any], request: ChatRequest) -> str:
    """``cache_control`` is a hint, not content: where the provider has no cache hints it is
    left out and the text kept (a history written for Claude still runs on a fallback)."""
    try:
        body, _ = _body(target, request)
    except (UnsupportedParameterError, ConfigurationError):
        return ERROR
    if "cache_control" in body or "cachePoint" in body:
        return OK
    assert "long context" in body, f"the cached text was dropped from {body}"
    return NO_HINTS


def _part(part: dict[str, Any]) -> ChatRequest:
    content = [{"type": "text", "text": "What is this?"}, part]
    return ChatRequest(messages=[{"role": "user", "content": content}])


def _strict(target: dict[str, Any], request: ChatRequest, schema_key: str) -> str:
    try:
        body, warned = _body(target, request)
    except (UnsupportedParameterError, ConfigurationError):
        return ERROR
    assert schema_key in body, f"the schema was dropped from {body}"
    # Schemas these take are enforced by constrained decoding, strict without a flag:
    # Anthropic's output_config.format, Cohere's json_object + json_schema (and strict_tools
    # for tools), Gemini's responseSchema / responseJsonSchema.
    if any(key in body for key in CONSTRAINED):
        return OK
    assert any("strict" in w for w in warned), f"strict dropped without a warning: {body}"
    return STRICT_DROPPED


SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def _features(label: str) -> dict[str, str]:
    target, thinker, embedder = PROVIDERS[label]
    hi = [{"role": "user", "content": "Hi"}]
    strict_tool = {**TOOL, "function": {**TOOL["function"], "strict": True}}
    tool_name = "get_weather"
    cached = {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}}
    return {
        "reasoning": _cell(
            _with(target, "llm/v1/chat", thinker),
            ChatRequest(messages=hi, extra_params={"reasoning_effort": "low"}),  # type: ignore[arg-type]
            lambda body: "low" in body or "budget" in body.lower(),
        ),
        "prompt caching": _caching(target, _part(cached)),
        "image input": _cell(
            target,
            _part({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
            lambda body: PNG in body,
        ),
        "PDF input": _cell(
            target,
            _part(
                {
                    "type": "file",
                    "file": {
                        "filename": "a.pdf",
                        "file_data": f"data:application/pdf;base64,{PDF}",
                    },
                }
            ),
            lambda body: PDF in body,
        ),
        "structured output strict": _strict(
            target,
            ChatRequest(
                messages=hi,  # type: ignore[arg-type]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "out", "schema": SCHEMA, "strict": True},
                },
            ),
            '"required": ["a"]',
        ),
        "tool strict": _strict(
            target,
            ChatRequest(messages=hi, tools=[strict_tool]),
            tool_name,  # type: ignore[arg-type]
        ),
        "parallel_tool_calls": _cell(
            target,
            ChatRequest(messages=hi, tools=[TOOL], parallel_tool_calls=False),  # type: ignore[arg-type]
            lambda body: "parallel" in body,
        ),
        "logprobs": _cell(
            target,
            ChatRequest(messages=hi, extra_params={"logprobs": True}),  # type: ignore[arg-type]
            lambda body: "logprobs" in body.lower() or "logProbs" in body,
        ),
        "embeddings": _embeddings(target, embedder),
    }


def _embeddings(target: dict[str, Any], model: str | None) -> str:
    if model is None:
        block = {**target["external_model"], "task": "llm/v1/embeddings"}
        try:
            parse_external_model(block)
        except ConfigurationError:
            return ERROR
        raise AssertionError(f"{block['provider']} accepted embeddings without a model for it")
    parse_external_model(_with(target, "llm/v1/embeddings", model)["external_model"])
    return OK


def matrix() -> str:
    """The README block: one row per provider, one column per feature."""
    rows = {label: _features(label) for label in PROVIDERS}
    features = list(next(iter(rows.values())))
    lines = [
        "| provider | " + " | ".join(features) + " |",
        "|---|" + "---|" * len(features),
    ]
    lines += ["| " + " | ".join([label, *cells.values()]) + " |" for label, cells in rows.items()]
    return "\n".join(lines)


def _readme_block() -> str:
    found = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), README.read_text(), re.S)
    assert found, f"README.md has no {START} ... {END} block"
    return found.group(1)


def test_the_readme_matrix_is_what_the_adapters_do() -> None:
    assert _readme_block() == matrix(), (
        "README feature matrix is stale: run python -m tests.providers.test_feature_matrix"
    )


if __name__ == "__main__":
    text = README.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{matrix()}\n{END}{tail}")
