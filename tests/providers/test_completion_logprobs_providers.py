"""Log probabilities on the completions task of the providers that do not speak OpenAI's
format: OpenAI's legacy ``logprobs=k`` on the wire in the provider's shape, and the legacy
``logprobs`` object back (``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``, the
offsets running over a stream), plain and streamed, through the sync and async clients. Wire
shapes as in :mod:`tests.providers.test_chat_logprobs_providers`."""

from __future__ import annotations

from typing import Any

import pytest

from extmodels_integrations import (
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers import build_adapter
from tests.providers.cases import amazon_bedrock, cohere, vertex
from tests.providers.test_chat_logprobs_providers import (
    AI21_ENTRY,
    BP,
    COHERE_BODY,
    COHERE_ITEMS,
    CONTENTS,
    FLASH,
    GEMINI_ASKED,
    GEMINI_VERSION,
    HELLO_STEPS,
    HI,
    cohere_delta,
    gemini_candidate,
    jamba_chunk,
    steps,
)
from tests.support.harness import Case, FakeProvider, Reply, check_exchanges

COHERE_LEGACY = {
    "tokens": ["Hel", "lo", " ☃", ""],
    "token_logprobs": [-0.5, -0.25, -1.0, -0.125],
    "top_logprobs": [{}, {}, {}, {}],
    "text_offset": [0, 3, 5, 7],
}


def _legacy_slice(legacy: dict[str, Any], part: slice) -> dict[str, Any]:
    """The legacy object of a streamed piece: its tokens' lists, offsets from the text start."""
    return {key: values[part] for key, values in legacy.items()}


LO_ENTRY = {"token": "lo", "logprob": -0.25, "top_logprobs": [{"token": "lo", "logprob": -0.25}]}


def _bedrock_piece(text: str, offset: int, entry: dict[str, Any]) -> CompletionChunk:
    top = {t["token"]: t["logprob"] for t in entry["top_logprobs"]}
    legacy = {
        "tokens": [text],
        "token_logprobs": [entry["logprob"]],
        "top_logprobs": [top],
        "text_offset": [offset],
    }
    return CompletionChunk("chat-2", None, [CompletionChoice(0, text, None, legacy)], None, BP)


CASES = [
    vertex.case(
        "vertex-completions-plain-logprobs",
        vertex.target(vertex.COMPLETIONS, FLASH),
        "complete",
        CompletionRequest(prompt="Hi", extra_params={"logprobs": 2}),
        (
            vertex.exchange(
                f"{vertex.MODELS}/{FLASH}:generateContent",
                {"contents": CONTENTS, "generationConfig": GEMINI_ASKED},
                Reply(json=vertex.gemini(gemini_candidate("Hello", HELLO_STEPS, "STOP"))),
            ),
        ),
        CompletionResponse(
            "resp-1",
            GEMINI_VERSION,
            [
                CompletionChoice(
                    0,
                    "Hello",
                    "stop",
                    {
                        "tokens": ["Hel", "lo"],
                        "token_logprobs": [-0.5, 0.0],
                        "top_logprobs": [{"Hel": -0.5, "Hi": -1.5}, {"lo": 0.0}],
                        "text_offset": [0, 3],
                    },
                )
            ],
            None,
            vertex.PROVIDER,
        ),
    ),
    vertex.case(
        "vertex-completions-stream-logprobs",
        vertex.target(vertex.COMPLETIONS, FLASH),
        "stream_complete",
        # OpenAI's legacy logprobs=0: the chosen tokens' logprobs, no alternatives.
        CompletionRequest(prompt="Hi", extra_params={"logprobs": 0}),
        (
            vertex.exchange(
                f"{vertex.MODELS}/{FLASH}:streamGenerateContent?alt=sse",
                {"contents": CONTENTS, "generationConfig": {"responseLogprobs": True}},
                Reply(
                    events=(
                        vertex.gemini(
                            gemini_candidate(
                                "Hello", steps(("Hel", -0.5, []), ("lo", -0.25, [])), None
                            )
                        ),
                        vertex.gemini(gemini_candidate(" ☃", steps((" ☃", -2.0, [])), "STOP")),
                    )
                ),
            ),
        ),
        [
            CompletionChunk(
                "resp-1",
                GEMINI_VERSION,
                [
                    CompletionChoice(
                        0,
                        "Hello",
                        None,
                        {
                            "tokens": ["Hel", "lo"],
                            "token_logprobs": [-0.5, -0.25],
                            "top_logprobs": [{}, {}],
                            "text_offset": [0, 3],
                        },
                    )
                ],
                None,
                vertex.PROVIDER,
            ),
            CompletionChunk(
                "resp-1",
                GEMINI_VERSION,
                [
                    CompletionChoice(
                        0,
                        " ☃",
                        "stop",
                        # Offsets run on from the previous chunk's text.
                        {
                            "tokens": [" ☃"],
                            "token_logprobs": [-2.0],
                            "top_logprobs": [{}],
                            "text_offset": [5],
                        },
                    )
                ],
                None,
                vertex.PROVIDER,
            ),
        ],
    ),
    Case(
        id="cohere-completions-plain-logprobs",
        target=cohere.COMPLETIONS,
        call="complete",
        # OpenAI's legacy logprobs=0: the chosen tokens' logprobs, all that v2 chat returns.
        request=CompletionRequest(prompt="Hi", extra_params={"logprobs": 0}),
        exchanges=(
            cohere.chat_exchange(
                COHERE_BODY, Reply(json={**cohere.reply("Hello ☃"), "logprobs": COHERE_ITEMS})
            ),
        ),
        expected=CompletionResponse(
            "resp-1",
            cohere.CHAT_MODEL,
            [CompletionChoice(0, "Hello ☃", "stop", COHERE_LEGACY)],
            cohere.USAGE,
            "cohere",
        ),
        credentials=cohere.CREDENTIALS,
    ),
    Case(
        id="cohere-completions-stream-logprobs",
        target=cohere.COMPLETIONS,
        call="stream_complete",
        request=CompletionRequest(prompt="Hi", extra_params={"logprobs": True}),
        exchanges=(
            cohere.chat_exchange(
                {**COHERE_BODY, "stream": True},
                cohere.stream_events(
                    cohere.MESSAGE_START,
                    *(cohere_delta(item) for item in COHERE_ITEMS),
                    cohere.message_end("COMPLETE"),
                ),
            ),
        ),
        expected=[
            *(
                CompletionChunk(
                    "resp-2",
                    None,
                    [CompletionChoice(0, text, None, _legacy_slice(COHERE_LEGACY, part))],
                    None,
                    "cohere",
                )
                for text, part in (("Hel", slice(0, 1)), ("lo", slice(1, 2)), (" ☃", slice(2, 4)))
            ),
            CompletionChunk("resp-2", None, [CompletionChoice(0, "", "stop")], None, "cohere"),
            CompletionChunk("resp-2", cohere.CHAT_MODEL, [], cohere.USAGE, "cohere"),
        ],
        credentials=cohere.CREDENTIALS,
    ),
    amazon_bedrock.case(
        # OpenAI's legacy logprobs=1 is Jamba's logprobs=true with top_logprobs=1.
        "amazon-bedrock-completions-stream-ai21labs-logprobs",
        amazon_bedrock.JAMBA,
        "stream_complete",
        CompletionRequest(prompt="Hi", extra_params={"logprobs": 1}),
        {"messages": HI, "logprobs": True, "top_logprobs": 1},
        amazon_bedrock.frames(
            jamba_chunk({"content": "Hel"}, {"content": AI21_ENTRY}),
            jamba_chunk({"content": "lo"}, {"content": LO_ENTRY}),
            jamba_chunk({}, None, "stop"),
            prompt=1,
            output=2,
        ),
        [
            _bedrock_piece("Hel", 0, AI21_ENTRY),
            _bedrock_piece("lo", 3, LO_ENTRY),
            CompletionChunk("chat-2", None, [CompletionChoice(0, "", "stop")], None, BP),
            CompletionChunk("chat-2", amazon_bedrock.JAMBA, [], amazon_bedrock.usage(1, 2), BP),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_legacy_logprobs_on_the_wire_and_back(run: Any, connect: Any, case: Case) -> None:
    provider = FakeProvider(case)
    client = connect(provider, **case.target)
    assert await run(client, case.call, case.request) == case.expected
    check_exchanges(case, provider)


def test_cohere_completions_refuse_alternatives_with_the_fix() -> None:
    adapter = build_adapter(
        parse_external_model(cohere.COMPLETIONS["external_model"]), SecretResolver(None)
    )
    request = CompletionRequest(prompt="Hi", extra_params={"logprobs": 2})
    with pytest.raises(UnsupportedParameterError, match=r"'logprobs'.*use logprobs=0"):
        adapter.completion_request(request, stream=False)
