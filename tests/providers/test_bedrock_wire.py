"""The stub server's Bedrock wire, end to end through ExternalClient over loopback: every
model family answers in its own format on ``/invoke`` and ``/invoke-with-response-stream``,
refuses what Bedrock refuses, and insists on a SigV4 signature."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from extmodels_integrations import (
    AuthenticationError,
    BadRequestError,
    ExternalClient,
    UnsupportedParameterError,
)
from tests.support.openai_server import OpenAIStubServer
from tests.support.wires.bedrock import WIRE, family

KEYS = {
    "aws_access_key_id_plaintext": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key_plaintext": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client(server: OpenAIStubServer, model: str, task: str, **config: Any) -> ExternalClient:
    sub = {"anthropic": "anthropic", "cohere": "cohere", "ai21": "ai21labs", "amazon": "amazon"}
    return ExternalClient(
        external_model={
            "name": model,
            "provider": "amazon-bedrock",
            "task": task,
            "amazon_bedrock_config": {
                "aws_region": "us-east-1",
                "bedrock_provider": sub[model.removeprefix("us.").split(".")[0]],
                "bedrock_api_base": server.base_url,
                **KEYS,
                **config,
            },
        },
        max_retries=0,
    )


def signature_headers(service: str) -> dict[str, str]:
    """Headers shaped like a SigV4 signature for ``service`` (the stub checks the shape)."""
    scope = f"AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/{service}/aws4_request"
    return {
        "authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        "x-amz-date": "20240101T000000Z",
    }


CHAT_MODELS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "cohere.command-r-v1:0",
    "ai21.jamba-1-5-mini-v1:0",
    "amazon.titan-text-express-v1",
]
COMPLETION_MODELS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "cohere.command-text-v14",
    "cohere.command-r-plus-v1:0",
    "ai21.j2-ultra-v1",
    "ai21.jamba-1-5-mini-v1:0",
    "amazon.titan-text-lite-v1",
]


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_plain_and_streamed_agree(server: OpenAIStubServer, model: str) -> None:
    bedrock = client(server, model, "llm/v1/chat")
    messages = [{"role": "user", "content": "Tell me about the sea"}]
    plain = bedrock.chat(messages=messages, max_tokens=50)
    chunks = list(bedrock.stream_chat(messages=messages, max_tokens=50))
    text = "".join(c.choices[0].content or "" for c in chunks if c.choices)
    assert plain.choices[0].content == text
    assert "sea" in text
    assert plain.usage == chunks[-1].usage and plain.usage is not None
    assert plain.usage.completion_tokens > 0
    # The id goes out percent-encoded, as botocore sends it (":" -> %3A).
    assert server.requests[-1].path == f"/model/{quote(model, safe='')}/invoke-with-response-stream"


@pytest.mark.parametrize("model", COMPLETION_MODELS)
def test_completions_plain_and_streamed_agree(server: OpenAIStubServer, model: str) -> None:
    bedrock = client(server, model, "llm/v1/completions")
    plain = bedrock.complete(prompt="Write about rivers", max_tokens=40)
    chunks = list(bedrock.stream_complete(prompt="Write about rivers", max_tokens=40))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert plain.choices[0].text == text and "rivers" in text
    assert plain.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    "model", ["anthropic.claude-3-haiku-20240307-v1:0", "cohere.command-r-v1:0"]
)
def test_tool_calls_round_trip(server: OpenAIStubServer, model: str) -> None:
    bedrock = client(server, model, "llm/v1/chat")
    ask = [{"role": "user", "content": "Use the tool get_weather for Paris"}]
    first = bedrock.chat(messages=ask, tools=[TOOL])
    (call,) = first.choices[0].tool_calls
    assert (call.name, first.choices[0].finish_reason) == ("get_weather", "tool_calls")
    streamed = [c for c in bedrock.stream_chat(messages=ask, tools=[TOOL]) if c.choices]
    deltas = [d for c in streamed for d in c.choices[0].tool_calls or []]
    assert deltas[0].name == "get_weather"
    assert "".join(d.arguments or "" for d in deltas) == call.arguments
    history = [
        *ask,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    final = bedrock.chat(messages=history, tools=[TOOL])
    # The stub answers "The result is <the tool output it received>."
    assert '"temp": 21' in (final.choices[0].content or "")


@pytest.mark.parametrize(
    ("model", "per_call"),
    [("amazon.titan-embed-text-v2:0", 1), ("cohere.embed-english-v3", 3)],
)
def test_embeddings(server: OpenAIStubServer, model: str, per_call: int) -> None:
    bedrock = client(server, model, "llm/v1/embeddings")
    result = bedrock.embed(["alpha", "beta", "gamma"])
    assert len(result.embeddings) == 3 and len(result.embeddings[0]) == 16
    assert result.embeddings[0] != result.embeddings[1]
    assert len(server.requests) == 3 // per_call


def test_titan_rejects_other_stop_sequences_like_bedrock(server: OpenAIStubServer) -> None:
    bedrock = client(server, "amazon.titan-text-express-v1", "llm/v1/completions")
    with pytest.raises(UnsupportedParameterError, match="'stop'"):
        bedrock.complete(prompt="hi", stop=["\n"])
    assert server.requests == []
    response = httpx.post(
        f"{server.base_url}/model/amazon.titan-text-express-v1/invoke",
        json={"inputText": "hi", "textGenerationConfig": {"stopSequences": ["END"]}},
        headers=signature_headers("bedrock"),
    )
    assert response.status_code == 400 and "stopSequences" in response.json()["message"]


def test_unsigned_requests_are_refused(server: OpenAIStubServer) -> None:
    response = httpx.post(
        f"{server.base_url}/model/amazon.titan-text-express-v1/invoke", json={"inputText": "hi"}
    )
    assert response.status_code == 401 and set(response.json()) == {"message"}
    bedrock = client(server, "amazon.titan-text-express-v1", "llm/v1/completions")
    server.fail_next(401)
    with pytest.raises(AuthenticationError):
        bedrock.complete(prompt="hi")


def test_errors_come_back_as_rest_json(server: OpenAIStubServer) -> None:
    bedrock = client(server, "anthropic.claude-3-haiku-20240307-v1:0", "llm/v1/chat")
    server.fail_next(403, headers={"x-amzn-ErrorType": "AccessDeniedException"})
    with pytest.raises(Exception, match="Injected failure") as caught:
        bedrock.chat(messages=[{"role": "user", "content": "hi"}])
    assert getattr(caught.value, "code", None) == "AccessDeniedException"
    with pytest.raises(BadRequestError, match="extraneous key"):
        bedrock.chat(messages=[{"role": "user", "content": "hi"}], extra_params={"stream": True})


def test_the_signature_scope_must_name_the_bedrock_service(server: OpenAIStubServer) -> None:
    assert WIRE.authorized(signature_headers("bedrock"))
    assert not WIRE.authorized(signature_headers("bedrock-runtime"))


def test_model_families_follow_the_id_prefix() -> None:
    assert family("eu.anthropic.claude-3-haiku-20240307-v1:0") == "anthropic"
    assert family("cohere.command-light-text-v14") == "cohere-generate"
    assert family("amazon.titan-embed-text-v1") == "titan-embed"


def test_claude_media_is_taken_inline_only(server: OpenAIStubServer) -> None:
    def invoke(source: dict[str, Any]) -> httpx.Response:
        content = [{"type": "text", "text": "hi"}, {"type": "image", "source": source}]
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": content}],
        }
        return httpx.post(
            f"{server.base_url}/model/anthropic.claude-3-haiku-20240307-v1:0/invoke",
            json=body,
            headers=signature_headers("bedrock"),
        )

    inline = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert invoke(inline).status_code == 200
    refused = invoke({"type": "url", "url": "https://example.com/a.png"})
    assert refused.status_code == 400
    assert "source type 'url' is not supported" in refused.json()["message"]
