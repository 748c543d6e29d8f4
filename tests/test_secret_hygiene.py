"""Secrets never leak: canary credentials are planted everywhere a user can put one, and every
place a secret could surface (repr, serialization, logs, errors, tracebacks, pickles) is
searched for them."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import traceback
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps, loads
from pydantic import SecretStr

import extmodels_integrations as ei
from extmodels_integrations import ExternalClient, parse_external_model
from extmodels_integrations._auth import EntraTokenAuth
from extmodels_integrations._transport import Transport
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.langchain import ChatExternal, CompletionExternal, ExternalEmbeddings
from tests.support.openai_server import OpenAIStubServer

OPENAI_KEY = "sk-canary-PLAINTEXT-0123456789abcdef"
DATABRICKS_TOKEN = "dapi-canary-0123456789abcdef0123456789abcdef"
ENTRA_SECRET = "entra-canary-CLIENT~SECRET-0123456789abcdef"
SERVING_TOKEN = "dapi-canary-SERVING-0123456789abcdef"
CANARIES = (OPENAI_KEY, DATABRICKS_TOKEN, ENTRA_SECRET, SERVING_TOKEN)
# What the env placeholders of a serialized object are filled with when it is loaded again.
PLACEHOLDERS = {
    "OPENAI_API_KEY": "placeholder-openai-key",
    "DATABRICKS_TOKEN": "placeholder-databricks-token",
    "MICROSOFT_ENTRA_CLIENT_SECRET": "placeholder-entra-secret",
    "DATABRICKS_API_TOKEN": "placeholder-serving-token",
}
REFERENCE = "{{secrets/llm-scope/openai-key}}"

CHAT = "llm/v1/chat"
COMPLETIONS = "llm/v1/completions"
EMBEDDINGS = "llm/v1/embeddings"


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"secret {canary[:16]}... leaked"


def openai_block(task: str = CHAT, base: str = "http://127.0.0.1:9/v1") -> dict[str, Any]:
    return {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "task": task,
        "openai_config": {"openai_api_key_plaintext": OPENAI_KEY, "openai_api_base": base},
    }


def entra_block(task: str = CHAT) -> dict[str, Any]:
    return {
        "name": "gpt-4o",
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_type": "azuread",
            "openai_api_base": "https://canary.openai.azure.com",
            "openai_api_version": "2024-10-21",
            "openai_deployment_name": "gpt-4o",
            "microsoft_entra_tenant_id": "tenant-id",
            "microsoft_entra_client_id": "client-id",
            "microsoft_entra_client_secret_plaintext": ENTRA_SECRET,
        },
    }


def serving_block(task: str = CHAT) -> dict[str, Any]:
    return {
        "name": "remote-ep",
        "provider": "databricks-model-serving",
        "task": task,
        "databricks_model_serving_config": {
            "databricks_workspace_url": "https://other.workspace.test",
            "databricks_api_token_plaintext": SERVING_TOKEN,
        },
    }


HOST = "https://workspace.test"
MODELS: list[tuple[str, Callable[[], Any]]] = [
    ("chat-endpoint", lambda: ChatExternal(endpoint="ep", host=HOST, token=DATABRICKS_TOKEN)),
    (
        "chat-openai",
        lambda: ChatExternal(external_model=openai_block(), host=HOST, token=DATABRICKS_TOKEN),
    ),
    ("chat-entra", lambda: ChatExternal(external_model=entra_block())),
    ("chat-serving", lambda: ChatExternal(external_model=serving_block())),
    (
        "completion-endpoint",
        lambda: CompletionExternal(endpoint="ep", host=HOST, token=DATABRICKS_TOKEN),
    ),
    (
        "completion-openai",
        lambda: CompletionExternal(
            external_model=openai_block(COMPLETIONS), host=HOST, token=DATABRICKS_TOKEN
        ),
    ),
    (
        "embeddings-endpoint",
        lambda: ExternalEmbeddings(endpoint="ep", host=HOST, token=DATABRICKS_TOKEN),
    ),
    ("embeddings-entra", lambda: ExternalEmbeddings(external_model=entra_block(EMBEDDINGS))),
]
EACH_MODEL = pytest.mark.parametrize(
    "make_model", [make for _, make in MODELS], ids=[name for name, _ in MODELS]
)


# --------------------------------------------------------------------------- repr and str


@EACH_MODEL
def test_langchain_objects_repr_and_str(make_model) -> None:
    model = make_model()
    assert_clean(repr(model))
    assert_clean(str(model))
    assert_clean(repr(model.client))
    assert_clean(repr(vars(model.client)))
    assert_clean(model.model_dump_json())


@pytest.mark.parametrize(
    "block", [openai_block(), entra_block(), serving_block()], ids=["openai", "entra", "serving"]
)
def test_client_and_parsed_model_repr_and_str(block) -> None:
    client = ExternalClient(external_model=block, host=HOST, token=DATABRICKS_TOKEN)
    assert_clean(repr(client))
    assert_clean(str(client))
    assert_clean(repr(vars(client)))
    parsed = parse_external_model(block)
    assert_clean(repr(parsed))
    assert_clean(str(parsed))
    assert_clean(parsed.model_dump_json())
    assert_clean(repr(parsed.model_dump()))


def test_endpoint_client_repr_and_str() -> None:
    client = ExternalClient(endpoint="ep", host=HOST, token=DATABRICKS_TOKEN)
    assert_clean(repr(client))
    assert_clean(str(client))
    assert_clean(repr(vars(client)))


def test_built_adapter_and_auth_repr() -> None:
    """The adapter holds the resolved secrets once the client has been used."""
    for block in (openai_block(), entra_block(), serving_block()):
        client = ExternalClient(external_model=block)
        adapter = client._adapter()
        assert_clean(repr(adapter))
        assert_clean(repr(vars(adapter)))
        assert_clean(repr(adapter.auth))


# --------------------------------------------------------------------------- serialization


@EACH_MODEL
def test_dumpd_and_dumps_hold_no_secret(make_model) -> None:
    model = make_model()
    assert_clean(json.dumps(dumpd(model)))
    assert_clean(dumps(model))
    assert_clean(dumps(model, pretty=True))


def _placeholders(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PLACEHOLDERS.items():
        monkeypatch.setenv(name, value)
    if model.token is None:  # the env default would give the revived object a token
        monkeypatch.delenv("DATABRICKS_TOKEN")


@EACH_MODEL
def test_load_round_trip_from_env_placeholders(make_model, monkeypatch) -> None:
    model = make_model()
    text = dumps(model)
    _placeholders(model, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain_core.load is marked beta
        revived = loads(
            text,
            secrets_from_env=True,
            valid_namespaces=["extmodels_integrations"],
            # allowed_objects="all" only admits the classes langchain-core itself lists.
            allowed_objects=[type(model)],
        )

    assert type(revived) is type(model)
    assert dumps(revived) == text
    if hasattr(model, "asdict"):
        assert revived.asdict() == model.asdict()
    if model.token is not None:
        assert revived.token.get_secret_value() == PLACEHOLDERS["DATABRICKS_TOKEN"]
    if model.external_model is not None:
        config = revived.external_model.provider_config
        for name in type(config).model_fields:
            if name.endswith("_plaintext") and getattr(config, name) is not None:
                env = name.removesuffix("_plaintext").upper()
                assert getattr(config, name).get_secret_value() == PLACEHOLDERS[env]


def test_secret_reference_stays_in_the_dump_and_round_trips(monkeypatch) -> None:
    block = openai_block()
    del block["openai_config"]["openai_api_key_plaintext"]
    block["openai_config"]["openai_api_key"] = REFERENCE
    model = ChatExternal(external_model=block, host=HOST, token=DATABRICKS_TOKEN)

    data = dumpd(model)
    assert data["kwargs"]["external_model"]["openai_config"]["openai_api_key"] == REFERENCE
    assert REFERENCE in dumps(model)
    assert_clean(dumps(model))

    _placeholders(model, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        revived = loads(
            dumps(model),
            secrets_from_env=True,
            valid_namespaces=["extmodels_integrations"],
            allowed_objects=[ChatExternal],
        )
    assert revived.external_model.openai_config.openai_api_key == REFERENCE


# --------------------------------------------------------------------------- logs


def test_debug_logs_of_calls_hold_no_secret(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint_chat = ChatExternal(endpoint="ep", host=server.base_url, token=DATABRICKS_TOKEN)
    openai_chat = ChatExternal(external_model=openai_block(base=f"{server.base_url}/v1"))
    embeddings = ExternalEmbeddings(
        external_model=openai_block(EMBEDDINGS, base=f"{server.base_url}/v1")
    )

    endpoint_chat.invoke("hello")
    list(endpoint_chat.stream("hello"))
    openai_chat.invoke("hello")
    embeddings.embed_documents(["a", "b"])
    server.fail_next(401)
    with pytest.raises(ei.AuthenticationError):
        openai_chat.invoke("hello")

    # The sent requests did carry the secrets, and logging was really captured.
    assert {r.headers["authorization"] for r in server.requests} == {
        f"Bearer {DATABRICKS_TOKEN}",
        f"Bearer {OPENAI_KEY}",
    }
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(server.base_url in r.getMessage() for r in caplog.records)
    assert_clean(caplog.text)
    assert_clean("\n".join(repr(r.__dict__) for r in caplog.records))


async def test_debug_logs_of_async_calls_hold_no_secret(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    chat = ChatExternal(external_model=openai_block(base=f"{server.base_url}/v1"))

    await chat.ainvoke("hello")
    [c async for c in chat.astream("hello")]

    assert len(server.requests) == 2
    assert caplog.records
    assert_clean(caplog.text)


def test_debug_logs_of_workspace_secret_lookup_hold_no_secret(caplog) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/2.0/secrets/get":
            value = base64.b64encode(OPENAI_KEY.encode()).decode()
            return httpx.Response(200, json={"key": "openai-key", "value": value})
        assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided."}})

    caplog.set_level(logging.DEBUG)
    block = openai_block(base="https://api.provider.test/v1")
    del block["openai_config"]["openai_api_key_plaintext"]
    block["openai_config"]["openai_api_key"] = REFERENCE
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = ExternalClient(
            external_model=block, host=HOST, token=DATABRICKS_TOKEN, http_client=http
        )
        with pytest.raises(ei.AuthenticationError) as info:
            client.chat(messages=[{"role": "user", "content": "hi"}])

    assert "secrets/get" in caplog.text
    assert_clean(caplog.text)
    assert_clean("".join(traceback.format_exception(info.value)))


# --------------------------------------------------------------------------- errors


def _failing_call(chat: ChatExternal) -> BaseException:
    with pytest.raises(ei.ExternalModelError) as info:
        chat.invoke("hello")
    return info.value


def _assert_error_clean(error: BaseException) -> None:
    assert_clean(str(error))
    assert_clean(repr(error))
    assert_clean(repr(vars(error)))
    assert_clean("".join(traceback.format_exception(error)))


def test_failing_call_error_and_traceback_hold_no_secret(server) -> None:
    server.fail_next(401)
    chat = ChatExternal(endpoint="ep", host=server.base_url, token=DATABRICKS_TOKEN)
    error = _failing_call(chat)

    assert isinstance(error, ei.AuthenticationError)
    assert server.requests[-1].headers["authorization"] == f"Bearer {DATABRICKS_TOKEN}"
    _assert_error_clean(error)


@pytest.mark.parametrize(
    "echo",
    [
        f"Incorrect API key provided: {OPENAI_KEY}.",
        f"Invalid header: Authorization: Bearer {DATABRICKS_TOKEN}",
    ],
    ids=["openai-key", "bearer-header"],
)
def test_provider_echoing_the_secret_is_redacted(server, echo) -> None:
    server.fail_next(
        401,
        {"error": {"message": echo, "type": "invalid_request_error", "code": "invalid_api_key"}},
    )
    chat = ChatExternal(
        external_model=openai_block(base=f"{server.base_url}/v1"), host=HOST, token=DATABRICKS_TOKEN
    )
    error = _failing_call(chat)

    assert isinstance(error, ei.AuthenticationError)
    assert "Incorrect API key provided" in str(error) or "Invalid header" in str(error)
    _assert_error_clean(error)
    assert_clean(error.body or "")


def test_provider_echoing_a_token_of_another_shape_is_redacted(server) -> None:
    server.fail_next(
        403,
        {
            "error_code": "PERMISSION_DENIED",
            "message": f"Token {DATABRICKS_TOKEN} cannot query endpoint ep",
        },
    )
    chat = ChatExternal(endpoint="ep", host=server.base_url, token=DATABRICKS_TOKEN)
    error = _failing_call(chat)

    assert isinstance(error, ei.PermissionDeniedError)
    _assert_error_clean(error)


def _config_error(make: Callable[[], Any]) -> BaseException:
    with pytest.raises((ei.ConfigurationError, ValueError)) as info:
        make()
    return info.value


def _with_config(block: dict[str, Any], **changes: Any) -> dict[str, Any]:
    key = next(k for k in block if k.endswith("_config"))
    return {**block, key: {**block[key], **changes}}


# (id, what raises, a fragment the message must contain so we know the right check fired)
CONFIG_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "key-pasted-as-reference",
        lambda: ExternalClient(
            external_model=_with_config(openai_block(), openai_api_key=OPENAI_KEY)
        ),
        "openai_config.openai_api_key: not a valid secret reference",
    ),
    (
        "reference-and-plaintext",
        lambda: ChatExternal(external_model=_with_config(openai_block(), openai_api_key=REFERENCE)),
        "give either openai_api_key or openai_api_key_plaintext",
    ),
    (
        "azure-missing-version",
        lambda: ChatExternal(external_model=_with_config(entra_block(), openai_api_version=None)),
        "openai_api_version: required",
    ),
    (
        "entra-fields-without-azuread",
        lambda: ChatExternal(
            external_model=_with_config(
                entra_block(), openai_api_type="openai", openai_api_key_plaintext=OPENAI_KEY
            )
        ),
        "microsoft_entra_client_secret_plaintext: only used when openai_api_type is 'azuread'",
    ),
    (
        "two-targets",
        lambda: ChatExternal(
            endpoint="ep", host=HOST, token=DATABRICKS_TOKEN, external_model=openai_block()
        ),
        "exactly one target",
    ),
    (
        "endpoint-without-host",
        lambda: ChatExternal(endpoint="ep", token=DATABRICKS_TOKEN),
        "DATABRICKS_HOST",
    ),
    (
        "plaintext-without-external-model",
        lambda: ChatExternal(
            endpoint="ep", host=HOST, token=DATABRICKS_TOKEN, openai_api_key_plaintext=OPENAI_KEY
        ),
        "without external_model",
    ),
    (
        "task-mismatch",
        lambda: CompletionExternal(
            external_model=serving_block(), host=HOST, token=DATABRICKS_TOKEN
        ),
        "external_model.task",
    ),
    (
        "bad-field-type",
        lambda: ChatExternal(
            external_model=openai_block(), token=DATABRICKS_TOKEN, host=HOST, max_retries="many"
        ),
        "max_retries",
    ),
    (
        "unknown-config-field",
        lambda: ExternalEmbeddings(
            external_model=_with_config(serving_block(EMBEDDINGS), databricks_api_tokn="x")
        ),
        "databricks_api_tokn: unknown field",
    ),
]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [(m, f) for _, m, f in CONFIG_ERRORS],
    ids=[n for n, _, _ in CONFIG_ERRORS],
)
def test_configuration_errors_hold_no_secret(make, fragment) -> None:
    error = _config_error(make)
    assert fragment in str(error)
    _assert_error_clean(error)


def test_unresolvable_reference_error_holds_no_secret() -> None:
    block = _with_config(openai_block(), openai_api_key=REFERENCE, openai_api_key_plaintext=None)
    chat = ChatExternal(external_model=block, secret_resolver=lambda scope, key: None)
    error = _failing_call(chat)

    assert isinstance(error, ei.ConfigurationError)
    assert REFERENCE in str(error)
    _assert_error_clean(error)


# --------------------------------------------------------------------------- pickling errors


def _caught(
    server: OpenAIStubServer, status: int, body: dict[str, Any] | None = None
) -> BaseException:
    server.fail_next(status, body, headers={"retry-after": "7"})
    chat = ChatExternal(endpoint="ep", host=server.base_url, token=DATABRICKS_TOKEN, max_retries=0)
    return _failing_call(chat)


API_ATTRIBUTES = (
    "provider",
    "status_code",
    "request_id",
    "code",
    "body",
    "retry_after",
    "provider_message",
)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_pickled_errors_keep_type_message_and_attributes(server, status) -> None:
    error = _caught(server, status)
    data = pickle.dumps(error)
    copy = pickle.loads(data)

    assert type(copy) is type(error)
    assert str(copy) == str(error)
    for name in API_ATTRIBUTES:
        assert getattr(copy, name) == getattr(error, name), name
    assert copy.retry_after == 7.0
    assert copy.request_id is not None
    for canary in CANARIES:
        assert canary.encode() not in data


def test_pickled_core_errors_keep_attributes() -> None:
    errors = [
        ei.RateLimitError(
            "slow down",
            provider="openai",
            status_code=429,
            request_id="req-1",
            code="rate_limit_exceeded",
            body='{"error": 1}',
            retry_after=2.5,
        ),
        ei.MalformedResponseError("cut short", provider="openai"),
        ei.APITimeoutError("too slow", provider="openai"),
        ei.APIConnectionError("refused", provider="openai"),
        ei.ConfigurationError("host: missing"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert vars(copy) == vars(error)


def test_pickled_errors_keep_retryability(server) -> None:
    error = _caught(
        server,
        429,
        {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
    )
    assert isinstance(error, ei.RateLimitError)
    assert error.retryable is False
    assert error.is_retryable is False

    copy = pickle.loads(pickle.dumps(error))

    assert copy.retryable is False
    assert copy.is_retryable is False


# --------------------------------------------------------------------- tracebacks with locals

AWS_SECRETS = ("CANARYKEYID0123456", "canary/AWS+SECRET/0123456789", "canary-AWS-TOKEN-0123")
ACCESS_TOKEN = "eyJ-canary-ACCESS-TOKEN-0123456789"


def _with_locals(error: BaseException) -> str:
    rendered = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(rendered.format())


# The rendered tracebacks start in these helpers, whose locals hold no secret.
def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except ei.ExternalModelError as error:
        return error
    raise AssertionError("the call did not fail")


async def _araised(call: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await call()
    except ei.ExternalModelError as error:
        return error
    raise AssertionError("the call did not fail")


def test_signing_frame_locals_hold_no_aws_secret() -> None:
    """A failure inside ``sign`` shows its ``credentials`` local (botocore's namedtuple repr
    would print all three values)."""
    from extmodels_integrations.providers._aws import SigV4Auth

    key_id, secret_key, session = (SecretStr(v) for v in AWS_SECRETS)
    auth = SigV4Auth(
        region="us-east-1",
        access_key_id=key_id,
        secret_access_key=secret_key,
        session_token=session,
    )
    request = HttpRequest(url="https://bedrock.example/model/m/invoke", params={"a": "b"})
    error = _raised(lambda: auth.headers(Transport(), request))
    assert isinstance(error, ei.ConfigurationError)
    text = _with_locals(error)
    assert "credentials = <AWS credentials>" in text
    assert not [s for s in AWS_SECRETS if s in text]


async def test_token_answer_in_frame_locals_holds_no_token() -> None:
    """An Entra answer with a token but no usable lifetime fails while the answer is in the
    locals of the token-reading frames; neither shows the token nor the client secret."""
    mock = httpx.MockTransport(
        lambda _: httpx.Response(200, json={"access_token": ACCESS_TOKEN, "expires_in": "soon"})
    )
    transport = Transport(
        max_retries=0,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    auth = EntraTokenAuth(tenant_id="t", client_id="c", client_secret=SecretStr(ENTRA_SECRET))
    request = HttpRequest(url="https://x.example/v1/chat/completions")
    errors = [
        _raised(lambda: auth.headers(transport, request)),
        await _araised(lambda: auth.aheaders(transport, request)),
    ]
    for error in errors:
        assert isinstance(error, ei.MalformedResponseError)
        text = _with_locals(error)
        assert "answer = <token answer with keys ['access_token', 'expires_in']>" in text
        assert ACCESS_TOKEN not in text
        assert_clean(text)
