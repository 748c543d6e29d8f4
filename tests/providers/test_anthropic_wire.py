"""The stub server's Anthropic wire (``tests/support/wires/anthropic.py``): its replies have the
Messages API's shapes, it rejects what the API rejects, and our adapter talks to it end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extmodels_integrations import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    CompletionRequest,
    ExternalClient,
)
from extmodels_integrations._transport import SSEDecoder
from tests.support.openai_server import OpenAIStubServer

HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
MODEL = "claude-sonnet-4-5-20250929"
WEATHER = {
    "name": "get_weather",
    "description": "Get the weather at a location.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def post(server: OpenAIStubServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/v1/messages", json=body, headers={**HEADERS, **headers}, timeout=10
    )


def ask(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 200, "messages": [{"role": "user", "content": text}]} | (
        fields
    )


def events(response: httpx.Response) -> list[tuple[str | None, dict[str, Any]]]:
    decoder = SSEDecoder()
    decoded = decoder.feed(response.content) + decoder.close()
    return [(e.event, json.loads(e.data)) for e in decoded]


def test_a_request_without_x_api_key_gets_an_anthropic_401(server: OpenAIStubServer) -> None:
    response = post(server, ask("Hi"), **{"x-api-key": ""})
    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid credentials."},
    }


def test_a_plain_reply_is_a_message(server: OpenAIStubServer) -> None:
    response = post(server, ask("Hello there"))
    assert response.status_code == 200
    message = response.json()
    assert message["id"].startswith("msg_") and response.headers["request-id"].startswith("req_")
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", MODEL)
    assert message["stop_reason"] == "end_turn"
    assert [b["type"] for b in message["content"]] == ["text"]
    assert set(message["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }


def test_a_streamed_reply_is_the_named_event_sequence(server: OpenAIStubServer) -> None:
    plain = post(server, ask("Hello there")).json()
    streamed = events(post(server, ask("Hello there", stream=True)))
    names = [name for name, _ in streamed]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in streamed)
    text = "".join(d["delta"]["text"] for n, d in streamed if n == "content_block_delta")
    assert text == plain["content"][0]["text"]
    assert streamed[-2][1]["usage"] == {"output_tokens": plain["usage"]["output_tokens"]}


def test_a_streamed_tool_call_arrives_as_input_json_fragments(server: OpenAIStubServer) -> None:
    body = ask("What is the weather in Paris?", tools=[WEATHER], tool_choice={"type": "any"})
    plain = post(server, body).json()
    assert plain["stop_reason"] == "tool_use"
    (call,) = plain["content"]
    assert (call["type"], call["name"], call["input"]) == (
        "tool_use",
        "get_weather",
        {"location": "Paris"},
    )
    streamed = events(post(server, {**body, "stream": True}))
    fragments = [
        d["delta"]["partial_json"]
        for n, d in streamed
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert len(fragments) > 2 and json.loads("".join(fragments)) == call["input"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ask("Hi", n=2), "n: Extra inputs are not permitted"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}, "max_tokens: Field"),
        (ask(""), "text content blocks must be non-empty"),
        (
            ask(
                "Hi", messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
            ),
            "roles must alternate",
        ),
        (ask("Hi", messages=[{"role": "system", "content": "a"}]), "'user' or 'assistant'"),
        (
            ask(
                "Hi",
                messages=[
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                    },
                    {"role": "user", "content": "b"},
                ],
            ),
            "ids were found without `tool_result` blocks immediately after: t1",
        ),
    ],
)
def test_requests_the_api_rejects_are_rejected(
    server: OpenAIStubServer, body: dict[str, Any], message: str
) -> None:
    response = post(server, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]


def with_media(*blocks: dict[str, Any]) -> dict[str, Any]:
    return ask(
        "Hi", messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}, *blocks]}]
    )


PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
PDF = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}


def tool_result(*blocks: dict[str, Any]) -> dict[str, Any]:
    call = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": list(blocks)}
    turns = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
    ]
    return ask("Hi", messages=turns)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            with_media({"type": "image", "source": {**PNG, "media_type": "image/bmp"}}),
            "messages.0.content.1.image.source.base64.media_type: Input should be one of",
        ),
        (
            with_media({"type": "document", "source": {**PDF, "media_type": "image/png"}}),
            "document.source.base64.media_type",
        ),
        (with_media({"type": "image", "source": {"type": "url"}}), "image.source.url.url: Field"),
        (
            with_media({"type": "image", "source": {"type": "file", "file_id": "f1"}}),
            "source type 'file' is not supported",
        ),
        (
            tool_result({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}),
            "messages.2.content.0.tool_result.content: unexpected block type 'image_url'",
        ),
        (
            tool_result({"type": "document", "source": {"type": "base64", "data": "AA=="}}),
            "messages.2.content.0.tool_result.content.0.document.source.base64.media_type",
        ),
    ],
)
def test_media_blocks_the_api_rejects_are_rejected(
    server: OpenAIStubServer, body: dict[str, Any], message: str
) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        with_media(
            {"type": "image", "source": PNG},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "document", "source": PDF},
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "x"},
            },
        ),
        tool_result({"type": "image", "source": PNG}, {"type": "document", "source": PDF}),
    ],
)
def test_media_blocks_the_api_takes_are_taken(
    server: OpenAIStubServer, body: dict[str, Any]
) -> None:
    assert post(server, body).status_code == 200


# -- our adapter against the wire ----------------------------------------------------------------


@pytest.fixture
def client(server: OpenAIStubServer) -> Iterator[ExternalClient]:
    target = {
        "name": MODEL,
        "provider": "anthropic",
        "task": "llm/v1/chat",
        "anthropic_config": {
            "anthropic_api_key_plaintext": "test-key",
            "anthropic_api_base": server.base_url,
        },
    }
    with ExternalClient(external_model=target, max_retries=0) as chat:
        yield chat


def test_chat_plain_and_streamed_agree(client: ExternalClient) -> None:
    request = ChatRequest(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "user", "content": "Anyone there?"},
        ]
    )
    plain = client.chat(request)
    chunks = list(client.stream_chat(request))
    assert plain.choices[0].finish_reason == "stop" and plain.choices[0].content
    assert "".join(c.choices[0].content or "" for c in chunks if c.choices) == (
        plain.choices[0].content
    )
    assert chunks[-1].usage == plain.usage


def test_a_tool_round_trip(client: ExternalClient) -> None:
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]},
    }
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat(ChatRequest(messages=history, tools=[tool], tool_choice="required"))
    (call,) = first.choices[0].tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and call.id.startswith("toolu_")
    history += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21C"},
    ]
    second = client.chat(ChatRequest(messages=history, tools=[tool]))
    assert second.choices[0].content == "The result is Sunny, 21C."


def test_completions_plain_and_streamed(server: OpenAIStubServer) -> None:
    target = {
        "name": MODEL,
        "provider": "anthropic",
        "task": "llm/v1/completions",
        "anthropic_config": {
            "anthropic_api_key_plaintext": "test-key",
            "anthropic_api_base": server.base_url,
        },
    }
    with ExternalClient(external_model=target, max_retries=0) as client:
        plain = client.complete(CompletionRequest(prompt="Say hello", max_tokens=3))
        chunks = list(client.stream_complete(CompletionRequest(prompt="Say hello", max_tokens=3)))
    assert plain.choices[0].finish_reason == "length"
    assert "".join(c.text for chunk in chunks for c in chunk.choices) == plain.choices[0].text
    assert server.last_json()["messages"] == [{"role": "user", "content": "Say hello"}]


def test_errors_from_the_wire_are_typed(server: OpenAIStubServer, client: ExternalClient) -> None:
    server.fail_next(401)
    with pytest.raises(
        AuthenticationError,
        match=r"code=authentication_error, "
        r"url=http://127\.0\.0\.1:\d+/v1/messages\): Injected failure",
    ):
        client.chat(ChatRequest(messages=[{"role": "user", "content": "Hi"}]))
    with pytest.raises(BadRequestError, match="text content blocks must be non-empty"):
        # Native fields in extra_params win over the converted ones, unchecked by the adapter.
        empty = [{"role": "user", "content": [{"type": "text", "text": ""}]}]
        client.chat(
            ChatRequest(
                messages=[{"role": "user", "content": "Hi"}], extra_params={"messages": empty}
            )
        )
