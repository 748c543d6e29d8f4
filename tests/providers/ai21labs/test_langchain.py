"""ChatExternal (Jamba) and CompletionExternal (Jurassic-2) on an ``ai21labs`` external model,
replayed from cassettes in cassettes/providers/ai21labs (see its README for how they were
recorded). Assertions hold for the stub and for the real API alike."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from extmodels_integrations._exceptions import UnsupportedParameterError
from extmodels_integrations.langchain import ChatExternal, CompletionExternal

pytestmark = pytest.mark.vcr

CHAT_MODEL = "jamba-mini"
J2_MODEL = "j2-ultra"


def external_model(api: tuple[str, str], task: str, name: str) -> dict[str, Any]:
    base, key = api
    return {
        "name": name,
        "provider": "ai21labs",
        "task": task,
        "ai21labs_config": {"ai21labs_api_key_plaintext": key, "ai21labs_api_base": base},
    }


@pytest.fixture
def chat(api: tuple[str, str]) -> ChatExternal:
    return ChatExternal(
        external_model=external_model(api, "llm/v1/chat", CHAT_MODEL), max_tokens=60
    )


@pytest.fixture
def j2(api: tuple[str, str]) -> CompletionExternal:
    return CompletionExternal(
        external_model=external_model(api, "llm/v1/completions", J2_MODEL),
        max_tokens=30,
        batch_size=1,
    )


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny and 21C in {city}."


def test_invoke_reports_text_usage_and_finish_reason(chat: ChatExternal) -> None:
    message = chat.invoke(
        [SystemMessage("Answer in one short sentence."), HumanMessage("Say hello to Ada.")]
    )
    assert isinstance(message.content, str) and message.content
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0


async def test_astream_adds_up_to_one_message_with_usage_once(chat: ChatExternal) -> None:
    chunks = [chunk async for chunk in chat.astream("Say hello to Ada.")]
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total.content, str) and total.content


def test_agent_loop_with_a_tool_result(chat: ChatExternal) -> None:
    bound = chat.bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris? Use the get_weather tool.")
    call_message = bound.invoke([question])
    assert isinstance(call_message, AIMessage)
    [call] = call_message.tool_calls
    assert call["name"] == "get_weather" and "paris" in call["args"]["city"].lower()
    result = ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])
    answer = bound.invoke([question, call_message, result])
    assert isinstance(answer.content, str) and answer.content and not answer.tool_calls


def test_forced_tool_choice_is_refused_before_sending(chat: ChatExternal) -> None:
    with pytest.raises(UnsupportedParameterError, match="tool_choice"):
        chat.bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")


def test_j2_invoke_and_generate_with_two_results(j2: CompletionExternal) -> None:
    assert j2.invoke("Write one sentence about the sea.")
    result = j2.generate(["Write one sentence about the sea."], n=2)
    assert len(result.generations[0]) == 2
    assert result.llm_output is not None and result.llm_output["token_usage"]["total_tokens"] > 0


def test_j2_stream_is_one_honest_chunk(j2: CompletionExternal) -> None:
    whole = j2.invoke("Write one sentence about the sea.")
    texts = [text for text in j2.stream("Write one sentence about the sea.") if text]
    assert texts == [whole]
