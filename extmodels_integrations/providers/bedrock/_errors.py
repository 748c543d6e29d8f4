"""Typed errors for Bedrock: rest-json error responses and the exception (or error) messages a
response stream can carry instead of a chunk."""

from __future__ import annotations

import json
from collections.abc import Mapping

from extmodels_integrations._exceptions import APIError, RateLimitError
from extmodels_integrations.providers._aws import EventMessage
from extmodels_integrations.providers._base import body_error, error_for_status, error_json
from extmodels_integrations.providers.bedrock._common import PROVIDER, _header

# Status of each exception event of the ResponseStream shape (botocore bedrock-runtime
# service-2.json); mapped through the same status rules as HTTP errors.
_STREAM_EXCEPTIONS = {
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "validationException": 400,
    "throttlingException": 429,
    "modelTimeoutException": 408,
    "serviceUnavailableException": 503,
}
_THROTTLING_CODES = frozenset({"ThrottlingException", "throttlingException"})


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a Bedrock rest-json error: ``{"message": ...}`` with the error code
    in ``x-amzn-ErrorType`` (the part before ``:``, as botocore's parser reads it)."""
    code = (_header(headers, "x-amzn-ErrorType") or "").split(":")[0] or None
    message = ""
    data = error_json(body)
    if isinstance(data, Mapping):
        message = str(data.get("message") or data.get("Message") or "")
        code = code or data.get("__type")
    request_id = _header(headers, "x-amzn-RequestId")
    error = body_error(status, body, message, provider=PROVIDER, code=code, request_id=request_id)
    if code in _THROTTLING_CODES:  # botocore retries it even when it comes with a 400
        return RateLimitError(
            error.provider_message,
            provider=PROVIDER,
            status_code=status,
            code=error.code,
            request_id=request_id,
        )
    return error


def stream_exception(message: EventMessage) -> APIError:
    """The typed error for an ``exception`` (or ``error``) message inside a response stream."""
    headers = message.headers
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "error")
        text = str(headers.get(":error-message") or code)
        return error_for_status(500, text, provider=PROVIDER, code=code)
    code = str(headers.get(":exception-type") or "exception")
    try:
        data = json.loads(message.payload)
    except ValueError:
        data = {}
    text = str(data.get("message") or code) if isinstance(data, Mapping) else code
    if isinstance(data, Mapping) and data.get("originalMessage"):
        text += f" (model said: {data['originalMessage']})"
    return error_for_status(_STREAM_EXCEPTIONS.get(code, 500), text, provider=PROVIDER, code=code)
