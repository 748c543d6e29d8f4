"""The gateway's ASGI app (Starlette): auth, the invocation routes, the endpoints API.

Each request: bearer token -> principal (401/403), endpoint lookup (404), the shared limiter
(429 + Retry-After), the routing core (traffic split, fallbacks, retries, provider), then one
usage row when the endpoint tracks usage. A stream's row is written before its last event goes
out (or when the client goes away), so a client that saw the end can count on the row.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from extmodels_integrations._exceptions import ExternalModelError
from extmodels_integrations._routing import routing_metadata
from extmodels_integrations._types import CHAT, COMPLETIONS, EMBEDDINGS, Usage
from extmodels_integrations.gateway import _shapes
from extmodels_integrations.gateway._endpoints import EndpointStore, Served
from extmodels_integrations.gateway._errors import (
    GatewayError,
    bad_request,
    from_model_error,
    permission_denied,
    unauthenticated,
)
from extmodels_integrations.gateway._ratelimit import Limiter, open_limiter
from extmodels_integrations.gateway._tokens import Principal, TokenTable, load_tokens
from extmodels_integrations.gateway._usage import Store, UsageRow, open_store

__all__ = ["Settings", "create_app"]

_log = logging.getLogger("extmodels_integrations.gateway")


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


@dataclass
class _Call:
    """What one request's usage row needs, filled in as it goes."""

    served: Served
    principal: Principal
    started: float
    arrived: datetime
    streamed: bool
    request_id: str


class Gateway:
    """The state every route shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens: TokenTable = load_tokens(settings.tokens)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        config_dir = Path(settings.config_dir) if settings.config_dir else None
        self.endpoints = EndpointStore(self.http, config_dir)
        self.endpoints.load([Path(p) for p in settings.configs])
        self.store: Store = open_store(settings.store)
        self.limiter: Limiter = open_limiter(settings.limiter, on_outage=settings.limiter_on_outage)

    async def aclose(self) -> None:
        """Close clients, store and limiter."""
        await self.endpoints.aclose()
        await self.http.aclose()
        await self.store.aclose()
        await self.limiter.aclose()

    def principal(self, request: Request) -> Principal:
        """The caller, or 401."""
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
        return found

    async def begin(self, request: Request, name: str, streamed: bool) -> _Call:
        """Auth, lookup and the rate limits of one invocation."""
        principal = self.principal(request)
        served = self.endpoints.get(name)
        if not principal.may_query(name):
            raise permission_denied(
                f"User '{principal.user}' does not have permission 'CAN_QUERY' on endpoint "
                f"'{name}'."
            )
        call = _Call(
            served, principal, time.perf_counter(), datetime.now(UTC), streamed, uuid.uuid4().hex
        )
        if served.limits:
            decision = await self.limiter.acquire(
                name, principal.user, principal.groups, served.limits
            )
            if not decision.allowed:
                status, code = (
                    (503, "TEMPORARILY_UNAVAILABLE")
                    if decision.outage
                    else (429, "REQUEST_LIMIT_EXCEEDED")
                )
                # A refused request is a completed one too: it gets its usage row.
                await self.finish(call, status, None, None, "rate_limit")
                raise GatewayError(
                    status, code, decision.message, decision.retry_after, "rate_limit"
                )
        return call

    async def finish(
        self,
        call: _Call,
        status: int,
        entity: str | None,
        usage: Usage | None,
        error_type: str | None,
    ) -> None:
        """Charge tokens, write the usage row and the access log line."""
        latency = (time.perf_counter() - call.started) * 1000
        tokens_in = usage.prompt_tokens if usage else None
        tokens_out = usage.completion_tokens if usage else None
        if usage and call.served.limits:
            await self.limiter.add_tokens(
                call.served.name,
                call.principal.user,
                call.principal.groups,
                call.served.limits,
                usage.prompt_tokens + usage.completion_tokens,
            )
        if call.served.usage_tracking:
            await self.store.record_usage(
                UsageRow(
                    call.request_id,
                    call.arrived,
                    call.served.name,
                    entity,
                    call.principal.user,
                    call.served.config.task,
                    tokens_in,
                    tokens_out,
                    latency,
                    status,
                    error_type,
                    call.streamed,
                )
            )
        _log.info(
            json.dumps(
                {
                    "request_id": call.request_id,
                    "endpoint": call.served.name,
                    "served_entity": entity,
                    "user": call.principal.user,
                    "status": status,
                    "latency_ms": round(latency, 1),
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "error_type": error_type,
                    "stream": call.streamed,
                }
            )
        )


def _error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


async def _invoke(
    gw: Gateway, request: Request, name: str | None, route_task: str | None
) -> Response:
    try:
        body = await _json_body(request)
        if name is None:
            name = body.get("model")
            if not isinstance(name, str) or not name:
                raise bad_request("model: required: the serving endpoint's name")
        streamed = bool(body.get("stream"))
        call = await gw.begin(request, name, streamed)
    except GatewayError as refused:
        return _error_response(refused)
    task = call.served.config.task
    if route_task is not None and route_task != task:
        wrong = bad_request(f"endpoint '{name}' serves {task}, not {route_task}")
        await gw.finish(call, wrong.status, None, None, wrong.error_type)
        return _error_response(wrong)
    if streamed and task != EMBEDDINGS:
        return _stream(gw, call, body)
    try:
        answer, entity, usage = await _answer(call.served, body)
    except (GatewayError, ExternalModelError) as exc:
        failed = exc if isinstance(exc, GatewayError) else from_model_error(exc)
        entity = getattr(exc, "served_entity", None)
        await gw.finish(call, failed.status, entity, None, failed.error_type)
        return _error_response(failed)
    await gw.finish(call, 200, entity, usage, None)
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


def _stream(gw: Gateway, call: _Call, body: dict[str, Any]) -> Response:
    served = call.served
    try:
        if served.config.task == CHAT:
            chunks: AsyncIterator[Any] = served.client.astream_chat(_shapes.chat_request(body))
        else:
            chunks = served.client.astream_complete(_shapes.completion_request(body))
    except GatewayError as error:
        return _error_response(error)

    async def events() -> AsyncIterator[bytes]:
        # The usage row is written before the stream's last event: a client that saw the
        # stream end can count on its row being there.
        entity, usage = None, None
        try:
            async for chunk in chunks:
                entity = routing_metadata(chunk).get("served_entity", entity)
                usage = chunk.usage or usage
                yield (
                    b"data: "
                    + json.dumps(_shapes.chunk_json(chunk, served.name)).encode()
                    + b"\n\n"
                )
        except ExternalModelError as exc:
            error, entity = from_model_error(exc), exc.served_entity or entity
            await gw.finish(call, error.status, entity, usage, error.error_type)
            # Headers are gone: the error travels as the stream's last event, with the
            # workspace's fields and the "error" object OpenAI-style clients raise on.
            event = {**error.body(), "error": {"message": error.message, "code": error.error_code}}
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
            return
        except BaseException:
            await gw.finish(call, 499, entity, usage, "client_disconnected")
            raise
        await gw.finish(call, 200, entity, usage, None)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _routes(gw: Gateway) -> list[Route]:
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
            return _error_response(error)
        return JSONResponse({"endpoints": [s.describe() for s in gw.endpoints.all()]})

    async def get_endpoint(request: Request) -> Response:
        try:
            gw.principal(request)
            return JSONResponse(gw.endpoints.get(request.path_params["name"]).describe())
        except GatewayError as error:
            return _error_response(error)

    return [
        Route("/serving-endpoints/chat/completions", openai_route(CHAT), methods=["POST"]),
        Route("/serving-endpoints/completions", openai_route(COMPLETIONS), methods=["POST"]),
        Route("/serving-endpoints/embeddings", openai_route(EMBEDDINGS), methods=["POST"]),
        Route("/serving-endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/api/2.0/serving-endpoints", list_endpoints, methods=["GET"]),
        Route("/api/2.0/serving-endpoints/{name}", get_endpoint, methods=["GET"]),
    ]


def create_app(settings: Settings) -> Starlette:
    """The gateway app for ``settings`` (configs are validated here, before serving)."""
    gw = Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await gw.aclose()

    app = Starlette(routes=_routes(gw), lifespan=lifespan)
    app.state.gateway = gw
    return app
