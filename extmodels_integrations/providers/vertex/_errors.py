"""How Vertex AI failures become typed errors: Google's ``{"error": {...}}`` bodies (HTTP and
mid-stream), context-window overflows and ``RetryInfo`` delays; also ``PROVIDER``, the name every
part of this package tags its errors and responses with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import APIError, ContextWindowExceededError
from extmodels_integrations.providers._base import body_error, error_for_status, error_json

PROVIDER = "google-cloud-vertex-ai"

_CONTEXT = re.compile(r"exceeds the maximum number of tokens|input token count", re.IGNORECASE)


def _retry_delay(details: Any) -> float | None:
    # google.rpc.RetryInfo carries the advised wait as a Duration string ("30s").
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
            return float(delay[:-1])
    return None


def _error_from(error: Mapping[str, Any], status: int, body: bytes) -> APIError:
    message = str(error.get("message") or f"HTTP {status}")
    code = error.get("status")
    result = error_for_status(
        status, message, provider=PROVIDER, code=str(code) if code else None, body=body
    )
    if status == 400 and _CONTEXT.search(message):
        result = ContextWindowExceededError(
            message, provider=PROVIDER, status_code=status, code=result.code, body=result.body
        )
    result.retry_after = _retry_delay(error.get("details"))
    return result


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for Google's ``{"error": {"code", "message", "status", "details"}}``
    (also when wrapped in a list, as non-SSE streams send it)."""
    data = error_json(body)
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        return body_error(status, body, "", provider=PROVIDER)
    return _error_from(error, status, body)
