"""A conformance suite for LlamaIndex LLMs and embeddings, in the spirit of langchain-tests.

LlamaIndex ships none, so this is ours. Subclass a suite, set its properties, and mark the
subclass ``@pytest.mark.vcr`` to replay it from cassettes:

* :class:`ChatLLMTests` — a ``FunctionCallingLLM``: every sync/async/stream chat and completion
  method, usage once per stream, call-time arguments, metadata, tools (``chat_with_tools``,
  ``predict_and_call``, streamed tool calls, tool results), structured output, instrumentation
  events, callback handlers and serialization.
* :class:`CompletionLLMTests` — a completion-first ``LLM``.
* :class:`EmbeddingsTests` — a ``BaseEmbedding``: query/text, sync/async, batch shape and order.

Properties: ``llm_class``/``llm_params``, ``supports_tools``, ``returns_usage``,
``supports_structured_output``, ``expected_context_window``; ``embeddings_class``/
``embeddings_params``. The prompts are fixed (cassettes match on the request body): the
assertions need a model that follows instructions (the loopback stub is scripted to).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, PrivateAttr

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
QUESTION = "Hello, who are you and what can you do for me?"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(multiply)
TOOL_PROMPT = "What is 6 times 7? Use the multiply tool."


class Person(BaseModel):
    """A person mentioned in a text."""

    name: str
    age: int


PERSON_PROMPT = PromptTemplate("Extract the person from this text: {text}")
PERSON_TEXT = "'Ada' is 36 years old."


class RecordingHandler(BaseEventHandler):
    """Keeps every instrumentation event it sees."""

    _events: list[BaseEvent] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "RecordingHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self._events.append(event)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self._events]

    def of(self, kind: type[BaseEvent]) -> list[Any]:
        return [e for e in self._events if isinstance(e, kind)]


def recording_events() -> Iterator[RecordingHandler]:
    """Instrumentation events fired meanwhile (root dispatcher, where users attach)."""
    handler = RecordingHandler()
    root = get_dispatcher()
    root.add_event_handler(handler)
    yield handler
    root.event_handlers.remove(handler)


def event_payload(model: Any) -> dict[str, Any]:
    """What llama-index-core puts in an event's ``model_dict``: ``to_payload()`` since 0.14.23,
    ``to_dict()`` before it (the range starts at 0.14.15)."""
    payload = getattr(model, "to_payload", None)
    return dict(payload() if payload is not None else model.to_dict())


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def _check_usage(kwargs: dict[str, Any]) -> None:
    for key in USAGE_KEYS:
        assert isinstance(kwargs[key], int), key
    assert kwargs["total_tokens"] >= kwargs["prompt_tokens"] + kwargs["completion_tokens"] > 0


class _LLMSuite:
    @property
    def llm_class(self) -> type[LLM]:
        raise NotImplementedError

    @property
    def llm_params(self) -> dict[str, Any]:
        return {}

    @property
    def returns_usage(self) -> bool:
        return True

    @property
    def expected_context_window(self) -> int | None:
        """The exact window ``metadata`` should report; ``None`` only checks it beats 3900."""
        return None

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        """What ``from_dict`` needs again: the secrets ``to_dict`` left out."""
        return {}

    @pytest.fixture
    def llm(self) -> LLM:
        return self.llm_class(**self.llm_params)

    @pytest.fixture
    def events(self) -> Iterator[RecordingHandler]:
        yield from recording_events()

    # -- shared checks -----------------------------------------------------------------------

    def _check_stream(self, responses: list[Any], text_of: Any) -> None:
        assert len(responses) >= 2
        deltas = "".join(r.delta or "" for r in responses)
        assert deltas.strip()
        assert text_of(responses[-1]) == deltas
        with_usage = [r for r in responses if "total_tokens" in r.additional_kwargs]
        if self.returns_usage:
            assert with_usage == [responses[-1]], "usage must come once, on the last response"
            _check_usage(responses[-1].additional_kwargs)

    # -- metadata and serialization (no network) ---------------------------------------------

    def test_metadata_limits(self, llm: LLM) -> None:
        meta = llm.metadata
        assert meta.model_name
        if self.expected_context_window is not None:
            assert meta.context_window == self.expected_context_window
        assert meta.context_window > DEFAULT_CONTEXT_WINDOW
        assert 0 < meta.num_output < meta.context_window

    def test_limits_are_overridable(self) -> None:
        llm = self.llm_class(**{**self.llm_params, "context_window": 12345, "num_output": 321})
        assert (llm.metadata.context_window, llm.metadata.num_output) == (12345, 321)

    def test_serialization_round_trip(self, llm: LLM) -> None:
        data = llm.to_dict()
        assert data["class_name"] == type(llm).class_name()
        assert json.loads(llm.to_json()) == json.loads(json.dumps(data))
        revived = type(llm).from_dict(data, **self.serialization_secrets)
        assert revived.to_dict() == data
        assert revived.metadata == llm.metadata

    # -- completion --------------------------------------------------------------------------

    def test_complete(self, llm: LLM) -> None:
        response = llm.complete(QUESTION)
        assert response.text.strip()
        assert isinstance(response.raw, dict)
        if self.returns_usage:
            _check_usage(response.additional_kwargs)

    async def test_acomplete(self, llm: LLM) -> None:
        response = await llm.acomplete(QUESTION)
        assert response.text.strip()
        if self.returns_usage:
            _check_usage(response.additional_kwargs)

    def test_stream_complete(self, llm: LLM) -> None:
        self._check_stream(list(llm.stream_complete(QUESTION)), lambda r: r.text)

    async def test_astream_complete(self, llm: LLM) -> None:
        responses = [r async for r in await llm.astream_complete(QUESTION)]
        self._check_stream(responses, lambda r: r.text)

    # -- chat --------------------------------------------------------------------------------

    def test_chat(self, llm: LLM) -> None:
        response = llm.chat(_user(QUESTION))
        assert response.message.role == MessageRole.ASSISTANT
        assert (response.message.content or "").strip()
        assert isinstance(response.raw, dict)
        if self.returns_usage:
            _check_usage(response.additional_kwargs)

    async def test_achat(self, llm: LLM) -> None:
        response = await llm.achat(_user(QUESTION))
        assert (response.message.content or "").strip()
        if self.returns_usage:
            _check_usage(response.additional_kwargs)

    def test_stream_chat(self, llm: LLM) -> None:
        responses = list(llm.stream_chat(_user(QUESTION)))
        self._check_stream(responses, lambda r: r.message.content)

    async def test_astream_chat(self, llm: LLM) -> None:
        responses = [r async for r in await llm.astream_chat(_user(QUESTION))]
        self._check_stream(responses, lambda r: r.message.content)

    def test_conversation(self, llm: LLM) -> None:
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content="You are terse."),
            ChatMessage(role=MessageRole.USER, content="Hi."),
            ChatMessage(role=MessageRole.ASSISTANT, content="Hello."),
            ChatMessage(role=MessageRole.USER, content="Name a colour."),
        ]
        assert (llm.chat(messages).message.content or "").strip()

    def test_call_time_arguments_win(self) -> None:
        llm = self.llm_class(**{**self.llm_params, "max_tokens": 200})
        response = llm.chat(_user(QUESTION), max_tokens=3)
        assert len((response.message.content or "").split()) <= 3
        assert response.additional_kwargs["finish_reason"] == "length"

    def test_stop_sequence(self, llm: LLM) -> None:
        text = llm.complete(QUESTION, stop=["you"]).text
        assert text.strip()
        assert "you" not in text

    # -- instrumentation and callbacks -------------------------------------------------------

    def test_chat_events(self, llm: LLM, events: RecordingHandler) -> None:
        response = llm.chat(_user(QUESTION))
        assert events.names().count("LLMChatStartEvent") == 1
        (end,) = events.of(LLMChatEndEvent)
        assert end.response.message.content == response.message.content
        (start,) = events.of(LLMChatStartEvent)
        assert start.model_dict == event_payload(llm)

    def test_stream_chat_events(self, llm: LLM, events: RecordingHandler) -> None:
        responses = list(llm.stream_chat(_user(QUESTION)))
        assert len(events.of(LLMChatStartEvent)) == 1
        assert len(events.of(LLMChatInProgressEvent)) == len(responses)
        (end,) = events.of(LLMChatEndEvent)
        assert end.response is responses[-1]

    async def test_acomplete_events(self, llm: LLM, events: RecordingHandler) -> None:
        response = await llm.acomplete(QUESTION)
        assert len(events.of(LLMCompletionStartEvent)) == 1
        (end,) = events.of(LLMCompletionEndEvent)
        assert end.response.text == response.text

    def test_token_counting_callback(self) -> None:
        counter = TokenCountingHandler()
        llm = self.llm_class(**{**self.llm_params, "callback_manager": CallbackManager([counter])})
        list(llm.stream_chat(_user(QUESTION)))
        assert counter.llm_token_counts, "the callback handler saw no LLM event"
        if self.returns_usage:
            (event,) = counter.llm_token_counts
            assert event.prompt_token_count > 0 and event.completion_token_count > 0


class ChatLLMTests(_LLMSuite):
    """Conformance tests for a chat ``FunctionCallingLLM``."""

    @property
    def supports_tools(self) -> bool:
        return True

    @property
    def supports_structured_output(self) -> bool:
        return True

    def test_is_function_calling_llm(self) -> None:
        assert issubclass(self.llm_class, FunctionCallingLLM)

    def test_metadata_kind(self, llm: LLM) -> None:
        assert llm.metadata.is_chat_model
        assert llm.metadata.is_function_calling_model is self.supports_tools

    # -- tools -------------------------------------------------------------------------------

    def _check_multiply_call(self, llm: FunctionCallingLLM, response: ChatResponse) -> None:
        (call,) = llm.get_tool_calls_from_response(response)
        assert call.tool_name == "multiply"
        assert call.tool_kwargs == {"a": 6, "b": 7}
        assert call.tool_id

    def test_chat_with_tools(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        response = llm.chat_with_tools([MULTIPLY], user_msg=TOOL_PROMPT, tool_required=True)
        self._check_multiply_call(llm, response)

    async def test_achat_with_tools(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        response = await llm.achat_with_tools([MULTIPLY], user_msg=TOOL_PROMPT)
        self._check_multiply_call(llm, response)

    def test_stream_chat_with_tools(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        responses = list(llm.stream_chat_with_tools([MULTIPLY], user_msg=TOOL_PROMPT))
        self._check_multiply_call(llm, responses[-1])
        partial = [llm.get_tool_calls_from_response(r, False) for r in responses[:-1]]
        assert any(partial), "tool calls should show while the stream is in progress"

    async def test_astream_chat_with_tools(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        stream = await llm.astream_chat_with_tools([MULTIPLY], user_msg=TOOL_PROMPT)
        responses = [r async for r in stream]
        self._check_multiply_call(llm, responses[-1])

    def test_predict_and_call(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        result = llm.predict_and_call([MULTIPLY], user_msg=TOOL_PROMPT)
        assert result.response == "42"
        assert result.sources[0].tool_name == "multiply"

    async def test_apredict_and_call(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        result = await llm.apredict_and_call([MULTIPLY], user_msg=TOOL_PROMPT)
        assert result.response == "42"

    def test_tool_result_round_trip(self, llm: FunctionCallingLLM) -> None:
        if not self.supports_tools:
            pytest.skip("no tool support")
        call = ToolCallBlock(
            tool_call_id="call_1", tool_name="multiply", tool_kwargs={"a": 6, "b": 7}
        )
        history = [
            ChatMessage(role=MessageRole.USER, content=TOOL_PROMPT),
            ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=""), call]),
            ChatMessage(
                role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "call_1"}
            ),
        ]
        response = llm.chat_with_tools([MULTIPLY], chat_history=history)
        assert "42" in (response.message.content or "")
        assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []

    # -- structured output -------------------------------------------------------------------

    def test_structured_predict(self, llm: LLM) -> None:
        if not self.supports_structured_output:
            pytest.skip("no structured output")
        person = llm.structured_predict(Person, PERSON_PROMPT, text=PERSON_TEXT)
        assert person == Person(name="Ada", age=36)

    async def test_astructured_predict(self, llm: LLM) -> None:
        if not self.supports_structured_output:
            pytest.skip("no structured output")
        person = await llm.astructured_predict(Person, PERSON_PROMPT, text=PERSON_TEXT)
        assert person == Person(name="Ada", age=36)

    def test_stream_structured_predict(self, llm: LLM) -> None:
        if not self.supports_structured_output:
            pytest.skip("no structured output")
        partials = list(llm.stream_structured_predict(Person, PERSON_PROMPT, text=PERSON_TEXT))
        assert partials[-1].model_dump() == {"name": "Ada", "age": 36}


class CompletionLLMTests(_LLMSuite):
    """Conformance tests for a completion-first ``LLM`` (chat derived from completion)."""

    def test_metadata_kind(self, llm: LLM) -> None:
        assert not llm.metadata.is_chat_model
        assert not llm.metadata.is_function_calling_model


class EmbeddingsTests:
    """Conformance tests for a ``BaseEmbedding``."""

    @property
    def embeddings_class(self) -> type[BaseEmbedding]:
        raise NotImplementedError

    @property
    def embeddings_params(self) -> dict[str, Any]:
        return {}

    @property
    def serialization_secrets(self) -> dict[str, Any]:
        """What ``from_dict`` needs again: the secrets ``to_dict`` left out."""
        return {}

    @pytest.fixture
    def embed_model(self) -> BaseEmbedding:
        return self.embeddings_class(**self.embeddings_params)

    def test_query_embedding(self, embed_model: BaseEmbedding) -> None:
        vector = embed_model.get_query_embedding("What is an external model?")
        assert vector and all(isinstance(x, float) for x in vector)

    async def test_aquery_embedding(self, embed_model: BaseEmbedding) -> None:
        vector = await embed_model.aget_query_embedding("What is an external model?")
        assert vector and isinstance(vector[0], float)

    def test_text_embedding(self, embed_model: BaseEmbedding) -> None:
        vector = embed_model.get_text_embedding("foo")
        assert vector and isinstance(vector[0], float)

    async def test_atext_embedding(self, embed_model: BaseEmbedding) -> None:
        vector = await embed_model.aget_text_embedding("foo")
        assert vector and isinstance(vector[0], float)

    def test_batch_shape_and_order(self, embed_model: BaseEmbedding) -> None:
        texts = ["foo", "bar", "baz"]
        vectors = embed_model.get_text_embedding_batch(texts)
        assert len(vectors) == 3
        assert len({len(v) for v in vectors}) == 1
        assert vectors[1] == embed_model.get_text_embedding("bar")

    async def test_abatch_shape_and_order(self, embed_model: BaseEmbedding) -> None:
        texts = ["foo", "bar", "baz"]
        vectors = await embed_model.aget_text_embedding_batch(texts)
        assert len(vectors) == 3
        assert vectors[2] == await embed_model.aget_text_embedding("baz")

    def test_small_batches_keep_order(self) -> None:
        embed_model = self.embeddings_class(**{**self.embeddings_params, "embed_batch_size": 2})
        texts = [f"text {i}" for i in range(5)]
        batched = embed_model.get_text_embedding_batch(texts)
        assert len(batched) == 5
        assert batched == [embed_model.get_text_embedding(t) for t in texts]

    async def test_async_small_batches_keep_order(self) -> None:
        embed_model = self.embeddings_class(**{**self.embeddings_params, "embed_batch_size": 2})
        texts = [f"text {i}" for i in range(5)]
        batched = await embed_model.aget_text_embedding_batch(texts)
        assert batched == [await embed_model.aget_text_embedding(t) for t in texts]

    def test_serialization_round_trip(self, embed_model: BaseEmbedding) -> None:
        data = embed_model.to_dict()
        assert data["class_name"] == type(embed_model).class_name()
        revived = type(embed_model).from_dict(data, **self.serialization_secrets)
        assert revived.to_dict() == data
