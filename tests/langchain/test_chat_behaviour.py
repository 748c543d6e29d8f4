"""``ChatExternal`` behaviour the langchain-tests standard suites do not check.

Most tests assert on the JSON the loopback stub server received; a few need a canned response
the stub does not produce (usage details, malformed tool-call arguments) and use an
``httpx.MockTransport`` passed as ``http_client=`` / ``http_async_client=``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import extmodels_integrations as ei
from extmodels_integrations.langchain import ChatExternal
from tests.support.openai_server import OpenAIStubServer

TOKEN = "test-token"
QUESTION = "Tell me about the sea"


@pytest.fixture
def make_chat(server: OpenAIStubServer) -> Iterator[Callable[..., ChatExternal]]:
    made: list[ChatExternal] = []

    def make(**params: Any) -> ChatExternal:
        params.setdefault("endpoint", "chat-ep")
        made.append(ChatExternal(host=server.base_url, token=TOKEN, **params))
        return made[-1]

    yield make
    for model in made:
        model.client.close()


# --------------------------------------------------------------------------- call-time arguments


def test_call_time_arguments_beat_constructor(server, make_chat) -> None:
    chat = make_chat(temperature=0.1, max_tokens=100, stop=["never"])
    chat.invoke(QUESTION)
    sent = server.last_json()
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.1, 100, ["never"])

    result = chat.invoke(QUESTION, temperature=0.8, max_tokens=4, stop=["about"])

    sent = server.last_json()
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.8, 4, ["about"])
    assert result.content == "Stub reply to: Tell"  # four words, cut before the stop word


def test_call_time_arguments_beat_constructor_when_streaming(server, make_chat) -> None:
    chat = make_chat(temperature=0.1, max_tokens=100, stop=["never"])
    text = "".join(str(c.content) for c in chat.stream(QUESTION, temperature=0, stop=["sea"]))

    sent = server.last_json()
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0, 100, ["sea"])
    assert text == "Stub reply to: Tell me about the "


async def test_call_time_arguments_beat_constructor_async(server, make_chat) -> None:
    chat = make_chat(temperature=0.1, max_tokens=100)
    await chat.ainvoke(QUESTION, temperature=1.5, max_tokens=7)

    sent = server.last_json()
    assert (sent["temperature"], sent["max_tokens"]) == (1.5, 7)


def test_stop_sequences_alias(server, make_chat) -> None:
    make_chat(stop_sequences=["sea"]).invoke(QUESTION)
    assert server.last_json()["stop"] == ["sea"]


def test_bind_sets_call_time_arguments(server, make_chat) -> None:
    chat = make_chat(temperature=0.1)
    bound = chat.bind(temperature=0.6, max_tokens=9)
    bound.invoke(QUESTION)
    assert (server.last_json()["temperature"], server.last_json()["max_tokens"]) == (0.6, 9)

    chat.invoke(QUESTION)  # the original is untouched
    assert server.last_json()["temperature"] == 0.1
    assert "max_tokens" not in server.last_json()


EXTRAS = {
    "top_k": 40,
    "logit_bias": {"1734": -100},
    "frequency_penalty": 0.5,
    "presence_penalty": 0.25,
}


def test_extra_params_are_passed_through(server, make_chat) -> None:
    make_chat(extra_params=EXTRAS).invoke(QUESTION)

    sent = server.last_json()
    assert {k: sent[k] for k in EXTRAS} == EXTRAS


def test_call_time_extras_merge_over_extra_params(server, make_chat) -> None:
    chat = make_chat(extra_params=EXTRAS)
    chat.invoke(QUESTION, top_k=5, presence_penalty=1.0, seed=7)

    sent = server.last_json()
    assert sent["top_k"] == 5
    assert sent["presence_penalty"] == 1.0
    assert sent["seed"] == 7
    assert sent["logit_bias"] == EXTRAS["logit_bias"]
    assert sent["frequency_penalty"] == EXTRAS["frequency_penalty"]
    assert chat.extra_params == EXTRAS  # not mutated by the call


def test_extra_params_also_go_into_streams(server, make_chat) -> None:
    list(make_chat(extra_params=EXTRAS).stream(QUESTION, top_k=3))

    sent = server.last_json()
    assert sent["top_k"] == 3
    assert sent["logit_bias"] == EXTRAS["logit_bias"]
    assert sent["stream"] is True


def test_model_override_goes_to_another_endpoint(server, make_chat) -> None:
    chat = make_chat()
    result = chat.invoke(QUESTION, model="other-ep")

    assert server.requests[-1].path == "/serving-endpoints/other-ep/invocations"
    assert result.response_metadata["model_name"] == "other-ep"
    list(chat.stream(QUESTION, model="third-ep"))
    assert server.requests[-1].path == "/serving-endpoints/third-ep/invocations"
    chat.invoke(QUESTION)
    assert server.requests[-1].path == "/serving-endpoints/chat-ep/invocations"


def test_model_override_for_an_external_model_changes_the_body(server) -> None:
    chat = ChatExternal(
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
    chat.invoke(QUESTION, model="gpt-4o")

    assert server.requests[-1].path == "/v1/chat/completions"
    assert server.last_json()["model"] == "gpt-4o"


# --------------------------------------------------------------------------- n > 1


def test_n_gives_n_generations_with_usage_on_the_first_only(server, make_chat) -> None:
    chat = make_chat(n=2)
    result = chat.generate([[HumanMessage(QUESTION)]])

    assert server.last_json()["n"] == 2
    generations = result.generations[0]
    assert len(generations) == 2
    assert generations[0].text != generations[1].text
    first, second = (g.message for g in generations)
    assert isinstance(first, AIMessage) and isinstance(second, AIMessage)
    assert first.usage_metadata is not None
    assert second.usage_metadata is None
    # The one usage covers both choices: the completion tokens of both texts.
    words = sum(len(g.text.split()) for g in generations)
    assert first.usage_metadata["output_tokens"] == words


def test_call_time_n_beats_constructor(server, make_chat) -> None:
    result = make_chat(n=3).generate([[HumanMessage(QUESTION)]], n=2)

    assert server.last_json()["n"] == 2
    assert len(result.generations[0]) == 2


@pytest.mark.parametrize("where", ["constructor", "call"])
def test_streaming_with_n_raises_a_clear_error(server, make_chat, where) -> None:
    chat = make_chat(n=2) if where == "constructor" else make_chat()
    kwargs = {"n": 2} if where == "call" else {}
    with pytest.raises(ei.ConfigurationError, match=r"n=2.*invoke"):
        list(chat.stream(QUESTION, **kwargs))
    assert server.requests == []


async def test_async_streaming_with_n_raises_a_clear_error(server, make_chat) -> None:
    with pytest.raises(ei.ConfigurationError, match="n=2"):
        [c async for c in make_chat().astream(QUESTION, n=2)]
    assert server.requests == []


# --------------------------------------------------------------------------- tools


class GetWeather(BaseModel):
    """Get the current weather at a location."""

    location: str = Field(description="City and state, e.g. San Francisco, CA")


def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


WEATHER_QUESTION = "What is the weather in Paris?"
WEATHER_CALL = {"type": "function", "function": {"name": "GetWeather"}}


@pytest.mark.parametrize(
    ("tool_choice", "sent_choice"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("GetWeather", WEATHER_CALL),
        (WEATHER_CALL, WEATHER_CALL),
    ],
)
def test_bind_tools_tool_choice(server, make_chat, tool_choice, sent_choice) -> None:
    bound = make_chat().bind_tools([GetWeather, magic_function], tool_choice=tool_choice)
    result = bound.invoke(WEATHER_QUESTION)

    sent = server.last_json()
    assert sent["tool_choice"] == sent_choice
    assert [t["function"]["name"] for t in sent["tools"]] == ["GetWeather", "magic_function"]
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["location"]
    if tool_choice == "none":
        assert result.tool_calls == []
        assert result.content
    else:
        assert [(c["name"], c["args"]) for c in result.tool_calls] == [
            ("GetWeather", {"location": "Paris"})
        ]


def test_bind_tools_without_tool_choice_sends_none(server, make_chat) -> None:
    make_chat().bind_tools([GetWeather]).invoke(WEATHER_QUESTION)
    assert "tool_choice" not in server.last_json()
    assert "parallel_tool_calls" not in server.last_json()


def test_bind_tools_unknown_tool_name_names_the_bound_tools(make_chat) -> None:
    with pytest.raises(ei.ConfigurationError) as info:
        make_chat().bind_tools([GetWeather, magic_function], tool_choice="get_time")

    message = str(info.value)
    assert "get_time" in message
    assert "GetWeather" in message and "magic_function" in message


def test_parallel_tool_calls_false_is_sent(server, make_chat) -> None:
    make_chat().bind_tools([GetWeather], parallel_tool_calls=False).invoke(WEATHER_QUESTION)
    assert server.last_json()["parallel_tool_calls"] is False


def test_streamed_tool_call_chunks_aggregate_into_the_tool_calls(server, make_chat) -> None:
    bound = make_chat().bind_tools([GetWeather, magic_function], tool_choice="any")
    invoked = bound.invoke(WEATHER_QUESTION)

    chunks = list(bound.stream(WEATHER_QUESTION))
    argument_fragments = [c for chunk in chunks for c in chunk.tool_call_chunks if c.get("args")]
    assert len(argument_fragments) >= 2, "the stub splits the arguments in fragments"
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk

    assert isinstance(total, AIMessageChunk)
    assert total.tool_calls == invoked.tool_calls
    assert total.tool_calls[0]["args"] == {"location": "Paris"}
    assert total.tool_calls[0]["id"]
    assert total.response_metadata["finish_reason"] == "tool_calls"


async def test_astreamed_tool_call_chunks_aggregate_into_the_tool_calls(server, make_chat) -> None:
    bound = make_chat().bind_tools([magic_function], tool_choice="magic_function")
    total: AIMessageChunk | None = None
    async for chunk in bound.astream("What is the value of magic_function(3)?"):
        total = chunk if total is None else total + chunk

    assert total is not None
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("magic_function", {"input": 3})]


def _canned(body: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body, headers={"x-request-id": "req-canned"})

    return handler


def _chat_body(
    message: dict[str, Any], usage: dict[str, Any] | None = None, finish_reason: str = "stop"
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-canned",
        "object": "chat.completion",
        "created": 1,
        "model": "canned-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage or {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def _mock_chat(handler: Callable[[httpx.Request], Any], **params: Any) -> ChatExternal:
    transport = httpx.MockTransport(handler)
    return ChatExternal(
        endpoint="canned-ep",
        host="https://workspace.test",
        token=TOKEN,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        **params,
    )


def test_invalid_tool_call_json_becomes_invalid_tool_calls() -> None:
    body = _chat_body(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_ok",
                    "type": "function",
                    "function": {"name": "GetWeather", "arguments": '{"location": "Paris"}'},
                },
                {
                    "id": "call_bad",
                    "type": "function",
                    "function": {"name": "GetWeather", "arguments": '{"location": "Par'},
                },
            ],
        },
        finish_reason="tool_calls",
    )
    result = _mock_chat(_canned(body)).bind_tools([GetWeather]).invoke(WEATHER_QUESTION)

    assert [(c["id"], c["args"]) for c in result.tool_calls] == [("call_ok", {"location": "Paris"})]
    assert len(result.invalid_tool_calls) == 1
    invalid = result.invalid_tool_calls[0]
    assert (invalid["id"], invalid["name"], invalid["args"]) == (
        "call_bad",
        "GetWeather",
        '{"location": "Par',
    )
    assert invalid["error"]


# --------------------------------------------------------------------------- reasoning, usage


def test_reasoning_content_from_serving_endpoint_parts(quirks_stub) -> None:
    quirks_stub.reset()
    chat = ChatExternal(endpoint="reasoning-ep", host=quirks_stub.base_url, token=TOKEN)
    result = chat.invoke(QUESTION)

    assert result.additional_kwargs["reasoning_content"] == "thinking..."
    assert result.content == f"Stub reply to: {QUESTION}. Let me know how I can help you further."
    assert "thinking" not in str(result.content)


def test_no_reasoning_content_when_the_server_sends_none(server, make_chat) -> None:
    assert "reasoning_content" not in make_chat().invoke(QUESTION).additional_kwargs


DETAILED_USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 40,
    "total_tokens": 160,
    "prompt_tokens_details": {"cached_tokens": 100},
    "completion_tokens_details": {"reasoning_tokens": 25},
}
EXPECTED_USAGE_METADATA = {
    "input_tokens": 120,
    "output_tokens": 40,
    "total_tokens": 160,
    "input_token_details": {"cache_read": 100},
    "output_token_details": {"reasoning": 25},
}


def test_usage_metadata_has_cache_and_reasoning_details() -> None:
    body = _chat_body({"role": "assistant", "content": "hi"}, usage=DETAILED_USAGE)
    result = _mock_chat(_canned(body)).invoke(QUESTION)

    assert result.usage_metadata == EXPECTED_USAGE_METADATA


async def test_usage_metadata_details_async() -> None:
    body = _chat_body({"role": "assistant", "content": "hi"}, usage=DETAILED_USAGE)
    result = await _mock_chat(_canned(body)).ainvoke(QUESTION)

    assert result.usage_metadata == EXPECTED_USAGE_METADATA


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + (
        b"data: [DONE]\n\n"
    )


def test_streamed_usage_metadata_has_details_and_is_reported_once() -> None:
    head = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Hel"},
                    "finish_reason": None,
                }
            ],
        },
        {**head, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": DETAILED_USAGE},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=_sse(events), headers={"content-type": "text/event-stream"}
        )

    chunks = list(_mock_chat(handler).stream(QUESTION))

    with_usage = [c for c in chunks if c.usage_metadata is not None]
    assert with_usage == [chunks[-1]]
    assert chunks[-1].usage_metadata == EXPECTED_USAGE_METADATA
    assert "".join(str(c.content) for c in chunks) == "Hello"


# --------------------------------------------------------------------------- structured output


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


class JokeDict(TypedDict):
    """A joke to tell the user."""

    setup: str
    punchline: str


JOKE_SCHEMA = {
    "title": "Joke",
    "description": "A joke to tell the user.",
    "type": "object",
    "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
    "required": ["setup", "punchline"],
}
JOKE_PROMPT = "Tell me a joke about cats. Reply with 'setup' and 'punchline'."
EXPECTED_JOKE = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse.",
}
SCHEMAS = pytest.mark.parametrize(
    "schema", [Joke, JokeDict, JOKE_SCHEMA], ids=["pydantic", "typeddict", "json_schema"]
)
METHODS = pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])


def _as_dict(parsed: Any) -> dict[str, Any]:
    return parsed.model_dump() if isinstance(parsed, BaseModel) else parsed


def _check_structured_request(sent: dict[str, Any], method: str) -> None:
    if method == "function_calling":
        assert sent["tool_choice"] == {
            "type": "function",
            "function": {"name": sent["tools"][0]["function"]["name"]},
        }
        assert set(sent["tools"][0]["function"]["parameters"]["properties"]) == {
            "setup",
            "punchline",
        }
        assert "response_format" not in sent
    elif method == "json_schema":
        assert sent["response_format"]["type"] == "json_schema"
        schema = sent["response_format"]["json_schema"]["schema"]
        assert set(schema["properties"]) == {"setup", "punchline"}
        assert "tools" not in sent
    else:
        assert sent["response_format"] == {"type": "json_object"}
        assert "tools" not in sent


@SCHEMAS
@METHODS
def test_with_structured_output(server, make_chat, schema, method) -> None:
    structured = make_chat().with_structured_output(schema, method=method)
    parsed = structured.invoke(JOKE_PROMPT)

    if schema is Joke:
        assert isinstance(parsed, Joke)
    else:
        assert isinstance(parsed, dict)
    assert _as_dict(parsed) == EXPECTED_JOKE
    _check_structured_request(server.last_json(), method)


@SCHEMAS
@METHODS
async def test_with_structured_output_include_raw(server, make_chat, schema, method) -> None:
    structured = make_chat().with_structured_output(schema, method=method, include_raw=True)
    result = await structured.ainvoke(JOKE_PROMPT)

    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert isinstance(result["raw"], AIMessage)
    assert result["parsing_error"] is None
    assert _as_dict(result["parsed"]) == EXPECTED_JOKE
    if method == "function_calling":
        assert result["raw"].tool_calls[0]["args"] == EXPECTED_JOKE
    else:
        assert json.loads(str(result["raw"].content)) == EXPECTED_JOKE
    _check_structured_request(server.last_json(), method)


def test_with_structured_output_include_raw_keeps_parsing_errors() -> None:
    body = _chat_body({"role": "assistant", "content": "not json at all"})
    structured = _mock_chat(_canned(body)).with_structured_output(
        Joke, method="json_mode", include_raw=True
    )
    result = structured.invoke(JOKE_PROMPT)

    assert result["parsed"] is None
    assert result["parsing_error"] is not None
    assert result["raw"].content == "not json at all"


def test_with_structured_output_rejects_unknown_method(make_chat) -> None:
    with pytest.raises(ei.ConfigurationError, match="method="):
        make_chat().with_structured_output(Joke, method="xml")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors


def _raised(chat: ChatExternal) -> BaseException:
    with pytest.raises(Exception) as info:
        chat.invoke(QUESTION)
    return info.value


def _assert_described(error: BaseException, status: int) -> None:
    message = str(error)
    assert "provider=databricks" in message
    assert f"status={status}" in message
    assert isinstance(error, ei.APIError)
    assert error.status_code == status
    assert error.provider == "databricks"
    assert error.request_id and error.request_id.startswith("req_")
    assert f"request_id={error.request_id}" in message


def test_rate_limit_after_retries_is_both_error_types(server, make_chat) -> None:
    server.fail_next(429, headers={"retry-after": "0"}, times=2)
    error = _raised(make_chat(max_retries=1))

    assert len(server.requests) == 2  # the first try and one retry
    assert isinstance(error, ei.RateLimitError)
    assert isinstance(error, ModelRateLimitError)
    assert error.is_retryable is True
    _assert_described(error, 429)


def test_rate_limit_without_retries(server, make_chat) -> None:
    server.fail_next(429)
    error = _raised(make_chat(max_retries=0))

    assert len(server.requests) == 1
    assert isinstance(error, ei.RateLimitError)
    assert isinstance(error, ModelRateLimitError)
    assert "Injected failure (429)" in str(error)
    _assert_described(error, 429)


async def test_rate_limit_async_and_streaming(server, make_chat) -> None:
    chat = make_chat(max_retries=0)
    server.fail_next(429)
    with pytest.raises(ModelRateLimitError) as info:
        await chat.ainvoke(QUESTION)
    assert isinstance(info.value, ei.RateLimitError)

    server.fail_next(429)
    with pytest.raises(ei.RateLimitError) as stream_info:
        [c async for c in chat.astream(QUESTION)]
    assert isinstance(stream_info.value, ModelRateLimitError)


def test_authentication_error_is_both_error_types(server, make_chat) -> None:
    server.fail_next(
        401,
        {"error": {"message": "Invalid access token.", "type": "auth", "code": "invalid_api_key"}},
    )
    error = _raised(make_chat(max_retries=2))

    assert len(server.requests) == 1  # 401 is never retried
    assert isinstance(error, ei.AuthenticationError)
    assert isinstance(error, ModelAuthenticationError)
    assert "Invalid access token." in str(error)
    _assert_described(error, 401)


def test_authentication_error_while_streaming(server, make_chat) -> None:
    server.fail_next(401)
    with pytest.raises(ModelAuthenticationError) as info:
        list(make_chat().stream(QUESTION))
    assert isinstance(info.value, ei.AuthenticationError)


def test_context_overflow_is_both_error_types(server, make_chat) -> None:
    server.fail_next(
        400,
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your "
                "messages resulted in 9000 tokens.",
                "type": "invalid_request_error",
                "code": None,
            }
        },
    )
    error = _raised(make_chat())

    assert isinstance(error, ContextOverflowError)
    assert isinstance(error, ei.ContextWindowExceededError)
    assert isinstance(error, ei.BadRequestError)
    assert "maximum context length is 8192" in str(error)
    _assert_described(error, 400)


def test_plain_bad_request_is_not_a_context_overflow(server, make_chat) -> None:
    server.fail_next(
        400,
        {"error": {"message": "'temperature' is out of range", "type": "invalid_request_error"}},
    )
    error = _raised(make_chat())

    assert isinstance(error, ei.BadRequestError)
    assert not isinstance(error, ContextOverflowError)


def test_v1_tool_call_content_blocks_are_not_sent_as_content() -> None:
    from langchain_core.messages import AIMessage

    from extmodels_integrations.langchain._convert import to_unified_messages

    call = {"id": "c1", "name": "f", "args": {"a": 1}}
    only_calls = AIMessage(content=[{"type": "tool_call", **call}], tool_calls=[call])
    with_text = AIMessage(
        content=[{"type": "text", "text": "Let me check."}, {"type": "tool_call", **call}],
        tool_calls=[call],
    )
    first, second = to_unified_messages([only_calls, with_text])
    assert first["content"] is None
    assert second["content"] == [{"type": "text", "text": "Let me check."}]
    assert first["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
