"""Conformance cases for the ``cohere`` provider (v2 chat and v2 embed).

Replies follow cohere-python's v2 types: ``message.content`` as text parts, ``usage`` with
both ``tokens`` and ``billed_units`` (different on purpose: ``tokens`` must win), named SSE
events ending in ``message-end``, errors as ``{"message": ...}`` with ``x-debug-trace-id``.
"""

from __future__ import annotations

from typing import Any

from extmodels_integrations._exceptions import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
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
    EmbeddingsResponse,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from tests.support.harness import JSON_HEADERS, Case, Exchange, Raises, Reply

KEY = "co-test-key"
CHAT_URL = "https://api.cohere.com/v2/chat"
EMBED_URL = "https://api.cohere.com/v2/embed"
CREDENTIALS = {"authorization": f"Bearer {KEY}"}
HEADERS = {**JSON_HEADERS, "authorization": "<redacted>"}
CHAT_MODEL = "command-r-plus-08-2024"
EMBED_MODEL = "embed-english-v3.0"


def target(task: str, name: str = CHAT_MODEL, **config: Any) -> dict[str, Any]:
    return {
        "external_model": {
            "name": name,
            "provider": "cohere",
            "task": task,
            "cohere_config": {"cohere_api_key_plaintext": KEY, **config},
        }
    }


CHAT = target("llm/v1/chat")
COMPLETIONS = target("llm/v1/completions")
EMBEDDINGS = target("llm/v1/embeddings", EMBED_MODEL)

USAGE_WIRE = {
    "billed_units": {"input_tokens": 5, "output_tokens": 3},
    "tokens": {"input_tokens": 71, "output_tokens": 3},
}
USAGE = Usage(prompt_tokens=71, completion_tokens=3, total_tokens=74)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


def reply(text: str | None, finish: str = "COMPLETE", **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"role": "assistant", **message}
    if text is not None:
        body["content"] = [{"type": "text", "text": text}]
    return {"id": "resp-1", "finish_reason": finish, "message": body, "usage": USAGE_WIRE}


def chat_exchange(body: dict[str, Any], answer: Reply, url: str = CHAT_URL) -> Exchange:
    return Exchange(url=url, body=body, reply=answer, headers=HEADERS)


def stream_events(*events: dict[str, Any]) -> Reply:
    return Reply(events=tuple((e["type"], e) for e in events), named_events=True)


def content_delta(text: str) -> dict[str, Any]:
    return {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": text}}}}


MESSAGE_START = {
    "type": "message-start",
    "id": "resp-2",
    "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}},
}
CONTENT_START = {
    "type": "content-start",
    "index": 0,
    "delta": {"message": {"content": {"type": "text", "text": ""}}},
}


def message_end(finish: str, usage: Any = USAGE_WIRE, **delta: Any) -> dict[str, Any]:
    return {"type": "message-end", "delta": {"finish_reason": finish, "usage": usage, **delta}}


def chunk(choice: ChatChunkChoice, id: str = "resp-2") -> ChatChunk:
    return ChatChunk(id, None, [choice], None, "cohere")


def usage_chunk(id: str = "resp-2", model: str = CHAT_MODEL) -> ChatChunk:
    return ChatChunk(id, model, [], USAGE, "cohere")


def error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status=status, json={"id": "err-9", "message": message}, headers=headers)


PLAIN_MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "!"}]},
]
PLAIN_REQUEST = ChatRequest(
    messages=PLAIN_MESSAGES,  # type: ignore[arg-type]
    temperature=0.2,
    max_tokens=50,
    stop=["END"],
    n=1,
    extra_params={"top_k": 40, "top_p": 0.9, "seed": 7, "frequency_penalty": 0.1},
)
PLAIN_BODY = {
    "model": CHAT_MODEL,
    "messages": [
        {"role": "system", "content": "Answer briefly."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "!"}],
        },
    ],
    "temperature": 0.2,
    "max_tokens": 50,
    "stop_sequences": ["END"],
    "k": 40,
    "p": 0.9,
    "seed": 7,
    "frequency_penalty": 0.1,
}

TOOL_HISTORY = [
    {"role": "user", "content": "Weather in Paris and the time?"},
    {
        "role": "assistant",
        "content": "I will look both up.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
    {"role": "assistant", "content": "It is 18C."},
    {"role": "user", "content": "And in Rome?"},
]
TOOL_HISTORY_WIRE = [
    {"role": "user", "content": "Weather in Paris and the time?"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        "tool_plan": "I will look both up.",
    },
    {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
    {"role": "assistant", "content": "It is 18C."},
    {"role": "user", "content": "And in Rome?"},
]
ROME_CALL = {
    "id": "call_b",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
}


def tool_call_events() -> tuple[dict[str, Any], ...]:
    return (
        MESSAGE_START,
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Looking up Rome."}}},
        {
            "type": "tool-call-start",
            "index": 1,
            "delta": {
                "message": {
                    "tool_calls": {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                }
            },
        },
        {
            "type": "tool-call-delta",
            "index": 1,
            "delta": {"message": {"tool_calls": {"function": {"arguments": '{"city": '}}}},
        },
        {
            "type": "tool-call-delta",
            "index": 1,
            "delta": {"message": {"tool_calls": {"function": {"arguments": '"Rome"}'}}}},
        },
        {"type": "tool-call-end", "index": 1},
        message_end("TOOL_CALL"),
    )


CHAT_CASES = [
    Case(
        id="cohere-chat-plain",
        target=CHAT,
        call="chat",
        request=PLAIN_REQUEST,
        exchanges=(
            chat_exchange(
                PLAIN_BODY, Reply(json=reply("Hello!"), headers={"x-debug-trace-id": "t-1"})
            ),
        ),
        expected=ChatResponse(
            "resp-1", CHAT_MODEL, [ChatChoice(0, "Hello!", [], "stop")], USAGE, "cohere"
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-finish-reasons-max-tokens-and-thinking",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Think"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Think"}]},
                Reply(
                    json={
                        "id": "resp-3",
                        "finish_reason": "MAX_TOKENS",
                        "message": {
                            "role": "assistant",
                            "content": [
                                {"type": "thinking", "thinking": "Hmm."},
                                {"type": "text", "text": "Part"},
                            ],
                        },
                        # No "tokens": billed units are all there is.
                        "usage": {"billed_units": {"input_tokens": 4, "output_tokens": 2}},
                    }
                ),
            ),
        ),
        expected=ChatResponse(
            "resp-3",
            CHAT_MODEL,
            [ChatChoice(0, "Part", [], "length", reasoning="Hmm.")],
            Usage(4, 2, 6),
            "cohere",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-json-schema",
        target=target("llm/v1/chat", cohere_api_base="https://proxy.example/cohere/v1"),
        call="chat",
        request=ChatRequest(
            messages=[{"role": "user", "content": "A cat"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Pet", "schema": {"type": "object"}},
            },
        ),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "A cat"}],
                    "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
                },
                Reply(json=reply('{"name": "Tom"}')),
                url="https://proxy.example/cohere/v2/chat",
            ),
        ),
        expected=ChatResponse(
            "resp-1", CHAT_MODEL, [ChatChoice(0, '{"name": "Tom"}', [], "stop")], USAGE, "cohere"
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-stream",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=5),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 5,
                    "stream": True,
                },
                stream_events(
                    MESSAGE_START,
                    CONTENT_START,
                    content_delta("Hel"),
                    content_delta("lo ☃"),
                    {"type": "content-end", "index": 0},
                    message_end("STOP_SEQUENCE"),
                ),
            ),
        ),
        expected=[
            chunk(ChatChunkChoice(role="assistant")),
            chunk(ChatChunkChoice(content="Hel")),
            chunk(ChatChunkChoice(content="lo ☃")),
            chunk(ChatChunkChoice(finish_reason="stop")),
            usage_chunk(),
        ],
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-tools",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=TOOL_HISTORY,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice="required",
            parallel_tool_calls=True,
        ),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": TOOL_HISTORY_WIRE,
                    "tools": [WEATHER_TOOL, TIME_TOOL],
                    "tool_choice": "REQUIRED",
                },
                Reply(
                    json=reply(
                        None, "TOOL_CALL", tool_plan="Looking up Rome.", tool_calls=[ROME_CALL]
                    )
                ),
            ),
        ),
        expected=ChatResponse(
            "resp-1",
            CHAT_MODEL,
            [
                ChatChoice(
                    0,
                    None,
                    [ToolCall("call_b", "get_weather", '{"city": "Rome"}')],
                    "tool_calls",
                    reasoning="Looking up Rome.",
                )
            ],
            USAGE,
            "cohere",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-tools-named-sole-tool-forced",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=[{"role": "user", "content": "Rome?"}],
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Rome?"}],
                    "tools": [WEATHER_TOOL],
                    "tool_choice": "REQUIRED",
                },
                Reply(json=reply(None, "TOOL_CALL", tool_calls=[ROME_CALL])),
            ),
        ),
        expected=ChatResponse(
            "resp-1",
            CHAT_MODEL,
            [
                ChatChoice(
                    0, None, [ToolCall("call_b", "get_weather", '{"city": "Rome"}')], "tool_calls"
                )
            ],
            USAGE,
            "cohere",
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-tools-stream",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(
            messages=[{"role": "user", "content": "Rome?"}],
            tools=[WEATHER_TOOL],
            tool_choice="none",
        ),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Rome?"}],
                    "tools": [WEATHER_TOOL],
                    "tool_choice": "NONE",
                    "stream": True,
                },
                stream_events(*tool_call_events()),
            ),
        ),
        expected=[
            chunk(ChatChunkChoice(role="assistant")),
            chunk(ChatChunkChoice(reasoning="Looking up Rome.")),
            chunk(ChatChunkChoice(tool_calls=[ToolCallDelta(0, "call_b", "get_weather", None)])),
            chunk(ChatChunkChoice(tool_calls=[ToolCallDelta(0, arguments='{"city": ')])),
            chunk(ChatChunkChoice(tool_calls=[ToolCallDelta(0, arguments='"Rome"}')])),
            chunk(ChatChunkChoice(finish_reason="tool_calls")),
            usage_chunk(),
        ],
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-tools-named-choice-among-several-refused",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=[{"role": "user", "content": "Rome?"}],
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        ),
        exchanges=(),
        expected=Raises(
            UnsupportedParameterError,
            r"provider 'cohere' does not accept the parameter 'tool_choice'.*bind only that tool",
            {"provider": "cohere", "parameter": "tool_choice"},
        ),
    ),
    Case(
        id="cohere-chat-plain-logit-bias-refused",
        target=CHAT,
        call="chat",
        request=ChatRequest(
            messages=[{"role": "user", "content": "Hi"}], extra_params={"logit_bias": {"1": 5}}
        ),
        exchanges=(),
        expected=Raises(
            UnsupportedParameterError,
            r"provider 'cohere' does not accept the parameter 'logit_bias'",
            {"provider": "cohere", "parameter": "logit_bias"},
        ),
    ),
    Case(
        id="cohere-chat-plain-n-refused",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}], n=2),
        exchanges=(),
        expected=Raises(UnsupportedParameterError, r"'n'.*call it n times"),
    ),
    Case(
        id="cohere-chat-plain-error-rate-limit",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                error(
                    429,
                    "You are using a Trial key, which is limited",
                    **{"x-debug-trace-id": "t-429"},
                ),
            ),
        ),
        expected=Raises(
            RateLimitError,
            r"provider=cohere, status=429, request_id=t-429, "
            r"url=https://api\.cohere\.com/v2/chat\): You are using a Trial key",
            {"retryable": True, "status_code": 429, "request_id": "t-429"},
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-error-invalid-token",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                error(498, "invalid api token"),
            ),
        ),
        # No trace header: the body's id stands in as the request id.
        expected=Raises(
            AuthenticationError,
            r"request_id=err-9, url=https://api\.cohere\.com/v2/chat\): invalid api token",
            {"retryable": False, "request_id": "err-9"},
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-error-too-many-tokens",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                error(
                    400,
                    "too many tokens: total number of tokens in the prompt cannot exceed 128000",
                ),
            ),
        ),
        expected=Raises(ContextWindowExceededError, r"too many tokens", {"status_code": 400}),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-finish-error-raised",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                Reply(json=reply("", "ERROR")),
            ),
        ),
        expected=Raises(ServerError, r"code=ERROR.*finish_reason ERROR", {"code": "ERROR"}),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-stream-error-event",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Hi"}],
                    "stream": True,
                },
                stream_events(
                    MESSAGE_START,
                    content_delta("Hel"),
                    message_end("ERROR", None, error="internal generation failure"),
                ),
            ),
        ),
        expected=Raises(ServerError, r"internal generation failure", {"retryable": True}),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-stream-truncated",
        target=CHAT,
        call="stream_chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Hi"}],
                    "stream": True,
                },
                stream_events(MESSAGE_START, content_delta("Hel")),
            ),
        ),
        expected=Raises(MalformedResponseError, r"before message-end"),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-chat-plain-toxic-is-content-filter",
        target=CHAT,
        call="chat",
        request=ChatRequest(messages=[{"role": "user", "content": "Hi"}]),
        exchanges=(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                Reply(json=reply("", "ERROR_TOXIC")),
            ),
        ),
        expected=ChatResponse(
            "resp-1", CHAT_MODEL, [ChatChoice(0, "", [], "content_filter")], USAGE, "cohere"
        ),
        credentials=CREDENTIALS,
    ),
]

COMPLETION_CASES = [
    Case(
        id="cohere-completions-plain",
        target=COMPLETIONS,
        call="complete",
        request=CompletionRequest(prompt=["Once upon"], max_tokens=8, temperature=0.5),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Once upon"}],
                    "temperature": 0.5,
                    "max_tokens": 8,
                },
                Reply(json=reply(" a time", "MAX_TOKENS")),
            ),
        ),
        expected=CompletionResponse(
            "resp-1", CHAT_MODEL, [CompletionChoice(0, " a time", "length")], USAGE, "cohere"
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-completions-stream",
        target=COMPLETIONS,
        call="stream_complete",
        request=CompletionRequest(prompt="Once upon", stop=["."]),
        exchanges=(
            chat_exchange(
                {
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": "Once upon"}],
                    "stop_sequences": ["."],
                    "stream": True,
                },
                stream_events(
                    MESSAGE_START,
                    CONTENT_START,
                    content_delta(" a"),
                    content_delta(" time"),
                    message_end("STOP_SEQUENCE"),
                ),
            ),
        ),
        expected=[
            CompletionChunk("resp-2", None, [CompletionChoice(0, " a")], None, "cohere"),
            CompletionChunk("resp-2", None, [CompletionChoice(0, " time")], None, "cohere"),
            CompletionChunk("resp-2", None, [CompletionChoice(0, "", "stop")], None, "cohere"),
            CompletionChunk("resp-2", CHAT_MODEL, [], USAGE, "cohere"),
        ],
        credentials=CREDENTIALS,
    ),
    Case(
        # Cohere answers one prompt per request: the client sends one request per prompt and
        # merges the answers, numbering choices as OpenAI does.
        id="cohere-completions-plain-prompt-list-split",
        target=COMPLETIONS,
        call="complete",
        request=CompletionRequest(prompt=["a", "b"]),
        exchanges=tuple(
            chat_exchange(
                {"model": CHAT_MODEL, "messages": [{"role": "user", "content": prompt}]},
                Reply(json=reply(prompt.upper())),
            )
            for prompt in ("a", "b")
        ),
        expected=CompletionResponse(
            "resp-1",
            CHAT_MODEL,
            [CompletionChoice(0, "A", "stop"), CompletionChoice(1, "B", "stop")],
            Usage(prompt_tokens=142, completion_tokens=6, total_tokens=148),
            "cohere",
        ),
        credentials=CREDENTIALS,
    ),
]


def embed_body(texts: list[str], input_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": EMBED_MODEL,
        "texts": texts,
        "input_type": input_type,
        "embedding_types": ["float"],
        **extra,
    }


def embed_reply(vectors: list[list[float]], tokens: int) -> Reply:
    return Reply(
        json={
            "id": "emb-1",
            "response_type": "embeddings_by_type",
            "embeddings": {"float": vectors},
            "texts": ["..."] * len(vectors),
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        }
    )


BATCH = [f"doc {i}" for i in range(97)]

EMBEDDING_CASES = [
    Case(
        id="cohere-embeddings-plain-query",
        target=EMBEDDINGS,
        call="embed",
        request={"texts": ["what is a cat?"], "input_kind": "query"},
        exchanges=(
            chat_exchange(
                embed_body(["what is a cat?"], "search_query"),
                embed_reply([[0.1, 0.2]], 5),
                url=EMBED_URL,
            ),
        ),
        expected=EmbeddingsResponse([[0.1, 0.2]], EMBED_MODEL, Usage(5, 0, 5), "cohere"),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-embeddings-plain-document",
        target=EMBEDDINGS,
        call="embed",
        request={
            "texts": ["a", "b"],
            "extra_params": {"dimensions": 256, "truncate": "END"},
        },
        exchanges=(
            chat_exchange(
                embed_body(["a", "b"], "search_document", output_dimension=256, truncate="END"),
                embed_reply([[1.0], [2.0]], 2),
                url=EMBED_URL,
            ),
        ),
        expected=EmbeddingsResponse([[1.0], [2.0]], EMBED_MODEL, Usage(2, 0, 2), "cohere"),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-embeddings-plain-batches-of-96",
        target=EMBEDDINGS,
        call="embed",
        request={"texts": BATCH},
        exchanges=(
            chat_exchange(
                embed_body(BATCH[:96], "search_document"),
                embed_reply([[float(i)] for i in range(96)], 96),
                url=EMBED_URL,
            ),
            chat_exchange(
                embed_body(BATCH[96:], "search_document"),
                embed_reply([[96.0]], 1),
                url=EMBED_URL,
            ),
        ),
        expected=EmbeddingsResponse(
            [[float(i)] for i in range(97)], EMBED_MODEL, Usage(97, 0, 97), "cohere"
        ),
        credentials=CREDENTIALS,
    ),
    Case(
        id="cohere-embeddings-plain-encoding-format-refused",
        target=EMBEDDINGS,
        call="embed",
        request={"texts": ["a"], "extra_params": {"encoding_format": "base64"}},
        exchanges=(),
        expected=Raises(UnsupportedParameterError, r"'encoding_format'"),
    ),
    Case(
        id="cohere-embeddings-plain-error-bad-request",
        target=EMBEDDINGS,
        call="embed",
        request={"texts": ["a"]},
        exchanges=(
            chat_exchange(
                embed_body(["a"], "search_document"),
                error(400, "invalid request: input_type must be provided"),
                url=EMBED_URL,
            ),
        ),
        expected=Raises(BadRequestError, r"input_type must be provided", {"status_code": 400}),
        credentials=CREDENTIALS,
    ),
]

CASES = CHAT_CASES + COMPLETION_CASES + EMBEDDING_CASES
