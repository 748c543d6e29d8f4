"""Prompt lists on targets that answer one prompt per request: the client splits them, so
``CompletionExternal`` batching and ``llm.batch`` work on every provider."""

from __future__ import annotations

import json

import httpx
import pytest

from extmodels_integrations import CompletionRequest, ConfigurationError

ANTHROPIC = {
    "external_model": {
        "name": "claude-3-5-haiku-20241022",
        "provider": "anthropic",
        "task": "llm/v1/completions",
        "anthropic_config": {"anthropic_api_key_plaintext": "test-key"},
    }
}


def _answer(request: httpx.Request) -> httpx.Response:
    prompt = json.loads(request.content)["messages"][0]["content"]
    return httpx.Response(
        200,
        json={
            "id": "msg_" + prompt,
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": prompt.upper()}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 2, "output_tokens": 3},
        },
    )


async def test_a_prompt_list_becomes_one_request_per_prompt_in_order(run, connect) -> None:
    seen: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["messages"][0]["content"])
        return _answer(request)

    client = connect(provider, **ANTHROPIC)
    response = await run(client, "complete", CompletionRequest(prompt=["a", "b", "c"]))
    assert sorted(seen) == ["a", "b", "c"]
    assert [(c.index, c.text) for c in response.choices] == [(0, "A"), (1, "B"), (2, "C")]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (6, 9)
    assert response.usage.total_tokens == 15


async def test_a_single_prompt_list_is_sent_as_is(run, connect) -> None:
    client = connect(_answer, **ANTHROPIC)
    response = await run(client, "complete", CompletionRequest(prompt=["only"]))
    assert [c.text for c in response.choices] == ["ONLY"]


async def test_streaming_a_prompt_list_is_refused_before_sending(run, connect) -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    client = connect(provider, **ANTHROPIC)
    with pytest.raises(ConfigurationError, match="one at a time"):
        await run(client, "stream_complete", CompletionRequest(prompt=["a", "b"]))


def test_completion_external_batches_prompts_on_a_one_prompt_provider() -> None:
    from extmodels_integrations.langchain import CompletionExternal

    mock = httpx.MockTransport(_answer)
    with httpx.Client(transport=mock) as http:
        llm = CompletionExternal(**ANTHROPIC, http_client=http, max_retries=0)
        result = llm.generate(["x", "y"])
    assert [g[0].text for g in result.generations] == ["X", "Y"]
