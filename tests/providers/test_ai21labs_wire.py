"""The stub server's AI21 Labs wire (tests/support/wires/ai21labs.py): it owns ``/studio/v1/``
paths (not the OpenAI fallback), refuses what AI21 refuses, and our adapter round-trips
through it (the cassettes are recorded against it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extmodels_integrations import ExternalClient
from tests.support.openai_server import OpenAIStubServer

AUTH = {"Authorization": "Bearer stub-key"}
HI = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def http(server: OpenAIStubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        yield client


def client(server: OpenAIStubServer, task: str, name: str) -> ExternalClient:
    return ExternalClient(
        external_model={
            "name": name,
            "provider": "ai21labs",
            "task": task,
            "ai21labs_config": {
                "ai21labs_api_key_plaintext": "stub-key",
                "ai21labs_api_base": f"{server.base_url}/studio/v1",
            },
        },
        max_retries=0,
    )


def test_chat_path_is_ai21_not_the_openai_fallback(http: httpx.Client) -> None:
    body = http.post("/studio/v1/chat/completions", json={"model": "m", "messages": HI}).json()
    assert set(body) == {"id", "choices", "usage"}  # no model / object / created


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("chat/completions", {"messages": HI, "tool_choice": "auto"}, "tool_choice"),
        ("chat/completions", {"messages": HI, "n": 2, "stream": True}, "n"),
        (
            "chat/completions",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
            "messages",
        ),
        ("j2-mid/complete", {"prompt": "x", "stream": True}, "stream"),
        ("j2-mid/complete", {"prompt": ["x"]}, "prompt"),
    ],
)
def test_refusals(http: httpx.Client, path: str, body: dict[str, Any], field: str) -> None:
    model = {"model": "m"} if path == "chat/completions" else {}  # J2 names it in the path
    response = http.post(f"/studio/v1/{path}", json={**model, **body})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_j2_reply_has_token_lists_and_finish_objects(http: httpx.Client) -> None:
    body = http.post("/studio/v1/j2-ultra/complete", json={"prompt": "One two", "maxTokens": 2})
    [completion] = body.json()["completions"]
    assert completion["finishReason"] == {"reason": "length", "length": 2}
    assert len(completion["data"]["tokens"]) == 2
    assert len(body.json()["prompt"]["tokens"]) == 2


def test_adapter_round_trip_chat_and_stream(server: OpenAIStubServer) -> None:
    with client(server, "llm/v1/chat", "jamba-mini") as chat_client:
        answer = chat_client.chat(messages=HI)
        streamed = list(chat_client.stream_chat(messages=HI))
    text = "".join(c.choices[0].content or "" for c in streamed if c.choices)
    assert text == answer.choices[0].content and answer.model == "jamba-mini"
    assert streamed[-1].usage == answer.usage and answer.usage is not None
    assert "stream_options" not in server.last_json()


def test_adapter_round_trip_j2_and_its_single_chunk_stream(server: OpenAIStubServer) -> None:
    with client(server, "llm/v1/completions", "j2-ultra") as j2:
        answer = j2.complete(prompt="Once upon a time", n=2, max_tokens=50)
        [chunk, usage] = list(j2.stream_complete(prompt="Once upon a time", n=2, max_tokens=50))
    assert chunk.choices == answer.choices and len(answer.choices) == 2
    assert usage.usage == answer.usage and answer.usage is not None
    assert answer.usage.prompt_tokens == 4
    assert server.requests[-1].path == "/studio/v1/j2-ultra/complete"
    assert server.requests[-1].json == server.requests[-2].json  # no "stream" field
