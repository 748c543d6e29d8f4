"""ChatExternal and CompletionExternal on an ``anthropic`` external model, replayed from
cassettes (``cassettes/providers/anthropic``; how they were recorded is in its README).

The assertions hold for the stub's answers and for the real API's, so the same tests replay
either kind of recording.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool

from extmodels_integrations.langchain import ChatExternal, CompletionExternal

pytestmark = pytest.mark.vcr

Model = Callable[[str], dict[str, Any]]


@tool
def get_weather(location: str) -> str:
    """Get the current weather at a location."""
    return f"Sunny and 21C in {location}."


def chat(anthropic_model: Model) -> ChatExternal:
    return ChatExternal(
        external_model=anthropic_model("llm/v1/chat"), max_tokens=64, temperature=0.0
    )


def test_chat_invoke(anthropic_model: Model) -> None:
    reply = chat(anthropic_model).invoke(
        [SystemMessage("Answer in one short sentence."), HumanMessage("Name a primary colour.")]
    )
    assert isinstance(reply, AIMessage) and reply.text.strip()
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["model_name"].startswith("claude-haiku-4-5")
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


async def test_chat_ainvoke(anthropic_model: Model) -> None:
    reply = await chat(anthropic_model).ainvoke("Say hello in French.")
    assert reply.text.strip() and reply.response_metadata["finish_reason"] == "stop"


def test_chat_stream(anthropic_model: Model) -> None:
    chunks = list(chat(anthropic_model).stream("Count from one to five in words."))
    text_chunks = [c for c in chunks if c.text]
    assert len(text_chunks) > 1
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1]
    merged = sum(chunks[1:], chunks[0])
    assert isinstance(merged, AIMessageChunk) and merged.text.strip()
    assert merged.response_metadata["finish_reason"] == "stop"


def test_chat_tool_round_trip(anthropic_model: Model) -> None:
    model = chat(anthropic_model).bind_tools([get_weather], tool_choice="get_weather")
    history: list[Any] = [HumanMessage("What is the weather in Paris?")]
    first = model.invoke(history)
    (call,) = first.tool_calls
    assert call["name"] == "get_weather" and "paris" in call["args"]["location"].lower()
    assert first.response_metadata["finish_reason"] == "tool_calls"
    history += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    final = chat(anthropic_model).bind_tools([get_weather]).invoke(history)
    assert not final.tool_calls and final.text.strip()


def test_chat_stream_tool_call(anthropic_model: Model) -> None:
    model = chat(anthropic_model).bind_tools([get_weather], tool_choice="any")
    chunks = list(model.stream("What is the weather in Rome?"))
    merged = sum(chunks[1:], chunks[0])
    assert isinstance(merged, AIMessageChunk)
    (call,) = merged.tool_calls
    assert call["name"] == "get_weather" and "rome" in call["args"]["location"].lower()
    assert call["id"] and merged.response_metadata["finish_reason"] == "tool_calls"


def test_completion_invoke_and_generate(anthropic_model: Model) -> None:
    # batch_size=1: the Messages API answers one prompt per request.
    llm = CompletionExternal(
        external_model=anthropic_model("llm/v1/completions"), max_tokens=32, batch_size=1
    )
    assert llm.invoke("Write the word 'hello'.").strip()
    result = llm.generate(["Name a fruit.", "Name a vegetable."])
    assert [len(g) for g in result.generations] == [1, 1]
    assert all(g[0].text.strip() for g in result.generations)


def test_completion_stream(anthropic_model: Model) -> None:
    llm = CompletionExternal(external_model=anthropic_model("llm/v1/completions"), max_tokens=32)
    pieces = list(llm.stream("Count from one to five in words."))
    assert len([p for p in pieces if p]) > 1 and "".join(pieces).strip()
