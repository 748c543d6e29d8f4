"""``examples/llama_index_rag.py`` runs end to end against a loopback serving-endpoint stub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.openai_server import OpenAIStubServer

ROOT = Path(__file__).resolve().parent.parent.parent


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llama_index_rag.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rag_example_against_serving_endpoints() -> None:
    with OpenAIStubServer(quirks=True) as server:
        done = _run(
            ["--endpoint", "demo-chat", "--embeddings-endpoint", "demo-embeddings"],
            {"DATABRICKS_HOST": server.base_url, "DATABRICKS_TOKEN": "t"},
        )
        paths = {r.path for r in server.requests}
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "model: demo-chat via databricks, window 8192" in out
    assert "answer: Stub reply to: Context information is below." in out
    assert "sources: [" in out
    assert "chat: Stub reply to: Which providers can sit behind one endpoint?" in out
    assert "agent: The result is Stub reply to: Context information is below." in out
    prompt, completion = out.split("tokens: ")[1].split(" in, ")
    assert int(prompt) > 0 and int(completion.split()[0]) > 0
    assert paths == {
        "/serving-endpoints/demo-chat/invocations",
        "/serving-endpoints/demo-embeddings/invocations",
    }


def test_rag_example_without_a_target_explains_what_to_set() -> None:
    done = _run([], {})
    assert done.returncode == 2
    assert "No model configured" in done.stderr
