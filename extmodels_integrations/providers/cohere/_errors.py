"""How Cohere failures become typed errors: error bodies (``{"message": ...}``, 498 as an
authentication failure) and generations that ended in ERROR or TIMEOUT; also ``PROVIDER``, the
name every part of this package tags its errors and responses with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import APIError, ServerError
from extmodels_integrations.providers._base import (
    body_error,
    error_json,
    header_value,
)

PROVIDER = "cohere"

_FAILED = frozenset({"ERROR", "TIMEOUT"})
# Cohere sends no request-id header of its own name; x-debug-trace-id is what its API returns
# (seen in recorded api.cohere.com responses); x-request-id is kept for proxies in front.
_REQUEST_ID_HEADERS = ("x-request-id", "x-debug-trace-id")


def _failed(value: Any, message: Any) -> APIError | None:
    """The error for a generation that ended in ERROR or TIMEOUT, else ``None``."""
    if value is None or str(value).upper() not in _FAILED:
        return None
    text = str(message or f"generation ended with finish_reason {value}")
    return ServerError(text, provider=PROVIDER, code=str(value))


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a Cohere error body ``{"message": ...}`` (v2 may add ``"id"``)."""
    message, body_id = "", None
    data = error_json(body)
    if isinstance(data, Mapping):
        message = str(data.get("message") or data.get("detail") or "")
        body_id = data.get("id")
    request_id = header_value(headers, _REQUEST_ID_HEADERS)
    # 498 is Cohere's "invalid token": an authentication failure by another number.
    return body_error(
        401 if status == 498 else status,
        body,
        message,
        provider=PROVIDER,
        request_id=request_id or (str(body_id) if body_id else None),
    )
