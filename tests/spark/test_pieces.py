"""The executor-side pieces without a JVM: rate shares, conversations, divided config limits,
the bench's smoke run (with the session's JVM)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from extmodels_integrations.spark import UsageTotals, embed_udf
from extmodels_integrations.spark._executor import Caller, messages_of, split_rate
from tests.spark.conftest import openai_model
from tests.spark.server import FaultyServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("calls", "seconds", "tasks", "share"),
    [
        (6, 1.0, 2, (3, 1.0)),
        (7, 1.0, 2, (3, 1.0)),
        (1, 60.0, 4, (1, 240.0)),
        (3, 1.0, 4, (1, 4 / 3)),
    ],
)
def test_each_task_gets_a_share_that_keeps_the_job_under_the_limit(
    calls: int, seconds: float, tasks: int, share: tuple[int, float]
) -> None:
    assert split_rate(calls, seconds, tasks) == pytest.approx(share)
    each, window = split_rate(calls, seconds, tasks)
    assert tasks * each / window <= calls / seconds + 1e-9


def test_conversations_from_struct_arrays_and_json() -> None:
    rows = np.array([{"role": "user", "content": "hi", "name": None}], dtype=object)
    assert messages_of(rows) == [{"role": "user", "content": "hi"}]
    assert messages_of('[{"role": "user", "content": "hi"}]') == [{"role": "user", "content": "hi"}]
    for bad in ("{", '{"role": "user"}', "[]", '[{"content": "no role"}]'):
        with pytest.raises(ValueError, match="messages"):
            messages_of(bad)


def test_an_endpoint_configs_limits_are_divided_by_the_concurrent_tasks(
    spark: SparkSession, server: FaultyServer
) -> None:
    config = {
        "name": "spark-embeddings",
        "config": {
            "served_entities": [
                {"name": "a", "external_model": openai_model(server, "llm/v1/embeddings")}
            ]
        },
        "rate_limits": [{"calls": 120, "key": "endpoint", "renewal_period": "minute"}],
    }
    embed = embed_udf(endpoint_config=config, concurrent_tasks=4)
    router = Caller(embed._recipe).client.router
    assert router is not None
    assert [limiter.calls for limiter, _ in router.limits.limiters] == [30]

    config["rate_limits"] = [{"calls": 2, "key": "endpoint", "renewal_period": "minute"}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embed_udf(endpoint_config=config, concurrent_tasks=4)
    assert any("lower concurrent_tasks" in str(w.message) for w in caught)


def test_usage_totals_add_up() -> None:
    assert UsageTotals(1, 2, 3, 1, 1, 0) + UsageTotals(1, 0, 1, 1, 2, 1) == UsageTotals(
        2, 2, 4, 2, 3, 1
    )


def test_the_spark_benchmark_runs(spark: SparkSession, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "spark_bench", ROOT / "benchmarks" / "spark_bench.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--smoke"], spark=spark)
    assert result["ours"] > 0 and result["naive"] > 0
    assert "rows/s" in capsys.readouterr().out
