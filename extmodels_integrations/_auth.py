"""Request authentication: static headers, and Microsoft Entra ID client-credentials tokens
that are cached and refreshed before they expire (long batch jobs outlive a one-hour token)."""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlencode

from pydantic import SecretStr

from extmodels_integrations._exceptions import APIError, AuthenticationError, MalformedResponseError
from extmodels_integrations._transport import Transport
from extmodels_integrations._wire import HttpRequest

if TYPE_CHECKING:
    import asyncio

__all__ = ["Auth", "CachedTokenAuth", "EntraTokenAuth", "StaticAuth"]

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# Refresh this long before expiry so a request never leaves with a token about to lapse.
_REFRESH_MARGIN = 300.0


class Auth(Protocol):
    """Produces the auth headers of one request.

    ``request`` is the request about to be sent, final but for these headers: signing schemes
    (AWS SigV4) hash its method, URL, headers and body.
    """

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]: ...

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]: ...

    def secret_values(self) -> tuple[str, ...]:
        """The credential values in play, so errors can mask them if a provider echoes one."""
        ...


@runtime_checkable
class RenewableAuth(Auth, Protocol):
    """An auth whose cached credentials can be dropped when a server refuses them."""

    def forget(self, authorization: str) -> bool:
        """Drop the credentials ``authorization`` (a refused request's header) carried, if
        they are still the current ones, so the next headers bring new ones; False when
        these credentials cannot be renewed (sending again would be refused again)."""
        ...


class StaticAuth:
    """Fixed headers built from secrets; the values are unwrapped only when a request is sent."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Mapping[str, tuple[str, SecretStr]]) -> None:
        # header name -> (prefix, secret), e.g. {"Authorization": ("Bearer ", key)}
        self._secrets = dict(secrets)

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        return {
            name: prefix + secret.get_secret_value()
            for name, (prefix, secret) in self._secrets.items()
        }

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        return self.headers(transport, request)

    def secret_values(self) -> tuple[str, ...]:
        return tuple(secret.get_secret_value() for _, secret in self._secrets.values())

    def __repr__(self) -> str:
        return f"StaticAuth(headers={sorted(self._secrets)})"


class CachedTokenAuth:
    """Bearer tokens fetched through the transport, cached, and refreshed five minutes before
    they expire; one fetch at a time per process (thread lock) and per event loop (asyncio
    lock). Subclasses say how to ask (:meth:`token_request`), how to read the answer
    (:meth:`read_token`) and what a failed exchange means (:meth:`token_error`)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        # None: time.monotonic, looked up at each use.
        self._clock = clock
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        # Guards only the token's swaps (never held over a fetch, so the event loop may take
        # it while a thread is fetching).
        self._state_lock = threading.Lock()
        # asyncio locks belong to one event loop; keep one per loop.
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def token_request(self) -> HttpRequest:
        """The token exchange request."""
        raise NotImplementedError

    def read_token(self, data: Any) -> tuple[SecretStr, float]:
        """The token and its lifetime in seconds from the exchange's JSON answer."""
        raise NotImplementedError

    def token_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        """The typed error for a failed exchange."""
        raise NotImplementedError

    def _fresh(self) -> SecretStr | None:
        token, expires_at = self._token, self._expires_at
        if token is not None and self._now() < expires_at - _REFRESH_MARGIN:
            return token
        return None

    def _now(self) -> float:
        return self._clock() if self._clock is not None else time.monotonic()

    def _store(self, answer: Any) -> SecretStr:
        # Rebound: this frame and read_token's then hold the answer, token and all, in a dict
        # whose repr leaves the values out (tracebacks with locals print both frames).
        if isinstance(answer, dict):
            answer = _TokenAnswer(answer)
        token, lifetime = self.read_token(answer)
        with self._state_lock:
            self._token, self._expires_at = token, self._now() + lifetime
        return token

    def forget(self, authorization: str) -> bool:
        """Drop the cached token if ``authorization`` (a request's header) carried it: the
        server refused it before it expired. A token fetched since is kept, so many requests
        the old token failed lead to one fetch."""
        with self._state_lock:
            token = self._token
            if token is not None and authorization == "Bearer " + token.get_secret_value():
                self._token, self._expires_at = None, 0.0
        return True

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        token = self._fresh()
        if token is None:
            with self._lock:
                token = self._fresh()
                if token is None:
                    # No named local for the answer: it holds the token in plain text.
                    token = self._store(
                        transport.send_json(self.token_request(), self.token_error)[0]
                    )
        return {"Authorization": "Bearer " + token.get_secret_value()}

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        token = self._fresh()
        if token is None:
            import asyncio  # here: async code runs only once asyncio is loaded

            lock = self._async_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
            async with lock:
                token = self._fresh()
                if token is None:
                    token = self._store(
                        (await transport.asend_json(self.token_request(), self.token_error))[0]
                    )
        return {"Authorization": "Bearer " + token.get_secret_value()}


class _TokenAnswer(dict[str, Any]):
    """A token exchange's JSON answer, which holds the access token: its repr names only
    the keys."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<token answer with keys {sorted(self)}>"


class EntraTokenAuth(CachedTokenAuth):
    """OAuth2 client credentials against Microsoft Entra ID, for ``openai_api_type=azuread``."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str = COGNITIVE_SERVICES_SCOPE,
        authority: str = ENTRA_AUTHORITY,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.authority = authority.rstrip("/")
        super().__init__()

    def __repr__(self) -> str:
        return f"EntraTokenAuth(tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"

    def secret_values(self) -> tuple[str, ...]:
        token = (self._token.get_secret_value(),) if self._token is not None else ()
        return (self._client_secret.get_secret_value(), *token)

    def token_request(self) -> HttpRequest:
        """The token request (form-encoded, as the v2.0 endpoint requires)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "scope": self.scope,
        }
        return HttpRequest(
            url=f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=_form(form),
        )

    def read_token(self, data: Any) -> tuple[SecretStr, float]:
        try:
            return SecretStr(str(data["access_token"])), float(data.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError):
            raise MalformedResponseError(
                "Entra ID token response has no access_token", provider="openai"
            ) from None

    def token_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return _map_token_error(status, headers, body)


def _form(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode()


def _map_token_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    # AAD answers {"error": "invalid_client", "error_description": "AADSTS...: ..."}; neither
    # field echoes the secret.
    try:
        data = json.loads(body)
        code, message = data.get("error"), data.get("error_description") or data.get("error")
    except (ValueError, AttributeError):
        code, message = None, body[:300].decode("utf-8", "replace")
    cls = AuthenticationError if status in (400, 401, 403) else APIError
    error = cls(
        f"Microsoft Entra ID token request failed: {message}",
        provider="openai",
        status_code=status,
        code=code,
        request_id=headers.get("x-ms-request-id"),
    )
    error.retryable = status == 429 or status >= 500
    return error
