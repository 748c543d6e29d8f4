"""examples/endpoint_config_demo.py runs end to end on examples/endpoint_config.json, with both
served entities pointed at one loopback stub server through the demo's --local-base override."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from extmodels_integrations import load_endpoint_config
from tests.support.openai_server import OpenAIStubServer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "endpoint_config.json"


def test_the_example_file_is_a_valid_deployable_body() -> None:
    config = load_endpoint_config(CONFIG)
    assert {e.external_model.provider for e in config.served_entities} == {
        "openai",
        "databricks-model-serving",
    }
    assert [e.traffic_percentage for e in config.served_entities] == [70, 30]
    assert [(r.calls, r.renewal_period) for r in config.rate_limits] == [(60, "minute")]
    assert "plaintext" not in CONFIG.read_text()  # secrets are references only


def test_the_demo_routes_70_30_from_both_frameworks() -> None:
    env = {
        **os.environ,
        "EXTMODELS_SECRET__DEMO__OPENAI": "sk-demo-openai",
        "EXTMODELS_SECRET__DEMO__DATABRICKS": "dapi-demo-databricks",
    }
    with OpenAIStubServer() as server:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "endpoint_config_demo.py"),
                "--local-base",
                server.base_url,
                "--calls",
                "20",
                "--seed",
                "4",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        paths = Counter(r.path for r in server.requests)
        tokens = {r.headers.get("authorization") for r in server.requests}
    assert done.returncode == 0, done.stderr
    assert "LangChain: endpoint support-chat via openai+databricks-model-serving" in done.stdout
    tally = re.search(r"20 calls answered by: (\{.*\})", done.stdout)
    assert tally is not None, done.stdout
    answered = json.loads(tally.group(1).replace("'", '"'))
    assert set(answered) == {"openai-primary", "team-endpoint"}
    assert sum(answered.values()) == 20
    assert re.search(r"streamed by \S+ \((openai|databricks-model-serving)\)", done.stdout)
    assert "LlamaIndex: " in done.stdout and "answered by " in done.stdout
    # Both providers' wire routes were used, with the secrets resolved from the environment.
    assert paths["/v1/chat/completions"] >= answered["openai-primary"]
    assert paths["/serving-endpoints/team-chat/invocations"] >= answered["team-endpoint"]
    assert tokens == {"Bearer sk-demo-openai", "Bearer dapi-demo-databricks"}
