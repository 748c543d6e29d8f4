"""What every ``bedrock_provider`` dialect shares: the provider name, the :class:`_Dialect`
interface the adapter drives, and small helpers for headers, usage, prompts and finish reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError, UnsupportedParameterError
from extmodels_integrations._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Usage,
    normalize_finish_reason,
)
from extmodels_integrations.providers._base import ParsedStream

PROVIDER = "amazon-bedrock"

# The vendor prefix of Bedrock model ids, by ``bedrock_provider``.
_VENDORS = {"anthropic": "anthropic", "cohere": "cohere", "ai21labs": "ai21", "amazon": "amazon"}
# The Databricks external-model docs name Jurassic-2 by its short name; Bedrock's ids end -v1.
_SHORT_NAMES = {"j2-mid": "j2-mid-v1", "j2-ultra": "j2-ultra-v1"}
# Only Bedrock's Anthropic models think; the other families would ignore the field or 400.
NO_REASONING = {
    "reasoning_effort": "only bedrock_provider 'anthropic' models reason on Bedrock; "
    "remove reasoning_effort or serve a Claude model"
}


def model_id(name: str, bedrock_provider: str) -> str:
    """The Bedrock model id for ``name``. Full ids (``anthropic.claude-…``), cross-region
    inference profiles (``us.anthropic.claude-…``) and ARNs go as given; a name without its
    vendor prefix, as the external-model docs write them (``claude-v2``,
    ``claude-3-5-sonnet-20240620-v1:0``, ``titan-embed-text-v1``, ``j2-mid``), gets the prefix
    of ``bedrock_provider``: sent bare, AWS answers "The provided model identifier is invalid"."""
    if name.startswith("arn:") or "." in name.split(":", 1)[0]:
        return name
    vendor = _VENDORS.get(bedrock_provider)
    if vendor is None:
        return name
    return f"{vendor}.{_SHORT_NAMES.get(name, name)}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header, case-insensitively (plain dicts in tests, httpx.Headers live)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _header_usage(headers: Mapping[str, str]) -> Usage | None:
    """Usage from ``X-Amzn-Bedrock-Input/Output-Token-Count`` (models whose body has none)."""
    prompt = _header(headers, "X-Amzn-Bedrock-Input-Token-Count")
    completion = _header(headers, "X-Amzn-Bedrock-Output-Token-Count")
    if prompt is None and completion is None:
        return None
    return Usage(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0)).completed()


# Earlier reasoning of another model in a shared history: these models take none back.
_LEFT_OUT = frozenset({"thinking", "redacted_thinking", "reasoning"})


def _text(content: Any) -> str:
    """The text of a message ``content``: a string or a list of text parts. An image, file or
    audio part is refused, not dropped: these models read text only."""
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type", "text") == "text":
            parts.append(part.get("text") or "")
        elif part.get("type") not in _LEFT_OUT:
            raise UnsupportedParameterError(
                PROVIDER,
                f"content part '{part.get('type')}'",
                "this Bedrock model reads text only: send the text, or use a Claude model "
                "(bedrock_provider anthropic) for images and PDFs",
            )
    return "".join(parts)


def _one_prompt(prompt: str | list[str]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) != 1:
        raise ConfigurationError(
            f"provider '{PROVIDER}' takes one prompt per request, got {len(prompt)}: "
            "send them one at a time (CompletionExternal: batch_size=1)"
        )
    return prompt[0]


def _reject_n(n: int | None, family: str) -> None:
    if n not in (None, 1):
        raise UnsupportedParameterError(PROVIDER, "n", f"{family} generates one answer per call")


def _finish(table: Mapping[str, str], value: Any) -> str | None:
    """``value`` through a sub-provider's finish-reason table; unknown values are kept."""
    if value is None:
        return None
    return table.get(str(value)) or normalize_finish_reason(value)


class _Dialect:
    """What one ``bedrock_provider`` does differently: bodies, parsing, stream events."""

    name = ""
    embedding_batch_size = 1

    def check_model(self, configured: str, model: str) -> None:
        """Refuse a per-call model whose body family differs from the configured one's."""

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        raise self._no_task("llm/v1/chat")

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        raise self._no_task("llm/v1/chat")

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        raise self._no_task("llm/v1/chat")

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        raise self._no_task("llm/v1/completions")

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        raise self._no_task("llm/v1/completions")

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        raise self._no_task("llm/v1/completions")

    def streams(self, model: str) -> bool:
        """Whether ``model`` streams (else a stream is one chunk from ``/invoke``)."""
        return True

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        raise self._no_task("llm/v1/embeddings")

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        raise self._no_task("llm/v1/embeddings")

    def _no_task(self, task: str) -> ConfigurationError:
        return ConfigurationError(
            f"provider '{PROVIDER}' with bedrock_provider '{self.name}' does not offer the "
            f"task '{task}' here"
        )
