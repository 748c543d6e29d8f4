"""Chat log probabilities through the gateway, for the OpenAI SDK unchanged:
``logprobs=True`` / ``top_logprobs=k`` reach the provider, ``choices[].logprobs`` comes back on
the answer and on each streamed chunk (its delta's entries), through output guardrails (a
masked choice loses them: they spell out what the mask took out) and into inference rows (a
stream's joined). uvicorn on 127.0.0.1 in front of the loopback OpenAI stub."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from extmodels_integrations import CompletionChoice, CompletionChunk
from extmodels_integrations.gateway._governance import assemble
from extmodels_integrations.gateway._shapes import chunk_json
from tests.gateway.test_gateway_clients import TOKEN, _serve
from tests.support.openai_server import OpenAIStubServer

PROMPT = [{"role": "user", "content": "Tell me about the sea"}]
ASK: dict[str, Any] = {"logprobs": True, "top_logprobs": 2}


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", "sk-logprobs-test")


@pytest.fixture
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


def _sdk(host: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0)


def _entries(answer: ChatCompletion) -> list[dict[str, Any]]:
    logprobs = answer.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    return [entry.model_dump() for entry in logprobs.content]


def _streamed_entries(parts: list[ChatCompletionChunk]) -> list[dict[str, Any]]:
    """Each text chunk's one entry (its own token), in stream order."""
    entries = []
    for part in parts:
        if not part.choices or not part.choices[0].delta.content:
            continue
        logprobs = part.choices[0].logprobs
        assert logprobs is not None and logprobs.content is not None
        [entry] = logprobs.content
        assert entry.token == part.choices[0].delta.content
        entries.append(entry.model_dump())
    return entries


def _check_plain(answer: ChatCompletion) -> list[dict[str, Any]]:
    entries = _entries(answer)
    assert "".join(e["token"] for e in entries) == answer.choices[0].message.content
    assert {len(e["top_logprobs"]) for e in entries} == {2}
    assert entries[0]["logprob"] == -0.05
    assert entries[0]["bytes"] == list(entries[0]["token"].encode())
    return entries


def test_sdk_plain_and_streamed(tmp_path: Path, stub: OpenAIStubServer) -> None:
    with _serve(tmp_path, stub.base_url) as (host, _):
        client = _sdk(host)
        plain = client.chat.completions.create(model="chat", messages=PROMPT, **ASK)
        parts = list(
            client.chat.completions.create(model="chat", messages=PROMPT, stream=True, **ASK)
        )
        unasked = client.chat.completions.create(model="chat", messages=PROMPT)
    sent = [r.json for r in stub.requests]
    assert [(s.get("logprobs"), s.get("top_logprobs")) for s in sent] == [
        (True, 2),
        (True, 2),
        (None, None),
    ]
    entries = _check_plain(plain)
    assert _streamed_entries(parts) == entries
    assert unasked.choices[0].logprobs is None


def test_async_sdk_plain_and_streamed(tmp_path: Path, stub: OpenAIStubServer) -> None:
    async def run(host: str) -> tuple[ChatCompletion, list[ChatCompletionChunk]]:
        client = openai.AsyncOpenAI(
            base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0
        )
        async with client:
            plain = await client.chat.completions.create(model="chat", messages=PROMPT, **ASK)
            stream = await client.chat.completions.create(
                model="chat",
                messages=PROMPT,
                stream=True,
                **ASK,
            )
            parts = [part async for part in stream]
        return plain, parts

    with _serve(tmp_path, stub.base_url) as (host, _):
        plain, parts = asyncio.run(run(host))
    assert _streamed_entries(parts) == _check_plain(plain)


def test_output_guardrails_keep_them_unless_the_text_is_masked(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {"guardrails": {"output": {"pii": {"behavior": "MASK"}}}}
    email = [{"role": "user", "content": "write to jane@example.com today"}]
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, _):
        client = _sdk(host)
        clean = client.chat.completions.create(model="chat", messages=PROMPT, **ASK)
        clean_parts = list(
            client.chat.completions.create(model="chat", messages=PROMPT, stream=True, **ASK)
        )
        masked = client.chat.completions.create(model="chat", messages=email, **ASK)
        masked_parts = list(
            client.chat.completions.create(model="chat", messages=email, stream=True, **ASK)
        )
    # Nothing to mask: the buffered stream and the checked answer keep every entry.
    assert _streamed_entries(clean_parts) == _check_plain(clean)
    assert "[EMAIL]" in (masked.choices[0].message.content or "")
    assert masked.choices[0].logprobs is None
    assert all(p.choices[0].logprobs is None for p in masked_parts if p.choices)
    assert "jane@" not in "".join(p.model_dump_json() for p in [masked, *masked_parts])


def test_inference_rows_keep_them_a_stream_joined(tmp_path: Path, stub: OpenAIStubServer) -> None:
    tables = {"inference_table_config": {"enabled": True}}
    # The stub echoes the prompt: a pasted gateway token comes back in the answer's tokens.
    pasted = [{"role": "user", "content": f"my token is {TOKEN} ok"}]
    with _serve(tmp_path, stub.base_url, ai_gateway=tables) as (host, gw):
        client = _sdk(host)
        plain = client.chat.completions.create(model="chat", messages=PROMPT, **ASK)
        list(client.chat.completions.create(model="chat", messages=PROMPT, stream=True, **ASK))
        echoed = client.chat.completions.create(model="chat", messages=pasted, **ASK)
        rows = asyncio.run(gw.store.inference())
    entries = _entries(plain)
    assert [r.request["logprobs"] for r in rows] == [True, True, True]
    responses = [r.response for r in rows]
    assert all(r is not None for r in responses)
    stored = [r["choices"][0]["logprobs"] for r in responses if r is not None]
    # The "token" keys are generated text, not credentials: stored as they came.
    assert [s["content"] for s in stored[:2]] == [entries, entries]
    assert all(s["refusal"] is None for s in stored[:2])
    # The echoed token is redacted from the text, and so the entries that spell it go.
    assert TOKEN in "".join(e["token"] for e in _entries(echoed))
    assert stored[2] is None
    assert TOKEN not in repr(rows[2]) and str(list(TOKEN.encode()))[1:-1] not in repr(rows[2])


def test_completions_chunks_keep_theirs_and_a_row_joins_them() -> None:
    # The stub streams no completions logprobs: the unified chunks the core parses are built here.
    def piece(text: str, offset: int) -> CompletionChunk:
        logprobs = {
            "tokens": [text],
            "token_logprobs": [-0.5],
            "top_logprobs": [{text: -0.5}],
            "text_offset": [offset],
        }
        return CompletionChunk("cmpl-1", "m", [CompletionChoice(0, text, None, logprobs)])

    payloads = [chunk_json(piece("Hi", 0), "comp"), chunk_json(piece(" there", 2), "comp")]
    assert [p["choices"][0]["logprobs"]["tokens"] for p in payloads] == [["Hi"], [" there"]]
    answer = assemble(payloads)
    assert answer is not None
    [choice] = answer["choices"]
    assert choice["text"] == "Hi there"
    assert choice["logprobs"] == {
        "tokens": ["Hi", " there"],
        "token_logprobs": [-0.5, -0.5],
        "top_logprobs": [{"Hi": -0.5}, {" there": -0.5}],
        "text_offset": [0, 2],
    }
