"""The unified schema: what every provider is normalized to, for the three tasks.

Requests use the OpenAI-style shapes the external-model endpoints document (messages and tools
are plain dicts, so they pass through to OpenAI-family targets without copying). Responses and
stream chunks are slotted dataclasses: they are built once per response or per chunk on the hot
path, where pydantic validation would cost more than the parsing itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from extmodels_integrations._exceptions import ConfigurationError

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "EMBEDDINGS",
    "BatchProgress",
    "ChatChoice",
    "ChatChunk",
    "ChatChunkChoice",
    "ChatRequest",
    "ChatResponse",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionRequest",
    "CompletionResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "FinishReason",
    "Message",
    "ReasoningBlock",
    "Task",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

Task = Literal["llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings"]
CHAT: Task = "llm/v1/chat"
COMPLETIONS: Task = "llm/v1/completions"
EMBEDDINGS: Task = "llm/v1/embeddings"

BatchProgress = Callable[[int, int], None]
"""Told ``(batches done, batches in all)`` of one embedding call: ``(0, total)`` before the first
request, then once as each batch completes. A fallback to another served entity starts over at
``(0, its total)``."""

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
_FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def normalize_finish_reason(value: object) -> str | None:
    """Map a provider's finish reason onto the unified vocabulary, keeping unknown ones as-is."""
    if value is None:
        return None
    text = str(value)
    return _FINISH_REASONS.get(text, text)


def unnested(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` with the query format's nested ``extra_params`` object (``{"prompt": ...,
    "extra_params": {"top_p": 0.9}}``, as the external-model docs write a request) merged in,
    so its parameters reach the provider as parameters and not as one unknown field."""
    nested = extra.get("extra_params")
    if nested is None:
        return extra
    if not isinstance(nested, dict):
        raise ConfigurationError(
            f"extra_params: must be an object of provider parameters such as "
            f"{{'top_p': 0.9}}, got {type(nested).__name__}"
        )
    clash = sorted(k for k in nested if k in extra and extra[k] != nested[k])
    if clash:
        raise ConfigurationError(
            f"extra_params: {', '.join(clash)} given both inside extra_params and beside it, "
            "with different values: give each parameter once"
        )
    out = {k: v for k, v in extra.items() if k != "extra_params"}
    out.update(nested)
    return out


class Message(TypedDict, total=False):
    """An OpenAI-style chat message as sent in a request.

    An assistant turn's ``content`` list may hold the model's earlier reasoning, to be sent back
    where the provider requires it (Anthropic extended thinking across tool-call turns):
    ``{"type": "thinking", "thinking": text, "signature": ...}`` and
    ``{"type": "redacted_thinking", "data": ...}``, Anthropic's shapes. Adapters of providers
    that take no reasoning back leave these blocks out.

    A tool call the provider signed (Gemini ``thoughtSignature``) carries the signature as
    ``{"extra_content": {"google": {"thought_signature": ...}}}`` beside its ``function``, the
    shape Gemini's own OpenAI-compatible API uses (see :meth:`ToolCall.as_message_call`).
    """

    role: str
    content: str | list[dict[str, Any]] | None
    name: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(slots=True)
class ChatRequest:
    """A unified ``llm/v1/chat`` request.

    ``caller_applies_parallel_tool_calls``: the caller keeps only the first tool call of the
    answer itself when ``parallel_tool_calls`` is False (LlamaIndex's
    ``allow_parallel_tool_calls``), so providers with no such switch get the request without
    it rather than refusing it (see :meth:`parallel_tool_calls_switch`).
    """

    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    n: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    model: str | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    caller_applies_parallel_tool_calls: bool = False

    def __post_init__(self) -> None:
        if "extra_params" in self.extra_params:
            self.extra_params = unnested(self.extra_params)

    def parallel_tool_calls_switch(self) -> bool | None:
        """``parallel_tool_calls`` as a provider without that switch must weigh it (refuse it
        when set): unset when the caller applies it itself."""
        return None if self.caller_applies_parallel_tool_calls else self.parallel_tool_calls

    def to_payload(self) -> dict[str, Any]:
        """The unified JSON body; ``extra_params`` are merged last so they pass through."""
        body = _drop_none(
            {
                "messages": self.messages,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "stop": self.stop or None,
                "n": self.n,
                "tools": self.tools or None,
                "tool_choice": self.tool_choice if self.tools else None,
                "parallel_tool_calls": self.parallel_tool_calls if self.tools else None,
                "response_format": self.response_format,
            }
        )
        body.update(self.extra_params)
        return body


@dataclass(slots=True)
class CompletionRequest:
    """A unified ``llm/v1/completions`` request; ``prompt`` may hold several prompts."""

    prompt: str | list[str]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    n: int | None = None
    model: str | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "extra_params" in self.extra_params:
            self.extra_params = unnested(self.extra_params)

    def to_payload(self) -> dict[str, Any]:
        """The unified JSON body; ``extra_params`` are merged last so they pass through."""
        body = _drop_none(
            {
                "prompt": self.prompt,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "stop": self.stop or None,
                "n": self.n,
            }
        )
        body.update(self.extra_params)
        return body


@dataclass(slots=True)
class EmbeddingsRequest:
    """A unified ``llm/v1/embeddings`` request.

    ``input_kind`` says whether the texts are search queries or documents: providers such as
    Cohere and Vertex embed them differently; OpenAI-family targets ignore it.
    """

    input: list[str]
    input_kind: Literal["query", "document"] = "document"
    model: str | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "extra_params" in self.extra_params:
            self.extra_params = unnested(self.extra_params)

    def to_payload(self) -> dict[str, Any]:
        """The unified JSON body."""
        body: dict[str, Any] = {"input": self.input}
        body.update(self.extra_params)
        return body


@dataclass(slots=True)
class Usage:
    """Token usage; detail fields are ``None`` when the provider does not report them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None

    def merged_with(self, newer: Usage) -> Usage:
        """Field-wise merge for streams that repeat partial usage: newer non-zero values win."""
        return Usage(
            prompt_tokens=newer.prompt_tokens or self.prompt_tokens,
            completion_tokens=newer.completion_tokens or self.completion_tokens,
            total_tokens=newer.total_tokens or self.total_tokens,
            cache_read_tokens=_newer(self.cache_read_tokens, newer.cache_read_tokens),
            cache_creation_tokens=_newer(self.cache_creation_tokens, newer.cache_creation_tokens),
            reasoning_tokens=_newer(self.reasoning_tokens, newer.reasoning_tokens),
        )

    def completed(self) -> Usage:
        """Make ``total_tokens`` at least prompt + completion: providers leave it out, and
        streams that report usage in parts leave a stale one behind."""
        self.total_tokens = max(self.total_tokens, self.prompt_tokens + self.completion_tokens)
        return self


def _newer(old: int | None, new: int | None) -> int | None:
    return new if new is not None else old


def call_signature(call: Mapping[str, Any]) -> str | None:
    """The provider signature an OpenAI-style tool call dict carries (see :class:`Message`)."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return signature if isinstance(signature, str) else None


def signed_call(call: dict[str, Any], signature: str | None) -> dict[str, Any]:
    """``call`` (an OpenAI-style tool call dict) carrying ``signature`` (see :class:`Message`);
    ``call`` itself when there is none."""
    if signature is None:
        return call
    return {**call, "extra_content": {"google": {"thought_signature": signature}}}


@dataclass(slots=True)
class ToolCall:
    """A complete tool call; ``arguments`` is the JSON text the model produced.

    ``signature`` is the provider's proof of the reasoning behind the call (Gemini
    ``thoughtSignature``), to be sent back with the call on the next turn: Gemini 3 refuses a
    signed call replayed without it. Of parallel calls only the first is signed.
    """

    id: str
    name: str
    arguments: str
    signature: str | None = None

    def as_message_call(self) -> dict[str, Any]:
        """The call as an assistant message's ``tool_calls`` entry (see :class:`Message`)."""
        call = {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }
        return signed_call(call, self.signature)


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; ``index`` ties the fragments of one call together.
    ``signature`` as in :class:`ToolCall` (sent whole, on one fragment)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None
    signature: str | None = None


@dataclass(slots=True)
class ReasoningBlock:
    """One block of the model's reasoning, with what the provider needs to take it back.

    ``signature`` is the provider's proof of the block (Anthropic ``signature``); ``redacted``
    holds the encrypted data of a block the provider withheld (Anthropic
    ``redacted_thinking``), whose ``text`` is then empty.
    """

    text: str
    signature: str | None = None
    redacted: str | None = None

    def as_content(self) -> dict[str, Any]:
        """The block as an assistant message's content part (see :class:`Message`)."""
        if self.redacted is not None:
            return {"type": "redacted_thinking", "data": self.redacted}
        block: dict[str, Any] = {"type": "thinking", "thinking": self.text}
        if self.signature is not None:
            block["signature"] = self.signature
        return block


@dataclass(slots=True)
class ChatChoice:
    """One generated chat message; ``reasoning`` is the reasoning text in one string and
    ``reasoning_blocks`` the same reasoning block by block, when the provider sends blocks
    that must be sent back (signed thinking).

    ``logprobs``, when asked for (``logprobs=True``, ``top_logprobs=k``), is in OpenAI's chat
    shape whatever the provider: ``{"content": [{"token", "logprob", "bytes",
    "top_logprobs": [{"token", "logprob", "bytes"}, ...]}, ...]}``.
    """

    index: int
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    reasoning: str | None = None
    role: str = "assistant"
    reasoning_blocks: list[ReasoningBlock] = field(default_factory=list)
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatResponse:
    """A complete chat response, with usage counted once for all choices.

    ``object`` (``"chat.completion"``) and ``created`` (Unix seconds) are the answer's own, as
    the OpenAI format and the external-model docs' response examples carry them; ``None`` when
    the provider's format has no such field."""

    id: str | None
    model: str | None
    choices: list[ChatChoice]
    usage: Usage | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
    created: int | None = None


@dataclass(slots=True)
class ChatChunkChoice:
    """The delta of one choice in one stream chunk.

    ``reasoning_index`` numbers the reasoning block a ``reasoning`` / ``reasoning_signature`` /
    ``reasoning_redacted`` delta belongs to, for providers whose reasoning comes in signed
    blocks (Anthropic): the deltas of one block are joined, and the block is sent back whole.
    ``logprobs`` holds the entries of this delta's tokens, in :class:`ChatChoice`'s shape: a
    stream's entries, concatenated, are the answer's.
    """

    index: int = 0
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    role: str | None = None
    reasoning_index: int | None = None
    reasoning_signature: str | None = None
    reasoning_redacted: str | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatChunk:
    """One chat stream chunk.

    The client guarantees that exactly one chunk of a stream carries ``usage`` (the last one),
    whatever the provider does. ``object`` / ``created`` as in :class:`ChatResponse`.
    """

    id: str | None
    model: str | None
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
    created: int | None = None


@dataclass(slots=True)
class CompletionChoice:
    """One generated completion; ``index`` is ``prompt_index * n + j`` as OpenAI numbers them.
    ``logprobs`` is the provider's ``logprobs`` object when asked for (OpenAI completions:
    ``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``)."""

    index: int
    text: str
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class CompletionResponse:
    """A complete completions response; ``object`` / ``created`` as in :class:`ChatResponse`."""

    id: str | None
    model: str | None
    choices: list[CompletionChoice]
    usage: Usage | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
    created: int | None = None


@dataclass(slots=True)
class CompletionChunk:
    """One completions stream chunk; usage as in :class:`ChatChunk`, ``object`` /
    ``created`` as in :class:`ChatResponse`."""

    id: str | None
    model: str | None
    choices: list[CompletionChoice]
    usage: Usage | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
    created: int | None = None


@dataclass(slots=True)
class EmbeddingsResponse:
    """Embeddings in input order; ``object`` is the answer's own (``"list"``) when sent."""

    embeddings: list[list[float]]
    model: str | None = None
    usage: Usage | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
