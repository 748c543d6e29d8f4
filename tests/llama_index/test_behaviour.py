"""Behavior the conformance suite cannot see from the outside, checked against a live loopback
stub (``server`` fixture): exact request bodies, call-time precedence, batching to the
target's limit, verbatim texts, async paths that never touch the blocking client, bounded
concurrency, typed errors, and the known-models table."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock

from extmodels_integrations import (
    ChatChunk,
    ChatChunkChoice,
    CompletionChoice,
    CompletionChunk,
    RateLimitError,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._models import UNKNOWN, lookup
from extmodels_integrations.llama_index import ChatExternal, CompletionExternal, ExternalEmbeddings
from extmodels_integrations.llama_index._convert import ChatStream, CompletionStream
from tests.support.openai_server import OpenAIStubServer


def _chat(server: OpenAIStubServer, **params: Any) -> ChatExternal:
    return ChatExternal(endpoint="ep", host=server.base_url, token="t", **params)


def _embeddings(server: OpenAIStubServer, **params: Any) -> ExternalEmbeddings:
    return ExternalEmbeddings(endpoint="emb", host=server.base_url, token="t", **params)


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def test_call_time_arguments_win_and_extras_merge(server: OpenAIStubServer) -> None:
    llm = _chat(server, temperature=0.5, max_tokens=100, stop=["x"], extra_params={"top_p": 0.9})
    llm.chat(_user("hi"), temperature=0.1, stop=["y"], top_k=3)
    body = server.last_json()
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.1, 100, ["y"])
    assert (body["top_p"], body["top_k"]) == (0.9, 3)


def test_additional_kwargs_is_an_alias_of_extra_params(server: OpenAIStubServer) -> None:
    llm = _chat(server, additional_kwargs={"top_p": 0.5})
    llm.complete("hi")
    assert server.last_json()["top_p"] == 0.5


def test_tool_history_is_sent_in_openai_format(server: OpenAIStubServer) -> None:
    call = ToolCallBlock(tool_call_id="call_9", tool_name="multiply", tool_kwargs={"a": 2})
    _chat(server).chat(
        [
            ChatMessage(role=MessageRole.USER, content="2 times?"),
            ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=""), call]),
            ChatMessage(role="tool", content="4", additional_kwargs={"tool_call_id": "call_9"}),
        ]
    )
    assert server.last_json()["messages"] == [
        {"role": "user", "content": "2 times?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "multiply", "arguments": '{"a": 2}'},
                }
            ],
        },
        {"role": "tool", "content": "4", "tool_call_id": "call_9"},
    ]


async def test_async_completion_never_uses_the_blocking_client(
    server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = _chat(server)
    for name in ("chat", "stream_chat"):
        monkeypatch.setattr(llm.client, name, _forbidden)
    assert (await llm.acomplete("hi")).text
    assert [r.delta async for r in await llm.astream_complete("hi")]


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a blocking client call from an async path")


def test_completion_external_sends_the_completions_task(server: OpenAIStubServer) -> None:
    llm = CompletionExternal(endpoint="ep", host=server.base_url, token="t", temperature=0.3)
    reply = llm.chat([ChatMessage(role=MessageRole.USER, content="Say hi")])
    body = server.last_json()
    assert body["prompt"] == "user: Say hi\nassistant: "
    assert body["temperature"] == 0.3
    assert reply.message.content and reply.additional_kwargs["total_tokens"] > 0


def test_errors_are_typed(server: OpenAIStubServer) -> None:
    llm = _chat(server, max_retries=0)
    server.fail_next(429, times=2)
    with pytest.raises(RateLimitError):
        llm.chat(_user("hi"))
    with pytest.raises(RateLimitError):
        list(llm.stream_chat(_user("hi")))


def test_embed_batch_size_is_capped_by_the_target(server: OpenAIStubServer) -> None:
    embed_model = _embeddings(server)
    vectors = embed_model.get_text_embedding_batch([f"t{i}" for i in range(320)])
    assert embed_model.embed_batch_size == 150  # serving endpoints take 150 inputs per call
    assert [len(r.json["input"]) for r in server.requests] == [150, 150, 20]
    assert len(vectors) == 320


def test_texts_are_sent_verbatim_and_queries_are_marked(
    server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    embed_model = _embeddings(server)
    text = "  line one\nline two\t"
    embed_model.get_text_embedding(text)
    assert server.last_json()["input"] == [text]
    kinds: list[str] = []
    original = embed_model.client.embed

    def spy(texts: list[str], **kwargs: Any) -> Any:
        kinds.append(kwargs["input_kind"])
        return original(texts, **kwargs)

    monkeypatch.setattr(embed_model.client, "embed", spy)
    embed_model.get_query_embedding("q")
    embed_model.get_text_embedding("d")
    assert kinds == ["query", "document"]


async def test_async_batches_are_concurrent_bounded_and_ordered(
    server: OpenAIStubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    embed_model = _embeddings(server, embed_batch_size=1, max_concurrency=3)
    original = embed_model.client.aembed
    in_flight = peak = 0

    async def spy(texts: list[str], **kwargs: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        try:
            return await original(texts, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(embed_model.client, "aembed", spy)
    texts = [f"t{i}" for i in range(10)]
    vectors = await embed_model.aget_text_embedding_batch(texts)
    assert peak == 3
    assert vectors == [embed_model.get_text_embedding(t) for t in texts]


def test_show_progress_is_honored(
    server: OpenAIStubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _embeddings(server).get_text_embedding_batch(["a", "b"], show_progress=True)
    assert "Generating embeddings" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "window"),
    [
        ("gpt-4o-mini-2024-07-18", 128_000),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", 200_000),
        ("databricks-claude-sonnet-4", 200_000),
        ("databricks-meta-llama-3-3-70b-instruct", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("my-endpoint", UNKNOWN.context_window),
    ],
)
def test_known_models(name: str, window: int) -> None:
    assert lookup(name).context_window == window


def test_metadata_follows_the_table_and_the_overrides(server: OpenAIStubServer) -> None:
    known = ChatExternal(endpoint="databricks-claude-3-7-sonnet", host=server.base_url, token="t")
    assert (known.metadata.context_window, known.metadata.num_output) == (200_000, 50_000)
    assert _chat(server, max_tokens=512).metadata.num_output == 512
    assert not _chat(server, is_function_calling_model=False).metadata.is_function_calling_model
    assert not lookup("o1-mini").function_calling


_CHUNKS = [
    ChatChunk("c1", "m", [ChatChunkChoice(0, "Hel", role="assistant")], None, "openai"),
    ChatChunk("c1", "m", [ChatChunkChoice(0, None, reasoning="think")], None, "openai"),
    ChatChunk(
        "c1",
        "m",
        [ChatChunkChoice(0, None, [ToolCallDelta(0, "call_1", "get", '{"a"')])],
        None,
        "openai",
    ),
    ChatChunk(None, None, [ChatChunkChoice(1, "x", finish_reason="stop")], None, "anthropic"),
    ChatChunk("c1", "m", [], Usage(3, 4, 7), "openai"),
    ChatChunk("c1", "m", [ChatChunkChoice(0, "a"), ChatChunkChoice(1, "b")], None, "openai"),
]


@pytest.mark.parametrize("chunk", _CHUNKS)
def test_stream_raw_is_the_chunk_as_a_plain_dict(chunk: ChatChunk) -> None:
    # raw is written out field by field for speed; it must stay what asdict would give.
    expected = dataclasses.asdict(chunk)
    state = ChatStream("m")
    state.add(chunk)
    assert state.raw == expected
    completion = CompletionChunk("c1", "m", [CompletionChoice(0, "t", "stop")], None, "openai")
    completions = CompletionStream("m")
    completions.add(completion)
    assert completions.raw == dataclasses.asdict(completion)
