"""examples/endpoint_config_demo.py runs end to end on examples/endpoint_config.json through its
--local-base override, against the loopback stub used the way a plain OpenAI-compatible server
(llama.cpp's) can be: only its /v1 routes."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from extmodels_integrations import load_endpoint_config
from tests.support.openai_server import OpenAIStubServer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "endpoint_config.json"
DEMO = ROOT / "examples" / "endpoint_config_demo.py"


def test_the_example_file_is_a_valid_deployable_body() -> None:
    config = load_endpoint_config(CONFIG)
    assert {e.external_model.provider for e in config.served_entities} == {
        "openai",
        "databricks-model-serving",
    }
    assert [e.traffic_percentage for e in config.served_entities] == [70, 30]
    assert [(r.calls, r.renewal_period) for r in config.rate_limits] == [(60, "minute")]
    assert "plaintext" not in CONFIG.read_text()  # secrets are references only


def test_the_demo_routes_70_30_from_both_frameworks_on_an_openai_compatible_server() -> None:
    env = {
        **os.environ,
        "EXTMODELS_SECRET__DEMO__OPENAI": "sk-demo-openai",
        "EXTMODELS_SECRET__DEMO__DATABRICKS": "dapi-demo-databricks",
    }
    before = CONFIG.read_text()
    with OpenAIStubServer() as server:
        base = server.base_url
        done = subprocess.run(
            [sys.executable, str(DEMO), "--local-base", base, "--calls", "20", "--seed", "4"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        posts = [r for r in server.requests if r.method == "POST"]
        probes = {r.path for r in server.requests if r.method == "GET"}
        paths = Counter(r.path for r in posts)
        tokens = Counter(r.headers.get("authorization") for r in posts)
    assert done.returncode == 0, done.stderr
    assert CONFIG.read_text() == before
    assert (
        "note: team-endpoint (databricks-model-serving) is served as an openai entity at "
        f"{base}/v1: an OpenAI-compatible server has no "
        "/serving-endpoints/team-chat/invocations route"
    ) in done.stdout
    assert "LangChain: endpoint support-chat via openai" in done.stdout
    tally = re.search(r"20 calls answered by: (\{.*\})", done.stdout)
    assert tally is not None, done.stdout
    answered = json.loads(tally.group(1).replace("'", '"'))
    assert set(answered) == {"openai-primary", "team-endpoint"}
    assert sum(answered.values()) == 20
    assert re.search(r"streamed by (openai-primary|team-endpoint) \(openai\)", done.stdout)
    assert "LlamaIndex: " in done.stdout and "answered by " in done.stdout
    # Only the routes every OpenAI-compatible server has; each entity sent its own secret.
    # The GETs are LlamaIndex's context-window probe (llama.cpp's /props, then /v1/models).
    assert set(paths) == {"/v1/chat/completions"}
    assert probes <= {"/props", "/v1/models"}
    assert tokens["Bearer sk-demo-openai"] >= answered["openai-primary"]
    assert tokens["Bearer dapi-demo-databricks"] >= answered["team-endpoint"]
    assert set(tokens) == {"Bearer sk-demo-openai", "Bearer dapi-demo-databricks"}


def _load_body() -> Any:
    return runpy.run_path(str(DEMO))["load_body"]


def test_without_local_base_the_body_is_the_file() -> None:
    assert _load_body()(str(CONFIG), None) == json.loads(CONFIG.read_text())


@pytest.mark.parametrize(
    ("provider", "config"),
    [
        ("anthropic", {"anthropic_config": {"anthropic_api_key": "{{secrets/a/b}}"}}),
        (
            "openai",
            {
                "openai_config": {
                    "openai_api_type": "azure",
                    "openai_api_key": "{{secrets/a/b}}",
                    "openai_api_base": "https://r.openai.azure.com",
                    "openai_api_version": "2024-10-21",
                    "openai_deployment_name": "d",
                }
            },
        ),
    ],
)
def test_local_base_refuses_what_an_openai_server_cannot_serve(
    provider: str, config: dict[str, Any], tmp_path: Path
) -> None:
    body = json.loads(CONFIG.read_text())
    model = {"name": "m", "provider": provider, "task": "llm/v1/chat", **config}
    body["config"]["served_entities"][1]["external_model"] = model
    path = tmp_path / "config.json"
    path.write_text(json.dumps(body))
    with pytest.raises(SystemExit) as refused:
        _load_body()(str(path), "http://127.0.0.1:1")
    assert f"served entity 'team-endpoint' ({provider}) cannot be served" in str(refused.value)
