"""The benchmarks run (one tiny round of every case) so they never rot; nothing is timed here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_run_reports_every_case_of_ours(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    for row in (
        "| core chat (sync) | ExternalClient (ours) |",
        "| invoke (sync) | ChatExternal (ours) |",
        "| astream 2000 chunks | ChatExternal (ours) |",
        "| peak memory, 1 MB streamed | ChatExternal (ours) |",
        "| embed 50 texts (async) | ExternalEmbeddings (ours) |",
        "| import time | extmodels_integrations |",
    ):
        assert row in report, row
    assert "sk-bench" not in report + done.stdout + done.stderr
