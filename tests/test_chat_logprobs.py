"""Chat ``logprobs`` come back in the core types instead of being asked for and dropped: in
OpenAI's chat shape on the answer's choice, and on a stream's chunks one delta at a time, on
the loopback stub (which answers ``logprobs: true`` / ``top_logprobs: k`` as OpenAI does)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations.providers._openai_response import chat_logprobs
from tests.support.openai_server import OpenAIStubServer

HI = [{"role": "user", "content": "Say hi to Ada"}]
ASKED = {"logprobs": True, "top_logprobs": 2}


def test_the_answer_keeps_one_entry_per_token_with_its_alternatives(stub: OpenAIStubServer) -> None:
    with ExternalClient(external_model=stub.external_model()) as client:
        answer = client.chat(messages=HI, extra_params=ASKED)
    [choice] = answer.choices
    assert choice.logprobs is not None
    entries = choice.logprobs["content"]
    assert "".join(e["token"] for e in entries) == choice.content
    assert all(len(e["top_logprobs"]) == 2 for e in entries)
    assert stub.requests[-1].json["top_logprobs"] == 2


def test_without_asking_there_are_none(stub: OpenAIStubServer) -> None:
    with ExternalClient(external_model=stub.external_model()) as client:
        assert client.chat(messages=HI).choices[0].logprobs is None


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_streams_entries_concatenated_are_the_answers(stub: OpenAIStubServer, sync: bool) -> None:
    with ExternalClient(external_model=stub.external_model()) as client:
        whole = client.chat(messages=HI, extra_params=ASKED).choices[0].logprobs
        if sync:
            chunks = list(client.stream_chat(messages=HI, extra_params=ASKED))
        else:

            async def collect() -> list[Any]:
                return [c async for c in client.astream_chat(messages=HI, extra_params=ASKED)]

            chunks = asyncio.run(collect())
    streamed = [
        entry
        for chunk in chunks
        for choice in chunk.choices
        if choice.logprobs
        for entry in choice.logprobs["content"]
    ]
    assert whole is not None and streamed == whole["content"]


def test_a_single_entry_object_becomes_a_list_of_one() -> None:
    # AI21's SDK models logprobs.content as one entry rather than a list.
    entry = {"token": "Hi", "logprob": -0.1, "top_logprobs": []}
    assert chat_logprobs({"content": entry}) == {"content": [entry]}
    assert chat_logprobs({"content": None, "refusal": None}) is None
    assert chat_logprobs(None) is None
