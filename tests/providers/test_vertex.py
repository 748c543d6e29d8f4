"""Vertex AI specifics the conformance table does not pin down: message and schema
translation, made-up call ids, cumulative stream usage, the service-account token cache,
key parsing and per-model embedding batches."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from extmodels_integrations import (
    ChatRequest,
    CompletionRequest,
    ConfigurationError,
    ExternalClient,
    MalformedResponseError,
    PermissionDeniedError,
    ServerError,
    UnsupportedParameterError,
)
from extmodels_integrations._transport import HttpRequest, SSEEvent, Transport
from extmodels_integrations.providers._google_auth import (
    ServiceAccountTokenAuth,
    parse_service_account_key,
)
from extmodels_integrations.providers.vertex import (
    ChatStreamParser,
    VertexAdapter,
    embedding_batch_limit,
    gemini_contents,
    gemini_schema,
    gemini_tools,
    map_error,
    parse_chat,
)
from tests.providers.cases.vertex import (
    ACCESS_TOKEN,
    MODELS,
    PRIVATE_PEM,
    TOKEN_URI,
    WEATHER_TOOL,
    candidate,
    gemini,
    service_account,
    target,
    token_endpoint,
    verified_claims,
)
from tests.support.harness import sse

# -- messages ----------------------------------------------------------------------------------


def test_roles_map_and_consecutive_turns_merge() -> None:
    contents, system = gemini_contents(
        [
            {"role": "system", "content": "One."},
            {"role": "user", "content": "a"},
            {"role": "developer", "content": "Two."},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": "d"},
            {"role": "user", "content": ""},
            {"role": "user", "content": "e"},
        ]
    )
    assert system == {"parts": [{"text": "One."}, {"text": "Two."}]}
    assert contents == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "parts": [{"text": "e"}]},
    ]


def _calls(*names: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {"id": f"id-{n}", "type": "function", "function": {"name": n, "arguments": "{}"}}
            for n in names
        ],
    }


def test_function_responses_are_named_after_the_call_they_answer() -> None:
    contents, _ = gemini_contents(
        [
            {"role": "user", "content": "Go."},
            _calls("get_time", "get_weather"),
            {"role": "tool", "tool_call_id": "id-get_weather", "content": '{"temp": 20}'},
            {"role": "tool", "tool_call_id": "id-get_time", "content": ["[1, ", {"text": "2]"}]},
            {"role": "user", "content": "Thanks."},
        ]
    )
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Let me look."},
            {"functionCall": {"name": "get_time", "args": {}}},
            {"functionCall": {"name": "get_weather", "args": {}}},
        ],
    }
    # Results and the following user text form one user turn; a JSON object result is sent
    # as the response object, anything else is wrapped.
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "[1, 2]"}}},
            {"text": "Thanks."},
        ],
    }


def test_an_image_in_a_tool_result_is_refused_not_dropped() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    result = {"role": "tool", "tool_call_id": "id-get_time", "content": [{"text": "a"}, image]}
    with pytest.raises(UnsupportedParameterError, match=r"messages\[2\]\.content\[1\]"):
        gemini_contents([{"role": "user", "content": "Go."}, _calls("get_time"), result])


def test_a_tool_result_without_a_matching_call_needs_a_name() -> None:
    named = {"role": "tool", "tool_call_id": "elsewhere", "name": "lookup", "content": "x"}
    contents, _ = gemini_contents([named])
    assert contents[0]["parts"][0]["functionResponse"]["name"] == "lookup"
    with pytest.raises(ConfigurationError, match=r"messages\[0\].*'elsewhere' matches none"):
        gemini_contents([{"role": "tool", "tool_call_id": "elsewhere", "content": "x"}])


def test_content_parts() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    stored = {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpeg"}}
    contents, _ = gemini_contents([{"role": "user", "content": ["Look:", image, stored]}])
    assert contents[0]["parts"] == [
        {"text": "Look:"},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpeg"}},
    ]
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(UnsupportedParameterError, match=r"messages\[0\]\.content\[0\]"):
        gemini_contents([{"role": "user", "content": [audio]}])


# -- schemas and tools -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "converted"),
    [
        ({"type": ["string", "null"]}, {"nullable": True, "type": "STRING"}),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}]},
        ),
        ({"oneOf": [{"type": "boolean"}, {"type": "null"}]}, {"nullable": True, "type": "BOOLEAN"}),
        ({"const": "only"}, {"type": "STRING", "enum": ["only"]}),
        ({"enum": ["a", None]}, {"nullable": True, "type": "STRING", "enum": ["a"]}),
        ({"type": "integer", "exclusiveMaximum": 10}, {"type": "INTEGER", "maximum": 9}),
        ({"type": "string", "format": "date-time"}, {"type": "STRING", "format": "date-time"}),
        ({"type": "string", "format": "email"}, {"type": "STRING"}),
        ({"type": "number", "format": "double"}, {"type": "NUMBER", "format": "double"}),
        (
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            {"minItems": 1, "type": "ARRAY", "items": {"type": "STRING"}},
        ),
        (
            {"type": "object", "additionalProperties": {"type": "number"}},
            {"type": "OBJECT", "additionalProperties": {"type": "NUMBER"}},
        ),
        ({"type": "object", "additionalProperties": False}, {"type": "OBJECT"}),
        (
            {"$schema": "x", "title": "T", "examples": [1], "type": "integer"},
            {"title": "T", "type": "INTEGER"},
        ),
        (
            {
                "type": "object",
                "properties": {"p": {"allOf": [{"$ref": "#/$defs/P"}], "description": "d"}},
                "$defs": {"P": {"type": "object", "properties": {"q": {"type": "string"}}}},
            },
            {
                "type": "OBJECT",
                "properties": {
                    "p": {
                        "description": "d",
                        "type": "OBJECT",
                        "properties": {"q": {"type": "STRING"}},
                    }
                },
            },
        ),
        (
            {"properties": {"x": {"$ref": "#/definitions/X"}}, "definitions": {"X": {}}},
            {"properties": {"x": {}}},
        ),
    ],
)
def test_schema_keywords_that_map_are_converted(schema: Any, converted: Any) -> None:
    assert gemini_schema(schema, "p") == converted


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "number", "exclusiveMinimum": 0}, "p.exclusiveMinimum"),
        ({"type": "integer", "multipleOf": 2}, "p.multipleOf"),
        ({"not": {"type": "string"}}, "p.not"),
        ({"type": "array", "items": [{"type": "string"}]}, "p.items"),
        ({"enum": [1, 2]}, "p.enum"),
        ({"type": "integer", "const": 3}, "p.const"),
        ({"allOf": [{"type": "object"}, {"required": ["a"]}]}, "p.allOf"),
        ({"$ref": "https://example.com/schema.json"}, "p.$ref"),
        (
            {
                "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
                "$ref": "#/$defs/N",
            },
            "p.properties.next.$ref",
        ),
        ({"type": "null"}, "p.type"),
        ({"anyOf": [{"type": "null"}]}, "p.anyOf"),
        ({"anyOf": [{"type": "string"}], "oneOf": [{"type": "integer"}]}, "p.oneOf"),
        (
            {"properties": {"deep": {"patternProperties": {}}}},
            "p.properties.deep.patternProperties",
        ),
    ],
)
def test_schema_keywords_without_an_equivalent_are_refused_by_path(schema: Any, path: str) -> None:
    with pytest.raises(UnsupportedParameterError) as caught:
        gemini_schema(schema, "p")
    assert caught.value.parameter == path
    assert caught.value.provider == "google-cloud-vertex-ai"


def test_tools() -> None:
    no_args = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}
    search = {"googleSearch": {}}
    tools = gemini_tools([no_args, search, WEATHER_TOOL])
    declarations = tools[0]["functionDeclarations"]
    assert declarations[0] == {"name": "ping"}  # OBJECT without properties is rejected
    assert declarations[1]["parameters"]["properties"]["days"] == {"type": "INTEGER", "minimum": 1}
    assert tools[1] == search
    with pytest.raises(UnsupportedParameterError, match=r"tools\[0\]"):
        gemini_tools([{"type": "code_interpreter"}])
    bad = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "type": "object",
                "properties": {"n": {"type": "number", "multipleOf": 3}},
            },
        },
    }
    with pytest.raises(UnsupportedParameterError) as caught:
        gemini_tools([bad])
    assert caught.value.parameter == "tools[0].function.parameters.properties.n.multipleOf"


def _adapter(model: str = "gemini-2.0-flash") -> VertexAdapter:
    return VertexAdapter(
        model=model,
        task=None,
        auth=None,
        project_id="p",
        region="europe-west4",  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_weather", {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: Any) -> None:
    request = ChatRequest(
        messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], tool_choice=choice
    )
    body = _adapter().chat_request(request, stream=False).json
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_structured_output_and_refused_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = ChatRequest(
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
        extra_params={
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}},
            "labels": {"t": "1"},
        },
    )
    body = _adapter().chat_request(request, stream=False).json
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
        "thinkingConfig": {"thinkingBudget": 0},
    }
    assert body["labels"] == {"t": "1"}
    refused = [
        ChatRequest(messages=[], extra_params={"logit_bias": {"1": 2}}),
        ChatRequest(messages=[], tools=[WEATHER_TOOL], parallel_tool_calls=False),
        ChatRequest(messages=[], response_format={"type": "xml"}),
    ]
    for request in refused:
        with pytest.raises(UnsupportedParameterError):
            _adapter().chat_request(request, stream=False)
    with pytest.raises(UnsupportedParameterError, match="batch_size=1"):
        _adapter().completion_request(CompletionRequest(prompt=["a", "b"]), stream=False)


def test_urls() -> None:
    adapter = _adapter()
    request = adapter.chat_request(
        ChatRequest(messages=[{"role": "user", "content": "x"}], model="gemini-2.5-pro"),
        stream=True,
    )
    assert request.url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4"
        "/publishers/google/models/gemini-2.5-pro:streamGenerateContent"
    )
    assert request.params == {"alt": "sse"}
    proxied = VertexAdapter(
        model="m@001",
        task=None,
        auth=None,
        project_id="p",
        region="r",  # type: ignore[arg-type]
        api_base="http://127.0.0.1:9/",
    )
    assert (
        proxied.url(None, "predict")
        == "http://127.0.0.1:9/v1/projects/p/locations/r/publishers/google/models/m@001:predict"
    )


# -- responses ---------------------------------------------------------------------------------

CALL = {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}


def _events(*bodies: dict[str, Any]) -> list[SSEEvent]:
    return [SSEEvent(json.dumps(b)) for b in bodies]


def test_made_up_call_ids_are_deterministic_per_response() -> None:
    response = gemini(candidate([CALL, CALL]), rid="r-1")
    first, again = parse_chat(response), parse_chat(json.loads(json.dumps(response)))
    ids = [c.id for c in first.choices[0].tool_calls]
    assert ids == [c.id for c in again.choices[0].tool_calls]
    assert len(set(ids)) == 2  # two identical calls still get distinct ids
    other = parse_chat(gemini(candidate([CALL, CALL]), rid="r-2"))
    assert not set(ids) & {c.id for c in other.choices[0].tool_calls}
    # Streamed, the same response yields the same ids.
    parser = ChatStreamParser(True)
    streamed = [
        parser.parse(e)
        for e in _events(
            gemini(candidate([CALL], None), rid="r-1"), gemini(candidate([CALL]), rid="r-1")
        )
    ]
    assert [c.choices[0].tool_calls[0].id for c in streamed if c] == ids


def test_stream_usage_is_cumulative_and_reported_once() -> None:
    first = gemini(
        candidate([{"text": "a"}], None),
        usage={
            "promptTokenCount": 5,
            "candidatesTokenCount": 1,
            "thoughtsTokenCount": 7,
            "totalTokenCount": 13,
        },
    )
    second = gemini(
        candidate([{"text": "b"}], None),
        usage={"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 14},
    )
    last = gemini(
        candidate([{"text": "c"}]),
        usage={
            "promptTokenCount": 5,
            "candidatesTokenCount": 3,
            "thoughtsTokenCount": 7,
            "totalTokenCount": 15,
        },
    )

    def reply(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URI:
            return token_endpoint(request)  # type: ignore[return-value]
        return httpx.Response(
            200, content=sse(first, second, last), headers={"content-type": "text/event-stream"}
        )

    with _client(reply, target("llm/v1/chat", "gemini-2.0-flash")) as client:
        chunks = list(client.stream_chat(messages=[{"role": "user", "content": "x"}]))
    usages = [c.usage for c in chunks if c.usage is not None]
    assert len(usages) == 1
    assert (usages[0].prompt_tokens, usages[0].completion_tokens, usages[0].total_tokens) == (
        5,
        10,
        15,
    )
    assert usages[0].reasoning_tokens == 7
    assert "".join(c.choices[0].content or "" for c in chunks if c.choices) == "abc"


def test_stream_without_usage_when_not_asked_and_truncation_detected() -> None:
    parser = ChatStreamParser(False)
    chunk = parser.parse(
        _events(gemini(candidate([{"text": "a"}], None), usage={"promptTokenCount": 1}))[0]
    )
    assert chunk is not None and chunk.usage is None
    with pytest.raises(MalformedResponseError, match="no finishReason"):
        parser.finish()


@pytest.mark.parametrize(
    ("finish", "unified"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("SPII", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "MALFORMED_FUNCTION_CALL"),
    ],
)
def test_finish_reasons(finish: str, unified: str) -> None:
    assert (
        parse_chat(gemini(candidate([{"text": "x"}], finish))).choices[0].finish_reason == unified
    )


def test_errors_map_to_the_typed_tree() -> None:
    denied = json.dumps(
        {
            "error": {
                "code": 403,
                "message": "Permission denied on resource.",
                "status": "PERMISSION_DENIED",
            }
        }
    )
    error = map_error(403, {}, denied.encode())
    assert isinstance(error, PermissionDeniedError) and error.code == "PERMISSION_DENIED"
    wrapped = map_error(500, {}, f"[{denied}]".encode())
    assert isinstance(wrapped, ServerError) and "Permission denied" in str(wrapped)
    plain = map_error(502, {}, b"<html>Bad gateway</html>")
    assert isinstance(plain, ServerError) and plain.retryable


# -- auth --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenCounter:
    """The token endpoint, counting fetches and handing out numbered tokens."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.fetches = 0
        self.expires_in = expires_in

    def __call__(self, request: httpx.Request) -> httpx.Response:
        verified_claims(request)
        self.fetches += 1
        return httpx.Response(
            200, json={"access_token": f"token-{self.fetches}", "expires_in": self.expires_in}
        )


def _auth(clock: FakeClock) -> ServiceAccountTokenAuth:
    secret = SecretStr(json.dumps(service_account()))
    return ServiceAccountTokenAuth(parse_service_account_key(secret), secret=secret, clock=clock)


def _transport(handler: Any) -> Transport:
    mock = httpx.MockTransport(handler)
    return Transport(
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
        max_retries=0,
    )


def test_token_is_cached_and_refreshed_five_minutes_before_expiry() -> None:
    clock, endpoint = FakeClock(), TokenCounter()
    auth, transport = _auth(clock), _transport(endpoint)
    request = HttpRequest(url=f"{MODELS}/gemini-2.0-flash:generateContent")
    assert auth.headers(transport, request) == {"Authorization": "Bearer token-1"}
    clock.now += 3600 - 301
    assert auth.headers(transport, request)["Authorization"] == "Bearer token-1"
    clock.now += 2  # now inside the five-minute margin
    assert auth.headers(transport, request)["Authorization"] == "Bearer token-2"
    assert endpoint.fetches == 2


async def test_concurrent_async_calls_fetch_one_token() -> None:
    clock, endpoint = FakeClock(), TokenCounter()
    auth, transport = _auth(clock), _transport(endpoint)
    headers = await asyncio.gather(*(auth.aheaders(transport, None) for _ in range(5)))  # type: ignore[arg-type]
    assert {h["Authorization"] for h in headers} == {"Bearer token-1"}
    assert endpoint.fetches == 1


def test_a_token_response_without_a_token_is_an_error() -> None:
    auth = _auth(FakeClock())
    transport = _transport(lambda r: httpx.Response(200, json={"token_type": "Bearer"}))
    with pytest.raises(MalformedResponseError, match="no access_token"):
        auth.headers(transport, None)  # type: ignore[arg-type]


def test_key_problems_are_configuration_errors_that_never_quote_the_key() -> None:
    cases = {
        PRIVATE_PEM: "bare PEM private key.*JSON key file",
        "not json": "not a service-account JSON key",
        json.dumps(service_account(client_email=None)): "no client_email",
        json.dumps(
            service_account(
                private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            )
        ): "not a valid",
        json.dumps(service_account(token_uri="http://oauth2.example.com/token")): "https://",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigurationError, match=message) as caught:
            parse_service_account_key(SecretStr(text))
        assert "PRIVATE KEY" not in str(caught.value)
        # Nothing chained carries the key into tracebacks either.
        assert caught.value.__cause__ is None
        assert "PRIVATE KEY" not in repr(caught.value.__context__)


def test_missing_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    with pytest.raises(ConfigurationError, match=r'pip install "extmodels-integrations\[vertex\]"'):
        parse_service_account_key(SecretStr(json.dumps(service_account())))


def test_secrets_stay_out_of_repr_and_errors() -> None:
    clock = FakeClock()
    auth = _auth(clock)
    transport = _transport(TokenCounter())
    auth.headers(transport, None)  # type: ignore[arg-type]
    assert (
        "PRIVATE" not in repr(auth)
        and "token-1" not in repr(auth)
        and "PRIVATE" not in repr(auth.key)
    )
    adapter = VertexAdapter(
        model="gemini-2.0-flash", task=None, auth=auth, project_id="p", region="r"
    )
    echo = json.dumps(
        {
            "error": {
                "code": 401,
                "message": "Bad token token-1 for key " + PRIVATE_PEM,
                "status": "UNAUTHENTICATED",
            }
        }
    )
    error = adapter.error(401, {}, echo.encode())
    assert (
        "token-1" not in str(error)
        and "PRIVATE KEY" not in str(error)
        and "PRIVATE KEY" not in (error.body or "")
    )


# -- embeddings batching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("text-embedding-005", 250),
        ("text-multilingual-embedding-002", 250),
        ("gemini-embedding-001", 1),
        ("textembedding-gecko@003", 5),
    ],
)
def test_embedding_batch_limits_by_model(model: str, limit: int) -> None:
    assert embedding_batch_limit(model) == limit


def _client(handler: Any, kwargs: dict[str, Any]) -> ExternalClient:
    mock = httpx.MockTransport(handler)
    return ExternalClient(
        **kwargs,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
        max_retries=0,
    )


def test_embeddings_are_batched_to_the_model_limit() -> None:
    sizes: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URI:
            return token_endpoint(request)  # type: ignore[return-value]
        assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert str(request.url) == f"{MODELS}/text-embedding-005:predict"
        instances = json.loads(request.content)["instances"]
        sizes.append(len(instances))
        vectors = [
            {"embeddings": {"values": [1.0], "statistics": {"token_count": 1}}} for _ in instances
        ]
        return httpx.Response(200, json={"predictions": vectors})

    with _client(reply, target("llm/v1/embeddings", "text-embedding-005")) as client:
        result = client.embed([f"text {i}" for i in range(300)])
    assert sizes == [250, 50]
    assert (
        len(result.embeddings) == 300
        and result.usage is not None
        and result.usage.total_tokens == 300
    )
