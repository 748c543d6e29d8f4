"""``ai_gateway.guardrails``: blocked keywords and PII (block or mask) on input and output.

``invalid_keywords`` match case-insensitively as whole words (or phrases). PII detection is the
rule-based one of :mod:`._pii` (its docstring lists the kinds detected and not). ``valid_topics``
and ``safety: true`` need a classifier model, which this gateway does not ship: they are refused
when the config is read, rather than silently not enforced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError

from ._pii import find_pii, mask_pii

__all__ = ["GuardrailResult", "Guardrails"]

_WHERE = "ai_gateway.guardrails"
_BEHAVIORS = ("NONE", "BLOCK", "MASK")
_FIELDS = ("invalid_keywords", "valid_topics", "pii", "safety")


@dataclass(frozen=True)
class GuardrailResult:
    """Whether texts are blocked (and why), and the texts after masking."""

    blocked: bool
    reason: str | None
    texts: list[str]


@dataclass(frozen=True)
class _Side:
    name: str
    keywords: tuple[str, ...] = ()
    pii: str = "NONE"
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False)

    @property
    def active(self) -> bool:
        return bool(self.keywords) or self.pii != "NONE"

    def check(self, texts: Sequence[str]) -> GuardrailResult:
        for keyword, pattern in zip(self.keywords, self._patterns, strict=True):
            if any(pattern.search(t) for t in texts):
                return GuardrailResult(
                    True, f"{self.name} contains a blocked keyword: {keyword!r}", list(texts)
                )
        if self.pii == "BLOCK":
            for t in texts:
                found = find_pii(t)
                if found:
                    kinds = ", ".join(sorted({f.kind for f in found}))
                    return GuardrailResult(True, f"PII ({kinds}) in {self.name}", list(texts))
        if self.pii == "MASK":
            return GuardrailResult(False, None, [mask_pii(t)[0] for t in texts])
        return GuardrailResult(False, None, list(texts))


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    start = r"\b" if keyword[:1].isalnum() or keyword[:1] == "_" else ""
    end = r"\b" if keyword[-1:].isalnum() or keyword[-1:] == "_" else ""
    return re.compile(start + re.escape(keyword) + end, re.IGNORECASE)


def _side(name: str, block: Any) -> _Side:
    where = f"{_WHERE}.{name}"
    if block is None:
        return _Side(name)
    if not isinstance(block, Mapping):
        raise ConfigurationError(f"Invalid {where}: must be a mapping, not {type(block).__name__}")
    unknown = sorted(set(block) - set(_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"Invalid {where}.{unknown[0]}: unknown field; known fields: {', '.join(_FIELDS)}"
        )
    if block.get("valid_topics"):
        raise ConfigurationError(
            f"Invalid {where}.valid_topics: topic restriction needs a classifier model, which this "
            "gateway does not ship; remove valid_topics (use invalid_keywords instead)"
        )
    if block.get("safety"):
        raise ConfigurationError(
            f"Invalid {where}.safety: the safety filter needs a classifier model, which this "
            "gateway does not ship; set safety to false (use invalid_keywords instead)"
        )
    keywords = block.get("invalid_keywords") or []
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.strip() for k in keywords
    ):
        raise ConfigurationError(
            f"Invalid {where}.invalid_keywords: must be a list of non-empty strings"
        )
    return _Side(
        name,
        tuple(keywords),
        _pii_behavior(where, block.get("pii")),
        tuple(_keyword_pattern(k.strip()) for k in keywords),
    )


def _pii_behavior(where: str, pii: Any) -> str:
    if pii is None:
        return "NONE"
    if not isinstance(pii, Mapping) or set(pii) - {"behavior"}:
        raise ConfigurationError(
            f"Invalid {where}.pii: must be {{'behavior': 'BLOCK' | 'MASK' | 'NONE'}}"
        )
    behavior = str(pii.get("behavior", "NONE")).upper()
    if behavior not in _BEHAVIORS:
        raise ConfigurationError(
            f"Invalid {where}.pii.behavior: {pii.get('behavior')!r}; use BLOCK, MASK or NONE"
        )
    return behavior


class Guardrails:
    """The guardrails of one endpoint (``Guardrails.from_config(ai_gateway['guardrails'])``)."""

    def __init__(self, input_side: _Side, output_side: _Side) -> None:
        self._input = input_side
        self._output = output_side

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None) -> Guardrails:
        """Read ``ai_gateway.guardrails``; raises ConfigurationError naming the field."""
        if block is None:
            return cls(_Side("input"), _Side("output"))
        if not isinstance(block, Mapping):
            raise ConfigurationError(f"Invalid {_WHERE}: must be a mapping with input / output")
        unknown = sorted(set(block) - {"input", "output"})
        if unknown:
            raise ConfigurationError(
                f"Invalid {_WHERE}.{unknown[0]}: unknown field; known fields: input, output"
            )
        return cls(_side("input", block.get("input")), _side("output", block.get("output")))

    def check_input(self, texts: Sequence[str]) -> GuardrailResult:
        """Check (and mask) the request's texts."""
        return self._input.check(texts)

    def check_output(self, texts: Sequence[str]) -> GuardrailResult:
        """Check (and mask) the response's texts."""
        return self._output.check(texts)

    @property
    def enabled(self) -> bool:
        """Whether any guardrail is configured."""
        return self.input_enabled or self.output_enabled

    @property
    def input_enabled(self) -> bool:
        """Whether the request side has a guardrail."""
        return self._input.active

    @property
    def input_pii(self) -> bool:
        """Whether the request side looks for PII (``BLOCK`` or ``MASK``)."""
        return self._input.pii != "NONE"

    @property
    def output_enabled(self) -> bool:
        """Whether the response side has a guardrail (a stream is then buffered)."""
        return self._output.active
