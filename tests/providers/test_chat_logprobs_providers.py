"""Log probabilities asked OpenAI-style (``logprobs=True``, ``top_logprobs=k``) on the providers
that do not speak OpenAI's format: on the wire in the provider's own shape, and back in OpenAI's
chat shape, plain and per streamed chunk, through the sync and async clients (the completions
task in :mod:`tests.providers.test_completion_logprobs_providers`).

Wire shapes: Gemini ``generationConfig.responseLogprobs`` / ``logprobs`` and
``candidates[].logprobsResult`` (python-genai ``types.py``: ``GenerationConfig``,
``LogprobsResult``, ``LogprobsResultCandidate``, ``LogprobsResultTopCandidates``); Cohere v2
``logprobs: true`` and ``logprobs: [{text, token_ids, logprobs}]`` on the response and on each
``content-delta`` event (cohere-python ``V2ChatResponse``, ``ChatContentDeltaEvent``,
``LogprobItem``); AI21 Jamba's chunk ``logprobs.content`` as one entry (ai21-python
``models/logprobs.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    ConfigurationError,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers import build_adapter
from tests.providers.cases import ai21labs, amazon_bedrock, anthropic, cohere, vertex
from tests.support.harness import Case, FakeProvider, Reply, check_exchanges

HI = [{"role": "user", "content": "Hi"}]
ASKED = {"logprobs": True, "top_logprobs": 2}


def entry(token: str, logprob: float, *top: tuple[str, float]) -> dict[str, Any]:
    """One entry of OpenAI's chat ``logprobs.content``."""
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
    }


# -- Vertex AI (Gemini) ------------------------------------------------------------------------

FLASH = vertex.FLASH
CONTENTS = [{"role": "user", "parts": [{"text": "Hi"}]}]
GEMINI_VERSION = "gemini-2.0-flash-001"


def steps(*chosen: tuple[str, float | None, list[tuple[str, float]]]) -> dict[str, Any]:
    """A ``logprobsResult``; a ``None`` logprob is left out, as proto3 JSON leaves out 0.0."""

    def candidate(token: str, logprob: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"token": token, "tokenId": len(token)}
        return out if logprob is None else {**out, "logProbability": logprob}

    return {
        "chosenCandidates": [candidate(t, lp) for t, lp, _ in chosen],
        "topCandidates": [
            {"candidates": [candidate(t, lp) for t, lp in top]} for *_, top in chosen
        ],
    }


def gemini_candidate(text: str, result: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {**vertex.candidate([{"text": text}], finish), "logprobsResult": result}


HELLO_STEPS = steps(("Hel", -0.5, [("Hel", -0.5), ("Hi", -1.5)]), ("lo", None, [("lo", 0.0)]))
HELLO_ENTRIES = [entry("Hel", -0.5, ("Hel", -0.5), ("Hi", -1.5)), entry("lo", 0.0, ("lo", 0.0))]
SNOW_STEPS = steps((" ☃", -2.25, [(" ☃", -2.25), ("!", -3.0)]))
SNOW_ENTRIES = [entry(" ☃", -2.25, (" ☃", -2.25), ("!", -3.0))]
GEMINI_ASKED = {"responseLogprobs": True, "logprobs": 2}

VERTEX_CASES = [
    vertex.case(
        "vertex-chat-plain-logprobs",
        vertex.target(vertex.CHAT, FLASH),
        "chat",
        ChatRequest(messages=HI, extra_params=ASKED),  # type: ignore[arg-type]
        (
            vertex.exchange(
                f"{vertex.MODELS}/{FLASH}:generateContent",
                {"contents": CONTENTS, "generationConfig": GEMINI_ASKED},
                Reply(json=vertex.gemini(gemini_candidate("Hello", HELLO_STEPS, "STOP"))),
            ),
        ),
        ChatResponse(
            "resp-1",
            GEMINI_VERSION,
            [ChatChoice(0, "Hello", [], "stop", logprobs={"content": HELLO_ENTRIES})],
            None,
            vertex.PROVIDER,
        ),
    ),
    vertex.case(
        "vertex-chat-stream-logprobs",
        vertex.target(vertex.CHAT, FLASH),
        "stream_chat",
        ChatRequest(messages=HI, extra_params=ASKED),  # type: ignore[arg-type]
        (
            vertex.exchange(
                f"{vertex.MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {"contents": CONTENTS, "generationConfig": GEMINI_ASKED},
                Reply(
                    events=(
                        vertex.gemini(gemini_candidate("Hello", HELLO_STEPS, None)),
                        vertex.gemini(gemini_candidate(" ☃", SNOW_STEPS, "STOP")),
                    )
                ),
            ),
        ),
        [
            ChatChunk(
                "resp-1",
                GEMINI_VERSION,
                [
                    ChatChunkChoice(
                        0, "Hello", role="assistant", logprobs={"content": HELLO_ENTRIES}
                    )
                ],
                None,
                vertex.PROVIDER,
            ),
            ChatChunk(
                "resp-1",
                GEMINI_VERSION,
                [
                    ChatChunkChoice(
                        0,
                        " ☃",
                        finish_reason="stop",
                        role="assistant",
                        logprobs={"content": SNOW_ENTRIES},
                    )
                ],
                None,
                vertex.PROVIDER,
            ),
        ],
    ),
]


def _vertex_body(**extra: Any) -> dict[str, Any]:
    adapter = build_adapter(
        parse_external_model(vertex.target(vertex.CHAT, FLASH)["external_model"]),
        SecretResolver(None),
    )
    sent = adapter.chat_request(ChatRequest(messages=HI, extra_params=extra), stream=False)  # type: ignore[arg-type]
    assert isinstance(sent.json, dict)
    return sent.json


@pytest.mark.parametrize(
    ("extra", "config"),
    [
        ({"logprobs": True}, {"responseLogprobs": True}),
        ({"logprobs": True, "top_logprobs": 0}, {"responseLogprobs": True}),
        ({"logprobs": True, "top_logprobs": 20}, {"responseLogprobs": True, "logprobs": 20}),
        ({"logprobs": False}, {"responseLogprobs": False}),
        # Gemini's own names pass as written.
        ({"responseLogprobs": True, "logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
        (
            {"generationConfig": {"responseLogprobs": True, "logprobs": 4}},
            {"responseLogprobs": True, "logprobs": 4},
        ),
    ],
)
def test_gemini_takes_openai_and_its_own_logprob_names(
    extra: dict[str, Any], config: dict[str, Any]
) -> None:
    body = _vertex_body(**extra)
    assert body["generationConfig"] == config
    assert "top_logprobs" not in body


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"top_logprobs": 2}, r"top_logprobs needs logprobs=True.*add logprobs=True"),
        ({"logprobs": False, "top_logprobs": 2}, r"top_logprobs needs logprobs=True"),
        ({"logprobs": True, "top_logprobs": -1}, r"top_logprobs must be a whole number"),
        ({"logprobs": True, "top_logprobs": "2"}, r"top_logprobs must be a whole number"),
        ({"logprobs": True, "top_logprobs": 21}, r"top_logprobs=21: .*at most 20.*20 or fewer"),
    ],
)
def test_gemini_refuses_top_logprobs_without_logprobs(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        _vertex_body(**extra)


# -- Cohere v2 ---------------------------------------------------------------------------------

# A snowman spread over two byte tokens: the item's text belongs to both.
COHERE_ITEMS = [
    {"text": "Hel", "token_ids": [1], "logprobs": [-0.5]},
    {"text": "lo", "token_ids": [2], "logprobs": [-0.25]},
    {"text": " ☃", "token_ids": [3, 4], "logprobs": [-1.0, -0.125]},
]
COHERE_ENTRIES = [
    entry("Hel", -0.5),
    entry("lo", -0.25),
    entry(" ☃", -1.0),
    {"token": "", "logprob": -0.125, "bytes": None, "top_logprobs": []},
]
COHERE_BODY = {"model": cohere.CHAT_MODEL, "messages": HI, "logprobs": True}


def cohere_delta(item: dict[str, Any]) -> dict[str, Any]:
    return {**cohere.content_delta(item["text"]), "logprobs": item}


COHERE_CASES = [
    Case(
        id="cohere-chat-plain-logprobs",
        target=cohere.CHAT,
        call="chat",
        request=ChatRequest(messages=HI, extra_params={"logprobs": True}),  # type: ignore[arg-type]
        exchanges=(
            cohere.chat_exchange(
                COHERE_BODY,
                Reply(json={**cohere.reply("Hello ☃"), "logprobs": COHERE_ITEMS}),
            ),
        ),
        expected=ChatResponse(
            "resp-1",
            cohere.CHAT_MODEL,
            [ChatChoice(0, "Hello ☃", [], "stop", logprobs={"content": COHERE_ENTRIES})],
            cohere.USAGE,
            "cohere",
        ),
        credentials=cohere.CREDENTIALS,
    ),
    Case(
        id="cohere-chat-stream-logprobs",
        target=cohere.CHAT,
        call="stream_chat",
        request=ChatRequest(messages=HI, extra_params={"logprobs": True}),  # type: ignore[arg-type]
        exchanges=(
            cohere.chat_exchange(
                {**COHERE_BODY, "stream": True},
                cohere.stream_events(
                    cohere.MESSAGE_START,
                    cohere.CONTENT_START,
                    *(cohere_delta(item) for item in COHERE_ITEMS),
                    {"type": "content-end", "index": 0},
                    cohere.message_end("COMPLETE"),
                ),
            ),
        ),
        expected=[
            cohere.chunk(ChatChunkChoice(role="assistant")),
            cohere.chunk(ChatChunkChoice(content="Hel", logprobs={"content": COHERE_ENTRIES[:1]})),
            cohere.chunk(ChatChunkChoice(content="lo", logprobs={"content": COHERE_ENTRIES[1:2]})),
            cohere.chunk(ChatChunkChoice(content=" ☃", logprobs={"content": COHERE_ENTRIES[2:]})),
            cohere.chunk(ChatChunkChoice(finish_reason="stop")),
            cohere.usage_chunk(),
        ],
        credentials=cohere.CREDENTIALS,
    ),
]


# -- AI21 Jamba (API and Bedrock) --------------------------------------------------------------

# AI21 sends each chunk's one entry as an object, not a list, and no bytes.
AI21_ENTRY = {"token": "Hel", "logprob": -0.5, "top_logprobs": [{"token": "Hi", "logprob": -1.5}]}
AI21_LOGPROBS = {"content": [AI21_ENTRY]}
BP = amazon_bedrock.P


def jamba_chunk(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> Any:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return {"id": "chat-2", "choices": [choice]}


AI21_CASES = [
    Case(
        id="ai21labs-chat-stream-logprobs",
        target=ai21labs.CHAT,
        call="stream_chat",
        request=ChatRequest(messages=HI, extra_params=ASKED),  # type: ignore[arg-type]
        exchanges=(
            ai21labs.exchange(
                ai21labs.CHAT_URL,
                {"model": ai21labs.CHAT_MODEL, "messages": HI, **ASKED, "stream": True},
                Reply(
                    events=(
                        jamba_chunk({"content": "Hel"}, {"content": AI21_ENTRY}),
                        jamba_chunk({}, None, "stop"),
                        "[DONE]",
                    )
                ),
            ),
        ),
        expected=[
            ChatChunk(
                "chat-2",
                None,
                [ChatChunkChoice(0, "Hel", logprobs=AI21_LOGPROBS)],
                None,
                "ai21labs",
            ),
            ChatChunk("chat-2", None, [ChatChunkChoice(0, finish_reason="stop")], None, "ai21labs"),
        ],
        credentials=ai21labs.CREDENTIALS,
    ),
    amazon_bedrock.case(
        "amazon-bedrock-chat-stream-ai21labs-logprobs",
        amazon_bedrock.JAMBA,
        "stream_chat",
        ChatRequest(messages=HI, extra_params=ASKED),  # type: ignore[arg-type]
        {"messages": HI, **ASKED},
        amazon_bedrock.frames(
            jamba_chunk({"content": "Hel"}, {"content": AI21_ENTRY}),
            jamba_chunk({}, None, "stop"),
            prompt=1,
            output=1,
        ),
        [
            ChatChunk(
                "chat-2",
                None,
                [ChatChunkChoice(0, "Hel", logprobs=AI21_LOGPROBS)],
                None,
                BP,
            ),
            ChatChunk(
                "chat-2", None, [ChatChunkChoice(0, finish_reason="stop")], None, amazon_bedrock.P
            ),
            ChatChunk(
                "chat-2", amazon_bedrock.JAMBA, [], amazon_bedrock.usage(1, 1), amazon_bedrock.P
            ),
        ],
    ),
    amazon_bedrock.case(
        "amazon-bedrock-chat-plain-ai21labs-logprobs",
        amazon_bedrock.JAMBA,
        "chat",
        ChatRequest(messages=HI, extra_params=ASKED),  # type: ignore[arg-type]
        {"messages": HI, **ASKED},
        Reply(
            json={
                "id": "chat-1",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hel"},
                        "logprobs": {"content": AI21_ENTRY},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ),
        ChatResponse(
            "chat-1",
            amazon_bedrock.JAMBA,
            [ChatChoice(0, "Hel", [], "stop", logprobs=AI21_LOGPROBS)],
            amazon_bedrock.usage(1, 1),
            BP,
        ),
    ),
]

CASES = VERTEX_CASES + COHERE_CASES + AI21_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_logprobs_on_the_wire_and_back(run: Any, connect: Any, case: Case) -> None:
    provider = FakeProvider(case)
    client = connect(provider, **case.target)
    assert await run(client, case.call, case.request) == case.expected
    check_exchanges(case, provider)


# -- refusals ----------------------------------------------------------------------------------

NO_LOGPROBS = {
    "anthropic": anthropic.target(),
    "bedrock-anthropic": amazon_bedrock.target(amazon_bedrock.CLAUDE, "llm/v1/chat"),
    "bedrock-cohere": amazon_bedrock.target(amazon_bedrock.COMMAND_R, "llm/v1/chat"),
    "bedrock-titan": amazon_bedrock.target(amazon_bedrock.TITAN, "llm/v1/chat"),
}


@pytest.mark.parametrize("name", ["logprobs", "top_logprobs"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("target", NO_LOGPROBS.values(), ids=NO_LOGPROBS.keys())
def test_providers_without_logprobs_refuse_them_with_the_fix(
    target: dict[str, Any], stream: bool, name: str
) -> None:
    adapter = build_adapter(parse_external_model(target["external_model"]), SecretResolver(None))
    request = ChatRequest(messages=HI, extra_params={name: True if name == "logprobs" else 2})  # type: ignore[arg-type]
    with pytest.raises(UnsupportedParameterError, match=rf"'{name}'.*log probabilities.*remove"):
        adapter.chat_request(request, stream=stream)


def test_cohere_refuses_top_logprobs_with_the_fix() -> None:
    adapter = build_adapter(
        parse_external_model(cohere.CHAT["external_model"]), SecretResolver(None)
    )
    with pytest.raises(UnsupportedParameterError, match="only takes logprobs=true"):
        adapter.chat_request(ChatRequest(messages=HI, extra_params=ASKED), stream=False)  # type: ignore[arg-type]
