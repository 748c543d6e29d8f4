"""Streamed invocations (SSE): passed through chunk by chunk, or buffered when the endpoint has
output guardrails.

Either way the request's usage / inference rows are written before the stream's last event goes
out (or when the client goes away), so a client that saw the end can count on its rows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from extmodels_integrations._exceptions import ExternalModelError
from extmodels_integrations._routing import routing_metadata
from extmodels_integrations._types import CHAT, Usage
from extmodels_integrations.gateway import _shapes
from extmodels_integrations.gateway._errors import GatewayError, from_model_error
from extmodels_integrations.gateway._governance import assemble, guard_chunks

if TYPE_CHECKING:
    from extmodels_integrations.gateway._app import Call, Gateway

__all__ = ["error_response", "stream"]

_DONE = b"data: [DONE]\n\n"


def error_response(error: GatewayError) -> JSONResponse:
    """The workspace's error answer."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _error_event(error: GatewayError) -> bytes:
    # Headers are gone: the error travels as the stream's last event, with the workspace's
    # fields and the "error" object OpenAI-style clients raise on.
    return _event({**error.body(), "error": {"message": error.message, "code": error.error_code}})


def _chunks(call: Call, body: dict[str, Any]) -> AsyncIterator[Any]:
    served = call.served
    if served.config.task == CHAT:
        return served.client.astream_chat(_shapes.chat_request(body))
    return served.client.astream_complete(_shapes.completion_request(body))


async def stream(gw: Gateway, call: Call, body: dict[str, Any]) -> Response:
    """The SSE answer to a ``stream: true`` chat or completions request."""
    try:
        chunks = _chunks(call, body)
    except GatewayError as error:
        await gw.finish(call, error.status, None, None, error.error_type, error.body())
        return error_response(error)
    if call.served.guardrails.output_enabled:
        return await _buffered(gw, call, chunks)
    return StreamingResponse(_live(gw, call, chunks), media_type="text/event-stream")


async def _live(gw: Gateway, call: Call, chunks: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    keep = call.served.inference_table  # the assembled answer is only needed for its row
    sent: list[dict[str, Any]] = []
    entity: str | None = None
    usage: Usage | None = None
    try:
        async for chunk in chunks:
            entity = routing_metadata(chunk).get("served_entity", entity)
            usage = chunk.usage or usage
            payload = _shapes.chunk_json(chunk, call.served.name)
            if keep:
                sent.append(payload)
            yield _event(payload)
    except ExternalModelError as exc:
        error, entity = from_model_error(exc), exc.served_entity or entity
        await gw.finish(call, error.status, entity, usage, error.error_type, error.body())
        yield _error_event(error)
        return
    except BaseException:
        await gw.finish(call, 499, entity, usage, "client_disconnected", assemble(sent))
        raise
    await gw.finish(call, 200, entity, usage, None, assemble(sent))
    yield _DONE


async def _buffered(gw: Gateway, call: Call, chunks: AsyncIterator[Any]) -> Response:
    # Output guardrails judge the whole answer, and a streamed token cannot be taken back once
    # the client has it: the provider's stream is read to the end first, checked (and masked),
    # and only then sent. Nothing has been sent yet, so a failure or a block still gets its
    # real status code instead of an error event after a 200.
    payloads: list[dict[str, Any]] = []
    entity: str | None = None
    usage: Usage | None = None
    try:
        async for chunk in chunks:
            entity = routing_metadata(chunk).get("served_entity", entity)
            usage = chunk.usage or usage
            payloads.append(_shapes.chunk_json(chunk, call.served.name))
    except ExternalModelError as exc:
        error, entity = from_model_error(exc), exc.served_entity or entity
        await gw.finish(call, error.status, entity, usage, error.error_type, error.body())
        return error_response(error)
    except BaseException:
        await gw.finish(call, 499, entity, usage, "client_disconnected", None)
        raise
    try:
        payloads = guard_chunks(call.served.guardrails, payloads)
    except GatewayError as refused:
        await gw.finish(call, refused.status, entity, usage, refused.error_type, refused.body())
        return error_response(refused)
    await gw.finish(call, 200, entity, usage, None, assemble(payloads))
    events = [_event(p) for p in payloads] + [_DONE]

    async def replay() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    return StreamingResponse(replay(), media_type="text/event-stream")
