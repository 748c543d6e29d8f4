"""A RAG pipeline end to end on our classes, replayed from cassettes: an index built with
``ExternalEmbeddings``, a streaming query engine, a chat engine over the same index and a
``FunctionAgent`` calling tools (one of them the query engine), all with ``ChatExternal``.

The stub model is scripted (``_script_reply`` in ``tests/support/openai_server.py``): it echoes
the first words of the last user turn, calls a tool the user names, and reports a tool result
as "The result is ...". The assertions are on what reaches the user: the streamed answer
carries the words of the retrieved chunk that reached the model, the sources are the index's
nodes, and the agent's answer carries the tool's result.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.tools import FunctionTool, QueryEngineTool

from extmodels_integrations.llama_index import ChatExternal, ExternalEmbeddings
from tests.conftest import OPENAI_BASE

pytestmark = pytest.mark.vcr

CORPUS = [
    "Refunds are accepted within 30 days of purchase when the receipt is shown.",
    "Support is open on weekdays from 9 to 17 Central European Time.",
    "Shipping to Norway takes five working days with the standard carrier.",
]


def _model(task: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_key_plaintext": "test-key",
            "openai_api_base": f"{OPENAI_BASE}/v1",
        },
    }


def _stub_echo(prompt: str) -> str:
    """What the stub answers to a user turn: its first eight words, echoed."""
    return f"Stub reply to: {' '.join(prompt.split()[:8])}. Let me know how I can help you further."


@pytest.fixture
def llm() -> ChatExternal:
    return ChatExternal(external_model=_model("llm/v1/chat", "gpt-4o-mini"), temperature=0)


@pytest.fixture
def index() -> VectorStoreIndex:
    embed_model = ExternalEmbeddings(
        external_model=_model("llm/v1/embeddings", "text-embedding-3-small")
    )
    return VectorStoreIndex.from_documents(
        [Document(text=text) for text in CORPUS], embed_model=embed_model
    )


def test_streaming_query_engine(index: VectorStoreIndex, llm: ChatExternal) -> None:
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query("How long do I have to return an item?")
    assert isinstance(response, StreamingResponse)
    answer = "".join(response.response_gen)
    sources = [node.node.get_content() for node in response.source_nodes]
    assert len(sources) == 2 and set(sources) <= set(CORPUS)
    # The QA prompt opens "Context information is below.\n-----\n<top chunk>": the stub's
    # echo shows the top retrieved chunk reached the model and the answer reached the user.
    top = sources[0].split()[:3]
    assert answer == _stub_echo(
        f"Context information is below. --------------------- {' '.join(top)}"
    )


async def test_chat_engine_over_the_index(index: VectorStoreIndex, llm: ChatExternal) -> None:
    engine = index.as_chat_engine(chat_mode="condense_plus_context", llm=llm, similarity_top_k=1)
    first = await engine.achat("When is support open?")
    assert first.response == _stub_echo("When is support open?")
    (source,) = first.source_nodes
    assert source.node.get_content() in CORPUS
    streamed = await engine.astream_chat("And on weekends?")
    answer = "".join([token async for token in streamed.async_response_gen()])
    assert answer == _stub_echo("And on weekends?")
    assert len(engine.chat_history) == 4


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def _run(agent: FunctionAgent, question: str) -> tuple[str, list[ToolCallResult]]:
    handler = agent.run(user_msg=question)
    results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
    output = await handler
    return str(output.response.content), results


async def test_function_agent_calls_a_tool(llm: ChatExternal) -> None:
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(multiply)], llm=llm)
    answer, results = await _run(agent, "What is 6 times 7? Use the multiply tool.")
    (result,) = results
    assert (result.tool_name, result.tool_kwargs) == ("multiply", {"a": 6, "b": 7})
    assert result.tool_output.content == "42"
    assert answer == "The result is 42."


async def test_function_agent_searches_the_index(
    index: VectorStoreIndex, llm: ChatExternal
) -> None:
    tool = QueryEngineTool.from_defaults(
        index.as_query_engine(llm=llm, similarity_top_k=1),
        name="knowledge_base",
        description="Answers questions about refunds, support hours and shipping.",
    )
    agent = FunctionAgent(tools=[tool], llm=llm, streaming=False)
    answer, results = await _run(agent, "Ask the knowledge_base how long shipping takes.")
    (result,) = results
    assert result.tool_name == "knowledge_base"
    retrieved = result.tool_output.content
    assert retrieved.startswith("Stub reply to: Context information is below.")
    assert answer == f"The result is {retrieved}."
