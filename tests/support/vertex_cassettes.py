"""What every Vertex AI cassette test shares: the stub target's config and the rewrite that
keeps credentials and live URLs out of cassettes.

Replays call the loopback stub's base URL with a throwaway service-account key whose
``token_uri`` points at a loopback token endpoint (:class:`~tests.support.wires.vertex.TokenServer`
on :data:`TOKEN_PORT`, which ``tests/conftest.py`` starts only while recording). Every token
exchange is stored redacted and matched redacted (:func:`to_stub`): its URL becomes
:data:`TOKEN_URI`, its form body (the signed JWT assertion) :data:`REDACTED_FORM`; the
``access_token`` in its answer is redacted by ``tests/conftest.py``. vcrpy applies
``before_record_request`` to replayed requests too, so a fresh assertion signed with a fresh key
matches the stored one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.providers.cases.vertex import PROJECT, REGION, service_account

PROVIDER = "google-cloud-vertex-ai"
# Fixed, like the stub servers' ports, so recorded token URLs match on replay.
TOKEN_PORT = 18767
TOKEN_URI = f"http://127.0.0.1:{TOKEN_PORT}/token"
LIVE_TOKEN_URI = "https://oauth2.googleapis.com/token"
REDACTED_FORM = (
    b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=redacted"
)
_LIVE_API = re.compile(
    r"^https://([a-z0-9-]+-)?aiplatform\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/"
)


def stub_config(api_base: str) -> dict[str, Any]:
    """``google_cloud_vertex_ai_config`` for the stub on ``api_base``, signing in through the
    loopback token endpoint."""
    return {
        "project_id": PROJECT,
        "region": REGION,
        "private_key_plaintext": json.dumps(service_account(token_uri=TOKEN_URI)),
        "vertex_api_base": api_base,
    }


def stub_external_model(api_base: str, name: str, task: str = "llm/v1/chat") -> dict[str, Any]:
    """An ``external_model`` for Gemini model ``name`` on the stub."""
    return {
        "name": name,
        "provider": PROVIDER,
        "task": task,
        "google_cloud_vertex_ai_config": stub_config(api_base),
    }


def to_stub(api_base: str) -> Any:
    """A ``before_record_request`` hook: token exchanges redacted, live Vertex URLs rewritten to
    the stub's on ``api_base`` (a no-op on any other request)."""
    stub_api = f"{api_base}/v1/projects/{PROJECT}/locations/{REGION}/"

    def rewrite(recorded: Any) -> Any:
        if recorded.uri in (TOKEN_URI, LIVE_TOKEN_URI):
            recorded.uri = TOKEN_URI
            recorded.body = REDACTED_FORM
        recorded.uri = _LIVE_API.sub(stub_api, recorded.uri)
        return recorded

    return rewrite
