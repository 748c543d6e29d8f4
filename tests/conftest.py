"""Shared test wiring: hermetic environment, vcrpy cassettes, and the loopback stub servers
cassettes are recorded against.

Cassettes live in the top-level ``cassettes/`` folder and replay with recording off (the
default ``--record-mode=none``); replaying tests also get every socket blocked. To re-record,
run ``make record``: the stub servers then start on their fixed loopback ports (fixed so
recorded URLs match on replay). Each cassette folder's README says how its set was recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from langchain_tests.conftest import base_vcr_config

from tests.support.openai_server import OpenAIStubServer
from tests.support.vertex_cassettes import TOKEN_PORT, to_stub
from tests.support.wires.vertex import TokenServer

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

# Fixed ports the cassettes were recorded against: the plain OpenAI-format server, and the
# serving-endpoint server that shows the quirks real serving endpoints show.
OPENAI_PORT = 18765
QUIRKS_PORT = 18766
OPENAI_BASE = f"http://127.0.0.1:{OPENAI_PORT}"
QUIRKS_BASE = f"http://127.0.0.1:{QUIRKS_PORT}"

_ENV_TO_CLEAR = (
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_CONFIG_PROFILE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "AZURE_OPENAI_API_KEY",
)
_REDACTED_RESPONSE_HEADERS = {"date", "server", "set-cookie", "x-request-id"}


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("EXTMODELS_SECRET__"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    # The developer's own ~/.databrickscfg must not sign the tests in anywhere.
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(ROOT / ".no-databrickscfg-in-tests"))


# OAuth token exchanges (Entra client credentials, Vertex service-account JWTs): what they
# send and what they get back are credentials, whatever the provider.
_TOKEN_FORM_FIELDS = ("client_secret", "assertion", "refresh_token", "password")
_TOKEN_ANSWER_FIELDS = ("access_token", "id_token", "refresh_token")


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response["headers"]
    for name in list(headers):
        if name.lower() in _REDACTED_RESPONSE_HEADERS:
            del headers[name]
    body = response.get("body") or {}
    try:
        data = json.loads(body.get("string") or b"")
    except ValueError:
        return response
    if isinstance(data, dict) and any(k in data for k in _TOKEN_ANSWER_FIELDS):
        data.update({k: "<redacted>" for k in _TOKEN_ANSWER_FIELDS if k in data})
        body["string"] = json.dumps(data).encode()
    return response


def _scrub_request(request: Any) -> Any:
    """Token-exchange form fields redacted. vcrpy applies this to replayed requests as well,
    so a fresh secret or a freshly signed assertion still matches the stored request."""
    body = request.body
    if not body or not isinstance(body, (bytes, str)):
        return request
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if "grant_type=" not in text:
        return request
    fields = parse_qsl(text, keep_blank_values=True)
    scrubbed = [(k, "redacted" if k in _TOKEN_FORM_FIELDS else v) for k, v in fields]
    request.body = urlencode(scrubbed).encode()
    return request


def _normalized_body(body: bytes | str | None) -> Any:
    """Request JSON with LangChain's random tool-call ids replaced and tool descriptions'
    whitespace collapsed, so replays match on every supported Python.

    Few-shot tool examples get a fresh uuid4 id per run; the id only pairs a call with its
    result, so the pairing is kept (ids are renumbered in order of appearance).
    """
    if not body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    ids: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("tool_call_id", "tool_use_id", "id") and isinstance(value, str):
                    out[key] = ids.setdefault(value, f"id-{len(ids)}")
                elif key == "description" and isinstance(value, str):
                    # Python 3.13 strips docstring indentation at compile time, so a tool
                    # described by its docstring is spaced differently than when recorded.
                    out[key] = " ".join(value.split())
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(data)


def _json_body_matcher(r1: Any, r2: Any) -> None:
    assert _normalized_body(r1.body) == _normalized_body(r2.body)


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    config = base_vcr_config()
    # The CLI's --record-mode decides (default "none"): a record_mode here would win over it
    # and silently let CI hit the network.
    config.pop("record_mode", None)
    # The folder depends on the test module: see vcr_cassette_dir.
    config.pop("cassette_library_dir", None)
    config["filter_headers"] = [
        *config["filter_headers"],
        ("user-agent", "PLACEHOLDER"),
        ("cookie", "PLACEHOLDER"),
        ("openai-organization", "PLACEHOLDER"),
        ("x-goog-api-key", "PLACEHOLDER"),
        ("x-amz-security-token", "PLACEHOLDER"),
        ("x-amz-date", "PLACEHOLDER"),
        ("x-amz-content-sha256", "PLACEHOLDER"),
    ]
    config["before_record_response"] = _scrub_response
    # Vertex token exchanges are stored as one fixed redacted request (and live Vertex URLs as
    # the stub's), whichever module records them.
    config["before_record_request"] = (_scrub_request, to_stub(OPENAI_BASE))
    config["match_on"] = ["method", "uri", "json_body"]
    return config


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``cassettes/<the test module's folder under tests/>``: ``tests/langchain/*`` replay from
    ``cassettes/langchain``, ``tests/providers/anthropic/*`` from ``cassettes/providers/anthropic``.
    """
    folder = Path(str(request.node.fspath)).parent.relative_to(ROOT / "tests")
    return str(CASSETTES / folder)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("json_body", _json_body_matcher)


def _record_mode(config: pytest.Config) -> str:
    return str(config.getoption("--record-mode", default=None) or "none")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _record_mode(config) != "none":
        return
    for item in items:
        if item.get_closest_marker("vcr"):
            item.add_marker(pytest.mark.disable_socket)


@pytest.fixture(scope="session", autouse=True)
def _recording_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start the fixed-port stub servers (and the loopback token endpoint Vertex tests sign in
    through) only when recording cassettes."""
    if _record_mode(request.config) == "none":
        yield
        return
    with (
        OpenAIStubServer(OPENAI_PORT),
        OpenAIStubServer(QUIRKS_PORT, quirks=True),
        TokenServer(TOKEN_PORT),
    ):
        yield


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStubServer]:
    """A plain OpenAI-format stub server on an ephemeral loopback port, per test module."""
    with OpenAIStubServer() as server:
        yield server


@pytest.fixture(scope="module")
def quirks_stub() -> Iterator[OpenAIStubServer]:
    """A serving-endpoint stub server with quirks on, per test module."""
    with OpenAIStubServer(quirks=True) as server:
        yield server


@pytest.fixture
def server(stub: OpenAIStubServer) -> OpenAIStubServer:
    """The module's plain stub server, with recorded requests and faults cleared."""
    stub.reset()
    return stub
