"""Spark column functions over the same targets as the LangChain and LlamaIndex classes.

``embed_udf``, ``complete_udf`` and ``chat_udf`` take a target (``endpoint=``,
``external_model=`` or ``endpoint_config=``, with the classes' options) and return an
:class:`ExternalUDF` to call on a column::

    embed = embed_udf(endpoint_config="endpoint.json")
    df = df.withColumn("embedding", embed("text"))
    df.filter("embedding.error IS NOT NULL").select("embedding.error.type").show()
    print(embed.usage)  # token totals of every finished task, on the driver

How it runs: each function is a pandas UDF (iterator of batches). Every executor Python
process builds one client per target, lazily, and reuses it for all its batches and tasks;
inside a task the rows of a batch go out concurrently (``max_concurrency`` calls in flight)
on one event loop, embeddings in batches of the provider's limit; the client's retries and
timeouts apply as everywhere else. Results keep the input row order.

Failures: by default each row is ``struct<result, error: struct<type, message>>`` and a row
that still fails after retries gets a null ``result`` and its error's class name and message
(secrets never appear in messages); ``fail_on_error=True`` returns the plain result column and
fails the task on the first error instead.

Rate limits are split across the tasks that run at once, ``concurrent_tasks`` (default: the
session's ``spark.default.parallelism``, which is the total executor cores on a cluster and
N for ``local[N]``); each task's Python process keeps its share:

* ``rate_limit=(calls, seconds)``, for any target, caps the whole job at ``calls`` calls in any
  ``seconds`` window as the server sees them: each task gets ``calls // concurrent_tasks``
  slots (or, when that is under one, one slot per ``seconds * concurrent_tasks / calls``), and
  a call holds its slot until ``seconds`` after its answer, so latency cannot bunch calls up;
* an endpoint config's own ``rate_limits`` (calls per minute) are divided the same way and
  applied by its router as in :class:`~extmodels_integrations.ExternalClient`.

If Spark runs more tasks at once than ``concurrent_tasks`` (dynamic allocation, a larger
cluster than the session reports) the job exceeds the limit by that factor: set
``concurrent_tasks`` to the most tasks that can run at once.

Secrets: the target is validated on the driver and pickled into the UDF for the executors.
Query plans and ``repr`` show only the function name and column; a ``token`` or a
``*_plaintext`` key travels in the pickled function as a ``SecretStr``. Prefer
``{{secrets/scope/key}}`` references: they resolve on each executor (a ``secret_resolver``,
``EXTMODELS_SECRET__<SCOPE>__<KEY>`` set through ``spark.executorEnv.*``, or the workspace
secrets API), so no key leaves the executors' environment.

Token usage comes back to the driver through a Spark accumulator: ``udf.usage`` is a
:class:`UsageTotals` of the tasks that finished (a retried task or a DataFrame computed twice
counts twice; cache it to count once).
"""

from extmodels_integrations.spark._executor import UsageTotals
from extmodels_integrations.spark._udf import (
    ERROR_TYPE,
    ExternalUDF,
    Target,
    chat_udf,
    complete_udf,
    embed_udf,
)

__all__ = [
    "ERROR_TYPE",
    "ExternalUDF",
    "Target",
    "UsageTotals",
    "chat_udf",
    "complete_udf",
    "embed_udf",
]
