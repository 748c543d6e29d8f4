"""The transport: SSE decoding, Retry-After parsing, retries and error mapping.

Retries run through ``ExternalClient`` against an ``httpx.MockTransport`` that counts calls;
``transport.sleep`` / ``transport.asleep`` are replaced by recorders, so nothing really waits
and nothing touches the network. Every retry test runs sync and async.
"""

from __future__ import annotations

import json
import pickle
import traceback
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from extmodels_integrations import APIConnectionError as ExtConnectionError
from extmodels_integrations import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ContentFilterError,
    ContextWindowExceededError,
    ExternalClient,
    ExternalModelError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    _control,
)
from extmodels_integrations import APITimeoutError as ExtTimeoutError
from extmodels_integrations._transport import SSEDecoder, SSEEvent, retry_after_seconds

# -- SSEDecoder --------------------------------------------------------------------------------

# A realistic stream: a keep-alive comment, a named event, multi-byte UTF-8, multi-line data,
# a comment inside an event, fields the decoder ignores, and the OpenAI terminator.
STREAM = (
    b": keep-alive\n\n"
    b"event: message_start\n"
    b'data: {"type": "message_start"}\n\n'
    b'data: {"text": "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"}\n\n'
    b"data: line one\n"
    b": ping in the middle\n"
    b"data: line two\n\n"
    b"id: 7\nretry: 100\ndata:no space\n\n"
    b"data: [DONE]\n\n"
)
STREAM_EVENTS = [
    SSEEvent('{"type": "message_start"}', "message_start"),
    SSEEvent('{"text": "héllo ✓ 😀"}'),
    SSEEvent("line one\nline two"),
    SSEEvent("no space"),
    SSEEvent("[DONE]"),
]
LINE_ENDINGS = {
    "lf": STREAM,
    "crlf": STREAM.replace(b"\n", b"\r\n"),
    "cr": STREAM.replace(b"\n", b"\r"),
}


def decode(*reads: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for read in reads for event in decoder.feed(read)]
    return events + decoder.close()


@pytest.mark.parametrize("stream", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_sse_whole_stream(stream: bytes) -> None:
    assert decode(stream) == STREAM_EVENTS


@pytest.mark.parametrize("stream", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_sse_split_at_every_byte_boundary(stream: bytes) -> None:
    for cut in range(len(stream) + 1):
        assert decode(stream[:cut], stream[cut:]) == STREAM_EVENTS, f"cut at byte {cut}"


@pytest.mark.parametrize("stream", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_sse_one_byte_per_read(stream: bytes) -> None:
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == STREAM_EVENTS


def test_sse_events_are_returned_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n\ndata: tw") == [SSEEvent("one")]
    assert decoder.feed(b"o\n") == []
    assert decoder.feed(b"\n") == [SSEEvent("two")]
    assert decoder.close() == []


def test_sse_cr_at_read_boundary_followed_by_lf_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # Were "\r" and "\n" counted as two line ends, "a" would be dispatched alone here.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [SSEEvent("a\nb")]
    assert decoder.feed(b"data: c\r\n\r") == []  # the blank line may still be "\r\n"
    assert decoder.feed(b"\n") == [SSEEvent("c")]
    assert decoder.close() == []


def test_sse_utf8_character_split_across_reads() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: caf\xc3") == []
    assert decoder.feed(b"\xa9 \xf0\x9f") == []
    assert decoder.feed(b"\x98\x80\n\n") == [SSEEvent("café 😀")]


@pytest.mark.parametrize(
    "reads",
    [
        [b"data: \xff\xfe\n\n"],
        [b"data: ok\n\n", b"data: \xc3\x28\n\n"],
        [b"data: \xed\xa0\x80\n\n"],  # a UTF-16 surrogate encoded as UTF-8
    ],
    ids=["invalid-start-byte", "invalid-continuation", "surrogate"],
)
def test_sse_invalid_utf8_is_a_stream_error(reads: list[bytes]) -> None:
    decoder = SSEDecoder()
    with pytest.raises(MalformedResponseError, match="UTF-8"):
        for read in reads:
            decoder.feed(read)


def test_sse_stream_ending_inside_a_utf8_character_is_a_stream_error() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: \xe2\x9c") == []
    with pytest.raises(MalformedResponseError, match="UTF-8"):
        decoder.close()


@pytest.mark.parametrize(
    ("reads", "events"),
    [
        ([b"data: last"], [SSEEvent("last")]),
        ([b"event: end\ndata: x\ndata: y"], [SSEEvent("x\ny", "end")]),
        ([b"data: a\n\ndata: b\n"], [SSEEvent("a"), SSEEvent("b")]),
        ([b"data: a\r"], [SSEEvent("a")]),
        ([b""], []),
        ([b": only a comment"], []),
    ],
    ids=["no-newline", "named-multiline", "one-newline", "trailing-cr", "empty", "comment"],
)
def test_sse_close_flushes_an_unterminated_last_event(
    reads: list[bytes], events: list[SSEEvent]
) -> None:
    assert decode(*reads) == events


@pytest.mark.parametrize(
    ("stream", "events"),
    [
        (b"event: a\ndata: 1\n\ndata: 2\n\n", [SSEEvent("1", "a"), SSEEvent("2")]),
        (b"event: ping\n\ndata: x\n\n", [SSEEvent("x")]),
        (b":c1\n: c2\n\n\n\n", []),
        (b"data:  two spaces\n\n", [SSEEvent(" two spaces")]),
        (b"data\n\n", [SSEEvent("")]),
        (b'data: {"a": "x:y"}\n\n', [SSEEvent('{"a": "x:y"}')]),
    ],
    ids=[
        "event-name-resets",
        "event-without-data-not-dispatched",
        "comments-and-blank-lines",
        "one-space-stripped",
        "field-without-colon",
        "colon-in-value",
    ],
)
def test_sse_fields(stream: bytes, events: list[SSEEvent]) -> None:
    assert decode(stream) == events


# -- retry_after_seconds -----------------------------------------------------------------------

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, 30.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Tue, 99 Foo 2023 99:99:99 GMT"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
    ],
)
def test_retry_after_seconds(
    monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], seconds: float | None
) -> None:
    monkeypatch.setattr(_control, "time", SimpleNamespace(time=lambda: NOW))
    assert retry_after_seconds(headers) == seconds


def test_retry_after_seconds_reads_httpx_headers_case_insensitively() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After-Ms": "100"})) == 0.1
    assert retry_after_seconds(httpx.Headers({"Retry-After": "4"})) == 4.0


# -- a scripted server, two runners ------------------------------------------------------------

SERVING = {"endpoint": "my-endpoint", "host": "https://dbc.example.com", "token": "dapi0123abcd"}
OPENAI_KEY = "sk-abcdefghijklmnop1234"
OPENAI = {
    "external_model": {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key_plaintext": OPENAI_KEY},
    }
}
AZURE = {
    "external_model": {
        "name": "gpt-4o",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {
            "openai_api_type": "azure",
            "openai_api_key_plaintext": "0123456789abcdef0123456789abcdef",
            "openai_api_base": "https://res.openai.azure.com",
            "openai_api_version": "2024-10-21",
            "openai_deployment_name": "dep",
        },
    }
}
REQUEST = ChatRequest(messages=[{"role": "user", "content": "Hi"}])
CHAT_OK = {
    "id": "c-1",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def event(content: str | None = None, finish: str | None = None, role: str | None = None) -> dict:
    delta = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
    return {
        "id": "s-1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse(*events: Any) -> bytes:
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


FULL_STREAM = sse(event("", role="assistant"), event("Hi"), event(finish="stop"), "[DONE]")
FULL_CHUNKS = [
    ChatChunk("s-1", "m", [ChatChunkChoice(0, content="", role="assistant")], None, "databricks"),
    ChatChunk("s-1", "m", [ChatChunkChoice(0, content="Hi")], None, "databricks"),
    ChatChunk("s-1", "m", [ChatChunkChoice(0, finish_reason="stop")], None, "databricks"),
]


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body in several reads that may fail after them (a reset connection)."""

    def __init__(self, *parts: bytes, fail: Exception | None = None) -> None:
        self.parts = parts
        self.fail = fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        if self.fail is not None:
            raise self.fail

    async def __aiter__(self):  # type: ignore[override]
        for part in self.parts:
            yield part
        if self.fail is not None:
            raise self.fail


Answer = Callable[[], httpx.Response] | Exception


def reply(
    status: int = 200,
    json_body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    stream: bytes | Body | None = None,
) -> Callable[[], httpx.Response]:
    """A fresh response per call (a response body can be read once)."""

    def make() -> httpx.Response:
        if stream is not None:
            body = stream if isinstance(stream, Body) else Body(stream)
            return httpx.Response(
                status,
                headers={"content-type": "text/event-stream", **(headers or {})},
                stream=body,
            )
        return httpx.Response(status, json=json_body, headers=headers)

    return make


class Server:
    """Answers the n-th request with the n-th answer (the last one repeats); counts calls."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = answers
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer()


class SyncRunner:
    def chat(self, client: ExternalClient) -> Any:
        return client.chat(REQUEST)

    def stream(self, client: ExternalClient) -> tuple[list[ChatChunk], Exception | None]:
        chunks: list[ChatChunk] = []
        try:
            for chunk in client.stream_chat(REQUEST):
                chunks.append(chunk)
        except ExternalModelError as error:
            return chunks, error
        return chunks, None


class AsyncRunner:
    async def chat(self, client: ExternalClient) -> Any:
        return await client.achat(REQUEST)

    async def stream(self, client: ExternalClient) -> tuple[list[ChatChunk], Exception | None]:
        chunks: list[ChatChunk] = []
        try:
            async for chunk in client.astream_chat(REQUEST):
                chunks.append(chunk)
        except ExternalModelError as error:
            return chunks, error
        return chunks, None


class Harness:
    """One client on a scripted server, with sleeps recorded instead of slept."""

    def __init__(self, runner: SyncRunner | AsyncRunner) -> None:
        self.runner = runner
        self.sleeps: list[float] = []
        self._http: list[Any] = []

    def client(
        self, server: Server, target: dict[str, Any], max_retries: int = 2
    ) -> ExternalClient:
        mock = httpx.MockTransport(server)
        sync_http, async_http = httpx.Client(transport=mock), httpx.AsyncClient(transport=mock)
        self._http += [sync_http, async_http]
        client = ExternalClient(
            **target, max_retries=max_retries, http_client=sync_http, http_async_client=async_http
        )

        async def asleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        client.transport.sleep = self.sleeps.append
        client.transport.asleep = asleep
        return client

    async def chat(self, client: ExternalClient) -> Any:
        result = self.runner.chat(client)
        return await result if isinstance(self.runner, AsyncRunner) else result

    async def chat_error(self, client: ExternalClient) -> ExternalModelError:
        with pytest.raises(ExternalModelError) as info:
            await self.chat(client)
        return info.value

    async def stream(self, client: ExternalClient) -> tuple[list[ChatChunk], Exception | None]:
        result = self.runner.stream(client)
        return await result if isinstance(self.runner, AsyncRunner) else result  # type: ignore[misc]

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose() if isinstance(http, httpx.AsyncClient) else http.close()


@pytest.fixture(params=[SyncRunner, AsyncRunner], ids=["sync", "async"])
async def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    h = Harness(request.param())
    yield h
    await h.aclose()


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "advised"),
    [({"retry-after": "0"}, 0.0), ({"retry-after-ms": "1500"}, 1.5), ({"retry-after": "60"}, 60.0)],
)
async def test_429_then_200_retries_once_after_the_advised_delay(
    harness, headers: dict[str, str], advised: float
) -> None:
    server = Server(
        reply(
            429,
            {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
            headers=headers,
        ),
        reply(200, CHAT_OK),
    )
    client = harness.client(server, OPENAI)

    response = await harness.chat(client)

    assert response.choices[0].content == "ok"
    assert server.calls == 2
    assert harness.sleeps == [advised]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_retried_with_backoff_then_server_error(harness, status: int) -> None:
    server = Server(reply(status, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}))
    client = harness.client(server, SERVING, max_retries=2)

    error = await harness.chat_error(client)

    assert type(error) is ServerError
    assert error.status_code == status
    assert error.provider_message == "busy"
    assert server.calls == 3
    # Exponential from 0.5 s with jitter in [0.75, 1]: ~0.5 s, then ~1 s.
    first, second = harness.sleeps
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0


@pytest.mark.parametrize("max_retries", [0, 1, 4])
async def test_retries_are_bounded_by_max_retries(harness, max_retries: int) -> None:
    server = Server(reply(503, {"message": "busy"}))
    client = harness.client(server, SERVING, max_retries=max_retries)

    error = await harness.chat_error(client)

    assert type(error) is ServerError
    assert server.calls == max_retries + 1
    assert len(harness.sleeps) == max_retries


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (
            400,
            {
                "error": {
                    "message": "Invalid value for 'temperature'",
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                }
            },
            BadRequestError,
            "invalid_value",
            "Invalid value for 'temperature'",
        ),
        (
            401,
            {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."},
            AuthenticationError,
            "UNAUTHENTICATED",
            "Invalid access token.",
        ),
        (
            403,
            {"error_code": "PERMISSION_DENIED", "message": "User lacks CAN_QUERY on my-endpoint"},
            PermissionDeniedError,
            "PERMISSION_DENIED",
            "User lacks CAN_QUERY on my-endpoint",
        ),
        (
            404,
            {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Endpoint my-endpoint not found"},
            NotFoundError,
            "RESOURCE_DOES_NOT_EXIST",
            "Endpoint my-endpoint not found",
        ),
    ],
)
async def test_client_errors_are_typed_and_not_retried(
    harness, status: int, body: dict, cls: type[APIError], code: str, message: str
) -> None:
    server = Server(reply(status, body, headers={"x-request-id": "req-abc-123"}))
    client = harness.client(server, SERVING)

    error = await harness.chat_error(client)

    assert type(error) is cls
    assert error.status_code == status
    assert error.provider == "databricks"
    assert error.provider_message == message
    assert error.code == code
    assert error.request_id == "req-abc-123"
    assert message in str(error) and "req-abc-123" in str(error)
    assert server.calls == 1
    assert harness.sleeps == []


async def test_429_insufficient_quota_is_not_retried(harness) -> None:
    body = {
        "error": {
            "message": (
                "You exceeded your current quota, please check your plan and billing details."
            ),
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    server = Server(reply(429, body, headers={"retry-after": "1"}), reply(200, CHAT_OK))
    client = harness.client(server, OPENAI)

    error = await harness.chat_error(client)

    assert type(error) is RateLimitError
    assert error.code == "insufficient_quota"
    assert server.calls == 1
    assert harness.sleeps == []


@pytest.mark.parametrize(
    ("status", "should_retry", "calls"),
    [(503, "false", 1), (500, "true", 3), (400, "true", 3), (400, "false", 1)],
)
async def test_x_should_retry_is_obeyed(
    harness, status: int, should_retry: str, calls: int
) -> None:
    server = Server(reply(status, {"message": "nope"}, headers={"x-should-retry": should_retry}))
    client = harness.client(server, SERVING, max_retries=2)

    await harness.chat_error(client)

    assert server.calls == calls
    assert len(harness.sleeps) == calls - 1


async def test_retry_after_above_60_seconds_raises_at_once(harness) -> None:
    server = Server(
        reply(429, {"message": "slow down"}, headers={"retry-after": "61"}), reply(200, CHAT_OK)
    )
    client = harness.client(server, SERVING)

    error = await harness.chat_error(client)

    assert type(error) is RateLimitError
    assert error.retry_after == 61.0
    assert server.calls == 1
    assert harness.sleeps == []


async def test_databricks_request_limit_exceeded_is_a_retried_rate_limit_error(harness) -> None:
    body = {
        "error_code": "REQUEST_LIMIT_EXCEEDED",
        "message": "Exceeded workspace rate limit for my-endpoint.",
    }
    server = Server(reply(429, body, headers={"x-request-id": "db-req-1"}))
    client = harness.client(server, SERVING, max_retries=2)

    error = await harness.chat_error(client)

    assert type(error) is RateLimitError
    assert error.code == "REQUEST_LIMIT_EXCEEDED"
    assert error.provider_message == "Exceeded workspace rate limit for my-endpoint."
    assert error.request_id == "db-req-1"
    assert server.calls == 3


@pytest.mark.parametrize(
    ("target", "body"),
    [
        (
            OPENAI,
            {
                "error": {
                    "message": (
                        "This model's maximum context length is 128000 tokens. However, "
                        "your messages resulted in 130000 tokens."
                    ),
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
        ),
        (
            SERVING,
            {"error_code": "BAD_REQUEST", "message": "Input is too long for requested model."},
        ),
        (
            SERVING,
            {
                "error_code": "BAD_REQUEST",
                "message": "prompt is too long: 210000 tokens > 200000 maximum",
            },
        ),
    ],
    ids=["openai-code", "databricks-input-too-long", "anthropic-prompt-too-long"],
)
async def test_context_length_errors(harness, target: dict, body: dict) -> None:
    server = Server(reply(400, body))
    client = harness.client(server, target)

    error = await harness.chat_error(client)

    assert type(error) is ContextWindowExceededError
    assert error.status_code == 400
    assert server.calls == 1


AZURE_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry."
)


@pytest.mark.parametrize("code", ["content_filter", None])
async def test_azure_content_filter_is_a_content_filter_error(harness, code: str | None) -> None:
    body = {
        "error": {
            "message": AZURE_FILTER_MESSAGE,
            "type": None,
            "param": "prompt",
            "code": code,
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "medium"},
                },
            },
        }
    }
    server = Server(reply(400, body, headers={"apim-request-id": "azure-req-7"}))
    client = harness.client(server, AZURE)

    error = await harness.chat_error(client)

    assert type(error) is ContentFilterError
    assert error.code == "content_filter"
    assert error.provider_message == AZURE_FILTER_MESSAGE
    assert error.request_id == "azure-req-7"
    assert server.calls == 1


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ExtConnectionError),
        (httpx.RemoteProtocolError("Server disconnected"), ExtConnectionError),
        (httpx.ReadTimeout("timed out"), ExtTimeoutError),
        (httpx.ConnectTimeout("timed out"), ExtTimeoutError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
async def test_transport_failures_are_retried_then_typed(
    harness, failure: Exception, cls: type[Exception]
) -> None:
    server = Server(failure)
    client = harness.client(server, SERVING, max_retries=2)

    error = await harness.chat_error(client)

    assert type(error) is cls
    assert error.provider == "databricks"  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, type(failure))
    assert server.calls == 3
    assert len(harness.sleeps) == 2


async def test_connect_error_then_success(harness) -> None:
    server = Server(httpx.ConnectError("refused"), reply(200, CHAT_OK))
    client = harness.client(server, SERVING)

    response = await harness.chat(client)

    assert response.choices[0].content == "ok"
    assert server.calls == 2


# -- streams -----------------------------------------------------------------------------------


async def test_stream_503_then_200_is_retried(harness) -> None:
    server = Server(reply(503, {"message": "warming up"}), reply(stream=FULL_STREAM))
    client = harness.client(server, SERVING)

    chunks, error = await harness.stream(client)

    assert error is None
    assert chunks == FULL_CHUNKS
    assert server.calls == 2
    assert len(harness.sleeps) == 1


OVERLOADED = sse({"error": {"message": "Overloaded", "type": "overloaded_error"}})
# Azure sends prompt-filter results first: no choices, no usage, nothing for the caller.
PROMPT_FILTER = sse({"id": "", "model": "", "choices": [], "prompt_filter_results": []})


@pytest.mark.parametrize(
    "body",
    [Body(OVERLOADED), Body(PROMPT_FILTER, OVERLOADED), Body(b": keep-alive\n\n", OVERLOADED)],
    ids=["error-first", "after-empty-choices-chunk", "after-comment"],
)
async def test_stream_error_event_before_anything_yielded_is_retried(harness, body: Body) -> None:
    server = Server(reply(stream=body), reply(stream=FULL_STREAM))
    client = harness.client(server, SERVING)

    chunks, error = await harness.stream(client)

    assert error is None
    assert chunks == FULL_CHUNKS
    assert server.calls == 2


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        (Body(sse(event("", role="assistant"), event("Hi"))), MalformedResponseError),
        (
            Body(
                sse(event("", role="assistant"), event("Hi")),
                sse({"error": {"message": "Overloaded", "type": "overloaded_error"}}),
            ),
            ServerError,
        ),
        (
            Body(sse(event("", role="assistant"), event("Hi")), fail=httpx.ReadError("reset")),
            ExtConnectionError,
        ),
        (
            Body(sse(event("", role="assistant"), event("Hi")), fail=httpx.ReadTimeout("stalled")),
            ExtTimeoutError,
        ),
    ],
    ids=["truncated-no-done-no-finish", "error-event", "connection-reset", "read-timeout"],
)
async def test_stream_failing_after_it_yielded_is_not_replayed(
    harness, body: Body, cls: type[Exception]
) -> None:
    server = Server(reply(stream=body), reply(stream=FULL_STREAM))
    client = harness.client(server, SERVING, max_retries=2)

    chunks, error = await harness.stream(client)

    assert type(error) is cls
    assert chunks == FULL_CHUNKS[:2]
    assert server.calls == 1
    assert harness.sleeps == []


async def test_stream_client_error_is_typed_and_not_retried(harness) -> None:
    server = Server(
        reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such endpoint"})
    )
    client = harness.client(server, SERVING)

    chunks, error = await harness.stream(client)

    assert chunks == []
    assert type(error) is NotFoundError
    assert error.provider_message == "no such endpoint"  # type: ignore[union-attr]
    assert server.calls == 1


# -- secrets never reach an error --------------------------------------------------------------


def rendered(error: BaseException) -> str:
    """Everything a user, a log or a reporter could see of ``error``."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [str(v) for v in vars(error).values()]
    texts.append(str(pickle.loads(pickle.dumps(error))))
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("target", "secret", "message"),
    [
        (
            OPENAI,
            OPENAI_KEY,
            f"Incorrect API key provided: {OPENAI_KEY}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
        ),
        (SERVING, "dapi0123abcd", "Invalid token dapi0123abcd for this workspace"),
        (SERVING, "dapi0123abcd", "Authorization header was: Bearer dapi0123abcd"),
    ],
    ids=["openai-sk-key", "databricks-pat", "bearer-header"],
)
async def test_errors_never_contain_an_echoed_key(
    harness, target: dict, secret: str, message: str
) -> None:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    server = Server(reply(401, body))
    client = harness.client(server, target)

    error = await harness.chat_error(client)

    assert type(error) is AuthenticationError
    assert "invalid_api_key" in str(error)
    assert secret not in rendered(error)


@pytest.mark.parametrize(
    ("target", "secret"),
    [
        (
            {
                "external_model": {
                    "name": "llama",
                    "provider": "openai",
                    "task": "llm/v1/chat",
                    "openai_config": {
                        "openai_api_key_plaintext": "proxy-key-7f3a9c1e5b2d",
                        "openai_api_base": "http://localhost:8000/v1",
                    },
                }
            },
            "proxy-key-7f3a9c1e5b2d",
        ),
        (AZURE, "0123456789abcdef0123456789abcdef"),
    ],
    ids=["openai-compatible-key", "azure-api-key"],
)
async def test_errors_never_contain_an_echoed_key_of_any_shape(
    harness, target: dict, secret: str
) -> None:
    # No credential pattern matches these keys: only masking the value actually sent hides them.
    server = Server(reply(401, {"error": {"message": f"invalid key {secret}"}}))
    client = harness.client(server, target)

    error = await harness.chat_error(client)

    assert type(error) is AuthenticationError
    assert "invalid key ***" in str(error)
    assert secret not in rendered(error)
