"""Log probabilities on Gemini: OpenAI's ``logprobs`` / ``top_logprobs`` request fields as
``generationConfig.responseLogprobs`` / ``logprobs``, and a candidate's ``logprobsResult``
(python-genai ``LogprobsResult``: ``chosenCandidates[]`` and, per decoding step,
``topCandidates[].candidates[]``, each ``{token, tokenId, logProbability}``) in OpenAI's chat
shape, or the legacy completions one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.providers._views import legacy_logprobs

__all__ = ["chat_logprobs", "completion_logprobs", "split_logprobs"]


def split_logprobs(
    extra: Mapping[str, Any], *, completions: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(generationConfig fields, the other extra params)`` for OpenAI's log probability
    fields: ``logprobs=True`` is ``responseLogprobs``, ``top_logprobs=k`` the ``logprobs: k``
    top candidates, and needs ``logprobs=True`` as OpenAI has it.

    In chat an integer ``logprobs`` is Gemini's own count and passes as written (as do
    ``responseLogprobs`` and ``generationConfig``); in completions it is OpenAI's legacy
    ``logprobs=k``, the same count, with ``responseLogprobs`` that Gemini needs for it.
    """
    wanted, top = extra.get("logprobs"), extra.get("top_logprobs")
    rest = {k: v for k, v in extra.items() if k not in ("logprobs", "top_logprobs")}
    config: dict[str, Any] = {}
    if isinstance(wanted, bool):
        config["responseLogprobs"] = wanted
    elif completions and wanted is not None:
        config["responseLogprobs"] = True
        if _count(wanted, "logprobs"):
            config["logprobs"] = wanted
    elif wanted is not None:
        config["logprobs"] = wanted
    if top is not None:
        if wanted is not True:
            raise ConfigurationError(
                "top_logprobs needs logprobs=True (OpenAI refuses it alone too): add "
                "logprobs=True to extra_params, or remove top_logprobs"
            )
        if _count(top, "top_logprobs"):
            config["logprobs"] = top
    return config, rest


# Gemini returns 1-20 top candidates per token (Google's intro_logprobs notebook,
# GoogleCloudPlatform/generative-ai); OpenAI's 0 (no alternatives) is simply not asking.
_MOST_CANDIDATES = 20


def _count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigurationError(
            f"{name} must be a whole number of top candidates (0 or more), not {value!r}"
        )
    if value > _MOST_CANDIDATES:
        raise ConfigurationError(
            f"{name}={value}: Gemini returns at most {_MOST_CANDIDATES} top candidates per "
            f"token; ask for {_MOST_CANDIDATES} or fewer"
        )
    return value


def _entry(candidate: Any) -> dict[str, Any]:
    # Proto3 JSON leaves out zero values: a missing logProbability is 0.0 (a certain token).
    token = str(candidate.get("token") or "") if isinstance(candidate, Mapping) else ""
    logprob = candidate.get("logProbability") if isinstance(candidate, Mapping) else None
    return {"token": token, "logprob": float(logprob or 0.0), "bytes": list(token.encode())}


def chat_logprobs(candidate: Mapping[str, Any]) -> dict[str, Any] | None:
    """The candidate's ``logprobsResult`` in OpenAI's chat shape, ``None`` when it has none
    (not asked for). In a stream each chunk's candidate holds its own tokens' results."""
    result = candidate.get("logprobsResult")
    if not isinstance(result, Mapping):
        return None
    chosen = result.get("chosenCandidates") or []
    steps = result.get("topCandidates") or []
    content = []
    for i, token in enumerate(chosen):
        step = steps[i] if i < len(steps) and isinstance(steps[i], Mapping) else {}
        alternatives = [_entry(t) for t in step.get("candidates") or []]
        content.append({**_entry(token), "top_logprobs": alternatives})
    return {"content": content} if content else None


def completion_logprobs(
    candidate: Mapping[str, Any], offset: int = 0
) -> tuple[dict[str, Any] | None, int]:
    """The candidate's results as OpenAI's legacy completions ``logprobs`` and the text offset
    after its last token (see :func:`~extmodels_integrations.providers._views.legacy_logprobs`)."""
    return legacy_logprobs(chat_logprobs(candidate), offset)
