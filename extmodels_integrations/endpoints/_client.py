"""The serving-endpoints clients: :class:`EndpointsClient` (sync) and
:class:`AsyncEndpointsClient`, the same methods over the same pure steps (``_plan``,
``_flows``, ``_state``); only sending and sleeping differ."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from extmodels_integrations import _signed
from extmodels_integrations._auth import Auth
from extmodels_integrations._control import asleep
from extmodels_integrations._exceptions import (
    APIError,
    EndpointNotFoundError,
    ExternalModelError,
)
from extmodels_integrations._reading import public_url
from extmodels_integrations._transport import Transport
from extmodels_integrations._workspace import find_workspace, sign_in
from extmodels_integrations.endpoints._body import (
    BodySource,
    desired_body,
    mlflow_create_body,
    validated_section,
)
from extmodels_integrations.endpoints._flows import (
    ApplyResult,
    Call,
    Flow,
    R,
    Sleep,
    WaitOptions,
    apply_flow,
    send_flow,
)
from extmodels_integrations.endpoints._plan import request
from extmodels_integrations.endpoints._state import workspace_error

__all__ = ["arun", "run"]


def _connect(workspace: Mapping[str, Any]) -> tuple[str, Auth]:
    """The workspace URL and the auth of its API calls, signed in as every workspace-facing
    part of the package is (see :mod:`extmodels_integrations._workspace`)."""
    signed_in = sign_in(find_workspace(workspace))
    return signed_in.host, signed_in.auth


class _Base:
    """Arguments and the flow of every operation, shared by both clients; each public method
    of the two clients runs one of these flows."""

    def __init__(
        self,
        host: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        auth_type: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.host, self._auth = _connect(
            {
                "host": host,
                "token": token,
                "profile": profile,
                "client_id": client_id,
                "client_secret": client_secret,
                "auth_type": auth_type,
            }
        )
        self.transport = Transport(
            provider="databricks",
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r})"

    def _answer(self, op: Call, error: APIError) -> None:
        if isinstance(error, EndpointNotFoundError) and op.missing_ok:
            return
        error.scrub(self._auth.secret_values())
        error.locate(url=public_url(op.request.url))
        raise error

    # -- the flow of each operation --------------------------------------------------------

    def _create(
        self, source: BodySource, name: str | None, options: WaitOptions
    ) -> Flow[Mapping[str, Any]]:
        body = desired_body(source, name)
        call = Call(request(self.host, "POST", body=body))
        return send_flow(self.host, call, str(body["name"]), options)

    def _mlflow_create(
        self,
        name: str | None,
        config: Mapping[str, Any] | None,
        route_optimized: bool | None,
        options: WaitOptions,
    ) -> Flow[Mapping[str, Any]]:
        return self._create(mlflow_create_body(name, config, route_optimized), None, options)

    def _send(
        self,
        method: str,
        name: str | None = None,
        suffix: str = "",
        body: Any = None,
        waits: WaitOptions | None = None,
    ) -> Flow[Mapping[str, Any]]:
        call = Call(request(self.host, method, name, suffix, body))
        waiting = name if waits is not None and waits.wait else None
        return send_flow(self.host, call, waiting, waits or _NO_WAIT)

    def _update_config(
        self, name: str, config: Mapping[str, Any], options: WaitOptions
    ) -> Flow[Mapping[str, Any]]:
        # The core config is checked by the create-body validator, in a body of its own.
        body = desired_body({"name": name, "config": dict(config)})
        return self._send("PUT", name, "/config", body["config"], options)

    def _ai_gateway(self, name: str, ai_gateway: Mapping[str, Any]) -> Flow[Mapping[str, Any]]:
        body = validated_section("ai_gateway", dict(ai_gateway))
        return self._send("PUT", name, "/ai-gateway", body)

    def _rate_limits(
        self, name: str, limits: Sequence[Mapping[str, Any]]
    ) -> Flow[Mapping[str, Any]]:
        body = {"rate_limits": validated_section("rate_limits", [dict(r) for r in limits])}
        return self._send("PUT", name, "/rate-limits", body)

    def _mlflow_update(
        self, endpoint: str, config: Mapping[str, Any], options: WaitOptions
    ) -> Flow[Mapping[str, Any]]:
        # MLflow's deprecated update_endpoint: rate limits alone go to .../rate-limits.
        if list(config) == ["rate_limits"]:
            return self._rate_limits(endpoint, list(config["rate_limits"]))
        return self._update_config(endpoint, config, options)

    def _apply(
        self,
        source: BodySource,
        name: str | None,
        options: WaitOptions,
        dry_run: bool,
        force: bool,
    ) -> Flow[ApplyResult]:
        body = desired_body(source, name)
        return apply_flow(self.host, body, options, dry_run=dry_run, force=force)


_NO_WAIT = WaitOptions(wait=False)


def _options(wait: bool, timeout: float, poll_interval: float) -> WaitOptions:
    return WaitOptions(wait=wait, timeout=timeout, poll_interval=poll_interval)


def run(client: _Base, flow: Flow[R]) -> R:
    """Drive ``flow`` with blocking calls; an error goes back into the flow (its progress line
    is closed) and out again."""
    result: Any = None
    error: Exception | None = None
    while True:
        try:
            op = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            result = _do(client, op)
        except ExternalModelError as exc:
            error = exc


def _do(client: _Base, op: Call | Sleep) -> Any:
    if isinstance(op, Sleep):
        time.sleep(op.seconds)
        return None
    try:
        return _signed.send(client.transport, client._auth, op.request, workspace_error)[0]
    except APIError as error:
        client._answer(op, error)
        return None


async def arun(client: _Base, flow: Flow[R]) -> R:
    """The async twin of :func:`run`."""
    result: Any = None
    error: Exception | None = None
    while True:
        try:
            op = flow.send(result) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            result = await _ado(client, op)
        except ExternalModelError as exc:
            error = exc


async def _ado(client: _Base, op: Call | Sleep) -> Any:
    if isinstance(op, Sleep):
        await asleep(op.seconds)
        return None
    try:
        return (await _signed.asend(client.transport, client._auth, op.request, workspace_error))[0]
    except APIError as error:
        client._answer(op, error)
        return None
