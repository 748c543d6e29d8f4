"""Our own suite for ``CompletionExternal`` (LangChain has no standard ``BaseLLM`` suite).

Runs against the loopback stub server, which answers every prompt ``p`` with
``"Stub reply to: <p>. Let me know how I can help you further."`` (choice ``j > 0`` of ``n``
gets a ``" (choice j)"`` suffix) and counts one token per whitespace-separated word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import GenerationChunk

from extmodels_integrations import ConfigurationError
from extmodels_integrations.langchain import CompletionExternal
from tests.support.openai_server import OpenAIStubServer, RecordedRequest

TOKEN = "test-token"
PROMPT = "Write a haiku about the sea"


def reply(prompt: str, choice: int = 0) -> str:
    text = f"Stub reply to: {prompt}. Let me know how I can help you further."
    return text + (f" (choice {choice})" if choice else "")


@pytest.fixture
def make_llm(server: OpenAIStubServer) -> Iterator[Callable[..., CompletionExternal]]:
    made: list[CompletionExternal] = []

    def make(**params: Any) -> CompletionExternal:
        params.setdefault("endpoint", "completions-ep")
        made.append(CompletionExternal(host=server.base_url, token=TOKEN, **params))
        return made[-1]

    yield make
    for model in made:
        model.client.close()


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)


# --------------------------------------------------------------------------- invoke and stream


def test_invoke_returns_the_completion_text(server, make_llm) -> None:
    result = make_llm().invoke(PROMPT)

    assert isinstance(result, str)
    assert result == reply(PROMPT)
    request = server.requests[-1]
    assert request.path == "/serving-endpoints/completions-ep/invocations"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"prompt": PROMPT}


async def test_ainvoke_returns_the_completion_text(server, make_llm) -> None:
    assert await make_llm().ainvoke(PROMPT) == reply(PROMPT)
    assert server.last_json() == {"prompt": PROMPT}


def test_stream_yields_string_chunks_that_join_to_the_invoke_text(server, make_llm) -> None:
    llm = make_llm()
    chunks = list(llm.stream(PROMPT))

    assert len(chunks) > 3
    assert all(isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == llm.invoke(PROMPT)
    assert server.requests[0].json["stream"] is True


async def test_astream_yields_string_chunks_that_join_to_the_invoke_text(server, make_llm) -> None:
    llm = make_llm()
    chunks = [chunk async for chunk in llm.astream(PROMPT)]

    assert len(chunks) > 3
    assert all(isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == await llm.ainvoke(PROMPT)
    assert server.requests[0].json["stream"] is True


# --------------------------------------------------------------------------- batching


PROMPTS = [f"prompt number {i}" for i in range(5)]


def test_batch_sends_several_prompts_per_request(server, make_llm) -> None:
    outputs = make_llm(batch_size=2).batch(PROMPTS)

    assert [r.json["prompt"] for r in server.requests] == [
        PROMPTS[0:2],
        PROMPTS[2:4],
        PROMPTS[4],  # a lone prompt goes out as a string
    ]
    assert outputs == [reply(p) for p in PROMPTS]


async def test_abatch_sends_several_prompts_per_request(server, make_llm) -> None:
    outputs = await make_llm(batch_size=2).abatch(PROMPTS)

    sent = sorted((r.json["prompt"] for r in server.requests), key=str)
    assert sent == sorted([PROMPTS[0:2], PROMPTS[2:4], PROMPTS[4]], key=str)
    assert outputs == [reply(p) for p in PROMPTS]


def test_generate_maps_prompts_to_their_generations(server, make_llm) -> None:
    result = make_llm(batch_size=3).generate(PROMPTS)

    assert len(server.requests) == 2
    assert [[g.text for g in gens] for gens in result.generations] == [[reply(p)] for p in PROMPTS]


def test_n_gives_n_generations_per_prompt(server, make_llm) -> None:
    result = make_llm(n=2).generate(["first", "second"])

    assert server.last_json()["n"] == 2
    assert len(server.requests) == 1
    assert [[g.text for g in gens] for gens in result.generations] == [
        [reply("first"), reply("first", 1)],
        [reply("second"), reply("second", 1)],
    ]


def test_call_time_n_beats_constructor(server, make_llm) -> None:
    result = make_llm(n=3).generate([PROMPT], n=2)

    assert server.last_json()["n"] == 2
    assert [g.text for g in result.generations[0]] == [reply(PROMPT), reply(PROMPT, 1)]


def test_stream_with_n_does_not_mix_choices(server, make_llm) -> None:
    llm = make_llm(n=2)
    try:
        text = "".join(llm.stream(PROMPT))
    except ConfigurationError as error:  # refusing like ChatExternal does is fine too
        assert "n=2" in str(error)
        return
    assert text == reply(PROMPT)


# --------------------------------------------------------------------------- call-time arguments


def test_call_time_stop_beats_constructor(server, make_llm) -> None:
    llm = make_llm(stop=["help"])
    assert llm.invoke(PROMPT) == reply(PROMPT).split("help")[0]
    assert server.last_json()["stop"] == ["help"]

    result = llm.invoke(PROMPT, stop=["haiku"])

    assert server.last_json()["stop"] == ["haiku"]
    assert result == "Stub reply to: Write a "


def test_call_time_stop_beats_constructor_when_streaming(server, make_llm) -> None:
    llm = make_llm(stop=["help"])
    text = "".join(llm.stream(PROMPT, stop=["haiku"]))

    assert server.last_json()["stop"] == ["haiku"]
    assert text == "Stub reply to: Write a "


def test_stop_sequences_alias(server, make_llm) -> None:
    make_llm(stop_sequences=["sea"]).invoke(PROMPT)
    assert server.last_json()["stop"] == ["sea"]


def test_call_time_temperature_and_max_tokens_beat_constructor(server, make_llm) -> None:
    llm = make_llm(temperature=0.1, max_tokens=100)
    llm.invoke(PROMPT)
    assert (server.last_json()["temperature"], server.last_json()["max_tokens"]) == (0.1, 100)

    result = llm.invoke(PROMPT, temperature=0.9, max_tokens=3)

    assert (server.last_json()["temperature"], server.last_json()["max_tokens"]) == (0.9, 3)
    assert result == "Stub reply to:"  # three words


async def test_call_time_arguments_beat_constructor_async_and_streaming(server, make_llm) -> None:
    llm = make_llm(temperature=0.1, max_tokens=100, stop=["Stub"])
    chunks = [c async for c in llm.astream(PROMPT, temperature=0.7, max_tokens=5, stop=["zzz"])]

    sent = server.last_json()
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.7, 5, ["zzz"])
    assert "".join(chunks) == "Stub reply to: Write a"


def test_bind_and_extra_params_reach_the_body(server, make_llm) -> None:
    llm = make_llm(temperature=0.1, extra_params={"top_p": 0.5, "logit_bias": {"50256": -100}})
    llm.bind(temperature=0.4, top_p=0.9).invoke(PROMPT)

    sent = server.last_json()
    assert sent["temperature"] == 0.4
    assert sent["top_p"] == 0.9
    assert sent["logit_bias"] == {"50256": -100}


# --------------------------------------------------------------------------- metadata


def test_ls_params(make_llm) -> None:
    llm = make_llm(temperature=0.3, max_tokens=12, stop=["end"])

    params = llm._get_ls_params()
    assert params["ls_model_type"] == "llm"
    assert params["ls_provider"] == "databricks"
    assert params["ls_model_name"] == "completions-ep"
    assert params["ls_temperature"] == 0.3
    assert params["ls_stop"] == ["end"]
    assert llm._get_ls_params(model="other-ep")["ls_model_name"] == "other-ep"
    assert llm._get_ls_params(stop=["call"])["ls_stop"] == ["call"]


def test_ls_params_for_an_external_model(server) -> None:
    llm = CompletionExternal(
        external_model={
            "name": "gpt-3.5-turbo-instruct",
            "provider": "openai",
            "task": "llm/v1/completions",
            "openai_config": {
                "openai_api_key_plaintext": "sk-test",
                "openai_api_base": f"{server.base_url}/v1",
            },
        }
    )
    params = llm._get_ls_params()
    assert (params["ls_provider"], params["ls_model_name"]) == ("openai", "gpt-3.5-turbo-instruct")


def test_identifying_params(make_llm) -> None:
    llm = make_llm(temperature=0.3, max_tokens=12, stop=["end"], n=2, extra_params={"top_p": 0.5})

    assert llm._identifying_params == {
        "model": "completions-ep",
        "provider": "databricks",
        "temperature": 0.3,
        "max_tokens": 12,
        "stop": ["end"],
        "n": 2,
        "top_p": 0.5,
    }
    assert llm._llm_type == "extmodels-completion"


def test_token_usage_in_llm_output(server, make_llm) -> None:
    result = make_llm().generate([PROMPT])

    usage = result.llm_output["token_usage"]
    expected_output = len(reply(PROMPT).split())
    assert usage == {
        "input_tokens": len(PROMPT.split()),
        "output_tokens": expected_output,
        "total_tokens": len(PROMPT.split()) + expected_output,
    }
    assert result.llm_output["model_name"] == "completions-ep"


def test_token_usage_is_summed_over_requests(server, make_llm) -> None:
    prompts = ["one", "two words", "three words here"]
    result = make_llm(batch_size=1).generate(prompts)

    assert len(server.requests) == 3
    usage = result.llm_output["token_usage"]
    assert usage["input_tokens"] == 1 + 2 + 3
    assert usage["output_tokens"] == sum(len(reply(p).split()) for p in prompts)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_last_stream_chunk_carries_usage(server, make_llm) -> None:
    chunks: list[GenerationChunk] = list(make_llm()._stream(PROMPT))

    with_usage = [i for i, c in enumerate(chunks) if "usage" in (c.generation_info or {})]
    assert with_usage == [len(chunks) - 1]
    last = chunks[-1].generation_info
    assert last is not None
    assert last["usage"]["input_tokens"] == len(PROMPT.split())
    assert last["usage"]["output_tokens"] == len(reply(PROMPT).split())
    assert last["finish_reason"] == "stop"
    assert server.last_json()["stream_options"] == {"include_usage": True}


async def test_last_async_stream_chunk_carries_usage(server, make_llm) -> None:
    chunks = [c async for c in make_llm()._astream(PROMPT)]

    with_usage = [i for i, c in enumerate(chunks) if "usage" in (c.generation_info or {})]
    assert with_usage == [len(chunks) - 1]
    assert chunks[-1].generation_info["usage"]["input_tokens"] == len(PROMPT.split())


def test_stream_without_usage_has_no_usage(server, make_llm) -> None:
    chunks = list(make_llm(stream_usage=False)._stream(PROMPT))

    assert "stream_options" not in server.last_json()
    assert all("usage" not in (c.generation_info or {}) for c in chunks)
    assert "".join(c.text for c in chunks) == reply(PROMPT)


# --------------------------------------------------------------------------- callbacks, streaming


def test_callbacks_receive_tokens_while_streaming(server, make_llm) -> None:
    recorder = TokenRecorder()
    chunks = list(make_llm().stream(PROMPT, config={"callbacks": [recorder]}))

    assert recorder.tokens == [chunk for chunk in chunks if chunk]  # not the final metadata one
    assert all(isinstance(chunk, GenerationChunk) for chunk in recorder.chunks)


async def test_callbacks_receive_tokens_while_streaming_async(server, make_llm) -> None:
    recorder = TokenRecorder()
    chunks = [c async for c in make_llm().astream(PROMPT, config={"callbacks": [recorder]})]

    assert recorder.tokens == [chunk for chunk in chunks if chunk]
    assert "".join(recorder.tokens) == reply(PROMPT)


def test_streaming_true_invoke_streams_under_the_hood(server, make_llm) -> None:
    recorder = TokenRecorder()
    llm = make_llm(streaming=True)
    result = llm.invoke(PROMPT, config={"callbacks": [recorder]})

    assert result == reply(PROMPT)
    assert server.last_json()["stream"] is True
    assert len(recorder.tokens) > 3
    assert "".join(recorder.tokens) == result


async def test_streaming_true_ainvoke_streams_under_the_hood(server, make_llm) -> None:
    recorder = TokenRecorder()
    result = await make_llm(streaming=True).ainvoke(PROMPT, config={"callbacks": [recorder]})

    assert result == reply(PROMPT)
    assert server.last_json()["stream"] is True
    assert "".join(recorder.tokens) == result


def test_streaming_true_generate_keeps_usage(server, make_llm) -> None:
    result = make_llm(streaming=True).generate([PROMPT])

    assert server.last_json()["stream"] is True
    assert result.generations[0][0].text == reply(PROMPT)
    assert result.llm_output["token_usage"]["input_tokens"] == len(PROMPT.split())
    assert result.generations[0][0].generation_info["usage"]["output_tokens"] == len(
        reply(PROMPT).split()
    )


# --------------------------------------------------------------------------- configuration


def test_init_from_env(server, monkeypatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", server.base_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "token-from-env")
    llm = CompletionExternal(model="env-ep")

    assert llm.endpoint == "env-ep"
    assert llm.invoke(PROMPT) == reply(PROMPT)
    request: RecordedRequest = server.requests[-1]
    assert request.path == "/serving-endpoints/env-ep/invocations"
    assert request.headers["authorization"] == "Bearer token-from-env"


def test_model_override_goes_to_another_endpoint(server, make_llm) -> None:
    make_llm().invoke(PROMPT, model="other-ep")
    assert server.requests[-1].path == "/serving-endpoints/other-ep/invocations"


def test_task_mismatch_is_a_clear_configuration_error(server) -> None:
    with pytest.raises(ConfigurationError) as info:
        CompletionExternal(
            external_model={
                "name": "gpt-4o-mini",
                "provider": "openai",
                "task": "llm/v1/chat",
                "openai_config": {
                    "openai_api_key_plaintext": "sk-test",
                    "openai_api_base": f"{server.base_url}/v1",
                },
            }
        )
    message = str(info.value)
    assert "external_model.task" in message
    assert "CompletionExternal needs 'llm/v1/completions'" in message
    assert "use ChatExternal" in message
    assert server.requests == []


def test_openai_external_model_target(server) -> None:
    llm = CompletionExternal(
        external_model={
            "name": "gpt-3.5-turbo-instruct",
            "provider": "openai",
            "task": "llm/v1/completions",
            "openai_config": {
                "openai_api_key_plaintext": "sk-test",
                "openai_api_base": f"{server.base_url}/v1",
            },
        },
        max_tokens=64,
    )

    assert llm.invoke(PROMPT) == reply(PROMPT)
    request = server.requests[-1]
    assert request.path == "/v1/completions"
    assert request.json == {"prompt": PROMPT, "max_tokens": 64, "model": "gpt-3.5-turbo-instruct"}
