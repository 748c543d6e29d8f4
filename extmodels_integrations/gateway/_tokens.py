"""Gateway tokens: who a bearer token is, from a file the operator writes.

The file (JSON or YAML) lists tokens by their SHA-256 (preferred: the file then holds nothing a
reader could replay) or, for quick local runs, in plaintext::

    tokens:
      - sha256: "<hex sha256 of the token>"   # printf %s "$TOKEN" | sha256sum
        user: alice@example.com
        groups: [data-science]
        endpoints: [demo-chat]    # optional: the endpoints it may query (default: all)
        can_manage: false         # optional: create / update / delete endpoints
      - token: "local-dev-token"  # plaintext: kept only as its hash once loaded
        user: bob

Lookups hash the presented token and look the hash up, so no token is ever compared or kept
in plaintext after loading.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from extmodels_integrations import _validation
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._files import read_config_file

__all__ = ["Principal", "TokenTable", "load_tokens", "token_digest"]

WHERE = "tokens"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """The user a gateway token maps to."""

    user: str
    groups: tuple[str, ...] = ()
    endpoints: frozenset[str] | None = None
    """The endpoints it may query; ``None``: every endpoint."""
    can_manage: bool = False

    def may_query(self, endpoint: str) -> bool:
        """Whether this principal may call ``endpoint``."""
        return self.endpoints is None or endpoint in self.endpoints


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    sha256: str | None = None
    token: str | None = None
    user: str
    groups: list[str] = []
    endpoints: list[str] | None = None
    can_manage: bool = False


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    tokens: list[_Entry]


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as the tokens file stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Token digests to principals."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._by_digest = dict(principals)

    def __len__(self) -> int:
        return len(self._by_digest)

    def __repr__(self) -> str:
        return f"TokenTable({len(self)} tokens)"

    def lookup(self, token: str) -> Principal | None:
        """The principal of ``token``, or ``None`` when the file does not list it."""
        return self._by_digest.get(token_digest(token))


def load_tokens(source: str | Path | Mapping[str, Any]) -> TokenTable:
    """Read and check a tokens file (or its parsed mapping); errors name the entry, never a
    token."""
    raw = read_config_file(Path(source), WHERE) if isinstance(source, (str, Path)) else source
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        lines = _validation.problems(exc, where=WHERE, root=_File, hints={})
        raise ConfigurationError(_validation.message(WHERE, lines)) from None
    table: dict[str, Principal] = {}
    problems: list[str] = []
    for i, entry in enumerate(parsed.tokens):
        digest = _digest_of(entry, f"{WHERE}.tokens[{i}]", problems)
        if digest is None:
            continue
        if digest in table:
            problems.append(f"{WHERE}.tokens[{i}]: the same token is listed twice: keep one")
        endpoints = frozenset(entry.endpoints) if entry.endpoints is not None else None
        table[digest] = Principal(entry.user, tuple(entry.groups), endpoints, entry.can_manage)
    if problems:
        raise ConfigurationError(_validation.message(WHERE, problems))
    return TokenTable(table)


def _digest_of(entry: _Entry, at: str, problems: list[str]) -> str | None:
    if (entry.sha256 is None) == (entry.token is None):
        problems.append(f"{at}: give exactly one of sha256 (preferred) or token")
        return None
    if entry.token is not None:
        return token_digest(entry.token)
    assert entry.sha256 is not None
    digest = entry.sha256.strip().lower()
    if not _HEX64.match(digest):
        problems.append(f"{at}.sha256: must be 64 hex digits (printf %s TOKEN | sha256sum)")
        return None
    return digest
