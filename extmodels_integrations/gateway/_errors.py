"""Errors as the workspace answers them: an HTTP status and ``{"error_code", "message"}``.

Provider failures are translated, not relayed: a provider's 401 means the *gateway's* key is
wrong, which a client cannot fix, so it becomes a 502 rather than a 401 the client would read
as "your token is bad".
"""

from __future__ import annotations

from dataclasses import dataclass

from extmodels_integrations._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ExternalModelError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    redact,
)

__all__ = ["GatewayError", "from_model_error"]


@dataclass
class GatewayError(Exception):
    """A refusal or failure with the workspace's status, ``error_code`` and message."""

    status: int
    error_code: str
    message: str
    retry_after: float | None = None
    error_type: str | None = None
    """What usage rows and metrics call it (the exception class, or ``guardrail`` ...)."""

    def body(self) -> dict[str, str]:
        """The JSON error body."""
        return {"error_code": self.error_code, "message": self.message}

    def headers(self) -> dict[str, str]:
        """``Retry-After`` (whole seconds, rounded up) when there is advice."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, int(-(-self.retry_after // 1))))}

    def __str__(self) -> str:
        return f"{self.status} {self.error_code}: {self.message}"


def unauthenticated(message: str) -> GatewayError:
    """401, as a workspace answers a request without a valid token."""
    return GatewayError(401, "UNAUTHENTICATED", message, error_type="unauthenticated")


def permission_denied(message: str) -> GatewayError:
    """403, as a workspace answers a token that may not do this."""
    return GatewayError(403, "PERMISSION_DENIED", message, error_type="permission_denied")


def not_found(name: str) -> GatewayError:
    """404 for an endpoint name the gateway does not serve."""
    return GatewayError(
        404,
        "RESOURCE_DOES_NOT_EXIST",
        f"Endpoint with name '{name}' does not exist.",
        error_type="not_found",
    )


def bad_request(message: str) -> GatewayError:
    """400 for a body the gateway cannot use."""
    return GatewayError(400, "INVALID_PARAMETER_VALUE", message, error_type="bad_request")


def _status_of(error: ExternalModelError) -> tuple[int, str]:
    # Order matters: the specific APIError subclasses first.
    table: list[tuple[type[ExternalModelError], int, str]] = [
        (RateLimitError, 429, "REQUEST_LIMIT_EXCEEDED"),
        (AuthenticationError, 502, "BAD_GATEWAY"),
        (PermissionDeniedError, 502, "BAD_GATEWAY"),
        (NotFoundError, 502, "BAD_GATEWAY"),
        (BadRequestError, 400, "BAD_REQUEST"),
        (ConfigurationError, 400, "INVALID_PARAMETER_VALUE"),
        (APITimeoutError, 504, "DEADLINE_EXCEEDED"),
        (APIConnectionError, 502, "TEMPORARILY_UNAVAILABLE"),
    ]
    for cls, status, code in table:
        if isinstance(error, cls):
            return status, code
    if isinstance(error, APIError) and error.status_code is not None and error.status_code < 500:
        return 400, "BAD_REQUEST"
    return 502, "TEMPORARILY_UNAVAILABLE"


def from_model_error(error: ExternalModelError) -> GatewayError:
    """The workspace-shaped answer to a routing-core error (message redacted once more)."""
    status, code = _status_of(error)
    retry = error.retry_after if isinstance(error, APIError) else None
    if status == 429 and retry is None:
        retry = 1.0
    return GatewayError(status, code, redact(str(error)), retry, type(error).__name__)
