"""Sending a request with its auth headers, and once more with a new token when the server
refused a cached one that had not expired by our clock (revoked, or rotated by an admin).

Only auths that cache what they sign with are asked again (``RenewableAuth``: workspace OAuth,
Entra ID, databricks-sdk sign-ins other than a PAT): a static token refused once is refused
again. Streams are sent again only when
the refusal came before anything was yielded, which is where a server refuses credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from extmodels_integrations._auth import Auth, RenewableAuth
from extmodels_integrations._exceptions import APIError
from extmodels_integrations._transport import Transport
from extmodels_integrations._wire import ErrorMapper, HttpRequest, StreamDecoder

__all__ = ["asend", "astream", "renew_after", "send", "stream"]

E = TypeVar("E")
# What Databricks REST APIs answer (HTTP 403) for a token they no longer accept; serving
# endpoints answer 401.
_INVALID_TOKEN = "invalid access token"


def renew_after(auth: Auth, error: APIError, request: HttpRequest) -> bool:
    """Whether to send ``request`` once more after ``error``: when ``auth`` caches tokens and
    the server refused the one ``request`` carried, that token is dropped, so the next
    headers are built with a new one (fetched once for all the requests it refused)."""
    if not isinstance(auth, RenewableAuth) or not _refused_credentials(error):
        return False
    return auth.forget(request.headers.get("Authorization", ""))


def _refused_credentials(error: APIError) -> bool:
    if error.status_code == 401:
        return True
    return error.status_code == 403 and _INVALID_TOKEN in error.provider_message.lower()


def send(
    transport: Transport, auth: Auth, request: HttpRequest, map_error: ErrorMapper
) -> tuple[Any, Any]:
    """``transport.send_json`` with ``auth``'s headers; once more after a refused token."""
    request.headers.update(auth.headers(transport, request))
    try:
        return transport.send_json(request, map_error)
    except APIError as error:
        if not renew_after(auth, error, request):
            raise
    request.headers.update(auth.headers(transport, request))
    return transport.send_json(request, map_error)


async def asend(
    transport: Transport, auth: Auth, request: HttpRequest, map_error: ErrorMapper
) -> tuple[Any, Any]:
    """Async twin of :func:`send`."""
    request.headers.update(await auth.aheaders(transport, request))
    try:
        return await transport.asend_json(request, map_error)
    except APIError as error:
        if not renew_after(auth, error, request):
            raise
    request.headers.update(await auth.aheaders(transport, request))
    return await transport.asend_json(request, map_error)


def stream(
    transport: Transport,
    auth: Auth,
    request: HttpRequest,
    map_error: ErrorMapper,
    decoder: Callable[[], StreamDecoder[E]],
) -> Iterator[list[E]]:
    """``transport.stream`` with ``auth``'s headers; once more after a token refused before
    the first event."""
    request.headers.update(auth.headers(transport, request))
    started = False
    try:
        for events in transport.stream(request, map_error, decoder):
            started = True
            yield events
        return
    except APIError as error:
        if started or not renew_after(auth, error, request):
            raise
    request.headers.update(auth.headers(transport, request))
    yield from transport.stream(request, map_error, decoder)


async def astream(
    transport: Transport,
    auth: Auth,
    request: HttpRequest,
    map_error: ErrorMapper,
    decoder: Callable[[], StreamDecoder[E]],
) -> AsyncIterator[list[E]]:
    """Async twin of :func:`stream`."""
    request.headers.update(await auth.aheaders(transport, request))
    started = False
    try:
        async for events in transport.astream(request, map_error, decoder):
            started = True
            yield events
        return
    except APIError as error:
        if started or not renew_after(auth, error, request):
            raise
    request.headers.update(await auth.aheaders(transport, request))
    async for events in transport.astream(request, map_error, decoder):
        yield events
