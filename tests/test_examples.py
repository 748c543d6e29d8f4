"""The README's main job (the LangChain quickstart) runs end to end against a loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.openai_server import OpenAIStubServer

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "langchain_quickstart.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quickstart_against_a_serving_endpoint() -> None:
    with OpenAIStubServer(quirks=True) as server:
        done = _run(
            ["--endpoint", "demo-chat"],
            {"DATABRICKS_HOST": server.base_url, "DATABRICKS_TOKEN": "t"},
        )
    assert done.returncode == 0, done.stderr
    assert "model: demo-chat via databricks" in done.stdout
    assert "tool calls: [{'name': 'word_count'" in done.stdout
    assert "structured: answer=" in done.stdout
    assert "streamed usage: {'input_tokens':" in done.stdout


def test_quickstart_without_a_target_explains_what_to_set() -> None:
    done = _run([], {})
    assert done.returncode == 2
    assert "No model configured" in done.stderr
