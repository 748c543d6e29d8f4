"""Mapping rules of the ``anthropic`` provider that the conformance table does not show well:
message conversion, ``max_tokens`` defaults, ``tool_choice``, stream usage and error events,
and retrying an error event that arrives before anything was yielded."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from extmodels_integrations import (
    APIError,
    BadRequestError,
    ChatRequest,
    CompletionRequest,
    ConfigurationError,
    ExternalClient,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    UnsupportedParameterError,
    Usage,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations.providers.anthropic import (
    FALLBACK_MAX_TOKENS,
    MessageEventParser,
    completion_messages_body,
    default_max_tokens,
    event_error,
    messages_body,
)
from tests.support.harness import Chunks, sse

P = "anthropic"
MODEL = "claude-sonnet-4-5-20250929"


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return messages_body(ChatRequest(messages=list(messages), **fields), provider=P, model=MODEL)


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# -- messages ------------------------------------------------------------------------------------


def test_system_and_developer_messages_are_lifted_and_joined_wherever_they_are() -> None:
    sent = body(
        {"role": "system", "content": "Be brief."},
        user("Hi"),
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
    )
    assert sent["system"] == "Be brief.\n\nAnswer in French."
    assert sent["messages"] == [user("Hi")]


def test_system_blocks_with_cache_control_keep_their_shape() -> None:
    cached = {"type": "text", "text": "Long manual.", "cache_control": {"type": "ephemeral"}}
    sent = body({"role": "system", "content": [cached]}, user("Hi"))
    assert sent["system"] == [cached]


def test_consecutive_turns_of_one_role_are_merged_into_blocks() -> None:
    sent = body(
        user("one"),
        user("two"),
        {"role": "assistant", "content": "three"},
        {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
    )
    assert sent["messages"] == [
        user([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]),
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
    ]


def test_empty_text_is_dropped_and_turns_left_empty_disappear() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
    sent = body(
        user("Go"),
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": "  "}]},
        user([{"type": "text", "text": "Next"}, {"type": "text", "text": ""}]),
    )
    assert sent["messages"] == [
        user("Go"),
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        },
        user([{"type": "tool_result", "tool_use_id": "t1"}, {"type": "text", "text": "Next"}]),
    ]


def test_tool_results_go_first_in_their_user_turn() -> None:
    sent = body(
        user("Q"),
        {
            "role": "assistant",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f"}}],
        },
        user("Also this."),
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "42"}]},
    )
    assert sent["messages"][-1]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42"}]},
        {"type": "text", "text": "Also this."},
    ]


def test_images_become_base64_or_url_sources() -> None:
    sent = body(
        user(
            [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ]
        )
    )
    assert sent["messages"][0]["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_name_fields_and_unsigned_reasoning_are_not_sent() -> None:
    sent = body(
        {"role": "user", "content": "Hi", "name": "alice"},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]},
                {"type": "text", "text": "Hello"},
            ],
        },
    )
    assert sent["messages"] == [
        user("Hi"),
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
    ]


def test_malformed_tool_call_arguments_in_history_are_refused() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    with pytest.raises(ConfigurationError, match="tool call 't1': arguments are not valid JSON"):
        body(user("Q"), {"role": "assistant", "tool_calls": [call]})


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="message role 'function'"):
        body({"role": "function", "content": "x"})


def test_anthropic_native_tools_pass_through() -> None:
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    assert body(user("Q"), tools=[search])["tools"] == [search]


def test_several_prompts_are_refused_for_completions() -> None:
    with pytest.raises(UnsupportedParameterError, match="2 were given; send one prompt per call"):
        completion_messages_body(CompletionRequest(prompt=["a", "b"]), provider=P, model=MODEL)


@pytest.mark.parametrize("name", ["top_k", "top_p", "thinking", "metadata", "service_tier"])
def test_native_parameters_pass_through(name: str) -> None:
    assert body(user("Q"), extra_params={name: 1})[name] == 1


def test_max_completion_tokens_is_sent_as_max_tokens() -> None:
    assert body(user("Q"), extra_params={"max_completion_tokens": 9})["max_tokens"] == 9


@pytest.mark.parametrize(
    "name", ["logprobs", "logit_bias", "frequency_penalty", "presence_penalty", "seed", "user"]
)
def test_openai_only_parameters_are_refused_with_a_fix(name: str) -> None:
    with pytest.raises(UnsupportedParameterError, match=f"'{name}'; ") as caught:
        body(user("Q"), extra_params={name: 1})
    assert caught.value.parameter == name


# -- max_tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-3-haiku-20240307", 4096),
        ("claude-3-opus-latest", 4096),
        ("claude-3-5-haiku-20241022", 8192),
        ("claude-3-5-sonnet-20241022", 8192),
        ("claude-3-7-sonnet-20250219", 64000),
        ("claude-sonnet-4-20250514", 64000),
        ("claude-sonnet-4-5", 64000),
        ("claude-haiku-4-5-20251001", 64000),
        ("claude-opus-4-20250514", 32000),
        ("claude-opus-4-1-20250805", 32000),
        ("claude-opus-4-5-20251101", 64000),
        # A later point release gets its family's cap, which it accepts.
        ("claude-opus-4-6", 32000),
        # Bedrock ids and cross-region inference profiles.
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", 8192),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", 64000),
        ("claude-2.1", FALLBACK_MAX_TOKENS),
        ("my-proxy-alias", FALLBACK_MAX_TOKENS),
    ],
)
def test_default_max_tokens_by_model_family(model: str, expected: int) -> None:
    assert default_max_tokens(model) == expected


def test_a_given_max_tokens_wins_over_the_default() -> None:
    assert body(user("Q"), max_tokens=7)["max_tokens"] == 7


# -- tool_choice ---------------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("any", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ("f", None, {"type": "tool", "name": "f"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        ({"type": "any"}, None, {"type": "any"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
    ],
)
def test_tool_choice_mapping(choice: Any, parallel: bool | None, expected: Any) -> None:
    sent = body(user("Q"), tools=[TOOL], tool_choice=choice, parallel_tool_calls=parallel)
    assert sent.get("tool_choice") == expected


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in body(user("Q"), tool_choice="required")


# -- stream parsing ------------------------------------------------------------------------------


def start(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {"id": "msg_1", "model": MODEL, "content": [], "usage": usage},
    }


def test_stream_usage_is_merged_from_start_and_cumulative_delta_and_reported_once() -> None:
    parser = MessageEventParser(P)
    events = [
        start(input_tokens=5, cache_read_input_tokens=100, output_tokens=1),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            # Newer API versions repeat the input counts here, cumulatively.
            "usage": {"output_tokens": 9, "input_tokens": 5, "cache_creation_input_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    chunks = [c for c in map(parser.parse_event, events) if c is not None]
    parser.finish()
    assert [c.usage for c in chunks] == [
        None,
        Usage(
            prompt_tokens=108,
            completion_tokens=9,
            total_tokens=117,
            cache_read_tokens=100,
            cache_creation_tokens=3,
        ),
    ]


def test_a_stream_cut_before_the_message_ends_raises() -> None:
    parser = MessageEventParser(P)
    parser.parse_event(start(input_tokens=1))
    with pytest.raises(MalformedResponseError, match="stream ended before the message did"):
        parser.finish()


def test_a_malformed_event_raises_a_stream_error() -> None:
    parser = MessageEventParser(P)
    with pytest.raises(MalformedResponseError, match="unexpected content_block_delta event shape"):
        parser.parse_event({"type": "content_block_delta", "delta": {"type": "text_delta"}})


@pytest.mark.parametrize(
    ("kind", "cls", "retryable"),
    [
        ("overloaded_error", ServerError, True),
        ("api_error", ServerError, True),
        ("rate_limit_error", RateLimitError, True),
        ("invalid_request_error", BadRequestError, False),
        ("billing_error", APIError, False),
    ],
)
def test_error_events_are_typed_by_their_error_type(
    kind: str, cls: type[APIError], retryable: bool
) -> None:
    error = event_error({"type": "error", "error": {"type": kind, "message": "m"}}, P)
    assert type(error) is cls
    assert (error.retryable, error.code, error.provider_message) == (retryable, kind, "m")


# -- through the client --------------------------------------------------------------------------

TARGET = {
    "name": MODEL,
    "provider": "anthropic",
    "task": "llm/v1/chat",
    "anthropic_config": {"anthropic_api_key_plaintext": "sk-ant-test-key"},
}
OVERLOADED = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Busy"}})


def reply(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    body = sse(*events, named=True)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(body))


def text_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = [
        start(input_tokens=3, output_tokens=1),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]


def client_for(connect: Any, replies: list[httpx.Response], seen: list[Any]) -> ExternalClient:
    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return replies.pop(0)

    client: ExternalClient = connect(provider, external_model=TARGET, max_retries=2)
    client.transport.sleep = lambda seconds: None

    async def no_wait(seconds: float) -> None:
        return None

    client.transport.asleep = no_wait
    return client


async def test_an_error_event_before_the_first_chunk_is_retried(run: Any, connect: Any) -> None:
    seen: list[Any] = []
    first = reply(("message_start", start(input_tokens=3)), OVERLOADED)
    client = client_for(connect, [first, reply(*text_events("Hi"))], seen)
    chunks = await run(client, "stream_chat", ChatRequest(messages=[user("Hello")]))
    assert len(seen) == 2 and seen[0] == seen[1]
    assert [c.choices[0].content for c in chunks if c.choices] == ["Hi", None]
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


async def test_an_error_event_after_a_chunk_is_raised_without_a_replay(
    run: Any, connect: Any
) -> None:
    seen: list[Any] = []
    cut = reply(*text_events("Hi")[:3], OVERLOADED)
    client = client_for(connect, [cut, reply(*text_events("again"))], seen)
    with pytest.raises(ServerError, match="Busy") as caught:
        await run(client, "stream_chat", ChatRequest(messages=[user("Hello")]))
    assert caught.value.retryable and len(seen) == 1


def test_embeddings_are_refused_at_config_time() -> None:
    with pytest.raises(ConfigurationError, match="does not offer 'llm/v1/embeddings'"):
        parse_external_model({**TARGET, "task": "llm/v1/embeddings"})


def test_embeddings_are_refused_on_a_chat_target() -> None:
    with pytest.raises(ConfigurationError, match="needs 'llm/v1/embeddings'"):
        ExternalClient(external_model=TARGET).embed(["x"])


def test_the_key_is_not_in_reprs() -> None:
    client = ExternalClient(external_model=TARGET)
    adapter = client._adapter()
    assert "sk-ant-test-key" not in repr(client) + repr(adapter.auth) + repr(vars(adapter))
