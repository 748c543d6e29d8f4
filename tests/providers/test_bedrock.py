"""amazon-bedrock beyond the conformance table: the event-stream decoder (every split point,
CRCs, truncation, header types, agreement with botocore), SigV4 signatures checked against an
independent implementation and the AWS test suite, credentials (session token, default chain,
missing botocore), and Titan's one-call-per-text fan-out."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
import struct
import sys
import types
import uuid
import zlib
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from extmodels_integrations import (
    ChatRequest,
    CompletionRequest,
    ConfigurationError,
    ExternalClient,
    MalformedResponseError,
    RateLimitError,
    UnsupportedParameterError,
)
from extmodels_integrations._config import parse_external_model
from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations._transport import HttpRequest, Transport
from extmodels_integrations.providers import bedrock
from extmodels_integrations.providers._aws import EventMessage, EventStreamDecoder, SigV4Auth
from tests.providers.cases.amazon_bedrock import KEY_ID, REGION, SECRET, TITAN_EMBED, target
from tests.support.wires.bedrock import chunk_frame, event_stream, exception_frame

FIXED = datetime.datetime(2024, 5, 1, 12, 30, 45)


# ----------------------------------------------------------------------------- event stream


def _stream() -> bytes:
    events = [{"type": "text", "text": f"piece {i} é"} for i in range(3)]
    return event_stream(events, 5, 7) + exception_frame("throttlingException", "slow down")


def _decode_all(parts: list[bytes]) -> list[EventMessage]:
    decoder = EventStreamDecoder()
    out = [m for part in parts for m in decoder.feed(part)]
    return out + decoder.close()


def test_decoder_reads_frames_split_at_every_byte_boundary() -> None:
    data = _stream()
    whole = _decode_all([data])
    assert [m.headers[":message-type"] for m in whole] == ["event"] * 3 + ["exception"]
    for cut in range(len(data) + 1):
        assert _decode_all([data[:cut], data[cut:]]) == whole, cut
    assert _decode_all([data[i : i + 1] for i in range(len(data))]) == whole


def test_decoder_agrees_with_botocore_on_every_header_type() -> None:
    from botocore.eventstream import EventStreamBuffer

    headers = (
        b"\x04true\x00"
        + b"\x05false\x01"
        + b"\x04byte\x02\xfe"
        + b"\x05short\x03"
        + struct.pack(">h", -300)
        + b"\x03int\x04"
        + struct.pack(">i", 70000)
        + b"\x04long\x05"
        + struct.pack(">q", -(2**40))
        + b"\x05bytes\x06\x00\x03abc"
        + b"\x06string\x07\x00\x02hi"
        + b"\x04time\x08"
        + struct.pack(">q", 1_700_000_000_000)
        + b"\x04uuid\x09"
        + uuid.UUID(int=42).bytes
    )
    prelude = struct.pack(">II", 12 + len(headers) + 3 + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + b"xyz"
    message += struct.pack(">I", zlib.crc32(message))
    ours = _decode_all([message])
    theirs = EventStreamBuffer()
    theirs.add_data(message)
    (reference,) = list(theirs)
    assert ours == [EventMessage(reference.headers, reference.payload)]
    assert ours[0].headers["true"] is True and ours[0].headers["short"] == -300


def test_frames_built_by_the_stub_decode_with_botocore_too() -> None:
    from botocore.eventstream import EventStreamBuffer

    data = _stream()
    theirs = EventStreamBuffer()
    theirs.add_data(data)
    reference = [EventMessage(m.headers, m.payload) for m in theirs]
    assert _decode_all([data]) == reference


@pytest.mark.parametrize(
    ("offset", "match"), [(9, "prelude CRC mismatch"), (-6, "message CRC mismatch")]
)
def test_decoder_rejects_a_corrupt_frame(offset: int, match: str) -> None:
    data = bytearray(chunk_frame({"text": "hi"}))
    data[offset] ^= 0x01
    with pytest.raises(MalformedResponseError, match=match):
        EventStreamDecoder().feed(bytes(data))


def test_decoder_rejects_impossible_lengths() -> None:
    prelude = struct.pack(">II", 10, 50)  # shorter than its own headers
    with pytest.raises(MalformedResponseError, match="impossible lengths"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_decoder_raises_when_the_stream_ends_inside_a_frame() -> None:
    data = chunk_frame({"text": "hi"})
    decoder = EventStreamDecoder()
    assert decoder.feed(data[:-3]) == []
    with pytest.raises(MalformedResponseError, match="ended inside a message"):
        decoder.close()


def test_error_messages_raise_with_their_code() -> None:
    message = EventMessage(
        {":message-type": "error", ":error-code": "ThrottlingException", ":error-message": "busy"},
        b"",
    )
    parser = bedrock.BedrockStreamParser(lambda e: None, lambda: None, lambda u: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(Exception, match="busy") as caught:
        parser.parse(message)
    assert getattr(caught.value, "code", None) == "ThrottlingException"


def test_stream_exception_maps_each_documented_exception() -> None:
    statuses = {}
    for kind in ("validationException", "modelTimeoutException", "serviceUnavailableException"):
        error = bedrock.stream_exception(
            EventMessage(
                {":message-type": "exception", ":exception-type": kind}, b'{"message":"x"}'
            )
        )
        statuses[kind] = (type(error).__name__, error.status_code, error.retryable)
    assert statuses == {
        "validationException": ("BadRequestError", 400, False),
        "modelTimeoutException": ("APIError", 408, True),
        "serviceUnavailableException": ("ServerError", 503, True),
    }


# ----------------------------------------------------------------------------- SigV4


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def reference_sigv4(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    key_id: str,
    secret: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """SigV4 written from the AWS specification with the standard library only: the
    canonical URI of a non-S3 service is the path URI-encoded once more."""
    parts = urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            quote(parts.path, safe="/~"),
            parts.query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )


def _freeze_sigv4_clock(monkeypatch: pytest.MonkeyPatch, when: datetime.datetime) -> None:
    """Fix the time botocore signs with: ``auth.get_current_datetime()`` in newer releases, a
    bare ``datetime.datetime.utcnow()`` in the 1.34.0 the range starts at (patched in
    ``botocore.auth``'s namespace only, not in the shared ``datetime`` module)."""
    import botocore.auth

    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
        return

    class _Clock(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:
            return when

    module = types.SimpleNamespace(**vars(datetime))
    module.datetime = _Clock
    monkeypatch.setattr(botocore.auth, "datetime", module)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze_sigv4_clock(monkeypatch, FIXED)


def _auth(**kw: Any) -> SigV4Auth:
    return SigV4Auth(
        region=kw.pop("region", REGION),
        access_key_id=SecretStr(kw.pop("key_id", KEY_ID)),
        secret_access_key=SecretStr(kw.pop("secret", SECRET)),
        **kw,
    )


def test_signature_matches_an_independent_sigv4_for_a_model_id_with_a_colon(
    frozen_clock: None,
) -> None:
    adapter = _adapter(target("anthropic.claude-3-5-sonnet-20240620-v1:0", "llm/v1/chat"))
    request = adapter.chat_request(
        ChatRequest(messages=[{"role": "user", "content": "Hi"}]), stream=True
    )
    assert "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/" in request.url
    headers = adapter.auth.headers(Transport(), request)
    assert headers["X-Amz-Date"] == "20240501T123045Z"
    assert request.content is not None
    assert headers["Authorization"] == reference_sigv4(
        "POST",
        request.url,
        request.headers,
        request.content,
        key_id=KEY_ID,
        secret=SECRET,
        region=REGION,
        service="bedrock",
        amz_date="20240501T123045Z",
    )


def test_signature_matches_the_aws_post_vanilla_test_vector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``post-vanilla`` of the AWS Signature Version 4 test suite."""
    _freeze_sigv4_clock(monkeypatch, datetime.datetime(2015, 8, 30, 12, 36))
    auth = _auth(
        key_id="AKIDEXAMPLE",
        secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        service="service",
    )
    request = HttpRequest(url="https://example.amazonaws.com/", content=b"")
    assert auth.headers(Transport(), request)["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    )


def test_arn_model_ids_are_sent_fully_encoded() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    adapter = _adapter(target("amazon.titan-text-express-v1", "llm/v1/completions"))
    assert adapter.url(arn, stream=False).endswith(
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aprovisioned-model%2Fabc123/invoke"
    )


def test_session_token_is_sent_and_signed(frozen_clock: None) -> None:
    block = target("amazon.titan-text-express-v1", "llm/v1/completions")
    block["external_model"]["amazon_bedrock_config"]["aws_session_token_plaintext"] = (
        "FQoGZXIvYXdzEXAMPLE"
    )
    adapter = _adapter(block)
    request = adapter.completion_request(CompletionRequest(prompt="Hi"), stream=False)
    headers = adapter.auth.headers(Transport(), request)
    assert headers["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLE"
    assert "x-amz-security-token" in headers["Authorization"].split("SignedHeaders=")[1]
    assert "FQoGZXIvYXdzEXAMPLE" in adapter.auth.secret_values()


def _adapter(block: dict[str, Any]) -> bedrock.BedrockAdapter:
    model = parse_external_model(block["external_model"])
    return bedrock.build(model, SecretResolver(None), stream_usage=True)


# ----------------------------------------------------------------------------- credentials


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """No AWS config files, no instance metadata: the default chain sees only what a test sets."""
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _without_keys() -> dict[str, Any]:
    block = target("amazon.titan-text-express-v1", "llm/v1/completions")
    config = block["external_model"]["amazon_bedrock_config"]
    del config["aws_access_key_id_plaintext"], config["aws_secret_access_key_plaintext"]
    return block


def test_without_keys_the_default_credential_chain_signs(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    adapter = _adapter(_without_keys())
    request = adapter.completion_request(CompletionRequest(prompt="Hi"), stream=False)
    headers = asyncio.run(_aheaders(adapter, request))
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAENVIRONMENT00001/")
    assert "env-secret" in adapter.auth.secret_values()
    assert "default credential chain" in repr(adapter.auth)


async def _aheaders(adapter: bedrock.BedrockAdapter, request: HttpRequest) -> Any:
    return await adapter.auth.aheaders(Transport(), request)


def test_no_credentials_anywhere_is_a_clear_configuration_error(
    aws_env: pytest.MonkeyPatch,
) -> None:
    adapter = _adapter(_without_keys())
    request = adapter.completion_request(CompletionRequest(prompt="Hi"), stream=False)
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        adapter.auth.headers(Transport(), request)


def test_missing_botocore_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.auth", None)
    with pytest.raises(
        ConfigurationError, match=r'pip install "extmodels-integrations\[bedrock\]"'
    ):
        _adapter(target("amazon.titan-text-express-v1", "llm/v1/completions"))


def test_keys_never_show_in_repr_or_in_errors_that_echo_them() -> None:
    adapter = _adapter(target("amazon.titan-text-express-v1", "llm/v1/completions"))
    assert SECRET not in repr(adapter.auth) and KEY_ID not in repr(adapter.auth)
    body = json.dumps({"message": f"bad signature for {SECRET}"}).encode()
    error = adapter.error(403, {"x-amzn-ErrorType": "InvalidSignatureException"}, body)
    assert SECRET not in str(error) and SECRET not in (error.body or "")


def test_a_per_call_model_of_another_body_family_is_refused() -> None:
    adapter = _adapter(target("cohere.command-text-v14", "llm/v1/completions"))
    with pytest.raises(ConfigurationError, match="different request body"):
        adapter.completion_request(
            CompletionRequest(prompt="Hi", model="cohere.command-r-v1:0"), stream=False
        )


# ----------------------------------------------------------------------------- Titan fan-out


async def test_titan_embeds_one_text_per_call_concurrently_in_order() -> None:
    in_flight = peak = 0
    texts = [f"text {i}" for i in range(6)]

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        text = json.loads(request.content)["inputText"]
        in_flight += 1
        peak = max(peak, in_flight)
        # Later texts answer first, so order can only come from the client.
        await asyncio.sleep(0.01 * (len(texts) - texts.index(text)))
        in_flight -= 1
        index = texts.index(text)
        return httpx.Response(200, json={"embedding": [float(index)], "inputTextTokenCount": 2})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ExternalClient(
            **target(TITAN_EMBED, "llm/v1/embeddings"), max_concurrency=4, http_async_client=http
        )
        assert client.embedding_batch_size(100) == 1
        result = await client.aembed(texts)
    assert result.embeddings == [[float(i)] for i in range(6)]
    assert result.usage is not None and result.usage.prompt_tokens == 12
    assert 1 < peak <= 4


def test_throttling_is_retried_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(
                429,
                json={"message": "slow down"},
                headers={"x-amzn-ErrorType": "ThrottlingException"},
            )
        return httpx.Response(200, json={"embedding": [1.0], "inputTextTokenCount": 1})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = ExternalClient(**target(TITAN_EMBED, "llm/v1/embeddings"), http_client=http)
        client.transport.sleep = lambda _: None
        assert client.embed(["a"]).embeddings == [[1.0]]
    assert len(calls) == 2


def test_error_headers_are_read_case_insensitively() -> None:
    error = bedrock.map_error(
        429, {"x-amzn-errortype": "ThrottlingException", "x-amzn-requestid": "r1"}, b"{}"
    )
    assert isinstance(error, RateLimitError)
    assert (error.code, error.request_id, error.provider_message) == (
        "ThrottlingException",
        "r1",
        "{}",
    )


# ----------------------------------------------------------------------------- model ids


def _sub_target(name: str, sub: str, task: str = "llm/v1/chat") -> dict[str, Any]:
    block = target("anthropic.claude-v2", task)
    block["external_model"]["name"] = name
    block["external_model"]["amazon_bedrock_config"]["bedrock_provider"] = sub
    return block


@pytest.mark.parametrize(
    ("name", "sub", "task", "sent"),
    [
        # As the external-model docs write them: the vendor prefix comes from bedrock_provider.
        ("claude-v2", "anthropic", "llm/v1/chat", "anthropic.claude-v2"),
        (
            "claude-3-5-sonnet-20240620-v1:0",
            "anthropic",
            "llm/v1/chat",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        ("titan-embed-text-v1", "amazon", "llm/v1/embeddings", "amazon.titan-embed-text-v1"),
        ("command-text-v14", "cohere", "llm/v1/completions", "cohere.command-text-v14"),
        ("j2-mid", "ai21labs", "llm/v1/completions", "ai21.j2-mid-v1"),
        # Full ids, cross-region inference profiles and ARNs go as given.
        ("anthropic.claude-v2", "anthropic", "llm/v1/chat", "anthropic.claude-v2"),
        (
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic",
            "llm/v1/chat",
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/x",
            "anthropic",
            "llm/v1/chat",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/x",
        ),
    ],
)
def test_model_names_as_the_docs_write_them_get_their_vendor_prefix(
    name: str, sub: str, task: str, sent: str
) -> None:
    adapter = _adapter(_sub_target(name, sub, task))
    assert adapter.model == sent
    assert adapter.url(adapter.model, stream=False).endswith(
        f"/model/{quote(sent, safe='')}/invoke"
    )


@pytest.mark.parametrize(
    ("model", "task", "name"),
    [
        ("amazon.titan-text-express-v1", "llm/v1/completions", "logprobs"),
        ("amazon.titan-text-express-v1", "llm/v1/chat", "top_k"),
        ("amazon.titan-text-express-v1", "llm/v1/completions", "seed"),
        ("cohere.command-r-v1:0", "llm/v1/chat", "logprobs"),
        ("cohere.command-r-v1:0", "llm/v1/chat", "logit_bias"),
        ("cohere.command-text-v14", "llm/v1/completions", "logprobs"),
        ("cohere.command-text-v14", "llm/v1/completions", "frequency_penalty"),
    ],
)
def test_openai_names_a_closed_bedrock_body_lacks_are_refused_before_sending(
    model: str, task: str, name: str
) -> None:
    # Bedrock answers an unknown key with "extraneous key [...] is not permitted" after the
    # fact; the package names the parameter first.
    adapter = _adapter(target(model, task))
    with pytest.raises(UnsupportedParameterError, match=name):
        if task == "llm/v1/chat":
            adapter.chat_request(
                ChatRequest(messages=[{"role": "user", "content": "Hi"}], extra_params={name: 1}),
                stream=False,
            )
        else:
            adapter.completion_request(
                CompletionRequest(prompt="Hi", extra_params={name: 1}), stream=False
            )


def test_what_a_bedrock_cohere_body_has_still_passes() -> None:
    adapter = _adapter(target("cohere.command-r-v1:0", "llm/v1/chat"))
    request = adapter.chat_request(
        ChatRequest(
            messages=[{"role": "user", "content": "Hi"}],
            extra_params={"seed": 7, "frequency_penalty": 0.5, "top_k": 3},
        ),
        stream=False,
    )
    assert request.content is not None
    body = json.loads(request.content)
    assert {"seed": 7, "frequency_penalty": 0.5, "k": 3}.items() <= body.items()
