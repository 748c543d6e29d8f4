"""The examples run end to end against the loopback stub: the LangChain quickstart, and each
per-target script in examples/targets/ on its provider's wire."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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


# -- the per-target scripts (examples/targets/) -------------------------------------------------

TARGETS = ROOT / "examples" / "targets"


@dataclass(frozen=True)
class Target:
    script: str
    env: dict[str, str]
    base: str  # what --api-base gets, after the stub's base URL
    paths: tuple[str, ...]  # the stub routes the run must have used
    credential: str  # a header value that proves the key reached the wire


TARGET_RUNS = [
    Target(
        "openai_api.py",
        {"OPENAI_API_KEY": "sk-target"},
        "/v1",
        ("/v1/chat/completions", "/v1/embeddings"),
        "Bearer sk-target",
    ),
    Target(
        "azure_openai.py",
        {
            "AZURE_OPENAI_API_KEY": "az-target",
            "AZURE_OPENAI_ENDPOINT": "https://unused.openai.azure.com",
            "AZURE_OPENAI_DEPLOYMENT": "chat-dep",
            "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT": "embed-dep",
        },
        "",
        (
            "/openai/deployments/chat-dep/chat/completions",
            "/openai/deployments/embed-dep/embeddings",
        ),
        "az-target",
    ),
    Target(
        "anthropic_messages.py",
        {"ANTHROPIC_API_KEY": "sk-ant-target"},
        "",
        ("/v1/messages",),
        "sk-ant-target",
    ),
    Target(
        "cohere_api.py",
        {"COHERE_API_KEY": "co-target"},
        "",
        ("/v2/chat", "/v2/embed"),
        "Bearer co-target",
    ),
    Target(
        "ai21labs.py",
        {"AI21_API_KEY": "ai21-target"},
        "/studio/v1",
        ("/studio/v1/chat/completions",),
        "Bearer ai21-target",
    ),
    Target(
        "amazon_bedrock.py",
        {
            "AWS_ACCESS_KEY_ID": "AKIDTARGET",
            "AWS_SECRET_ACCESS_KEY": "secret-target",
            "AWS_REGION": "us-east-1",
        },
        "",
        (
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke-with-response-stream",
            "/model/amazon.titan-embed-text-v2%3A0/invoke",
        ),
        "AKIDTARGET",
    ),
    Target(
        "databricks_model_serving.py",
        {
            "OTHER_WORKSPACE_URL": "https://other.example.com",
            "OTHER_WORKSPACE_TOKEN": "dapi-other",
            "OTHER_CHAT_ENDPOINT": "their-chat",
            "OTHER_EMBEDDINGS_ENDPOINT": "their-embed",
        },
        "",
        (
            "/serving-endpoints/their-chat/invocations",
            "/serving-endpoints/their-embed/invocations",
        ),
        "Bearer dapi-other",
    ),
    Target(
        "serving_endpoint.py",
        {
            "DATABRICKS_HOST": "https://workspace.example.com",
            "DATABRICKS_TOKEN": "dapi-here",
            "EXTMODELS_ENDPOINT": "my-chat",
            "EXTMODELS_EMBEDDINGS_ENDPOINT": "my-embed",
        },
        "",
        ("/serving-endpoints/my-chat/invocations", "/serving-endpoints/my-embed/invocations"),
        "Bearer dapi-here",
    ),
]
# Every script under examples/targets/ is covered (vertex_ai.py only for its missing settings:
# its service-account sign-in needs Google's token endpoint).
ALL_SCRIPTS = sorted(p.name for p in TARGETS.glob("*.py") if not p.name.startswith("_"))


def _target(
    script: str,
    env: dict[str, str],
    *args: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """Run a script in this process (as ``python script`` would), with only ``env`` set of the
    variables the scripts read: (exit code, stdout, stderr)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "GOOGLE_", "OPENAI_", "AZURE_", "ANTHROPIC_", "COHERE_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", [str(TARGETS / script), *args])
    monkeypatch.syspath_prepend(str(TARGETS))
    code = 0
    try:
        runpy.run_path(str(TARGETS / script), run_name="__main__")
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_target_script_is_exercised() -> None:
    assert sorted([t.script for t in TARGET_RUNS] + ["vertex_ai.py"]) == ALL_SCRIPTS


@pytest.mark.parametrize("target", TARGET_RUNS, ids=lambda t: t.script)
def test_target_script_streams_an_answer_and_embeds(
    target: Target, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with OpenAIStubServer() as server:
        code, out, err = _target(
            target.script,
            target.env,
            "--api-base",
            server.base_url + target.base,
            monkeypatch=monkeypatch,
            capsys=capsys,
        )
        used = {r.path for r in server.requests}
        headers = [" ".join(r.headers.values()) for r in server.requests]
    assert code == 0, err
    assert "chat model: " in out
    assert re.search(r"usage: \{'input_tokens': [1-9]", out), out
    assert set(target.paths) <= used, used
    assert all(target.credential in h for h in headers)
    if len(target.paths) > 1:
        assert re.search(r"embeddings: .* -> [1-9]\d* dimensions", out), out


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_target_script_names_the_settings_it_misses(
    script: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _target(script, {}, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert f"{script} needs these environment variables:" in err
    assert re.search(r"^  [A-Z][A-Z0-9_]+  \S", err, re.M), err  # each variable, described


# -- the offline demo's quickstart, on the stub (the real models run in tests/demo/) -----------

DEMO = ROOT / "examples" / "demo"


def test_demo_quickstart_runs_on_any_endpoint_configs(tmp_path: Path) -> None:
    """The quickstart takes any chat / embeddings endpoint configs: here the demo's own, pointed
    at the stub, which reports usage with streams (llama-cpp-python's server does not)."""
    with OpenAIStubServer() as server:
        args = []
        for kind in ("chat", "embeddings"):
            body = json.loads((DEMO / f"{kind}_endpoint.json").read_text())
            entity = body["config"]["served_entities"][0]["external_model"]
            entity["openai_config"]["openai_api_base"] = f"{server.base_url}/v1"
            (tmp_path / f"{kind}.json").write_text(json.dumps(body))
            args += [f"--{kind}-config", str(tmp_path / f"{kind}.json")]
        done = subprocess.run(
            [sys.executable, str(DEMO / "quickstart.py"), *args],
            env={**os.environ, "EXTMODELS_SECRET__DEMO__LOCAL": "local-key"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        requests = list(server.requests)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Q: How many times is a request retried?\nA: Stub reply to:" in out
    assert "Q: What is an endpoint config?\nA: Stub reply to:" in out
    assert len(re.findall(r"sources:\n  \[1\] \d+_\w+\.md > .*\n  \[2\] ", out)) == 2, out
    assert "embedding: 100%" in done.stderr and "Generating embeddings: 100%" in done.stderr
    usage = re.findall(r"(\w+) +(\d+) prompt \+ +(\d+) completion = +(\d+) tokens", out)
    assert [name for name, *_ in usage] == ["LangChain", "LlamaIndex", "total"], out
    (_, p1, c1, _), (_, p2, c2, _), (_, pt, ct, tt) = usage
    assert (int(pt), int(ct), int(tt)) == (int(p1) + int(p2), int(c1) + int(c2), int(pt) + int(ct))
    assert int(p1) > 0 and int(c1) > 0
    # Both frameworks streamed the chat, with the stop sequence, through the secret reference.
    chats = [r for r in requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 2 and all(r.json["stream"] for r in chats)
    assert all(r.json["stop"] == ["\nQuestion:"] for r in chats)
    assert {r.headers["authorization"] for r in requests} == {"Bearer local-key"}
    embedded = sum(len(r.json["input"]) for r in requests if r.path == "/v1/embeddings")
    chunks = int(re.search(r"corpus: (\d+) chunks", out).group(1))  # type: ignore[union-attr]
    assert embedded == 2 * chunks + 2  # the corpus for each framework, and each question
