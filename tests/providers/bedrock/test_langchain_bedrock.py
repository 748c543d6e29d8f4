"""ChatExternal, CompletionExternal and ExternalEmbeddings on ``amazon-bedrock`` targets
(Claude, Command R, Titan text, Titan and Cohere embeddings), replayed from cassettes in
cassettes/providers/bedrock (see its README for how they were recorded and how to re-record
against real Bedrock). Assertions hold for the stub and for the real service alike."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings

pytestmark = pytest.mark.vcr

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
COMMAND_R = "cohere.command-r-v1:0"
TITAN_TEXT = "amazon.titan-text-express-v1"
TITAN_EMBED = "amazon.titan-embed-text-v2:0"
COHERE_EMBED = "cohere.embed-english-v3"


def target(config: dict[str, Any], name: str, task: str, sub: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "amazon-bedrock",
        "task": task,
        "amazon_bedrock_config": {**config, "bedrock_provider": sub},
    }


@pytest.fixture
def claude(bedrock_config: dict[str, Any]) -> ChatExternal:
    return ChatExternal(
        external_model=target(bedrock_config, CLAUDE, "llm/v1/chat", "anthropic"), max_tokens=60
    )


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny and 21C in {city}."


def test_claude_invoke_reports_text_usage_and_finish_reason(claude: ChatExternal) -> None:
    message = claude.invoke(
        [SystemMessage("Answer in one short sentence."), HumanMessage("Say hello to Ada.")]
    )
    assert isinstance(message.content, str) and message.content
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["model_name"] == CLAUDE
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0


def test_claude_stream_decodes_the_event_stream(claude: ChatExternal) -> None:
    chunks = list(claude.stream("Name three colours, comma separated."))
    text = "".join(str(c.content) for c in chunks)
    assert text.count(",") >= 1 or len(text.split()) >= 3
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert len(usage) == 1 and usage[0]["input_tokens"] > 0


def test_command_r_calls_a_tool(bedrock_config: dict[str, Any]) -> None:
    chat = ChatExternal(external_model=target(bedrock_config, COMMAND_R, "llm/v1/chat", "cohere"))
    message = chat.bind_tools([get_weather]).invoke(
        "Use the get_weather tool to tell me the weather in Paris."
    )
    assert isinstance(message, AIMessage)
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and "paris" in str(call["args"]).lower()
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_titan_completion_invoke_and_stream(bedrock_config: dict[str, Any]) -> None:
    llm = CompletionExternal(
        external_model=target(bedrock_config, TITAN_TEXT, "llm/v1/completions", "amazon"),
        max_tokens=40,
        batch_size=1,
    )
    text = llm.invoke("Write one sentence about rivers.")
    assert isinstance(text, str) and text.strip()
    streamed = "".join(llm.stream("Write one sentence about rivers."))
    assert streamed.strip()


@pytest.mark.parametrize(("model", "sub"), [(TITAN_EMBED, "amazon"), (COHERE_EMBED, "cohere")])
def test_embeddings_keep_order_and_dimensions(
    bedrock_config: dict[str, Any], model: str, sub: str
) -> None:
    embeddings = ExternalEmbeddings(
        external_model=target(bedrock_config, model, "llm/v1/embeddings", sub)
    )
    texts = ["The cat sat on the mat.", "Stock markets fell today.", "A kitten on a rug."]
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1
    assert vectors[0] != vectors[1] != vectors[2]
    query = embeddings.embed_query("Where did the cat sit?")
    assert len(query) == len(vectors[0])
