"""``GET /metrics`` (strictly parsed Prometheus text, counters equal to the requests made) and the
access log (one JSON line per request, never a token or a key)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.test_gateway_clients import TOKEN, _serve
from tests.support.canary import CANARIES, leaks
from tests.support.openai_server import OpenAIStubServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROVIDER_KEY = CANARIES["openai"]
RAILS = {"guardrails": {"input": {"invalid_keywords": ["forbidden"]}}}

# The text exposition format, strictly: comment lines, then `name{labels} value`.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_HELP = re.compile(rf"^# HELP ({_NAME}) .+$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
_SAMPLE = re.compile(
    rf"^({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)\}})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|[+-]Inf|NaN)$"
)
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse_exposition(text: str) -> Samples:
    """Every sample by metric name and sorted labels; fails on any malformed line, a sample of
    an undeclared family, or a repeated series."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP"):
            assert _HELP.match(line), line
        elif line.startswith("# TYPE"):
            match = _TYPE.match(line)
            assert match and match.group(1) not in types, line
            types[match.group(1)] = match.group(2)
        else:
            match = _SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in types or types.get(family) == "histogram", line
            key = tuple(sorted(_PAIR.findall(labels or "")))
            series = samples.setdefault(name, {})
            assert key not in series, line
            series[key] = float(value)
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTMODELS_SECRET__GW__OPENAI", PROVIDER_KEY)


def _traffic(host: str, stub: OpenAIStubServer) -> int:
    """A mix of answers and refusals; returns how many requests it made."""
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    url = f"{host}/serving-endpoints/chat/invocations"
    for _ in range(2):
        assert httpx.post(url, json=chat, headers=AUTH).status_code == 200
    sdk = openai.OpenAI(base_url=f"{host}/serving-endpoints", api_key=TOKEN, max_retries=0)
    assert list(sdk.chat.completions.create(model="chat", messages=chat["messages"], stream=True))
    assert sdk.embeddings.create(model="emb", input=["a", "b"]).data
    blocked = {"messages": [{"role": "user", "content": "forbidden"}]}
    assert httpx.post(url, json=blocked, headers=AUTH).status_code == 400
    stub.fail_next(401, {"error": {"message": f"bad key {PROVIDER_KEY}"}})
    assert httpx.post(url, json=chat, headers=AUTH).status_code == 502
    bad = {"Authorization": f"Bearer {CANARIES['workspace']}"}
    assert httpx.post(url, json=chat, headers=bad).status_code == 401
    missing = f"{host}/serving-endpoints/nope/invocations"
    assert httpx.post(missing, json=chat, headers=AUTH).status_code == 404
    return 8


def test_metrics_parse_and_match_the_requests_made(tmp_path: Path) -> None:
    with (
        OpenAIStubServer() as stub,
        _serve(tmp_path, stub.base_url, ai_gateway=RAILS) as (
            host,
            gw,
        ),
    ):
        made = _traffic(host, stub)
        answer = httpx.get(f"{host}/metrics")  # no token: see the README's "Serve it"
        rows = asyncio.run(gw.store.usage())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_exposition(answer.text)
    total = "extmodels_gateway_requests_total"
    assert sum(samples[total].values()) == made
    # Every request with a usage row is counted under its endpoint, entity and status ...
    by_row = Counter((r.endpoint, r.served_entity or "", str(r.status)) for r in rows)
    for (endpoint, entity, status), count in by_row.items():
        assert _value(samples, total, endpoint=endpoint, served_entity=entity, status=status) == (
            count
        )
    assert _value(samples, total, endpoint="chat", served_entity="stub", status="200") == 3
    # ... and the two refused before a Call: a served name under it, a made-up one under "".
    assert _value(samples, total, endpoint="chat", served_entity="", status="401") == 1
    assert _value(samples, total, endpoint="", served_entity="", status="404") == 1
    errors = "extmodels_gateway_errors_total"
    assert _value(samples, errors, endpoint="chat", served_entity="", error_type="guardrail") == 1
    assert sum(v for k, v in samples[errors].items() if ("error_type", "not_found") in k) == 1
    assert sum(samples[errors].values()) == 4
    for kind, field in (("input", "input_tokens"), ("output", "output_tokens")):
        counted = sum(samples[f"extmodels_gateway_{kind}_tokens_total"].values())
        assert counted == sum(getattr(r, field) or 0 for r in rows) > 0
    _check_histogram(samples, made)
    assert not leaks([answer.text]) and TOKEN not in answer.text


def _check_histogram(samples: Samples, made: int) -> None:
    name = "extmodels_gateway_request_duration_seconds"
    counts = samples[f"{name}_count"]
    assert sum(counts.values()) == made
    for key, count in counts.items():
        buckets = sorted(
            (float(dict(k)["le"]), v)
            for k, v in samples[f"{name}_bucket"].items()
            if tuple(p for p in k if p[0] != "le") == key
        )
        assert buckets[-1] == (float("inf"), count)
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
        assert samples[f"{name}_sum"][key] > 0


def _access_lines(caplog: pytest.LogCaptureFixture, expected: int) -> list[dict[str, Any]]:
    # A line is written once the response's last byte is out: the client may be a hair ahead.
    deadline = time.monotonic() + 5
    while True:
        records = [r for r in caplog.records if r.name == "extmodels_integrations.gateway.access"]
        if len(records) >= expected or time.monotonic() > deadline:
            return [json.loads(r.getMessage()) for r in records]
        time.sleep(0.02)


def test_one_json_access_line_per_request_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        OpenAIStubServer() as stub,
        _serve(tmp_path, stub.base_url, ai_gateway=RAILS) as (
            host,
            _,
        ),
    ):
        made = _traffic(host, stub)
        assert httpx.get(f"{host}/api/2.0/serving-endpoints", headers=AUTH).status_code == 200
        assert httpx.get(f"{host}/metrics?token={TOKEN}").status_code == 200
        lines = _access_lines(caplog, made + 2)
    assert len(lines) == made + 2
    # Matched by content, not position: a line is written as its response ends.
    by_status = {line["status"]: line for line in lines}
    assert Counter(line["status"] for line in lines) == Counter(
        {200: 6, 400: 1, 502: 1, 401: 1, 404: 1}
    )
    chat = [line for line in lines if line["endpoint"] == "chat" and line["status"] == 200]
    assert sorted(line["stream"] for line in chat) == [False, False, True]
    plain = next(line for line in chat if not line["stream"])
    assert set(plain) >= {
        "time",
        "method",
        "path",
        "status",
        "endpoint",
        "served_entity",
        "requester",
        "latency_ms",
        "input_tokens",
        "output_tokens",
    }
    assert (plain["method"], plain["path"]) == ("POST", "/serving-endpoints/chat/invocations")
    assert (plain["served_entity"], plain["requester"]) == ("stub", "alice")
    assert plain["input_tokens"] > 0 and plain["output_tokens"] > 0 and plain["latency_ms"] > 0
    assert by_status[400]["error_type"] == "guardrail"
    assert by_status[502]["error_type"] == "AuthenticationError"
    assert by_status[401]["requester"] is None and by_status[404]["endpoint"] is None
    assert any(line["path"] == "/metrics" for line in lines)  # without its query string
    # Everything the gateway's thread logged (the test's own clients log the URL they call).
    served = "\n".join(r.getMessage() for r in caplog.records if r.thread != threading.get_ident())
    assert "/metrics" in served
    assert TOKEN not in served and not leaks([served])


def test_the_cli_formatter_merges_an_access_line_and_wraps_other_messages() -> None:
    from extmodels_integrations.gateway._cli import JsonLine, JsonLineFormatter

    def record(msg: object) -> logging.LogRecord:
        return logging.LogRecord("x.access", logging.INFO, __file__, 1, msg, None, None)

    access = json.loads(JsonLineFormatter().format(record(JsonLine({"status": 200}))))
    assert access["status"] == 200 and access["logger"] == "x.access" and "pid" in access
    plain = json.loads(JsonLineFormatter().format(record('{"a": 1}')))
    assert plain["a"] == 1
    assert json.loads(JsonLineFormatter().format(record("hello")))["message"] == "hello"
    assert json.loads(str(JsonLine({"status": 200}))) == {"status": 200}


def test_a_metrics_token_is_asked_for_and_never_echoed(tmp_path: Path) -> None:
    from extmodels_integrations.gateway._app import Settings
    from tests.gateway._inprocess import serve, stub_body

    (tmp_path / "chat.json").write_text(json.dumps(stub_body("chat", "http://127.0.0.1:9")))
    (tmp_path / "tokens.json").write_text(json.dumps({"tokens": [{"token": TOKEN, "user": "a"}]}))
    secret = "metrics-scrape-secret"
    settings = Settings(
        (str(tmp_path / "chat.json"),),
        str(tmp_path / "tokens.json"),
        f"sqlite:///{tmp_path}/usage.db",
        metrics_token=secret,
    )
    assert secret not in repr(settings)
    with serve(settings) as (host, _):
        missing = httpx.get(f"{host}/metrics")
        gateway_token = httpx.get(f"{host}/metrics", headers=AUTH)
        wrong = httpx.get(f"{host}/metrics", headers={"Authorization": "Bearer metrics-scrape"})
        right = httpx.get(f"{host}/metrics", headers={"Authorization": f"Bearer {secret}"})
    for refused in (missing, gateway_token, wrong):
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "UNAUTHENTICATED"
        assert secret not in refused.text
    assert right.status_code == 200
    assert "extmodels_gateway_requests_total" in right.text


def test_the_metrics_token_comes_from_the_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    from extmodels_integrations.gateway import _cli

    def parsed(*argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        _cli._arguments(parser)
        return parser.parse_args(["c.json", "--tokens", "t.json", *argv])

    monkeypatch.delenv(_cli.METRICS_TOKEN_ENV, raising=False)
    assert parsed().metrics_token is None
    assert parsed("--metrics-token", "flag").metrics_token == "flag"
    monkeypatch.setenv(_cli.METRICS_TOKEN_ENV, "from-env")
    assert parsed().metrics_token == "from-env"


def test_workers_sum_each_others_snapshots_and_skip_a_broken_one(tmp_path: Path) -> None:
    from extmodels_integrations.gateway._metrics import Metrics
    from extmodels_integrations.gateway._metrics_shared import SharedMetrics

    mine, other = Metrics(), Metrics()
    mine.observe("chat", "a", 200, None, 0.003, (2, 3))
    other.observe("chat", "a", 200, None, 0.2, (5, 7))
    other.observe("chat", "a", 429, "rate_limit", 0.001)
    (tmp_path / "999999.json").write_text(json.dumps(other.state()))
    (tmp_path / "999998.json").write_text("{not json")
    shared = SharedMetrics(tmp_path, mine)
    samples = parse_exposition(shared.render())
    requests = samples["extmodels_gateway_requests_total"]
    chat = (("endpoint", "chat"), ("served_entity", "a"))
    assert requests[(*chat, ("status", "200"))] == 2
    assert requests[(*chat, ("status", "429"))] == 1
    assert samples["extmodels_gateway_output_tokens_total"][chat] == 10
    assert samples["extmodels_gateway_request_duration_seconds_count"][chat] == 3
    assert (
        samples["extmodels_gateway_request_duration_seconds_bucket"][
            (chat[0], ("le", "0.005"), chat[1])
        ]
        == 2
    )
    shared.publish()
    published = tmp_path / f"{os.getpid()}.json"
    assert json.loads(published.read_text()) == mine.state()
    published.write_text("{}")
    shared.publish()  # unchanged since: not rewritten
    assert published.read_text() == "{}"
