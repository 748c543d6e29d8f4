"""Retries, fallbacks and rate-limit waits reach LangChain's callbacks: ``on_retry`` for a retry,
custom events for a fallback and a wait, sync and async, plain and streamed.

langchain-core 1.x hands a chat model no run manager when it streams (``stream``, ``astream``,
and the implicit streaming under ``astream_events``), so a streamed chat call's events are only
logged; completion models get one in streams too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from tenacity import RetryCallState

from extmodels_integrations import ServerError
from extmodels_integrations.langchain import ChatExternal, CompletionExternal
from extmodels_integrations.langchain._callbacks import FALLBACK_EVENT, RATE_LIMIT_WAIT_EVENT
from tests.support.openai_server import OpenAIStubServer
from tests.test_rate_limits import FrozenClock, frozen, per_minute
from tests.test_routing import _with_fallbacks, body

TOKEN = "dapi-callbacks"


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.retries: list[RetryCallState] = []
        self.custom: list[tuple[str, Any, UUID]] = []
        self.llm_runs: list[UUID] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any):
        self.llm_runs.append(run_id)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kw: Any) -> None:
        self.llm_runs.append(run_id)

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None:
        self.retries.append(retry_state)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.custom.append((name, data, run_id))


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.retries: list[RetryCallState] = []
        self.custom: list[tuple[str, Any, UUID]] = []

    async def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None:
        self.retries.append(retry_state)

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        self.custom.append((name, data, run_id))


@pytest.fixture
def pair() -> Iterator[tuple[OpenAIStubServer, OpenAIStubServer]]:
    with OpenAIStubServer() as a, OpenAIStubServer() as b:
        yield a, b


def _retrying_chat(server: OpenAIStubServer) -> ChatExternal:
    server.fail_next(503, headers={"Retry-After": "0"})
    return ChatExternal(endpoint="chat-ep", host=server.base_url, token=TOKEN, max_retries=2)


def _assert_one_retry(retries: list[RetryCallState]) -> None:
    assert len(retries) == 1
    state = retries[0]
    assert state.attempt_number == 1
    assert state.outcome is not None and state.outcome.failed
    assert isinstance(state.outcome.exception(), ServerError)
    assert state.idle_for == 0


def test_a_retry_reaches_on_retry(server: OpenAIStubServer) -> None:
    recorder = Recorder()
    chat = _retrying_chat(server)
    assert chat.invoke("hi", config={"callbacks": [recorder]}).content
    _assert_one_retry(recorder.retries)


async def test_an_async_retry_reaches_an_async_handler_before_the_run_ends(
    server: OpenAIStubServer,
) -> None:
    recorder = AsyncRecorder()
    chat = _retrying_chat(server)
    assert (await chat.ainvoke("hi", config={"callbacks": [recorder]})).content
    _assert_one_retry(recorder.retries)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_completion_retry_reaches_on_retry(server: OpenAIStubServer, streamed: bool) -> None:
    recorder = Recorder()
    server.fail_next(503, headers={"Retry-After": "0"})
    llm = CompletionExternal(endpoint="text-ep", host=server.base_url, token=TOKEN)
    config = {"callbacks": [recorder]}
    if streamed:
        assert "".join(llm.stream("Say hi", config=config))
    else:
        assert llm.invoke("Say hi", config=config)
    _assert_one_retry(recorder.retries)


async def test_an_async_completion_stream_retry_reaches_an_async_handler(
    server: OpenAIStubServer,
) -> None:
    recorder = AsyncRecorder()
    server.fail_next(503, headers={"Retry-After": "0"})
    llm = CompletionExternal(endpoint="text-ep", host=server.base_url, token=TOKEN)
    assert [c async for c in llm.astream("Say hi", config={"callbacks": [recorder]})]
    _assert_one_retry(recorder.retries)


def test_a_fallback_is_a_custom_event_of_the_model_run(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = pair
    a.fail_next(503)
    recorder = Recorder()
    chat = ChatExternal(endpoint_config=_with_fallbacks(a.base_url, b.base_url), max_retries=0)
    chat.invoke("hi", config={"callbacks": [recorder]})
    [(name, data, run_id)] = recorder.custom
    assert name == FALLBACK_EVENT
    assert data == {
        "endpoint": chat.endpoint_config.name,  # type: ignore[union-attr]
        "failed_entity": "a",
        "next_entity": "b",
        "error_type": "ServerError",
        "error": data["error"],
    }
    assert "503" in data["error"] and "sk-a" not in data["error"]
    assert run_id == recorder.llm_runs[0]


async def test_an_async_fallback_reaches_an_async_handler(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = pair
    a.fail_next(503)
    recorder = AsyncRecorder()
    chat = ChatExternal(endpoint_config=_with_fallbacks(a.base_url, b.base_url), max_retries=0)
    await chat.ainvoke("hi", config={"callbacks": [recorder]})
    assert [(name, data["next_entity"]) for name, data, _ in recorder.custom] == [
        (FALLBACK_EVENT, "b")
    ]


def test_a_local_rate_limit_wait_is_a_custom_event(
    pair: tuple[OpenAIStubServer, OpenAIStubServer],
) -> None:
    a, b = pair
    config = body(a.base_url, b.base_url, (100, 0), ai_gateway={"rate_limits": [per_minute(1)]})
    chat = ChatExternal(endpoint_config=config)
    clock = FrozenClock()
    frozen(chat.client, clock)
    recorder = Recorder()
    chat.invoke("hi", config={"callbacks": [recorder]})
    chat.invoke("hi", config={"callbacks": [recorder]})
    assert clock.waits == [60.0]
    assert recorder.custom == [
        (RATE_LIMIT_WAIT_EVENT, {"endpoint": config["name"], "seconds": 60.0}, recorder.llm_runs[1])
    ]


def test_without_handlers_nothing_is_reported_and_calls_work(server: OpenAIStubServer) -> None:
    chat = _retrying_chat(server)
    assert chat.invoke("hi").content
    assert len(server.requests) == 2
