"""Our errors, re-raised as classes that are also the matching ``langchain_core.exceptions``
types, so code that catches either tree keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from extmodels_integrations import _exceptions as ours

__all__ = ["translated"]


class BadRequestError(ours.BadRequestError, ModelInvalidRequestError):
    """:class:`extmodels_integrations.BadRequestError` and ``ModelInvalidRequestError``."""


class ContextWindowExceededError(ours.ContextWindowExceededError, ContextOverflowError):
    """:class:`extmodels_integrations.ContextWindowExceededError` and ``ContextOverflowError``."""


class ContentFilterError(ours.ContentFilterError, ModelInvalidRequestError):
    """:class:`extmodels_integrations.ContentFilterError` and ``ModelInvalidRequestError``."""


class AuthenticationError(ours.AuthenticationError, ModelAuthenticationError):
    """:class:`extmodels_integrations.AuthenticationError` and ``ModelAuthenticationError``."""


class PermissionDeniedError(ours.PermissionDeniedError, ModelPermissionDeniedError):
    """:class:`extmodels_integrations.PermissionDeniedError` and ``ModelPermissionDeniedError``."""


class NotFoundError(ours.NotFoundError, ModelNotFoundError):
    """:class:`extmodels_integrations.NotFoundError` and ``ModelNotFoundError``."""


class RateLimitError(ours.RateLimitError, ModelRateLimitError):
    """:class:`extmodels_integrations.RateLimitError` and ``ModelRateLimitError``."""


class ServerError(ours.ServerError, ModelAPIError):
    """:class:`extmodels_integrations.ServerError` and ``ModelAPIError``."""


class APIError(ours.APIError, ModelAPIError):
    """:class:`extmodels_integrations.APIError` and ``ModelAPIError``."""


class APITimeoutError(ours.APITimeoutError, ModelTimeoutError):
    """:class:`extmodels_integrations.APITimeoutError` and ``ModelTimeoutError``."""


class APIConnectionError(ours.APIConnectionError, ModelConnectionError):
    """:class:`extmodels_integrations.APIConnectionError` and ``ModelConnectionError``."""


class MalformedResponseError(ours.MalformedResponseError, ModelAPIError):
    """:class:`extmodels_integrations.MalformedResponseError` and ``ModelAPIError``."""


_DUAL: dict[type[ours.ExternalModelError], type[ours.ExternalModelError]] = {
    cls.__mro__[1]: cls
    for cls in (
        BadRequestError,
        ContextWindowExceededError,
        ContentFilterError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        ServerError,
        APIError,
        APITimeoutError,
        APIConnectionError,
        MalformedResponseError,
    )
}


def as_langchain(error: ours.ExternalModelError) -> ours.ExternalModelError:
    """The same error as an instance of the class that is also a LangChain exception."""
    dual = _DUAL.get(type(error))
    if dual is None:
        return error
    twin = dual.__new__(dual)
    twin.__dict__.update(error.__dict__)
    twin.args = error.args
    twin.is_retryable = error.retryable  # type: ignore[attr-defined]
    return twin


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise our errors as their LangChain-typed twins, keeping message and traceback."""
    try:
        yield
    except ours.ExternalModelError as error:
        twin = as_langchain(error)
        if twin is error:
            raise
        raise twin.with_traceback(error.__traceback__) from error.__cause__
