"""Chat log probabilities in LlamaIndex as llama-index-llms-openai gives them: ``logprobs=True``
/ ``top_logprobs=k`` (constructor or call kwargs) reach the wire, ``ChatResponse.logprobs`` is
``List[List[LogProb]]`` (per token, its candidates), and a streamed response's ``raw`` holds its
delta's OpenAI object; the stream's last response carries the whole answer's, as ``chat`` does.
Against the loopback OpenAI stub, which answers with one entry per piece of its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, LogProb, MessageRole

from extmodels_integrations.llama_index import ChatExternal
from tests.support.openai_server import OpenAIStubServer, pieces


def _llm(stub: OpenAIStubServer, **params: Any) -> ChatExternal:
    return ChatExternal(external_model=stub.external_model(), **params)


def _user(text: str = "Tell me about the sea") -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def _sampled(logprobs: list[list[LogProb]]) -> str:
    # The stub makes each token its own first alternative.
    return "".join(candidates[0].token for candidates in logprobs)


def test_constructor_logprobs_give_one_candidate_list_per_token(stub: OpenAIStubServer) -> None:
    response = _llm(stub, logprobs=True, top_logprobs=2).chat(_user())
    sent = stub.requests[-1].json
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)
    text = response.message.content or ""
    assert response.logprobs is not None
    assert len(response.logprobs) == len(pieces(text))
    assert _sampled(response.logprobs) == text
    assert {len(candidates) for candidates in response.logprobs} == {2}
    first, second = response.logprobs[0]
    assert (first.logprob, second.logprob) == (-0.05, -2.05)
    assert first.bytes == list(first.token.encode())
    assert response.raw is not None
    assert response.raw["choices"][0]["logprobs"]["content"][0]["token"] == first.token


def test_call_kwargs_without_alternatives_keep_the_sampled_token(stub: OpenAIStubServer) -> None:
    response = _llm(stub).chat(_user(), logprobs=True)
    assert "top_logprobs" not in stub.requests[-1].json
    assert response.logprobs is not None
    assert {len(candidates) for candidates in response.logprobs} == {1}
    assert _sampled(response.logprobs) == response.message.content


def test_without_logprobs_there_are_none(stub: OpenAIStubServer) -> None:
    llm = _llm(stub)
    assert llm.chat(_user()).logprobs is None
    assert all(r.logprobs is None for r in llm.stream_chat(_user()))


def _check_stream(responses: list[ChatResponse], plain: ChatResponse) -> None:
    *pieces_, last = responses
    assert last.delta == "" and last.logprobs == plain.logprobs
    texts = [r for r in pieces_ if r.delta]
    assert len(texts) == len(plain.logprobs or []) > 1
    for response in texts:
        assert response.logprobs is None  # as llama-index-llms-openai: the delta's are in raw
        assert response.raw is not None
        [entry] = response.raw["choices"][0]["logprobs"]["content"]
        assert entry["token"] == response.delta
        assert len(entry["top_logprobs"]) == 2


def test_stream_has_each_delta_in_raw_and_the_whole_list_last(stub: OpenAIStubServer) -> None:
    llm = _llm(stub, logprobs=True, top_logprobs=2)
    plain = llm.chat(_user())
    responses = list(llm.stream_chat(_user()))
    assert stub.requests[-1].json["stream"] is True
    _check_stream(responses, plain)


def test_async_chat_and_stream(stub: OpenAIStubServer) -> None:
    llm = _llm(stub, logprobs=True, top_logprobs=2)

    async def run() -> tuple[ChatResponse, list[ChatResponse]]:
        plain = await llm.achat(_user())
        responses = [r async for r in await llm.astream_chat(_user())]
        return plain, responses

    plain, responses = asyncio.run(run())
    assert plain.logprobs is not None and _sampled(plain.logprobs) == plain.message.content
    _check_stream(responses, plain)
