"""The token-based workspace sign-ins: OAuth machine-to-machine for service principals
(built here, no SDK) and the adapter that hands every other method to ``databricks-sdk``."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from extmodels_integrations._auth import CachedTokenAuth
from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
)
from extmodels_integrations._transport import Transport
from extmodels_integrations._wire import HttpRequest

if TYPE_CHECKING:
    from databricks.sdk.core import Config

__all__ = ["SdkAuth", "WorkspaceOAuth", "sdk_sign_in"]

#: The scope the Databricks SDKs ask a service principal's token for.
SCOPE = "all-apis"


class WorkspaceOAuth(CachedTokenAuth):
    """OAuth client credentials against the workspace, as ``databricks-sdk`` does it: the
    token endpoint from ``{host}/oidc/.well-known/oauth-authorization-server`` (read once),
    then ``POST`` ``grant_type=client_credentials&scope=all-apis`` with HTTP Basic
    ``client_id:client_secret``. Tokens are cached and refreshed before they expire."""

    def __init__(self, *, host: str, client_id: str, client_secret: SecretStr) -> None:
        self.host = host
        self.client_id = client_id
        self._client_secret = client_secret
        self._token_url: str | None = None
        self._discovery_lock = threading.Lock()
        super().__init__()

    def __repr__(self) -> str:
        return f"WorkspaceOAuth(host={self.host!r}, client_id={self.client_id!r})"

    def secret_values(self) -> tuple[str, ...]:
        token = (self._token.get_secret_value(),) if self._token is not None else ()
        return (self._client_secret.get_secret_value(), *token)

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        if self._token_url is None:
            with self._discovery_lock:
                if self._token_url is None:
                    answer = transport.send_json(self._discovery(), self._discovery_error)[0]
                    self._token_url = self._endpoint_from(answer)
        return super().headers(transport, request)

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        if self._token_url is None:
            # Two tasks may both read the document: it is public, and the answer is the same.
            answer = (await transport.asend_json(self._discovery(), self._discovery_error))[0]
            self._token_url = self._endpoint_from(answer)
        return await super().aheaders(transport, request)

    def _discovery(self) -> HttpRequest:
        return HttpRequest(
            url=f"{self.host}/oidc/.well-known/oauth-authorization-server", method="GET"
        )

    def _endpoint_from(self, answer: Any) -> str:
        endpoint = answer.get("token_endpoint") if isinstance(answer, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            raise MalformedResponseError(
                f"{self.host}/oidc/.well-known/oauth-authorization-server has no "
                "token_endpoint: is host a Databricks workspace URL?",
                provider="databricks",
            )
        return endpoint

    def _discovery_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        error = APIError(
            f"the workspace's OAuth discovery document could not be read (HTTP {status}): is "
            f"host={self.host!r} a Databricks workspace URL with OAuth enabled?",
            provider="databricks",
            status_code=status,
        )
        error.retryable = status == 429 or status >= 500
        return error

    def token_request(self) -> HttpRequest:
        """The client-credentials request (form-encoded, HTTP Basic client authentication)."""
        assert self._token_url is not None
        pair = f"{self.client_id}:{self._client_secret.get_secret_value()}"
        return HttpRequest(
            url=self._token_url,
            headers={
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            content=b"grant_type=client_credentials&scope=" + SCOPE.encode(),
        )

    def read_token(self, data: Any) -> tuple[SecretStr, float]:
        try:
            return SecretStr(str(data["access_token"])), float(data.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError):
            raise MalformedResponseError(
                "the workspace OAuth token response has no access_token", provider="databricks"
            ) from None

    def token_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        # {"error": "invalid_client", "error_description": "..."}: neither echoes the secret.
        try:
            data = json.loads(body)
            code = data.get("error") or data.get("errorCode")
            message = data.get("error_description") or data.get("errorSummary") or code
        except (ValueError, AttributeError):
            code, message = None, f"HTTP {status}"
        cls = AuthenticationError if status in (400, 401, 403) else APIError
        error = cls(
            f"OAuth sign-in of service principal client_id={self.client_id!r} failed: "
            f"{message}; check client_id and client_secret (DATABRICKS_CLIENT_ID / "
            "DATABRICKS_CLIENT_SECRET) and that the service principal belongs to the workspace",
            provider="databricks",
            status_code=status,
            code=code,
        )
        error.retryable = status == 429 or status >= 500
        error.scrub(self.secret_values())
        return error


class SdkAuth:
    """Auth through a ``databricks-sdk`` ``Config``: its headers are asked for at every
    request, so the SDK refreshes whatever it signed in with."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._last: tuple[str, ...] = ()
        self._renewing = threading.Lock()

    def __repr__(self) -> str:
        return f"SdkAuth(auth_type={self._config.auth_type!r})"

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        try:
            headers = dict(self._config.authenticate())
        except Exception as exc:  # the SDK raises ValueError, requests errors, ...
            raise ConfigurationError(
                f"databricks-sdk sign-in ({self._config.auth_type}) failed to produce "
                f"credentials: {_scrubbed(str(exc), self._last)}"
            ) from None
        self._last = tuple(v.split(" ", 1)[-1] for v in headers.values())
        return headers

    def forget(self, authorization: str) -> bool:
        """Have the SDK sign in anew when the server refused the credentials it last gave
        (``authorization``): its token caches keep a token until their own expiry, however
        early a workspace revoked it. A PAT or a password is static: nothing to renew."""
        if self._config.auth_type in ("pat", "basic"):
            return False
        with self._renewing:  # many refusals of one token lead to one new sign-in
            if not self._last or authorization.split(" ", 1)[-1] not in self._last:
                return True  # renewed already by another refused request
            try:
                # Public, but untyped in the SDK: it rebuilds the header factory, cache empty.
                renew: Any = self._config.init_auth
                renew()
            except Exception as exc:  # the SDK raises ValueError, requests errors, ...
                raise ConfigurationError(
                    f"databricks-sdk sign-in ({self._config.auth_type}) failed to renew "
                    f"refused credentials: {_scrubbed(str(exc), self._last)}"
                ) from None
            self._last = ()
        return True

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        import asyncio  # here: async code runs only once asyncio is loaded

        # The SDK refreshes with blocking requests calls: keep them off the event loop.
        return await asyncio.to_thread(self.headers, transport, request)

    def secret_values(self) -> tuple[str, ...]:
        secrets = [self._config.token, self._config.client_secret, self._config.password]
        return (*self._last, *(s for s in secrets if s))


def sdk_sign_in(arguments: Mapping[str, str | None], timeout: float) -> tuple[str, SdkAuth, str]:
    """Sign in with ``databricks.sdk.core.Config(**arguments)``: the host, the auth and the
    SDK's chosen auth type. The SDK's network probes get ``timeout`` seconds in all."""
    from databricks.sdk.core import Config

    kwargs: dict[str, Any] = {k: v for k, v in arguments.items() if v}
    try:
        # Without these the SDK retries an unreachable host's metadata for five minutes.
        config = Config(
            **kwargs, http_timeout_seconds=timeout, retry_timeout_seconds=max(1, int(timeout))
        )
    except Exception as exc:  # ValueError for a bad config; requests errors for the network
        secrets = tuple(v for k, v in kwargs.items() if k in ("token", "client_secret") and v)
        raise ConfigurationError(
            f"databricks-sdk tried {kwargs.get('auth_type') or 'its default chain'} and failed: "
            f"{_scrubbed(str(exc), secrets)}"
        ) from None
    if not config.host:
        raise ConfigurationError(
            f"host: databricks-sdk signed in ({config.auth_type}) but found no workspace host: "
            "pass host= or set DATABRICKS_HOST"
        )
    return str(config.host), SdkAuth(config), str(config.auth_type)


def _scrubbed(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
