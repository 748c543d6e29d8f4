"""The Spark column functions in local mode (``local[2]``) against the loopback stub server."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, FloatType, StringType

from extmodels_integrations import ExternalClient
from extmodels_integrations.spark import UsageTotals, chat_udf, complete_udf, embed_udf
from tests.spark.conftest import openai_model
from tests.spark.server import FaultyServer
from tests.support.openai_server import EMBEDDING_DIM, _embed

SECRET = "sk-spark-test-secret"
EMBEDDINGS = "llm/v1/embeddings"


def _texts(spark: SparkSession, texts: list[str | None], partitions: int = 2):
    rows = list(enumerate(texts))
    return spark.createDataFrame(rows, "id int, text string").repartition(partitions)


def test_thousands_of_rows_keep_their_order_with_one_client_per_worker(
    spark: SparkSession, stub: FaultyServer
) -> None:
    texts = [f"document number {i}" for i in range(5000)]
    embed = embed_udf(external_model=openai_model(stub, EMBEDDINGS), batch_size=64)
    out = _texts(spark, texts, partitions=4).select("id", "text", embed("text").alias("e"))
    rows = out.collect()  # no sort in Spark: a range sort would run the UDF twice to sample

    assert len(rows) == 5000
    for row in rows:
        assert row.e.error is None
        expected = np.asarray(_embed(texts[row.id], EMBEDDING_DIM), dtype=np.float32)
        assert np.array_equal(np.asarray(row.e.result, dtype=np.float32), expected), row.id
    # 4 partitions of 1250 rows, Arrow batches of 500 (500+500+250), 64 texts per call.
    calls = 4 * (math.ceil(500 / 64) * 2 + math.ceil(250 / 64))
    assert len(stub.requests) == calls
    assert all(len(r.json["input"]) <= 64 for r in stub.requests)
    # Two worker processes, each with one client for all its batches and tasks: connections
    # stay within 2 x max_concurrency (8) although 80 calls were made over 12 batches.
    assert len(stub.peers) <= 16
    usage = embed.usage
    assert (usage.rows, usage.calls, usage.failed_rows) == (5000, calls, 0)
    assert usage.prompt_tokens == sum(max(1, len(t.split())) for t in texts)


def test_a_rejected_batch_is_split_until_the_bad_rows_fail_alone(
    spark: SparkSession, stub: FaultyServer
) -> None:
    texts = [f"poison {i}" if i in (3, 10) else f"fine {i}" for i in range(24)] + [None]
    embed = embed_udf(external_model=openai_model(stub, EMBEDDINGS), batch_size=8)
    rows = _texts(spark, texts).select("id", embed("text").alias("e")).collect()

    by_id = {row.id: row.e for row in rows}
    for i, text in enumerate(texts):
        if text is None:  # null in, null out, no call
            assert by_id[i].result is None and by_id[i].error is None
        elif text.startswith("poison"):
            assert by_id[i].result is None
            assert by_id[i].error.type == "BadRequestError"
            assert "poisoned" in by_id[i].error.message
            assert SECRET not in by_id[i].error.message
        else:
            assert by_id[i].error is None
            assert by_id[i].result == pytest.approx(_embed(text, EMBEDDING_DIM), abs=1e-6)
    assert (embed.usage.rows, embed.usage.failed_rows) == (24, 2)


def test_calls_that_fail_after_retries_fail_their_rows(
    spark: SparkSession, stub: FaultyServer
) -> None:
    texts = ["fine 0", "down 1", "flaky 2", "fine 3"]
    embed = embed_udf(external_model=openai_model(stub, EMBEDDINGS), batch_size=1, max_retries=1)
    by_id = {
        row.id: row.e
        for row in _texts(spark, texts).select("id", embed("text").alias("e")).collect()
    }

    assert by_id[1].result is None and by_id[1].error.type == "ServerError"
    assert "503" in by_id[1].error.message
    for i in (0, 2, 3):  # "flaky" fails once and succeeds on its retry
        assert by_id[i].error is None and len(by_id[i].result) == EMBEDDING_DIM
    downs = [r for r in stub.requests if r.json["input"] == ["down 1"]]
    assert len(downs) == 2  # the call and its one retry
    assert embed.usage.failed_rows == 1


def test_fail_on_error_returns_the_plain_column_and_fails_the_job(
    spark: SparkSession, stub: FaultyServer
) -> None:
    embed = embed_udf(external_model=openai_model(stub, EMBEDDINGS), fail_on_error=True)
    assert embed.return_type == ArrayType(FloatType(), containsNull=False)

    good = _texts(spark, ["a", "b"]).select("id", embed("text").alias("v")).collect()
    assert {row.id: len(row.v) for row in good} == {0: EMBEDDING_DIM, 1: EMBEDDING_DIM}

    with pytest.raises(Exception, match="BadRequestError") as failed:
        _texts(spark, ["a", "poison", "c"]).select(embed("text")).collect()
    assert SECRET not in str(failed.value)


def test_usage_totals_reach_the_driver(spark: SparkSession, stub: FaultyServer) -> None:
    prompts = [f"Say something about topic {i}" for i in range(12)] + [None]
    model = openai_model(stub, "llm/v1/completions")
    complete = complete_udf(external_model=model, max_tokens=20, fail_on_error=True)
    assert complete.return_type == StringType()
    rows = _texts(spark, prompts, partitions=3).select("id", complete("text").alias("t"))
    answers = {row.id: row.t for row in rows.collect()}

    with ExternalClient(external_model=model) as client:
        direct = [client.complete(prompt=p, max_tokens=20) for p in prompts[:-1]]
    assert answers == {**{i: r.choices[0].text for i, r in enumerate(direct)}, 12: None}
    assert complete.usage == UsageTotals(
        prompt_tokens=sum(r.usage.prompt_tokens for r in direct),
        completion_tokens=sum(r.usage.completion_tokens for r in direct),
        total_tokens=sum(r.usage.total_tokens for r in direct),
        calls=12,
        rows=12,
        failed_rows=0,
    )
    complete.reset_usage()
    assert complete.usage == UsageTotals()


def test_chat_over_struct_arrays_and_json_strings(spark: SparkSession, stub: FaultyServer) -> None:
    chat = chat_udf(external_model=openai_model(stub, "llm/v1/chat"), temperature=0.0)
    structs = spark.createDataFrame(
        [(0, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])],
        "id int, messages array<struct<role: string, content: string>>",
    )
    strings = spark.createDataFrame(
        [(1, '[{"role": "user", "content": "Hello"}]'), (2, "not json"), (3, None)],
        "id int, messages string",
    )
    got = {
        row.id: row.r
        for frame in (structs, strings)
        for row in frame.select("id", chat("messages").alias("r")).collect()
    }
    assert got[0].result.startswith("Stub reply to: Hi") and got[0].error is None
    assert got[1].result.startswith("Stub reply to: Hello")
    assert got[2].result is None and got[2].error.type == "ValueError"
    assert got[3].result is None and got[3].error is None
    sent = [r.json for r in stub.requests]
    assert sent[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert all(body["temperature"] == 0.0 for body in sent)


def test_the_rate_limit_holds_across_partitions(spark: SparkSession, stub: FaultyServer) -> None:
    # 6 calls per second for the whole job, over the two tasks local[2] runs at once: each
    # worker keeps 3 per second. One text per call, 30 calls: at least four seconds.
    embed = embed_udf(
        external_model=openai_model(stub, EMBEDDINGS), batch_size=1, rate_limit=(6, 1.0)
    )
    rows = _texts(spark, [f"t{i}" for i in range(30)]).select(embed("text").alias("e")).collect()

    assert all(row.e.error is None for row in rows)
    assert len(stub.arrivals) == 30
    assert stub.requests_in_window(0.99) <= 6
    assert max(stub.arrivals) - min(stub.arrivals) >= 4.0


def test_plans_and_reprs_never_show_a_plaintext_key(
    spark: SparkSession, stub: FaultyServer
) -> None:
    embed = embed_udf(external_model=openai_model(stub, EMBEDDINGS))
    frame = _texts(spark, ["a"]).select(embed("text"))
    plan = frame._jdf.queryExecution().toString()
    assert "embed(text" in plan
    assert SECRET not in plan + repr(embed) + repr(embed._recipe)
