"""Rows per second of ``embed_udf`` against a naive one-request-per-row UDF, in Spark local mode.

    python benchmarks/spark_bench.py            # 20,000 rows, 3 rounds each
    python benchmarks/spark_bench.py --smoke    # 200 rows, 1 round (CI: it must run, not be fast)

Both UDFs embed the same cached DataFrame against the same loopback server
(``benchmarks/_server.py``, its own process, instant answers) and are forced with Spark's
``noop`` sink. The naive UDF is what people write first: a row-at-a-time ``@udf`` that POSTs
one text per request, with the most favourable detail given to it (one pooled httpx client per
worker process instead of one per row). Needs the ``spark`` extra and Java 17 or 21.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.functions import udf
from pyspark.sql.types import ArrayType, FloatType

from extmodels_integrations.spark import embed_udf

HERE = Path(__file__).resolve().parent


@contextmanager
def loopback_server() -> Iterator[str]:
    """``benchmarks/_server.py`` on a free loopback port, in its own process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_server.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def session() -> SparkSession:
    """A ``local[2]`` session on loopback, workers on this interpreter."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("extmodels-spark-bench")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def naive_udf(base: str) -> Any:
    """One POST per row from a row-at-a-time UDF (a pooled client per worker process)."""
    url = f"{base}/v1/embeddings"
    clients: dict[int, Any] = {}

    def embed(text):  # no hints: Spark 4 would look for an Arrow UDF in them
        import httpx

        client = clients.get(os.getpid())
        if client is None:
            client = clients[os.getpid()] = httpx.Client(
                headers={"Authorization": "Bearer sk-bench"}
            )
        reply = client.post(url, json={"model": "text-embedding-3-small", "input": [text]})
        reply.raise_for_status()
        return reply.json()["data"][0]["embedding"]

    return udf(embed, ArrayType(FloatType()))


def ours_udf(base: str) -> Any:
    return embed_udf(
        external_model={
            "name": "text-embedding-3-small",
            "provider": "openai",
            "task": "llm/v1/embeddings",
            "openai_config": {
                "openai_api_key_plaintext": "sk-bench",
                "openai_api_base": f"{base}/v1",
            },
        },
        fail_on_error=True,
    )


def rows_per_second(frame: DataFrame, make: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        column = make()("text")
        started = time.perf_counter()
        frame.select(column).write.format("noop").mode("overwrite").save()
        times.append(time.perf_counter() - started)
    return frame.count() / statistics.median(times)


def run(spark: SparkSession, rows: int, rounds: int) -> dict[str, float]:
    """Rows per second of both UDFs and their ratio."""
    texts = [(f"document {i}: the quick brown fox jumps over the lazy dog",) for i in range(rows)]
    frame = spark.createDataFrame(texts, "text string").repartition(2).cache()
    frame.count()
    with loopback_server() as base:
        rows_per_second(frame, lambda: ours_udf(base), 1)  # warm both worker processes
        ours = rows_per_second(frame, lambda: ours_udf(base), rounds)
        naive = rows_per_second(frame, lambda: naive_udf(base), rounds)
    frame.unpersist()
    return {"ours": ours, "naive": naive, "ratio": ours / naive}


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="200 rows, one round")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows, rounds = (200, 1) if args.smoke else (args.rows, args.rounds)
    result = run(spark or session(), rows, rounds)
    print(f"embed {rows} rows, local[2], median of {rounds}:")
    print(f"  embed_udf (ours)        {result['ours']:>10,.0f} rows/s")
    print(f"  naive one-request-per-row {result['naive']:>8,.0f} rows/s")
    print(f"  ratio                   {result['ratio']:>10.1f}x")
    return result


if __name__ == "__main__":
    main()
