"""The gateway's ASGI app (Starlette): auth, the invocation routes, the endpoints API, metrics.

Each invocation: bearer token -> principal (401/403), endpoint lookup (404), the shared limiter
(429 + Retry-After), input guardrails (400, or the masked body), the routing core (traffic split,
fallbacks, retries, provider), output guardrails, then its usage row and inference row when the
endpoint has them, its metrics and its access line. A stream's rows are written before its last
event goes out (or when the client goes away), so a client that saw the end can count on them.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from extmodels_integrations._exceptions import ExternalModelError
from extmodels_integrations._routing import routing_metadata
from extmodels_integrations._types import CHAT, COMPLETIONS, EMBEDDINGS, Usage
from extmodels_integrations.gateway import _shapes
from extmodels_integrations.gateway._access import AccessLog, access_info
from extmodels_integrations.gateway._endpoints import EndpointStore, Served
from extmodels_integrations.gateway._errors import (
    GatewayError,
    bad_request,
    from_model_error,
    permission_denied,
    unauthenticated,
)
from extmodels_integrations.gateway._governance import (
    guard_answer,
    guard_request,
    refused_request,
    stored_payload,
)
from extmodels_integrations.gateway._metrics import CONTENT_TYPE, Metrics
from extmodels_integrations.gateway._metrics_shared import SharedMetrics
from extmodels_integrations.gateway._ratelimit import Limiter, open_limiter
from extmodels_integrations.gateway._streams import error_response, stream
from extmodels_integrations.gateway._tokens import Principal, TokenTable, load_tokens
from extmodels_integrations.gateway._upstream import upstream_client
from extmodels_integrations.gateway._usage import InferenceRow, Store, UsageRow, open_store

__all__ = ["Call", "Gateway", "Settings", "create_app"]

# When an invocation arrived (perf_counter), for the latency of one refused before its Call.
STARTED_KEY = "extmodels.started"


@dataclass(frozen=True)
class Settings:
    """What a gateway process serves and where its state lives."""

    configs: tuple[str, ...]
    tokens: str
    store: str = "sqlite:///usage.db"
    limiter: str | None = None
    config_dir: str | None = None
    limiter_on_outage: Literal["open", "closed"] = "closed"
    """What rate-limited requests get while the limiter's Redis does not answer."""
    metrics_dir: str | None = None
    """Where the workers of one gateway share their counters (the CLI's, with ``--workers``)."""
    metrics_token: str | None = field(default=None, repr=False)
    """The bearer token ``GET /metrics`` asks for (401 without it); None: open."""


@dataclass
class Call:
    """One invocation: what its usage / inference rows, metrics and access line need."""

    served: Served
    principal: Principal
    started: float
    arrived: datetime
    streamed: bool
    request_id: str
    body: dict[str, Any]
    """The request as the provider receives it (masked by input guardrails)."""
    info: dict[str, Any]
    token: str = field(repr=False)


class Gateway:
    """The state every route shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens: TokenTable = load_tokens(settings.tokens)
        self.http = upstream_client()
        config_dir = Path(settings.config_dir) if settings.config_dir else None
        self.endpoints = EndpointStore(self.http, config_dir)
        self.endpoints.load([Path(p) for p in settings.configs])
        self.store: Store = open_store(settings.store)
        self.limiter: Limiter = open_limiter(settings.limiter, on_outage=settings.limiter_on_outage)
        self.metrics = Metrics()
        self.shared = (
            SharedMetrics(Path(settings.metrics_dir), self.metrics)
            if settings.metrics_dir
            else None
        )

    def render_metrics(self) -> str:
        """The ``/metrics`` text: the whole gateway's when workers share a directory."""
        return self.shared.render() if self.shared else self.metrics.render()

    async def aclose(self) -> None:
        """Close clients, store and limiter."""
        await self.endpoints.aclose()
        await self.http.aclose()
        await self.store.aclose()
        await self.limiter.aclose()

    def principal(self, request: Request) -> Principal:
        """The caller, or 401."""
        return self._authenticate(request)[0]

    def _authenticate(self, request: Request) -> tuple[Principal, str]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated(
                "Credential was not sent or was of an unsupported type for this API: send "
                "'Authorization: Bearer <gateway token>'"
            )
        found = self.tokens.lookup(token.strip())
        if found is None:
            raise unauthenticated("Invalid access token.")
        return found, token.strip()

    def begin(self, request: Request, name: str, body: dict[str, Any]) -> Call:
        """Auth and lookup of one invocation (401 / 404 / 403)."""
        principal, token = self._authenticate(request)
        served = self.endpoints.get(name)
        if not principal.may_query(name):
            raise permission_denied(
                f"User '{principal.user}' does not have permission 'CAN_QUERY' on endpoint "
                f"'{name}'."
            )
        return Call(
            served,
            principal,
            time.perf_counter(),
            datetime.now(UTC),
            bool(body.get("stream")),
            uuid.uuid4().hex,
            body,
            access_info(request.scope),
            token,
        )

    async def admit(self, call: Call) -> GatewayError | None:
        """The endpoint's rate limits: None, or the 429 (503 when the limiter is down)."""
        served, principal = call.served, call.principal
        if not served.limits:
            return None
        decision = await self.limiter.acquire(
            served.name, principal.user, principal.groups, served.limits
        )
        if decision.allowed:
            return None
        status, code = (
            (503, "TEMPORARILY_UNAVAILABLE") if decision.outage else (429, "REQUEST_LIMIT_EXCEEDED")
        )
        return GatewayError(status, code, decision.message, decision.retry_after, "rate_limit")

    def refused(self, request: Request, name: str | None, error: GatewayError) -> None:
        """Count a request refused before it had a :class:`Call` (no usage row: no endpoint
        or no requester to charge it to)."""
        known = name if name is not None and self.endpoints.has(name) else ""
        seconds = time.perf_counter() - request.scope[STARTED_KEY]
        self.metrics.observe(known, None, error.status, error.error_type, seconds)
        access_info(request.scope).update(
            {"endpoint": known or None, "status": error.status, "error_type": error.error_type}
        )

    async def finish(
        self,
        call: Call,
        status: int,
        entity: str | None,
        usage: Usage | None,
        error_type: str | None,
        response: dict[str, Any] | None = None,
    ) -> None:
        """Charge tokens; write the usage and inference rows; count it; fill the access line."""
        seconds = time.perf_counter() - call.started
        tokens_in = usage.prompt_tokens if usage else None
        tokens_out = usage.completion_tokens if usage else None
        served, principal = call.served, call.principal
        if usage and served.limits:
            await self.limiter.add_tokens(
                served.name,
                principal.user,
                principal.groups,
                served.limits,
                usage.prompt_tokens + usage.completion_tokens,
            )
        await self._write_rows(
            call, status, entity, (tokens_in, tokens_out), seconds, error_type, response
        )
        self.metrics.observe(
            served.name, entity, status, error_type, seconds, (tokens_in, tokens_out)
        )
        call.info.update(
            endpoint=served.name,
            served_entity=entity,
            requester=principal.user,
            status=status,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            error_type=error_type,
            stream=call.streamed,
            request_id=call.request_id,
        )

    async def _write_rows(
        self,
        call: Call,
        status: int,
        entity: str | None,
        tokens: tuple[int | None, int | None],
        seconds: float,
        error_type: str | None,
        response: dict[str, Any] | None,
    ) -> None:
        served = call.served
        if served.usage_tracking:
            await self.store.record_usage(
                UsageRow(
                    call.request_id,
                    call.arrived,
                    served.name,
                    entity,
                    call.principal.user,
                    served.config.task,
                    tokens[0],
                    tokens[1],
                    seconds * 1000,
                    status,
                    error_type,
                    call.streamed,
                )
            )
        if served.inference_table:
            await self.store.record_inference(
                InferenceRow(
                    call.request_id,
                    call.arrived,
                    served.name,
                    entity,
                    call.principal.user,
                    status,
                    stored_payload(call.body, call.token) or {},
                    stored_payload(response, call.token),
                )
            )


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


async def _start(gw: Gateway, request: Request, name: str | None) -> Call | Response:
    """The call, or the answer to a request refused before its provider is called."""
    try:
        body = await _json_body(request)
        if name is None:
            name = body.get("model")
            if not isinstance(name, str) or not name:
                raise bad_request("model: required: the serving endpoint's name")
        call = gw.begin(request, name, body)
    except GatewayError as refused:
        gw.refused(request, name, refused)
        return error_response(refused)
    # A refused request is a completed one too: it gets its usage row.
    refusal = await gw.admit(call)
    if refusal is None and call.served.guardrails.input_enabled:
        rails, task = call.served.guardrails, call.served.config.task
        try:
            call.body = guard_request(rails, task, body)
        except GatewayError as blocked:
            refusal, call.body = blocked, refused_request(rails, task, body)
    if refusal is not None:
        await gw.finish(call, refusal.status, None, None, refusal.error_type, refusal.body())
        return error_response(refusal)
    return call


async def _invoke(
    gw: Gateway, request: Request, name: str | None, route_task: str | None
) -> Response:
    request.scope[STARTED_KEY] = time.perf_counter()
    call = await _start(gw, request, name)
    if isinstance(call, Response):
        return call
    task = call.served.config.task
    if route_task is not None and route_task != task:
        wrong = bad_request(f"endpoint '{call.served.name}' serves {task}, not {route_task}")
        await gw.finish(call, wrong.status, None, None, wrong.error_type, wrong.body())
        return error_response(wrong)
    if call.streamed and task != EMBEDDINGS:
        return await stream(gw, call, call.body)
    entity, usage = None, None
    try:
        answer, entity, usage = await _answer(call.served, call.body)
        if task != EMBEDDINGS and call.served.guardrails.output_enabled:
            answer = guard_answer(call.served.guardrails, answer)
    except (GatewayError, ExternalModelError) as exc:
        failed = exc if isinstance(exc, GatewayError) else from_model_error(exc)
        entity = getattr(exc, "served_entity", None) or entity
        await gw.finish(call, failed.status, entity, usage, failed.error_type, failed.body())
        return error_response(failed)
    await gw.finish(call, 200, entity, usage, None, answer)
    return JSONResponse(answer)


async def _answer(
    served: Served, body: dict[str, Any]
) -> tuple[dict[str, Any], str | None, Usage | None]:
    task, client, name = served.config.task, served.client, served.name
    if task == CHAT:
        result: Any = await client.achat(_shapes.chat_request(body))
        answer = _shapes.response_json(result, name)
    elif task == COMPLETIONS:
        result = await client.acomplete(_shapes.completion_request(body))
        answer = _shapes.response_json(result, name)
    else:
        texts, encoding, extra = _shapes.embeddings_input(body)
        result = await client.aembed(texts, extra_params=extra or None)
        answer = _shapes.embeddings_json(result, name, encoding)
    return answer, routing_metadata(result).get("served_entity"), result.usage


def _bearer_is(request: Request, expected: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    # Constant time: the comparison must not tell a prober how much of a guess was right.
    ok = hmac.compare_digest(sent.strip().encode(), expected.encode())
    return scheme.lower() == "bearer" and ok


def _routes(gw: Gateway) -> list[Route]:
    # Here, not at the top: the management routes build on this module.
    from extmodels_integrations.gateway._manage import manage_routes

    async def invocations(request: Request) -> Response:
        return await _invoke(gw, request, request.path_params["name"], None)

    def openai_route(task: str) -> Any:
        async def handler(request: Request) -> Response:
            return await _invoke(gw, request, None, task)

        return handler

    async def list_endpoints(request: Request) -> Response:
        try:
            gw.principal(request)
        except GatewayError as error:
            return error_response(error)
        return JSONResponse({"endpoints": [s.describe() for s in gw.endpoints.all()]})

    async def get_endpoint(request: Request) -> Response:
        try:
            gw.principal(request)
            return JSONResponse(gw.endpoints.get(request.path_params["name"]).describe())
        except GatewayError as error:
            return error_response(error)

    async def metrics(request: Request) -> Response:
        # Open unless the operator sets a token: it holds counts per endpoint, served entity,
        # status and error type, never a requester, payload or credential. Gateway tokens do
        # not open it: a scraper's credential should not also query the models.
        expected = gw.settings.metrics_token
        if expected is not None and not _bearer_is(request, expected):
            return error_response(
                unauthenticated("/metrics needs 'Authorization: Bearer <the metrics token>'")
            )
        return Response(gw.render_metrics(), media_type=CONTENT_TYPE)

    return [
        Route("/serving-endpoints/chat/completions", openai_route(CHAT), methods=["POST"]),
        Route("/serving-endpoints/completions", openai_route(COMPLETIONS), methods=["POST"]),
        Route("/serving-endpoints/embeddings", openai_route(EMBEDDINGS), methods=["POST"]),
        Route("/serving-endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/api/2.0/serving-endpoints", list_endpoints, methods=["GET"]),
        Route("/api/2.0/serving-endpoints/{name}", get_endpoint, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *manage_routes(gw),
    ]


def create_app(settings: Settings) -> Starlette:
    """The gateway app for ``settings`` (configs are validated here, before serving)."""
    gw = Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        publisher = asyncio.create_task(gw.shared.run()) if gw.shared else None
        yield
        if publisher is not None and gw.shared is not None:
            publisher.cancel()
            gw.shared.publish()
        await gw.aclose()

    app = Starlette(routes=_routes(gw), middleware=[Middleware(AccessLog)], lifespan=lifespan)
    app.state.gateway = gw
    return app
