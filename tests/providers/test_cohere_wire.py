"""The stub server's Cohere wire (tests/support/wires/cohere.py): what it refuses as the v2 API
does, and that our adapter round-trips through it (the cassettes are recorded against it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extmodels_integrations import ExternalClient
from extmodels_integrations._exceptions import BadRequestError
from extmodels_integrations._types import ChatRequest
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.cohere import MAX_TEXTS, TEMPLATE_TOKENS

AUTH = {"Authorization": "Bearer stub-key"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def http(server: OpenAIStubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        yield client


def client(server: OpenAIStubServer, task: str, name: str = "command-r") -> ExternalClient:
    return ExternalClient(
        external_model={
            "name": name,
            "provider": "cohere",
            "task": task,
            "cohere_config": {
                "cohere_api_key_plaintext": "stub-key",
                "cohere_api_base": server.base_url,
            },
        },
        max_retries=0,
    )


def chat(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v2/chat", json={"model": "command-r", **body})


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "parameter n is not valid"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, "unknown role"),
        ({"messages": []}, "messages must not be empty"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "ANY"},
            "REQUIRED or NONE",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}], "stop_sequences": list("abcdef")},
            "at most 5",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "reasoning"}]}]},
            "not text or thinking",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]},
            "user content type 'file' is not image_url or text",
        ),
        (
            {"messages": [{"role": "user", "content": [image_part("gs://bucket/cat.png")]}]},
            "image_url.url 'gs://bucket/cat.png' is not an image URL",
        ),
        (
            {
                "messages": [
                    {
                        "role": "tool",
                        "tool_call_id": "c1",
                        "content": [image_part("https://x/a.png")],
                    }
                ]
            },
            "tool content type 'image_url' is not document or text",
        ),
    ],
)
def test_chat_refusals(http: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = chat(http, **body)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_images_by_data_url_or_web_url_are_taken(http: httpx.Client) -> None:
    parts = [{"type": "text", "text": "hi"}, image_part("data:image/png;base64,iVBORw0KGgo=")]
    parts.append(image_part("https://example.com/cat.png"))
    assert chat(http, messages=[{"role": "user", "content": parts}]).status_code == 200


def test_embed_refusals(http: httpx.Client) -> None:
    no_type = http.post("/v2/embed", json={"model": "embed", "texts": ["a"]})
    assert no_type.status_code == 400 and "input_type" in no_type.json()["message"]
    too_many = http.post(
        "/v2/embed",
        json={"model": "embed", "texts": ["a"] * (MAX_TEXTS + 1), "input_type": "search_query"},
    )
    assert too_many.status_code == 400 and "at most 96" in too_many.json()["message"]


def test_missing_key_is_refused_in_cohere_shape(server: OpenAIStubServer) -> None:
    response = httpx.post(f"{server.base_url}/v2/chat", json={"model": "m"})
    assert response.status_code == 401 and set(response.json()) == {"id", "message"}


def test_usage_has_template_tokens_the_bill_leaves_out(http: httpx.Client) -> None:
    body = chat(http, messages=[{"role": "user", "content": "Hello there"}]).json()
    usage = body["usage"]
    assert (
        usage["tokens"]["input_tokens"] == usage["billed_units"]["input_tokens"] + TEMPLATE_TOKENS
    )
    assert body["finish_reason"] == "COMPLETE" and body["message"]["content"][0]["type"] == "text"


def test_stream_is_named_events_from_message_start_to_message_end(http: httpx.Client) -> None:
    with http.stream(
        "POST",
        "/v2/chat",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    ) as response:
        names = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert names[0] == "message-start" and names[-1] == "message-end"
    assert "content-delta" in names


def test_adapter_round_trip_chat_stream_and_tools(server: OpenAIStubServer) -> None:
    with client(server, "llm/v1/chat") as chat_client:
        answer = chat_client.chat(messages=[{"role": "user", "content": "Say hi"}])
        assert answer.choices[0].content and answer.choices[0].finish_reason == "stop"
        assert answer.usage is not None and answer.usage.prompt_tokens > TEMPLATE_TOKENS
        streamed = list(chat_client.stream_chat(messages=[{"role": "user", "content": "Say hi"}]))
        text = "".join(c.choices[0].content or "" for c in streamed if c.choices)
        assert text == answer.choices[0].content
        assert streamed[-1].usage == answer.usage
        request = ChatRequest(
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER],
            tool_choice="required",
        )
        [call] = chat_client.chat(request).choices[0].tool_calls
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert server.last_json()["tool_choice"] == "REQUIRED"


def test_adapter_round_trip_embeddings(server: OpenAIStubServer) -> None:
    with client(server, "llm/v1/embeddings", "embed-english-v3.0") as embed_client:
        query = embed_client.embed(["cats"], input_kind="query").embeddings[0]
        document = embed_client.embed(["cats"]).embeddings[0]
        assert query != document  # input_type reaches the (stub) model
        many = embed_client.embed([f"t{i}" for i in range(100)])
    assert len(many.embeddings) == 100
    assert [len(r.json["texts"]) for r in server.requests[-2:]] == [96, 4]


def test_adapter_sees_the_wire_errors(server: OpenAIStubServer) -> None:
    with client(server, "llm/v1/chat") as chat_client, pytest.raises(BadRequestError) as caught:
        chat_client.chat(messages=[{"role": "user", "content": "x"}], stop=list("abcdef"))
    assert caught.value.request_id and "at most 5" in str(caught.value)
