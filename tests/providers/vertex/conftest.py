"""Cassette wiring for the Vertex AI LangChain tests: the target they call and the switch to
record against the real service.

Replays (the default) always call the loopback stub's base URL with the throwaway key of
:func:`tests.support.vertex_cassettes.stub_config`; token exchanges are redacted, and live URLs
rewritten to the stub's, by the session's ``vcr_config`` (see that module).

Recording live: with ``--record-mode=rewrite``, ``EXTMODELS_RECORD_LIVE`` naming
``google-cloud-vertex-ai`` and ``GOOGLE_APPLICATION_CREDENTIALS`` the path of a service-account
JSON key, the real Vertex AI (project from the key, region ``VERTEX_REGION`` or us-central1) and
Google's token endpoint are called; recorded URLs are rewritten to the stub's so the plain replay
run finds them. Credentials never reach a cassette.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import OPENAI_BASE
from tests.providers.cases.vertex import REGION
from tests.support.vertex_cassettes import PROVIDER, stub_config

KEY_ENV = "GOOGLE_APPLICATION_CREDENTIALS"


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
def vertex_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``google_cloud_vertex_ai_config`` the tests use: the real service when recording
    live, else the stub (the session starts the loopback token endpoint while recording)."""
    if not _live(request.config):
        return stub_config(OPENAI_BASE)
    with open(os.environ[KEY_ENV]) as key_file:
        key = key_file.read()
    return {
        "project_id": os.environ.get("GOOGLE_CLOUD_PROJECT") or json.loads(key)["project_id"],
        "region": os.environ.get("VERTEX_REGION", REGION),
        "private_key_plaintext": key,
    }
