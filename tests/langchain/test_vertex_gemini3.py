"""ChatExternal on Vertex AI (issue 19): documents in LangChain's standard ``file`` blocks reach
Gemini as ``inlineData`` / ``fileData``, and Gemini 3 thought signatures survive the
AIMessage (``additional_kwargs``, by call id, as langchain-google-genai keeps them) to come
back on the next turn in their call's part. The loopback endpoint refuses a signed call sent
back unsigned, as Gemini 3 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from extmodels_integrations import BadRequestError
from extmodels_integrations.langchain import ChatExternal
from extmodels_integrations.langchain._convert import SIGNATURES
from tests.support.gemini_loop import ANSWER, SIGNATURE, GeminiLoop, external_model

PDF = "JVBERi0xLjQK"
QUESTION = HumanMessage("Weather in Paris and Rome?")


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}."


@pytest.fixture(scope="module")
def loop() -> Iterator[GeminiLoop]:
    with GeminiLoop() as server:
        yield server


@pytest.fixture
def chat(loop: GeminiLoop) -> ChatExternal:
    loop.bodies.clear()
    return ChatExternal(external_model=external_model(loop), max_retries=0)


async def _answer(model: Any, messages: list[Any], streamed: bool, sync: bool) -> AIMessage:
    if not streamed:
        return model.invoke(messages) if sync else await model.ainvoke(messages)  # type: ignore[no-any-return]
    total: AIMessageChunk | None = None
    if sync:
        for chunk in model.stream(messages):
            total = chunk if total is None else total + chunk
    else:
        async for chunk in model.astream(messages):
            total = chunk if total is None else total + chunk
    assert total is not None
    return total


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_the_first_parallel_call_keeps_its_signature_into_the_next_turn(
    chat: ChatExternal, loop: GeminiLoop, streamed: bool, sync: bool
) -> None:
    bound = chat.bind_tools([get_weather])
    called = await _answer(bound, [QUESTION], streamed, sync)
    first, second = called.tool_calls
    assert called.additional_kwargs[SIGNATURES] == {first["id"]: SIGNATURE}
    results = [ToolMessage(get_weather(**c["args"]), tool_call_id=c["id"]) for c in (first, second)]
    answer = await _answer(bound, [QUESTION, called, *results], streamed, sync)
    assert answer.content == ANSWER
    sent_first, sent_second = loop.call_parts(1)
    assert sent_first["thoughtSignature"] == SIGNATURE
    assert "thoughtSignature" not in sent_second  # the unsigned call is sent unsigned


def test_a_history_without_the_signature_is_refused_as_gemini_3_does(chat: ChatExternal) -> None:
    bound = chat.bind_tools([get_weather])
    called = bound.invoke([QUESTION])
    assert isinstance(called, AIMessage)
    stripped = AIMessage(content=called.content, tool_calls=called.tool_calls)
    results = [ToolMessage("sunny", tool_call_id=c["id"]) for c in called.tool_calls]
    with pytest.raises(BadRequestError, match="missing a thought_signature"):
        bound.invoke([QUESTION, stripped, *results])


def _document_parts(loop: GeminiLoop) -> list[dict[str, Any]]:
    return [p for p in loop.bodies[-1]["contents"][0]["parts"] if "text" not in p]


@pytest.mark.parametrize(
    ("block", "part"),
    [
        (
            {"type": "file", "base64": PDF, "mime_type": "application/pdf", "filename": "a.pdf"},
            {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        ),
        (
            {"type": "file", "url": "gs://bucket/report.pdf", "mime_type": "application/pdf"},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}},
        ),
    ],
    ids=["base64", "gs-url"],
)
async def test_pdf_blocks_reach_gemini(
    chat: ChatExternal, loop: GeminiLoop, block: dict[str, Any], part: dict[str, Any]
) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "Sum it up."}, block])
    chat.invoke([message])
    assert _document_parts(loop) == [part]
    [chunk async for chunk in chat.astream([message])]
    assert _document_parts(loop) == [part]
