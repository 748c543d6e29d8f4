"""OpenAI's ``reasoning_effort`` on the providers that size reasoning in tokens instead.

Users set ``reasoning_effort`` once and move the config between providers; where a provider
takes a thinking budget the effort becomes one. The budgets are the ones the providers' own
OpenAI-compatible layers (Gemini) or LiteLLM (Anthropic, Cohere) use, so a config moved from
either thinks as much here. ``none`` turns reasoning off where the provider allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError, UnsupportedParameterError

__all__ = ["EFFORTS", "GEMINI_BUDGETS", "TOKEN_BUDGETS", "split_effort"]

EFFORTS = ("none", "minimal", "low", "medium", "high")
# LiteLLM's reasoning_effort -> Anthropic thinking.budget_tokens (1024 is Anthropic's floor).
TOKEN_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}
# Gemini's OpenAI-compatibility mapping to thinkingConfig.thinkingBudget.
GEMINI_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}


def split_effort(
    provider: str, extra: Mapping[str, Any], native: str
) -> tuple[str | None, dict[str, Any]]:
    """``reasoning_effort`` (checked) and the other extra params. ``native`` is the provider's
    own setting for the same thing: giving both is refused, since one would override the
    other."""
    rest = dict(extra)
    effort = rest.pop("reasoning_effort", None)
    if effort is None:
        return None, rest
    if effort not in EFFORTS:
        raise UnsupportedParameterError(
            provider, "reasoning_effort", f"{effort!r} is not one of {', '.join(EFFORTS)}"
        )
    if native in rest:
        raise ConfigurationError(
            f"reasoning_effort and {native} both set the {provider} reasoning budget: "
            "give one of them"
        )
    return str(effort), rest
