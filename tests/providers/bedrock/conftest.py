"""Cassette wiring for the amazon-bedrock LangChain tests: which target they call, and the
switch to record against real Bedrock.

Replays (the default) sign with dummy keys and call the loopback stub's base URL, so they match
cassettes however those were recorded. Recording (``--record-mode=rewrite``) calls the stub too,
unless ``EXTMODELS_RECORD_LIVE`` names ``bedrock``: then the real Bedrock runtime of
``AWS_REGION`` (default ``us-east-1``) is called with credentials from botocore's default chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``[/``AWS_SESSION_TOKEN``], ``AWS_PROFILE``...),
and each recorded request URL is rewritten to the stub's base so the plain replay run finds it.
Signature headers never reach a cassette (tests/conftest.py filters them).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import OPENAI_BASE

SWITCH = "bedrock"
DUMMY_KEYS = {
    "aws_access_key_id_plaintext": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key_plaintext": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _live(config: pytest.Config) -> bool:
    recording = str(config.getoption("--record-mode", default=None) or "none") != "none"
    wanted = SWITCH in os.environ.get("EXTMODELS_RECORD_LIVE", "").replace(" ", "").split(",")
    if recording and wanted:
        import botocore.session

        if botocore.session.Session().get_credentials() is None:
            raise pytest.UsageError(
                "EXTMODELS_RECORD_LIVE names bedrock but the default AWS credential chain "
                "finds no credentials"
            )
    return recording and wanted


@pytest.fixture(scope="module")
def bedrock_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``amazon_bedrock_config`` fields besides ``bedrock_provider``: real Bedrock with
    the default credential chain when recording live, else the stub with dummy keys."""
    if _live(request.config):
        return {"aws_region": _region()}
    return {"aws_region": "us-east-1", "bedrock_api_base": OPENAI_BASE, **DUMMY_KEYS}


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The suite's cassette config, plus the URL rewrite when recording live."""
    if not _live(request.config):
        return vcr_config
    live_base = f"https://bedrock-runtime.{_region()}.amazonaws.com"
    earlier = vcr_config.get("before_record_request") or ()
    if callable(earlier):
        earlier = (earlier,)

    def to_stub(recorded: Any) -> Any:
        if recorded.uri.startswith(live_base):
            recorded.uri = OPENAI_BASE + recorded.uri[len(live_base) :]
        return recorded

    return {**vcr_config, "before_record_request": (*earlier, to_stub)}
