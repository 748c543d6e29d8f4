"""The endpoints API's write half on the gateway: create, update config / AI Gateway / rate
limits / tags, delete, with the workspace's paths, bodies and answers, so the lifecycle clients
(ours, databricks-sdk's ``serving_endpoints``, MLflow Deployments) manage a gateway as they
manage a workspace. Only tokens marked ``can_manage`` may; every change is validated with the
same validator as a config file before it replaces what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from extmodels_integrations._exceptions import ConfigurationError, redact
from extmodels_integrations.gateway._app import Gateway, _json_body
from extmodels_integrations.gateway._errors import GatewayError, bad_request, permission_denied
from extmodels_integrations.gateway._streams import error_response

__all__ = ["manage_routes"]

API = "/api/2.0/serving-endpoints"
Change = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""(the live create body, the request body) -> the new create body."""


def _manager(gw: Gateway, request: Request, name: str | None) -> str:
    principal = gw.principal(request)
    if not principal.can_manage:
        target = f"endpoint '{name}'" if name else "serving endpoints"
        raise permission_denied(
            f"User '{principal.user}' does not have permission 'CAN_MANAGE' on {target}."
        )
    return principal.user


async def _replace(gw: Gateway, body: Mapping[str, Any], creator: str, *, create: bool) -> Any:
    try:
        served = gw.endpoints.build(body, creator)
    except ConfigurationError as error:
        raise bad_request(redact(str(error))) from None
    await gw.endpoints.put(served, create=create)
    return served


def _section(key: str, answer_key: str | None = None) -> Change:
    """An update that replaces one section of the create body."""

    def change(live: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        value = sent.get(answer_key) if answer_key else sent
        return {**live, key: value}

    return change


def _tags(live: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    tags = {t["key"]: t for t in live.get("tags") or []}
    tags.update({t["key"]: t for t in sent.get("add_tags") or []})
    for key in sent.get("delete_tags") or []:
        tags.pop(key, None)
    return {**live, "tags": list(tags.values())}


_UPDATES: dict[str, tuple[str, Change]] = {
    "config": ("PUT", _section("config")),
    "ai-gateway": ("PUT", _section("ai_gateway")),
    "rate-limits": ("PUT", _section("rate_limits", "rate_limits")),
    "tags": ("PATCH", _tags),
}


def _answer(part: str, served: Any) -> dict[str, Any]:
    """What each update answers: the endpoint for a config, the section otherwise."""
    described: dict[str, Any] = served.describe()
    if part == "config":
        return described
    if part == "ai-gateway":
        return dict(described.get("ai_gateway") or {})
    if part == "rate-limits":
        return {"rate_limits": served.body.get("rate_limits") or []}
    return {"tags": described.get("tags") or []}


def manage_routes(gw: Gateway) -> list[Route]:
    """The create / update / delete routes."""

    def guarded(
        handler: Callable[[Request], Awaitable[dict[str, Any]]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except GatewayError as error:
                return error_response(error)

        return run

    async def create(request: Request) -> dict[str, Any]:
        user = _manager(gw, request, None)
        body = await _json_body(request)
        if not isinstance(body.get("name"), str) or "config" not in body:
            raise bad_request("a create body needs 'name' and 'config'")
        served = await _replace(gw, body, user, create=True)
        return dict(served.describe())

    async def update(request: Request) -> dict[str, Any]:
        name, part = request.path_params["name"], request.path_params["part"]
        user = _manager(gw, request, name)
        if part not in _UPDATES:
            raise GatewayError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.url.path}'")
        method, change = _UPDATES[part]
        if request.method != method:
            raise bad_request(f"{part} is updated with {method}, not {request.method}")
        live = gw.endpoints.get(name)
        body = change(live.body, await _json_body(request))
        served = await _replace(gw, body, user, create=False)
        return _answer(part, served)

    async def delete(request: Request) -> dict[str, Any]:
        name = request.path_params["name"]
        _manager(gw, request, name)
        await gw.endpoints.delete(name)
        return {}

    parts = "{part:str}"
    return [
        Route(API, guarded(create), methods=["POST"]),
        Route(f"{API}/{{name}}", guarded(delete), methods=["DELETE"]),
        Route(f"{API}/{{name}}/{parts}", guarded(update), methods=["PUT", "PATCH"]),
    ]
