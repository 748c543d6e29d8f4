"""The gateway for real: uvicorn on 127.0.0.1 fronting the loopback OpenAI stub, called by the
documented clients unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from extmodels_integrations.gateway._app import Settings
from tests.gateway._inprocess import serve, stub_body
from tests.support.openai_server import CREATED, OpenAIStubServer

TOKEN = "gw-test-token-alice"
PROVIDER_KEY = "sk-providerCANARY1234567890"


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    with OpenAIStubServer() as stub, _serve(tmp_path, stub.base_url) as running:
        yield running


@contextlib.contextmanager
def _serve(
    tmp_path: Path,
    base: str,
    limits: list[dict[str, Any]] | None = None,
    ai_gateway: dict[str, Any] | None = None,
    store: str | None = None,
) -> Iterator[tuple[str, Any]]:
    """Serve chat / comp / emb on ``base``; ``ai_gateway`` is merged into every endpoint's."""
    configs = []
    for name, task in (
        ("chat", "llm/v1/chat"),
        ("comp", "llm/v1/completions"),
        ("emb", "llm/v1/embeddings"),
    ):
        path = tmp_path / f"{name}.json"
        body = stub_body(name, base, task)
        if limits:
            body["ai_gateway"]["rate_limits"] = limits
        body["ai_gateway"].update(ai_gateway or {})
        path.write_text(json.dumps(body))
        configs.append(str(path))
    tokens = tmp_path / "tokens.json"
    tokens.write_text(
        json.dumps(
            {
                "tokens": [
                    {"token": TOKEN, "user": "alice", "groups": ["ds"]},
                    {"token": "gw-test-token-bob", "user": "bob", "endpoints": ["emb"]},
                ]
            }
        )
    )
    settings = Settings(tuple(configs), str(tokens), store or f"sqlite:///{tmp_path}/u.db")
    with serve(settings) as running:
        yield running


def test_openai_sdk_chat_completions_embeddings_stream(gateway: tuple[str, Any]) -> None:
    host, gw = gateway
    client = openai.OpenAI(base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0)
    chat = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.choices[0].message.content
    assert chat.usage is not None and chat.usage.total_tokens > 0
    assert chat.created == CREATED  # the provider's own, not the gateway's clock
    comp = client.completions.create(model="comp", prompt="Say hi")
    assert comp.choices[0].text
    emb = client.embeddings.create(model="emb", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 16
    parts = list(
        client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert text == chat.choices[0].message.content
    rows = asyncio.run(gw.store.usage())
    assert [r.endpoint for r in rows] == ["chat", "comp", "emb", "chat"]
    assert all(r.status == 200 and r.requester == "alice" for r in rows)
    assert rows[-1].streamed and rows[-1].served_entity == "stub"
    dump = " ".join(repr(r) for r in rows)
    assert PROVIDER_KEY not in dump and TOKEN not in dump


def test_auth_401_and_403(gateway: tuple[str, Any]) -> None:
    host, _ = gateway
    body = {"messages": [{"role": "user", "content": "hi"}]}
    none = httpx.post(f"{host}/serving-endpoints/chat/invocations", json=body)
    assert none.status_code == 401 and none.json()["error_code"] == "UNAUTHENTICATED"
    bad = httpx.post(
        f"{host}/serving-endpoints/chat/invocations",
        json=body,
        headers={"Authorization": "Bearer nope"},
    )
    assert bad.status_code == 401
    bob = httpx.post(
        f"{host}/serving-endpoints/chat/invocations",
        json=body,
        headers={"Authorization": "Bearer gw-test-token-bob"},
    )
    assert bob.status_code == 403 and bob.json()["error_code"] == "PERMISSION_DENIED"
    missing = httpx.post(
        f"{host}/serving-endpoints/nope/invocations",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert missing.status_code == 404


def test_endpoints_api_and_mlflow_client(
    gateway: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host, _ = gateway
    monkeypatch.setenv("DATABRICKS_HOST", host)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    from mlflow.deployments import get_deploy_client

    client = get_deploy_client("databricks")
    names = [e["name"] for e in client.list_endpoints()]
    assert names == ["chat", "comp", "emb"]
    got = client.get_endpoint("chat")
    assert got["state"]["ready"] == "READY" and got["task"] == "llm/v1/chat"
    assert PROVIDER_KEY not in json.dumps(got)
    answer = client.predict(
        endpoint="chat", inputs={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer["choices"][0]["message"]["content"]


def test_databricks_sdk_query(gateway: tuple[str, Any]) -> None:
    host, _ = gateway
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import ChatMessage, ChatMessageRole

    w = WorkspaceClient(host=host, token=TOKEN)
    out = w.serving_endpoints.query(
        "chat", messages=[ChatMessage(role=ChatMessageRole.USER, content="hi")]
    )
    assert out.choices and out.choices[0].message.content


def test_provider_fails_mid_stream_and_nothing_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.reliability.fault_server import FaultServer
    from tests.reliability.faults import reset_mid

    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    caplog.set_level(logging.DEBUG)
    with FaultServer() as provider, _serve(tmp_path, provider.base_url) as (host, gw):
        provider.inject(reset_mid)
        client = openai.OpenAI(base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0)
        with pytest.raises(openai.APIError):
            for _ in client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                pass
        ok = client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
        assert ok.choices[0].message.content
        rows = asyncio.run(gw.store.usage())
    assert [(r.status, r.streamed) for r in rows] == [(502, True), (200, False)]
    assert rows[0].error_type == "APIConnectionError"
    texts = [caplog.text, *map(repr, rows)]
    assert not any(PROVIDER_KEY in t or TOKEN in t for t in texts)


def test_rate_limit_per_user_429_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)
    limits = [{"calls": 2, "key": "user", "renewal_period": "minute"}]
    with OpenAIStubServer() as stub, _serve(tmp_path, stub.base_url, limits) as (host, gw):
        body = {"messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{host}/serving-endpoints/chat/invocations"
        statuses = [httpx.post(url, json=body, headers=auth) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        refused = statuses[-1]
        assert refused.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert int(refused.headers["retry-after"]) >= 1
        assert len(stub.requests) == 2  # the refused call never reached the provider
        rows = asyncio.run(gw.store.usage())
        assert [(r.status, r.error_type) for r in rows][-1] == (429, "rate_limit")
