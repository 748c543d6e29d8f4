"""The SQLite usage / inference store: the embedded default, for one machine.

One connection, used only from one worker thread (sqlite3 connections are thread-bound), so the
event loop never blocks on disk. WAL mode lets several processes (uvicorn workers) read and
write the same file; ``busy_timeout`` makes a writer wait for another process's write instead of
failing; ``synchronous=FULL`` makes a committed row survive a crash or power loss.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from extmodels_integrations._exceptions import ConfigurationError

from ._usage import (
    INFERENCE_COLUMNS,
    USAGE_COLUMNS,
    InferenceRow,
    UsageRow,
    inference_row,
    inference_values,
    usage_row,
    usage_values,
    utc,
)

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_usage (
    request_id TEXT NOT NULL, time TEXT NOT NULL, endpoint TEXT NOT NULL, served_entity TEXT,
    requester TEXT NOT NULL, task TEXT NOT NULL, input_tokens INTEGER, output_tokens INTEGER,
    latency_ms REAL NOT NULL, status INTEGER NOT NULL, error_type TEXT, streamed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_usage_time ON gateway_usage (time);
CREATE INDEX IF NOT EXISTS gateway_usage_endpoint_time ON gateway_usage (endpoint, time);
CREATE TABLE IF NOT EXISTS gateway_inference (
    request_id TEXT NOT NULL, time TEXT NOT NULL, endpoint TEXT NOT NULL, served_entity TEXT,
    requester TEXT NOT NULL, status INTEGER NOT NULL, request TEXT NOT NULL, response TEXT
);
CREATE INDEX IF NOT EXISTS gateway_inference_time ON gateway_inference (time);
CREATE INDEX IF NOT EXISTS gateway_inference_endpoint_time ON gateway_inference (endpoint, time);
"""
# How long a writer waits for another process's transaction before giving up.
_BUSY_TIMEOUT_MS = 30_000


def _iso(moment: datetime) -> str:
    # One fixed UTC format, so text order is time order and `since` compares as text.
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class SQLiteStore:
    """Usage and inference rows in one SQLite file (``open_store('sqlite:///usage.db')``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-sqlite")
        self._db: sqlite3.Connection | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = sqlite3.connect(
                    self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None
                )
                db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
                db.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                raise ConfigurationError(
                    f"usage store sqlite:///{self.path}: cannot open it ({exc}); check the path "
                    "exists and is writable"
                ) from None
            self._db = db
        return self._db

    async def _run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(self._connect()))

    async def record_usage(self, row: UsageRow) -> None:
        """Write one usage row; committed to disk when it returns."""
        values = list(usage_values(row))
        values[1] = _iso(values[1])
        values[-1] = int(values[-1])
        sql = (
            f"INSERT INTO gateway_usage ({', '.join(USAGE_COLUMNS)}) "
            f"VALUES ({_marks(USAGE_COLUMNS)})"
        )
        await self._run(lambda db: db.execute(sql, values))

    async def record_inference(self, row: InferenceRow) -> None:
        """Write one inference row; committed to disk when it returns."""
        values = list(inference_values(row))
        values[1] = _iso(values[1])
        sql = (
            f"INSERT INTO gateway_inference ({', '.join(INFERENCE_COLUMNS)}) "
            f"VALUES ({_marks(INFERENCE_COLUMNS)})"
        )
        await self._run(lambda db: db.execute(sql, values))

    async def usage(
        self, *, endpoint: str | None = None, since: datetime | None = None
    ) -> list[UsageRow]:
        """Usage rows, oldest first, optionally of one endpoint and from ``since`` on."""
        where, args = _where(endpoint, since)
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM gateway_usage{where} ORDER BY time, rowid"
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [usage_row(tuple(r)) for r in rows]

    async def inference(self, *, endpoint: str | None = None) -> list[InferenceRow]:
        """Inference rows, oldest first, optionally of one endpoint."""
        where, args = _where(endpoint, None)
        sql = (
            f"SELECT {', '.join(INFERENCE_COLUMNS)} FROM gateway_inference{where} "
            "ORDER BY time, rowid"
        )
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [inference_row(tuple(r)) for r in rows]

    async def aclose(self) -> None:
        """Close the connection and its thread."""
        if self._closed:
            return
        if self._db is not None:
            db = self._db
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
            self._db = None
        self._closed = True
        self._executor.shutdown(wait=False)


def _marks(columns: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in columns)


def _where(endpoint: str | None, since: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if endpoint is not None:
        clauses.append("endpoint = ?")
        args.append(endpoint)
    if since is not None:
        clauses.append("time >= ?")
        args.append(_iso(since))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
