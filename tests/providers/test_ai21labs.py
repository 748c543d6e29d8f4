"""AI21 Labs mapping rules the conformance table does not spell out: the public J2 helpers
(reused by Bedrock), message conversion, error bodies and the single-chunk J2 stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from extmodels_integrations._auth import StaticAuth
from extmodels_integrations._exceptions import (
    BadRequestError,
    MalformedResponseError,
    ServerError,
    UnsupportedParameterError,
)
from extmodels_integrations._types import (
    ChatRequest,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
)
from extmodels_integrations.providers import ai21labs

J2 = ai21labs.Ai21LabsAdapter(
    model="j2-mid", task=None, auth=StaticAuth({"Authorization": ("Bearer ", SecretStr("k"))})
)


def test_j2_body_sends_only_what_was_given() -> None:
    assert ai21labs.j2_body(CompletionRequest(prompt="Hi")) == {"prompt": "Hi"}


def test_j2_body_passes_native_camel_case_fields_through() -> None:
    request = CompletionRequest(prompt="Hi", extra_params={"logitBias": {"▁the": -1.0}})
    assert ai21labs.j2_body(request)["logitBias"] == {"▁the": -1.0}


def test_j2_refusals_name_the_calling_provider() -> None:
    request = CompletionRequest(prompt="Hi", extra_params={"top_k": 5})
    with pytest.raises(UnsupportedParameterError, match="provider 'amazon-bedrock'") as caught:
        ai21labs.j2_body(request, provider="amazon-bedrock")
    assert caught.value.parameter == "top_k"


def test_parse_j2_names_the_provider_and_maps_every_choice() -> None:
    data = {
        "id": 7,
        "completions": [
            {"data": {"text": "a"}, "finishReason": {"reason": "stop"}},
            {"data": {"text": None}, "finishReason": {}},
        ],
    }
    assert ai21labs.parse_j2(data, "amazon-bedrock") == CompletionResponse(
        "7",
        None,
        [CompletionChoice(0, "a", "stop"), CompletionChoice(1, "", None)],
        None,
        "amazon-bedrock",
    )


def test_parse_j2_rejects_a_body_without_completions() -> None:
    with pytest.raises(MalformedResponseError, match="unexpected J2 response shape"):
        ai21labs.parse_j2({"detail": "x"})


def test_j2_stream_is_one_chunk_however_the_body_is_split() -> None:
    stream = J2.completion_stream()
    completion = {"data": {"text": "whole"}, "finishReason": {"reason": "endoftext"}}
    body = json.dumps({"id": "x", "completions": [completion]}).encode()
    fed = [c for i in range(0, len(body), 7) for c in stream.feed(body[i : i + 7])]
    assert fed == []
    [chunk] = stream.close()
    assert chunk.choices == [CompletionChoice(0, "whole", "stop")]


def test_j2_stream_with_an_empty_body_raises() -> None:
    stream = J2.completion_stream()
    with pytest.raises(MalformedResponseError, match="empty body"):
        stream.close()


def test_chat_messages_keep_tool_fields_and_refuse_images() -> None:
    messages: Any = [
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
        {"role": "assistant", "content": "Sure"},
    ]
    body = ai21labs.chat_body(ChatRequest(messages=messages), "jamba-large", stream=False)
    assert body["messages"] == [
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "assistant", "content": "Sure"},
    ]
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]
    with pytest.raises(UnsupportedParameterError, match="Jamba chat takes text only"):
        ai21labs.chat_body(ChatRequest(messages=image), "jamba-large", stream=False)  # type: ignore[arg-type]


def test_tool_choice_without_tools_is_not_checked() -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "x"}], tool_choice="required")
    assert "tool_choice" not in ai21labs.chat_body(request, "m", stream=False)


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (400, b'{"error": {"message": "bad n", "code": "invalid"}}', BadRequestError, "bad n"),
        (400, b'{"message": "plain message"}', BadRequestError, "plain message"),
        (502, b"<html>Bad gateway</html>", ServerError, "Bad gateway"),
    ],
)
def test_error_bodies(status: int, body: bytes, cls: type[Exception], message: str) -> None:
    error = ai21labs.map_error(status, {}, body)
    assert isinstance(error, cls) and message in str(error)


@pytest.mark.parametrize(
    ("value", "unified"),
    [("endoftext", "stop"), ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls")],
)
def test_finish_reasons(value: str, unified: str) -> None:
    assert ai21labs.finish_reason(value) == unified
