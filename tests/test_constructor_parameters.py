"""Every keyword a constructor is given reaches the wire or raises (issue 19): a request
parameter of the unified schema that is not a field is sent with every request, as if given in
``extra_params``; any other unknown keyword (a typo) is a ConfigurationError naming it."""

from __future__ import annotations

import keyword
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extmodels_integrations import ConfigurationError
from extmodels_integrations._parameters import WIRE_PARAMETERS, field_names
from extmodels_integrations._types import CHAT, EMBEDDINGS
from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings
from extmodels_integrations.llama_index import ChatExternal as LIChat
from extmodels_integrations.llama_index import CompletionExternal as LICompletion
from extmodels_integrations.llama_index import ExternalEmbeddings as LIEmbeddings
from tests.support.openai_server import OpenAIStubServer

CLASSES = [ChatExternal, CompletionExternal, ExternalEmbeddings, LIChat, LICompletion, LIEmbeddings]


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


def _target(stub: OpenAIStubServer) -> dict[str, Any]:
    return {"endpoint": "ep", "host": stub.base_url, "token": "dapi-test"}


def _call(model: Any) -> None:
    task = model._task
    if task == EMBEDDINGS:
        embed = getattr(model, "embed_query", None) or model.get_query_embedding
        embed("hi")
    elif hasattr(model, "invoke"):  # the LangChain classes
        model.invoke("hi")
    elif task == CHAT:
        from llama_index.core.base.llms.types import ChatMessage

        model.chat([ChatMessage(role="user", content="hi")])
    else:
        model.complete("hi")


def test_the_issue_example_sends_every_parameter(stub: OpenAIStubServer) -> None:
    stub.reset()
    ChatExternal(**_target(stub), temperature=0.1, top_p=0.5).invoke("hi", top_k=3)
    body = stub.requests[-1].json
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.1, 0.5, 3)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__.split('.')[1]}.{c.__name__}")
def test_each_wire_parameter_reaches_the_wire(cls: type, stub: OpenAIStubServer) -> None:
    for name in sorted(WIRE_PARAMETERS[cls._task]):  # type: ignore[attr-defined]
        stub.reset()
        value = {"logit_bias": {"50256": -100}, "response_format": {"type": "text"}}.get(name, 1)
        _call(cls(**_target(stub), **{name: value}))
        assert stub.requests[-1].json[name] == value, name


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__.split('.')[1]}.{c.__name__}")
def test_a_typo_names_the_keyword_and_the_field_it_resembles(cls: type) -> None:
    embeddings = cls._task == EMBEDDINGS  # type: ignore[attr-defined]
    typo, meant = ("dimensons", "dimensions") if embeddings else ("temprature", "temperature")
    with pytest.raises(ConfigurationError, match=rf"'{typo}' \(did you mean '{meant}'") as e:
        cls(endpoint="ep", host="https://h.example", token="t", **{typo: 1})
    assert "extra_params" in str(e.value)


def test_a_parameter_given_twice_with_two_values_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="top_p is given twice"):
        ChatExternal(
            endpoint="ep", host="https://h", token="t", top_p=0.5, extra_params={"top_p": 1}
        )
    same = ChatExternal(
        endpoint="ep", host="https://h", token="t", top_p=1, extra_params={"top_p": 1}
    )
    assert same.extra_params == {"top_p": 1}


def test_llama_index_keeps_its_additional_kwargs_name() -> None:
    llm = LIChat(endpoint="ep", host="https://h", token="t", seed=7, additional_kwargs={"a": 1})
    assert llm.extra_params == {"a": 1, "seed": 7}


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)


@settings(max_examples=150, deadline=None)
@given(cls=st.sampled_from(CLASSES), name=_NAMES, value=st.integers(-5, 5))
def test_any_keyword_is_a_field_on_the_wire_or_an_error(cls: type, name: str, value: int) -> None:
    if name in field_names(cls.model_fields):  # type: ignore[attr-defined]
        return
    target = {"endpoint": "ep", "host": "https://h.example", "token": "t"}
    if name in WIRE_PARAMETERS[cls._task]:  # type: ignore[attr-defined]
        assert cls(**target, **{name: value}).extra_params[name] == value
        return
    with pytest.raises(ConfigurationError, match=repr(name)):
        cls(**target, **{name: value})
