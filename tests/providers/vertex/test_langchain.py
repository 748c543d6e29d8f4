"""ChatExternal, CompletionExternal and ExternalEmbeddings on a ``google-cloud-vertex-ai``
external model, replayed from cassettes in cassettes/providers/vertex (see its README for how
they were recorded). Assertions hold for the stub and for the real service alike."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field

from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings

pytestmark = pytest.mark.vcr

CHAT_MODEL = "gemini-2.5-flash"
EMBED_MODEL = "text-embedding-005"


def external_model(config: dict[str, Any], task: str, name: str = CHAT_MODEL) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "google-cloud-vertex-ai",
        "task": task,
        "google_cloud_vertex_ai_config": config,
    }


@pytest.fixture
def chat(vertex_config: dict[str, Any]) -> ChatExternal:
    return ChatExternal(external_model=external_model(vertex_config, "llm/v1/chat"))


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny and 21C in {city}."


class Pet(BaseModel):
    """A pet described in the prompt."""

    name: str
    species: str
    age: int | None = Field(default=None, ge=0)


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
    assert call["id"] and call["id"].startswith("call_")
    result = ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])
    answer = chat.bind_tools([get_weather]).invoke([question, call_message, result])
    assert isinstance(answer.content, str) and answer.content and not answer.tool_calls


def test_streamed_tool_call_arrives_whole(chat: ChatExternal) -> None:
    bound = chat.bind_tools([get_weather], tool_choice="get_weather")
    total: Any = None
    for chunk in bound.stream("What is the weather in Rome? Use the get_weather tool."):
        total = chunk if total is None else total + chunk
    [call] = total.tool_calls
    assert call["name"] == "get_weather" and "rome" in call["args"]["city"].lower()
    assert total.response_metadata["finish_reason"] == "tool_calls"


def test_structured_output_through_a_forced_tool_and_a_response_schema(
    chat: ChatExternal,
) -> None:
    prompt = "My cat is called 'Tom'. Describe my pet."
    pet = chat.with_structured_output(Pet).invoke(prompt)
    assert isinstance(pet, Pet) and pet.name
    pet = chat.with_structured_output(Pet, method="json_schema").invoke(prompt)
    assert isinstance(pet, Pet) and pet.name


def test_completion_invoke_and_stream(vertex_config: dict[str, Any]) -> None:
    llm = CompletionExternal(
        external_model=external_model(vertex_config, "llm/v1/completions"), batch_size=1
    )
    assert llm.invoke("Write one sentence about the sea.")
    streamed = list(llm.stream("Write one sentence about the sea."))
    assert len(streamed) > 1 and "".join(streamed)
    assert len(llm.generate(["First prompt.", "Second prompt."]).generations) == 2


def test_embeddings_documents_and_queries(vertex_config: dict[str, Any]) -> None:
    embeddings = ExternalEmbeddings(
        external_model=external_model(vertex_config, "llm/v1/embeddings", EMBED_MODEL)
    )
    texts = [f"Document number {i} is about topic {i % 7}." for i in range(5)]
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 5 and len({len(v) for v in vectors}) == 1
    query = embeddings.embed_query(texts[0])
    assert len(query) == len(vectors[0]) and query != vectors[0]


def test_gemini_embeddings_go_one_text_per_call(vertex_config: dict[str, Any]) -> None:
    embeddings = ExternalEmbeddings(
        external_model=external_model(vertex_config, "llm/v1/embeddings", "gemini-embedding-001")
    )
    vectors = embeddings.embed_documents(["first text", "second text", "third text"])
    assert len(vectors) == 3 and vectors[0] != vectors[1]
