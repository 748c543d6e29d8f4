"""Cohere mapping rules the conformance table does not spell out: message conversion,
tool_choice, finish reasons, usage, input_type, base URLs, error bodies, and embeddings
batching at 96 through a real ExternalClient."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from extmodels_integrations import ExternalClient
from extmodels_integrations._auth import StaticAuth
from extmodels_integrations._exceptions import (
    MalformedResponseError,
    ServerError,
    UnsupportedParameterError,
)
from extmodels_integrations._transport import SSEEvent
from extmodels_integrations._types import ChatRequest, EmbeddingsRequest, Usage
from extmodels_integrations.providers import cohere
from tests.providers.cases.cohere import EMBEDDINGS, KEY, TIME_TOOL, WEATHER_TOOL


def test_messages_map_roles_and_fold_parts() -> None:
    messages: Any = [
        {"role": "developer", "content": [{"type": "text", "text": "Be "}, "brief."]},
        {"role": "user", "content": None},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"x": 1}}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
    ]
    assert cohere.to_cohere_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": ""},
        # No text before the call: no tool_plan; dict arguments become JSON text.
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "assistant", "content": "Done."},
    ]


def test_earlier_reasoning_goes_back_as_the_tool_plan_or_not_at_all() -> None:
    call = {"id": "c1", "function": {"name": "f", "arguments": "{}"}}
    plan: Any = [{"type": "reasoning", "reasoning": "I will call f.", "index": 0}]
    thought: Any = [
        {"type": "thinking", "thinking": "Hm.", "signature": "s"},
        {"type": "redacted_thinking", "data": "x"},
        {"type": "text", "text": "Done."},
    ]
    called, answered = cohere.to_cohere_messages(
        [
            {"role": "assistant", "content": plan, "tool_calls": [call]},
            {"role": "assistant", "content": thought},
        ]
    )
    assert called["tool_plan"] == "I will call f." and "content" not in called
    # Reasoning without a call to plan for is left out (redacted reasoning has no text).
    assert answered == {"role": "assistant", "content": "Done."}


def test_user_image_parts_pass_through_but_not_in_system_turns() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
    user: Any = [{"role": "user", "content": [{"type": "text", "text": "What?"}, image]}]
    assert cohere.to_cohere_messages(user)[0]["content"][1] == image
    with pytest.raises(UnsupportedParameterError, match="content part 'image_url'"):
        cohere.to_cohere_messages([{"role": "system", "content": [image]}])


def test_unknown_role_is_refused() -> None:
    with pytest.raises(UnsupportedParameterError, match="message role 'function'"):
        cohere.to_cohere_messages([{"role": "function", "content": "x"}])


def test_strict_tools_become_v2_strict_tools() -> None:
    strict = {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "strict": True}}
    request = ChatRequest(messages=[{"role": "user", "content": "x"}], tools=[strict, TIME_TOOL])
    body = cohere.chat_body(request, "m", stream=False)
    # v2 has one switch for all tools and no per-function flag.
    assert body["strict_tools"] is True
    assert body["tools"] == [WEATHER_TOOL, TIME_TOOL]
    assert "strict" in strict["function"]  # the caller's tool is not changed
    plain = cohere.chat_body(
        ChatRequest(messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL]),
        "m",
        stream=False,
    )
    assert "strict_tools" not in plain


@pytest.mark.parametrize(
    ("choice", "tools", "wire"),
    [
        (None, [WEATHER_TOOL], None),
        ("auto", [WEATHER_TOOL], None),
        ("none", [WEATHER_TOOL], "NONE"),
        ("required", [WEATHER_TOOL, TIME_TOOL], "REQUIRED"),
        ("any", [WEATHER_TOOL], "REQUIRED"),
        ({"type": "function", "function": {"name": "get_weather"}}, [WEATHER_TOOL], "REQUIRED"),
    ],
)
def test_tool_choice(choice: Any, tools: list[dict[str, Any]], wire: str | None) -> None:
    assert cohere.to_cohere_tool_choice(choice, tools) == wire


def test_named_tool_choice_that_is_not_bound_is_refused() -> None:
    with pytest.raises(UnsupportedParameterError, match="tool_choice"):
        cohere.to_cohere_tool_choice({"function": {"name": "get_time"}}, [WEATHER_TOOL])


def test_parallel_tool_calls_false_is_refused() -> None:
    request = ChatRequest(
        messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], parallel_tool_calls=False
    )
    with pytest.raises(UnsupportedParameterError, match="parallel_tool_calls"):
        cohere.chat_body(request, "m", stream=False)


@pytest.mark.parametrize(
    ("value", "unified"),
    [
        ("COMPLETE", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("ERROR_LIMIT", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("content_blocked", "content_filter"),
        ("USER_CANCEL", "USER_CANCEL"),
        (None, None),
    ],
)
def test_finish_reasons(value: str | None, unified: str | None) -> None:
    assert cohere.finish_reason(value) == unified


def test_usage_prefers_tokens_and_falls_back_to_billed_units() -> None:
    both = {
        "billed_units": {"input_tokens": 1, "output_tokens": 2},
        "tokens": {"input_tokens": 10, "output_tokens": 2},
        "cached_tokens": 4,
    }
    assert cohere.parse_usage(both) == Usage(10, 2, 12, cache_read_tokens=4)
    assert cohere.parse_usage({"billed_units": {"input_tokens": 3}}) == Usage(3, 0, 3)
    assert cohere.parse_usage({}) is None
    assert cohere.parse_usage(None) is None


def adapter(**kwargs: Any) -> cohere.CohereAdapter:
    auth = StaticAuth({"Authorization": ("Bearer ", SecretStr(KEY))})
    return cohere.CohereAdapter(model="embed-v4.0", task=None, auth=auth, **kwargs)


def test_input_type_follows_the_input_kind_and_extra_params_override_it() -> None:
    cases = {"query": "search_query", "document": "search_document"}
    for kind, wire in cases.items():
        body = adapter().embeddings_request(EmbeddingsRequest(["t"], kind)).json  # type: ignore[arg-type]
        assert body["input_type"] == wire
    custom = EmbeddingsRequest(["t"], extra_params={"input_type": "classification"})
    assert adapter().embeddings_request(custom).json["input_type"] == "classification"


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.cohere.com", "https://api.cohere.com/v2/embed"),
        ("https://api.cohere.ai/v1", "https://api.cohere.ai/v2/embed"),
        ("https://proxy.example/cohere/v2/", "https://proxy.example/cohere/v2/embed"),
    ],
)
def test_api_base_with_or_without_version(base: str, url: str) -> None:
    assert adapter(api_base=base).embeddings_request(EmbeddingsRequest(["t"])).url == url


def test_error_body_that_is_not_json_and_echoed_key_masked() -> None:
    error = adapter().error(503, {}, f"upstream down for {KEY}".encode())
    assert isinstance(error, ServerError) and error.retryable
    assert KEY not in str(error) and "upstream down for ***" in str(error)


def test_stream_done_marker_and_unknown_events_are_skipped() -> None:
    parser = cohere.ChatStreamParser()
    assert parser.parse(SSEEvent("[DONE]")) is None
    assert parser.parse(SSEEvent('{"type": "citation-start", "index": 0}')) is None
    with pytest.raises(MalformedResponseError, match="malformed JSON"):
        parser.parse(SSEEvent("{nope"))
    with pytest.raises(MalformedResponseError, match="before message-end"):
        parser.finish()


def test_two_streamed_tool_calls_get_their_own_indexes() -> None:
    parser = cohere.ChatStreamParser()

    def start(index: int, call_id: str) -> SSEEvent:
        call = {"id": call_id, "function": {"name": "f", "arguments": ""}}
        data = {
            "type": "tool-call-start",
            "index": index,
            "delta": {"message": {"tool_calls": call}},
        }
        return SSEEvent(json.dumps(data))

    def delta(index: int, text: str) -> SSEEvent:
        message = {"tool_calls": {"function": {"arguments": text}}}
        data = {"type": "tool-call-delta", "index": index, "delta": {"message": message}}
        return SSEEvent(json.dumps(data))

    indexes = []
    for event in (start(3, "a"), delta(3, "{}"), start(5, "b"), delta(5, "{}")):
        chunk = parser.parse(event)
        assert chunk is not None and chunk.choices[0].tool_calls
        indexes.append(chunk.choices[0].tool_calls[0].index)
    assert indexes == [0, 0, 1, 1]


class EchoEmbed:
    """A v2 embed endpoint whose vectors give back each text's number, so order shows."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert str(request.url) == "https://api.cohere.com/v2/embed"
        self.sizes.append(len(body["texts"]))
        vectors = [[float(text.split()[1])] for text in body["texts"]]
        return httpx.Response(200, json={"embeddings": {"float": vectors}, "meta": {}})


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_embeddings_go_out_in_batches_of_96_in_order(asynchronous: bool) -> None:
    endpoint = EchoEmbed()
    mock = httpx.MockTransport(endpoint)
    texts = [f"text {i}" for i in range(200)]
    async with httpx.AsyncClient(transport=mock) as async_http:
        with (
            httpx.Client(transport=mock) as http,
            ExternalClient(**EMBEDDINGS, http_client=http, http_async_client=async_http) as client,
        ):
            assert client.embedding_batch_size() == 96
            assert client.embedding_batch_size(500) == 96
            response = await client.aembed(texts) if asynchronous else client.embed(texts)
    assert sorted(endpoint.sizes) == [8, 96, 96]
    assert response.embeddings == [[float(i)] for i in range(200)]
