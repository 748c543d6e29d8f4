"""Chat log probabilities in LangChain as langchain-openai's ``ChatOpenAI`` gives them:
``logprobs=True`` / ``top_logprobs=k`` (constructor, ``bind`` or call kwargs) reach the wire,
the answer's ``generation_info["logprobs"]`` (and so ``AIMessage.response_metadata``) is
OpenAI's object, and each streamed chunk carries its delta's entries, which the chunk merge
joins into the whole list. Against the loopback OpenAI stub, which answers with one entry per
piece of its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from extmodels_integrations.langchain import ChatExternal
from tests.support.openai_server import OpenAIStubServer

QUESTION = "Tell me about the sea"


def _chat(stub: OpenAIStubServer, **params: Any) -> ChatExternal:
    return ChatExternal(external_model=stub.external_model(), **params)


def _tokens(logprobs: dict[str, Any]) -> str:
    return "".join(entry["token"] for entry in logprobs["content"])


def _merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def test_constructor_logprobs_reach_the_wire_and_response_metadata(stub: OpenAIStubServer) -> None:
    answer = _chat(stub, logprobs=True, top_logprobs=2).invoke(QUESTION)
    sent = stub.requests[-1].json
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)
    assert isinstance(answer, AIMessage)
    logprobs = answer.response_metadata["logprobs"]
    assert _tokens(logprobs) == answer.content
    assert {len(entry["top_logprobs"]) for entry in logprobs["content"]} == {2}
    first = logprobs["content"][0]
    assert first["logprob"] == -0.05 and first["bytes"] == list(first["token"].encode())
    assert logprobs["refusal"] is None


def test_generation_info_holds_the_openai_object(stub: OpenAIStubServer) -> None:
    result = _chat(stub).generate([[HumanMessage(QUESTION)]], logprobs=True, top_logprobs=1)
    [[generation]] = result.generations
    assert generation.generation_info is not None
    logprobs = generation.generation_info["logprobs"]
    assert _tokens(logprobs) == generation.text
    assert generation.generation_info["finish_reason"] == "stop"


def test_bind_and_call_kwargs_ask_for_them(stub: OpenAIStubServer) -> None:
    bound = _chat(stub).bind(logprobs=True, top_logprobs=3).invoke(QUESTION)
    assert stub.requests[-1].json["top_logprobs"] == 3
    assert {len(e["top_logprobs"]) for e in bound.response_metadata["logprobs"]["content"]} == {3}
    called = _chat(stub).invoke(QUESTION, logprobs=True)
    assert "top_logprobs" not in stub.requests[-1].json
    assert _tokens(called.response_metadata["logprobs"]) == called.content


def test_without_logprobs_there_are_none(stub: OpenAIStubServer) -> None:
    answer = _chat(stub).invoke(QUESTION)
    assert "logprobs" not in stub.requests[-1].json
    assert "logprobs" not in answer.response_metadata
    chunks = list(_chat(stub).stream(QUESTION))
    assert "logprobs" not in _merged(chunks).response_metadata


def test_each_streamed_chunk_has_its_own_entries_and_the_merge_has_them_all(
    stub: OpenAIStubServer,
) -> None:
    chat = _chat(stub, logprobs=True, top_logprobs=2)
    whole = chat.invoke(QUESTION).response_metadata["logprobs"]
    chunks = list(chat.stream(QUESTION))
    assert stub.requests[-1].json["stream"] is True
    texts = [c for c in chunks if c.content]
    assert len(texts) == len(whole["content"]) > 1
    for chunk in texts:
        [entry] = chunk.response_metadata["logprobs"]["content"]
        assert entry["token"] == chunk.content
    merged = _merged(chunks)
    assert merged.response_metadata["logprobs"]["content"] == whole["content"]


def test_streaming_invoke_gives_the_joined_list(stub: OpenAIStubServer) -> None:
    chat = _chat(stub, logprobs=True, top_logprobs=1)
    plain = chat.invoke(QUESTION).response_metadata["logprobs"]["content"]
    streamed = _chat(stub, logprobs=True, top_logprobs=1, streaming=True).invoke(QUESTION)
    assert stub.requests[-1].json["stream"] is True
    assert streamed.response_metadata["logprobs"]["content"] == plain


def test_async_invoke_and_stream(stub: OpenAIStubServer) -> None:
    chat = _chat(stub, logprobs=True, top_logprobs=2)

    async def run() -> tuple[AIMessage, list[AIMessageChunk]]:
        answer = await chat.ainvoke(QUESTION)
        chunks = [chunk async for chunk in chat.astream(QUESTION)]
        return answer, chunks

    answer, chunks = asyncio.run(run())
    whole = answer.response_metadata["logprobs"]
    assert _tokens(whole) == answer.content
    assert _merged(chunks).response_metadata["logprobs"]["content"] == whole["content"]
