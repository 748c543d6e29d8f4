"""Golden in/out tests for every target kind the core can call.

Each case fixes what goes over the wire (method, exact URL, exact JSON body, headers with the
auth values redacted, and the auth value itself checked separately) and the exact unified object
that comes back. Every case runs twice, through the sync and the async client methods, against
an ``httpx.MockTransport``: nothing touches the network.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

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
    EmbeddingsResponse,
    ExternalClient,
    ToolCall,
    ToolCallDelta,
    Usage,
    _auth,
)
from tests.support.harness import JSON_HEADERS, REDACTED, Chunks, sent_headers, sse

TOKEN_HOST = "login.microsoftonline.com"
TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
TASKS = {
    "chat": "llm/v1/chat",
    "completions": "llm/v1/completions",
    "embeddings": "llm/v1/embeddings",
}
CALL_TASK = {
    "chat": "chat",
    "stream_chat": "chat",
    "complete": "completions",
    "stream_complete": "completions",
    "embed": "embeddings",
}


# -- the fake server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the fake provider answers: a JSON body or a list of SSE events."""

    json: Any = None
    events: tuple[Any, ...] = ()

    def response(self) -> httpx.Response:
        if self.events:
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=Chunks(sse(*self.events)),
            )
        return httpx.Response(200, json=self.json, headers={"x-request-id": "req-1"})


def stream_reply(*events: Any) -> Reply:
    return Reply(events=events)


class FakeServer:
    """Records every request; answers Entra token requests and API requests."""

    def __init__(
        self, reply: Reply, tokens: tuple[str, ...] = ("entra-token-1",), expires_in: int = 3599
    ) -> None:
        self.reply = reply
        self.tokens = iter(tokens)
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == TOKEN_HOST:
            token = next(self.tokens)
            return httpx.Response(
                200,
                json={"token_type": "Bearer", "expires_in": self.expires_in, "access_token": token},
            )
        return self.reply.response()

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host != TOKEN_HOST]

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == TOKEN_HOST]


# -- targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    id: str
    client: Callable[[str], dict[str, Any]]  # task key -> ExternalClient kwargs
    urls: dict[str, str]  # task key -> the exact URL
    headers: dict[str, str]  # the exact headers sent, auth values redacted
    auth: tuple[str, str]  # (header, exact value)
    provider: str
    body_model: str | None = None  # "model" in the JSON body (None: not sent)
    stream_options: bool = True  # streams ask for usage


def openai_block(task: str, name: str = "gpt-4o-mini", **config: Any) -> dict[str, Any]:
    return {
        "external_model": {
            "name": name,
            "provider": "openai",
            "task": TASKS[task],
            "openai_config": config,
        }
    }


def urls(base: str, query: str = "") -> dict[str, str]:
    return {
        task: f"{base}/{path}{query}"
        for task, path in (
            ("chat", "chat/completions"),
            ("completions", "completions"),
            ("embeddings", "embeddings"),
        )
    }


SERVING_URL = "https://dbc-1.cloud.databricks.com/serving-endpoints/my-endpoint/invocations"
SERVING = Target(
    id="serving-endpoint",
    client=lambda task: {
        "endpoint": "my-endpoint",
        "host": "dbc-1.cloud.databricks.com/",  # no scheme, trailing slash: normalized
        "token": "dapi-test-token-0001",
    },
    urls=dict.fromkeys(TASKS, SERVING_URL),
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer dapi-test-token-0001"),
    provider="databricks",
)
DATABRICKS_MODEL_SERVING = Target(
    id="databricks-model-serving",
    client=lambda task: {
        "external_model": {
            "name": "remote-endpoint",
            "provider": "databricks-model-serving",
            "task": TASKS[task],
            "databricks_model_serving_config": {
                "databricks_workspace_url": "https://remote.cloud.databricks.com",
                "databricks_api_token_plaintext": "dapi-remote-token-0002",
            },
        }
    },
    urls=dict.fromkeys(
        TASKS, "https://remote.cloud.databricks.com/serving-endpoints/remote-endpoint/invocations"
    ),
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer dapi-remote-token-0002"),
    provider="databricks-model-serving",
)
OPENAI = Target(
    id="openai",
    client=lambda task: openai_block(task, openai_api_key_plaintext="sk-test-openai-0001"),
    urls=urls("https://api.openai.com/v1"),
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer sk-test-openai-0001"),
    provider="openai",
    body_model="gpt-4o-mini",
)
OPENAI_COMPATIBLE = Target(
    id="openai-compatible-base",
    client=lambda task: openai_block(
        task,
        name="meta-llama/Llama-3.1-8B-Instruct",
        openai_api_key_plaintext="local-key-0003",
        openai_api_base="http://localhost:8000/v1/",
    ),
    urls=urls("http://localhost:8000/v1"),
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer local-key-0003"),
    provider="openai",
    body_model="meta-llama/Llama-3.1-8B-Instruct",
)
OPENAI_ORGANIZATION = Target(
    id="openai-organization",
    client=lambda task: openai_block(
        task, openai_api_key_plaintext="sk-test-openai-0001", openai_organization="org-42"
    ),
    urls=urls("https://api.openai.com/v1"),
    headers={**JSON_HEADERS, "authorization": REDACTED, "openai-organization": "org-42"},
    auth=("authorization", "Bearer sk-test-openai-0001"),
    provider="openai",
    body_model="gpt-4o-mini",
)
OPENAI_API_VERSION = Target(
    id="openai-api-version",
    client=lambda task: openai_block(
        task, openai_api_key_plaintext="sk-test-openai-0001", openai_api_version="2024-06-01"
    ),
    urls=urls("https://api.openai.com/v1", "?api-version=2024-06-01"),
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer sk-test-openai-0001"),
    provider="openai",
    body_model="gpt-4o-mini",
)

AZURE_BASE = "https://my-resource.openai.azure.com"
AZURE_CONFIG = {
    "openai_api_base": AZURE_BASE,
    "openai_api_version": "2024-10-21",
    "openai_deployment_name": "gpt4o-deploy",
}
AZURE_URLS = urls(f"{AZURE_BASE}/openai/deployments/gpt4o-deploy", "?api-version=2024-10-21")
AZURE = Target(
    id="azure-api-key",
    client=lambda task: openai_block(
        task, openai_api_type="azure", openai_api_key_plaintext="azure-key-0004", **AZURE_CONFIG
    ),
    urls=AZURE_URLS,
    headers={**JSON_HEADERS, "api-key": REDACTED},
    auth=("api-key", "azure-key-0004"),
    provider="openai",
)
AZURE_OLD_VERSION = Target(
    id="azure-api-key-before-2024-09-01",
    client=lambda task: openai_block(
        task,
        openai_api_type="azure",
        openai_api_key_plaintext="azure-key-0004",
        **{**AZURE_CONFIG, "openai_api_version": "2024-08-01-preview"},
    ),
    urls=urls(f"{AZURE_BASE}/openai/deployments/gpt4o-deploy", "?api-version=2024-08-01-preview"),
    headers={**JSON_HEADERS, "api-key": REDACTED},
    auth=("api-key", "azure-key-0004"),
    provider="openai",
    stream_options=False,
)
AZURE_AD_KEY = Target(
    id="azuread-key-as-bearer",
    client=lambda task: openai_block(
        task, openai_api_type="azuread", openai_api_key_plaintext="aad-token-0005", **AZURE_CONFIG
    ),
    urls=AZURE_URLS,
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer aad-token-0005"),
    provider="openai",
)
ENTRA_CONFIG = {
    "openai_api_type": "azuread",
    "microsoft_entra_tenant_id": "tenant-1",
    "microsoft_entra_client_id": "client-1",
    "microsoft_entra_client_secret_plaintext": "entra-secret-0006",
    **AZURE_CONFIG,
}
AZURE_AD_ENTRA = Target(
    id="azuread-entra-client-credentials",
    client=lambda task: openai_block(task, **ENTRA_CONFIG),
    urls=AZURE_URLS,
    headers={**JSON_HEADERS, "authorization": REDACTED},
    auth=("authorization", "Bearer entra-token-1"),
    provider="openai",
)

TARGETS = [
    SERVING,
    DATABRICKS_MODEL_SERVING,
    OPENAI,
    OPENAI_COMPATIBLE,
    OPENAI_ORGANIZATION,
    OPENAI_API_VERSION,
    AZURE,
    AZURE_OLD_VERSION,
    AZURE_AD_KEY,
    AZURE_AD_ENTRA,
]


# -- wire helpers ------------------------------------------------------------------------------


def chat_event(*choices: Any, usage: Any = None, **top: Any) -> dict[str, Any]:
    event = {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": list(choices),
        "usage": usage,
    }
    event.update(top)
    return event


def delta(index: int = 0, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish}


def text_event(*choices: Any, usage: Any = None) -> dict[str, Any]:
    return {
        "id": "cmpl-2",
        "object": "text_completion",
        "created": 1700000000,
        "model": "gpt-3.5-turbo-instruct",
        "choices": list(choices),
        "usage": usage,
    }


def text_choice(text: str, index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def f32_base64(*values: float) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


# -- the five standard calls, the same wire format for every target ----------------------------

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
CHAT_REQUEST = ChatRequest(
    messages=MESSAGES,  # type: ignore[arg-type]
    temperature=0.2,
    max_tokens=50,
    stop=["\n\n"],
    extra_params={"top_p": 0.9},
)
CHAT_BODY = {
    "messages": MESSAGES,
    "temperature": 0.2,
    "max_tokens": 50,
    "stop": ["\n\n"],
    "top_p": 0.9,
}
STREAM_BODY = {"stream": True, "stream_options": {"include_usage": True}}
CHAT_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 3,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
COMPLETION_REQUEST = CompletionRequest(prompt="Say hi", temperature=0.0, max_tokens=5, stop=["."])
COMPLETION_BODY = {"prompt": "Say hi", "temperature": 0.0, "max_tokens": 5, "stop": ["."]}
COMPLETION_USAGE = {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}


@dataclass(frozen=True)
class Call:
    name: str  # ExternalClient method (the async runner adds the "a")
    request: Any
    body: dict[str, Any]  # without the target's "model"
    reply: Reply
    expected: Callable[[str], Any]  # provider -> the unified result


CALLS = [
    Call(
        "chat",
        CHAT_REQUEST,
        CHAT_BODY,
        Reply(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hello!"},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": CHAT_USAGE,
                "system_fingerprint": "fp_1",
            }
        ),
        lambda p: ChatResponse(
            id="chatcmpl-1",
            model="gpt-4o-mini-2024-07-18",
            choices=[ChatChoice(index=0, content="Hello!", finish_reason="stop")],
            usage=Usage(12, 3, 15, cache_read_tokens=0, reasoning_tokens=0),
            provider=p,
        ),
    ),
    Call(
        "stream_chat",
        CHAT_REQUEST,
        {**CHAT_BODY, **STREAM_BODY},
        stream_reply(
            chat_event(delta(role="assistant", content="")),
            chat_event(delta(content="Hel")),
            chat_event(delta(content="lo!")),
            chat_event(delta(finish="stop")),
            chat_event(usage=CHAT_USAGE),
            "[DONE]",
        ),
        lambda p: [
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, content="", role="assistant")],
                None,
                p,
            ),
            ChatChunk("chatcmpl-2", "gpt-4o-mini-2024-07-18", [ChatChunkChoice(0, "Hel")], None, p),
            ChatChunk("chatcmpl-2", "gpt-4o-mini-2024-07-18", [ChatChunkChoice(0, "lo!")], None, p),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, finish_reason="stop")],
                None,
                p,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [],
                Usage(12, 3, 15, cache_read_tokens=0, reasoning_tokens=0),
                p,
            ),
        ],
    ),
    Call(
        "complete",
        COMPLETION_REQUEST,
        COMPLETION_BODY,
        Reply(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 1700000000,
                "model": "gpt-3.5-turbo-instruct",
                "choices": [text_choice(" Hi there", finish="length")],
                "usage": COMPLETION_USAGE,
            }
        ),
        lambda p: CompletionResponse(
            id="cmpl-1",
            model="gpt-3.5-turbo-instruct",
            choices=[CompletionChoice(0, " Hi there", "length")],
            usage=Usage(2, 5, 7),
            provider=p,
        ),
    ),
    Call(
        "stream_complete",
        COMPLETION_REQUEST,
        {**COMPLETION_BODY, **STREAM_BODY},
        stream_reply(
            text_event(text_choice(" Hi")),
            text_event(text_choice(" there", finish="length")),
            text_event(usage=COMPLETION_USAGE),
            "[DONE]",
        ),
        lambda p: [
            CompletionChunk(
                "cmpl-2", "gpt-3.5-turbo-instruct", [CompletionChoice(0, " Hi")], None, p
            ),
            CompletionChunk(
                "cmpl-2",
                "gpt-3.5-turbo-instruct",
                [CompletionChoice(0, " there", "length")],
                None,
                p,
            ),
            CompletionChunk("cmpl-2", "gpt-3.5-turbo-instruct", [], Usage(2, 5, 7), p),
        ],
    ),
    Call(
        "embed",
        {"texts": ["first", "second"]},
        {"input": ["first", "second"]},
        Reply(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [0.25, -0.5]},
                    {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
                ],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }
        ),
        lambda p: EmbeddingsResponse(
            [[0.25, -0.5], [1.0, 0.0]],
            model="text-embedding-3-small",
            usage=Usage(2, 0, 2),
            provider=p,
        ),
    ),
]


# -- the case table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    target: Target
    call: str
    request: Any
    reply: Reply
    url: str
    body: dict[str, Any]
    expected: Any
    tokens: tuple[str, ...] = field(default=("entra-token-1",))


def standard(target: Target, call: Call) -> Any:
    body = copy.deepcopy(call.body)
    if target.body_model is not None:
        body["model"] = target.body_model
    if not target.stream_options:
        body.pop("stream_options", None)
    case = Case(
        target=target,
        call=call.name,
        request=call.request,
        reply=call.reply,
        url=target.urls[CALL_TASK[call.name]],
        body=body,
        expected=call.expected(target.provider),
    )
    return pytest.param(case, id=f"{target.id}-{call.name}")


def quirk(id: str, **fields: Any) -> Any:
    return pytest.param(Case(**fields), id=id)


USER = [{"role": "user", "content": "Hi"}]
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
DB = "databricks"

QUIRKS = [
    quirk(
        "serving-endpoint-chat-content-parts-with-reasoning",
        target=SERVING,
        call="chat",
        request=ChatRequest(messages=USER),  # type: ignore[arg-type]
        reply=Reply(
            {
                "id": "chatcmpl-parts",
                "object": "chat.completion",
                "model": "claude-sonnet-4",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": [
                                {
                                    "type": "reasoning",
                                    "summary": [
                                        {"type": "summary_text", "text": "The user greets. "},
                                        {"type": "summary_text", "text": "Answer briefly."},
                                    ],
                                },
                                {"type": "text", "text": "Hello"},
                                {"type": "text", "text": " there!"},
                            ],
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 30, "total_tokens": 39},
            }
        ),
        url=SERVING_URL,
        body={"messages": USER},
        expected=ChatResponse(
            id="chatcmpl-parts",
            model="claude-sonnet-4",
            choices=[
                ChatChoice(
                    0,
                    content="Hello there!",
                    finish_reason="stop",
                    reasoning="The user greets. Answer briefly.",
                )
            ],
            usage=Usage(9, 30, 39),
            provider=DB,
        ),
    ),
    quirk(
        "serving-endpoint-stream-parts-usage-on-every-chunk-empty-choices",
        target=SERVING,
        call="stream_chat",
        request=ChatRequest(messages=USER),  # type: ignore[arg-type]
        reply=stream_reply(
            chat_event(
                delta(
                    role="assistant",
                    content=[
                        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Hm."}]}
                    ],
                ),
                id="s-1",
                model="claude-sonnet-4",
                usage={"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
            ),
            # Azure-style prompt-filter chunk: no choices, no usage.
            chat_event(id="s-1", model="claude-sonnet-4", prompt_filter_results=[]),
            chat_event(
                delta(content=[{"type": "text", "text": "Hi"}]),
                id="s-1",
                model="claude-sonnet-4",
                usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            ),
            chat_event(
                delta(content="!", finish="stop"),
                id="s-1",
                model="claude-sonnet-4",
                usage={
                    "prompt_tokens": 9,
                    "completion_tokens": 3,
                    "total_tokens": 12,
                    "cache_read_input_tokens": 4,
                },
            ),
            "[DONE]",
        ),
        url=SERVING_URL,
        body={"messages": USER, **STREAM_BODY},
        expected=[
            ChatChunk(
                "s-1",
                "claude-sonnet-4",
                [ChatChunkChoice(0, reasoning="Hm.", role="assistant")],
                None,
                DB,
            ),
            ChatChunk("s-1", "claude-sonnet-4", [ChatChunkChoice(0, content="Hi")], None, DB),
            ChatChunk(
                "s-1",
                "claude-sonnet-4",
                [ChatChunkChoice(0, content="!", finish_reason="stop")],
                None,
                DB,
            ),
            ChatChunk("s-1", "claude-sonnet-4", [], Usage(9, 3, 12, cache_read_tokens=4), DB),
        ],
    ),
    quirk(
        "serving-endpoint-stream-partial-usage-merged",
        target=SERVING,
        call="stream_chat",
        request=ChatRequest(messages=USER),  # type: ignore[arg-type]
        reply=stream_reply(
            chat_event(
                delta(role="assistant", content="Hi"),
                id="s-2",
                model="claude-sonnet-4",
                usage={"prompt_tokens": 9},
            ),
            chat_event(
                delta(finish="stop"),
                id="s-2",
                model="claude-sonnet-4",
                usage={"completion_tokens": 3},
            ),
            "[DONE]",
        ),
        url=SERVING_URL,
        body={"messages": USER, **STREAM_BODY},
        expected=[
            ChatChunk(
                "s-2",
                "claude-sonnet-4",
                [ChatChunkChoice(0, content="Hi", role="assistant")],
                None,
                DB,
            ),
            ChatChunk(
                "s-2", "claude-sonnet-4", [ChatChunkChoice(0, finish_reason="stop")], None, DB
            ),
            ChatChunk("s-2", "claude-sonnet-4", [], Usage(9, 3, 12), DB),
        ],
    ),
    quirk(
        "serving-endpoint-stream-tool-call-deltas",
        target=SERVING,
        call="stream_chat",
        request=ChatRequest(
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice="auto",
            parallel_tool_calls=True,
        ),
        reply=stream_reply(
            chat_event(
                delta(
                    role="assistant",
                    content=None,
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_w",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                )
            ),
            chat_event(delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}])),
            chat_event(
                delta(
                    tool_calls=[
                        {
                            "index": 1,
                            "id": "call_t",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        }
                    ]
                )
            ),
            chat_event(delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}])),
            chat_event(delta(tool_calls=[{"index": 1, "function": {"arguments": "{}"}}])),
            chat_event(delta(finish="tool_calls")),
            chat_event(usage={"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}),
            "[DONE]",
        ),
        url=SERVING_URL,
        body={
            "messages": USER,
            "tools": [WEATHER_TOOL, TIME_TOOL],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            **STREAM_BODY,
        },
        expected=[
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [
                    ChatChunkChoice(
                        0,
                        tool_calls=[ToolCallDelta(0, "call_w", "get_weather", "")],
                        role="assistant",
                    )
                ],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, tool_calls=[ToolCallDelta(0, arguments='{"city": ')])],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, tool_calls=[ToolCallDelta(1, "call_t", "get_time", "")])],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, tool_calls=[ToolCallDelta(0, arguments='"Paris"}')])],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, tool_calls=[ToolCallDelta(1, arguments="{}")])],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, finish_reason="tool_calls")],
                None,
                DB,
            ),
            ChatChunk("chatcmpl-2", "gpt-4o-mini-2024-07-18", [], Usage(50, 20, 70), DB),
        ],
    ),
    quirk(
        "openai-chat-tool-calls-named-tool-choice",
        target=OPENAI,
        call="chat",
        request=ChatRequest(
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        reply=Reply(
            {
                "id": "chatcmpl-tools",
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": '{"city": "Paris"}',
                                    },
                                }
                            ],
                        },
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50},
            }
        ),
        url="https://api.openai.com/v1/chat/completions",
        body={
            "model": "gpt-4o-mini",
            "messages": USER,
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        expected=ChatResponse(
            id="chatcmpl-tools",
            model="gpt-4o-mini-2024-07-18",
            choices=[
                ChatChoice(
                    0,
                    content=None,
                    tool_calls=[ToolCall("call_1", "get_weather", '{"city": "Paris"}')],
                    finish_reason="tool_calls",
                )
            ],
            usage=Usage(40, 10, 50),
            provider="openai",
        ),
    ),
    quirk(
        "serving-endpoint-chat-n2-usage-once",
        target=SERVING,
        call="chat",
        request=ChatRequest(messages=USER, n=2),  # type: ignore[arg-type]
        reply=Reply(
            {
                "id": "chatcmpl-n2",
                "model": "llama",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "A"},
                        "finish_reason": "stop",
                    },
                    {
                        "index": 1,
                        "message": {"role": "assistant", "content": "B"},
                        "finish_reason": "length",
                    },
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13},
            }
        ),
        url=SERVING_URL,
        body={"messages": USER, "n": 2},
        expected=ChatResponse(
            id="chatcmpl-n2",
            model="llama",
            choices=[
                ChatChoice(0, content="A", finish_reason="stop"),
                ChatChoice(1, content="B", finish_reason="length"),
            ],
            usage=Usage(5, 8, 13),
            provider=DB,
        ),
    ),
    quirk(
        "serving-endpoint-stream-n2-usage-repeated",
        target=SERVING,
        call="stream_chat",
        request=ChatRequest(messages=USER, n=2),  # type: ignore[arg-type]
        reply=stream_reply(
            chat_event(
                delta(0, content="A"),
                delta(1, content="B"),
                usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            ),
            chat_event(
                delta(0, finish="stop"),
                usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            ),
            chat_event(
                delta(1, finish="stop"),
                usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            ),
            "[DONE]",
        ),
        url=SERVING_URL,
        body={"messages": USER, "n": 2, **STREAM_BODY},
        expected=[
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, content="A"), ChatChunkChoice(1, content="B")],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(0, finish_reason="stop")],
                None,
                DB,
            ),
            ChatChunk(
                "chatcmpl-2",
                "gpt-4o-mini-2024-07-18",
                [ChatChunkChoice(1, finish_reason="stop")],
                None,
                DB,
            ),
            ChatChunk("chatcmpl-2", "gpt-4o-mini-2024-07-18", [], Usage(5, 2, 7), DB),
        ],
    ),
    quirk(
        "serving-endpoint-complete-several-prompts",
        target=SERVING,
        call="complete",
        request=CompletionRequest(prompt=["Say a", "Say b"], max_tokens=3),
        reply=Reply(
            {
                "id": "cmpl-many",
                "model": "mpt",
                "choices": [text_choice("a", 0, "stop"), text_choice("b", 1, "length")],
                "usage": {"prompt_tokens": 4, "completion_tokens": 4},
            }
        ),
        url=SERVING_URL,
        body={"prompt": ["Say a", "Say b"], "max_tokens": 3},
        expected=CompletionResponse(
            id="cmpl-many",
            model="mpt",
            choices=[CompletionChoice(0, "a", "stop"), CompletionChoice(1, "b", "length")],
            usage=Usage(4, 4, 8),
            provider=DB,
        ),
    ),
    quirk(
        "serving-endpoint-stream-complete-usage-repeated",
        target=SERVING,
        call="stream_complete",
        request=CompletionRequest(prompt="Count"),
        reply=stream_reply(
            text_event(
                text_choice("1"),
                usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            ),
            text_event(
                text_choice(" 2", finish="stop"),
                usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            ),
            "[DONE]",
        ),
        url=SERVING_URL,
        body={"prompt": "Count", **STREAM_BODY},
        expected=[
            CompletionChunk(
                "cmpl-2", "gpt-3.5-turbo-instruct", [CompletionChoice(0, "1")], None, DB
            ),
            CompletionChunk(
                "cmpl-2", "gpt-3.5-turbo-instruct", [CompletionChoice(0, " 2", "stop")], None, DB
            ),
            CompletionChunk("cmpl-2", "gpt-3.5-turbo-instruct", [], Usage(1, 2, 3), DB),
        ],
    ),
    quirk(
        "serving-endpoint-embed-base64-out-of-order-no-model",
        target=SERVING,
        call="embed",
        request={"texts": ["x", "y", "z"], "extra_params": {"encoding_format": "base64"}},
        reply=Reply(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 2, "embedding": f32_base64(2.0, 0.0)},
                    {"object": "embedding", "index": 0, "embedding": f32_base64(0.5, -1.25)},
                    {"object": "embedding", "index": 1, "embedding": f32_base64(-3.0, 1024.0)},
                ],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        ),
        url=SERVING_URL,
        body={"input": ["x", "y", "z"], "encoding_format": "base64"},
        expected=EmbeddingsResponse(
            [[0.5, -1.25], [-3.0, 1024.0], [2.0, 0.0]],
            model="my-endpoint",  # the response names no model: the endpoint does
            usage=Usage(3, 0, 3),
            provider=DB,
        ),
    ),
    quirk(
        "openai-embed-out-of-order",
        target=OPENAI,
        call="embed",
        request={"texts": ["x", "y"], "extra_params": {"dimensions": 2}},
        reply=Reply(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                    {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
                ],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }
        ),
        url="https://api.openai.com/v1/embeddings",
        body={"model": "gpt-4o-mini", "input": ["x", "y"], "dimensions": 2},
        expected=EmbeddingsResponse(
            [[1.0, 0.0], [0.0, 1.0]],
            model="text-embedding-3-small",
            usage=Usage(2, 0, 2),
            provider="openai",
        ),
    ),
    # Model override per call.
    quirk(
        "serving-endpoint-chat-model-override-names-endpoint",
        target=SERVING,
        call="chat",
        request=ChatRequest(messages=USER, model="other-endpoint"),  # type: ignore[arg-type]
        reply=CALLS[0].reply,
        url="https://dbc-1.cloud.databricks.com/serving-endpoints/other-endpoint/invocations",
        body={"messages": USER},
        expected=CALLS[0].expected(DB),
    ),
    quirk(
        "serving-endpoint-chat-model-override-response-model",
        target=SERVING,
        call="chat",
        request=ChatRequest(messages=USER, model="other-endpoint"),  # type: ignore[arg-type]
        reply=Reply(
            {
                "id": "c",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "x"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
        url="https://dbc-1.cloud.databricks.com/serving-endpoints/other-endpoint/invocations",
        body={"messages": USER},
        expected=ChatResponse(
            id="c",
            model="other-endpoint",
            choices=[ChatChoice(0, content="x", finish_reason="stop")],
            provider=DB,
        ),
    ),
    quirk(
        "serving-endpoint-stream-without-model-usage-chunk-names-override",
        target=SERVING,
        call="stream_chat",
        request=ChatRequest(messages=USER, model="other-endpoint"),  # type: ignore[arg-type]
        reply=stream_reply(
            {"id": "s-3", "choices": [delta(content="x", finish="stop")]},
            {"id": "s-3", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            "[DONE]",
        ),
        url="https://dbc-1.cloud.databricks.com/serving-endpoints/other-endpoint/invocations",
        body={"messages": USER, **STREAM_BODY},
        expected=[
            ChatChunk("s-3", None, [ChatChunkChoice(0, "x", finish_reason="stop")], None, DB),
            ChatChunk("s-3", "other-endpoint", [], Usage(1, 1, 2), DB),
        ],
    ),
    quirk(
        "serving-endpoint-stream-complete-model-override",
        target=SERVING,
        call="stream_complete",
        request=CompletionRequest(prompt="Say hi", model="other/endpoint"),
        reply=CALLS[3].reply,
        url="https://dbc-1.cloud.databricks.com/serving-endpoints/other%2Fendpoint/invocations",
        body={"prompt": "Say hi", **STREAM_BODY},
        expected=CALLS[3].expected(DB),
    ),
    quirk(
        "serving-endpoint-embed-model-override",
        target=SERVING,
        call="embed",
        request={"texts": ["first", "second"], "model": "other-embeddings"},
        reply=CALLS[4].reply,
        url="https://dbc-1.cloud.databricks.com/serving-endpoints/other-embeddings/invocations",
        body={"input": ["first", "second"]},
        expected=CALLS[4].expected(DB),
    ),
    quirk(
        "openai-chat-model-override-in-body",
        target=OPENAI,
        call="chat",
        request=ChatRequest(messages=USER, model="gpt-4.1"),  # type: ignore[arg-type]
        reply=CALLS[0].reply,
        url="https://api.openai.com/v1/chat/completions",
        body={"model": "gpt-4.1", "messages": USER},
        expected=CALLS[0].expected("openai"),
    ),
    quirk(
        "openai-embed-model-override-in-body",
        target=OPENAI,
        call="embed",
        request={"texts": ["first", "second"], "model": "text-embedding-3-large"},
        reply=CALLS[4].reply,
        url="https://api.openai.com/v1/embeddings",
        body={"model": "text-embedding-3-large", "input": ["first", "second"]},
        expected=CALLS[4].expected("openai"),
    ),
    quirk(
        "azure-chat-model-override-names-deployment",
        target=AZURE,
        call="chat",
        request=ChatRequest(messages=USER, model="other-deploy"),  # type: ignore[arg-type]
        reply=CALLS[0].reply,
        url=f"{AZURE_BASE}/openai/deployments/other-deploy/chat/completions?api-version=2024-10-21",
        body={"messages": USER},
        expected=CALLS[0].expected("openai"),
    ),
    quirk(
        "azure-stream-chat-model-override-names-deployment",
        target=AZURE_AD_ENTRA,
        call="stream_chat",
        request=ChatRequest(messages=USER, model="other-deploy"),  # type: ignore[arg-type]
        reply=CALLS[1].reply,
        url=f"{AZURE_BASE}/openai/deployments/other-deploy/chat/completions?api-version=2024-10-21",
        body={"messages": USER, **STREAM_BODY},
        expected=CALLS[1].expected("openai"),
    ),
    quirk(
        "azure-embed-model-override-names-deployment",
        target=AZURE,
        call="embed",
        request={"texts": ["first", "second"], "model": "embed-deploy"},
        reply=CALLS[4].reply,
        url=f"{AZURE_BASE}/openai/deployments/embed-deploy/embeddings?api-version=2024-10-21",
        body={"input": ["first", "second"]},
        expected=CALLS[4].expected("openai"),
    ),
]

CASES = [standard(t, c) for t in TARGETS for c in CALLS] + QUIRKS


@pytest.mark.parametrize("case", CASES)
async def test_golden(run, connect, case: Case) -> None:
    server = FakeServer(case.reply, tokens=case.tokens)
    client = connect(server, **case.target.client(CALL_TASK[case.call]))

    result = await run(client, case.call, copy.deepcopy(case.request))

    [sent] = server.api_requests
    assert sent.method == "POST"
    assert str(sent.url) == case.url
    assert json.loads(sent.content) == case.body
    assert sent_headers(sent) == case.target.headers
    header, value = case.target.auth
    assert sent.headers[header] == value
    assert _answered(result, case.reply) == case.expected


def _answered(result: Any, reply: Reply) -> Any:
    """``result`` with its ``object`` / ``created`` checked against what the reply sent, then
    cleared: the goldens spell out every other field."""
    if not isinstance(result, list):
        fields = {"object": reply.json.get("object")}
        if hasattr(result, "created"):
            fields["created"] = reply.json.get("created")
        assert {k: getattr(result, k) for k in fields} == fields
        return dataclasses.replace(result, **dict.fromkeys(fields))
    sent = {(e.get("object"), e.get("created")) for e in reply.events if isinstance(e, dict)}
    for chunk in result:
        assert (chunk.object, chunk.created) in sent
    return [dataclasses.replace(c, object=None, created=None) for c in result]


# -- o-series / gpt-5: max_tokens becomes max_completion_tokens --------------------------------


@pytest.mark.parametrize(
    ("configured", "override", "token_field"),
    [
        ("o1-mini", None, "max_completion_tokens"),
        ("o3", None, "max_completion_tokens"),
        ("o4-mini", None, "max_completion_tokens"),
        ("gpt-5", None, "max_completion_tokens"),
        ("gpt-5-nano", None, "max_completion_tokens"),
        ("gpt-4o", None, "max_tokens"),
        ("gpt-4o", "o3-mini", "max_completion_tokens"),
        ("o1", "gpt-4.1", "max_tokens"),
    ],
)
@pytest.mark.parametrize("call", ["chat", "stream_chat"])
async def test_reasoning_models_send_max_completion_tokens(
    run, connect, call: str, configured: str, override: str | None, token_field: str
) -> None:
    reply = CALLS[0].reply if call == "chat" else CALLS[1].reply
    server = FakeServer(reply)
    client = connect(
        server, **openai_block("chat", name=configured, openai_api_key_plaintext="sk-test-0001")
    )

    request = ChatRequest(messages=USER, max_tokens=64, model=override)  # type: ignore[arg-type]
    await run(client, call, request)

    [sent] = server.api_requests
    expected = {"model": override or configured, "messages": USER, token_field: 64}
    if call == "stream_chat":
        expected.update(STREAM_BODY)
    assert json.loads(sent.content) == expected


async def test_azure_keeps_max_tokens_whatever_the_deployment_name(run, connect) -> None:
    server = FakeServer(CALLS[0].reply)
    client = connect(server, **AZURE.client("chat"))

    await run(client, "chat", ChatRequest(messages=USER, max_tokens=64, model="o3-mini"))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content) == {"messages": USER, "max_tokens": 64}


# -- Microsoft Entra ID client credentials -----------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fake ``time`` for ``extmodels_integrations._auth`` only (asyncio keeps the real one)."""
    fake = Clock(1000.0)
    monkeypatch.setattr(_auth, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


async def test_entra_token_request_is_form_encoded_client_credentials(run, connect, clock) -> None:
    server = FakeServer(CALLS[0].reply)
    client = connect(server, **AZURE_AD_ENTRA.client("chat"))

    await run(client, "chat", ChatRequest(messages=USER))  # type: ignore[arg-type]

    [token_request] = server.token_requests
    assert token_request.method == "POST"
    assert str(token_request.url) == TOKEN_URL
    assert sent_headers(token_request) == {"content-type": "application/x-www-form-urlencoded"}
    assert parse_qs(token_request.content.decode(), strict_parsing=True) == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-1"],
        "client_secret": ["entra-secret-0006"],
        "scope": ["https://cognitiveservices.azure.com/.default"],
    }
    assert server.requests.index(token_request) == 0
    [api] = server.api_requests
    assert api.headers["authorization"] == "Bearer entra-token-1"


async def test_entra_token_cached_then_refreshed_near_expiry(run, connect, clock) -> None:
    # expires_in=1800 at t=1000, refreshed 300 s early: used until t=2500.
    server = FakeServer(CALLS[4].reply, tokens=("entra-token-1", "entra-token-2"), expires_in=1800)
    client = connect(server, **AZURE_AD_ENTRA.client("embeddings"))

    bearer = []
    for now in (1000.0, 2000.0, 2499.0, 2500.0, 3000.0):
        clock.now = now
        await run(client, "embed", {"texts": ["first", "second"]})
        bearer.append(server.api_requests[-1].headers["authorization"])

    assert len(server.token_requests) == 2
    assert bearer == [
        "Bearer entra-token-1",
        "Bearer entra-token-1",
        "Bearer entra-token-1",
        "Bearer entra-token-2",
        "Bearer entra-token-2",
    ]


async def test_entra_token_failure_is_an_authentication_error_without_the_secret(
    run, connect
) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        assert request.url.host == TOKEN_HOST, "no API call without a token"
        return httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            },
            headers={"x-ms-request-id": "aad-req-9"},
        )

    client = connect(server, **AZURE_AD_ENTRA.client("chat"))

    with pytest.raises(AuthenticationError) as info:
        await run(client, "chat", ChatRequest(messages=USER))  # type: ignore[arg-type]

    error = info.value
    assert error.status_code == 401
    assert error.code == "invalid_client"
    assert error.request_id == "aad-req-9"
    assert "AADSTS7000215: Invalid client secret provided." in error.provider_message
    assert "entra-secret-0006" not in str(error)


async def test_entra_token_fetched_once_for_concurrent_async_calls() -> None:
    inner = FakeServer(CALLS[4].reply, tokens=("t1", "t2", "t3"))
    inner.reply = Reply(
        {"object": "list", "data": [{"index": 0, "embedding": [1.0]}], "model": "e"}
    )

    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # a real network round trip lets other tasks run
        return inner(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        client = ExternalClient(**AZURE_AD_ENTRA.client("embeddings"), http_async_client=http)
        await client.aembed(["a", "b", "c"], batch_size=1)

    assert len(inner.api_requests) == 3
    assert len(inner.token_requests) == 1
