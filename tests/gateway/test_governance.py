"""``ai_gateway`` guardrails and inference tables on a running gateway: blocks are 400s the
provider never sees (input) or the client never sees (output), masks reach the provider and the
client, streams with output guardrails are buffered, and every request's row is written."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.gateway._errors import GatewayError
from tests.gateway.test_gateway_clients import TOKEN, _serve
from tests.support.canary import CANARIES, leaks
from tests.support.openai_server import OpenAIStubServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROVIDER_KEY = CANARIES["openai"]


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)


@pytest.fixture
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


def _chat(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _post(host: str, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{host}/serving-endpoints/{name}/invocations", json=body, headers=AUTH)


def _sdk(host: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0)


def _streamed_text(host: str, text: str) -> str:
    parts = _sdk(host).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": text}], stream=True
    )
    return "".join(p.choices[0].delta.content or "" for p in parts if p.choices)


def test_input_block_is_a_400_the_provider_never_sees_with_a_usage_row(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {"guardrails": {"input": {"invalid_keywords": ["Project X"]}}}
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, gw):
        answers = [
            _post(host, "chat", _chat("tell me about project x")),
            _post(host, "comp", {"prompt": ["fine", "PROJECT X plans"]}),
            _post(host, "emb", {"input": "project x"}),
            _post(host, "chat", {**_chat("project x"), "stream": True}),
        ]
        allowed = _post(host, "chat", _chat("tell me about projects"))
        rows = asyncio.run(gw.store.usage())
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json() == {
            "error_code": "BAD_REQUEST",
            "message": "Request blocked by input guardrail: input contains a blocked "
            "keyword: 'Project X'",
        }
    assert allowed.status_code == 200
    assert len(stub.requests) == 1  # only the allowed request reached the provider
    assert [(r.endpoint, r.status, r.error_type) for r in rows] == [
        ("chat", 400, "guardrail"),
        ("comp", 400, "guardrail"),
        ("emb", 400, "guardrail"),
        ("chat", 400, "guardrail"),
        ("chat", 200, None),
    ]


def test_input_pii_mask_is_what_the_provider_receives(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {"guardrails": {"input": {"pii": {"behavior": "MASK"}}}}
    parts = [{"type": "text", "text": "card 4111 1111 1111 1111"}]
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, _):
        chat = _post(host, "chat", {"messages": [{"role": "user", "content": parts}]})
        comp = _post(host, "comp", {"prompt": "mail jane@example.com", "temperature": 0.1})
        emb = _post(host, "emb", {"input": ["call (415) 555-2671", "plain"]})
    assert [a.status_code for a in (chat, comp, emb)] == [200, 200, 200]
    sent = [r.json for r in stub.requests]
    assert sent[0]["messages"][0]["content"] == [{"type": "text", "text": "card [CREDIT_CARD]"}]
    assert sent[1]["prompt"] == "mail [EMAIL]" and sent[1]["temperature"] == 0.1
    assert sent[2]["input"] == ["call [PHONE]", "plain"]


def test_input_pii_block_names_the_kind_not_the_value(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {
        "guardrails": {"input": {"pii": {"behavior": "BLOCK"}}},
        "inference_table_config": {"enabled": True},
    }
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, gw):
        refused = _post(host, "chat", _chat("my SSN is 123-45-6789"))
        rows = asyncio.run(gw.store.inference())
    # The inference table keeps the refused request with its PII masked, not a copy of it.
    assert rows[0].request["messages"][0]["content"] == "my SSN is [US_SSN]"
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert message == "Request blocked by input guardrail: PII (US_SSN) in input"
    assert not stub.requests


def test_output_mask_plain_and_buffered_stream_give_the_same_masked_answer(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {"guardrails": {"output": {"pii": {"behavior": "MASK"}}}}
    prompt = "write to jane@example.com today"
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, gw):
        plain = _post(host, "chat", _chat(prompt)).json()["choices"][0]["message"]["content"]
        streamed = _streamed_text(host, prompt)
        comp = _sdk(host).completions.create(model="comp", prompt=prompt)
        rows = asyncio.run(gw.store.usage())
    assert stub.requests[0].json["messages"][0]["content"] == prompt  # input side has no rule
    assert "[EMAIL]" in plain and "jane@" not in plain
    assert streamed == plain
    assert "[EMAIL]" in comp.choices[0].text and "jane@" not in comp.choices[0].text
    assert [(r.status, r.streamed) for r in rows] == [(200, False), (200, True), (200, False)]


def test_output_block_plain_and_stream_are_400s_with_tokens_charged(
    tmp_path: Path, stub: OpenAIStubServer
) -> None:
    rails = {"guardrails": {"output": {"invalid_keywords": ["stub reply"]}}}
    with _serve(tmp_path, stub.base_url, ai_gateway=rails) as (host, gw):
        plain = _post(host, "chat", _chat("hi"))
        with pytest.raises(openai.BadRequestError, match="output guardrail"):
            _streamed_text(host, "hi")
        rows = asyncio.run(gw.store.usage())
    assert plain.status_code == 400
    assert plain.json()["message"] == (
        "Response blocked by output guardrail: output contains a blocked keyword: 'stub reply'"
    )
    assert [(r.status, r.error_type, r.streamed) for r in rows] == [
        (400, "guardrail", False),
        (400, "guardrail", True),
    ]
    # The provider answered: its tokens are charged even though the client got no answer.
    assert all(r.output_tokens for r in rows)


def test_a_stream_is_buffered_only_with_output_guardrails(tmp_path: Path) -> None:
    from tests.reliability.fault_server import FaultServer
    from tests.reliability.faults import reset_mid

    def first_status(host: str) -> tuple[int, bytes]:
        with httpx.stream(
            "POST",
            f"{host}/serving-endpoints/chat/invocations",
            json={**_chat("hi"), "stream": True},
            headers=AUTH,
        ) as answer:
            return answer.status_code, answer.read()

    rails = {"guardrails": {"output": {"invalid_keywords": ["never said"]}}}
    (tmp_path / "live").mkdir()
    (tmp_path / "buffered").mkdir()
    with FaultServer() as provider:
        provider.inject(reset_mid)
        with _serve(tmp_path / "live", provider.base_url) as (host, _):
            live = first_status(host)
        provider.inject(reset_mid)
        with _serve(tmp_path / "buffered", provider.base_url, ai_gateway=rails) as (host, _):
            buffered = first_status(host)
    # Live: the 200 and the first chunks were out before the provider failed.
    assert live[0] == 200 and b'"delta"' in live[1] and b'"error_code"' in live[1]
    # Buffered: nothing was sent, so the failure keeps its status.
    assert buffered[0] == 502 and b'"delta"' not in buffered[1]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_inference_rows_plain_and_streamed_without_secrets(
    tmp_path: Path, stub: OpenAIStubServer, backend: str, request: pytest.FixtureRequest
) -> None:
    store = (
        request.getfixturevalue("postgres_server").new_database()
        if backend == "postgres"
        else f"sqlite:///{tmp_path}/inference.db"
    )
    (tmp_path / "gw").mkdir()
    gateway = {
        "inference_table_config": {"enabled": True},
        "guardrails": {"input": {"invalid_keywords": ["forbidden"]}},
    }
    # A client may paste its own token into a prompt; the provider key reaches a row only if the
    # provider echoes it (here in an error body), since clients never hold it.
    pasted = f"my token is {TOKEN} ok"
    echo = {"error": {"message": f"Incorrect API key provided: {PROVIDER_KEY}", "code": "bad"}}
    with _serve(tmp_path / "gw", stub.base_url, ai_gateway=gateway, store=store) as (host, gw):
        plain = _post(host, "chat", _chat(pasted)).json()
        streamed = _streamed_text(host, pasted)
        _post(host, "emb", {"input": ["a"]})
        _post(host, "chat", _chat("forbidden words"))
        stub.fail_next(401, echo)
        _post(host, "chat", _chat("hi"))
        rows = asyncio.run(gw.store.inference())
        usage = asyncio.run(gw.store.usage())
    assert [(r.endpoint, r.status) for r in rows] == [
        ("chat", 200),
        ("chat", 200),
        ("emb", 200),
        ("chat", 400),
        ("chat", 502),
    ]
    assert [r.request_id for r in rows] == [u.request_id for u in usage]
    assert rows[0].request["messages"][0]["content"] == "my token is *** ok"
    assert rows[0].response is not None and rows[1].response is not None
    answer = rows[0].response["choices"][0]["message"]["content"]
    assert answer == plain["choices"][0]["message"]["content"].replace(TOKEN, "***")
    assert rows[1].request["stream"] is True
    # The streamed answer is stored assembled, as the plain one would have been.
    assert rows[1].response["choices"][0]["message"]["content"] == answer
    assert streamed.replace(TOKEN, "***") == answer
    assert rows[1].response["usage"]["total_tokens"] > 0
    assert len(rows[2].response["data"]) == 1  # type: ignore[index]
    assert rows[3].response == {
        "error_code": "BAD_REQUEST",
        "message": "Request blocked by input guardrail: input contains a blocked keyword: "
        "'forbidden'",
    }
    assert rows[4].response is not None and rows[4].response["error_code"] == "BAD_GATEWAY"
    assert "Incorrect API key provided: " in rows[4].response["message"]
    dump = " ".join(repr(r) for r in rows)
    assert TOKEN not in dump and not leaks([dump])


def test_no_inference_rows_unless_enabled(tmp_path: Path, stub: OpenAIStubServer) -> None:
    with _serve(tmp_path, stub.base_url) as (host, gw):
        assert _post(host, "chat", _chat("hi")).status_code == 200
        assert asyncio.run(gw.store.inference()) == []


def test_chunks_are_checked_per_choice_and_assembled_like_a_plain_answer() -> None:
    from extmodels_integrations.gateway._governance import assemble, guard_chunks
    from extmodels_integrations.gateway._guardrails import Guardrails

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        }

    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    chunks = [
        chunk(0, {"role": "assistant", "content": "mail jane@"}),
        chunk(1, {"role": "assistant", "content": "fine"}),
        chunk(0, {"content": "example.com now"}),
        chunk(1, {"tool_calls": [call]}),
        chunk(1, {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}, "stop"),
        {**chunk(0, {}, "stop"), "usage": {"total_tokens": 3}},
    ]
    rails = Guardrails.from_config({"output": {"pii": {"behavior": "MASK"}}})
    masked = guard_chunks(rails, chunks)
    # The whole answer is masked across the chunk boundary that split the address.
    assert [c["choices"][0]["delta"].get("content") for c in masked[:3]] == [
        "mail [EMAIL] now",
        "fine",
        "",
    ]
    answer = assemble(masked)
    assert answer is not None and answer["usage"] == {"total_tokens": 3}
    first, second = answer["choices"]
    assert first["message"]["content"] == "mail [EMAIL] now" and first["finish_reason"] == "stop"
    assert second["message"]["tool_calls"] == [
        {"type": "function", "id": "call_1", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    text = [{"object": "text_completion", "choices": [{"index": 0, "text": t}]} for t in "ab"]
    assert assemble(text) == {
        "id": "",
        "object": "text_completion",
        "model": None,
        "choices": [{"index": 0, "text": "ab"}],
        "usage": None,
    }
    blocking = Guardrails.from_config({"output": {"invalid_keywords": ["fine"]}})
    with pytest.raises(GatewayError, match="output guardrail"):
        guard_chunks(blocking, chunks)


@pytest.mark.parametrize(
    ("side", "rule"), [("input", {"valid_topics": ["cooking"]}), ("output", {"safety": True})]
)
def test_classifier_guardrails_are_refused_when_the_config_loads(
    tmp_path: Path, stub: OpenAIStubServer, side: str, rule: dict[str, Any]
) -> None:
    rails = {"guardrails": {side: rule}}
    field = next(iter(rule))
    with (
        pytest.raises(ConfigurationError, match=rf"ai_gateway\.guardrails\.{side}\.{field}"),
        _serve(tmp_path, stub.base_url, ai_gateway=rails),
    ):
        pass
