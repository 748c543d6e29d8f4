"""ChatExternal, CompletionExternal and ExternalEmbeddings on a ``cohere`` external model,
replayed from cassettes in cassettes/providers/cohere (see its README for how they were
recorded). Assertions hold for the stub and for the real API alike."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings

pytestmark = pytest.mark.vcr

CHAT_MODEL = "command-r7b-12-2024"
EMBED_MODEL = "embed-english-v3.0"


def external_model(api: tuple[str, str], task: str, name: str = CHAT_MODEL) -> dict[str, Any]:
    base, key = api
    return {
        "name": name,
        "provider": "cohere",
        "task": task,
        "cohere_config": {"cohere_api_key_plaintext": key, "cohere_api_base": base},
    }


@pytest.fixture
def chat(api: tuple[str, str]) -> ChatExternal:
    return ChatExternal(external_model=external_model(api, "llm/v1/chat"), max_tokens=60)


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny and 21C in {city}."


class Pet(BaseModel):
    """A pet described in the prompt."""

    name: str
    species: str


def test_invoke_reports_text_usage_and_finish_reason(chat: ChatExternal) -> None:
    message = chat.invoke(
        [SystemMessage("Answer in one short sentence."), HumanMessage("Say hello to Ada.")]
    )
    assert isinstance(message.content, str) and message.content
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] > 0


async def test_astream_adds_up_to_one_message_with_usage_once(chat: ChatExternal) -> None:
    chunks = [chunk async for chunk in chat.astream("Say hello to Ada.")]
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total.content, str) and total.content
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 0


def test_agent_loop_with_a_tool_result(chat: ChatExternal) -> None:
    bound = chat.bind_tools([get_weather], tool_choice="any")
    question = HumanMessage("What is the weather in Paris? Use the get_weather tool.")
    call_message = bound.invoke([question])
    assert isinstance(call_message, AIMessage)
    [call] = call_message.tool_calls
    assert call["name"] == "get_weather" and "paris" in call["args"]["city"].lower()
    result = ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])
    answer = chat.bind_tools([get_weather]).invoke([question, call_message, result])
    assert isinstance(answer.content, str) and answer.content and not answer.tool_calls


def test_streamed_tool_call_arrives_whole(chat: ChatExternal) -> None:
    bound = chat.bind_tools([get_weather], tool_choice="any")
    total: Any = None
    for chunk in bound.stream("What is the weather in Rome? Use the get_weather tool."):
        total = chunk if total is None else total + chunk
    [call] = total.tool_calls
    assert call["name"] == "get_weather" and "rome" in call["args"]["city"].lower()


def test_structured_output_forces_the_only_tool(chat: ChatExternal) -> None:
    pet = chat.with_structured_output(Pet).invoke("My cat is called 'Tom'. Describe my pet.")
    assert isinstance(pet, Pet) and pet.name


def test_completion_invoke_and_stream(api: tuple[str, str]) -> None:
    llm = CompletionExternal(
        external_model=external_model(api, "llm/v1/completions"), max_tokens=30, batch_size=1
    )
    text = llm.invoke("Write one sentence about the sea.")
    assert text
    streamed = list(llm.stream("Write one sentence about the sea."))
    assert len(streamed) > 1 and "".join(streamed)
    assert len(llm.generate(["First prompt.", "Second prompt."]).generations) == 2


def test_embeddings_queries_and_documents_in_batches_of_96(api: tuple[str, str]) -> None:
    embeddings = ExternalEmbeddings(
        external_model=external_model(api, "llm/v1/embeddings", EMBED_MODEL)
    )
    texts = [f"Document number {i} is about topic {i % 7}." for i in range(100)]
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 100 and len({len(v) for v in vectors}) == 1
    query = embeddings.embed_query(texts[0])
    assert len(query) == len(vectors[0]) and query != vectors[0]
