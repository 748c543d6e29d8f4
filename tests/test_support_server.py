"""Tests for the deterministic OpenAI / Databricks stub server in ``tests/support``."""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.openai_server import CREATED, EMBEDDING_DIM, OpenAIStubServer

AUTH = {"Authorization": "Bearer test-key"}
CHAT = "/v1/chat/completions"

MAGIC_FUNCTION = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "description": "Apply a magic function to an input.",
        "parameters": {
            "type": "object",
            "properties": {
                "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
            },
            "required": ["input"],
        },
    },
}
GET_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather at a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
MY_ADDER = {
    "type": "function",
    "function": {
        "name": "my_adder_tool",
        "parameters": {
            "type": "object",
            "required": ["a", "b"],
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        },
    },
}
JOKE_SCHEMA = {  # pydantic-style: $defs/$ref, optional field as anyOf [string, null], an enum
    "title": "Joke",
    "type": "object",
    "$defs": {"Mood": {"enum": ["silly", "dry"], "type": "string"}},
    "properties": {
        "setup": {"type": "string"},
        "punchline": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "mood": {"$ref": "#/$defs/Mood"},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["setup", "mood", "rating"],
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def sse(response: httpx.Response) -> list[dict[str, Any]]:
    """Parse an SSE body, checking the framing: ``data: ...`` events ending in ``[DONE]``."""
    assert response.headers["content-type"] == "text/event-stream"
    blocks = response.text.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    assert all(block.startswith("data: ") for block in blocks[:-2])
    return [json.loads(block[len("data: ") :]) for block in blocks[:-2]]


def streamed_text(events: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        c["delta"].get("content") or "" for e in events for c in e["choices"] if c["index"] == index
    )


@pytest.fixture
def server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as srv:
        yield srv


@pytest.fixture
def client(server: OpenAIStubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as c:
        yield c


def chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(CHAT, json={"model": "gpt-test", **body})
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- lifecycle
def test_start_stop_is_clean_even_with_idle_keep_alive_connections() -> None:
    before = set(threading.enumerate())
    srv = OpenAIStubServer().start()
    port = srv.port
    assert srv.base_url == f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=srv.base_url, headers=AUTH)  # left open: idle keep-alive
    for _ in range(3):
        assert client.post(CHAT, json={"messages": [user("hi")]}).status_code == 200
    assert set(threading.enumerate()) - before  # serve loop + handler thread running
    srv.stop()
    srv.stop()  # idempotent
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    client.close()
    with pytest.raises(RuntimeError):
        _ = srv.base_url


def test_requests_are_recorded_thread_safely(server: OpenAIStubServer) -> None:
    def call(i: int) -> int:
        url = f"{server.base_url}/openai/deployments/dep/chat/completions?api-version=2024-06-01"
        headers = {"api-key": "k", "X-Custom": str(i)}
        return httpx.post(url, json={"messages": [user(f"q{i}")]}, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(24))) == {200}
    assert len(server.requests) == 24
    first = server.requests[0]
    assert first.method == "POST"
    assert first.path == "/openai/deployments/dep/chat/completions"
    assert first.query == {"api-version": "2024-06-01"}
    assert first.headers["api-key"] == "k" and "x-custom" in first.headers
    assert sorted(r.json["messages"][0]["content"] for r in server.requests) == sorted(
        f"q{i}" for i in range(24)
    )
    server.reset()
    assert server.requests == []


# ----------------------------------------------------------------------------- chat
def test_chat_plain_shape_and_determinism(client: httpx.Client) -> None:
    body = {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "be brief"}, user("Hello there")],
    }
    first, second = client.post(CHAT, json=body), client.post(CHAT, json=body)
    assert first.content == second.content  # byte-identical
    assert first.headers["x-request-id"] == second.headers["x-request-id"]
    assert first.headers["date"] == second.headers["date"]
    data = first.json()
    assert data["object"] == "chat.completion" and data["created"] == CREATED
    assert data["id"].startswith("chatcmpl-") and data["model"] == "gpt-test"
    (choice,) = data["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "Hello there" in choice["message"]["content"]
    assert "tool_calls" not in choice["message"]
    usage = data["usage"]
    assert usage["prompt_tokens"] == (2 + 1) + (2 + 1)  # words + 1 per message
    assert usage["completion_tokens"] == len(choice["message"]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    other = client.post(CHAT, json={**body, "messages": [user("Something else")]})
    assert other.json()["id"] != data["id"]
    assert other.headers["x-request-id"] != first.headers["x-request-id"]


def test_responses_identical_across_server_instances() -> None:
    body = {
        "messages": [user("What is the value of magic_function(3)?")],
        "tools": [MAGIC_FUNCTION],
        "stream": True,
    }
    captured = []
    for _ in range(2):
        with OpenAIStubServer() as srv:
            response = httpx.post(srv.base_url + CHAT, json=body, headers=AUTH)
            captured.append((response.content, dict(response.headers)))
    assert captured[0] == captured[1]


def test_chat_stream_concatenates_to_plain_text_without_usage(client: httpx.Client) -> None:
    messages = [user("Write me 2 haikus. Only include the haikus.")]
    plain = chat(client, messages=messages)
    response = client.post(CHAT, json={"model": "gpt-test", "messages": messages, "stream": True})
    events = sse(response)
    assert all(e["object"] == "chat.completion.chunk" and e["usage"] is None for e in events)
    assert all(e["created"] == CREATED and e["id"] == events[0]["id"] for e in events)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("role" not in e["choices"][0]["delta"] for e in events[1:])
    assert len(events) > 5  # one chunk per word
    assert streamed_text(events) == plain["choices"][0]["message"]["content"]
    assert events[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }


def test_chat_stream_usage_only_with_include_usage(client: httpx.Client) -> None:
    messages = [user("Hello")]
    plain = chat(client, messages=messages)
    body = {"messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    events = sse(client.post(CHAT, json=body))
    *rest, last = events
    assert last["choices"] == [] and last["usage"] == plain["usage"]
    assert all(e["usage"] is None and e["choices"] for e in rest)
    no_usage = sse(client.post(CHAT, json={**body, "stream_options": {"include_usage": False}}))
    assert all(e["usage"] is None and e["choices"] for e in no_usage)


def test_chat_n_choices(client: httpx.Client) -> None:
    single = chat(client, messages=[user("Hello")])
    data = chat(client, messages=[user("Hello")], n=3)
    texts = [c["message"]["content"] for c in data["choices"]]
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3 and texts[0] == single["choices"][0]["message"]["content"]
    assert data["usage"]["prompt_tokens"] == single["usage"]["prompt_tokens"]
    assert data["usage"]["completion_tokens"] == sum(len(t.split()) for t in texts)
    events = sse(client.post(CHAT, json={"messages": [user("Hello")], "n": 3, "stream": True}))
    assert [streamed_text(events, i) for i in range(3)] == texts
    assert client.post(CHAT, json={"messages": [user("x")], "n": 0}).status_code == 400


def test_chat_stop_and_max_tokens(client: httpx.Client) -> None:
    full = chat(client, messages=[user("hi")])["choices"][0]["message"]["content"]
    assert "you" in full.split("hi", 1)[1]  # the stop test has something to cut
    stopped = chat(client, messages=[user("hi")], stop=["you", "never"])["choices"][0]
    assert stopped["finish_reason"] == "stop"
    assert stopped["message"]["content"] == full[: full.index("you")]
    assert chat(client, messages=[user("hi")], stop="you")["choices"][0] == stopped
    short = chat(client, messages=[user("hi")], max_tokens=3)["choices"][0]
    assert short["finish_reason"] == "length"
    assert short["message"]["content"] == " ".join(full.split()[:3])
    body = {"messages": [user("hi")], "max_tokens": 3, "stream": True}
    events = sse(client.post(CHAT, json=body))
    assert streamed_text(events) == short["message"]["content"]
    assert events[-1]["choices"][0]["finish_reason"] == "length"


# ----------------------------------------------------------------------------- tools
def test_tool_call_plain_and_streamed(client: httpx.Client) -> None:
    body = {
        "messages": [user("What is the value of magic_function(3)? Use the tool.")],
        "tools": [MAGIC_FUNCTION],
        "tool_choice": "required",
    }
    data = chat(client, **body)
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "magic_function"
    assert json.loads(call["function"]["arguments"]) == {"input": 3}
    assert chat(client, **body)["choices"][0]["message"]["tool_calls"][0]["id"] == call["id"]

    events = sse(client.post(CHAT, json={**body, "stream": True}))
    deltas = [c["delta"].get("tool_calls") for e in events for c in e["choices"]]
    fragments = [d[0] for d in deltas if d]
    head, *args = fragments
    assert head == {
        "index": 0,
        "id": call["id"],
        "type": "function",
        "function": {"name": "magic_function", "arguments": ""},
    }
    assert len(args) >= 2 and all(set(a) == {"index", "function"} for a in args)
    assert "".join(a["function"]["arguments"] for a in args) == call["function"]["arguments"]
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("tools", "tool_choice", "prompt", "name", "args"),
    [
        (
            [MAGIC_FUNCTION],
            None,
            "What is the value of magic_function(3)? Use the tool.",
            "magic_function",
            {"input": 3},
        ),
        ([MAGIC_FUNCTION, GET_WEATHER], "any", "Hello!", "magic_function", {"input": 3}),
        (
            [MAGIC_FUNCTION, GET_WEATHER],
            {"type": "function", "function": {"name": "get_weather"}},
            "Hello!",
            "get_weather",
            {"location": "San Francisco, CA"},
        ),
        (
            [GET_WEATHER],
            "auto",
            "What is the weather in Paris, France?",
            "get_weather",
            {"location": "Paris, France"},
        ),
        ([MY_ADDER], "required", "What is 3 + 4", "my_adder_tool", {"a": 3, "b": 4}),
        (
            [
                {
                    "type": "function",
                    "function": {
                        "name": "magic_function_no_args",
                        "parameters": {"type": "object", "properties": {}},
                    },
                }
            ],
            None,
            "What is the value of magic_function_no_args()? Use the tool.",
            "magic_function_no_args",
            {},
        ),
        (
            [
                {
                    "type": "function",
                    "function": {
                        "name": "greeting_generator",
                        "parameters": {
                            "type": "object",
                            "properties": {"answer_style": {"type": "string"}},
                            "required": ["answer_style"],
                        },
                    },
                }
            ],
            "required",
            "Using the tool, generate a Pirate greeting.",
            "greeting_generator",
            {"answer_style": "pirate"},
        ),
        (
            [{"type": "function", "function": {"name": "Joke", "parameters": JOKE_SCHEMA}}],
            {"type": "function", "function": {"name": "Joke"}},
            "Tell me a dry joke about cats.",
            "Joke",
            {
                "setup": "Why did the cat sit on the computer?",
                "punchline": "To keep an eye on the mouse.",
                "mood": "dry",
                "rating": 3,
            },
        ),
    ],
)
def test_tool_call_scripting(
    client: httpx.Client,
    tools: list[dict[str, Any]],
    tool_choice: Any,
    prompt: str,
    name: str,
    args: dict[str, Any],
) -> None:
    body: dict[str, Any] = {"messages": [user(prompt)], "tools": tools}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    (call,) = chat(client, **body)["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == name
    assert json.loads(call["function"]["arguments"]) == args


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company",
            "你好啊集团",
        ),
        (
            "Create a customer named 'こんにちは株式会社' (Hello Corporation) - a Japanese company",
            "こんにちは株式会社",
        ),
    ],
)
def test_unicode_arguments_are_not_escaped(client: httpx.Client, text: str, expected: str) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "unicode_customer",
            "parameters": {
                "type": "object",
                "required": ["customer_name", "description"],
                "properties": {
                    "customer_name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    }
    response = client.post(
        CHAT, json={"messages": [user(text)], "tools": [tool], "tool_choice": "required"}
    )
    assert expected.encode() in response.content  # raw UTF-8 on the wire, not \\u escapes
    arguments = response.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert json.loads(arguments["arguments"])["customer_name"] == expected


def test_text_instead_of_tool_call(client: httpx.Client) -> None:
    history = [
        user("What is 1 + 2"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "abc123",
                    "type": "function",
                    "function": {"name": "my_adder_tool", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "abc123", "content": '{"result": 3}'},
    ]
    after_tool = chat(client, messages=history, tools=[MY_ADDER])["choices"][0]
    assert after_tool["message"]["content"] == 'The result is {"result": 3}.'
    assert after_tool["finish_reason"] == "stop"
    unrelated = chat(client, messages=[user("hello")], tools=[MY_ADDER])["choices"][0]
    assert "tool_calls" not in unrelated["message"] and unrelated["message"]["content"]
    disabled = chat(
        client, messages=[user("magic_function(3)")], tools=[MAGIC_FUNCTION], tool_choice="none"
    )["choices"][0]
    assert "tool_calls" not in disabled["message"]
    bad = client.post(
        CHAT,
        json={
            "messages": [user("x")],
            "tools": [MY_ADDER],
            "tool_choice": {"type": "function", "function": {"name": "nope"}},
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_response_ids_ignore_client_minted_tool_call_ids(client: httpx.Client) -> None:
    def history(call_id: str) -> list[dict[str, Any]]:
        call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        return [
            user("What is 1 + 2"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "3"},
            user("What is 3 + 4"),
        ]

    first = client.post(CHAT, json={"messages": history("uuid-a"), "tools": [MY_ADDER]})
    second = client.post(CHAT, json={"messages": history("uuid-b"), "tools": [MY_ADDER]})
    assert first.content == second.content
    assert first.headers["x-request-id"] == second.headers["x-request-id"]


def test_structured_output_response_formats(client: httpx.Client) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Joke", "schema": JOKE_SCHEMA, "strict": True},
    }
    data = chat(
        client, messages=[user("Tell me a joke about cats.")], response_format=response_format
    )
    joke = json.loads(data["choices"][0]["message"]["content"])
    assert set(joke) == {"setup", "punchline", "mood", "rating"}
    assert joke["setup"] and joke["punchline"] and joke["mood"] in {"silly", "dry"}
    assert 1 <= joke["rating"] <= 5
    events = sse(
        client.post(
            CHAT,
            json={
                "messages": [user("Tell me a joke about cats.")],
                "response_format": response_format,
                "stream": True,
            },
        )
    )
    assert json.loads(streamed_text(events)) == joke

    prompt = (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and "
        "'punchline' keys. Return nothing other than JSON."
    )
    data = chat(client, messages=[user(prompt)], response_format={"type": "json_object"})
    obj = json.loads(data["choices"][0]["message"]["content"])
    assert set(obj) == {"setup", "punchline"} and all(obj.values())


# ----------------------------------------------------------------------------- completions
def test_completions_list_prompts_and_n(client: httpx.Client) -> None:
    body = {"model": "instruct", "prompt": ["Say alpha", "Say beta"], "n": 2}
    data = client.post("/v1/completions", json=body).json()
    assert data["object"] == "text_completion" and data["id"].startswith("cmpl-")
    assert [c["index"] for c in data["choices"]] == [0, 1, 2, 3]
    texts = [c["text"] for c in data["choices"]]
    assert all("alpha" in t for t in texts[:2]) and all("beta" in t for t in texts[2:])
    assert len(set(texts)) == 4
    assert all(c["logprobs"] is None and c["finish_reason"] == "stop" for c in data["choices"])
    assert data["usage"]["prompt_tokens"] == 4

    single = client.post("/v1/completions", json={"prompt": "Say alpha"}).json()
    assert single["choices"][0]["text"] == texts[0] and single["model"] == "stub-model"

    stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
    events = sse(client.post("/v1/completions", json=stream))
    assert all(e["object"] == "text_completion" for e in events)
    *rest, last = events
    assert last["choices"] == [] and last["usage"] == data["usage"]
    assert all(e["usage"] is None for e in rest)
    for i, text in enumerate(texts):
        parts = [c for e in rest for c in e["choices"] if c["index"] == i]
        assert "".join(c["text"] for c in parts) == text
        assert [c["finish_reason"] for c in parts][-1] == "stop"
    assert client.post("/v1/completions", json={"prompt": [[1, 2]]}).status_code == 400


# ----------------------------------------------------------------------------- embeddings
def test_embeddings_deterministic_unit_vectors(client: httpx.Client) -> None:
    body = {"model": "embed", "input": ["hello world", "other", "hello world"]}
    first = client.post("/v1/embeddings", json=body)
    assert first.content == client.post("/v1/embeddings", json=body).content
    data = first.json()
    assert data["object"] == "list" and data["model"] == "embed"
    assert data["usage"] == {"prompt_tokens": 5, "total_tokens": 5}  # whitespace words
    vectors = [d["embedding"] for d in data["data"]]
    assert [d["index"] for d in data["data"]] == [0, 1, 2]
    assert all(d["object"] == "embedding" for d in data["data"])
    assert vectors[0] == vectors[2] != vectors[1]
    assert all(len(v) == EMBEDDING_DIM for v in vectors)
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-9) for v in vectors)
    single = client.post("/v1/embeddings", json={"input": "hello world"}).json()
    assert single["data"][0]["embedding"] == vectors[0]


def test_embeddings_dimensions_base64_and_validation(client: httpx.Client) -> None:
    small = client.post("/v1/embeddings", json={"input": "x", "dimensions": 8}).json()
    vector = small["data"][0]["embedding"]
    assert len(vector) == 8 and math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-9)
    encoded = client.post(
        "/v1/embeddings", json={"input": "x", "dimensions": 8, "encoding_format": "base64"}
    ).json()
    decoded = struct.unpack("<8f", base64.b64decode(encoded["data"][0]["embedding"]))
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, vector, strict=True))
    for bad in (
        {"input": [1, 2, 3]},
        {"input": [[1, 2]]},
        {"input": []},
        {"input": ["x"] * 2049},
        {"input": "x", "dimensions": 0},
    ):
        response = client.post("/v1/embeddings", json=bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert client.post("/v1/embeddings", json={"input": ["x"] * 2048}).status_code == 200


# ----------------------------------------------------------------------------- routing
def test_databricks_invocations_infer_task_and_model(client: httpx.Client) -> None:
    url = "/serving-endpoints/my-endpoint/invocations"
    chat_data = client.post(url, json={"messages": [user("hi")]}).json()
    assert chat_data["object"] == "chat.completion" and chat_data["model"] == "my-endpoint"
    completion = client.post(url, json={"prompt": "hi", "model": "explicit"}).json()
    assert completion["object"] == "text_completion" and completion["model"] == "explicit"
    embedding = client.post(url, json={"input": ["hi"]}).json()
    assert embedding["object"] == "list" and embedding["model"] == "my-endpoint"
    events = sse(client.post(url, json={"messages": [user("hi")], "stream": True}))
    assert streamed_text(events) == chat_data["choices"][0]["message"]["content"]
    unknown = client.post(url, json={"foo": 1})
    assert unknown.status_code == 400


def test_openai_compatible_prefixes_and_errors(client: httpx.Client) -> None:
    azure = client.post(
        "/openai/deployments/gpt4o-dep/chat/completions",
        params={"api-version": "2024-06-01"},
        json={"messages": [user("hi")]},
    ).json()
    assert azure["model"] == "gpt4o-dep"
    databricks = client.post(
        "/serving-endpoints/chat/completions", json={"model": "dbrx", "messages": [user("hi")]}
    ).json()
    assert databricks["model"] == "dbrx" and databricks["object"] == "chat.completion"
    assert (
        client.post("/openai/deployments/emb/embeddings", json={"input": "x"}).json()["model"]
        == "emb"
    )
    assert client.post("/v1/nothing", json={}).status_code == 404
    assert client.get(CHAT).status_code == 405
    invalid = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert invalid.status_code == 400
    assert client.post(CHAT, json={"messages": []}).status_code == 400


def test_auth_required(server: OpenAIStubServer) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"api-key": ""},
    ):
        response = httpx.post(
            server.base_url + CHAT, json={"messages": [user("hi")]}, headers=headers
        )
        assert response.status_code == 401, headers
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"
        assert error["message"] and response.headers["x-request-id"].startswith("req_")
    for headers in ({"Authorization": "Bearer abc"}, {"api-key": "abc"}):
        response = httpx.post(
            server.base_url + CHAT, json={"messages": [user("hi")]}, headers=headers
        )
        assert response.status_code == 200


def test_fail_next(server: OpenAIStubServer, client: httpx.Client) -> None:
    server.fail_next(429, headers={"retry-after": "0"}, times=2)
    for _ in range(2):
        response = client.post(CHAT, json={"messages": [user("hi")]})
        assert response.status_code == 429 and response.headers["retry-after"] == "0"
        assert response.json()["error"]["message"]
    assert client.post(CHAT, json={"messages": [user("hi")]}).status_code == 200
    custom = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
    server.fail_next(503, body=custom)
    response = client.post("/v1/embeddings", json={"input": "x"})
    assert response.status_code == 503 and response.json() == custom
    server.fail_next(500)
    assert httpx.post(server.base_url + CHAT, json={}).status_code == 500  # before auth
    assert len(server.requests) == 5


# ----------------------------------------------------------------------------- quirks
def test_quirks_mode() -> None:
    with (
        OpenAIStubServer(quirks=True) as srv,
        httpx.Client(base_url=srv.base_url, headers=AUTH) as client,
    ):
        plain = chat(client, messages=[user("Hello")])
        content = plain["choices"][0]["message"]["content"]
        assert content[0] == {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "thinking..."}],
        }
        assert content[1]["type"] == "text" and content[1]["text"]

        events = sse(client.post(CHAT, json={"messages": [user("Hello")], "stream": True}))
        prelude, *chunks = events
        assert prelude["choices"] == [] and "usage" not in prelude
        assert all(e["usage"] is not None for e in chunks)  # even without include_usage
        assert {e["usage"]["prompt_tokens"] for e in chunks} == {plain["usage"]["prompt_tokens"]}
        completion = [e["usage"]["completion_tokens"] for e in chunks]
        assert completion == sorted(completion) and completion[0] < completion[-1]
        assert chunks[-1]["usage"] == plain["usage"]
        assert "role" in chunks[0]["choices"][0]["delta"]
        assert all("role" not in e["choices"][0]["delta"] for e in chunks[1:])
        assert streamed_text(chunks) == content[1]["text"]

        body = {
            "messages": [user("Hello")],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        *_, last = sse(client.post(CHAT, json=body))
        assert last["choices"] == [] and last["usage"] == plain["usage"]
