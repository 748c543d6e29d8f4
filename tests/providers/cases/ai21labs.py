"""Conformance cases for the ``ai21labs`` provider: Jamba chat (OpenAI-shaped, from
ai21-python's ``models/chat``) and Jurassic-2 completions (``/{model}/complete``; the reply
shape is MLflow's ``tests/gateway/providers/test_ai21labs.py`` fixture plus the token lists
ai21-python's ``CompletionsResponse`` carries)."""

from __future__ import annotations

from typing import Any

from extmodels_integrations._exceptions import (
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    RateLimitError,
    UnsupportedParameterError,
)
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    ToolCall,
    Usage,
)
from tests.support.harness import JSON_HEADERS, Case, Exchange, Raises, Reply

KEY = "ai21-test-key"
BASE = "https://api.ai21.com/studio/v1"
CHAT_URL = f"{BASE}/chat/completions"
CREDENTIALS = {"authorization": f"Bearer {KEY}"}
HEADERS = {**JSON_HEADERS, "authorization": "<redacted>"}
CHAT_MODEL = "jamba-mini"
J2_MODEL = "j2-ultra"
J2_URL = f"{BASE}/{J2_MODEL}/complete"


def target(task: str, name: str) -> dict[str, Any]:
    return {
        "external_model": {
            "name": name,
            "provider": "ai21labs",
            "task": task,
            "ai21labs_config": {"ai21labs_api_key_plaintext": KEY},
        }
    }


CHAT = target("llm/v1/chat", CHAT_MODEL)
COMPLETIONS = target("llm/v1/completions", J2_MODEL)


def exchange(url: str, body: Any, reply: Reply) -> Exchange:
    return Exchange(url=url, body=body, reply=reply, headers=HEADERS)


USAGE_WIRE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}
USAGE = Usage(12, 4, 16)
HI = [{"role": "user", "content": "Hi"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def chat_reply(*choices: dict[str, Any]) -> Reply:
    return Reply(json={"id": "chat-1", "choices": list(choices), "usage": USAGE_WIRE})


def stream_chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {"id": "chat-2", "choices": [choice], **more}


CHAT_CASES = [
    Case(
        id="ai21labs-chat-plain",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            ],
            temperature=0.4,
            max_tokens=20,
            stop=["\n"],
            n=2,
            extra_params={"top_p": 0.9, "documents": [{"content": "doc"}]},
        ),
        exchanges=(
            exchange(
                CHAT_URL,
                {
                    "model": CHAT_MODEL,
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Hi"},
                    ],
                    "temperature": 0.4,
                    "max_tokens": 20,
                    "stop": ["\n"],
                    "n": 2,
                    "top_p": 0.9,
                    "documents": [{"content": "doc"}],
                },
                chat_reply(
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hello"},
                        "finish_reason": "stop",
                    },
                    {
                        "index": 1,
                        "message": {"role": "assistant", "content": "Hey there"},
                        "finish_reason": "length",
                    },
                ),
            ),
        ),
        expected=ChatResponse(
            "chat-1",
            CHAT_MODEL,
            [ChatChoice(0, "Hello", [], "stop"), ChatChoice(1, "Hey there", [], "length")],
            USAGE,
            "ai21labs",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-chat-stream",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(messages=HI),  # type: ignore[arg-type]
        exchanges=(
            exchange(
                CHAT_URL,
                {"model": CHAT_MODEL, "messages": HI, "stream": True},
                Reply(
                    events=(
                        stream_chunk({"role": "assistant", "content": ""}),
                        stream_chunk({"content": "Hel"}),
                        stream_chunk({"content": "lo"}),
                        stream_chunk({}, "stop", usage=USAGE_WIRE),
                        "[DONE]",
                    )
                ),
            ),
        ),
        expected=[
            ChatChunk("chat-2", None, [ChatChunkChoice(0, "", role="assistant")], None, "ai21labs"),
            ChatChunk("chat-2", None, [ChatChunkChoice(0, "Hel")], None, "ai21labs"),
            ChatChunk("chat-2", None, [ChatChunkChoice(0, "lo")], None, "ai21labs"),
            ChatChunk("chat-2", None, [ChatChunkChoice(0, finish_reason="stop")], None, "ai21labs"),
            ChatChunk("chat-2", CHAT_MODEL, [], USAGE, "ai21labs"),
        ],
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-chat-stream-truncated",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(messages=HI),  # type: ignore[arg-type]
        exchanges=(
            exchange(
                CHAT_URL,
                {"model": CHAT_MODEL, "messages": HI, "stream": True},
                Reply(events=(stream_chunk({"content": "Hel"}),)),
            ),
        ),
        expected=Raises(MalformedResponseError, r"stream ended before the model finished"),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-chat-tools",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
                {"role": "user", "content": "And Rome?"},
            ],
            tools=[WEATHER_TOOL],
            tool_choice="auto",
        ),
        exchanges=(
            exchange(
                CHAT_URL,
                {
                    "model": CHAT_MODEL,
                    "messages": [
                        {"role": "user", "content": "Weather in Paris?"},
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_a",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": '{"city": "Paris"}',
                                    },
                                }
                            ],
                        },
                        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
                        {"role": "user", "content": "And Rome?"},
                    ],
                    "tools": [WEATHER_TOOL],
                },
                chat_reply(
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_b",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": '{"city": "Rome"}',
                                    },
                                }
                            ],
                        },
                        "finish_reason": "tool_calls",
                    }
                ),
            ),
        ),
        expected=ChatResponse(
            "chat-1",
            CHAT_MODEL,
            [
                ChatChoice(
                    0, None, [ToolCall("call_b", "get_weather", '{"city": "Rome"}')], "tool_calls"
                )
            ],
            USAGE,
            "ai21labs",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-chat-tools-choice-refused",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=HI, tools=[WEATHER_TOOL], tool_choice="required"),  # type: ignore[arg-type]
        exchanges=(),
        expected=Raises(
            UnsupportedParameterError,
            r"provider 'ai21labs' does not accept the parameter 'tool_choice'",
            {"provider": "ai21labs", "parameter": "tool_choice"},
        ),
    ),
    Case(
        id="ai21labs-chat-plain-logit-bias-refused",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=HI, extra_params={"logit_bias": {"50256": -100}}),  # type: ignore[arg-type]
        exchanges=(),
        expected=Raises(
            UnsupportedParameterError, r"'ai21labs' does not accept the parameter 'logit_bias'"
        ),
    ),
    Case(
        id="ai21labs-chat-plain-error-validation",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=HI, temperature=5.0),  # type: ignore[arg-type]
        exchanges=(
            exchange(
                CHAT_URL,
                {"model": CHAT_MODEL, "messages": HI, "temperature": 5.0},
                Reply(
                    status=422,
                    json={
                        "detail": [
                            {
                                "loc": ["body", "temperature"],
                                "msg": "ensure this value is less than or equal to 2.0",
                            }
                        ]
                    },
                    headers={"x-request-id": "r-422"},
                ),
            ),
        ),
        expected=Raises(
            BadRequestError,
            r"request_id=r-422, "
            r"url=https://api\.ai21\.com/studio/v1/chat/completions\): "
            r"ensure this value is less than or equal to 2.0",
            {"status_code": 422, "retryable": False},
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-chat-plain-error-rate-limit",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=HI),  # type: ignore[arg-type]
        exchanges=(
            exchange(
                CHAT_URL,
                {"model": CHAT_MODEL, "messages": HI},
                Reply(status=429, json={"detail": "Too many requests"}),
            ),
        ),
        expected=Raises(RateLimitError, r"Too many requests", {"retryable": True}),
        credentials=CREDENTIALS,
    ),
]

J2_REPLY = {
    "id": 1234,
    "prompt": {"text": "Once", "tokens": [{"generatedToken": {}}, {"generatedToken": {}}]},
    "completions": [
        {
            "data": {"text": " upon a time", "tokens": [{}, {}, {}]},
            "finishReason": {"reason": "endoftext"},
        },
        {
            "data": {"text": " more", "tokens": [{}]},
            "finishReason": {"reason": "length", "length": 1},
        },
    ],
}
J2_USAGE = Usage(2, 4, 6)
J2_CHOICES = [CompletionChoice(0, " upon a time", "stop"), CompletionChoice(1, " more", "length")]
J2_REQUEST = CompletionRequest(
    prompt="Once",
    max_tokens=30,
    temperature=0.7,
    stop=["##"],
    n=2,
    extra_params={
        "top_p": 0.8,
        "frequency_penalty": 0.5,
        "presence_penalty": {"scale": 0.2, "applyToNumbers": False},
        "count_penalty": 0,
        "min_tokens": 1,
    },
)
J2_BODY = {
    "prompt": "Once",
    "maxTokens": 30,
    "temperature": 0.7,
    "stopSequences": ["##"],
    "numResults": 2,
    "frequencyPenalty": {"scale": 0.5},
    "presencePenalty": {"scale": 0.2, "applyToNumbers": False},
    "countPenalty": {"scale": 0},
    "topP": 0.8,
    "minTokens": 1,
}

COMPLETION_CASES = [
    Case(
        id="ai21labs-completions-plain",
        target=COMPLETIONS,
        call="complete",
        request=J2_REQUEST,
        exchanges=(exchange(J2_URL, J2_BODY, Reply(json=J2_REPLY)),),
        expected=CompletionResponse("1234", J2_MODEL, J2_CHOICES, J2_USAGE, "ai21labs"),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-completions-stream-single-chunk",
        target=COMPLETIONS,
        call="stream_complete",
        request=J2_REQUEST,
        # The same request as a plain call: J2 cannot stream, so no "stream" field is sent.
        exchanges=(exchange(J2_URL, J2_BODY, Reply(json=J2_REPLY)),),
        expected=[
            CompletionChunk("1234", None, J2_CHOICES, None, "ai21labs"),
            CompletionChunk("1234", J2_MODEL, [], J2_USAGE, "ai21labs"),
        ],
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-completions-plain-without-token-lists",
        target=COMPLETIONS,
        call="complete",
        request=CompletionRequest(prompt=["This is a test"], max_tokens=1000),
        exchanges=(
            exchange(
                J2_URL,
                {"prompt": "This is a test", "maxTokens": 1000},
                Reply(
                    json={
                        "id": "7921a78e-d905-c9df-27e3-88e4831e3c3b",
                        "prompt": {"text": "This is a test"},
                        "completions": [
                            {
                                "data": {"text": "this is a test response"},
                                "finishReason": {"reason": "length", "length": 2},
                            }
                        ],
                    }
                ),
            ),
        ),
        expected=CompletionResponse(
            "7921a78e-d905-c9df-27e3-88e4831e3c3b",
            J2_MODEL,
            [CompletionChoice(0, "this is a test response", "length")],
            None,
            "ai21labs",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-completions-stream-error",
        target=COMPLETIONS,
        call="stream_complete",
        request=CompletionRequest(prompt="Once"),
        exchanges=(
            exchange(
                J2_URL,
                {"prompt": "Once"},
                Reply(status=401, json={"detail": "Forbidden: Bad or missing API token."}),
            ),
        ),
        expected=Raises(AuthenticationError, r"Bad or missing API token", {"status_code": 401}),
        credentials=CREDENTIALS,
    ),
    Case(
        id="ai21labs-completions-plain-logit-bias-refused",
        target=COMPLETIONS,
        call="complete",
        request=CompletionRequest(prompt="a", extra_params={"logit_bias": {"1": 2}}),
        exchanges=(),
        expected=Raises(UnsupportedParameterError, r"'logit_bias'.*logitBias"),
    ),
]

CASES = CHAT_CASES + COMPLETION_CASES
