"""Pure conversions between LlamaIndex objects and the unified schema (no I/O).

Responses carry what LlamaIndex's own OpenAI class carries, so the framework's consumers work
unchanged: token counts in ``additional_kwargs`` (``prompt_tokens``/``completion_tokens``/
``total_tokens``, read by ``TokenCountingHandler``), tool calls both as ``ToolCallBlock``s and
as OpenAI-style dicts in ``message.additional_kwargs["tool_calls"]`` (read by the streaming
structured-output programs), and the unified response as a plain dict in ``raw``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    DocumentBlock,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import (
    ChatChunk,
    ChatChunkChoice,
    CompletionChoice,
    CompletionChunk,
    Message,
    ReasoningBlock,
    ToolCall,
    ToolCallDelta,
    Usage,
    call_signature,
    signed_call,
)
from extmodels_integrations._types import (
    ChatResponse as UnifiedChatResponse,
)
from extmodels_integrations._types import (
    CompletionResponse as UnifiedCompletionResponse,
)
from extmodels_integrations.llama_index._logprobs import chat_logprobs, completion_logprobs

__all__ = [
    "ChatStream",
    "CompletionStream",
    "to_chat_response",
    "to_completion_response",
    "to_unified_messages",
    "tool_selections",
    "usage_kwargs",
]

# Where a ThinkingBlock keeps what the provider needs to take the block back: the key
# llama-index-llms-anthropic and -bedrock-converse use for the signature, so histories move
# between them and these classes; and the encrypted data of a redacted block.
_SIGNATURE = "signature"
_REDACTED = "redacted_thinking"

# Roles other providers' LlamaIndex classes produce, in the unified vocabulary.
_ROLES = {"chatbot": "assistant", "model": "assistant", "function": "tool"}


# -- requests ----------------------------------------------------------------------------------


def to_unified_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """OpenAI-style message dicts: text, images, tool calls and tool results."""
    return [_message(m) for m in messages]


def _message(message: ChatMessage) -> Message:
    role = _ROLES.get(message.role.value, message.role.value)
    out = Message(role=role, content=_content(message))
    extra = message.additional_kwargs
    legacy = [_legacy_call(c) for c in extra.get("tool_calls") or ()]
    calls = [_call_dict(b) for b in message.blocks if isinstance(b, ToolCallBlock)]
    if calls and legacy:
        # A ToolCallBlock has no room for a signature (Gemini thoughtSignature): the OpenAI-style
        # dicts beside the blocks keep it, by call id.
        signed = {c["id"]: call_signature(c) for c in legacy}
        calls = [signed_call(c, signed.get(c["id"])) for c in calls]
    calls = calls or legacy
    if calls:
        out["tool_calls"] = calls
    if role == "tool" and extra.get("tool_call_id"):
        out["tool_call_id"] = str(extra["tool_call_id"])
    if isinstance(extra.get("name"), str):
        out["name"] = extra["name"]
    return out


def _content(message: ChatMessage) -> str | list[dict[str, Any]] | None:
    parts: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, CachePoint):
            _cache_point(block, parts)
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append({"type": "image_url", "image_url": _image_url(block)})
        elif isinstance(block, DocumentBlock):
            # As with images, a URL is passed on for the provider to fetch.
            url = str(block.url) if block.url is not None and not block.data else None
            data = url or block.inline_url()
            parts.append({"type": "file", "file": {"filename": block.title, "file_data": data}})
        elif isinstance(block, ThinkingBlock):
            signed = _signed(block)
            if signed is not None:
                parts.append(signed.as_content())
        elif not isinstance(block, ToolCallBlock):
            # Sent nowhere rather than silently dropped: the caller should know.
            raise ConfigurationError(
                f"{type(block).__name__} content is not supported: send text, images and documents"
            )
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        # Plain strings where possible: some serving endpoints reject a list of parts.
        return "\n".join(p["text"] for p in parts) if parts else None
    return parts


def _cache_point(block: CachePoint, parts: list[dict[str, Any]]) -> None:
    """``cache_control`` on the last part before the CachePoint, where LlamaIndex's Anthropic
    integration puts it; a CachePoint with no part before it would be lost."""
    if not parts:
        raise ConfigurationError(
            "a CachePoint must follow a text or image block of the same message: it marks "
            "the end of the cached prefix there"
        )
    parts[-1]["cache_control"] = block.cache_control.model_dump(exclude_none=True)


def _signed(block: ThinkingBlock) -> ReasoningBlock | None:
    """The block as reasoning to send back, when the provider signed it (Anthropic extended
    thinking refuses a tool-use turn without it); unsigned reasoning is not sent back."""
    info = block.additional_information
    redacted, signature = info.get(_REDACTED), info.get(_SIGNATURE)
    if isinstance(redacted, str):
        return ReasoningBlock("", redacted=redacted)
    if isinstance(signature, str):
        return ReasoningBlock(block.content or "", signature)
    return None


def _thinking(block: ReasoningBlock) -> ThinkingBlock:
    if block.redacted is not None:
        return ThinkingBlock(content="", additional_information={_REDACTED: block.redacted})
    info = {_SIGNATURE: block.signature} if block.signature is not None else {}
    return ThinkingBlock(content=block.text, additional_information=info)


def _image_url(block: ImageBlock) -> dict[str, Any]:
    # A URL is passed on as is (the provider fetches it); bytes or a path become a data URL.
    url = str(block.url) if block.url is not None and block.image is None else block.inline_url()
    return {"url": url, "detail": block.detail} if block.detail else {"url": url}


def _call_dict(block: ToolCallBlock) -> dict[str, Any]:
    kwargs = block.tool_kwargs
    arguments = kwargs if isinstance(kwargs, str) else json.dumps(kwargs, ensure_ascii=False)
    return {
        "id": block.tool_call_id or "",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments},
    }


def _legacy_call(call: Any) -> dict[str, Any]:
    """A tool call kept in ``additional_kwargs`` by older integrations (dict or SDK object)."""
    data = call.model_dump() if hasattr(call, "model_dump") else dict(call)
    function = dict(data.get("function") or {})
    converted = {
        "id": data.get("id") or "",
        "type": "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": function.get("arguments") or "{}",
        },
    }
    return signed_call(converted, call_signature(data))


# -- responses ---------------------------------------------------------------------------------


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts under the names LlamaIndex reads; detail counts when reported."""
    if usage is None:
        return {}
    counts = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    for name in ("cache_read_tokens", "cache_creation_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        if value is not None:
            counts[name] = value
    return counts


def _assistant(
    content: str | None,
    reasoning: str | None,
    calls: Sequence[ToolCall | ToolCallDelta],
    signed: Sequence[ReasoningBlock] = (),
) -> ChatMessage:
    blocks: list[Any] = []
    if signed:
        blocks.extend(_thinking(b) for b in signed)
    elif reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
    blocks.append(TextBlock(text=content or ""))
    dicts = []
    for call in calls:
        arguments = call.arguments or ""
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.id, tool_name=call.name or "", tool_kwargs=_arguments(arguments)
            )
        )
        dict_call = {
            "id": call.id or "",
            "type": "function",
            "function": {"name": call.name or "", "arguments": arguments},
        }
        dicts.append(signed_call(dict_call, call.signature))
    extra = {"tool_calls": dicts} if dicts else {}
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=extra)


def _arguments(text: str) -> dict[str, Any] | str:
    """Parsed arguments when they are a complete JSON object, else the text as it is (a
    stream in progress, or a model that produced invalid JSON)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _meta(model: str | None, finish_reason: str | None, usage: Usage | None) -> dict[str, Any]:
    return {**usage_kwargs(usage), "model": model, "finish_reason": finish_reason}


def to_chat_response(response: UnifiedChatResponse, model: str | None) -> ChatResponse:
    """A LlamaIndex chat response from the first choice of a unified one."""
    choice = response.choices[0] if response.choices else None
    message = (
        _assistant(choice.content, choice.reasoning, choice.tool_calls, choice.reasoning_blocks)
        if choice is not None
        else _assistant(None, None, [])
    )
    finish = choice.finish_reason if choice is not None else None
    logprobs = chat_logprobs(choice.logprobs) if choice is not None else []
    return ChatResponse(
        message=message,
        raw=dataclasses.asdict(response),
        logprobs=logprobs or None,
        additional_kwargs=_meta(response.model or model, finish, response.usage),
    )


def to_completion_response(
    response: UnifiedCompletionResponse, model: str | None
) -> CompletionResponse:
    """A LlamaIndex completion response from the first choice of a unified one."""
    choice = min(response.choices, key=lambda c: c.index) if response.choices else None
    return CompletionResponse(
        text=choice.text if choice is not None else "",
        logprobs=completion_logprobs(choice.logprobs) if choice is not None else None,
        raw=dataclasses.asdict(response),
        additional_kwargs=_meta(
            response.model or model,
            choice.finish_reason if choice is not None else None,
            response.usage,
        ),
    )


def _fields(obj: Any) -> dict[str, Any]:
    """A slotted dataclass's fields, one level deep (lists of dataclasses included)."""
    out = {}
    for name in type(obj).__slots__:
        value = getattr(obj, name)
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            value = [_fields(item) for item in value]
        out[name] = value
    return out


def _chunk_dict(chunk: ChatChunk | CompletionChunk) -> dict[str, Any]:
    """``dataclasses.asdict`` for a chunk, written out: asdict's generic deep copy cost more
    than everything else per streamed token (measured)."""
    return {
        "id": chunk.id,
        "model": chunk.model,
        "choices": [_choice_dict(choice) for choice in chunk.choices],
        "usage": None if chunk.usage is None else _fields(chunk.usage),
        "provider": chunk.provider,
        "metadata": chunk.metadata,
        "object": chunk.object,
        "created": chunk.created,
    }


def _choice_dict(choice: ChatChunkChoice | CompletionChoice) -> dict[str, Any]:
    if type(choice) is not ChatChunkChoice:
        return _fields(choice)
    # Spelled out for the chat choice of every streamed token: ~0.4 µs less than _fields.
    calls = choice.tool_calls
    return {
        "index": choice.index,
        "content": choice.content,
        "tool_calls": None if calls is None else [_fields(call) for call in calls],
        "finish_reason": choice.finish_reason,
        "reasoning": choice.reasoning,
        "role": choice.role,
        "reasoning_index": choice.reasoning_index,
        "reasoning_signature": choice.reasoning_signature,
        "reasoning_redacted": choice.reasoning_redacted,
        "logprobs": choice.logprobs,
    }


class ChatStream:
    """Accumulates unified chat chunks into LlamaIndex responses: each carries the message so
    far and the new text; :meth:`last` carries usage, finish reason and model, once.

    Log probabilities, when asked for, are where llama-index-llms-openai's stream has them: a
    response's ``raw`` holds its delta's OpenAI object. :meth:`last` also carries the whole
    answer's in ``logprobs``, as :meth:`ChatExternal.chat` gives them.
    """

    __slots__ = (
        "calls",
        "finish_reason",
        "logprobs",
        "model",
        "raw",
        "reasoning",
        "signed",
        "text",
        "usage",
    )

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.text = ""
        self.reasoning = ""
        # Signed reasoning blocks by their stream index (Anthropic), joined as they arrive.
        self.signed: dict[int, ReasoningBlock] = {}
        self.calls: dict[int, ToolCallDelta] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.raw: dict[str, Any] = {}
        self.logprobs: list[list[LogProb]] = []

    def add(self, chunk: ChatChunk) -> ChatResponse | None:
        """The response for ``chunk``, or ``None`` when it adds nothing to the message."""
        self.usage = chunk.usage or self.usage
        self.model = chunk.model or self.model
        self.raw = _chunk_dict(chunk)
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        self.finish_reason = choice.finish_reason or self.finish_reason
        for delta in choice.tool_calls or ():
            self._merge(delta)
        self.text += choice.content or ""
        self.reasoning += choice.reasoning or ""
        if choice.logprobs is not None:
            self.logprobs += chat_logprobs(choice.logprobs)
        if choice.reasoning_index is not None:
            self._sign(choice)
        if not (choice.content or choice.tool_calls or choice.reasoning):
            return None
        extra = {"thinking_delta": choice.reasoning} if choice.reasoning else {}
        return ChatResponse(
            message=self._message(),
            delta=choice.content or "",
            raw=self.raw,
            additional_kwargs=extra,
        )

    def _sign(self, choice: ChatChunkChoice) -> None:
        assert choice.reasoning_index is not None
        block = self.signed.setdefault(choice.reasoning_index, ReasoningBlock(""))
        block.text += choice.reasoning or ""
        if choice.reasoning_signature is not None:
            block.signature = (block.signature or "") + choice.reasoning_signature
        if choice.reasoning_redacted is not None:
            block.redacted = (block.redacted or "") + choice.reasoning_redacted

    def _merge(self, delta: ToolCallDelta) -> None:
        known = self.calls.get(delta.index)
        if known is None:
            self.calls[delta.index] = ToolCallDelta(
                delta.index, delta.id, delta.name, delta.arguments or "", delta.signature
            )
            return
        known.id = known.id or delta.id
        known.signature = known.signature or delta.signature
        known.name = (known.name or "") + (delta.name or "")
        known.arguments = (known.arguments or "") + (delta.arguments or "")

    def _message(self) -> ChatMessage:
        if not (self.calls or self.reasoning):
            # Plain text, nearly every chunk. The block goes in as a dict: pydantic builds it
            # inside the message's validation, ~0.75 µs less than a TextBlock built first.
            return ChatMessage(
                role=MessageRole.ASSISTANT, blocks=[{"block_type": "text", "text": self.text}]
            )
        calls = [self.calls[i] for i in sorted(self.calls)]
        signed = [self.signed[i] for i in sorted(self.signed)]
        return _assistant(self.text, self.reasoning or None, calls, signed)

    def last(self) -> ChatResponse:
        """The closing response: the whole message, no new text, usage and metadata."""
        return ChatResponse(
            message=self._message(),
            delta="",
            raw=self.raw,
            logprobs=self.logprobs or None,
            additional_kwargs=_meta(self.model, self.finish_reason, self.usage),
        )


class CompletionStream:
    """:class:`ChatStream` for completions."""

    __slots__ = ("finish_reason", "model", "raw", "text", "usage")

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.text = ""
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.raw: dict[str, Any] = {}

    def add(self, chunk: CompletionChunk) -> CompletionResponse | None:
        """The response for ``chunk``, or ``None`` when it adds no text."""
        self.usage = chunk.usage or self.usage
        self.model = chunk.model or self.model
        self.raw = _chunk_dict(chunk)
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        self.finish_reason = choice.finish_reason or self.finish_reason
        if not choice.text:
            return None
        self.text += choice.text
        return CompletionResponse(text=self.text, delta=choice.text, raw=self.raw)

    def last(self) -> CompletionResponse:
        """The closing response: the whole text, no new text, usage and metadata."""
        return CompletionResponse(
            text=self.text,
            delta="",
            raw=self.raw,
            additional_kwargs=_meta(self.model, self.finish_reason, self.usage),
        )


# -- tools -------------------------------------------------------------------------------------


def tool_selections(response: ChatResponse) -> list[ToolSelection]:
    """The tool calls of a (possibly partial, streamed) response."""
    selections = []
    for block in response.message.blocks:
        if not isinstance(block, ToolCallBlock):
            continue
        kwargs = block.tool_kwargs
        if isinstance(kwargs, str):
            # A stream in progress: LlamaIndex's own parser completes partial JSON.
            try:
                kwargs = parse_partial_json(kwargs) if kwargs else {}
            except ValueError:
                kwargs = {}
        selections.append(
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=kwargs if isinstance(kwargs, dict) else {},
            )
        )
    return selections
