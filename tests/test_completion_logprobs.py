"""Completions ``logprobs`` come back, instead of being asked for and dropped (issue 19): in
the core types, LangChain's ``generation_info["logprobs"]`` and LlamaIndex's
``CompletionResponse.logprobs``; on the loopback stub, which answers ``logprobs: k`` with the
legacy completions object."""

from __future__ import annotations

from typing import Any

from extmodels_integrations import ExternalClient
from extmodels_integrations.langchain import CompletionExternal
from extmodels_integrations.llama_index import CompletionExternal as LICompletion
from tests.support.openai_server import OpenAIStubServer


def _model(stub: OpenAIStubServer) -> dict[str, Any]:
    return stub.external_model("gpt-3.5-turbo-instruct", "llm/v1/completions")


def test_the_core_keeps_the_logprobs_object(stub: OpenAIStubServer) -> None:
    with ExternalClient(external_model=_model(stub)) as client:
        answer = client.complete(prompt="Say hi", extra_params={"logprobs": 2})
    [choice] = answer.choices
    assert choice.logprobs is not None
    assert "".join(choice.logprobs["tokens"]) == choice.text
    assert all(len(top) == 2 for top in choice.logprobs["top_logprobs"])


def test_without_logprobs_there_are_none(stub: OpenAIStubServer) -> None:
    with ExternalClient(external_model=_model(stub)) as client:
        assert client.complete(prompt="Say hi").choices[0].logprobs is None


def test_langchain_puts_them_in_generation_info(stub: OpenAIStubServer) -> None:
    llm = CompletionExternal(external_model=_model(stub), logprobs=1)
    [[generation]] = llm.generate(["Say hi"]).generations
    logprobs = generation.generation_info["logprobs"]  # type: ignore[index]
    assert "".join(logprobs["tokens"]) == generation.text
    assert stub.requests[-1].json["logprobs"] == 1


def test_llama_index_gives_one_candidate_list_per_token(stub: OpenAIStubServer) -> None:
    llm = LICompletion(external_model=_model(stub), logprobs=3)
    response = llm.complete("Say hi")
    assert response.logprobs is not None
    assert "".join(candidates[0].token for candidates in response.logprobs) == response.text
    assert {len(candidates) for candidates in response.logprobs} == {3}
    assert response.logprobs[0][0].logprob == -0.05
