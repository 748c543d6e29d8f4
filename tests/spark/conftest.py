"""One local Spark session (``local[2]``) for the Spark tests, on loopback only.

Not collected when pyspark, pandas or pyarrow is missing (the ``test`` extra installs them).
Spark needs Java 17 or 21: ``make test`` installs Debian's when the machine has none. Without
Java the tests skip, except under CI, where they fail so a missing runtime cannot pass
unnoticed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.spark.server import FaultyServer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Without the spark extra the folder's tests are not collected (a conftest cannot skip them).
SPARK_MODULES = ("pyspark", "pandas", "pyarrow")
collect_ignore_glob = (
    [] if all(importlib.util.find_spec(m) is not None for m in SPARK_MODULES) else ["test_*.py"]
)


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home and os.path.exists(os.path.join(home, "bin", "java"))) or bool(
        shutil.which("java")
    )


def local_session(app: str, **conf: str) -> SparkSession:
    """A ``local[2]`` session that binds and dials only 127.0.0.1, with no UI."""
    from pyspark.sql import SparkSession

    # Workers must run this interpreter (it has the package), not whatever python3 is on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    if not _java_found():
        message = "Spark needs Java 17 or 21 (make test installs it); none found"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    session = local_session(
        "extmodels-tests",
        # Several Arrow batches per partition: the client must outlive a batch.
        **{"spark.sql.execution.arrow.maxRecordsPerBatch": "500"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def server() -> Iterator[FaultyServer]:
    with FaultyServer() as running:
        yield running


@pytest.fixture
def stub(server: FaultyServer) -> FaultyServer:
    server.reset()
    return server


def openai_model(server: FaultyServer, task: str, **config: Any) -> dict[str, Any]:
    """An ``external_model`` block for the loopback server."""
    return {
        "name": "stub-model",
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_key_plaintext": "sk-spark-test-secret",
            "openai_api_base": f"{server.base_url}/v1",
            **config,
        },
    }
