"""Every ```python block of README.md, read from the README at test time and run as written
against the loopback stub, so a README edit that breaks a snippet turns this red.

A block is pointed at the stub only through what the README itself documents: ``DATABRICKS_HOST``
/ ``DATABRICKS_TOKEN`` for ``endpoint=``, ``EXTMODELS_SECRET__<SCOPE>__<KEY>`` for secret
references, a block's own base URL (``openai_api_base``, ``databricks_workspace_url``) replaced
by the stub's, ``openai_api_base`` added where the README says any OpenAI-compatible server is
reached through it, and the demo's ``--local-base`` rewrite for ``examples/endpoint_config.json``.
A block that cannot be run that way is listed in ``NOT_RUN`` with the reason, and only compiled.
"""

from __future__ import annotations

import json
import re
import runpy
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIStubServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
STUB = "http://stub"  # replaced by the running stub's base URL
ADD_OPENAI_BASE = ('"openai_config": {', f'"openai_config": {{"openai_api_base": "{STUB}/v1", ')


def python_blocks() -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)


@dataclass(frozen=True)
class Run:
    marker: str  # text only this block has
    paths: frozenset[str]  # exactly the stub routes the block must call (none: builds only)
    subs: tuple[tuple[str, str], ...] = ()  # (text in the block, replacement); STUB -> base
    env: dict[str, str] = field(default_factory=dict)


SERVING = {"DATABRICKS_HOST": STUB, "DATABRICKS_TOKEN": "dapi-readme"}
INVOCATIONS = "/serving-endpoints/my-chat-endpoint/invocations"

RUNS = [
    Run(
        'for chunk in llm.stream("Why is the sky blue?"):',
        frozenset({INVOCATIONS}),
        env=SERVING,
    ),
    Run(
        "Settings.embed_model = ExternalEmbeddings(external_model={",
        frozenset({INVOCATIONS, "/v1/embeddings"}),
        (ADD_OPENAI_BASE,),
        {**SERVING, "EXTMODELS_SECRET__LLM__OPENAI": "sk-readme"},
    ),
    Run(
        '    "name": "gpt-4o-mini",',
        frozenset({"/v1/chat/completions"}),
        (ADD_OPENAI_BASE,),
        {"EXTMODELS_SECRET__LLM__OPENAI": "sk-readme"},
    ),
    Run(
        'vectors = emb.embed_documents(["first doc", "second doc"])',
        frozenset({"/openai/deployments/embed-large/embeddings"}),
        (("https://my-resource.openai.azure.com", STUB),),
        {"EXTMODELS_SECRET__LLM__AZURE": "az-readme"},
    ),
    # Builds only, as the README writes it: a call would need Entra ID's token endpoint.
    Run(
        '        "openai_api_type": "azuread",',
        frozenset(),
        env={"EXTMODELS_SECRET__LLM__ENTRA": "entra-readme"},
    ),
    Run(
        'print(llm.invoke("Once upon a time"))',
        frozenset({"/serving-endpoints/their-completions-endpoint/invocations"}),
        (("https://other.cloud.databricks.com", STUB),),
        {"EXTMODELS_SECRET__LLM__OTHER_WS": "dapi-other"},
    ),
    # Builds only, as the README writes it: a call would need AWS.
    Run(
        '    "name": "anthropic.claude-3-5-haiku-20241022-v1:0", "provider": "amazon-bedrock",',
        frozenset(),
        env={
            "EXTMODELS_SECRET__LLM__AWS_KEY": "AKIDREADME",
            "EXTMODELS_SECRET__LLM__AWS_SECRET": "aws-readme",
        },
    ),
    Run(
        'llm = ChatExternal(endpoint_config="examples/endpoint_config.json")',
        frozenset({"/v1/chat/completions"}),
        (('"examples/endpoint_config.json"', '"{local_config}"'),),
        {
            "EXTMODELS_SECRET__DEMO__OPENAI": "sk-demo",
            "EXTMODELS_SECRET__DEMO__DATABRICKS": "dapi-demo",
        },
    ),
    Run("data = dumpd(llm)", frozenset({INVOCATIONS}), env=SERVING),
    Run(
        'with ExternalClient(endpoint="my-chat-endpoint") as client:',
        frozenset({INVOCATIONS}),
        env=SERVING,
    ),
]
NOT_RUN = {
    'client.apply("examples/endpoint_config.json", dry_run=True)': "needs a workspace; the same "
    "calls run against the loopback fake workspace in tests/endpoints/test_lifecycle.py",
    "embed = embed_udf(": "continues the reader's own Spark job: `df` is their DataFrame, which "
    "the README does not define (the column functions are run on Spark in tests/spark/)",
    'client = OpenAI(base_url="http://127.0.0.1:8080/serving-endpoints"': "needs a running "
    "gateway on the demo's models; the same client calls are run against a real gateway in "
    "tests/gateway/test_gateway_clients.py",
}


def _owner(block: str) -> str:
    owners = [r.marker for r in RUNS if r.marker in block]
    owners += [m for m in NOT_RUN if m in block]
    assert len(owners) == 1, f"README block needs exactly one entry here, has {owners}:\n{block}"
    return owners[0]


def test_every_block_is_run_or_says_why_not() -> None:
    owners = [_owner(block) for block in python_blocks()]
    assert sorted(owners) == sorted([r.marker for r in RUNS] + list(NOT_RUN))


@pytest.mark.parametrize("marker", list(NOT_RUN))
def test_a_block_not_run_still_compiles(marker: str) -> None:
    [block] = [b for b in python_blocks() if marker in b]
    compile(block, "README.md", "exec")


@pytest.fixture
def llama_index_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put LlamaIndex's global Settings back after a block sets them."""
    from llama_index.core import Settings

    for name in ("_llm", "_embed_model"):
        monkeypatch.setattr(Settings, name, getattr(Settings, name))


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r.marker.strip()[:40])
def test_the_block_runs_as_written(
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    llama_index_settings: None,
) -> None:
    [block] = [b for b in python_blocks() if run.marker in b]
    # SimpleDirectoryReader("docs") reads the reader's own documents: a short one here. (This
    # repository's docs/ are long enough for LlamaIndex's splitter to load nltk's punkt data,
    # which nltk 3.10 refuses to open from a venv whose files uv hard-linked from its cache.)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "changes.md").write_text("v2 added endpoint configs and fallbacks.\n")
    monkeypatch.chdir(tmp_path)
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with OpenAIStubServer() as server:
        for old, new in run.subs:
            assert old in block, f"the README block no longer has {old!r}"
            new = new.replace(STUB, server.base_url)
            if "{local_config}" in new:
                new = new.replace("{local_config}", str(_local_config(tmp_path, server)))
            block = block.replace(old, new)
        for name, value in run.env.items():
            monkeypatch.setenv(name, value.replace(STUB, server.base_url))
        capsys.readouterr()  # only what the block prints counts
        exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})
        paths = {r.path for r in server.requests}
    assert paths == run.paths
    if "print(" in block:
        assert capsys.readouterr().out.strip()


def _local_config(tmp_path: Path, server: OpenAIStubServer) -> Path:
    """examples/endpoint_config.json as the demo's ``--local-base`` points it at the stub."""
    demo = runpy.run_path(str(ROOT / "examples" / "endpoint_config_demo.py"))
    body = demo["load_body"](str(ROOT / "examples" / "endpoint_config.json"), server.base_url)
    path = tmp_path / "endpoint_config.json"
    path.write_text(json.dumps(body))
    return path
