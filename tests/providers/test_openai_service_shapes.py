"""What OpenAI itself and Azure OpenAI refuse or ignore is settled before sending: Gemini's tool
call signatures and Anthropic's cache hints are left out, a document given by URL is refused with
the fix. A compatible server (Gemini's OpenAI API, vLLM...) gets all three as written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extmodels_integrations import ChatRequest, UnsupportedParameterError
from tests.providers.test_openai_family import AZURE, CALLS, USER, FakeServer, openai_block

SIGNED_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    "extra_content": {"google": {"thought_signature": "c2lnbmVk"}},
}
HISTORY = [
    *USER,
    {"role": "assistant", "content": None, "tool_calls": [SIGNED_CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]
UNSIGNED_CALL = {k: v for k, v in SIGNED_CALL.items() if k != "extra_content"}
PDF_URL = "https://example.com/report.pdf"
PDF_DATA = "data:application/pdf;base64,JVBERi0xLjQK"

OPENAI = openai_block("chat", openai_api_key_plaintext="sk-test-0001")
COMPATIBLE = openai_block(
    "chat",
    openai_api_key_plaintext="sk-test-0001",
    openai_api_base="https://generativelanguage.googleapis.com/v1beta/openai",
)
SERVICES = pytest.mark.parametrize("block", [OPENAI, AZURE.client("chat")], ids=["openai", "azure"])


def _file_message(file_data: str) -> list[dict[str, Any]]:
    part = {"type": "file", "file": {"filename": "report.pdf", "file_data": file_data}}
    return [{"role": "user", "content": [{"type": "text", "text": "Sum it up"}, part]}]


@pytest.mark.parametrize("call", ["chat", "stream_chat"])
@SERVICES
async def test_openai_and_azure_get_tool_calls_without_another_providers_signature(
    run, connect, call: str, block: dict[str, Any]
) -> None:
    server = FakeServer(CALLS[0].reply if call == "chat" else CALLS[1].reply)
    await run(connect(server, **block), call, ChatRequest(messages=HISTORY))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content)["messages"][1]["tool_calls"] == [UNSIGNED_CALL]


async def test_a_compatible_server_gets_the_signature_back(run, connect) -> None:
    server = FakeServer(CALLS[0].reply)
    await run(connect(server, **COMPATIBLE), "chat", ChatRequest(messages=HISTORY))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content)["messages"][1]["tool_calls"] == [SIGNED_CALL]


@pytest.mark.parametrize("call", ["chat", "stream_chat"])
@SERVICES
async def test_a_document_url_is_refused_before_sending_with_the_fix(
    run, connect, call: str, block: dict[str, Any]
) -> None:
    server = FakeServer(CALLS[0].reply)
    request = ChatRequest(messages=_file_message(PDF_URL))  # type: ignore[arg-type]

    with pytest.raises(UnsupportedParameterError) as caught:
        await run(connect(server, **block), call, request)

    assert caught.value.parameter == "messages[0].content[1].file.file_data"
    assert "data:application/pdf;base64" in str(caught.value)
    assert server.api_requests == []


@SERVICES
async def test_a_base64_document_goes_as_written(run, connect, block: dict[str, Any]) -> None:
    server = FakeServer(CALLS[0].reply)
    messages = _file_message(PDF_DATA)
    await run(connect(server, **block), "chat", ChatRequest(messages=messages))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content)["messages"] == messages


async def test_a_compatible_server_gets_the_document_url(run, connect) -> None:
    server = FakeServer(CALLS[0].reply)
    messages = _file_message(PDF_URL)
    await run(connect(server, **COMPATIBLE), "chat", ChatRequest(messages=messages))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content)["messages"] == messages


def _cached_system() -> list[dict[str, Any]]:
    long = {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}}
    return [{"role": "system", "content": [long]}, *USER]


@SERVICES
async def test_openai_and_azure_get_cached_text_without_anthropics_hint(
    run, connect, block: dict[str, Any]
) -> None:
    server = FakeServer(CALLS[0].reply)
    await run(connect(server, **block), "chat", ChatRequest(messages=_cached_system()))  # type: ignore[arg-type]

    [sent] = server.api_requests
    system = json.loads(sent.content)["messages"][0]
    assert system == {"role": "system", "content": [{"type": "text", "text": "long context"}]}


async def test_a_compatible_server_gets_the_cache_hint(run, connect) -> None:
    server = FakeServer(CALLS[0].reply)
    await run(connect(server, **COMPATIBLE), "chat", ChatRequest(messages=_cached_system()))  # type: ignore[arg-type]

    [sent] = server.api_requests
    assert json.loads(sent.content)["messages"] == _cached_system()
