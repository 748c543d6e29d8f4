"""Property (issue 19): whatever parameter a user gives, under whatever name, it reaches the
wire or something raised naming it (``UnsupportedParameterError`` / ``ConfigurationError``).
Never silently dropped.

Two layers, each over the whole parameter table plus random names: every provider adapter's
request body (a parameter given there must change the body, or the build must refuse it), and
the framework classes end to end on the loopback stub, given to the constructor or at call
time (the parameter must be in the body the stub received)."""

from __future__ import annotations

import json
import keyword
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extmodels_integrations import (
    ChatRequest,
    CompletionRequest,
    ConfigurationError,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._parameters import WIRE_PARAMETERS
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._types import CHAT
from extmodels_integrations.langchain import ChatExternal, CompletionExternal
from extmodels_integrations.llama_index import ChatExternal as LIChat
from extmodels_integrations.providers import build_adapter
from tests.providers.cases import ai21labs, amazon_bedrock, anthropic, cohere, vertex
from tests.providers.test_parallel_tool_calls import AZURE, SERVING, _openai
from tests.support.openai_server import OpenAIStubServer

HI = [{"role": "user", "content": "Hi"}]

#: A value for each parameter the unified schema knows, unlike any provider default.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.sampled_from([0.15, 0.35, 0.65]),
    "max_tokens": st.integers(5, 300),
    "stop": st.lists(
        st.sampled_from(["END", "###", "Human:"]), min_size=1, max_size=2, unique=True
    ),
    "n": st.integers(2, 3),
    "top_p": st.sampled_from([0.25, 0.55, 0.85]),
    "top_k": st.integers(2, 40),
    "presence_penalty": st.sampled_from([0.2, 0.4]),
    "frequency_penalty": st.sampled_from([0.3, 0.6]),
    "seed": st.integers(1, 10_000),
    "logit_bias": st.just({"50256": -100}),
    "logprobs": st.just(True),
    "top_logprobs": st.integers(1, 5),
    "user": st.sampled_from(["u-1", "u-2"]),
    "service_tier": st.just("flex"),
    # Not {"type": "text"}: that is the default, which every provider may leave unsaid.
    "response_format": st.just({"type": "json_object"}),
    "reasoning_effort": st.sampled_from(["low", "high"]),
    "max_completion_tokens": st.integers(5, 300),
    "verbosity": st.just("low"),
}
FIELDS = {"temperature", "max_tokens", "stop", "n", "response_format"}
_RANDOM_NAMES = st.from_regex(r"x_[a-z][a-z0-9_]{0,12}", fullmatch=True)
NAMED = st.one_of(
    st.sampled_from(sorted(VALUES)).flatmap(lambda n: st.tuples(st.just(n), VALUES[n])),
    st.tuples(_RANDOM_NAMES, st.integers(1, 9)),
)

TARGETS = {
    "openai": _openai(),
    "azure": AZURE,
    "databricks-model-serving": SERVING,
    "anthropic": anthropic.target(),
    "cohere": cohere.target("llm/v1/chat"),
    "vertex": vertex.target("llm/v1/chat", "gemini-2.5-flash"),
    "ai21labs": ai21labs.target("llm/v1/chat", "jamba-1.5-mini"),
    "bedrock-anthropic": amazon_bedrock.target(
        "anthropic.claude-sonnet-4-5-20250929-v1:0", "llm/v1/chat"
    ),
    "bedrock-cohere": amazon_bedrock.target("cohere.command-r-plus-v1:0", "llm/v1/chat"),
    "bedrock-titan": amazon_bedrock.target("amazon.titan-text-express-v1", "llm/v1/chat"),
}
_ADAPTERS = {
    name: build_adapter(parse_external_model(t["external_model"]), SecretResolver(None))
    for name, t in TARGETS.items()
}


def _sent(adapter: Any, params: dict[str, Any]) -> str:
    fields = {k: v for k, v in params.items() if k in FIELDS}
    extra = {k: v for k, v in params.items() if k not in FIELDS}
    request = ChatRequest(messages=HI, extra_params=extra, **fields)  # type: ignore[arg-type]
    sent = adapter.chat_request(request, stream=False)
    body = sent.json if sent.content is None else json.loads(sent.content)
    return json.dumps(body, sort_keys=True)


def _names_it(error: Exception, name: str) -> bool:
    return name in str(error) or getattr(error, "parameter", None) == name


@settings(max_examples=400, deadline=None)
@given(target=st.sampled_from(sorted(TARGETS)), named=NAMED)
def test_every_adapter_sends_a_parameter_or_refuses_it_by_name(
    target: str, named: tuple[str, Any]
) -> None:
    name, value = named
    adapter = _ADAPTERS[target]
    baseline = _sent(adapter, {})
    try:
        body = _sent(adapter, {name: value})
    except (UnsupportedParameterError, ConfigurationError) as refused:
        assert _names_it(refused, name), f"{target}: {refused} does not name {name!r}"
        return
    assert body != baseline, f"{target}: {name}={value!r} vanished from the body"


# -- the classes, end to end ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


_STUB_VALUES = {k: v for k, v in VALUES.items() if k in WIRE_PARAMETERS[CHAT] | FIELDS}
_CLASS_NAMED = st.one_of(
    st.sampled_from(sorted(_STUB_VALUES)).flatmap(lambda n: st.tuples(st.just(n), VALUES[n])),
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True).filter(
            lambda n: not keyword.iskeyword(n)
        ),
        st.integers(1, 9),
    ),
)


def _invoke(cls: type, stub: OpenAIStubServer, at_call: bool, name: str, value: Any) -> None:
    target = {"endpoint": "ep", "host": stub.base_url, "token": "dapi-test"}
    if at_call:
        model = cls(**target)
        if cls is LIChat:
            from llama_index.core.base.llms.types import ChatMessage

            model.chat([ChatMessage(role="user", content="hi")], **{name: value})
        else:
            model.invoke("hi", **{name: value})
    else:
        model = cls(**target, **{name: value})
        if cls is LIChat:
            from llama_index.core.base.llms.types import ChatMessage

            model.chat([ChatMessage(role="user", content="hi")])
        else:
            model.invoke("hi")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cls=st.sampled_from([ChatExternal, CompletionExternal, LIChat]),
    at_call=st.booleans(),
    named=_CLASS_NAMED,
)
def test_every_class_parameter_is_on_the_wire_or_raises_naming_it(
    stub: OpenAIStubServer, cls: type, at_call: bool, named: tuple[str, Any]
) -> None:
    name, value = named
    stub.reset()
    try:
        _invoke(cls, stub, at_call, name, value)
    except (UnsupportedParameterError, ConfigurationError) as refused:
        assert _names_it(refused, name), f"{refused} does not name {name!r}"
        return
    sent = stub.requests[-1].json
    assert sent.get(name) == value, f"{cls.__name__}({'call' if at_call else 'init'}): {name}"


def test_completion_requests_too() -> None:
    adapter = _ADAPTERS["anthropic"]
    with pytest.raises(UnsupportedParameterError, match="logit_bias"):
        adapter.completion_request(
            CompletionRequest(prompt="p", extra_params={"logit_bias": {"1": 1}}), stream=False
        )
