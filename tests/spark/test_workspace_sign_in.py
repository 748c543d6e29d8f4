"""Spark executors sign in to the workspace by themselves, with the service principal the
driver was given (as arguments or in its environment): never a short-lived OAuth token
shipped from the driver."""

from __future__ import annotations

import warnings

import pytest
from pyspark.sql import SparkSession

from extmodels_integrations import NotDeployableWarning
from extmodels_integrations.spark import chat_udf
from tests.support.fake_workspace import FakeWorkspace

SECRET = "sp-secret-canary-SPARK-7"


def test_executors_sign_in_with_m2m_themselves(spark: SparkSession) -> None:
    with FakeWorkspace(service_principals={"sp-1": SECRET}) as ws:
        chat = chat_udf(endpoint="chat-ep", host=ws.url, client_id="sp-1", client_secret=SECRET)
        # The driver signed in (so a bad config fails here) but fetched no token.
        assert ws.token_requests == 0
        frame = spark.createDataFrame(
            [(i, f'[{{"role": "user", "content": "q{i}"}}]') for i in range(6)],
            "id int, messages string",
        ).repartition(2)
        out = frame.select("id", chat("messages").alias("r"))
        plan = out._jdf.queryExecution().toString()
        rows = out.collect()

    assert [row.r.error for row in rows] == [None] * 6
    assert all(row.r.result == "ok" for row in rows)
    assert ws.token_requests >= 1
    invocations = [auth for path, auth in ws.authorized if path.endswith("/invocations")]
    assert len(invocations) == 6
    assert all(auth.startswith("Bearer oauth-sp-1-") for auth in invocations)
    assert SECRET not in plan + repr(chat) + repr(chat._recipe)


def test_executors_get_the_drivers_env_sign_in_for_a_serving_block(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set after the session started, as a notebook's os.environ is: the executors' Python
    # workers never see these, so only the driver can pass them on.
    with FakeWorkspace(service_principals={"sp-2": SECRET}) as ws:
        monkeypatch.setenv("DATABRICKS_HOST", ws.url)
        monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-2")
        monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SECRET)
        block = {
            "name": "chat-ep",
            "provider": "databricks-model-serving",
            "task": "llm/v1/chat",
            "databricks_model_serving_config": {"databricks_workspace_url": ws.url},
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotDeployableWarning)  # no token: local runs only
            chat = chat_udf(external_model=block)
        frame = spark.createDataFrame(
            [(i, f'[{{"role": "user", "content": "q{i}"}}]') for i in range(4)],
            "id int, messages string",
        ).repartition(2)
        out = frame.select("id", chat("messages").alias("r"))
        plan = out._jdf.queryExecution().toString()
        rows = out.collect()

    assert [row.r.error for row in rows] == [None] * 4
    invocations = [auth for path, auth in ws.authorized if path.endswith("/invocations")]
    assert len(invocations) == 4 and all(a.startswith("Bearer oauth-sp-2-") for a in invocations)
    assert SECRET not in plan + repr(chat) + repr(chat._recipe)
