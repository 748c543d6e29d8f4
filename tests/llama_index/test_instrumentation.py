"""Retries, fallbacks and rate-limit waits reach LlamaIndex's instrumentation as events of the
call's span, sync and async, plain and streamed, for LLMs and embeddings."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import root_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatStartEvent
from pydantic import Field

from extmodels_integrations.llama_index import (
    ChatExternal,
    CompletionExternal,
    ExternalEmbeddings,
    ExternalFallbackEvent,
    ExternalRateLimitWaitEvent,
    ExternalRetryEvent,
)
from tests.support.openai_server import OpenAIStubServer
from tests.test_rate_limits import FrozenClock, frozen, per_minute
from tests.test_routing import _with_fallbacks, body

TOKEN = "dapi-instrumentation"
HI = [ChatMessage(role="user", content="hi")]


class Recorder(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type[BaseEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    root_dispatcher.add_event_handler(handler)
    try:
        yield handler
    finally:
        root_dispatcher.event_handlers.remove(handler)


@pytest.fixture
def pair() -> Iterator[tuple[OpenAIStubServer, OpenAIStubServer]]:
    with OpenAIStubServer() as a, OpenAIStubServer() as b:
        yield a, b


def _retrying(server: OpenAIStubServer) -> ChatExternal:
    server.fail_next(503, headers={"Retry-After": "0"})
    return ChatExternal(endpoint="chat-ep", host=server.base_url, token=TOKEN, max_retries=2)


def _assert_one_retry(recorder: Recorder) -> ExternalRetryEvent:
    [retry] = recorder.of(ExternalRetryEvent)
    assert (retry.attempt, retry.max_retries, retry.wait) == (1, 2, 0.0)
    assert retry.error_type == "ServerError" and "503" in retry.error
    assert TOKEN not in retry.error
    assert retry.model_dump()["class_name"] == "ExternalRetryEvent"
    return retry


def test_a_retry_is_an_event_of_the_chat_span(server: OpenAIStubServer, recorder: Recorder) -> None:
    assert _retrying(server).chat(HI).message.content
    retry = _assert_one_retry(recorder)
    [start] = recorder.of(LLMChatStartEvent)
    assert retry.span_id is not None and retry.span_id == start.span_id


async def test_an_async_retry_is_reported(server: OpenAIStubServer, recorder: Recorder) -> None:
    assert (await _retrying(server).achat(HI)).message.content
    _assert_one_retry(recorder)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_stream_retry_is_reported(
    server: OpenAIStubServer, recorder: Recorder, asynchronous: bool
) -> None:
    chat = _retrying(server)
    if asynchronous:
        responses = [r async for r in await chat.astream_chat(HI)]
    else:
        responses = list(chat.stream_chat(HI))
    assert responses[-1].message.content
    _assert_one_retry(recorder)


def test_a_completion_retry_is_reported(server: OpenAIStubServer, recorder: Recorder) -> None:
    server.fail_next(503, headers={"Retry-After": "0"})
    llm = CompletionExternal(endpoint="text-ep", host=server.base_url, token=TOKEN)
    assert llm.complete("Say hi").text
    _assert_one_retry(recorder)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_an_embeddings_retry_is_reported(
    server: OpenAIStubServer, recorder: Recorder, asynchronous: bool
) -> None:
    server.fail_next(503, headers={"Retry-After": "0"})
    embed = ExternalEmbeddings(endpoint="embed-ep", host=server.base_url, token=TOKEN)
    if asynchronous:
        assert await embed.aget_text_embedding_batch(["a", "b"])
    else:
        assert embed.get_text_embedding_batch(["a", "b"])
    [retry] = recorder.of(ExternalRetryEvent)
    assert retry.error_type == "ServerError"


def test_a_fallback_is_an_event(
    pair: tuple[OpenAIStubServer, OpenAIStubServer], recorder: Recorder
) -> None:
    a, b = pair
    a.fail_next(503)
    # A stated window keeps the servers from being asked for one (that would take the fault).
    config = _with_fallbacks(a.base_url, b.base_url)
    chat = ChatExternal(endpoint_config=config, max_retries=0, context_window=8192)
    chat.chat(HI)
    [fallback] = recorder.of(ExternalFallbackEvent)
    assert (fallback.endpoint, fallback.failed_entity, fallback.next_entity) == (
        chat.endpoint_config.name,  # type: ignore[union-attr]
        "a",
        "b",
    )
    assert fallback.error_type == "ServerError" and "sk-a" not in fallback.error
    assert "sk-a" not in repr(fallback) and "sk-a" not in pickle.dumps(fallback).decode("latin1")


def test_a_local_rate_limit_wait_is_an_event(
    pair: tuple[OpenAIStubServer, OpenAIStubServer], recorder: Recorder
) -> None:
    a, b = pair
    config = body(a.base_url, b.base_url, (100, 0), ai_gateway={"rate_limits": [per_minute(1)]})
    chat = ChatExternal(endpoint_config=config)
    clock = FrozenClock()
    frozen(chat.client, clock)
    chat.chat(HI)
    chat.chat(HI)
    assert clock.waits == [60.0]
    [wait] = recorder.of(ExternalRateLimitWaitEvent)
    assert (wait.endpoint, wait.seconds) == (config["name"], 60.0)
    starts = recorder.of(LLMChatStartEvent)
    assert wait.span_id == starts[1].span_id


def test_without_a_handler_calls_work_unobserved(server: OpenAIStubServer) -> None:
    chat = _retrying(server)
    assert chat.chat(HI).message.content
    assert len(server.requests) == 2
