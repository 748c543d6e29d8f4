"""OpenAI-style messages that keep Anthropic-style ``cache_control`` marks on content blocks.

langchain-core's ``convert_to_openai_messages`` rebuilds every block from its known keys, so a
``cache_control`` on a text or image block is lost, and a message of text blocks only is joined
into one string. Messages that carry a mark are converted with ``text_format="block"`` (one block
per block) and each mark is put back on the block it came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import BaseMessage, convert_to_openai_messages

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import Message

# Blocks that leave ``content`` on conversion (tool calls move to ``tool_calls``, tool results
# become ``tool`` messages), so they take no place among the converted blocks.
_MOVED = frozenset(
    {
        "tool_use",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "tool_result",
        "function_call",
    }
)

#: (``"text"`` or ``"other"``, its index among the converted blocks of that kind, the mark)
_Mark = tuple[str, int, Any]


def openai_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """``convert_to_openai_messages`` with every content block's ``cache_control`` kept."""
    marked = [_marks(m.content) for m in messages]
    if not any(marked):
        return cast("list[Message]", convert_to_openai_messages(list(messages)))
    out: list[Message] = []
    for message, marks in zip(messages, marked, strict=True):
        if not marks:
            out += cast("list[Message]", convert_to_openai_messages([message]))
            continue
        blocks = convert_to_openai_messages([message], text_format="block")
        converted = cast("list[Message]", blocks)
        _put_back(converted, marks)
        out += converted
    return out


def _marks(content: Any) -> list[_Mark]:
    if not isinstance(content, list):
        return []
    marks: list[_Mark] = []
    counts = {"text": 0, "other": 0}
    for block in content:
        if not isinstance(block, dict) or block.get("type") in _MOVED:
            continue
        kind = "text" if block.get("type") == "text" else "other"
        if "cache_control" in block:
            marks.append((kind, counts[kind], block["cache_control"]))
        counts[kind] += 1
    return marks


def _put_back(converted: list[Message], marks: list[_Mark]) -> None:
    holder = next((m for m in converted if m.get("role") != "tool"), None)
    content = holder.get("content") if holder is not None else None
    blocks: list[Any] = content if isinstance(content, list) else []
    by_kind = {
        "text": [b for b in blocks if isinstance(b, dict) and b.get("type") == "text"],
        "other": [b for b in blocks if isinstance(b, dict) and b.get("type") != "text"],
    }
    for kind, index, mark in marks:
        if index >= len(by_kind[kind]):
            # A mark with no block left to carry it would be lost without a word.
            raise ConfigurationError(
                f"cache_control on a {kind} content block could not be kept: langchain-core "
                "did not convert that block; put cache_control on a text or image block"
            )
        by_kind[kind][index]["cache_control"] = mark
