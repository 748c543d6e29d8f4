"""benchmarks/gateway_bench.py runs (a few requests per case, nothing timed): our gateway is
measured, peers whose venv is missing are skipped by name, and no key shows in what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gateway_bench_smoke_measures_ours_and_skips_absent_peers(tmp_path: Path) -> None:
    output = tmp_path / "gateway.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gateway_bench.py"),
            "--smoke",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "EXTMODELS_BENCH_PEERS": str(tmp_path / "no-peers")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    for kind in ("plain", "streamed"):
        assert f"| extmodels serve (ours) | this checkout | {kind} |" in report
    assert "Skipped: litellm:" in report and "Skipped: mlflow:" in report
    assert "sk-bench" not in done.stdout + done.stderr + report
    assert "gw-bench-token" not in done.stdout + done.stderr + report
