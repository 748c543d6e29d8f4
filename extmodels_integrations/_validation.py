"""Pydantic validation errors as one message that names each field and its fix: shared by
the ``external_model`` block and the endpoint config.

Built only from error locations, pydantic's messages (which do not quote input) and our own
texts; input values, secrets included, never appear.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["message", "problems"]

#: The error type our own validators raise with a list of ``(field, message)`` issues.
ISSUES_KIND = "extmodels_config"


def problems(
    error: ValidationError, *, where: str, root: type[BaseModel], hints: Mapping[str, str]
) -> list[str]:
    """One line per problem: the field's path from ``where``, what is wrong and the fix
    (``hints`` says how to fill each required field)."""
    lines: list[str] = []
    for err in error.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == ISSUES_KIND:
            lines += [f"{_path(where, (*loc, f))}: {m}" for f, m in err["ctx"]["issues"]]
            continue
        if kind == "missing":
            text = f"required: {hints.get(str(loc[-1]), 'add it')}"
        elif kind == "extra_forbidden":
            text = _unknown(_model_at(root, loc[:-1]), str(loc[-1]))
        else:
            text = err["msg"]
        lines.append(f"{_path(where, loc)}: {text}")
    return lines


def message(where: str, lines: list[str]) -> str:
    """The error message for ``lines``: inline for one problem, a list for several."""
    if len(lines) == 1:
        return f"Invalid {where}: {lines[0]}"
    return f"Invalid {where} ({len(lines)} problems):\n" + "\n".join(f"  - {ln}" for ln in lines)


def _unknown(parent: type[BaseModel] | None, name: str) -> str:
    known = list(parent.model_fields) if parent else []
    close = difflib.get_close_matches(name, known, n=1)
    text = "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
    return text + (f"; known fields: {', '.join(known)}" if known else "")


def _path(where: str, loc: tuple[int | str, ...]) -> str:
    return where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class the path ``loc`` leads to from ``root`` (list indexes skipped)."""
    model: type[BaseModel] = root
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        found = _submodel(info.annotation) if info is not None else None
        if found is None:
            return None
        model = found
    return model


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _submodel(arg)
        if found is not None:
            return found
    return None
