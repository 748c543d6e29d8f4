"""The gateway's usage table and inference table, in SQLite (one machine) or PostgreSQL (replicas).

Both stores give the same rows back. A row is durable when ``record_*`` returns: SQLite commits
with ``synchronous=FULL`` in WAL mode (safe across processes on one machine, e.g. uvicorn
workers), PostgreSQL commits each insert (autocommit). Payloads are stored as JSON; the caller
redacts them first with :func:`redact_payload`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from extmodels_integrations._exceptions import ConfigurationError, redact

__all__ = [
    "InferenceRow",
    "Store",
    "UsageRow",
    "open_store",
    "redact_payload",
    "url_without_password",
]


@dataclass(frozen=True)
class UsageRow:
    """One request the gateway answered (the usage table)."""

    request_id: str
    time: datetime
    endpoint: str
    served_entity: str | None
    requester: str
    task: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    status: int
    error_type: str | None
    streamed: bool


@dataclass(frozen=True)
class InferenceRow:
    """One request / response pair (the inference table); payloads already redacted."""

    request_id: str
    time: datetime
    endpoint: str
    served_entity: str | None
    requester: str
    status: int
    request: dict[str, Any]
    response: dict[str, Any] | None


class Store(Protocol):
    """Where usage and inference rows go."""

    async def record_usage(self, row: UsageRow) -> None:
        """Write one usage row; durable when it returns."""

    async def record_inference(self, row: InferenceRow) -> None:
        """Write one inference row; durable when it returns."""

    async def usage(
        self, *, endpoint: str | None = None, since: datetime | None = None
    ) -> list[UsageRow]:
        """Usage rows, oldest first, optionally of one endpoint and from ``since`` on."""

    async def inference(self, *, endpoint: str | None = None) -> list[InferenceRow]:
        """Inference rows, oldest first, optionally of one endpoint."""

    async def aclose(self) -> None:
        """Release the connection(s)."""


# Keys whose value is a credential whatever it looks like.
_SECRET_KEY = re.compile(
    r"(^|_|-)(authorization|api[_-]?key|apikey|token|secret|password|passwd|credentials?)($|_|-)"
    r"|_plaintext$|^x-api-key$|^api-key$",
    re.IGNORECASE,
)
# Key shapes beyond those the package's error redaction knows (_exceptions.redact).
_EXTRA_SHAPES = re.compile(
    r"(AIza[0-9A-Za-z_\-]{30,}|ASIA[0-9A-Z]{12,}|xox[abpr]-[0-9A-Za-z\-]{10,}|gh[pousr]_[0-9A-Za-z]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)"
)
REDACTED = "***"


def redact_payload(value: Any) -> Any:
    """A copy of a JSON-like payload with credentials masked: credential-named keys
    (``Authorization``, ``*api_key*``, ``*_plaintext``, ``*token*``, ``*secret*``, ``*password*``)
    and any string shaped like a known key (``sk-…``, ``dapi…``, ``AKIA…``, ``Bearer …``, JWTs,
    ``AIza…``, ``ghp_…``, ``xox?-…``, PEM private keys)."""
    if isinstance(value, Mapping):
        return {k: _redacted_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(v) for v in value]
    if isinstance(value, str):
        return _EXTRA_SHAPES.sub(REDACTED, redact(value))
    return value


def _redacted_item(key: Any, value: Any) -> Any:
    if key == "logprobs":
        # Chat log probabilities: their "token" keys hold generated text, not credentials.
        return _shapes_redacted(value)
    if isinstance(key, str) and _SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    return redact_payload(value)


def _shapes_redacted(value: Any) -> Any:
    """``value`` with key-shaped strings masked, whatever the keys are named."""
    if isinstance(value, Mapping):
        return {k: _shapes_redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shapes_redacted(v) for v in value]
    if isinstance(value, str):
        return _EXTRA_SHAPES.sub(REDACTED, redact(value))
    return value


USAGE_COLUMNS = (
    "request_id",
    "time",
    "endpoint",
    "served_entity",
    "requester",
    "task",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "status",
    "error_type",
    "streamed",
)
INFERENCE_COLUMNS = (
    "request_id",
    "time",
    "endpoint",
    "served_entity",
    "requester",
    "status",
    "request",
    "response",
)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def usage_values(row: UsageRow) -> tuple[Any, ...]:
    """The row's column values in :data:`USAGE_COLUMNS` order, time as UTC."""
    return (
        row.request_id,
        utc(row.time),
        row.endpoint,
        row.served_entity,
        row.requester,
        row.task,
        row.input_tokens,
        row.output_tokens,
        float(row.latency_ms),
        int(row.status),
        row.error_type,
        bool(row.streamed),
    )


def inference_values(row: InferenceRow) -> tuple[Any, ...]:
    """The row's column values in :data:`INFERENCE_COLUMNS` order, payloads as JSON text."""
    return (
        row.request_id,
        utc(row.time),
        row.endpoint,
        row.served_entity,
        row.requester,
        int(row.status),
        json.dumps(row.request, ensure_ascii=False),
        None if row.response is None else json.dumps(row.response, ensure_ascii=False),
    )


def usage_row(values: tuple[Any, ...]) -> UsageRow:
    """A :class:`UsageRow` from a result row in :data:`USAGE_COLUMNS` order."""
    fields = dict(zip(USAGE_COLUMNS, values, strict=True))
    fields["time"] = _as_datetime(fields["time"])
    fields["streamed"] = bool(fields["streamed"])
    fields["latency_ms"] = float(fields["latency_ms"])
    return UsageRow(**fields)


def inference_row(values: tuple[Any, ...]) -> InferenceRow:
    """An :class:`InferenceRow` from a result row in :data:`INFERENCE_COLUMNS` order."""
    fields = dict(zip(INFERENCE_COLUMNS, values, strict=True))
    fields["time"] = _as_datetime(fields["time"])
    for name in ("request", "response"):
        if isinstance(fields[name], str):
            fields[name] = json.loads(fields[name])
    return InferenceRow(**fields)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    return utc(datetime.fromisoformat(str(value)))


def open_store(url: str) -> Store:
    """The store ``url`` names: ``sqlite:///path/to/file.db`` (the default; ``sqlite:///:memory:``
    for one process) or ``postgresql://user@host:port/db`` (shared by several replicas)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        from ._usage_sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from ._usage_postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigurationError(
        f"usage store URL scheme {scheme or '(none)'!r} is not supported: use "
        "'sqlite:///path/to/usage.db' or 'postgresql://user@host:port/db'"
    )


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///…`` URL (``sqlite:////abs/path`` or ``sqlite:///rel/path``)."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or rest == "/":
        raise ConfigurationError(
            f"usage store URL {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    return rest[1:]


def url_without_password(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``: for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}{parts.hostname or ''}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
