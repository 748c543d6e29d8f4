"""OpenAI ``logprobs`` objects as LlamaIndex's ``List[List[LogProb]]``: per generated token,
its candidates, as llama-index-llms-openai's ``from_openai_token_logprobs`` (chat) and
``from_openai_completion_logprobs`` (completions) build them. Where no alternatives were asked
for (``top_logprobs`` 0), a token's list holds the sampled token alone rather than being left
out, so the lists still line up with the answer's tokens."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import LogProb

__all__ = ["chat_logprobs", "completion_logprobs"]


def completion_logprobs(data: dict[str, Any] | None) -> list[list[LogProb]] | None:
    """OpenAI completions ``logprobs`` (``tokens``, ``token_logprobs``, ``top_logprobs``)."""
    if not data or not data.get("tokens"):
        return None
    tokens, chosen = data["tokens"], data.get("token_logprobs") or []
    tops = data.get("top_logprobs") or [None] * len(tokens)
    out = []
    for token, logprob, top in zip(tokens, chosen, tops, strict=False):
        candidates = top if isinstance(top, dict) and top else {token: logprob}
        out.append([LogProb(token=t, logprob=lp, bytes=[]) for t, lp in candidates.items()])
    return out


def chat_logprobs(data: dict[str, Any] | None) -> list[list[LogProb]]:
    """OpenAI chat ``logprobs`` (``{"content": [{"token", "logprob", "bytes",
    "top_logprobs"}, ...]}``); empty when there are none."""
    if not data:
        return []
    return [_candidates(entry) for entry in data.get("content") or ()]


def _candidates(entry: dict[str, Any]) -> list[LogProb]:
    top = entry.get("top_logprobs") or [entry]
    return [
        LogProb(token=c["token"], logprob=c["logprob"], bytes=c.get("bytes") or []) for c in top
    ]
