"""Google service-account OAuth2 access tokens for Vertex AI, fetched through our Transport.

The token is obtained with the JWT-bearer grant (RFC 7523), the same exchange google-auth's
``service_account.Credentials.refresh`` makes: an RS256 JWT ``{iss: client_email, scope, aud,
iat, exp}`` signed with the service account's key is POSTed, form-encoded, to the key file's
``token_uri``. google-auth builds and signs the JWT (``google.auth.crypt.RSASigner`` and
``google.auth.jwt.encode``: no hand-rolled crypto); we POST it ourselves rather than adapt
google-auth's ``transport.Request`` protocol, because that protocol is sync-only and would
bypass the Transport's timeouts, retries, typed errors and test mocks. google-auth is the
optional ``vertex`` extra and is imported only when a Vertex target is built.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import SecretStr

from extmodels_integrations._auth import CachedTokenAuth
from extmodels_integrations._exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
)
from extmodels_integrations._wire import HttpRequest

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "ServiceAccountKey",
    "ServiceAccountTokenAuth",
    "map_token_error",
    "parse_service_account_key",
]

PROVIDER = "google-cloud-vertex-ai"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs assertions valid for one hour (service_account._DEFAULT_TOKEN_LIFETIME_SECS).
_ASSERTION_LIFETIME = 3600
_INSTALL_HINT = 'pip install "extmodels-integrations[vertex]"'
_FIELD = "google_cloud_vertex_ai_config.private_key"


@dataclass(frozen=True)
class ServiceAccountKey:
    """What the token exchange needs from a service-account JSON key; ``signer`` (a google-auth
    ``RSASigner``) and ``private_key`` (kept so errors can mask an echo of it) never appear in
    repr."""

    client_email: str
    token_uri: str
    signer: Any
    private_key: SecretStr

    def __repr__(self) -> str:
        return (
            f"ServiceAccountKey(client_email={self.client_email!r}, token_uri={self.token_uri!r})"
        )


def _google_auth() -> tuple[Any, Any]:
    try:
        from google.auth import crypt, jwt
    except ImportError:
        raise ConfigurationError(
            "provider 'google-cloud-vertex-ai' needs google-auth to sign service-account "
            f"tokens: {_INSTALL_HINT}"
        ) from None
    return crypt, jwt


def parse_service_account_key(secret: SecretStr) -> ServiceAccountKey:
    """Read the service-account JSON key the ``private_key`` secret holds.

    The Databricks docs call the field "the private key for the service account"; the token
    exchange also needs the account's ``client_email``, which a bare PEM key lacks, so the
    secret must be the JSON key file (``gcloud iam service-accounts keys create``). A bare PEM
    key is refused with that fix. Errors never quote the secret.
    """
    text = secret.get_secret_value().strip()
    if text.startswith("-----BEGIN"):
        raise ConfigurationError(
            f"{_FIELD} holds a bare PEM private key, but the token exchange also needs the "
            "service account's client_email: store the whole service-account JSON key file "
            "(as written by `gcloud iam service-accounts keys create`) in the secret instead"
        )
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise ConfigurationError(
            f"{_FIELD} is not a service-account JSON key: store the JSON key file of the "
            "service account (with client_email and private_key) in the secret"
        )
    missing = [k for k in ("client_email", "private_key") if not isinstance(info.get(k), str)]
    if missing:
        raise ConfigurationError(
            f"{_FIELD}: the service-account JSON key has no {' or '.join(missing)}: store the "
            "complete JSON key file of the service account"
        )
    token_uri = str(info.get("token_uri") or GOOGLE_TOKEN_URI)
    _check_token_uri(token_uri)
    crypt, _ = _google_auth()
    try:
        signer = crypt.RSASigner.from_service_account_info(info)
    except (ValueError, TypeError):
        # `from None`: the parser's exception context may hold the key bytes.
        raise ConfigurationError(
            f"{_FIELD}: the private_key in the service-account JSON key is not a valid "
            "PEM-encoded RSA key: download a fresh JSON key for the service account"
        ) from None
    return ServiceAccountKey(
        str(info["client_email"]), token_uri, signer, SecretStr(info["private_key"])
    )


def _check_token_uri(uri: str) -> None:
    # The assertion is a credential: send it in clear text only to this machine (tests).
    parts = urlsplit(uri)
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not local:
        raise ConfigurationError(
            f"{_FIELD}: the key's token_uri must be an https:// URL "
            "(normally https://oauth2.googleapis.com/token)"
        )


class ServiceAccountTokenAuth(CachedTokenAuth):
    """Bearer tokens for a service account (the JWT-bearer grant), cached and refreshed as
    :class:`~extmodels_integrations._auth.CachedTokenAuth` does.

    ``wall_clock`` dates the JWT (seconds since the epoch); ``clock`` times the cache. Both
    are injectable for tests.
    """

    def __init__(
        self,
        key: ServiceAccountKey,
        *,
        scope: str = CLOUD_PLATFORM_SCOPE,
        secret: SecretStr | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.scope = scope
        # The raw secret (JSON key text), kept only so errors can mask an echo of it.
        self._secret = secret
        self._wall_clock = wall_clock
        super().__init__(clock)

    def __repr__(self) -> str:
        return (
            f"ServiceAccountTokenAuth(client_email={self.key.client_email!r}, "
            f"token_uri={self.key.token_uri!r})"
        )

    def secret_values(self) -> tuple[str, ...]:
        pem = self.key.private_key.get_secret_value()
        # Also as it reads inside a JSON string, which is how an error body would echo it.
        values = [pem, json.dumps(pem)[1:-1]]
        if self._secret is not None:
            values.append(self._secret.get_secret_value())
        if self._token is not None:
            values.append(self._token.get_secret_value())
        return tuple(values)

    def token_request(self) -> HttpRequest:
        """The JWT-bearer grant request, with a freshly signed assertion."""
        _, jwt = _google_auth()
        now = int(self._wall_clock())
        claims = {
            "iss": self.key.client_email,
            "scope": self.scope,
            # google-auth always uses Google's token endpoint as the audience, whatever the
            # key's token_uri (service_account.Credentials._make_authorization_grant_assertion).
            "aud": GOOGLE_TOKEN_URI,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        assertion = jwt.encode(self.key.signer, claims)
        form = {"grant_type": _JWT_BEARER, "assertion": assertion.decode("ascii")}
        return HttpRequest(
            url=self.key.token_uri,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=urlencode(form).encode(),
        )

    def read_token(self, data: Any) -> tuple[SecretStr, float]:
        token = data.get("access_token") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(
                "Google token response has no access_token", provider=PROVIDER
            )
        try:
            lifetime = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return SecretStr(token), lifetime

    def token_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_token_error(status, headers, body)


def map_token_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a failed token exchange.

    Google answers ``{"error": "invalid_grant", "error_description": "Invalid JWT
    Signature."}``; neither field echoes the assertion.
    """
    code: str | None = None
    try:
        data = json.loads(body)
        code = data.get("error")
        message = data.get("error_description") or code
    except (ValueError, AttributeError):
        message = body[:300].decode("utf-8", "replace")
    cls = AuthenticationError if status in (400, 401, 403) else APIError
    error = cls(
        f"Google service-account token request failed: {message or f'HTTP {status}'}",
        provider=PROVIDER,
        status_code=status,
        code=str(code) if code is not None else None,
    )
    error.retryable = status in (408, 429) or status >= 500
    return error
