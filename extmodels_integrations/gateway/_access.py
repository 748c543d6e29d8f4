"""Structured access logs: one JSON line per HTTP request on the
``extmodels_integrations.gateway.access`` logger, written when the response's last byte is out.

The line has the time (UTC, ISO 8601), method, path, status, endpoint, served entity, requester,
latency, tokens, error type and request id. It never has headers (the ``Authorization`` bearer
token), the query string or a body. ``status`` is the request's outcome: for a stream that failed
after its 200 headers went out, it is the status its usage row has (e.g. 502).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extmodels_integrations.gateway._cli import JsonLine

__all__ = ["SCOPE_KEY", "AccessLog", "access_info"]

SCOPE_KEY = "extmodels.access"
_log = logging.getLogger("extmodels_integrations.gateway.access")
_FIELDS = (
    "endpoint",
    "served_entity",
    "requester",
    "input_tokens",
    "output_tokens",
    "error_type",
    "stream",
    "request_id",
)


def access_info(scope: Scope) -> dict[str, Any]:
    """The dict a route fills with what the access line should say about its request."""
    info: dict[str, Any] = scope.setdefault(SCOPE_KEY, {})
    return info


class AccessLog:
    """ASGI middleware writing the access line of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, arrived = time.perf_counter(), datetime.now(UTC)
        info = access_info(scope)
        http_status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                http_status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if _log.isEnabledFor(logging.INFO):
                _log.info(JsonLine(_line(scope, info, http_status[0], started, arrived)))


def _line(
    scope: Scope, info: dict[str, Any], http_status: int, started: float, arrived: datetime
) -> dict[str, Any]:
    return {
        "time": arrived.isoformat(timespec="milliseconds"),
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": info.get("status", http_status),
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        **{k: info.get(k) for k in _FIELDS},
    }
