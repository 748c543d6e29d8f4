"""Fixtures of the reliability suite: the fault-injecting loopback server, a Vertex token
server, and one target per wire format we speak."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.providers.cases.vertex import PROJECT, REGION, service_account
from tests.reliability.fault_server import FaultServer
from tests.support.wires.vertex import TokenServer

# Short limits so every fault ends within about a second; the matrix checks them.
TIMEOUT = 0.5
STALL_TIMEOUT = 0.3
CONNECT_TIMEOUT = 1.0
MAX_RETRIES = 2
LIMITS: dict[str, Any] = {
    "timeout": TIMEOUT,
    "stall_timeout": STALL_TIMEOUT,
    "connect_timeout": CONNECT_TIMEOUT,
    "max_retries": MAX_RETRIES,
}


@dataclass(frozen=True)
class Format:
    """A wire format under test: how to point a client at the fault server, and the error
    event that provider sends inside a stream that already answered HTTP 200."""

    name: str
    wire: str
    target: Callable[[str, str], dict[str, Any]]
    """``(base_url, token_uri) -> ExternalClient keyword arguments``."""
    error_event: bytes
    """An in-stream error of this provider that means "overloaded, try again"."""
    first_text_part: int
    """Index of the first stream part that gives the caller a chunk: an error event inserted
    before it arrives before anything was yielded."""


def _external(provider: str, name: str, config: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_model": {
            "name": name,
            "provider": provider,
            "task": "llm/v1/chat",
            config: fields,
        }
    }


def _bedrock_error() -> bytes:
    from tests.support.wires.bedrock import exception_frame

    return exception_frame("serviceUnavailableException", "Bedrock is unable to process it.")


OVERLOADED = {"message": "The server is overloaded", "type": "server_error", "code": "overloaded"}

FORMATS = [
    Format(
        "openai",
        "openai",
        lambda base, _: _external(
            "openai",
            "gpt-4o-mini",
            "openai_config",
            openai_api_key_plaintext="sk-reliability-0000",
            openai_api_base=f"{base}/v1",
        ),
        b"data: " + json.dumps({"error": OVERLOADED}).encode() + b"\n\n",
        0,
    ),
    Format(
        "databricks",
        "openai",
        lambda base, _: {"endpoint": "fault-endpoint", "host": base, "token": "dapi0000"},
        b"data: " + json.dumps({"error": OVERLOADED}).encode() + b"\n\n",
        0,
    ),
    Format(
        "anthropic",
        "anthropic",
        lambda base, _: _external(
            "anthropic",
            "claude-3-5-haiku-latest",
            "anthropic_config",
            anthropic_api_key_plaintext="anthropic-reliability",
            anthropic_api_base=base,
        ),
        # anthropic-sdk-python: overloaded_error may arrive as an event after HTTP 200.
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
        b'"message": "Overloaded"}}\n\n',
        1,
    ),
    Format(
        "cohere",
        "cohere",
        lambda base, _: _external(
            "cohere",
            "command-r",
            "cohere_config",
            cohere_api_key_plaintext="cohere-reliability",
            cohere_api_base=base,
        ),
        # Cohere v2 reports a failed generation as message-end with finish_reason ERROR.
        b'event: message-end\ndata: {"type": "message-end", "delta": {"finish_reason": '
        b'"ERROR", "error": "internal error"}}\n\n',
        0,
    ),
    Format(
        "bedrock",
        "bedrock",
        lambda base, _: _external(
            "amazon-bedrock",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "amazon_bedrock_config",
            aws_region="us-east-1",
            bedrock_provider="anthropic",
            bedrock_api_base=base,
            aws_access_key_id_plaintext="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key_plaintext="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        _bedrock_error(),
        1,
    ),
    Format(
        "gemini",
        "vertex",
        lambda base, token_uri: _external(
            "google-cloud-vertex-ai",
            "gemini-2.0-flash",
            "google_cloud_vertex_ai_config",
            project_id=PROJECT,
            region=REGION,
            private_key_plaintext=json.dumps(service_account(token_uri=token_uri)),
            vertex_api_base=base,
        ),
        b'data: {"error": {"code": 503, "message": "The model is overloaded.", '
        b'"status": "UNAVAILABLE"}}\r\n\r\n',
        0,
    ),
]


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def fault_server(faults: FaultServer) -> FaultServer:
    faults.reset()
    return faults


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    with TokenServer() as server:
        yield server
