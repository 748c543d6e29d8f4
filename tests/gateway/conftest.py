"""Session-wide real servers for the gateway's state tests: redis-server and PostgreSQL 15."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import PostgresServer, RedisServer, start_postgres, start_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on loopback for the session."""
    try:
        server = start_redis(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 cluster on loopback for the session."""
    try:
        server = start_postgres(tmp_path_factory.mktemp("postgres"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()
