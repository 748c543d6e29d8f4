"""Conformance cases for ``google-cloud-vertex-ai``: Gemini chat and completions, text
embeddings, errors, and the service-account token exchange.

The service-account key is a throwaway RSA key generated when this module is imported (never a
key file in the repository); the token endpoint (``Case.side``) verifies each JWT assertion
against its public half before it hands out a token.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

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
    ContentFilterError,
    ContextWindowExceededError,
    EmbeddingsResponse,
    RateLimitError,
    ServerError,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from tests.support.harness import JSON_HEADERS, REDACTED, Case, Exchange, Raises, Reply

PROVIDER = "google-cloud-vertex-ai"
PROJECT = "test-project"
REGION = "us-central1"
TOKEN_URI = "https://oauth2.googleapis.com/token"
ACCESS_TOKEN = "ya29.test-access-token"
CLIENT_EMAIL = f"vertex-tests@{PROJECT}.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
BASE = f"https://{REGION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{REGION}"
MODELS = f"{BASE}/publishers/google/models"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    _KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def service_account(**changes: Any) -> dict[str, Any]:
    """A service-account JSON key (as Google writes them) around the throwaway key."""
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-id",
        "private_key": PRIVATE_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": TOKEN_URI,
    }
    info.update(changes)
    return info


def target(task: str, model: str, *, region: str = REGION, **config: Any) -> dict[str, Any]:
    """ExternalClient kwargs for a Vertex external model."""
    return {
        "external_model": {
            "name": model,
            "provider": PROVIDER,
            "task": task,
            "google_cloud_vertex_ai_config": {
                "project_id": PROJECT,
                "region": region,
                "private_key_plaintext": json.dumps(service_account()),
                **config,
            },
        }
    }


def verified_claims(request: httpx.Request) -> dict[str, Any]:
    """The claims of the JWT-bearer grant in ``request``, its RS256 signature checked."""
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims: dict[str, Any] = jwt.decode(form["assertion"][0], certs=PUBLIC_PEM, audience=TOKEN_URI)
    return claims


def token_endpoint(request: httpx.Request) -> httpx.Response | None:
    """Google's token endpoint: a token for a correctly signed assertion."""
    if str(request.url) != TOKEN_URI:
        return None
    claims = verified_claims(request)
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == 3600
    return httpx.Response(
        200, json={"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
    )


def refusing_token_endpoint(request: httpx.Request) -> httpx.Response | None:
    if str(request.url) != TOKEN_URI:
        return None
    return httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    )


CREDENTIALS = {"authorization": f"Bearer {ACCESS_TOKEN}"}
HEADERS = {**JSON_HEADERS, "authorization": REDACTED}


def exchange(url: str, body: Any, reply: Reply) -> Exchange:
    """One Vertex API call: JSON with the bearer token."""
    return Exchange(url, body, reply, HEADERS)


def case(
    id: str,
    target: dict[str, Any],
    call: str,
    request: Any,
    exchanges: tuple[Exchange, ...],
    expected: Any,
    **kw: Any,
) -> Case:
    kw.setdefault("side", token_endpoint)
    kw.setdefault("credentials", CREDENTIALS)
    return Case(id, target, call, request, exchanges, expected, **kw)


def candidate(
    parts: list[dict[str, Any]], finish: str | None = "STOP", index: int = 0
) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        out["finishReason"] = finish
    return out


def gemini(
    *candidates: dict[str, Any], usage: dict[str, int] | None = None, rid: str = "resp-1"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": list(candidates),
        "modelVersion": "gemini-2.0-flash-001",
        "responseId": rid,
    }
    if usage is not None:
        body["usageMetadata"] = usage
    return body


CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"
FLASH = "gemini-2.0-flash"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name."},
                "unit": {"anyOf": [{"enum": ["C", "F"]}, {"type": "null"}], "default": None},
                "days": {"type": "integer", "exclusiveMinimum": 0},
            },
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}
WEATHER_DECLARATION = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "required": ["location"],
        "type": "OBJECT",
        "properties": {
            "location": {"description": "City name.", "type": "STRING"},
            "unit": {"default": None, "nullable": True, "type": "STRING", "enum": ["C", "F"]},
            "days": {"type": "INTEGER", "minimum": 1},
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}

CASES: list[Case] = [
    case(
        "vertex-chat-plain",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi."},
                {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
            ],
            temperature=0.2,
            max_tokens=50,
            stop=["\n\n"],
            extra_params={"top_p": 0.9, "top_k": 20, "seed": 7, "safetySettings": []},
        ),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {
                    "contents": [
                        {"role": "user", "parts": [{"text": "Hi."}, {"text": "Name a colour."}]}
                    ],
                    "generationConfig": {
                        "temperature": 0.2,
                        "maxOutputTokens": 50,
                        "stopSequences": ["\n\n"],
                        "topP": 0.9,
                        "topK": 20,
                        "seed": 7,
                    },
                    "safetySettings": [],
                    "systemInstruction": {"parts": [{"text": "Be brief."}]},
                },
                Reply(
                    json=gemini(
                        candidate(
                            [
                                {"text": "Thinking...", "thought": True},
                                {"text": "Blue"},
                                {"text": "."},
                            ]
                        ),
                        usage={
                            "promptTokenCount": 9,
                            "candidatesTokenCount": 2,
                            "thoughtsTokenCount": 5,
                            "cachedContentTokenCount": 4,
                            "totalTokenCount": 16,
                        },
                    )
                ),
            ),
        ),
        ChatResponse(
            "resp-1",
            "gemini-2.0-flash-001",
            [ChatChoice(0, "Blue.", [], "stop", "Thinking...")],
            Usage(9, 7, 16, cache_read_tokens=4, reasoning_tokens=5),
            PROVIDER,
        ),
    ),
    case(
        "vertex-chat-plain-n2-json",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Two JSON objects."}],
            n=2,
            response_format={"type": "json_object"},
        ),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {
                    "contents": [{"role": "user", "parts": [{"text": "Two JSON objects."}]}],
                    "generationConfig": {
                        "candidateCount": 2,
                        "responseMimeType": "application/json",
                    },
                },
                Reply(
                    json=gemini(
                        candidate([{"text": "{}"}]),
                        candidate([{"text": '{"a"'}], "MAX_TOKENS", index=1),
                        usage={
                            "promptTokenCount": 4,
                            "candidatesTokenCount": 3,
                            "totalTokenCount": 7,
                        },
                    )
                ),
            ),
        ),
        ChatResponse(
            "resp-1",
            "gemini-2.0-flash-001",
            [ChatChoice(0, "{}", [], "stop"), ChatChoice(1, '{"a"', [], "length")],
            Usage(4, 3, 7),
            PROVIDER,
        ),
    ),
    case(
        "vertex-chat-plain-global-region",
        target(CHAT, FLASH, region="global"),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hi."}]),
        (
            exchange(
                f"https://aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/global"
                f"/publishers/google/models/{FLASH}:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "Hi."}]}]},
                Reply(json=gemini(candidate([{"text": "Hello."}]))),
            ),
        ),
        ChatResponse(
            "resp-1", "gemini-2.0-flash-001", [ChatChoice(0, "Hello.", [], "stop")], None, PROVIDER
        ),
    ),
    case(
        "vertex-chat-stream",
        target(CHAT, FLASH),
        "stream_chat",
        ChatRequest(messages=[{"role": "user", "content": "Count."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {"contents": [{"role": "user", "parts": [{"text": "Count."}]}]},
                Reply(
                    events=(
                        gemini(
                            candidate([{"text": "One, "}], None),
                            usage={
                                "promptTokenCount": 3,
                                "candidatesTokenCount": 2,
                                "totalTokenCount": 5,
                            },
                        ),
                        gemini(
                            candidate([{"text": "two, "}], None),
                            usage={
                                "promptTokenCount": 3,
                                "candidatesTokenCount": 4,
                                "totalTokenCount": 7,
                            },
                        ),
                        gemini(
                            candidate([{"text": "three."}], "STOP"),
                            usage={
                                "promptTokenCount": 3,
                                "candidatesTokenCount": 6,
                                "totalTokenCount": 9,
                            },
                        ),
                    )
                ),
            ),
        ),
        [
            ChatChunk(
                "resp-1",
                "gemini-2.0-flash-001",
                [ChatChunkChoice(0, "One, ", role="assistant")],
                None,
                PROVIDER,
            ),
            ChatChunk(
                "resp-1",
                "gemini-2.0-flash-001",
                [ChatChunkChoice(0, "two, ", role="assistant")],
                None,
                PROVIDER,
            ),
            ChatChunk(
                "resp-1",
                "gemini-2.0-flash-001",
                [ChatChunkChoice(0, "three.", finish_reason="stop", role="assistant")],
                None,
                PROVIDER,
            ),
            # Cumulative usage reported once: the last values, not the sum.
            ChatChunk("resp-1", "gemini-2.0-flash-001", [], Usage(3, 6, 9), PROVIDER),
        ],
    ),
    case(
        "vertex-chat-stream-error-event",
        target(CHAT, FLASH),
        "stream_chat",
        ChatRequest(messages=[{"role": "user", "content": "Count."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {"contents": [{"role": "user", "parts": [{"text": "Count."}]}]},
                Reply(
                    events=(
                        gemini(candidate([{"text": "One, "}], None)),
                        {
                            "error": {
                                "code": 503,
                                "message": "The model is overloaded.",
                                "status": "UNAVAILABLE",
                            }
                        },
                    )
                ),
            ),
        ),
        Raises(ServerError, "overloaded", {"status_code": 503, "code": "UNAVAILABLE"}),
    ),
    case(
        "vertex-chat-tools",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(
            messages=[
                {"role": "user", "content": "Weather and time in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "lc-1",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "lc-1", "content": "12:00"},
            ],
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {
                    "contents": [
                        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
                        {
                            "role": "model",
                            "parts": [{"functionCall": {"name": "get_time", "args": {}}}],
                        },
                        {
                            "role": "user",
                            "parts": [
                                {
                                    "functionResponse": {
                                        "name": "get_time",
                                        "response": {"content": "12:00"},
                                    }
                                }
                            ],
                        },
                    ],
                    "tools": [
                        {"functionDeclarations": [WEATHER_DECLARATION, {"name": "get_time"}]}
                    ],
                    "toolConfig": {
                        "functionCallingConfig": {
                            "mode": "ANY",
                            "allowedFunctionNames": ["get_weather"],
                        }
                    },
                },
                Reply(
                    json=gemini(
                        candidate(
                            [
                                {
                                    "functionCall": {
                                        "name": "get_weather",
                                        "args": {"location": "Paris"},
                                    }
                                }
                            ]
                        ),
                        usage={
                            "promptTokenCount": 30,
                            "candidatesTokenCount": 5,
                            "totalTokenCount": 35,
                        },
                        rid="resp-tools-1",
                    )
                ),
            ),
        ),
        ChatResponse(
            "resp-tools-1",
            "gemini-2.0-flash-001",
            [
                ChatChoice(
                    0,
                    None,
                    [
                        ToolCall(
                            "call_b325d9841cd5d76e1696ba5c", "get_weather", '{"location": "Paris"}'
                        )
                    ],
                    "tool_calls",
                )
            ],
            Usage(30, 5, 35),
            PROVIDER,
        ),
    ),
    case(
        "vertex-chat-tools-stream",
        target(CHAT, FLASH),
        "stream_chat",
        ChatRequest(
            messages=[{"role": "user", "content": "Weather and time in Paris?"}],
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice="required",
        ),
        (
            exchange(
                f"{MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {
                    "contents": [
                        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]}
                    ],
                    "tools": [
                        {"functionDeclarations": [WEATHER_DECLARATION, {"name": "get_time"}]}
                    ],
                    "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
                },
                Reply(
                    events=(
                        gemini(
                            candidate(
                                [
                                    {
                                        "functionCall": {
                                            "name": "get_weather",
                                            "args": {"location": "Paris"},
                                        }
                                    }
                                ],
                                None,
                            ),
                            rid="resp-tools-2",
                        ),
                        gemini(
                            candidate(
                                [{"functionCall": {"name": "get_time", "args": {"zone": "CET"}}}],
                                "STOP",
                            ),
                            usage={
                                "promptTokenCount": 20,
                                "candidatesTokenCount": 9,
                                "totalTokenCount": 29,
                            },
                            rid="resp-tools-2",
                        ),
                    )
                ),
            ),
        ),
        [
            ChatChunk(
                "resp-tools-2",
                "gemini-2.0-flash-001",
                [
                    ChatChunkChoice(
                        0,
                        None,
                        [
                            ToolCallDelta(
                                0,
                                "call_6299cd2fdc0cb541ffef19b5",
                                "get_weather",
                                '{"location": "Paris"}',
                            )
                        ],
                        role="assistant",
                    )
                ],
                None,
                PROVIDER,
            ),
            ChatChunk(
                "resp-tools-2",
                "gemini-2.0-flash-001",
                [
                    ChatChunkChoice(
                        0,
                        None,
                        [
                            ToolCallDelta(
                                1, "call_6c622693c04bfcb6a5111eab", "get_time", '{"zone": "CET"}'
                            )
                        ],
                        "tool_calls",
                        role="assistant",
                    )
                ],
                None,
                PROVIDER,
            ),
            ChatChunk("resp-tools-2", "gemini-2.0-flash-001", [], Usage(20, 9, 29), PROVIDER),
        ],
    ),
    case(
        "vertex-chat-plain-prompt-blocked",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Something blocked."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "Something blocked."}]}]},
                Reply(
                    json={
                        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                        "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4},
                    }
                ),
            ),
        ),
        Raises(ContentFilterError, "blocked.*PROHIBITED_CONTENT", {"code": "PROHIBITED_CONTENT"}),
    ),
    case(
        "vertex-chat-plain-answer-filtered",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Quote a song."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "Quote a song."}]}]},
                Reply(json=gemini({"finishReason": "RECITATION", "index": 0})),
            ),
        ),
        ChatResponse(
            "resp-1",
            "gemini-2.0-flash-001",
            [ChatChoice(0, None, [], "content_filter")],
            None,
            PROVIDER,
        ),
    ),
    case(
        "vertex-chat-plain-rate-limited",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hi."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "Hi."}]}]},
                Reply(
                    status=429,
                    json={
                        "error": {
                            "code": 429,
                            "message": "Resource exhausted. Please try again later.",
                            "status": "RESOURCE_EXHAUSTED",
                            "details": [
                                {
                                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                    "retryDelay": "7s",
                                }
                            ],
                        }
                    },
                ),
            ),
        ),
        Raises(
            RateLimitError,
            r"status=429, code=RESOURCE_EXHAUSTED, "
            r"url=https://us-central1-aiplatform\.googleapis\.com/\S+:generateContent\): "
            r"Resource exhausted",
            {"retryable": True, "retry_after": 7.0, "provider": PROVIDER},
        ),
    ),
    case(
        "vertex-chat-plain-context-window",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Long."}]),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {"contents": [{"role": "user", "parts": [{"text": "Long."}]}]},
                Reply(
                    status=400,
                    json={
                        "error": {
                            "code": 400,
                            "message": "The input token count (2000000) exceeds the maximum number "
                            "of tokens allowed (1048576).",
                            "status": "INVALID_ARGUMENT",
                        }
                    },
                ),
            ),
        ),
        Raises(ContextWindowExceededError, "exceeds the maximum", {"code": "INVALID_ARGUMENT"}),
    ),
    case(
        "vertex-chat-plain-token-refused",
        target(CHAT, FLASH),
        "chat",
        ChatRequest(messages=[{"role": "user", "content": "Hi."}]),
        (),
        Raises(
            AuthenticationError,
            "token request failed: Invalid JWT Signature",
            {"status_code": 400, "code": "invalid_grant"},
        ),
        side=refusing_token_endpoint,
        credentials={},
    ),
    case(
        "vertex-completions-plain",
        target(COMPLETIONS, FLASH),
        "complete",
        CompletionRequest(prompt="Once upon a time", max_tokens=8, n=2),
        (
            exchange(
                f"{MODELS}/{FLASH}:generateContent",
                {
                    "contents": [{"role": "user", "parts": [{"text": "Once upon a time"}]}],
                    "generationConfig": {"maxOutputTokens": 8, "candidateCount": 2},
                },
                Reply(
                    json=gemini(
                        candidate([{"text": "there was"}], "MAX_TOKENS"),
                        candidate([{"text": "a fox."}], "STOP", index=1),
                        usage={
                            "promptTokenCount": 4,
                            "candidatesTokenCount": 6,
                            "totalTokenCount": 10,
                        },
                    )
                ),
            ),
        ),
        CompletionResponse(
            "resp-1",
            "gemini-2.0-flash-001",
            [CompletionChoice(0, "there was", "length"), CompletionChoice(1, "a fox.", "stop")],
            Usage(4, 6, 10),
            PROVIDER,
        ),
    ),
    case(
        "vertex-completions-stream",
        target(COMPLETIONS, FLASH),
        "stream_complete",
        CompletionRequest(prompt=["Once"]),
        (
            exchange(
                f"{MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {"contents": [{"role": "user", "parts": [{"text": "Once"}]}]},
                Reply(
                    events=(
                        gemini(
                            candidate([{"text": "upon "}], None),
                            usage={
                                "promptTokenCount": 1,
                                "candidatesTokenCount": 1,
                                "totalTokenCount": 2,
                            },
                        ),
                        gemini(
                            candidate([{"text": "a time"}], "STOP"),
                            usage={
                                "promptTokenCount": 1,
                                "candidatesTokenCount": 3,
                                "totalTokenCount": 4,
                            },
                        ),
                    )
                ),
            ),
        ),
        [
            CompletionChunk(
                "resp-1", "gemini-2.0-flash-001", [CompletionChoice(0, "upon ")], None, PROVIDER
            ),
            CompletionChunk(
                "resp-1",
                "gemini-2.0-flash-001",
                [CompletionChoice(0, "a time", "stop")],
                None,
                PROVIDER,
            ),
            CompletionChunk("resp-1", "gemini-2.0-flash-001", [], Usage(1, 3, 4), PROVIDER),
        ],
    ),
    case(
        "vertex-embeddings-plain",
        target(EMBEDDINGS, "text-embedding-005"),
        "embed",
        {"texts": ["alpha", "beta gamma"], "extra_params": {"dimensions": 2}},
        (
            exchange(
                f"{MODELS}/text-embedding-005:predict",
                {
                    "instances": [
                        {"content": "alpha", "task_type": "RETRIEVAL_DOCUMENT"},
                        {"content": "beta gamma", "task_type": "RETRIEVAL_DOCUMENT"},
                    ],
                    "parameters": {"outputDimensionality": 2},
                },
                Reply(
                    json={
                        "predictions": [
                            {
                                "embeddings": {
                                    "values": [0.1, 0.2],
                                    "statistics": {"token_count": 1, "truncated": False},
                                }
                            },
                            {
                                "embeddings": {
                                    "values": [0.3, 0.4],
                                    "statistics": {"token_count": 2, "truncated": False},
                                }
                            },
                        ]
                    }
                ),
            ),
        ),
        EmbeddingsResponse(
            [[0.1, 0.2], [0.3, 0.4]], "text-embedding-005", Usage(3, 0, 3), PROVIDER
        ),
    ),
    case(
        "vertex-embeddings-plain-query-one-per-call",
        target(EMBEDDINGS, "gemini-embedding-001"),
        "embed",
        {"texts": ["first", "second"], "input_kind": "query"},
        tuple(
            exchange(
                f"{MODELS}/gemini-embedding-001:predict",
                {"instances": [{"content": text, "task_type": "RETRIEVAL_QUERY"}]},
                Reply(
                    json={
                        "predictions": [
                            {"embeddings": {"values": vector, "statistics": {"token_count": 1}}}
                        ]
                    }
                ),
            )
            for text, vector in (("first", [1.0, 0.0]), ("second", [0.0, 1.0]))
        ),
        EmbeddingsResponse(
            [[1.0, 0.0], [0.0, 1.0]], "gemini-embedding-001", Usage(2, 0, 2), PROVIDER
        ),
    ),
]
