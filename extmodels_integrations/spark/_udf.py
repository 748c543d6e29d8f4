"""The Spark column functions: pandas UDFs (iterator of Series) over the executor runtime."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, Literal, TypedDict, cast

import pandas as pd  # type: ignore[import-untyped]
from pydantic import SecretStr
from pyspark import cloudpickle
from pyspark.accumulators import Accumulator, AccumulatorParam
from pyspark.sql import Column, SparkSession
from pyspark.sql.pandas.functions import pandas_udf
from pyspark.sql.types import ArrayType, DataType, FloatType, StringType, StructField, StructType
from typing_extensions import Unpack

from extmodels_integrations._endpoint_config import EndpointConfig
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._routing import RateLimitBehavior
from extmodels_integrations._secrets import SecretLookup
from extmodels_integrations._target import TargetBase
from extmodels_integrations._types import CHAT, COMPLETIONS, EMBEDDINGS, Task
from extmodels_integrations._warn import warn_user
from extmodels_integrations._workspace import find_workspace
from extmodels_integrations.spark import _executor
from extmodels_integrations.spark._executor import Caller, Recipe, Rows, UsageTotals

__all__ = ["ERROR_TYPE", "ExternalUDF", "Target", "chat_udf", "complete_udf", "embed_udf"]

#: The ``error`` field of a result struct: the error's class name and its message.
ERROR_TYPE = StructType(
    [StructField("type", StringType(), True), StructField("message", StringType(), True)]
)

_CLIENT_FIELDS = (
    "endpoint",
    "host",
    "token",
    "client_id",
    "client_secret",
    "auth_type",
    "external_model",
    "endpoint_config",
    "routing_seed",
    "fallbacks",
    "rate_limit_behavior",
    "rate_limit_user",
    "timeout",
    "connect_timeout",
    "stall_timeout",
    "max_retries",
    "secret_resolver",
)

# cloudpickle, as Spark ships functions: a secret_resolver may be a lambda.
_dumps = cast(Callable[[object], bytes], cloudpickle.dumps)

Work = Callable[[Caller, list[Any]], Coroutine[Any, Any, Rows]]


class Target(TypedDict, total=False):
    """The target and transport options, as the LangChain and LlamaIndex classes take them:
    exactly one of ``endpoint`` (+ ``host``, ``token``), ``external_model`` or
    ``endpoint_config`` (``model`` alone names a serving endpoint)."""

    endpoint: str
    host: str
    token: str | SecretStr
    api_key: str | SecretStr
    workspace_profile: str
    client_id: str
    client_secret: str | SecretStr
    auth_type: str
    external_model: Mapping[str, Any]
    endpoint_config: Mapping[str, Any] | str | EndpointConfig
    model: str
    routing_seed: int
    fallbacks: bool
    rate_limit_behavior: RateLimitBehavior
    rate_limit_user: str
    timeout: float | None
    connect_timeout: float
    stall_timeout: float | None
    max_retries: int
    extra_params: dict[str, Any]
    secret_resolver: SecretLookup


class _EmbeddingsTarget(TargetBase):
    _task: ClassVar[Task] = EMBEDDINGS


class _CompletionsTarget(TargetBase):
    _task: ClassVar[Task] = COMPLETIONS


class _ChatTarget(TargetBase):
    _task: ClassVar[Task] = CHAT


class _UsageParam(AccumulatorParam[UsageTotals]):
    def zero(self, value: UsageTotals) -> UsageTotals:
        return UsageTotals()

    def addInPlace(self, value1: UsageTotals, value2: UsageTotals) -> UsageTotals:
        return value1 + value2


class ExternalUDF:
    """A Spark column function over one target; call it on a column: ``udf("text")``.

    With ``fail_on_error=False`` (the default) each row becomes ``struct<result, error>``:
    ``result`` is null and ``error`` is ``{type, message}`` (the typed error's class name and
    its message, which never holds a secret) when the row still failed after retries. With
    ``fail_on_error=True`` the column is the plain result and the first failure fails the task
    (and, after Spark's task retries, the job). Null inputs give null results and no call.
    """

    def __init__(
        self,
        name: str,
        recipe: Recipe,
        work: Work,
        result_type: DataType,
        *,
        fail_on_error: bool,
        spark: SparkSession,
    ) -> None:
        self.name = name
        self.fail_on_error = fail_on_error
        self.return_type: DataType = (
            result_type
            if fail_on_error
            else StructType(
                [StructField("result", result_type, True), StructField("error", ERROR_TYPE, True)]
            )
        )
        self._usage: Accumulator[UsageTotals] = spark.sparkContext.accumulator(
            UsageTotals(), _UsageParam()
        )
        self._recipe = recipe
        function = _batches(recipe, work, self._usage, plain=fail_on_error)
        function.__name__ = function.__qualname__ = name
        self._udf = pandas_udf(function, self.return_type)  # type: ignore[call-overload]

    def __call__(self, column: Column | str) -> Column:
        """The result column for ``column``."""
        result: Column = self._udf(column)
        return result

    @property
    def usage(self) -> UsageTotals:
        """Token usage and counts of every task that finished so far, read on the driver.

        Spark accumulators count work done in transformations: a task that is retried, or a
        DataFrame computed twice (not cached), counts again.
        """
        return self._usage.value

    def reset_usage(self) -> None:
        """Start counting from zero (driver only)."""
        self._usage.value = UsageTotals()

    def __repr__(self) -> str:
        returns = self.return_type.simpleString()
        return f"ExternalUDF({self.name}, task={self._recipe.task!r}, returns {returns})"


def _batches(
    recipe: Recipe, work: Work, usage: Accumulator[UsageTotals], *, plain: bool
) -> Callable[[Iterator[pd.Series]], Iterator[pd.Series]]:
    """The pandas UDF body: runs on the executors, one client per process for every batch."""

    def batches(series: Iterator[pd.Series]) -> Iterator[pd.Series]:
        who = _executor.caller(recipe)
        for values in series:
            # Nulls arrive as None or NaN depending on the column type and pandas version.
            present = values.astype(object).where(values.notna(), None).tolist()
            rows = _executor.run(work(who, present))
            usage.add(rows.usage)
            if plain:
                yield pd.Series(rows.results, dtype=object)
            else:
                yield pd.DataFrame({"result": rows.results, "error": rows.errors})

    return batches


def _recipe(target: TargetBase, task: Task, rate: tuple[int, float] | None, share: int) -> Recipe:
    options = {name: getattr(target, name) for name in _CLIENT_FIELDS}
    options["profile"] = target.workspace_profile
    workspace = target.client.workspace
    if workspace is not None:
        # What the driver signed in with, long-lived: each executor signs in by itself and
        # refreshes its own OAuth tokens, however long its tasks run.
        options.update(workspace.portable())
    else:
        # Other targets sign in only if they need to (secret references, a serving block
        # without a token): the executors find the workspace as the driver would, with the
        # driver's environment variables (a notebook's os.environ never reaches them).
        options.update(_found_workspace(options))
    target.client.close()  # built on the driver only to validate the target
    # Identifies the client in each executor's cache: same config, same client and limiter.
    key = hashlib.sha256(_dumps((options, task, rate, share))).hexdigest()
    return Recipe(options=options, task=task, key=key, rate_limit=rate, share=share)


def _found_workspace(options: dict[str, Any]) -> dict[str, Any]:
    try:
        return find_workspace(options).portable()
    except ConfigurationError:
        # A broken profile file: the executors report it, like the driver would, only if
        # the target needs to sign in at all.
        return {}


def _session(spark: SparkSession | None) -> SparkSession:
    found = spark or SparkSession.getActiveSession()
    if found is None:
        raise ConfigurationError("no active SparkSession: create one first or pass spark=...")
    return found


def _shares(
    target: TargetBase,
    spark: SparkSession,
    rate_limit: tuple[int, float] | None,
    concurrent_tasks: int | None,
) -> tuple[tuple[int, float] | None, int]:
    """This process's share of ``rate_limit`` and the divisor of an endpoint config's limits."""
    tasks = concurrent_tasks or spark.sparkContext.defaultParallelism
    if tasks < 1:
        raise ConfigurationError("concurrent_tasks must be at least 1")
    config = target.endpoint_config
    for limit in config.rate_limits if config is not None else ():
        if limit.calls is not None and limit.calls < tasks:
            warn_user(
                f"{limit.path}: {limit.calls} calls per minute split over {tasks} concurrent "
                "tasks gives each task one call per minute: the job may make up to "
                f"{tasks} calls per minute; lower concurrent_tasks to hold the limit"
            )
    if rate_limit is None:
        return None, tasks
    return _executor.split_rate(*rate_limit, tasks), tasks


def _build(
    name: str,
    target_class: type[TargetBase],
    target: Mapping[str, Any],
    work: Callable[..., Coroutine[Any, Any, Rows]],
    result_type: DataType,
    *,
    fail_on_error: bool,
    max_concurrency: int,
    rate_limit: tuple[int, float] | None,
    concurrent_tasks: int | None,
    spark: SparkSession | None,
    **request: Any,
) -> ExternalUDF:
    if max_concurrency < 1:
        raise ConfigurationError("max_concurrency must be at least 1")
    for unsupported in ("http_client", "http_async_client"):
        if unsupported in target:
            raise ConfigurationError(
                f"{unsupported}: an HTTP client cannot be shipped to Spark executors; "
                "each executor process builds its own"
            )
    session = _session(spark)
    parsed = target_class(**target)
    rate, share = _shares(parsed, session, rate_limit, concurrent_tasks)
    recipe = _recipe(parsed, target_class._task, rate, share)
    bound = functools.partial(
        work, fail_fast=fail_on_error, max_concurrency=max_concurrency, **request
    )
    if parsed.extra_params:
        bound.keywords["extra_params"] = parsed.extra_params
    return ExternalUDF(name, recipe, bound, result_type, fail_on_error=fail_on_error, spark=session)


def embed_udf(
    *,
    batch_size: int | None = None,
    input_kind: Literal["query", "document"] = "document",
    fail_on_error: bool = False,
    max_concurrency: int = 8,
    rate_limit: tuple[int, float] | None = None,
    concurrent_tasks: int | None = None,
    spark: SparkSession | None = None,
    **target: Unpack[Target],
) -> ExternalUDF:
    """Embed a string column into ``array<float>``.

    Texts go out in batches of ``batch_size`` capped by the target's per-request limit,
    ``max_concurrency`` batches in flight per task. A batch the provider rejects as a bad
    request is split in halves until the offending texts are alone, so one bad text fails
    only its own row. ``target`` takes the :class:`Target` options; see the module docs for
    ``rate_limit`` and ``concurrent_tasks``.
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError("batch_size must be at least 1")
    return _build(
        "embed",
        _EmbeddingsTarget,
        target,
        _executor.embed_rows,
        ArrayType(FloatType(), containsNull=False),
        fail_on_error=fail_on_error,
        max_concurrency=max_concurrency,
        rate_limit=rate_limit,
        concurrent_tasks=concurrent_tasks,
        spark=spark,
        batch_size=batch_size,
        input_kind=input_kind,
    )


def complete_udf(
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    fail_on_error: bool = False,
    max_concurrency: int = 8,
    rate_limit: tuple[int, float] | None = None,
    concurrent_tasks: int | None = None,
    spark: SparkSession | None = None,
    **target: Unpack[Target],
) -> ExternalUDF:
    """Complete a prompt column (``string``) into the first choice's text, one call per row,
    ``max_concurrency`` in flight per task."""
    return _build(
        "complete",
        _CompletionsTarget,
        target,
        _executor.complete_rows,
        StringType(),
        fail_on_error=fail_on_error,
        max_concurrency=max_concurrency,
        rate_limit=rate_limit,
        concurrent_tasks=concurrent_tasks,
        spark=spark,
        request=_request(temperature=temperature, max_tokens=max_tokens, stop=stop),
    )


def chat_udf(
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    response_format: dict[str, Any] | None = None,
    fail_on_error: bool = False,
    max_concurrency: int = 8,
    rate_limit: tuple[int, float] | None = None,
    concurrent_tasks: int | None = None,
    spark: SparkSession | None = None,
    **target: Unpack[Target],
) -> ExternalUDF:
    """Answer a conversation column into the first choice's content (``string``), one call
    per row. The column is ``array<struct<role: string, content: string>>`` (other message
    fields such as ``name`` or ``tool_call_id`` pass through; null fields are dropped) or a
    ``string`` holding such a list as JSON. A malformed row fails alone, as a ``ValueError``."""
    return _build(
        "chat",
        _ChatTarget,
        target,
        _executor.chat_rows,
        StringType(),
        fail_on_error=fail_on_error,
        max_concurrency=max_concurrency,
        rate_limit=rate_limit,
        concurrent_tasks=concurrent_tasks,
        spark=spark,
        request=_request(
            temperature=temperature,
            max_tokens=max_tokens,
            stop=stop,
            response_format=response_format,
        ),
    )


def _request(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
