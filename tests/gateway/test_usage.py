"""Usage / inference stores: SQLite and PostgreSQL give the same rows, rows survive a killed
process, several processes write one SQLite file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.gateway._usage import (
    InferenceRow,
    UsageRow,
    open_store,
    redact_payload,
)
from tests.support.servers import PostgresServer

T0 = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _usage(i: int, endpoint: str = "chat") -> UsageRow:
    return UsageRow(
        request_id=f"r{i}",
        time=T0 + timedelta(seconds=i),
        endpoint=endpoint,
        served_entity=None if i % 3 == 0 else "gpt",
        requester="alice@example.com",
        task="llm/v1/chat",
        input_tokens=None if i % 2 else 10 + i,
        output_tokens=5,
        latency_ms=12.5 + i,
        status=200 if i % 4 else 429,
        error_type=None if i % 4 else "RateLimitError",
        streamed=bool(i % 2),
    )


def _inference(i: int, endpoint: str = "chat") -> InferenceRow:
    return InferenceRow(
        request_id=f"r{i}",
        time=T0 + timedelta(seconds=i),
        endpoint=endpoint,
        served_entity="gpt",
        requester="alice@example.com",
        status=200,
        request={"messages": [{"role": "user", "content": f"héllo {i}"}], "temperature": 0.5},
        response=None if i % 2 else {"choices": [{"message": {"content": "hi"}}], "n": [1, 2]},
    )


async def _roundtrip(url: str) -> tuple[list[UsageRow], list[UsageRow], list[InferenceRow]]:
    store = open_store(url)
    try:
        for i in range(6):
            await store.record_usage(_usage(i, "chat" if i < 4 else "embed"))
            await store.record_inference(_inference(i, "chat" if i < 4 else "embed"))
        chat = await store.usage(endpoint="chat", since=T0 + timedelta(seconds=1))
        return await store.usage(), chat, await store.inference(endpoint="chat")
    finally:
        await store.aclose()


def test_sqlite_and_postgres_give_the_same_rows(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    lite = asyncio.run(_roundtrip(f"sqlite:///{tmp_path}/usage.db"))
    pg = asyncio.run(_roundtrip(postgres_server.new_database()))
    assert lite == pg
    assert lite[0] == [_usage(i, "chat" if i < 4 else "embed") for i in range(6)]
    assert lite[1] == [_usage(i) for i in (1, 2, 3)]
    assert lite[2] == [_inference(i) for i in range(4)]


def test_unknown_store_scheme_names_the_fix() -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        open_store("mysql://x")


_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import UTC, datetime
    from extmodels_integrations.gateway._usage import UsageRow, open_store

    async def main(url, tag, n, kill):
        store = open_store(url)
        for i in range(n):
            await store.record_usage(UsageRow(f"{tag}-{i}", datetime.now(UTC), "chat", None,
                                              tag, "llm/v1/chat", 1, 1, 1.0, 200, None, False))
        if kill:
            print("written", flush=True)
            os.kill(os.getpid(), 9)
        await store.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "kill"))
    """
)


def _writer(url: str, tag: str, n: int, kill: bool) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", _WRITER, url, tag, str(n), "kill" if kill else "keep"]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_a_row_survives_its_process_being_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/usage.db"
    proc = _writer(url, "killed", 3, kill=True)
    assert proc.communicate(timeout=60)[0].strip() == "written"
    assert proc.returncode == -9
    rows = asyncio.run(_read(url))
    assert [r.request_id for r in rows] == ["killed-0", "killed-1", "killed-2"]


def test_two_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/usage.db"
    procs = [_writer(url, tag, 150, kill=False) for tag in ("a", "b")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    rows = asyncio.run(_read(url))
    assert sorted(r.request_id for r in rows) == sorted(
        f"{t}-{i}" for t in ("a", "b") for i in range(150)
    )


async def _read(url: str) -> list[UsageRow]:
    store = open_store(url)
    try:
        return await store.usage()
    finally:
        await store.aclose()


def test_redact_payload_masks_credentials_and_keeps_the_rest() -> None:
    payload = {
        "Authorization": "Bearer abcdefghijklmnop",
        "openai_api_key_plaintext": "whatever",
        "x-api-key": "k",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "my key is sk-abcdefghijklmnopqr ok"}],
        "aws": "AKIAABCDEFGHIJKLMNOP",
    }
    assert redact_payload(payload) == {
        "Authorization": "***",
        "openai_api_key_plaintext": "***",
        "x-api-key": "***",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "my key is *** ok"}],
        "aws": "***",
    }
