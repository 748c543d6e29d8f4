"""Vertex AI documents (PDF) and Gemini 3 thought signatures (issue 19), in the core: the parts
sent, the signatures kept on tool calls, and the round trip through a loopback endpoint that
refuses a signed call sent back without its signature, as Gemini 3 does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations import (
    BadRequestError,
    ChatResponse,
    ConfigurationError,
    ExternalClient,
    ToolCall,
    UnsupportedParameterError,
)
from extmodels_integrations._types import ChatChunk, ChatChunkChoice, ToolCallDelta
from extmodels_integrations._wire import SSEEvent
from extmodels_integrations.gateway._app import Settings
from extmodels_integrations.gateway._shapes import chunk_json, response_json
from extmodels_integrations.providers.vertex import ChatStreamParser, gemini_contents, parse_chat
from tests.gateway._inprocess import serve
from tests.providers.cases.vertex import candidate, gemini
from tests.support.gemini_loop import ANSWER, CALLS, SIGNATURE, GeminiLoop, external_model

PDF = "JVBERi0xLjQK"


def _file(**file: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Sum up."}, {"type": "file", "file": file}],
        }
    ]


# -- documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "part"),
    [
        (
            {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
            {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        ),
        (
            {"file_data": "gs://bucket/report.pdf"},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}},
        ),
        (
            # Vertex reads a publicly readable https URL; the filename names the type when
            # the URL's path does not.
            {"filename": "report.pdf", "file_data": "https://example.org/get?id=7"},
            {
                "fileData": {
                    "mimeType": "application/pdf",
                    "fileUri": "https://example.org/get?id=7",
                }
            },
        ),
    ],
)
def test_documents_become_inline_or_file_data(file: dict[str, Any], part: dict[str, Any]) -> None:
    contents, _ = gemini_contents(_file(**file))
    assert contents == [{"role": "user", "parts": [{"text": "Sum up."}, part]}]


@pytest.mark.parametrize(
    ("file", "error", "field"),
    [
        ({"file_id": "file-abc"}, UnsupportedParameterError, r"content\[1\]\.file\.file_id"),
        ({"file_data": "http://example.org/a.pdf"}, UnsupportedParameterError, r"file_data"),
        ({"file_data": "https://example.org/download"}, UnsupportedParameterError, r"file_data"),
        ({"filename": "a.pdf"}, ConfigurationError, r"content\[1\]\.file needs file_data"),
    ],
)
def test_documents_vertex_cannot_read_are_refused_by_field(
    file: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        gemini_contents(_file(**file))


# -- signatures on the response ----------------------------------------------------------------

SIGNED = [
    {"functionCall": CALLS[0], "thoughtSignature": SIGNATURE},
    {"functionCall": CALLS[1]},
]


def test_a_signed_call_keeps_its_signature_and_an_unsigned_one_gets_none() -> None:
    [choice] = parse_chat(gemini(candidate(SIGNED))).choices
    assert [c.signature for c in choice.tool_calls] == [SIGNATURE, None]
    first, second = (c.as_message_call() for c in choice.tool_calls)
    assert first["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
    assert "extra_content" not in second


def test_a_streamed_call_carries_its_signature_on_its_delta() -> None:
    parser = ChatStreamParser(True)
    events = [gemini(candidate([SIGNED[0]], None)), gemini(candidate([SIGNED[1]]))]
    chunks = [parser.parse(SSEEvent(json.dumps(e))) for e in events]
    deltas = [d for c in chunks if c for d in c.choices[0].tool_calls or ()]
    assert [(d.index, d.signature) for d in deltas] == [(0, SIGNATURE), (1, None)]
    # The ids match the plain response's, so a streamed history replays like a plain one.
    plain = parse_chat(gemini(candidate(SIGNED))).choices[0].tool_calls
    assert [d.id for d in deltas] == [c.id for c in plain]


def test_the_gateway_hands_signatures_to_openai_clients() -> None:
    response = parse_chat(gemini(candidate(SIGNED)))
    calls = response_json(response, "m")["choices"][0]["message"]["tool_calls"]
    assert [c.get("extra_content") for c in calls] == [
        {"google": {"thought_signature": SIGNATURE}},
        None,
    ]
    chunk = ChatChunk("r", "m", [_chunk_choice(ToolCallDelta(0, "c", "f", "{}", SIGNATURE))])
    [sent] = chunk_json(chunk, "m")["choices"][0]["delta"]["tool_calls"]
    assert sent["extra_content"] == {"google": {"thought_signature": SIGNATURE}}


def _chunk_choice(delta: ToolCallDelta) -> ChatChunkChoice:
    return ChatChunkChoice(0, None, [delta])


# -- signatures sent back ----------------------------------------------------------------------


def test_the_signature_goes_back_in_the_part_of_its_call_and_nowhere_else() -> None:
    calls = [
        ToolCall("a", "get_weather", '{"city": "Paris"}', SIGNATURE),
        ToolCall("b", "get_weather", '{"city": "Rome"}'),
    ]
    contents, _ = gemini_contents(
        [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [c.as_message_call() for c in calls],
            },
        ]
    )
    assert contents[1]["parts"] == [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": SIGNATURE,
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]


@pytest.fixture(scope="module")
def loop() -> Iterator[GeminiLoop]:
    with GeminiLoop() as server:
        yield server


@pytest.fixture
def client(loop: GeminiLoop) -> Iterator[ExternalClient]:
    loop.bodies.clear()
    with ExternalClient(external_model=external_model(loop), max_retries=0) as made:
        yield made


QUESTION = [{"role": "user", "content": "Weather in Paris and Rome?"}]


def _next_turn(calls: list[ToolCall]) -> list[Any]:
    results = [
        {"role": "tool", "tool_call_id": c.id, "content": json.dumps({"sky": "sunny"})}
        for c in calls
    ]
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [c.as_message_call() for c in calls],
    }
    return [*QUESTION, assistant, *results]


def _merged(chunks: list[ChatChunk]) -> list[ToolCall]:
    """The calls of a stream, as a consumer joins them (by delta index)."""
    calls: dict[int, ToolCall] = {}
    for chunk in chunks:
        for d in chunk.choices[0].tool_calls or () if chunk.choices else ():
            known = calls.setdefault(d.index, ToolCall(d.id or "", d.name or "", ""))
            known.arguments += d.arguments or ""
            known.signature = known.signature or d.signature
    return [calls[i] for i in sorted(calls)]


def _check_round_trip(loop: GeminiLoop, calls: list[ToolCall], answer: ChatResponse) -> None:
    assert [c.signature for c in calls] == [SIGNATURE, None]
    assert answer.choices[0].content == ANSWER
    first, second = loop.call_parts(1)
    assert first["thoughtSignature"] == SIGNATURE and "thoughtSignature" not in second


@pytest.mark.parametrize("streamed", [False, True])
def test_round_trip_sync(client: ExternalClient, loop: GeminiLoop, streamed: bool) -> None:
    if streamed:
        calls = _merged(list(client.stream_chat(messages=QUESTION)))
    else:
        calls = client.chat(messages=QUESTION).choices[0].tool_calls
    _check_round_trip(loop, calls, client.chat(messages=_next_turn(calls)))


@pytest.mark.parametrize("streamed", [False, True])
async def test_round_trip_async(client: ExternalClient, loop: GeminiLoop, streamed: bool) -> None:
    if streamed:
        calls = _merged([c async for c in client.astream_chat(messages=QUESTION)])
    else:
        calls = (await client.achat(messages=QUESTION)).choices[0].tool_calls
    _check_round_trip(loop, calls, await client.achat(messages=_next_turn(calls)))


def test_the_loop_refuses_a_signed_call_sent_back_unsigned(client: ExternalClient) -> None:
    calls = client.chat(messages=QUESTION).choices[0].tool_calls
    stripped = [ToolCall(c.id, c.name, c.arguments) for c in calls]
    with pytest.raises(BadRequestError, match="missing a thought_signature"):
        client.chat(messages=_next_turn(stripped))


# -- through a gateway: the OpenAI format carries the signature as extra_content ---------------

GATEWAY_TOKEN = "gw-gemini3-token-dave"


@pytest.fixture
def via_gateway(
    loop: GeminiLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ExternalClient]:
    # The clients get only the gateway token; the gateway holds the service account.
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    loop.bodies.clear()
    body = {
        "name": "gem",
        "config": {"served_entities": [{"external_model": external_model(loop)}]},
    }
    config = tmp_path / "gem.json"
    config.write_text(json.dumps(body))
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [{"token": GATEWAY_TOKEN, "user": "dave"}]}))
    settings = Settings((str(config),), str(tokens), f"sqlite:///{tmp_path}/u.db")
    with (
        serve(settings) as (url, _),
        ExternalClient(endpoint="gem", host=url, token=GATEWAY_TOKEN, max_retries=0) as client,
    ):
        yield client


@pytest.mark.parametrize("streamed", [False, True])
def test_round_trip_through_a_gateway(
    via_gateway: ExternalClient, loop: GeminiLoop, streamed: bool
) -> None:
    # An endpoint target reads the OpenAI format: the signature must survive it both ways.
    if streamed:
        calls = _merged(list(via_gateway.stream_chat(messages=QUESTION)))
    else:
        calls = via_gateway.chat(messages=QUESTION).choices[0].tool_calls
    _check_round_trip(loop, calls, via_gateway.chat(messages=_next_turn(calls)))
