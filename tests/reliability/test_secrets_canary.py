"""The secrets canary: fake credentials planted in every provider's config, as plaintext and as
secret references (resolved through ``secret_resolver=`` and through ``EXTMODELS_SECRET__``
variables), must never show up in repr/str, DEBUG logs of real calls, errors and tracebacks,
LangChain dumps, LlamaIndex dicts, pickles, recorded cassettes or benchmark output; nor in
tracebacks rendered with every frame's locals, as ``pytest -l`` and error trackers show them.

Calls go to the loopback stub server speaking each provider's wire format; the Vertex access
token comes from the loopback token server and is itself a canary.
"""

from __future__ import annotations

import logging
import pickle
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from langchain_core.load import dumpd, dumps

from extmodels_integrations import ExternalClient, ExternalModelError
from extmodels_integrations._auth import CachedTokenAuth
from extmodels_integrations.langchain import ChatExternal as LCChat
from extmodels_integrations.llama_index import ChatExternal as LIChat
from tests.conftest import _json_body_matcher
from tests.support import canary
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.vertex import TokenServer

ROOT = Path(__file__).resolve().parents[2]
MODES = ("plaintext", "resolver", "env")
# Entra ID tokens come from login.microsoftonline.com: its canary is checked everywhere but in
# calls (the Entra token flow is covered against a mock in tests/providers).
NO_CALLS = {"entra"}
NAMES = sorted(canary.targets("http://x", "http://x/token", "plaintext"))


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    with TokenServer() as server:
        yield server


@pytest.fixture
def kwargs(
    request: pytest.FixtureRequest, server: OpenAIStubServer, tokens: TokenServer, monkeypatch
) -> Callable[[str], dict[str, Any]]:
    """Constructor kwargs for a target name, secrets given the way the test's ``mode`` says."""
    mode = request.node.callspec.params.get("mode", "plaintext")
    style = "plaintext" if mode == "plaintext" else "reference"
    found = canary.targets(server.base_url, tokens.uri, style)
    if mode == "env":
        for name, value in canary.environment(tokens.uri).items():
            monkeypatch.setenv(name, value)

    def make(name: str) -> dict[str, Any]:
        extra = {"secret_resolver": canary.resolver(tokens.uri)} if mode == "resolver" else {}
        return {**found[name], **extra, "max_retries": 0}

    return make


def assert_clean(*texts: str) -> None:
    found = canary.leaks(texts)
    context = [
        t[max(0, t.find(s) - 200) : t.find(s)] for t in texts for s in canary.SECRETS if s in t
    ]
    assert not found, f"secrets leaked: {found} after {context[:2]}"


def _views(obj: Any) -> list[str]:
    return [repr(obj), str(obj)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_objects_hold_no_secret(name: str, mode: str, kwargs) -> None:
    """repr/str of the client, its config, adapter and auth; LangChain dumps;
    LlamaIndex to_dict/to_json; both models' pickles (their secrets come back from the
    environment); after a call too (tokens and signatures are cached then)."""
    target = kwargs(name)
    client = ExternalClient(**target)
    adapter = client._adapter()
    if name not in NO_CALLS:
        client.chat(messages=[{"role": "user", "content": "hi"}])
    lc = LCChat(**target)
    li = LIChat(**target)
    texts = [
        *_views(client),
        *_views(adapter),
        *_views(adapter.auth),
        *_views(lc),
        *_views(li),
        dumps(lc),
        repr(dumpd(lc)),
        repr(li.to_dict()),
        li.to_json(),
        repr(pickle.dumps(lc)),
        repr(pickle.dumps(li)),
    ]
    if client.external_model is not None:
        texts += _views(client.external_model)
    assert_clean(*texts)


def _loggers_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "extmodels_integrations", "botocore", "google"):
        caplog.set_level(logging.DEBUG, logger=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(set(NAMES) - NO_CALLS))
async def test_debug_logs_of_real_calls_hold_no_secret(
    name: str, mode: str, kwargs, caplog
) -> None:
    _loggers_at_debug(caplog)
    client = ExternalClient(**kwargs(name))
    ask = [{"role": "user", "content": "Tell me a story"}]
    client.chat(messages=ask)
    assert list(client.stream_chat(messages=ask))
    await client.achat(messages=ask)
    assert [c async for c in client.astream_chat(messages=ask)]
    records = caplog.records
    assert any(r.name.startswith("httpcore") for r in records), "DEBUG logging was not on"
    assert_clean(caplog.text, *(repr(r.args) for r in records), *(r.getMessage() for r in records))


def _with_locals(error: BaseException) -> str:
    """``error`` as error trackers and ``pytest -l`` show it: every frame's locals, down the
    chained causes."""
    rendered = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(rendered.format())


# The tracebacks start in these helpers, whose locals hold no secret, unlike the test's own.
def _error_of(call: Callable[[], object]) -> ExternalModelError:
    try:
        call()
    except ExternalModelError as error:
        return error
    raise AssertionError("the call did not fail")


async def _aerror_of(call: Callable[[], Awaitable[object]]) -> ExternalModelError:
    try:
        await call()
    except ExternalModelError as error:
        return error
    raise AssertionError("the call did not fail")


def _chain(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error)), _with_locals(error)]
    seen: BaseException | None = error
    while seen is not None:
        texts += [repr(seen), str(seen), repr(seen.__dict__)]
        if isinstance(seen, ExternalModelError):  # httpx's own errors keep the request
            texts.append(repr(pickle.dumps(seen)))
        seen = seen.__cause__ or seen.__context__
    return texts


def _echoing(request: httpx.Request) -> httpx.Response:
    """A provider that refuses the request and echoes every credential it was sent."""
    echoed = " ".join(f"{k}={v}" for k, v in request.headers.items())
    body = {"error": {"message": f"invalid key: {echoed}", "type": "auth"}, "message": echoed}
    return httpx.Response(401, json=body, headers={"x-request-id": echoed[:200]})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(set(NAMES) - NO_CALLS))
def test_errors_and_tracebacks_hold_no_secret(name: str, mode: str, kwargs, caplog) -> None:
    """A provider echoing the credentials back in a 401, and a connection refused: neither the
    error, its chained causes, its formatted traceback (with locals too), its pickle nor the
    logs show them."""
    _loggers_at_debug(caplog)
    target = kwargs(name)
    texts: list[str] = []
    echo = httpx.Client(transport=httpx.MockTransport(_echoing))
    for client in (
        ExternalClient(**target, http_client=echo),
        ExternalClient(**_unreachable(target), timeout=2),
    ):
        texts += _chain(
            _error_of(partial(client.chat, messages=[{"role": "user", "content": "hi"}]))
        )
    assert_clean(caplog.text, *texts)


async def _drain(chunks: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in chunks]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(set(NAMES) - NO_CALLS))
async def test_tracebacks_with_locals_hold_no_secret(
    name: str, mode: str, kwargs, server: OpenAIStubServer, caplog
) -> None:
    """Real calls against the stubs failing, sync and async, plain and streamed: a 401, a 500,
    a refused connection. Their tracebacks with locals, and the DEBUG logs of it all, hold
    no secret (the headers dict httpx is handed is in those locals)."""
    _loggers_at_debug(caplog)
    client = ExternalClient(**kwargs(name))
    dead = ExternalClient(**_unreachable(kwargs(name)), timeout=2)
    ask = [{"role": "user", "content": "hi"}]
    # A refused cached token is replaced and the call sent once more: refuse that one too.
    refusals = 2 if isinstance(client._adapter().auth, CachedTokenAuth) else 1
    server.fail_next(401, times=refusals)
    errors = [_error_of(lambda: client.chat(messages=ask))]
    server.fail_next(500)
    errors.append(_error_of(lambda: list(client.stream_chat(messages=ask))))
    server.fail_next(401, times=refusals)
    errors.append(await _aerror_of(lambda: client.achat(messages=ask)))
    server.fail_next(500)
    errors.append(await _aerror_of(lambda: _drain(client.astream_chat(messages=ask))))
    errors.append(_error_of(lambda: dead.chat(messages=ask)))
    errors.append(_error_of(lambda: list(dead.stream_chat(messages=ask))))
    errors.append(await _aerror_of(lambda: dead.achat(messages=ask)))
    texts = [_with_locals(error) for error in errors]
    assert all("request = HttpRequest(" in text for text in texts), "locals were not rendered"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "DEBUG logging was not on"
    assert_clean(caplog.text, *texts)


def _unreachable(target: dict[str, Any]) -> dict[str, Any]:
    """``target`` with every base URL on a closed loopback port."""
    dead = "http://127.0.0.1:9"
    if "endpoint" in target:
        return {**target, "host": dead}
    block = dict(target["external_model"])
    key = next(k for k in block if k.endswith("_config"))
    config = {
        k: (dead + "/v1" if k == "openai_api_base" else dead) if "api_base" in k else v
        for k, v in block[key].items()
    }
    if "databricks_workspace_url" in config:
        config["databricks_workspace_url"] = dead
    return {**target, "external_model": {**block, key: config}}


@pytest.mark.parametrize("mode", ["plaintext", "env"])
def test_recorded_cassettes_hold_no_secret(mode: str, kwargs, vcr_config, tmp_path) -> None:
    """Calls recorded with the project's vcr_config (the one ``make record`` uses) into a fresh
    cassette: the YAML holds no credential, signature or token."""
    # pytest-recording's per-cassette option is not a VCR() argument.
    config = {k: v for k, v in vcr_config.items() if k != "allow_playback_repeats"}
    recorder = vcr.VCR(**config, record_mode="all")
    recorder.register_matcher("json_body", _json_body_matcher)
    path = tmp_path / "canary.yaml"
    with recorder.use_cassette(str(path)):
        for name in sorted(set(NAMES) - NO_CALLS):
            client = ExternalClient(**kwargs(name))
            client.chat(messages=[{"role": "user", "content": "hi"}])
            assert list(client.stream_chat(messages=[{"role": "user", "content": "hi"}]))
    text = path.read_text()
    assert "invoke-with-response-stream" in text and "/v1/messages" in text
    assert "grant_type" in text and ":streamGenerateContent" in text  # Vertex's exchange too
    assert_clean(text)
