"""ChatExternal (LlamaIndex) on Vertex AI (issue 19): ``DocumentBlock`` s reach Gemini as
``inlineData`` / ``fileData``, and Gemini 3 thought signatures survive the ChatMessage (in the
OpenAI-style ``additional_kwargs["tool_calls"]`` dicts, as ``extra_content``: a
``ToolCallBlock`` has no room for them) to come back on the next turn in their call's part.
The loopback endpoint refuses a signed call sent back unsigned, as Gemini 3 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.tools import FunctionTool

from extmodels_integrations import BadRequestError, UnsupportedParameterError
from extmodels_integrations.llama_index import ChatExternal
from tests.support.gemini_loop import ANSWER, SIGNATURE, GeminiLoop, external_model

PDF = b"%PDF-1.4\n"
QUESTION = "Weather in Paris and Rome?"


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}."


WEATHER = FunctionTool.from_defaults(get_weather)


@pytest.fixture(scope="module")
def loop() -> Iterator[GeminiLoop]:
    with GeminiLoop() as server:
        yield server


@pytest.fixture
def llm(loop: GeminiLoop) -> ChatExternal:
    loop.bodies.clear()
    return ChatExternal(external_model=external_model(loop), max_retries=0)


async def _answer(llm: ChatExternal, streamed: bool, sync: bool, **call: Any) -> ChatResponse:
    # These tests want both of the answer's calls (by default LlamaIndex keeps the first).
    call["allow_parallel_tool_calls"] = True
    if not streamed:
        return llm.chat_with_tools(**call) if sync else await llm.achat_with_tools(**call)
    if sync:
        return list(llm.stream_chat_with_tools(**call))[-1]
    return [r async for r in await llm.astream_chat_with_tools(**call)][-1]


def _results(llm: ChatExternal, response: ChatResponse) -> list[ChatMessage]:
    return [
        ChatMessage(
            role=MessageRole.TOOL,
            content=get_weather(**call.tool_kwargs),
            additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
        )
        for call in llm.get_tool_calls_from_response(response)
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_the_first_parallel_call_keeps_its_signature_into_the_next_turn(
    llm: ChatExternal, loop: GeminiLoop, streamed: bool, sync: bool
) -> None:
    first = await _answer(llm, streamed, sync, tools=[WEATHER], user_msg=QUESTION)
    kept = [c.get("extra_content") for c in first.message.additional_kwargs["tool_calls"]]
    assert kept == [{"google": {"thought_signature": SIGNATURE}}, None]
    history = [ChatMessage(role="user", content=QUESTION), first.message, *_results(llm, first)]
    second = await _answer(llm, streamed, sync, tools=[WEATHER], chat_history=history)
    assert second.message.content == ANSWER
    sent_first, sent_second = loop.call_parts(1)
    assert sent_first["thoughtSignature"] == SIGNATURE
    assert "thoughtSignature" not in sent_second  # the unsigned call is sent unsigned


def test_a_history_without_the_signature_is_refused_as_gemini_3_does(llm: ChatExternal) -> None:
    first = llm.chat_with_tools(tools=[WEATHER], user_msg=QUESTION, allow_parallel_tool_calls=True)
    stripped = ChatMessage(role=MessageRole.ASSISTANT, blocks=first.message.blocks)
    history = [ChatMessage(role="user", content=QUESTION), stripped, *_results(llm, first)]
    with pytest.raises(BadRequestError, match="missing a thought_signature"):
        llm.chat_with_tools(tools=[WEATHER], chat_history=history, allow_parallel_tool_calls=True)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_tools_with_llamaindex_defaults_run_on_gemini_keeping_the_first_call(
    llm: ChatExternal, loop: GeminiLoop, sync: bool
) -> None:
    # allow_parallel_tool_calls defaults to False (structured_predict, predict_and_call):
    # Gemini has no switch for it, so LlamaIndex's own trimming applies it.
    call: dict[str, Any] = {"tools": [WEATHER], "user_msg": QUESTION}
    first = llm.chat_with_tools(**call) if sync else await llm.achat_with_tools(**call)
    [selection] = llm.get_tool_calls_from_response(first)
    assert selection.tool_kwargs == {"city": "Paris"}
    assert "parallel" not in str(loop.bodies[-1]).lower()
    output = llm.predict_and_call([WEATHER], user_msg=QUESTION)
    assert output.response == "Sunny in Paris."


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_a_streamed_answer_keeps_only_its_first_call_with_llamaindex_defaults(
    llm: ChatExternal, sync: bool
) -> None:
    # LlamaIndex trims only whole answers; ours trims every streamed response as well, so an
    # agent reading the stream never acts on a call it did not allow.
    call: dict[str, Any] = {"tools": [WEATHER], "user_msg": QUESTION}
    if sync:
        responses = list(llm.stream_chat_with_tools(**call))
    else:
        responses = [r async for r in await llm.astream_chat_with_tools(**call)]
    assert all(len(llm.get_tool_calls_from_response(r, False)) <= 1 for r in responses)
    [selection] = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {"city": "Paris"}
    assert len(responses[-1].message.additional_kwargs["tool_calls"]) == 1
    both = await _answer(llm, streamed=True, sync=sync, **call)
    assert len(llm.get_tool_calls_from_response(both)) == 2


def test_parallel_tool_calls_false_given_by_hand_is_still_refused(llm: ChatExternal) -> None:
    with pytest.raises(UnsupportedParameterError, match="parallel_tool_calls"):
        llm.chat(
            [ChatMessage(role="user", content=QUESTION)],
            tools=[WEATHER.metadata.to_openai_tool()],
            parallel_tool_calls=False,
        )


def _document_parts(loop: GeminiLoop) -> list[dict[str, Any]]:
    return [p for p in loop.bodies[-1]["contents"][0]["parts"] if "text" not in p]


@pytest.mark.parametrize(
    ("block", "part"),
    [
        (
            DocumentBlock(data=PDF, document_mimetype="application/pdf"),
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQK"}},
        ),
        (
            DocumentBlock(url="gs://bucket/report.pdf", title="report.pdf"),
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}},
        ),
    ],
    ids=["bytes", "gs-url"],
)
async def test_document_blocks_reach_gemini(
    llm: ChatExternal, loop: GeminiLoop, block: DocumentBlock, part: dict[str, Any]
) -> None:
    message = ChatMessage(role="user", blocks=[TextBlock(text="Sum it up."), block])
    llm.chat([message])
    assert _document_parts(loop) == [part]
    [r async for r in await llm.astream_chat([message])]
    assert _document_parts(loop) == [part]
