"""Typed errors from Anthropic error bodies (HTTP errors) and ``error`` stream events (which
arrive after HTTP 200, so their ``type`` picks the class)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from extmodels_integrations.providers._base import body_error, error_json

# Error ``type`` -> class, for error events that arrive after HTTP 200 (no status to go on).
# The types and the statuses they come with: anthropic-sdk-python ``types/shared/*_error.py``.
_EVENT_ERRORS: Mapping[str, type[APIError]] = {
    "invalid_request_error": BadRequestError,
    "request_too_large": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "api_error": ServerError,
    "timeout_error": ServerError,
    "overloaded_error": ServerError,
}


def event_error(data: Mapping[str, Any], provider: str) -> APIError:
    """The typed error for an ``error`` stream event (which arrives after HTTP 200, so it has
    no status): ``overloaded_error`` and ``api_error`` are retryable server errors."""
    error = data.get("error")
    detail = error if isinstance(error, Mapping) else {}
    kind = str(detail.get("type") or "error")
    cls = _EVENT_ERRORS.get(kind, APIError)
    return cls(
        str(detail.get("message") or error or "error event without a message"),
        provider=provider,
        code=kind,
        request_id=data.get("request_id"),
    )


def map_error(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for an Anthropic error body
    ``{"type": "error", "error": {"type", "message"}, "request_id"}``; 529 ``overloaded_error``
    is a retryable :class:`ServerError`."""
    message, code, request_id = "", None, headers.get("request-id")
    data = error_json(body)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or "")
            code = error.get("type")
        request_id = request_id or data.get("request_id")
    return body_error(status, body, message, provider=provider, code=code, request_id=request_id)
