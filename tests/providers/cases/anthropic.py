"""Conformance cases for the ``anthropic`` provider (Messages API).

Replies follow the shapes of anthropic-sdk-python ``types/message.py`` and
``types/raw_message_stream_event.py``, and the literal stream in Anthropic's streaming docs
(``message_start`` ... ``message_stop``, with ``ping`` in between).
"""

from __future__ import annotations

from typing import Any

from extmodels_integrations import (
    AuthenticationError,
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    ContextWindowExceededError,
    ReasoningBlock,
    ServerError,
    ToolCall,
    ToolCallDelta,
    UnsupportedParameterError,
    Usage,
)
from tests.support.harness import REDACTED, Case, Exchange, Raises, Reply

KEY = "sk-ant-api03-conformance"
MODEL = "claude-sonnet-4-5-20250929"
URL = "https://api.anthropic.com/v1/messages"
HEADERS = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": REDACTED,
}
P = "anthropic"


def target(task: str = "llm/v1/chat", **config: Any) -> dict[str, Any]:
    return {
        "external_model": {
            "name": MODEL,
            "provider": "anthropic",
            "task": task,
            "anthropic_config": {"anthropic_api_key_plaintext": KEY, **config},
        }
    }


def case(
    id: str, call: str, request: Any, body: Any, reply: Reply | None, expected: Any, **kw: Any
) -> Case:
    exchanges = () if reply is None else (Exchange(kw.pop("url", URL), body, reply, HEADERS),)
    return Case(
        id=id,
        target=kw.pop(
            "target", target("llm/v1/completions" if "complete" in call else "llm/v1/chat")
        ),
        call=call,
        request=request,
        exchanges=exchanges,
        expected=expected,
        credentials={"x-api-key": KEY},
        **kw,
    )


def message(
    content: list[dict[str, Any]], stop: str | None = "end_turn", **usage: int
) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    }


def stream(*events: tuple[str, dict[str, Any]], stop: str = "end_turn") -> Reply:
    """A named-event stream: message_start, a ping, ``events``, message_delta, message_stop."""
    start = {
        "type": "message_start",
        "message": message([], stop=None, output_tokens=1),
    }
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": 7},
    }
    named = [("message_start", start), ("ping", {"type": "ping"}), *events]
    named += [("message_delta", end), ("message_stop", {"type": "message_stop"})]
    return Reply(events=tuple(named), named_events=True)


def block_start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_start", {
        "type": "content_block_start",
        "index": index,
        "content_block": block,
    }


def delta(index: int, **fields: Any) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": fields}


def block_stop(index: int) -> tuple[str, dict[str, Any]]:
    return "content_block_stop", {"type": "content_block_stop", "index": index}


def chunk(first: bool = False, **fields: Any) -> ChatChunk:
    choice = ChatChunkChoice(role="assistant" if first else None, **fields)
    return ChatChunk("msg_01", MODEL, [choice], None, P)


USAGE = Usage(prompt_tokens=10, completion_tokens=7, total_tokens=17)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
WEATHER_TOOL_WIRE = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
CLOCK_TOOL_WIRE = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


def error_reply(status: int, kind: str, text: str) -> Reply:
    return Reply(
        status=status,
        json={"type": "error", "error": {"type": kind, "message": text}},
        headers={"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"},
    )


CASES = [
    case(
        "anthropic-chat-plain",
        "chat",
        ChatRequest(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": ""}, "Anyone there?"]},
            ],
            temperature=0.2,
        ),
        {
            "model": MODEL,
            "max_tokens": 64000,  # claude-sonnet-4's output cap: the API requires a value
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Hello"},
                        {"type": "text", "text": "Anyone there?"},
                    ],
                }
            ],
            "system": "Be brief.",
            "temperature": 0.2,
        },
        Reply(
            json=message(
                [
                    {"type": "thinking", "thinking": "A greeting.", "signature": "sig"},
                    {"type": "text", "text": "Hi, "},
                    {"type": "text", "text": "I'm here."},
                ],
                cache_read_input_tokens=100,
                cache_creation_input_tokens=20,
            ),
            headers={"request-id": "req_1"},
        ),
        ChatResponse(
            id="msg_01",
            model=MODEL,
            choices=[
                ChatChoice(
                    index=0,
                    content="Hi, I'm here.",
                    finish_reason="stop",
                    reasoning="A greeting.",
                    # Kept with its signature so a tool-call turn can send it back intact.
                    reasoning_blocks=[ReasoningBlock("A greeting.", "sig")],
                )
            ],
            usage=Usage(
                prompt_tokens=130,
                completion_tokens=5,
                total_tokens=135,
                cache_read_tokens=100,
                cache_creation_tokens=20,
            ),
            provider=P,
        ),
    ),
    case(
        "anthropic-chat-plain-params",
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Count."}],
            max_tokens=3,
            stop=["\n\nHuman:"],
            model="claude-3-5-haiku-20241022",
            extra_params={"top_k": 5, "top_p": 0.9, "metadata": {"user_id": "u-1"}},
        ),
        {
            "model": "claude-3-5-haiku-20241022",
            "max_tokens": 3,
            "messages": [{"role": "user", "content": "Count."}],
            "stop_sequences": ["\n\nHuman:"],
            "top_k": 5,
            "top_p": 0.9,
            "metadata": {"user_id": "u-1"},
        },
        Reply(
            json={
                **message([{"type": "text", "text": "1 2 3"}], stop="max_tokens"),
                "model": "claude-3-5-haiku-20241022",
            }
        ),
        ChatResponse(
            id="msg_01",
            model="claude-3-5-haiku-20241022",
            choices=[ChatChoice(index=0, content="1 2 3", finish_reason="length")],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
    ),
    case(
        "anthropic-chat-plain-refusal",
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Something harmful."}], max_tokens=50),
        {
            "model": MODEL,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Something harmful."}],
        },
        Reply(json=message([], stop="refusal")),
        ChatResponse(
            id="msg_01",
            model=MODEL,
            choices=[ChatChoice(index=0, content="", finish_reason="content_filter")],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
    ),
    case(
        "anthropic-chat-plain-json-schema",
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "A joke as JSON."}],
            max_tokens=200,
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "Joke",
                    "schema": {"type": "object", "properties": {"setup": {"type": "string"}}},
                },
            },
        ),
        {
            "model": MODEL,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "A joke as JSON."}],
            "output_config": {
                "format": {
                    "type": "json_schema",
                    "schema": {
                        "type": "object",
                        "properties": {"setup": {"type": "string"}},
                        "additionalProperties": False,
                    },
                }
            },
        },
        Reply(json=message([{"type": "text", "text": '{"setup": "Why?"}'}])),
        ChatResponse(
            id="msg_01",
            model=MODEL,
            choices=[ChatChoice(index=0, content='{"setup": "Why?"}', finish_reason="stop")],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
    ),
    case(
        "anthropic-chat-tools-use",
        "chat",
        ChatRequest(
            messages=[
                {"role": "user", "content": "Weather in Paris and in Rome?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "toolu_02",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_01", "content": "Sunny"},
                {"role": "tool", "tool_call_id": "toolu_02", "content": "Rain"},
                {"role": "user", "content": "And the time?"},
            ],
            max_tokens=100,
            tools=[WEATHER_TOOL, CLOCK_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
            parallel_tool_calls=False,
        ),
        {
            "model": MODEL,
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "Weather in Paris and in Rome?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_01",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                        {
                            "type": "tool_use",
                            "id": "toolu_02",
                            "name": "get_weather",
                            "input": {"city": "Rome"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "Sunny"},
                        {"type": "tool_result", "tool_use_id": "toolu_02", "content": "Rain"},
                        {"type": "text", "text": "And the time?"},
                    ],
                },
            ],
            "tools": [WEATHER_TOOL_WIRE, CLOCK_TOOL_WIRE],
            "tool_choice": {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        },
        Reply(
            json=message(
                [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_03", "name": "get_time", "input": {}},
                ],
                stop="tool_use",
            )
        ),
        ChatResponse(
            id="msg_01",
            model=MODEL,
            choices=[
                ChatChoice(
                    index=0,
                    content="Checking.",
                    tool_calls=[ToolCall(id="toolu_03", name="get_time", arguments="{}")],
                    finish_reason="tool_calls",
                )
            ],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
    ),
    case(
        "anthropic-chat-stream",
        "stream_chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], max_tokens=50),
        {
            "model": MODEL,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": True,
        },
        stream(
            block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(0, type="thinking_delta", thinking="Greeting."),
            delta(0, type="signature_delta", signature="EqQBCgIYAhIM"),
            block_stop(0),
            block_start(1, {"type": "text", "text": ""}),
            delta(1, type="text_delta", text="Hi"),
            delta(1, type="text_delta", text=" there"),
            block_stop(1),
        ),
        [
            # The thinking block opens with its own chunk so the block index (and with it the
            # signature that follows) is known before any of its text arrives.
            chunk(first=True, reasoning_index=0),
            chunk(reasoning="Greeting.", reasoning_index=0),
            chunk(reasoning_signature="EqQBCgIYAhIM", reasoning_index=0),
            chunk(content="Hi"),
            chunk(content=" there"),
            chunk(finish_reason="stop"),
            ChatChunk("msg_01", MODEL, [], USAGE, P),
        ],
    ),
    case(
        "anthropic-chat-stream-tool-use",
        "stream_chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Weather in Paris, and the time?"}],
            max_tokens=100,
            tools=[WEATHER_TOOL, CLOCK_TOOL],
            tool_choice="auto",
        ),
        {
            "model": MODEL,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Weather in Paris, and the time?"}],
            "tools": [WEATHER_TOOL_WIRE, CLOCK_TOOL_WIRE],
            "tool_choice": {"type": "auto"},
            "stream": True,
        },
        stream(
            block_start(0, {"type": "text", "text": ""}),
            delta(0, type="text_delta", text="Let me check."),
            block_stop(0),
            block_start(
                1, {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}
            ),
            delta(1, type="input_json_delta", partial_json=""),
            delta(1, type="input_json_delta", partial_json='{"city": '),
            delta(1, type="input_json_delta", partial_json='"Paris"}'),
            block_stop(1),
            # A call without arguments streams no input_json_delta at all.
            block_start(2, {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}),
            block_stop(2),
            stop="tool_use",
        ),
        [
            chunk(first=True, content="Let me check."),
            chunk(tool_calls=[ToolCallDelta(0, "toolu_01", "get_weather", None)]),
            chunk(tool_calls=[ToolCallDelta(0, arguments='{"city": ')]),
            chunk(tool_calls=[ToolCallDelta(0, arguments='"Paris"}')]),
            chunk(tool_calls=[ToolCallDelta(1, "toolu_02", "get_time", None)]),
            chunk(tool_calls=[ToolCallDelta(1, arguments="{}")]),
            chunk(finish_reason="tool_calls"),
            ChatChunk("msg_01", MODEL, [], USAGE, P),
        ],
    ),
    case(
        "anthropic-completions-plain",
        "complete",
        CompletionRequest(prompt="Say hi.", max_tokens=20, temperature=0.0),
        {
            "model": MODEL,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "Say hi."}],
            "temperature": 0.0,
        },
        Reply(json=message([{"type": "text", "text": "Hi!"}])),
        CompletionResponse(
            id="msg_01",
            model=MODEL,
            choices=[CompletionChoice(index=0, text="Hi!", finish_reason="stop")],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
    ),
    case(
        "anthropic-completions-plain-api-base",
        "complete",
        CompletionRequest(prompt=["Say hi."], stop=["."]),
        {
            "model": MODEL,
            "max_tokens": 64000,
            "messages": [{"role": "user", "content": "Say hi."}],
            "stop_sequences": ["."],
        },
        Reply(json=message([{"type": "text", "text": "Hi"}], stop="stop_sequence")),
        CompletionResponse(
            id="msg_01",
            model=MODEL,
            choices=[CompletionChoice(index=0, text="Hi", finish_reason="stop")],
            usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
            provider=P,
        ),
        # A base given with its /v1 segment (as some proxies document it) is not doubled.
        target=target(
            "llm/v1/completions", anthropic_api_base="https://llm-proxy.example.com/anthropic/v1"
        ),
        url="https://llm-proxy.example.com/anthropic/v1/messages",
    ),
    case(
        "anthropic-completions-stream",
        "stream_complete",
        CompletionRequest(prompt="Say hi.", max_tokens=20),
        {
            "model": MODEL,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "Say hi."}],
            "stream": True,
        },
        stream(
            block_start(0, {"type": "text", "text": ""}),
            delta(0, type="text_delta", text="Hi"),
            delta(0, type="text_delta", text="!"),
            block_stop(0),
        ),
        [
            CompletionChunk("msg_01", MODEL, [CompletionChoice(0, "Hi")], None, P),
            CompletionChunk("msg_01", MODEL, [CompletionChoice(0, "!")], None, P),
            CompletionChunk("msg_01", MODEL, [CompletionChoice(0, "", "stop")], None, P),
            CompletionChunk("msg_01", MODEL, [], USAGE, P),
        ],
    ),
    case(
        "anthropic-chat-plain-overloaded",
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], max_tokens=5),
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hello"}]},
        error_reply(529, "overloaded_error", "Overloaded"),
        Raises(
            ServerError,
            r"^ServerError \(provider=anthropic, status=529, code=overloaded_error, "
            r"request_id=req_011CSHoEeqs5C35K2UUqR7Fy, "
            r"url=https://api\.anthropic\.com/v1/messages\): Overloaded$",
            {"retryable": True, "status_code": 529},
        ),
    ),
    case(
        "anthropic-chat-plain-prompt-too-long",
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], max_tokens=5),
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hello"}]},
        error_reply(
            400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"
        ),
        Raises(
            ContextWindowExceededError,
            "prompt is too long: 210000 tokens > 200000 maximum",
            {
                "retryable": False,
                "code": "invalid_request_error",
                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
            },
        ),
    ),
    case(
        "anthropic-chat-plain-bad-key",
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], max_tokens=5),
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hello"}]},
        error_reply(401, "authentication_error", f"invalid x-api-key {KEY}"),
        # The key the provider echoed back is masked.
        Raises(AuthenticationError, r"invalid x-api-key \*\*\*$", {"status_code": 401}),
    ),
    case(
        "anthropic-chat-stream-error-event",
        "stream_chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], max_tokens=5),
        {
            "model": MODEL,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": True,
        },
        # HTTP 200, then the error arrives as an event and the connection closes.
        Reply(
            events=(
                ("message_start", {"type": "message_start", "message": message([], stop=None)}),
                (
                    "error",
                    {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                    },
                ),
            ),
            named_events=True,
        ),
        Raises(
            ServerError,
            r"^ServerError \(provider=anthropic, code=overloaded_error, "
            r"url=https://api\.anthropic\.com/v1/messages\): Overloaded$",
            {"retryable": True, "status_code": None},
        ),
    ),
    case(
        "anthropic-chat-plain-unsupported-n",
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hello"}], n=2),
        None,
        None,
        Raises(
            UnsupportedParameterError,
            "provider 'anthropic' does not accept the parameter 'n'; "
            "Anthropic returns one message per request",
            {"parameter": "n"},
        ),
    ),
    case(
        "anthropic-chat-plain-unsupported-logit-bias",
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Hello"}], extra_params={"logit_bias": {"1": 5}}
        ),
        None,
        None,
        Raises(
            UnsupportedParameterError,
            "'logit_bias'; Anthropic has no token biasing",
            {"parameter": "logit_bias"},
        ),
    ),
    case(
        "anthropic-chat-plain-unsupported-json-mode",
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Hello"}], response_format={"type": "json_object"}
        ),
        None,
        None,
        Raises(
            UnsupportedParameterError,
            "'response_format'; Anthropic has no 'json_object' mode",
            {"parameter": "response_format"},
        ),
    ),
]
