"""Cassette wiring for the Vertex AI LangChain tests: the target they call, the token exchange,
and the switch to record against the real service.

Replays (the default) always call the loopback stub's base URL, with a throwaway
service-account key whose ``token_uri`` points at a loopback token endpoint
(:class:`~tests.support.wires.vertex.TokenServer`, started only when recording against the
stub). Every token exchange is stored redacted and matched redacted: its URL becomes
``TOKEN_URI``, its form body (the signed JWT assertion) ``REDACTED_FORM``, and the
``access_token`` in its answer ``<redacted>``. vcrpy applies ``before_record_request`` to
replayed requests too, so a fresh assertion signed with a fresh key matches the stored one.

Recording live: with ``--record-mode=rewrite``, ``EXTMODELS_RECORD_LIVE`` naming
``google-cloud-vertex-ai`` and ``GOOGLE_APPLICATION_CREDENTIALS`` the path of a service-account
JSON key, the real Vertex AI (project from the key, region ``VERTEX_REGION`` or us-central1) and
Google's token endpoint are called; recorded URLs are rewritten to the stub's so the plain replay
run finds them. Credentials never reach a cassette.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import OPENAI_BASE
from tests.providers.cases.vertex import PROJECT, REGION, service_account
from tests.support.wires.vertex import TokenServer

PROVIDER = "google-cloud-vertex-ai"
KEY_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
TOKEN_PORT = 18767
TOKEN_URI = f"http://127.0.0.1:{TOKEN_PORT}/token"
LIVE_TOKEN_URI = "https://oauth2.googleapis.com/token"
REDACTED_FORM = (
    b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=redacted"
)
_LIVE_API = re.compile(
    r"^https://([a-z0-9-]+-)?aiplatform\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/"
)
_STUB_API = f"{OPENAI_BASE}/v1/projects/{PROJECT}/locations/{REGION}/"


def _recording(config: pytest.Config) -> bool:
    return str(config.getoption("--record-mode", default=None) or "none") != "none"


def _live(config: pytest.Config) -> bool:
    wanted = PROVIDER in os.environ.get("EXTMODELS_RECORD_LIVE", "").replace(" ", "").split(",")
    if _recording(config) and wanted and not os.environ.get(KEY_ENV):
        raise pytest.UsageError(
            f"EXTMODELS_RECORD_LIVE names {PROVIDER} but {KEY_ENV} names no service-account key"
        )
    return _recording(config) and wanted


@pytest.fixture(scope="module")
def vertex_config(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The ``google_cloud_vertex_ai_config`` the tests use: the real service when recording
    live, else the stub (with the loopback token endpoint running while recording)."""
    if _live(request.config):
        with open(os.environ[KEY_ENV]) as key_file:
            key = key_file.read()
        yield {
            "project_id": os.environ.get("GOOGLE_CLOUD_PROJECT") or json.loads(key)["project_id"],
            "region": os.environ.get("VERTEX_REGION", REGION),
            "private_key_plaintext": key,
        }
        return
    config = {
        "project_id": PROJECT,
        "region": REGION,
        "private_key_plaintext": json.dumps(service_account(token_uri=TOKEN_URI)),
        "vertex_api_base": OPENAI_BASE,
    }
    if not _recording(request.config):
        yield config
        return
    with TokenServer(TOKEN_PORT):
        yield config


def _to_stub(recorded: Any) -> Any:
    """Token exchanges redacted; live URLs rewritten to the stub's (a no-op on stub URLs)."""
    if recorded.uri in (TOKEN_URI, LIVE_TOKEN_URI):
        recorded.uri = TOKEN_URI
        recorded.body = REDACTED_FORM
    recorded.uri = _LIVE_API.sub(_STUB_API, recorded.uri)
    return recorded


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """The suite's cassette config (which redacts token answers) plus the token-URL and live
    URL rewrite."""
    earlier = vcr_config.get("before_record_request") or ()
    if callable(earlier):
        earlier = (earlier,)
    return {**vcr_config, "before_record_request": (*earlier, _to_stub)}
