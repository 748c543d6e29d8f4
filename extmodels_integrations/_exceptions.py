"""One typed exception tree for every provider, task and framework.

Every error carries what a user needs to act on it (provider, HTTP status, the provider's own
message, request id) and never a secret: messages are built only from provider responses and
from field names, and the raw body is redacted before it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._warn import warn_user

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "EmptyStreamError",
    "EndpointAlreadyExistsError",
    "EndpointNotFoundError",
    "EndpointStateError",
    "EndpointWaitTimeoutError",
    "ExternalModelError",
    "MalformedResponseError",
    "NotDeployableWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UnsupportedParameterError",
]

# Strings that look like credentials are masked wherever provider text ends up in an error:
# some providers echo a malformed key back in their message.
_SECRET_PATTERN = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|dapi[0-9a-f]{8,}|AKIA[0-9A-Z]{12,}|Bearer\s+[A-Za-z0-9._\-]{8,}|"
    r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)"
)


def redact(text: str) -> str:
    """Mask anything in ``text`` that looks like a key or a token."""
    return _SECRET_PATTERN.sub("***", text)


class ExternalModelError(Exception):
    """Base class of every error this package raises.

    ``url`` is where the failed request went (no query string, no credentials) and
    ``served_entity`` which served entity of an endpoint config answered, when known: with two
    entities on one provider, the message alone would not say which one is down.
    """

    retryable: bool = False
    url: str | None = None
    served_entity: str | None = None

    def locate(self, *, url: str | None = None, served_entity: str | None = None) -> None:
        """Record where the error happened, in the attributes and in the message."""
        bare = self.__dict__.setdefault("_bare", str(self.args[0]) if self.args else "")
        self.url = url or self.url
        self.served_entity = served_entity or self.served_entity
        where = [f"served entity '{self.served_entity}'"] if self.served_entity else []
        where += [self.url] if self.url and self.url not in bare else []
        self.args = (f"{bare} [{', '.join(where)}]" if where else bare,)


class ConfigurationError(ExternalModelError, ValueError):
    """A target, config or argument is invalid; the message names the field and the fix."""


class UnsupportedParameterError(ConfigurationError):
    """A request parameter the target's provider cannot take; raised before anything is sent
    rather than dropping the parameter silently."""

    def __init__(self, provider: str, parameter: str, fix: str = "") -> None:
        message = f"provider '{provider}' does not accept the parameter '{parameter}'"
        super().__init__(f"{message}; {fix}" if fix else message)
        self.provider = provider
        self.parameter = parameter

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unsupported, (self.provider, self.parameter, str(self)))


def _rebuild_unsupported(provider: str, parameter: str, message: str) -> UnsupportedParameterError:
    error = UnsupportedParameterError(provider, parameter)
    error.args = (message,)
    return error


class MalformedResponseError(ExternalModelError):
    """A response or stream is not what the provider's wire format promises: malformed JSON, a
    body of an unexpected shape, a stream cut short (formerly ``StreamError``)."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class EmptyStreamError(MalformedResponseError):
    """The server answered a stream request with HTTP 200 and closed it without any event
    (llama.cpp's server does so for a request it cannot stream, e.g. with tools)."""


class APIConnectionError(ExternalModelError):
    """The provider could not be reached (DNS, refused, reset); formerly ``ConnectionError``,
    which shadowed the built-in."""

    retryable = True

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class APITimeoutError(ExternalModelError):
    """Connecting, reading, or waiting for the next stream chunk took too long; formerly
    ``TimeoutError``, which shadowed the built-in."""

    retryable = True

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class APIError(ExternalModelError):
    """The provider answered with an error status or an error event."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider_message = redact(message)
        self.provider = provider
        self.status_code = status_code
        self.request_id = redact(request_id) if request_id is not None else None
        self.code = redact(code) if code is not None else None
        self.body = redact(body) if body is not None else None
        self.retry_after = retry_after
        super().__init__(self._format())

    def hint(self, text: str) -> None:
        """Append what to try to the message (``text`` is ours: it is not redacted)."""
        self.provider_message = f"{self.provider_message}; {text}"
        self.args = (self._format(),)

    def locate(self, *, url: str | None = None, served_entity: str | None = None) -> None:
        """Record where the error happened, in the attributes and in the message."""
        self.url = url or self.url
        self.served_entity = served_entity or self.served_entity
        self.args = (self._format(),)

    def _format(self) -> str:
        parts = [f"{type(self).__name__}"]
        where = ", ".join(
            p
            for p in (
                f"provider={self.provider}" if self.provider else "",
                f"served_entity={self.served_entity}" if self.served_entity else "",
                f"status={self.status_code}" if self.status_code is not None else "",
                f"code={self.code}" if self.code else "",
                f"request_id={self.request_id}" if self.request_id else "",
                f"url={self.url}" if self.url else "",
            )
            if p
        )
        if where:
            parts.append(f"({where})")
        return " ".join(parts) + f": {self.provider_message}"

    def scrub(self, secrets: Iterable[str]) -> None:
        """Mask the exact credential values this request carried, whatever their shape, in
        case the provider echoed one back."""
        # Every field that holds provider text: a proxy may echo request headers anywhere,
        # the request-id header included.
        for secret in secrets:
            if len(secret) >= 4:
                self.provider_message = self.provider_message.replace(secret, "***")
                self.body = _masked(self.body, secret)
                self.request_id = _masked(self.request_id, secret)
                self.code = _masked(self.code, secret)
        self.args = (self._format(),)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructors do not pickle by default; errors cross process
        # boundaries in batch jobs, so keep them picklable, instance attributes included.
        return (
            _rebuild,
            (
                type(self),
                self.provider_message,
                {
                    "provider": self.provider,
                    "status_code": self.status_code,
                    "request_id": self.request_id,
                    "code": self.code,
                    "body": self.body,
                    "retry_after": self.retry_after,
                },
                {"url": self.url, "served_entity": self.served_entity},
            ),
            self.__dict__,
        )


def _masked(text: str | None, secret: str) -> str | None:
    return text.replace(secret, "***") if text is not None else None


def _rebuild(
    cls: type[APIError],
    message: str,
    kwargs: dict[str, object],
    where: dict[str, str | None] | None = None,
) -> APIError:
    error = cls(message, **kwargs)  # type: ignore[arg-type]
    if where and any(where.values()):
        error.locate(**where)
    return error


class BadRequestError(APIError):
    """The provider rejected the request as invalid (400, 422)."""


class ContextWindowExceededError(BadRequestError):
    """The input is longer than the model's context window."""


class ContentFilterError(BadRequestError):
    """The provider's content filter blocked the prompt or the answer."""


class AuthenticationError(APIError):
    """The key or token was refused (401)."""


class PermissionDeniedError(APIError):
    """The credentials lack permission for this model or action (403)."""


class NotFoundError(APIError):
    """The model, deployment or endpoint does not exist (404)."""


class EndpointNotFoundError(NotFoundError):
    """The workspace has no serving endpoint of that name (``RESOURCE_DOES_NOT_EXIST``)."""


class ConflictError(APIError):
    """The request conflicts with what exists (409, or a workspace's ``RESOURCE_CONFLICT``)."""


class EndpointAlreadyExistsError(ConflictError):
    """A serving endpoint of that name exists already (``RESOURCE_ALREADY_EXISTS``): update it
    (``apply`` does), or pick another name."""


class RateLimitError(APIError):
    """Too many requests or tokens (429, or a client-side limit)."""

    retryable = True


class ServerError(APIError):
    """The provider failed (5xx, 529 overloaded, or an error event mid-stream)."""

    retryable = True


class EndpointStateError(ExternalModelError):
    """A serving endpoint did not reach the ready state: its config update failed or was
    cancelled. ``state`` is the endpoint's ``state`` block as the workspace returned it."""

    def __init__(self, message: str, *, name: str, state: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.state = dict(state or {})

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_state, (type(self), str(self), self.name, self.state))


def _rebuild_state(
    cls: type[EndpointStateError], message: str, name: str, state: dict[str, str]
) -> EndpointStateError:
    return cls(message, name=name, state=state)


class EndpointWaitTimeoutError(EndpointStateError, APITimeoutError):
    """Waiting for a serving endpoint to become ready took longer than the timeout; the
    endpoint keeps updating on the workspace (wait again, or raise the timeout)."""

    # Sending again would not help: the wait itself is what ran out.
    retryable = False


class NotDeployableWarning(UserWarning):
    """A config holds fields that work here but that the Databricks serving API does not have
    (``anthropic_api_base``, ``aws_session_token``...): creating the endpoint from it would be
    refused. Validate with ``strict=True`` to make this a :class:`ConfigurationError`."""


#: Names of the 0.1 release, kept for one release: the first two shadowed Python's built-ins
#: (``except TimeoutError`` caught ours or the built-in depending on an import), the third
#: named streams though plain responses raise it too.
RENAMED = {
    "ConnectionError": "APIConnectionError",
    "TimeoutError": "APITimeoutError",
    "StreamError": "MalformedResponseError",
}


def renamed(module: str, name: str, namespace: dict[str, object]) -> object:
    """The class an old name stands for, with a :class:`DeprecationWarning` naming the new
    one; ``AttributeError`` for any other missing name (a module ``__getattr__`` helper)."""
    new = RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warn_user(
        f"{module}.{name} is renamed {new}; the old name goes in the next release",
        DeprecationWarning,
    )
    # Cached so one import warns once (``from m import X`` looks the name up twice).
    namespace[name] = namespace[new]
    return namespace[new]


def __getattr__(name: str) -> object:
    return renamed(__name__, name, globals())
