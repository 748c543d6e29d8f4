"""Secret references (``{{secrets/<scope>/<key>}}``) and the chain that resolves them.

An ``external_model`` block names its credentials either as a Databricks secret reference in the
plain field (``"openai_api_key": "{{secrets/my_scope/openai}}"``) or as the value itself in the
``*_plaintext`` twin. This module parses references and turns them into ``SecretStr`` values
through :class:`SecretResolver`. It does no HTTP itself (only ``_transport.py`` imports httpx):
the client builds the workspace-API callable from :func:`workspace_secret_request` and
:func:`decode_workspace_secret` and injects it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from ._exceptions import ConfigurationError, ExternalModelError, MalformedResponseError

__all__ = [
    "ENV_VAR_PREFIX",
    "REFERENCE_FORMAT",
    "SecretLookup",
    "SecretReference",
    "SecretResolver",
    "decode_workspace_secret",
    "is_secret_reference",
    "secret_reference_problem",
    "workspace_secret_request",
]

REFERENCE_FORMAT = "{{secrets/<scope>/<key>}}"
"""The one accepted shape of a secret reference, as Databricks Model Serving documents it."""

ENV_VAR_PREFIX = "EXTMODELS_SECRET__"
"""Prefix of the environment variables that provide secret values locally."""

SecretLookup = Callable[[str, str], "str | None"]
"""``(scope, key) -> value``, or ``None`` when this source does not have the secret."""

# Databricks allows letters, digits, '-', '_', '.' (and '@' in scope names), at most 128 chars.
_NAME = r"[A-Za-z0-9_.@-]{1,128}"
_NAME_RE = re.compile(_NAME)
_REFERENCE_RE = re.compile(r"\{\{secrets/(" + _NAME + r")/(" + _NAME + r")\}\}")
_NOT_ENV_CHAR = re.compile(r"[^A-Z0-9]")


def secret_reference_problem(text: object) -> str | None:
    """Say what is wrong with ``text`` as a secret reference, or ``None`` if it is well formed.

    The description never quotes ``text``: a malformed reference is often a pasted key.
    """
    if not isinstance(text, str):
        return "is not a string"
    if _REFERENCE_RE.fullmatch(text):
        return None
    if not text.strip():
        return "is empty"
    if text != text.strip():
        return "has leading or trailing whitespace"
    if not (text.startswith("{{") and text.endswith("}}")):
        return "is not wrapped in double braces {{...}}"
    inner = text[2:-2]
    if inner != inner.strip():
        return "has spaces inside the braces"
    if not inner.startswith("secrets/"):
        return "does not start with 'secrets/' inside the braces"
    if len(inner.split("/")) != 3:
        return "does not name exactly one scope and one key"
    return "has a scope or key with characters other than letters, digits, '_', '-', '.', '@'"


def is_secret_reference(text: object) -> bool:
    """Whether ``text`` is a well-formed ``{{secrets/<scope>/<key>}}`` reference."""
    return isinstance(text, str) and _REFERENCE_RE.fullmatch(text) is not None


@dataclass(frozen=True)
class SecretReference:
    """A Databricks secret reference: a scope and a key. Not itself secret.

    ``str(ref)`` gives the canonical ``{{secrets/<scope>/<key>}}`` form.
    """

    scope: str
    key: str

    def __post_init__(self) -> None:
        for part, value in (("scope", self.scope), ("key", self.key)):
            if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
                raise ConfigurationError(
                    f"secret {part} must be 1-128 letters, digits, '_', '-', '.' or '@'"
                )

    @classmethod
    def parse(cls, text: str) -> SecretReference:
        """Parse ``{{secrets/<scope>/<key>}}``; raise ``ConfigurationError`` saying what's wrong."""
        match = _REFERENCE_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            problem = secret_reference_problem(text)
            raise ConfigurationError(
                f"not a valid secret reference: it {problem}; write it as {REFERENCE_FORMAT}"
            )
        return cls(match.group(1), match.group(2))

    @property
    def env_var(self) -> str:
        """The environment variable that provides this secret locally.

        ``EXTMODELS_SECRET__<SCOPE>__<KEY>``: scope and key upper-cased, every character other
        than A-Z and 0-9 replaced by ``_``. E.g. ``{{secrets/my-scope/openai.key}}`` ->
        ``EXTMODELS_SECRET__MY_SCOPE__OPENAI_KEY``.
        """
        scope = _NOT_ENV_CHAR.sub("_", self.scope.upper())
        key = _NOT_ENV_CHAR.sub("_", self.key.upper())
        return f"{ENV_VAR_PREFIX}{scope}__{key}"

    def __str__(self) -> str:
        return "{{secrets/" + self.scope + "/" + self.key + "}}"


class SecretResolver:
    """Resolves secret references to ``SecretStr`` values through a fixed chain.

    For a reference ``{{secrets/<scope>/<key>}}`` the sources are tried in this order; the first
    that returns a non-empty value wins:

    1. ``resolver(scope, key)``, a user-supplied callable (the ``secret_resolver=`` argument of
       the model classes), if given. Return ``None`` to fall through to the next source.
    2. The environment variable ``EXTMODELS_SECRET__<SCOPE>__<KEY>`` (scope and key upper-cased,
       every character other than A-Z/0-9 replaced by ``_``; see ``SecretReference.env_var``),
       read from ``environ`` (default: ``os.environ``, read at lookup time).
    3. The Databricks workspace secrets API (``GET {host}/api/2.0/secrets/get``), when the client
       can sign in to a workspace (host and token, service principal or profile) and passes
       ``workspace_fetch``.

    Resolved values are cached per reference for the life of the resolver (thread-safe);
    failures are not cached, so a secret provided later is picked up. When no source has the
    secret, ``ConfigurationError`` names the reference and every way to provide it, never a value.
    """

    def __init__(
        self,
        resolver: SecretLookup | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        workspace_fetch: SecretLookup | None = None,
    ) -> None:
        self._resolver = resolver
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._workspace_fetch = workspace_fetch
        self._cache: dict[SecretReference, SecretStr] = {}
        self._lock = threading.Lock()

    def resolve(self, reference: SecretReference | str) -> SecretStr:
        """Return the value of ``reference`` (a ``SecretReference`` or its string form)."""
        ref = SecretReference.parse(reference) if isinstance(reference, str) else reference
        with self._lock:
            cached = self._cache.get(ref)
        if cached is not None:
            return cached
        # Look up outside the lock: a workspace call may take a while and must not block
        # resolutions of other references. Two threads may fetch the same secret once each;
        # setdefault keeps the first so every caller sees one value.
        secret = SecretStr(self._lookup(ref))
        with self._lock:
            return self._cache.setdefault(ref, secret)

    def _lookup(self, ref: SecretReference) -> str:
        if self._resolver is not None:
            value = self._resolver(ref.scope, ref.key)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"secret_resolver returned {type(value).__name__} for {ref}; "
                    "it must return the secret as str, or None when it does not have it"
                )
            if value:
                return value
        value = self._environ.get(ref.env_var)
        if value:
            return value
        if self._workspace_fetch is not None:
            try:
                value = self._workspace_fetch(ref.scope, ref.key)
            except ExternalModelError as exc:
                raise ConfigurationError(
                    self._unresolved(ref, f"the workspace secrets API call failed: {exc}")
                ) from exc
            if value:
                return value
            raise ConfigurationError(
                self._unresolved(
                    ref, "the workspace secrets API has no such secret readable with this token"
                )
            )
        raise ConfigurationError(self._unresolved(ref, None))

    def _unresolved(self, ref: SecretReference, workspace_note: str | None) -> str:
        workspace = (
            f"the Databricks workspace secrets API was asked, but {workspace_note}"
            if workspace_note
            else "set DATABRICKS_HOST and DATABRICKS_TOKEN (or a service principal's "
            "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or a ~/.databrickscfg profile) "
            "so it is read from the Databricks workspace secrets API (the identity needs READ "
            "on the scope)"
        )
        resolver = (
            "the secret_resolver you passed returned nothing for it"
            if self._resolver is not None
            else "pass secret_resolver=<callable (scope, key) -> str | None>"
        )
        return (
            f"Secret reference {ref} could not be resolved. Provide it one of these ways: "
            f"(1) set the environment variable {ref.env_var} to the secret value; "
            f"(2) {workspace}; (3) {resolver}; "
            "or put the value in the matching *_plaintext field instead of the reference."
        )


def workspace_secret_request(host: str, scope: str, key: str) -> tuple[str, dict[str, str]]:
    """URL and query parameters of the Databricks call that reads one secret.

    ``GET {host}/api/2.0/secrets/get?scope=<scope>&key=<key>`` with ``Authorization: Bearer
    <token>``; the response is ``{"key": ..., "value": "<base64>"}`` (decode it with
    :func:`decode_workspace_secret`). A host without a scheme gets ``https://``, as the
    Databricks SDKs do with ``DATABRICKS_HOST``.
    """
    base = host.strip().rstrip("/")
    if not base:
        raise ConfigurationError("the Databricks workspace host is empty: set DATABRICKS_HOST")
    if "://" not in base:
        base = f"https://{base}"
    return f"{base}/api/2.0/secrets/get", {"scope": scope, "key": key}


def decode_workspace_secret(payload: Mapping[str, Any]) -> str:
    """The secret value from a ``/api/2.0/secrets/get`` response (base64 -> UTF-8 text).

    Raises ``MalformedResponseError`` (a decoding failure) without quoting the payload.
    """
    value = payload.get("value")
    if not isinstance(value, str):
        raise MalformedResponseError(
            "the Databricks secrets API response has no 'value' string", provider="databricks"
        )
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # `from None`: UnicodeDecodeError keeps the decoded bytes (the secret) on `.object`,
        # and a chained cause would carry them into tracebacks and error reporters.
        raise MalformedResponseError(
            "the Databricks secrets API returned a value that is not base64-encoded UTF-8 text",
            provider="databricks",
        ) from None
