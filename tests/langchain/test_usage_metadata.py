"""Unified usage -> LangChain ``UsageMetadata``, checked on every langchain-core the range
admits (the locked suite runs the newest, ``make test-lowest`` runs 1.7.2): the optional detail
keys appear only when the provider reported them, and streamed usage sums through LangChain's
own chunk addition."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk

from extmodels_integrations._types import Usage
from extmodels_integrations.langchain._convert import usage_metadata


def test_plain_usage_has_no_detail_keys() -> None:
    assert usage_metadata(Usage(10, 2, 12)) == {
        "input_tokens": 10,
        "output_tokens": 2,
        "total_tokens": 12,
    }


def test_cache_and_reasoning_details() -> None:
    usage = Usage(10, 7, 17, cache_read_tokens=4, cache_creation_tokens=3, reasoning_tokens=5)
    assert usage_metadata(usage) == {
        "input_tokens": 10,
        "output_tokens": 7,
        "total_tokens": 17,
        "input_token_details": {"cache_read": 4, "cache_creation": 3},
        "output_token_details": {"reasoning": 5},
    }


def test_zero_details_are_reported_not_dropped() -> None:
    usage = Usage(1, 1, 2, cache_read_tokens=0, reasoning_tokens=0)
    meta = usage_metadata(usage)
    assert meta.get("input_token_details") == {"cache_read": 0}
    assert meta.get("output_token_details") == {"reasoning": 0}


def test_messages_accept_and_sum_it() -> None:
    message = AIMessage("hi", usage_metadata=usage_metadata(Usage(3, 1, 4, cache_read_tokens=2)))
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"] == {"cache_read": 2}
    first = AIMessageChunk(content="a", usage_metadata=usage_metadata(Usage(3, 0, 3)))
    last = AIMessageChunk(
        content="b", usage_metadata=usage_metadata(Usage(0, 2, 2, reasoning_tokens=1))
    )
    total = (first + last).usage_metadata
    assert total is not None
    assert (total["input_tokens"], total["output_tokens"], total["total_tokens"]) == (3, 2, 5)
    assert total.get("output_token_details") == {"reasoning": 1}
