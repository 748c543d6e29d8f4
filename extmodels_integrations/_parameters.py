"""Constructor keywords of the framework classes: each one is a field, a request parameter of
the unified (OpenAI-style) schema, or an error. Pydantic, and LangChain's base classes with it,
would otherwise drop an unknown keyword without a word: ``top_p=0.5`` never reached the wire
and a typo (``temprature=``) passed for a setting."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import CHAT, COMPLETIONS, EMBEDDINGS, Task

__all__ = ["WIRE_PARAMETERS", "field_names", "sort_keywords"]

_SAMPLING = frozenset(
    {
        "top_p",
        "top_k",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "service_tier",
    }
)
#: Request parameters of each task that are not fields of the classes: given to a constructor,
#: they are sent with every request, as if given in ``extra_params`` (providers rename or
#: refuse them there, with the fix, as for ``extra_params``). ``parallel_tool_calls`` is not
#: one: it only means something with tools, so it is given to ``bind_tools`` / the tool calls.
WIRE_PARAMETERS: Mapping[Task, frozenset[str]] = MappingProxyType(
    {
        CHAT: _SAMPLING
        | {
            "response_format",
            "reasoning_effort",
            "max_completion_tokens",
            "verbosity",
        },
        COMPLETIONS: _SAMPLING | {"best_of", "echo", "suffix"},
        EMBEDDINGS: frozenset({"dimensions", "encoding_format", "user"}),
    }
)


def sort_keywords(
    data: dict[str, Any], accepted: Iterable[str], task: Task, owner: str
) -> dict[str, Any]:
    """``data`` with the request parameters among its unknown keys moved into
    ``extra_params``; any other unknown key raises :class:`ConfigurationError` naming it."""
    known = set(accepted)
    unknown = [k for k in data if k not in known]
    if not unknown:
        return data
    wire = WIRE_PARAMETERS[task]
    wrong = [k for k in unknown if k not in wire]
    if wrong:
        raise ConfigurationError(_unknown_message(wrong, known | wire, owner))
    # LlamaIndex's name for the field is accepted too: write back where the caller put it.
    field = "additional_kwargs" if "additional_kwargs" in data else "extra_params"
    extra = dict(data.get(field) or {})
    for key in unknown:
        if key in extra and extra[key] != data[key]:
            raise ConfigurationError(
                f"{owner}: {key} is given twice, as a keyword and in {field}, with different "
                "values: keep one"
            )
        extra[key] = data[key]
    return {**{k: v for k, v in data.items() if k not in unknown}, field: extra}


def _unknown_message(wrong: list[str], valid: set[str], owner: str) -> str:
    parts = []
    for key in wrong:
        close = difflib.get_close_matches(key, sorted(valid), n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"{owner} does not take {', '.join(parts)}: a provider-specific request field goes in "
        "extra_params={...}, which is sent as it is"
    )


def field_names(fields: Mapping[str, Any]) -> set[str]:
    """Every keyword pydantic accepts for ``fields``: names, aliases and validation aliases."""
    names = set(fields)
    for info in fields.values():
        if info.alias:
            names.add(info.alias)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        for choice in getattr(alias, "choices", ()):
            if isinstance(choice, str):
                names.add(choice)
    return names
