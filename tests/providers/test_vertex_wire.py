"""The stub server's Vertex AI wire (tests/support/wires/vertex.py): what it refuses as Vertex
does, and that our adapter round-trips through it (the cassettes are recorded against it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extmodels_integrations import BadRequestError, ExternalClient, RateLimitError
from extmodels_integrations._types import ChatRequest
from tests.providers.cases.vertex import PROJECT, REGION, WEATHER_TOOL, service_account
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.vertex import TOKEN, TokenServer

PATH = f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/google/models"
AUTH = {"Authorization": "Bearer any-token"}


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    with TokenServer() as server:
        yield server


@pytest.fixture
def http(server: OpenAIStubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        yield client


def client(
    server: OpenAIStubServer, tokens: TokenServer, task: str, name: str = "gemini-2.0-flash"
) -> ExternalClient:
    return ExternalClient(
        external_model={
            "name": name,
            "provider": "google-cloud-vertex-ai",
            "task": task,
            "google_cloud_vertex_ai_config": {
                "project_id": PROJECT,
                "region": REGION,
                "private_key_plaintext": json.dumps(service_account(token_uri=tokens.uri)),
                "vertex_api_base": server.base_url,
            },
        },
        max_retries=0,
    )


def generate(http: httpx.Client, body: dict[str, Any], method: str = "generateContent") -> Any:
    return http.post(f"{PATH}/gemini-2.0-flash:{method}", json=body)


PNG_BLOB = {"mimeType": "image/png", "data": "iVBORw0KGgo="}
PNG = {"inlineData": PNG_BLOB}
CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
CALLS = {"role": "model", "parts": [CALL, CALL]}
RESULT = {
    "role": "user",
    "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "Sunny"}}}],
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "no contents"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
        ({"contents": [user("")]}, "empty text parameter"),
        (
            {"contents": [{"role": "user", "parts": [{"image_url": "x"}]}]},
            'Unknown name "image_url"',
        ),
        ({"contents": [{"role": "user", "parts": [{"text": "a", **PNG}]}]}, "Oneof field 'data'"),
        (
            {"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AAAA"}}]}]},
            "mimeType is required",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"inlineData": {**PNG_BLOB, "data": "@"}}]}]},
            "Base64 decoding failed",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png"}}]}]},
            "fileUri is required",
        ),
        ({"contents": [user("Hi"), RESULT]}, "immediately after a function call turn"),
        ({"contents": [user("Hi"), CALLS, RESULT]}, "number of function response parts"),
    ],
)
def test_the_wire_refuses_what_vertex_refuses(
    http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = generate(http, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and message in error["message"]


def test_streams_need_alt_sse_and_every_call_a_bearer(http: httpx.Client) -> None:
    assert generate(http, {"contents": [user("Hi")]}, "streamGenerateContent").status_code == 400
    anonymous = httpx.post(f"{http.base_url}{PATH}/gemini-2.0-flash:generateContent", json={})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["status"] == "UNAUTHENTICATED"


def test_embedding_batches_over_the_model_limit_are_refused(http: httpx.Client) -> None:
    instances = [{"content": "a", "task_type": "RETRIEVAL_DOCUMENT"}] * 2
    response = http.post(f"{PATH}/gemini-embedding-001:predict", json={"instances": instances})
    assert response.status_code == 400 and "at most 1" in response.json()["error"]["message"]


def test_stream_events_carry_cumulative_usage_with_crlf_framing(http: httpx.Client) -> None:
    response = http.post(
        f"{PATH}/gemini-2.0-flash:streamGenerateContent",
        params={"alt": "sse"},
        json={"contents": [user("Tell me about the sea")]},
    )
    events = [json.loads(e[len("data: ") :]) for e in response.text.split("\r\n\r\n") if e]
    counts = [e["usageMetadata"]["candidatesTokenCount"] for e in events]
    assert len(events) > 2 and counts == sorted(counts)
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_chat_round_trip_plain_stream_and_tools(
    server: OpenAIStubServer, tokens: TokenServer
) -> None:
    with client(server, tokens, "llm/v1/chat") as vertex:
        request = ChatRequest(
            messages=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
        )
        plain = vertex.chat(request)
        streamed = list(vertex.stream_chat(request))
        assert plain.choices[0].content and plain.usage is not None
        text = "".join(c.choices[0].content or "" for c in streamed if c.choices)
        assert text == plain.choices[0].content
        assert [c.usage for c in streamed if c.usage] == [plain.usage]
        assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"

        called = vertex.chat(
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER_TOOL],
            tool_choice="required",
        )
        call = called.choices[0].tool_calls[0]
        assert called.choices[0].finish_reason == "tool_calls" and call.name == "get_weather"
        answered = vertex.chat(
            messages=[
                {"role": "user", "content": "What is the weather in Paris?"},
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
                {"role": "tool", "tool_call_id": call.id, "content": "Sunny"},
            ],
            tools=[WEATHER_TOOL],
        )
        assert "Sunny" in (answered.choices[0].content or "")


def test_completions_and_embeddings_round_trip(
    server: OpenAIStubServer, tokens: TokenServer
) -> None:
    with client(server, tokens, "llm/v1/completions") as vertex:
        done = vertex.complete(prompt="Once upon a time", max_tokens=3)
        assert done.choices[0].finish_reason == "length" and done.usage is not None
    with client(server, tokens, "llm/v1/embeddings", "gemini-embedding-001") as vertex:
        server.reset()
        vectors = vertex.embed(["a", "b", "c"], input_kind="query")
    assert len(vectors.embeddings) == 3 and len(server.requests) == 3
    assert {r.json["instances"][0]["task_type"] for r in server.requests} == {"RETRIEVAL_QUERY"}


def test_errors_come_back_typed(server: OpenAIStubServer, tokens: TokenServer) -> None:
    with client(server, tokens, "llm/v1/chat") as vertex:
        server.fail_next(429)
        with pytest.raises(RateLimitError) as limited:
            vertex.chat(messages=[{"role": "user", "content": "Hi"}])
        assert limited.value.code == "RESOURCE_EXHAUSTED"
        server.fail_next(400)
        with pytest.raises(BadRequestError) as refused:
            vertex.chat(messages=[{"role": "user", "content": "Hi"}])
        assert refused.value.code == "INVALID_ARGUMENT" and not refused.value.retryable
