"""Reading what the workspace says: its error bodies as the package's typed errors, and an
endpoint's ``state`` as ready, still updating, or failed (with the endpoint's own words).
Pure: shared by the sync and async clients."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EndpointAlreadyExistsError,
    EndpointNotFoundError,
    EndpointStateError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = ["Progress", "readiness", "state_summary", "workspace_error"]

PROVIDER = "databricks"

_BY_CODE: dict[str, type[APIError]] = {
    "RESOURCE_DOES_NOT_EXIST": EndpointNotFoundError,
    "RESOURCE_ALREADY_EXISTS": EndpointAlreadyExistsError,
    "RESOURCE_CONFLICT": ConflictError,
    "INVALID_PARAMETER_VALUE": BadRequestError,
    "MALFORMED_REQUEST": BadRequestError,
    "BAD_REQUEST": BadRequestError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "UNAUTHENTICATED": AuthenticationError,
    "REQUEST_LIMIT_EXCEEDED": RateLimitError,
    "RESOURCE_EXHAUSTED": RateLimitError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}
_HINTS: dict[type[APIError], str] = {
    EndpointAlreadyExistsError: "apply updates an existing endpoint; or choose another name",
    EndpointNotFoundError: "check the name (extmodels endpoints list), or create it with apply",
    PermissionDeniedError: "the token needs CAN_MANAGE on the endpoint (CAN_QUERY only reads "
    "it) or the right to create serving endpoints",
    AuthenticationError: "check the workspace token (DATABRICKS_TOKEN or token=)",
    ConflictError: "the endpoint is being updated: wait for it, then try again",
}


def workspace_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error of a workspace answer ``{"error_code": ..., "message": ...}``, with its
    message kept and what to try next."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    code = data.get("error_code")
    message = data.get("message") or body[:300].decode("utf-8", "replace") or f"HTTP {status}"
    cls = _BY_CODE.get(str(code)) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    error = cls(
        str(message),
        provider=PROVIDER,
        status_code=status,
        code=str(code) if code is not None else None,
        request_id=headers.get("x-request-id") or headers.get("x-databricks-org-id"),
        body=body[:2000].decode("utf-8", "replace"),
    )
    hint = _HINTS.get(cls)
    if hint:
        error.hint(hint)
    return error


def readiness(endpoint: Mapping[str, Any]) -> Literal["ready", "updating"]:
    """``ready`` once ``state.ready`` is ``READY`` and no config update runs, ``updating``
    while one does; :class:`EndpointStateError` when the update failed or was cancelled, or
    when the endpoint stopped updating without becoming ready."""
    state = endpoint.get("state") or {}
    update, ready = state.get("config_update"), state.get("ready")
    if update in ("UPDATE_FAILED", "UPDATE_CANCELED") or (
        update == "NOT_UPDATING" and ready == "NOT_READY"
    ):
        name = str(endpoint.get("name", ""))
        raise EndpointStateError(
            f"endpoint '{name}' did not become ready: {state_summary(endpoint)}",
            name=name,
            state={k: str(v) for k, v in state.items()},
        )
    if ready == "READY" and update in ("NOT_UPDATING", None):
        return "ready"
    return "updating"


def state_summary(endpoint: Mapping[str, Any]) -> str:
    """The endpoint's state in its own words: ``config_update: UPDATE_FAILED, ready:
    NOT_READY``, each served entity's deployment state and message, the pending config."""
    state = endpoint.get("state") or {}
    parts = [
        f"config_update: {state.get('config_update', 'unknown')}, "
        f"ready: {state.get('ready', 'unknown')}"
    ]
    parts += _entity_states(endpoint.get("config") or {}, "")
    pending = endpoint.get("pending_config")
    if pending:
        version = pending.get("config_version")
        names = [str(e.get("name")) for e in pending.get("served_entities") or []]
        parts.append(
            f"pending config{f' version {version}' if version is not None else ''}"
            f" with served entities {', '.join(names) or '(none)'}"
        )
        parts += _entity_states(pending, "pending ")
    return "; ".join(parts)


def _entity_states(config: Mapping[str, Any], label: str) -> list[str]:
    lines = []
    for entity in config.get("served_entities") or []:
        state = entity.get("state") or {}
        deployment, message = state.get("deployment"), state.get("deployment_state_message")
        if deployment or message:
            text = ": ".join(str(p) for p in (deployment, message) if p)
            lines.append(f"{label}served entity '{entity.get('name')}': {text}")
    return lines


class Progress:
    """One status line on a terminal, rewritten at each poll (stderr, only when it is a TTY:
    logs and pipes get nothing)."""

    def __init__(self, name: str, stream: TextIO | None = None, show: bool | None = None) -> None:
        self._name = name
        self._stream = stream if stream is not None else sys.stderr
        self._show = self._stream.isatty() if show is None else show
        self._width = 0

    def update(self, endpoint: Mapping[str, Any], elapsed: float) -> None:
        """Show the endpoint's state after ``elapsed`` seconds."""
        if not self._show:
            return
        state = endpoint.get("state") or {}
        line = (
            f"endpoint '{self._name}': {state.get('ready', '?')}, config_update "
            f"{state.get('config_update', '?')} ({elapsed:.0f}s)"
        )
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def close(self) -> None:
        """End the status line."""
        if self._show and self._width:
            self._stream.write("\n")
            self._stream.flush()
