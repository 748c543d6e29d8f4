"""``cache_control`` on LangChain content blocks reaches the unified messages on the block it
was written on (langchain-core's converter drops it)."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_messages,
)

from extmodels_integrations import ConfigurationError
from extmodels_integrations.langchain._cache_marks import _put_back
from extmodels_integrations.langchain._convert import to_unified_messages

MARK = {"type": "ephemeral"}


def test_marks_stay_on_their_blocks_and_unmarked_messages_are_unchanged() -> None:
    messages = [
        SystemMessage([{"type": "text", "text": "Be brief.", "cache_control": MARK}]),
        HumanMessage(
            [
                {"type": "text", "text": "first"},
                {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
                {
                    "type": "text",
                    "text": "second",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {
                    "type": "image",
                    "base64": "BBBB",
                    "mime_type": "image/png",
                    "cache_control": MARK,
                },
            ]
        ),
        AIMessage(
            [
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
            tool_calls=[{"name": "f", "args": {}, "id": "t1"}],
        ),
        ToolMessage("42", tool_call_id="t1"),
        HumanMessage([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
    ]
    system, user, assistant, tool, last = to_unified_messages(messages)
    # A lone marked text block stays a block (a string has nowhere to hold the mark).
    assert system["content"] == [{"type": "text", "text": "Be brief.", "cache_control": MARK}]
    content = user["content"]
    assert isinstance(content, list)
    assert [b.get("cache_control") for b in content] == [
        None,
        None,
        {"type": "ephemeral", "ttl": "1h"},
        MARK,
    ]
    assert content[3]["image_url"]["url"].endswith("BBBB")
    assert assistant["tool_calls"][0]["id"] == "t1" and tool["role"] == "tool"
    # Messages without marks convert exactly as langchain-core converts them.
    assert last["content"] == "a\nb"


def test_without_marks_the_conversion_is_langchain_cores() -> None:
    messages = [HumanMessage([{"type": "text", "text": "x"}]), AIMessage("y")]
    assert to_unified_messages(messages) == convert_to_openai_messages(messages)


def test_a_mark_next_to_a_tool_result_stays_on_its_text_block() -> None:
    message = HumanMessage(
        [
            {"type": "tool_result", "tool_use_id": "t", "content": "y"},
            {"type": "text", "text": "z", "cache_control": MARK},
        ]
    )
    [user] = [m for m in to_unified_messages([message]) if m["role"] == "user"]
    assert user["content"] == [{"type": "text", "text": "z", "cache_control": MARK}]


def test_a_mark_with_no_converted_block_to_hold_it_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cache_control on a text content block"):
        _put_back([{"role": "user", "content": "x"}], [("text", 0, MARK)])
