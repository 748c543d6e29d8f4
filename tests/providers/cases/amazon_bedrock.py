"""Conformance cases for ``amazon-bedrock``: every ``bedrock_provider`` x task x (plain,
stream, tools where the models offer them), and the error paths (rest-json HTTP errors,
throttling, exception messages inside the event stream).

Replies follow the AWS "Inference request parameters" pages and the fixtures of MLflow's
``tests/gateway/providers/test_bedrock.py``; streams are event-stream frames built by
``tests/support/wires/bedrock.py``. SigV4 headers change with the clock: ``x-amz-date`` is
volatile and the ``Authorization`` value is checked for its credential scope and signed headers.
"""

from __future__ import annotations

import re
from typing import Any

from extmodels_integrations import (
    APIError,
    BadRequestError,
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    ConfigurationError,
    EmbeddingsResponse,
    RateLimitError,
    ServerError,
    ToolCall,
    ToolCallDelta,
    UnsupportedParameterError,
    Usage,
)
from tests.support.harness import REDACTED, Case, Exchange, Raises, Reply
from tests.support.wires.bedrock import EVENT_STREAM, chunk_frame, event_stream, exception_frame

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
BASE = f"https://bedrock-runtime.{REGION}.amazonaws.com"
P = "amazon-bedrock"
PLAIN_HEADERS = {
    "content-type": "application/json",
    "authorization": REDACTED,
    "x-amz-date": REDACTED,
}
STREAM_HEADERS = {**PLAIN_HEADERS, "x-amzn-bedrock-accept": "application/json"}
_SIGNATURE = re.compile(
    rf"^AWS4-HMAC-SHA256 Credential={KEY_ID}/\d{{8}}/{REGION}/bedrock/aws4_request, "
    r"SignedHeaders=(accept;)?content-type;host;x-amz-date(;x-amzn-bedrock-accept)?, "
    r"Signature=[0-9a-f]{64}$"
)

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
COMMAND_R = "cohere.command-r-v1:0"
COMMAND = "cohere.command-text-v14"
COHERE_EMBED = "cohere.embed-english-v3"
JAMBA = "ai21.jamba-1-5-mini-v1:0"
J2 = "ai21.j2-ultra-v1"
TITAN = "amazon.titan-text-express-v1"
TITAN_EMBED = "amazon.titan-embed-text-v2:0"
_SUB = {"anthropic": "anthropic", "cohere": "cohere", "ai21": "ai21labs", "amazon": "amazon"}


def url(model: str, stream: bool = False) -> str:
    # The id is percent-encoded as botocore encodes a URI label (":" -> %3A).
    encoded = model.replace(":", "%3A")
    return f"{BASE}/model/{encoded}/invoke" + ("-with-response-stream" if stream else "")


def target(model: str, task: str) -> dict[str, Any]:
    return {
        "external_model": {
            "name": model,
            "provider": P,
            "task": task,
            "amazon_bedrock_config": {
                "aws_region": REGION,
                "bedrock_provider": _SUB[model.split(".")[0]],
                "aws_access_key_id_plaintext": KEY_ID,
                "aws_secret_access_key_plaintext": SECRET,
            },
        }
    }


_TASKS = {
    "chat": "llm/v1/chat",
    "stream_chat": "llm/v1/chat",
    "complete": "llm/v1/completions",
    "stream_complete": "llm/v1/completions",
    "embed": "llm/v1/embeddings",
}


def signed(value: str) -> bool:
    return bool(_SIGNATURE.match(value))


def case(
    id: str,
    model: str,
    call: str,
    request: Any,
    body: Any,
    reply: Reply | None,
    expected: Any,
    *,
    stream: bool | None = None,
    more: tuple[Exchange, ...] = (),
) -> Case:
    streamed = call.startswith("stream_") if stream is None else stream
    exchanges = more
    if reply is not None:
        headers = STREAM_HEADERS if streamed else PLAIN_HEADERS
        exchanges = (Exchange(url(model, streamed), body, reply, headers), *more)
    return Case(
        id=id,
        target=target(model, _TASKS[call]),
        call=call,
        request=request,
        exchanges=exchanges,
        expected=expected,
        credentials={"authorization": signed},
        volatile_headers=frozenset({"x-amz-date"}),
    )


def frames(*events: dict[str, Any], prompt: int = 0, output: int = 0) -> Reply:
    return Reply(raw=event_stream(list(events), prompt, output), content_type=EVENT_STREAM)


def usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt, completion, prompt + completion)


def tokens(prompt: int, completion: int) -> dict[str, str]:
    return {
        "x-amzn-bedrock-input-token-count": str(prompt),
        "x-amzn-bedrock-output-token-count": str(completion),
    }


HELLO = [{"role": "user", "content": "Hello"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}

# -- anthropic -------------------------------------------------------------------------------

_MESSAGE = {
    "id": "msg_bdrk_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-sonnet-20240620",
    "content": [{"type": "text", "text": "Hi there"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 8, "output_tokens": 3},
}
_CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello"}],
    "system": "Be brief.",
    "temperature": 0.2,
}
_CLAUDE_EVENTS = (
    {
        "type": "message_start",
        "message": {
            **_MESSAGE,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 8, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {"type": "message_stop"},
)


def _claude_chunk(
    content: str | None = None, finish: str | None = None, role: str | None = None
) -> ChatChunk:
    return ChatChunk(
        "msg_bdrk_01",
        None,
        [ChatChunkChoice(0, content, None, finish, None, role)],
        None,
        P,
    )


ANTHROPIC = [
    case(
        "amazon-bedrock-chat-plain-anthropic",
        CLAUDE,
        "chat",
        ChatRequest(
            messages=[{"role": "system", "content": "Be brief."}, *HELLO],
            max_tokens=100,
            temperature=0.2,
        ),
        _CLAUDE_BODY,
        Reply(json=_MESSAGE),
        ChatResponse(
            "msg_bdrk_01",
            CLAUDE,
            [ChatChoice(0, "Hi there", [], "stop")],
            usage(8, 3),
            P,
        ),
    ),
    case(
        "amazon-bedrock-chat-stream-anthropic",
        CLAUDE,
        "stream_chat",
        ChatRequest(
            messages=[{"role": "system", "content": "Be brief."}, *HELLO],
            max_tokens=100,
            temperature=0.2,
        ),
        _CLAUDE_BODY,
        # The metrics on message_stop disagree on purpose: Anthropic's own usage wins.
        frames(*_CLAUDE_EVENTS, prompt=99, output=99),
        [
            _claude_chunk("Hi", role="assistant"),
            _claude_chunk(" there"),
            _claude_chunk(finish="stop"),
            ChatChunk("msg_bdrk_01", CLAUDE, [], usage(8, 3), P),
        ],
    ),
    case(
        "amazon-bedrock-chat-tools-anthropic",
        CLAUDE,
        "chat",
        ChatRequest(messages=HELLO, max_tokens=100, tools=[WEATHER_TOOL], tool_choice="required"),
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "input_schema": WEATHER_TOOL["function"]["parameters"],
                }
            ],
            "tool_choice": {"type": "any"},
        },
        Reply(
            json={
                **_MESSAGE,
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                ],
                "stop_reason": "tool_use",
            }
        ),
        ChatResponse(
            "msg_bdrk_01",
            CLAUDE,
            [
                ChatChoice(
                    0, None, [ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')], "tool_calls"
                )
            ],
            usage(8, 3),
            P,
        ),
    ),
    case(
        "amazon-bedrock-completions-plain-anthropic",
        CLAUDE,
        "complete",
        CompletionRequest(prompt="Hello", max_tokens=100),
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}],
        },
        Reply(json=_MESSAGE),
        CompletionResponse(
            "msg_bdrk_01",
            CLAUDE,
            [CompletionChoice(0, "Hi there", "stop")],
            usage(8, 3),
            P,
        ),
    ),
    case(
        "amazon-bedrock-completions-stream-anthropic",
        CLAUDE,
        "stream_complete",
        CompletionRequest(prompt="Hello", max_tokens=100),
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}],
        },
        frames(*_CLAUDE_EVENTS, prompt=8, output=3),
        [
            CompletionChunk("msg_bdrk_01", None, [CompletionChoice(0, "Hi")], None, P),
            CompletionChunk(
                "msg_bdrk_01",
                None,
                [CompletionChoice(0, " there")],
                None,
                P,
            ),
            CompletionChunk(
                "msg_bdrk_01",
                None,
                [CompletionChoice(0, "", "stop")],
                None,
                P,
            ),
            CompletionChunk("msg_bdrk_01", CLAUDE, [], usage(8, 3), P),
        ],
    ),
    case(
        "amazon-bedrock-chat-plain-anthropic-n-refused",
        CLAUDE,
        "chat",
        ChatRequest(messages=HELLO, n=2),
        None,
        None,
        Raises(UnsupportedParameterError, "'amazon-bedrock' does not accept the parameter 'n'"),
    ),
]

# -- cohere ----------------------------------------------------------------------------------

_R_REPLY = {
    "response_id": "resp-1",
    "text": "Hi there",
    "generation_id": "gen12345abc",
    "chat_history": [],
    "finish_reason": "COMPLETE",
}

COHERE = [
    case(
        "amazon-bedrock-chat-plain-cohere",
        COMMAND_R,
        "chat",
        ChatRequest(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How are you?"},
            ],
            max_tokens=50,
            temperature=0.3,
            stop=["END"],
            extra_params={"top_p": 0.9, "top_k": 40, "seed": 7},
        ),
        {
            "preamble": "Be brief.",
            "message": "How are you?",
            "chat_history": [
                {"role": "USER", "message": "Hi"},
                {"role": "CHATBOT", "message": "Hello!"},
            ],
            "max_tokens": 50,
            "temperature": 0.3,
            "stop_sequences": ["END"],
            "p": 0.9,
            "k": 40,
            "seed": 7,
        },
        # Command R on Bedrock reports usage only in these headers.
        Reply(json=_R_REPLY, headers=tokens(12, 3)),
        ChatResponse("resp-1", COMMAND_R, [ChatChoice(0, "Hi there", [], "stop")], usage(12, 3), P),
    ),
    case(
        "amazon-bedrock-chat-stream-cohere",
        COMMAND_R,
        "stream_chat",
        ChatRequest(messages=HELLO),
        {"message": "Hello"},
        frames(
            {"is_finished": False, "event_type": "stream-start", "generation_id": "gen12345abc"},
            {"is_finished": False, "event_type": "text-generation", "text": "Hi"},
            {"is_finished": False, "event_type": "text-generation", "text": " there"},
            {
                "is_finished": True,
                "event_type": "stream-end",
                "response": _R_REPLY,
                "finish_reason": "MAX_TOKENS",
            },
            prompt=5,
            output=2,
        ),
        [
            ChatChunk("gen12345abc", None, [ChatChunkChoice(0, "Hi")], None, P),
            ChatChunk("gen12345abc", None, [ChatChunkChoice(0, " there")], None, P),
            ChatChunk("gen12345abc", None, [ChatChunkChoice(0, None, None, "length")], None, P),
            ChatChunk("gen12345abc", COMMAND_R, [], usage(5, 2), P),
        ],
    ),
    case(
        "amazon-bedrock-chat-tools-cohere",
        COMMAND_R,
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL]
        ),
        {
            "message": "Weather in Paris?",
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parameter_definitions": {
                        "city": {"type": "str", "required": True, "description": "City name"}
                    },
                }
            ],
        },
        Reply(
            json={
                **_R_REPLY,
                "text": "",
                "tool_calls": [{"name": "get_weather", "parameters": {"city": "Paris"}}],
            },
            headers=tokens(20, 9),
        ),
        ChatResponse(
            "resp-1",
            COMMAND_R,
            [
                ChatChoice(
                    0,
                    None,
                    [ToolCall("gen12345_0", "get_weather", '{"city": "Paris"}')],
                    "tool_calls",
                )
            ],
            usage(20, 9),
            P,
        ),
    ),
    case(
        "amazon-bedrock-chat-tools-cohere-results",
        COMMAND_R,
        "chat",
        ChatRequest(
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
            ],
            tools=[WEATHER_TOOL],
        ),
        {
            "message": "",
            "tool_results": [
                {
                    "call": {"name": "get_weather", "parameters": {"city": "Paris"}},
                    "outputs": [{"temp": 21}],
                }
            ],
            "chat_history": [
                {"role": "USER", "message": "Weather in Paris?"},
                {
                    "role": "CHATBOT",
                    "message": "",
                    "tool_calls": [{"name": "get_weather", "parameters": {"city": "Paris"}}],
                },
            ],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parameter_definitions": {
                        "city": {"type": "str", "required": True, "description": "City name"}
                    },
                }
            ],
        },
        Reply(json={**_R_REPLY, "text": "It is 21 degrees."}, headers=tokens(30, 6)),
        ChatResponse(
            "resp-1", COMMAND_R, [ChatChoice(0, "It is 21 degrees.", [], "stop")], usage(30, 6), P
        ),
    ),
    case(
        "amazon-bedrock-chat-stream-cohere-tools",
        COMMAND_R,
        "stream_chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL]
        ),
        {
            "message": "Weather in Paris?",
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parameter_definitions": {
                        "city": {"type": "str", "required": True, "description": "City name"}
                    },
                }
            ],
        },
        frames(
            {"is_finished": False, "event_type": "stream-start", "generation_id": "gen12345abc"},
            {
                "is_finished": False,
                "event_type": "tool-calls-generation",
                "text": "I will look it up.",
                "tool_calls": [{"name": "get_weather", "parameters": {"city": "Paris"}}],
            },
            {
                "is_finished": True,
                "event_type": "stream-end",
                "response": _R_REPLY,
                "finish_reason": "COMPLETE",
            },
            prompt=20,
            output=9,
        ),
        [
            ChatChunk(
                "gen12345abc",
                None,
                [
                    ChatChunkChoice(
                        0,
                        None,
                        [ToolCallDelta(0, "gen12345_0", "get_weather", '{"city": "Paris"}')],
                    )
                ],
                None,
                P,
            ),
            ChatChunk("gen12345abc", None, [ChatChunkChoice(0, None, None, "tool_calls")], None, P),
            ChatChunk("gen12345abc", COMMAND_R, [], usage(20, 9), P),
        ],
    ),
    case(
        "amazon-bedrock-completions-plain-cohere",
        COMMAND,
        "complete",
        CompletionRequest(prompt="Say hi", max_tokens=20, n=2),
        {"prompt": "Say hi", "num_generations": 2, "max_tokens": 20},
        Reply(
            json={
                "id": "gen-1",
                "prompt": "Say hi",
                "generations": [
                    {"id": "g0", "text": "Hi", "finish_reason": "COMPLETE"},
                    {"id": "g1", "text": "Hello", "finish_reason": "MAX_TOKENS"},
                ],
            },
            headers=tokens(2, 4),
        ),
        CompletionResponse(
            "gen-1",
            COMMAND,
            [CompletionChoice(0, "Hi", "stop"), CompletionChoice(1, "Hello", "length")],
            usage(2, 4),
            P,
        ),
    ),
    case(
        "amazon-bedrock-completions-stream-cohere",
        COMMAND,
        "stream_complete",
        CompletionRequest(prompt="Say hi"),
        # AWS Cohere Command page: stream must be true in the body to stream.
        {"prompt": "Say hi", "stream": True},
        frames(
            {"text": "Hi", "is_finished": False},
            {"text": " you", "is_finished": False},
            {"is_finished": True, "finish_reason": "COMPLETE"},
            prompt=2,
            output=2,
        ),
        [
            CompletionChunk(None, None, [CompletionChoice(0, "Hi")], None, P),
            CompletionChunk(None, None, [CompletionChoice(0, " you")], None, P),
            CompletionChunk(None, None, [CompletionChoice(0, "", "stop")], None, P),
            CompletionChunk(None, COMMAND, [], usage(2, 2), P),
        ],
    ),
    case(
        "amazon-bedrock-embeddings-plain-cohere",
        COHERE_EMBED,
        "embed",
        {"texts": ["what is bedrock?", "a managed service"], "input_kind": "query"},
        {"texts": ["what is bedrock?", "a managed service"], "input_type": "search_query"},
        Reply(
            json={
                "id": "emb-1",
                "embeddings": [[0.1, 0.2], [0.3, 0.4]],
                "response_type": "embeddings_floats",
                "texts": ["what is bedrock?", "a managed service"],
            },
            headers={"x-amzn-bedrock-input-token-count": "7"},
        ),
        EmbeddingsResponse([[0.1, 0.2], [0.3, 0.4]], COHERE_EMBED, usage(7, 0), P),
    ),
    case(
        "amazon-bedrock-chat-plain-cohere-text-model-refused",
        COMMAND,
        "chat",
        ChatRequest(messages=HELLO),
        None,
        None,
        Raises(
            ConfigurationError, "text-generation model: use it with the task 'llm/v1/completions'"
        ),
    ),
    case(
        "amazon-bedrock-chat-tools-cohere-forced-choice-refused",
        COMMAND_R,
        "chat",
        ChatRequest(messages=HELLO, tools=[WEATHER_TOOL], tool_choice="required"),
        None,
        None,
        Raises(
            UnsupportedParameterError,
            "'amazon-bedrock' does not accept the parameter 'tool_choice'",
        ),
    ),
]

# -- ai21labs --------------------------------------------------------------------------------

_JAMBA_REPLY = {
    "id": "chatcmpl-1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi there"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
_J2_REPLY = {
    "id": 1234,
    "prompt": {"text": "Say hi"},
    "completions": [{"data": {"text": "Hi"}, "finishReason": {"reason": "endoftext"}}],
}


def _jamba_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


AI21 = [
    case(
        "amazon-bedrock-chat-plain-ai21labs",
        JAMBA,
        "chat",
        ChatRequest(
            messages=[{"role": "system", "content": "Be brief."}, *HELLO],
            max_tokens=50,
            n=2,
            extra_params={"top_p": 0.5},
        ),
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
            ],
            "max_tokens": 50,
            "n": 2,
            "top_p": 0.5,
        },
        Reply(json=_JAMBA_REPLY),
        ChatResponse("chatcmpl-1", JAMBA, [ChatChoice(0, "Hi there", [], "stop")], usage(5, 2), P),
    ),
    case(
        "amazon-bedrock-chat-stream-ai21labs",
        JAMBA,
        "stream_chat",
        ChatRequest(messages=HELLO),
        {"messages": [{"role": "user", "content": "Hello"}]},
        frames(
            _jamba_chunk({"role": "assistant"}),
            _jamba_chunk({"content": "Hi"}),
            _jamba_chunk({}, "length"),
            prompt=5,
            output=1,
        ),
        [
            ChatChunk(
                "chatcmpl-1",
                None,
                [ChatChunkChoice(0, None, None, None, None, "assistant")],
                None,
                P,
            ),
            ChatChunk("chatcmpl-1", None, [ChatChunkChoice(0, "Hi")], None, P),
            ChatChunk("chatcmpl-1", None, [ChatChunkChoice(0, None, None, "length")], None, P),
            ChatChunk("chatcmpl-1", JAMBA, [], usage(5, 1), P),
        ],
    ),
    case(
        "amazon-bedrock-completions-plain-ai21labs",
        J2,
        "complete",
        CompletionRequest(prompt="Say hi", max_tokens=10, extra_params={"presence_penalty": 0.5}),
        {"prompt": "Say hi", "maxTokens": 10, "presencePenalty": {"scale": 0.5}},
        Reply(json=_J2_REPLY, headers=tokens(3, 1)),
        CompletionResponse("1234", J2, [CompletionChoice(0, "Hi", "stop")], usage(3, 1), P),
    ),
    case(
        # Bedrock does not stream Jurassic-2: one chunk from /invoke holds the whole answer.
        "amazon-bedrock-completions-stream-ai21labs",
        J2,
        "stream_complete",
        CompletionRequest(prompt="Say hi"),
        {"prompt": "Say hi"},
        Reply(json=_J2_REPLY),
        [CompletionChunk("1234", None, [CompletionChoice(0, "Hi", "stop")], None, P)],
        stream=False,
    ),
    case(
        "amazon-bedrock-chat-tools-ai21labs-refused",
        JAMBA,
        "chat",
        ChatRequest(messages=HELLO, tools=[WEATHER_TOOL]),
        None,
        None,
        Raises(UnsupportedParameterError, "'amazon-bedrock' does not accept the parameter 'tools'"),
    ),
]

# -- amazon (Titan) --------------------------------------------------------------------------

_TITAN_REPLY = {
    "inputTextTokenCount": 4,
    "results": [{"tokenCount": 3, "outputText": "Hi there", "completionReason": "FINISH"}],
}

TITAN_CASES = [
    case(
        "amazon-bedrock-completions-plain-amazon",
        TITAN,
        "complete",
        CompletionRequest(prompt="Say hi", max_tokens=30, temperature=0.5, stop=["User:"]),
        {
            "inputText": "Say hi",
            "textGenerationConfig": {
                "maxTokenCount": 30,
                "temperature": 0.5,
                "stopSequences": ["User:"],
            },
        },
        Reply(json=_TITAN_REPLY),
        CompletionResponse(None, TITAN, [CompletionChoice(0, "Hi there", "stop")], usage(4, 3), P),
    ),
    case(
        "amazon-bedrock-completions-stream-amazon",
        TITAN,
        "stream_complete",
        CompletionRequest(prompt="Say hi", extra_params={"top_p": 0.9}),
        {"inputText": "Say hi", "textGenerationConfig": {"topP": 0.9}},
        frames(
            {
                "outputText": "Hi",
                "index": 0,
                "totalOutputTextTokenCount": 1,
                "completionReason": None,
                "inputTextTokenCount": 4,
            },
            {
                "outputText": " there",
                "index": 0,
                "totalOutputTextTokenCount": 3,
                "completionReason": "LENGTH",
            },
            prompt=4,
            output=3,
        ),
        [
            CompletionChunk(None, None, [CompletionChoice(0, "Hi")], None, P),
            CompletionChunk(None, None, [CompletionChoice(0, " there", "length")], None, P),
            CompletionChunk(None, TITAN, [], usage(4, 3), P),
        ],
    ),
    case(
        "amazon-bedrock-chat-plain-amazon",
        TITAN,
        "chat",
        ChatRequest(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How are you?"},
            ],
        ),
        {"inputText": "Be brief.\nUser: Hi\nBot: Hello!\nUser: How are you?\nBot:"},
        Reply(json=_TITAN_REPLY),
        ChatResponse(None, TITAN, [ChatChoice(0, "Hi there", [], "stop")], usage(4, 3), P),
    ),
    case(
        "amazon-bedrock-chat-stream-amazon",
        TITAN,
        "stream_chat",
        ChatRequest(messages=HELLO),
        {"inputText": "User: Hello\nBot:"},
        frames(
            {"outputText": "Hi", "index": 0, "completionReason": None},
            {"outputText": "!", "index": 0, "completionReason": "CONTENT_FILTERED"},
            prompt=4,
            output=2,
        ),
        [
            ChatChunk(None, None, [ChatChunkChoice(0, "Hi")], None, P),
            ChatChunk(None, None, [ChatChunkChoice(0, "!", None, "content_filter")], None, P),
            ChatChunk(None, TITAN, [], usage(4, 2), P),
        ],
    ),
    case(
        # Titan embeddings take one text per call: one request per text, results in order.
        "amazon-bedrock-embeddings-plain-amazon",
        TITAN_EMBED,
        "embed",
        {"texts": ["first", "second"], "extra_params": {"dimensions": 256}},
        {"inputText": "first", "dimensions": 256},
        Reply(json={"embedding": [0.1, 0.2], "inputTextTokenCount": 1}),
        EmbeddingsResponse([[0.1, 0.2], [0.3, 0.4]], TITAN_EMBED, Usage(3, 0, 3), P),
        more=(
            Exchange(
                url(TITAN_EMBED),
                {"inputText": "second", "dimensions": 256},
                Reply(json={"embedding": [0.3, 0.4], "inputTextTokenCount": 2}),
                PLAIN_HEADERS,
            ),
        ),
    ),
    case(
        "amazon-bedrock-completions-plain-amazon-stop-refused",
        TITAN,
        "complete",
        CompletionRequest(prompt="Say hi", stop=["\n\n"]),
        None,
        None,
        Raises(
            UnsupportedParameterError,
            r"parameter 'stop'; Titan text models accept only '\|' or 'User:'",
        ),
    ),
]

# -- errors ----------------------------------------------------------------------------------

_ERROR_TYPE = "x-amzn-ErrorType"

ERRORS = [
    case(
        "amazon-bedrock-chat-plain-http-error",
        CLAUDE,
        "chat",
        ChatRequest(messages=HELLO, max_tokens=10),
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": HELLO},
        Reply(
            status=400,
            json={"message": "Malformed input request: #: extraneous key [foo] is not permitted"},
            headers={
                _ERROR_TYPE: "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "x-amzn-RequestId": "req-123",
            },
        ),
        Raises(
            BadRequestError,
            "extraneous key",
            {"status_code": 400, "code": "ValidationException", "request_id": "req-123"},
        ),
    ),
    case(
        "amazon-bedrock-chat-plain-throttled",
        CLAUDE,
        "chat",
        ChatRequest(messages=HELLO, max_tokens=10),
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": HELLO},
        Reply(
            status=429,
            json={"message": "Too many requests, please wait before trying again."},
            headers={_ERROR_TYPE: "ThrottlingException", "x-amzn-RequestId": "req-429"},
        ),
        Raises(RateLimitError, "Too many requests", {"retryable": True, "request_id": "req-429"}),
    ),
    case(
        # botocore's retry rules also treat a ThrottlingException that comes with a 400 as such.
        "amazon-bedrock-completions-plain-throttled-400",
        TITAN,
        "complete",
        CompletionRequest(prompt="Hi"),
        {"inputText": "Hi"},
        Reply(
            status=400,
            json={"Message": "Rate exceeded"},
            headers={_ERROR_TYPE: "ThrottlingException"},
        ),
        Raises(RateLimitError, "Rate exceeded", {"retryable": True, "status_code": 400}),
    ),
    case(
        "amazon-bedrock-chat-stream-exception-frame",
        CLAUDE,
        "stream_chat",
        ChatRequest(messages=HELLO, max_tokens=10),
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": HELLO},
        Reply(
            raw=b"".join(chunk_frame(e) for e in _CLAUDE_EVENTS[:3])
            + exception_frame(
                "modelStreamErrorException",
                "Model stream error",
                originalStatusCode=500,
                originalMessage="upstream failed",
            ),
            content_type=EVENT_STREAM,
        ),
        Raises(
            APIError,
            r"Model stream error \(model said: upstream failed\)",
            {"status_code": 424, "code": "modelStreamErrorException", "retryable": False},
        ),
    ),
    case(
        "amazon-bedrock-chat-stream-throttling-frame",
        COMMAND_R,
        "stream_chat",
        ChatRequest(messages=HELLO),
        {"message": "Hello"},
        Reply(
            raw=exception_frame("throttlingException", "Too many tokens"), content_type=EVENT_STREAM
        ),
        Raises(
            RateLimitError, "Too many tokens", {"retryable": True, "code": "throttlingException"}
        ),
    ),
    case(
        "amazon-bedrock-completions-stream-internal-error-frame",
        TITAN,
        "stream_complete",
        CompletionRequest(prompt="Hi"),
        {"inputText": "Hi"},
        Reply(raw=exception_frame("internalServerException", "Oops"), content_type=EVENT_STREAM),
        Raises(ServerError, "Oops", {"retryable": True, "status_code": 500}),
    ),
]

CASES = [*ANTHROPIC, *COHERE, *AI21, *TITAN_CASES, *ERRORS]
