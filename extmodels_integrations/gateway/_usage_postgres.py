"""The PostgreSQL usage / inference store, shared by several gateway replicas.

One psycopg 3 async connection per store in autocommit mode (each insert is its own committed
transaction: durable when it returns), used under a lock; a dropped connection is reopened once
per call. The tables and their time / endpoint indexes are created if missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from extmodels_integrations._exceptions import APIConnectionError, ConfigurationError

from ._usage import (
    INFERENCE_COLUMNS,
    USAGE_COLUMNS,
    InferenceRow,
    UsageRow,
    inference_row,
    inference_values,
    url_without_password,
    usage_row,
    usage_values,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

T = TypeVar("T")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS gateway_usage (
    id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, time TIMESTAMPTZ NOT NULL,
    endpoint TEXT NOT NULL, served_entity TEXT, requester TEXT NOT NULL, task TEXT NOT NULL,
    input_tokens INTEGER, output_tokens INTEGER, latency_ms DOUBLE PRECISION NOT NULL,
    status INTEGER NOT NULL, error_type TEXT, streamed BOOLEAN NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS gateway_usage_time ON gateway_usage (time)",
    "CREATE INDEX IF NOT EXISTS gateway_usage_endpoint_time ON gateway_usage (endpoint, time)",
    """CREATE TABLE IF NOT EXISTS gateway_inference (
    id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, time TIMESTAMPTZ NOT NULL,
    endpoint TEXT NOT NULL, served_entity TEXT, requester TEXT NOT NULL, status INTEGER NOT NULL,
    request JSONB NOT NULL, response JSONB)""",
    "CREATE INDEX IF NOT EXISTS gateway_inference_time ON gateway_inference (time)",
    "CREATE INDEX IF NOT EXISTS gateway_inference_endpoint_time "
    "ON gateway_inference (endpoint, time)",
)
# Several replicas may create the tables at once: one advisory lock serializes the DDL.
_SCHEMA_LOCK = 0x6578_746D  # "extm"


class PostgresStore:
    """Usage and inference rows in PostgreSQL (``open_store('postgresql://…')``)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "a postgresql:// usage store needs psycopg: pip install "
                "'extmodels-integrations[postgres]'"
            ) from None
        self._url = url
        self.where = url_without_password(url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

    def __reduce__(self) -> Any:
        raise TypeError(f"{self!r} cannot be pickled: it holds a connection and its password")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in _SCHEMA:
                    await conn.execute(statement)
        except psycopg.Error as exc:
            raise APIConnectionError(
                f"usage store {self.where}: cannot connect ({type(exc).__name__}); check the "
                "server is up and the URL's user, database and password"
            ) from None
        self._conn = conn
        return conn

    async def _run(self, func: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        import psycopg

        async with self._lock:
            for attempt in (1, 2):
                conn = await self._connect()
                try:
                    return await func(conn)
                except psycopg.OperationalError as exc:
                    # The server restarted or dropped us: reopen once, then report.
                    await conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise APIConnectionError(
                            f"usage store {self.where}: {type(exc).__name__} twice in a row"
                        ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def record_usage(self, row: UsageRow) -> None:
        """Write one usage row; committed when it returns."""
        values = usage_values(row)
        sql = (
            f"INSERT INTO gateway_usage ({', '.join(USAGE_COLUMNS)}) "
            f"VALUES ({', '.join('%s' for _ in USAGE_COLUMNS)})"
        )
        await self._run(lambda conn: conn.execute(sql, values))

    async def record_inference(self, row: InferenceRow) -> None:
        """Write one inference row; committed when it returns."""
        values = inference_values(row)
        marks = ", ".join(
            "%s::jsonb" if c in ("request", "response") else "%s" for c in INFERENCE_COLUMNS
        )
        sql = f"INSERT INTO gateway_inference ({', '.join(INFERENCE_COLUMNS)}) VALUES ({marks})"
        await self._run(lambda conn: conn.execute(sql, values))

    async def usage(
        self, *, endpoint: str | None = None, since: datetime | None = None
    ) -> list[UsageRow]:
        """Usage rows, oldest first, optionally of one endpoint and from ``since`` on."""
        where, args = _where(endpoint, since)
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM gateway_usage{where} ORDER BY time, id"
        rows = await self._run(lambda conn: _fetch(conn, sql, args))
        return [usage_row(tuple(r)) for r in rows]

    async def inference(self, *, endpoint: str | None = None) -> list[InferenceRow]:
        """Inference rows, oldest first, optionally of one endpoint."""
        where, args = _where(endpoint, None)
        sql = (
            f"SELECT {', '.join(INFERENCE_COLUMNS)} FROM gateway_inference{where} ORDER BY time, id"
        )
        rows = await self._run(lambda conn: _fetch(conn, sql, args))
        return [inference_row(tuple(r)) for r in rows]

    async def aclose(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


async def _fetch(conn: psycopg.AsyncConnection[Any], sql: str, args: list[Any]) -> list[Any]:
    cursor = await conn.execute(sql, args)
    return await cursor.fetchall()


def _where(endpoint: str | None, since: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if endpoint is not None:
        clauses.append("endpoint = %s")
        args.append(endpoint)
    if since is not None:
        clauses.append("time >= %s")
        args.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
