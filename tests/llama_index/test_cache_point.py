"""LlamaIndex ``CachePoint`` blocks through the classes on the loopback Anthropic stub: the
mark lands on the block before it (where llama-index-llms-anthropic puts it), the stub reports
cache tokens back, and a CachePoint with nothing before it is refused instead of lost."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import (
    CacheControl,
    CachePoint,
    ChatMessage,
    MessageRole,
    TextBlock,
)

from extmodels_integrations import ConfigurationError
from extmodels_integrations.llama_index import ChatExternal
from tests.support.openai_server import OpenAIStubServer


def _claude(stub: OpenAIStubServer) -> ChatExternal:
    return ChatExternal(
        external_model={
            "name": "claude-sonnet-4-5-20250929",
            "provider": "anthropic",
            "task": "llm/v1/chat",
            "anthropic_config": {
                "anthropic_api_key_plaintext": "test-key",
                "anthropic_api_base": stub.base_url,
            },
        },
        max_tokens=256,
    )


def _system(*blocks: TextBlock | CachePoint) -> ChatMessage:
    return ChatMessage(role=MessageRole.SYSTEM, blocks=list(blocks))


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_cache_point_marks_the_block_before_it(
    stub: OpenAIStubServer, streamed: bool, sync: bool
) -> None:
    llm = _claude(stub)
    messages = [
        _system(
            TextBlock(text="Be brief."),
            TextBlock(text="A long shared document."),
            CachePoint(cache_control=CacheControl(type="ephemeral", ttl="1h")),
        ),
        ChatMessage(role=MessageRole.USER, content="Hello there"),
    ]
    if not streamed:
        response = llm.chat(messages) if sync else await llm.achat(messages)
    elif sync:
        response = list(llm.stream_chat(messages))[-1]
    else:
        response = [r async for r in await llm.astream_chat(messages)][-1]
    system = stub.last_json()["system"]
    assert [block.get("cache_control") for block in system] == [
        None,
        {"type": "ephemeral", "ttl": "1h"},
    ]
    assert response.message.content
    usage = response.additional_kwargs
    assert usage.get("cache_read_tokens", 0) > 0, usage


def test_a_cache_point_with_nothing_before_it_is_refused(stub: OpenAIStubServer) -> None:
    messages = [
        _system(CachePoint(cache_control=CacheControl(type="ephemeral")), TextBlock(text="x")),
        ChatMessage(role=MessageRole.USER, content="hi"),
    ]
    with pytest.raises(ConfigurationError, match="CachePoint must follow"):
        _claude(stub).chat(messages)
