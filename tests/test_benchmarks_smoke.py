"""The benchmarks run (one tiny round of every case) so they never rot; nothing is timed here.

The one smoke run also serves the secrets canary: every canary credential is in its
environment (the benchmarks use a fixed key of their own and read none from it), and nothing it
prints or writes may show one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import canary

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_run_reports_every_case_of_ours_and_no_secret(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    env = {
        **os.environ,
        **canary.environment("http://127.0.0.1:9/token"),
        "OPENAI_API_KEY": canary.CANARIES["openai"],
        "DATABRICKS_TOKEN": canary.CANARIES["workspace"],
        "AWS_SECRET_ACCESS_KEY": canary.CANARIES["aws-secret"],
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    for row in (
        "| core chat (sync) | ExternalClient (ours) |",
        "| invoke (sync) | ChatExternal (ours) |",
        "| astream 2000 chunks | ChatExternal (ours) |",
        "| peak memory, 1 MB streamed | ChatExternal (ours) |",
        "| 5 concurrent ainvoke | ChatExternal (ours) |",
        "| embed 50 texts (async) | ExternalEmbeddings (ours) |",
        "| LlamaIndex achat | LlamaIndex ChatExternal (ours) |",
        "| LlamaIndex astream 2000 chunks | LlamaIndex ChatExternal (ours) |",
        "| LlamaIndex peak memory, 1 MB streamed | LlamaIndex ChatExternal (ours) |",
        "| import time | extmodels_integrations |",
    ):
        assert row in report, row
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    everything = [done.stdout, done.stderr, *written]
    assert not canary.leaks(everything), canary.leaks(everything)
    assert "sk-bench" not in "".join(everything)
