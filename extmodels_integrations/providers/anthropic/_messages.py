"""OpenAI-style messages -> the Messages API's ``system`` and ``messages``: content blocks, image
and document sources, assistant tool calls as ``tool_use`` and tool results as ``tool_result``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.providers.anthropic._files import check_files, file_block, source


def convert_messages(
    messages: Iterable[Mapping[str, Any]], provider: str
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """``(system, messages)`` for the Messages API from OpenAI-style messages.

    System (and ``developer``) messages are lifted into ``system``; tool results become
    ``tool_result`` blocks of a user turn; assistant tool calls become ``tool_use`` blocks;
    empty text is dropped (the API rejects it); consecutive turns of one role are merged, since
    Bedrock and older API versions reject them rather than merging.
    """
    messages = list(messages)
    check_files(messages, provider)
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system += _blocks(message.get("content"))
            continue
        if role == "tool":
            content: Any = [_tool_result(message)]
            role = "user"
        elif role == "assistant":
            content = _assistant_blocks(message)
        elif role == "user":
            content = _content(message.get("content"))
        else:
            raise ConfigurationError(
                f"provider '{provider}': message role {role!r} is not one of system, user, "
                "assistant, tool"
            )
        if not content:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(content)
        else:
            turns.append({"role": role, "content": content})
    for turn in turns:
        if turn["role"] == "user" and isinstance(turn["content"], list):
            # The API wants a turn's tool results before any other block in it.
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return _system(system), turns


def _system(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    if not blocks:
        return None
    if all(set(block) <= {"type", "text"} for block in blocks):
        return "\n\n".join(block["text"] for block in blocks)
    return blocks  # blocks with cache_control (prompt caching) keep their shape


def _content(content: Any) -> str | list[dict[str, Any]]:
    """A user turn's content: a non-empty string as is, else its non-empty blocks."""
    if isinstance(content, str):
        return content if content.strip() else []
    return _blocks(content)


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks from OpenAI-style content (a string or a list of parts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        block = _block(part)
        if block is not None:
            blocks.append(block)
    return blocks


def _block(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"type": "text", "text": part} if part.strip() else None
    kind = part.get("type")
    if kind == "text":
        return dict(part) if (part.get("text") or "").strip() else None
    if kind == "image_url":
        url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
        return {"type": "image", "source": source(url)}
    if kind == "file":
        return file_block(part["file"])
    if kind in ("reasoning", "thinking_summary"):
        return None  # unsigned reasoning cannot be sent back; the API would reject it
    return dict(part)  # already an Anthropic block (image, document, tool_use, thinking...)


def _assistant_blocks(message: Mapping[str, Any]) -> str | list[dict[str, Any]]:
    calls = message.get("tool_calls") or []
    if not calls:
        return _content(message.get("content"))
    blocks = _blocks(message.get("content"))
    known = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    for call in calls:
        if call.get("id") in known:
            continue  # content already carried this call as a tool_use block
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_input(call.get("id"), function.get("arguments")),
            }
        )
    return blocks


def _tool_input(call_id: Any, arguments: Any) -> Any:
    if arguments is None or arguments == "":
        return {}
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        raise ConfigurationError(
            f"tool call {call_id!r}: arguments are not valid JSON, and Anthropic takes tool "
            "input as a JSON object; fix or drop that tool call from the history"
        ) from None


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content:
        block["content"] = _blocks(content)
    return block
