"""Models the providers have shut down, named in the external-model docs this package follows
(``claude-2`` completions, Vertex ``text-bison`` / ``chat-bison``): refused when the config is
validated, with what to use instead, rather than sent for a provider 4xx after the fact.

Dates are the providers' own: Anthropic's model-deprecations page (Claude API; Bedrock and
Vertex AI keep their own schedules, so only the ``anthropic`` provider is checked) and Google's
Vertex AI deprecations page (PaLM, Codey and the first embeddings models, shut down
2025-04-09). A config with its own ``*_api_base`` (a proxy that may map names) is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["retired_issues"]

_ANTHROPIC = (
    (re.compile(r"claude-(1|instant)(\.|-|$)"), "2024-11-06"),
    (re.compile(r"claude-2(\.|$)"), "2025-07-21"),
    (re.compile(r"claude-3-sonnet-20240229$"), "2025-07-21"),
    (re.compile(r"claude-3-opus-20240229$"), "2026-01-05"),
)
_VERTEX = re.compile(
    r"((chat|text|code|codechat)-bison|code-gecko|text-unicorn)(-32k)?(@\d+)?$"
    r"|textembedding-gecko(-multilingual)?(@00[12])?$"
)
_BASES = {"anthropic": "anthropic_api_base", "google-cloud-vertex-ai": "vertex_api_base"}


def retired_issues(provider: Any, name: Any, block: Any) -> list[tuple[str, str]]:
    """``[("name", message)]`` when ``name`` is a model ``provider`` has shut down."""
    if not isinstance(name, str) or not isinstance(block, Mapping):
        return []
    if block.get(_BASES.get(provider, "")):
        return []
    if provider == "anthropic":
        for pattern, date in _ANTHROPIC:
            if pattern.match(name):
                return [
                    (
                        "name",
                        f"{name!r} was retired by Anthropic on {date} and every request to it "
                        "fails: use a current Claude model (e.g. 'claude-sonnet-4-5'; the "
                        "completions task works on it too)",
                    )
                ]
    if provider == "google-cloud-vertex-ai" and _VERTEX.match(name):
        return [
            (
                "name",
                f"{name!r} (PaLM / Codey / first-generation embeddings) was shut down on Vertex "
                "AI on 2025-04-09: use a Gemini model for chat and completions, or "
                "text-embedding-005 / gemini-embedding-001 for embeddings",
            )
        ]
    return []
