"""Embed a DataFrame column on Spark with the same external_model block as everywhere else.

    export OPENAI_API_KEY=sk-...          # read on the driver, shipped to executors as a secret
    python examples/spark_embed.py [--rows 1000] [--model text-embedding-3-small]

Without an account, point it at any local OpenAI-compatible server:

    python examples/spark_embed.py --base-url http://127.0.0.1:8000

It starts a ``local[2]`` session (needs ``pip install 'extmodels-integrations[spark]'`` and
Java 17 or 21), embeds a text column into ``struct<result: array<float>, error>``, shows failed
rows with their typed errors, and prints the token usage gathered from the executors. On a
cluster, drop the session builder and use ``{{secrets/scope/key}}`` for the key instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from extmodels_integrations.spark import embed_udf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--model", default="text-embedding-3-small")
    parser.add_argument("--base-url", help="an OpenAI-compatible server (uses /v1 under it)")
    args = parser.parse_args()
    key = os.environ.get("OPENAI_API_KEY") or ("local" if args.base_url else None)
    if key is None:
        print("Set OPENAI_API_KEY, or pass --base-url for a local server.", file=sys.stderr)
        return 2

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("extmodels-spark-embed")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    config = {"openai_api_key_plaintext": key}
    if args.base_url:
        config["openai_api_base"] = args.base_url.rstrip("/") + "/v1"
    embed = embed_udf(
        external_model={
            "name": args.model,
            "provider": "openai",
            "task": "llm/v1/embeddings",
            "openai_config": config,
        },
        max_concurrency=4,
    )
    docs = spark.range(args.rows).select(
        "id", F.concat(F.lit("Document number "), F.col("id").cast("string")).alias("text")
    )
    embedded = docs.withColumn("embedding", embed("text")).cache()

    done = embedded.filter("embedding.error IS NULL")
    first = done.orderBy("id").select("id", F.size("embedding.result").alias("dims")).first()
    print(f"embedded {done.count()} of {args.rows} rows; row {first.id} has {first.dims} dims")
    failed = embedded.filter("embedding.error IS NOT NULL")
    for row in failed.select("id", "embedding.error.type").limit(5).collect():
        print(f"row {row.id} failed: {row.type}")
    print(f"usage: {embed.usage}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
