"""What the frameworks need to know about a model that no endpoint reports: its context window,
its output limit, whether it takes tools and whether it reads images.

LlamaIndex sizes prompts from ``LLMMetadata`` (``context_window - num_output`` is the room left
for retrieved context); its 3900-token default starves every current model. Values are the
providers' published limits (OpenAI, Anthropic, Cohere, Google and AI21 model pages; Meta Llama
as served by Databricks Foundation Model APIs and Bedrock), keyed by the model family so dated
ids, Bedrock ids (``anthropic.claude-3-5-sonnet-20241022-v2:0``) and Databricks endpoint names
(``databricks-claude-sonnet-4``) match too. Every value is overridable on the classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["UNKNOWN", "ModelInfo", "lookup"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Published limits of one model family."""

    context_window: int
    """Input plus output tokens."""
    max_output: int
    """Most tokens one response may have."""
    function_calling: bool = True
    """Whether the model takes tools (OpenAI-style function calling)."""
    images: bool = True
    """Whether the model reads images (and, where its provider takes them, PDFs)."""

    def num_output(self, max_tokens: int | None) -> int:
        """Tokens to reserve for the answer: ``max_tokens`` when set, else the model's output
        limit capped at a quarter of the window, so retrieved context keeps most of it."""
        if max_tokens is not None:
            return max_tokens
        return min(self.max_output, self.context_window // 4)


UNKNOWN = ModelInfo(context_window=8192, max_output=2048)
"""For names not in the table: every current chat model offers at least an 8k window."""

_TABLE: dict[str, ModelInfo] = {
    # OpenAI
    "gpt-5": ModelInfo(400_000, 128_000),
    "gpt-4.1": ModelInfo(1_047_576, 32_768),
    "gpt-4o": ModelInfo(128_000, 16_384),
    "gpt-4-turbo": ModelInfo(128_000, 4_096),
    "gpt-4": ModelInfo(8_192, 8_192, images=False),
    "gpt-3.5-turbo": ModelInfo(16_385, 4_096, images=False),
    "gpt-35-turbo": ModelInfo(16_385, 4_096, images=False),  # Azure's spelling
    "gpt-3.5-turbo-instruct": ModelInfo(4_096, 4_096, function_calling=False, images=False),
    "o1": ModelInfo(200_000, 100_000),
    "o1-mini": ModelInfo(128_000, 65_536, function_calling=False, images=False),
    "o3": ModelInfo(200_000, 100_000),
    "o3-mini": ModelInfo(200_000, 100_000, images=False),
    "o4-mini": ModelInfo(200_000, 100_000),
    # Anthropic
    "claude-3-haiku": ModelInfo(200_000, 4_096),
    "claude-3-sonnet": ModelInfo(200_000, 4_096),
    "claude-3-opus": ModelInfo(200_000, 4_096),
    "claude-3-5-haiku": ModelInfo(200_000, 8_192),
    "claude-3-5-sonnet": ModelInfo(200_000, 8_192),
    "claude-3-7-sonnet": ModelInfo(200_000, 64_000),
    "claude-sonnet-4": ModelInfo(200_000, 64_000),
    "claude-opus-4": ModelInfo(200_000, 32_000),
    "claude-haiku-4": ModelInfo(200_000, 64_000),
    # Cohere: only the vision models read images
    "command-r": ModelInfo(128_000, 4_000, images=False),
    "command-r-plus": ModelInfo(128_000, 4_000, images=False),
    "command-a": ModelInfo(256_000, 8_000, images=False),
    "command-a-vision": ModelInfo(128_000, 8_000),
    # Google
    "gemini-1.5-pro": ModelInfo(2_097_152, 8_192),
    "gemini-1.5-flash": ModelInfo(1_048_576, 8_192),
    "gemini-2.0-flash": ModelInfo(1_048_576, 8_192),
    "gemini-2.5-pro": ModelInfo(1_048_576, 65_536),
    "gemini-2.5-flash": ModelInfo(1_048_576, 65_536),
    # AI21
    "jamba-1.5-mini": ModelInfo(256_000, 4_096, images=False),
    "jamba-1.5-large": ModelInfo(256_000, 4_096, images=False),
    "jamba-mini": ModelInfo(256_000, 4_096, images=False),
    "jamba-large": ModelInfo(256_000, 4_096, images=False),
    # Meta Llama (Databricks: meta-llama-3-3-70b-instruct; Bedrock: meta.llama3-3-70b-...)
    "llama-3.1": ModelInfo(128_000, 4_096, images=False),
    "llama3.1": ModelInfo(128_000, 4_096, images=False),
    "llama-3.3": ModelInfo(128_000, 4_096, images=False),
    "llama3.3": ModelInfo(128_000, 4_096, images=False),
    # Amazon
    "nova-pro": ModelInfo(300_000, 5_000),
    "nova-lite": ModelInfo(300_000, 5_000),
    "nova-micro": ModelInfo(128_000, 5_000, images=False),
}


def _normal(name: str) -> str:
    # Providers write versions with dots, dashes or underscores: claude-3.5 / claude-3-5.
    return re.sub(r"[._]", "-", name.lower())


# Longest key first, so "gpt-4o-mini" meets "gpt-4o" before "gpt-4".
_PATTERNS = [
    (re.compile(rf"(?<![a-z0-9]){re.escape(_normal(key))}(?![a-z0-9])"), info)
    for key, info in sorted(_TABLE.items(), key=lambda item: -len(item[0]))
]


@lru_cache(maxsize=256)  # metadata is read on every call (LlamaIndex's event payloads)
def lookup(name: str | None) -> ModelInfo:
    """The limits of the model family ``name`` belongs to, or :data:`UNKNOWN`."""
    if name:
        normal = _normal(name)
        for pattern, info in _PATTERNS:
            if pattern.search(normal):
                return info
    return UNKNOWN
