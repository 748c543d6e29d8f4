"""Pure conversions between LangChain objects and the unified schema (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeGuard

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk

from extmodels_integrations._types import (
    ChatChoice,
    ChatChunkChoice,
    Message,
    Usage,
    signed_call,
)
from extmodels_integrations.langchain._cache_marks import openai_messages

__all__ = [
    "V1ToolIndexes",
    "answer_fields",
    "model_provider",
    "to_ai_message",
    "to_chunk_message",
    "to_unified_messages",
    "usage_metadata",
]


# LangChain v1 content blocks that duplicate ``tool_calls``; no provider takes them as content.
_TOOL_CALL_BLOCKS = frozenset({"tool_call", "tool_call_chunk", "invalid_tool_call"})

# The langchain-core block translator for a reply's message shape: ``content_blocks`` (and
# ``output_version="v1"``) use it. Replies in the OpenAI shape (string content, ``tool_calls``)
# name OpenAI's; the others keep their provider's name, which no core translator claims, so
# LangChain's best-effort parsing reads them (the Anthropic and Vertex translators would look
# for tool calls in content blocks that string content does not have).
# Where an AIMessage keeps the signatures of its tool calls (Gemini ``thoughtSignature``), by
# call id: the additional_kwargs key langchain-google-genai and -vertexai use, so histories move
# between ChatGoogleGenerativeAI / ChatVertexAI and ChatExternal.
SIGNATURES = "__gemini_function_call_thought_signatures__"

_MODEL_PROVIDERS = {
    "openai": "openai",
    "databricks-model-serving": "openai",
    "databricks": "openai",
}


def answer_fields(result: object) -> dict[str, Any]:
    """The answer's own ``object`` and ``created`` (see
    :class:`~extmodels_integrations.ChatResponse`) for ``response_metadata`` /
    ``generation_info``; empty where the provider sends neither."""
    fields = {name: getattr(result, name, None) for name in ("object", "created")}
    return {name: value for name, value in fields.items() if value is not None}


def model_provider(
    provider: str | None, *, signed_reasoning: bool, reasoning: bool = False
) -> str | None:
    """``response_metadata["model_provider"]`` for a reply of ``provider``.

    A reply with signed reasoning blocks carries them in Anthropic's shape (``thinking`` with
    ``signature``), whichever provider served it (Claude on Bedrock), so it is translated as
    Anthropic's and ChatAnthropic takes it back as it is.
    """
    if signed_reasoning:
        return "anthropic"
    if provider == "anthropic" or reasoning:
        # String content: best-effort parsing, see above; it also keeps reasoning_content,
        # which OpenAI's translator drops.
        return None
    return _MODEL_PROVIDERS.get(provider or "", provider)


def to_unified_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """OpenAI-style message dicts (tool calls, tool results and content blocks included);
    reasoning blocks of earlier answers (LangChain v1 ``reasoning`` blocks, Anthropic
    ``thinking`` blocks) in the unified ``thinking`` shape, and tool calls with the signatures
    their message keeps (:data:`SIGNATURES`)."""
    converted = openai_messages([_with_file_urls(m) for m in messages])
    signatures = _signatures(messages)
    for message in converted:
        content = message.get("content")
        if message.get("role") == "assistant" and isinstance(content, list):
            kept = [_replayed(b) for b in content if b.get("type") not in _TOOL_CALL_BLOCKS]
            if kept != content:
                message["content"] = kept or None
        if signatures and message.get("tool_calls"):
            message["tool_calls"] = [
                signed_call(call, signatures.get(call.get("id") or ""))
                for call in message["tool_calls"]
            ]
    return converted


def _with_file_urls(message: BaseMessage) -> BaseMessage:
    """``message`` with its standard ``file`` blocks given by URL (``{"type": "file", "url":
    ...}``) as OpenAI ``file`` parts whose ``file_data`` is the URL, the unified shape for a
    document the provider fetches (Vertex gs:// / https://, Anthropic URL documents):
    langchain-core refuses file URLs, as OpenAI Chat Completions takes none."""
    content = message.content
    if not isinstance(content, list) or not any(_file_url(b) for b in content):
        return message
    blocks = [_file_part(b) if _file_url(b) else b for b in content]
    return message.model_copy(update={"content": blocks})


def _file_url(block: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(block, dict) and block.get("type") == "file" and "url" in block


def _file_part(block: dict[str, Any]) -> dict[str, Any]:
    file = {"file_data": block["url"]}
    name = block.get("filename") or (block.get("extras") or {}).get("filename")
    if isinstance(name, str):
        file["filename"] = name
    return {"type": "file", "file": file}


def _signatures(messages: Sequence[BaseMessage]) -> dict[str, str]:
    """The tool-call signatures the AI messages keep, by call id (ids are unique in a
    conversation, so one map serves every message)."""
    found: dict[str, str] = {}
    for message in messages:
        kept = message.additional_kwargs.get(SIGNATURES) if isinstance(message, AIMessage) else None
        if isinstance(kept, dict):
            found.update({k: v for k, v in kept.items() if isinstance(v, str)})
    return found


def _replayed(block: dict[str, Any]) -> dict[str, Any]:
    """An assistant content block as the unified schema sends it back: a thinking block without
    its stream merge index (the API refuses unknown keys), a v1 reasoning block with a
    signature as the ``thinking`` block it was."""
    kind = block.get("type")
    extras = block.get("extras") or {}
    if kind == "reasoning" and isinstance(extras, dict) and "signature" in extras:
        return {
            "type": "thinking",
            "thinking": block.get("reasoning") or "",
            "signature": extras["signature"],
        }
    if kind in ("thinking", "redacted_thinking") and "index" in block:
        return {k: v for k, v in block.items() if k != "index"}
    return block


def usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain usage, with cache and reasoning details when the provider reports them."""
    result = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    input_details = InputTokenDetails()
    if usage.cache_read_tokens is not None:
        input_details["cache_read"] = usage.cache_read_tokens
    if usage.cache_creation_tokens is not None:
        input_details["cache_creation"] = usage.cache_creation_tokens
    if input_details:
        result["input_token_details"] = input_details
    if usage.reasoning_tokens is not None:
        result["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return result


def to_ai_message(
    choice: ChatChoice,
    *,
    usage: Usage | None,
    metadata: dict[str, Any],
    message_id: str | None,
) -> AIMessage:
    """An ``AIMessage`` from one unified choice; unparseable tool arguments become
    ``invalid_tool_calls`` rather than an exception, as in the other partner packages."""
    tool_calls = []
    invalid = []
    for call in choice.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
            if not isinstance(args, dict):
                raise ValueError("arguments are not a JSON object")
            tool_calls.append(tool_call(name=call.name, args=args, id=call.id))
        except ValueError as exc:
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
    additional: dict[str, Any] = {}
    if choice.reasoning:
        additional["reasoning_content"] = choice.reasoning
    signed = {c.id: c.signature for c in choice.tool_calls if c.signature is not None}
    if signed:
        additional[SIGNATURES] = signed
    content: str | list[str | dict[str, Any]] = choice.content or ""
    if choice.reasoning_blocks:
        # Signed reasoning goes back to the provider on the next turn: it lives in content, as
        # in ChatAnthropic, so histories carry it without any help from the caller.
        content = [b.as_content() for b in choice.reasoning_blocks]
        if choice.content:
            content.append({"type": "text", "text": choice.content})
    return AIMessage(
        content=content,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs=additional,
        usage_metadata=usage_metadata(usage) if usage is not None else None,
        response_metadata={**metadata, "finish_reason": choice.finish_reason},
        id=message_id,
    )


def to_chunk_message(
    choice: ChatChunkChoice, message_id: str | None, *, reasoning_blocks: int | None = None
) -> AIMessageChunk:
    """An ``AIMessageChunk`` from one streamed delta, tool-call fragments included.

    ``reasoning_blocks`` (the number of reasoning blocks seen so far) is given once a stream
    has sent block-wise reasoning: content is then a list of blocks with an ``index`` each,
    which LangChain's chunk merge joins into whole ``thinking`` (with its ``signature``) and
    ``text`` blocks: reasoning block ``k`` is index ``2k``, the text after it ``2k + 1``.
    """
    # Only the fields a delta carries are passed: every keyword costs a pydantic validation, and
    # a plain text delta (the common case) otherwise paid ~40% more per chunk.
    fields: dict[str, Any] = {}
    if choice.tool_calls:
        fields["tool_call_chunks"] = [
            tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
            for d in choice.tool_calls
        ]
    if choice.reasoning:
        fields["additional_kwargs"] = {"reasoning_content": choice.reasoning}
    signed = {d.id: d.signature for d in choice.tool_calls or () if d.id and d.signature}
    if signed:
        # Each call's signature comes whole on one delta: the chunk merge joins the maps.
        fields.setdefault("additional_kwargs", {})[SIGNATURES] = signed
    if message_id is not None:
        fields["id"] = message_id
    if reasoning_blocks is not None:
        # Every chunk names the shape: with output_version="v1" each is translated alone.
        return AIMessageChunk(
            content=_delta_blocks(choice, reasoning_blocks),
            response_metadata={"model_provider": "anthropic"},
            **fields,
        )
    return AIMessageChunk(content=choice.content or "", **fields)


def _delta_blocks(choice: ChatChunkChoice, seen: int) -> list[str | dict[str, Any]]:
    out: list[str | dict[str, Any]] = []
    k = choice.reasoning_index
    if k is not None:
        if choice.reasoning_redacted is not None:
            out.append({"type": "redacted_thinking", "data": choice.reasoning_redacted})
        elif choice.reasoning is not None or choice.reasoning_signature is None:
            out.append({"type": "thinking", "thinking": choice.reasoning or ""})
        if choice.reasoning_signature is not None:
            out.append({"type": "thinking", "signature": choice.reasoning_signature})
        for block in out:
            block["index"] = 2 * k  # type: ignore[index]
    if choice.content:
        out.append({"type": "text", "text": choice.content, "index": 2 * seen - 1})
    return out


class V1ToolIndexes:
    """Tool-call fragments of an ``output_version="v1"`` stream, their indexes moved past the
    text and reasoning blocks streamed before the first call.

    langchain-core numbers the v1 blocks that carry no ``index`` (text, unsigned reasoning)
    from 0, one number per run of one block type, and merges blocks of equal index; tool-call
    fragments keep their own index (0 for the first call), so a plan streamed before the calls
    (Cohere's ``tool_plan``, reasoning_content) swallowed the first call's block.
    """

    __slots__ = ("_kind", "_offset", "_runs")

    def __init__(self) -> None:
        self._runs = 0
        self._kind: str | None = None
        self._offset: int | None = None

    def shift(self, choice: ChatChunkChoice) -> ChatChunkChoice:
        """``choice`` with its tool-call indexes moved; runs are counted until the first call."""
        if self._offset is None:
            # Within one chunk langchain-core puts reasoning before text.
            for kind, present in (("reasoning", choice.reasoning), ("text", choice.content)):
                if present and kind != self._kind:
                    self._kind, self._runs = kind, self._runs + 1
            if not choice.tool_calls:
                return choice
            self._offset = self._runs
        if not (self._offset and choice.tool_calls):
            return choice
        calls = [replace(d, index=d.index + self._offset) for d in choice.tool_calls]
        return replace(choice, tool_calls=calls)
