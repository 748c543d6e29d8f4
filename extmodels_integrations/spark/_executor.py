"""What runs inside a Spark Python worker: one client per process, one event loop, rows in.

Spark runs each task of a pandas UDF in a Python worker process that is reused for later tasks
(``spark.python.worker.reuse``). This module keeps, per process, a background event loop and
one :class:`Caller` per recipe (client, rate limiter), built lazily on the first batch and
reused by every later batch and task. Keeping one loop alive matters: the async HTTP pool is
bound to the loop it was opened on, so a fresh ``asyncio.run`` per batch would open new
connections every time.

Nothing here imports pyspark or pandas: rows come in as Python lists and go out as
:class:`Rows`, so the logic is tested without a JVM too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._endpoint_config import EndpointConfig
from extmodels_integrations._exceptions import BadRequestError, ExternalModelError
from extmodels_integrations._types import ChatResponse, CompletionResponse, Message, Task, Usage

R = TypeVar("R", ChatResponse, CompletionResponse)

__all__ = [
    "CallWindow",
    "Caller",
    "Recipe",
    "Rows",
    "UsageTotals",
    "caller",
    "chat_rows",
    "complete_rows",
    "embed_rows",
    "messages_of",
    "run",
    "split_rate",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Token usage and call counts summed over a job (see ``ExternalUDF.usage``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0
    """Provider calls made (a batch of embeddings is one call; retries are not counted)."""
    rows: int = 0
    """Non-null input rows processed."""
    failed_rows: int = 0
    """Rows whose result is null because their call failed."""

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(totals: UsageTotals) -> tuple[int, ...]:
    return tuple(getattr(totals, f.name) for f in dataclasses.fields(totals))


@dataclass(frozen=True, slots=True)
class Recipe:
    """How an executor builds its client: pickled into the UDF, never printed with secrets.

    ``options`` are :class:`ExternalClient` keyword arguments (a ``token`` or a plaintext key
    stays a ``SecretStr``); ``rate_limit`` is this process's share, ``(calls, seconds)``, and
    ``share`` the number of concurrent tasks an endpoint config's own limits are divided by.
    ``key`` identifies the recipe in the per-process cache.
    """

    options: Mapping[str, Any] = field(repr=False)
    task: Task
    key: str
    rate_limit: tuple[int, float] | None = None
    share: int = 1

    def build(self) -> ExternalClient:
        """A new client for this recipe, its endpoint config's limits divided by ``share``."""
        options = dict(self.options)
        config = options.get("endpoint_config")
        if isinstance(config, EndpointConfig) and self.share > 1:
            options["endpoint_config"] = _divided(config, self.share)
        client = ExternalClient(**options)
        client.check_task(self.task)
        return client


def _divided(config: EndpointConfig, share: int) -> EndpointConfig:
    limits = tuple(
        limit
        if limit.calls is None
        else dataclasses.replace(limit, calls=max(1, limit.calls // share))
        for limit in config.rate_limits
    )
    return dataclasses.replace(config, rate_limits=limits)


def split_rate(calls: int, seconds: float, tasks: int) -> tuple[int, float]:
    """One task's share of ``calls`` per ``seconds`` when ``tasks`` run at once: ``calls //
    tasks`` per window, and when that is under one call, one call per ``seconds * tasks /
    calls``, so the tasks together never exceed the job's rate."""
    if calls < 1 or seconds <= 0 or tasks < 1:
        raise ValueError("rate_limit needs calls >= 1, seconds > 0 and at least one task")
    each = calls // tasks
    if each >= 1:
        return each, seconds
    return 1, seconds * tasks / calls


class CallWindow:
    """At most ``calls`` calls in any ``seconds`` window, as the server counts them.

    Each call holds a slot from before it is sent until ``seconds`` after its answer came
    back. A limiter that only spaces out start times lets a slow first call (connecting, a
    retry) land in the same server-side window as later ones; holding the slot past the
    answer cannot, whatever the latency.
    """

    def __init__(self, calls: int, seconds: float) -> None:
        self.calls = calls
        self.seconds = seconds
        self._slots: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot around a call; it frees ``seconds`` after the call returns."""
        if self._slots is None:  # created on the runtime's loop, on first use
            self._slots = asyncio.Semaphore(self.calls)
        slots = self._slots
        await slots.acquire()
        try:
            yield
        finally:
            asyncio.get_running_loop().call_later(self.seconds, slots.release)


class Caller:
    """A recipe's client and rate limit in this process."""

    def __init__(self, recipe: Recipe) -> None:
        self.client = recipe.build()
        self.window = CallWindow(*recipe.rate_limit) if recipe.rate_limit else None

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A rate-limit slot for one call (nothing to wait for without ``rate_limit``)."""
        return self.window.slot() if self.window is not None else contextlib.nullcontext()


class _Runtime:
    """The background event loop and the callers of one worker process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.callers: dict[str, Caller] = {}
        self.lock = threading.Lock()
        thread = threading.Thread(target=self.loop.run_forever, name="extmodels-spark", daemon=True)
        thread.start()

    def caller(self, recipe: Recipe) -> Caller:
        with self.lock:
            found = self.callers.get(recipe.key)
            if found is None:
                found = self.callers[recipe.key] = Caller(recipe)
            return found

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()


_RUNTIME: _Runtime | None = None
_RUNTIME_LOCK = threading.Lock()


def _runtime() -> _Runtime:
    global _RUNTIME
    with _RUNTIME_LOCK:
        # A forked child inherits the object but not the loop thread: start its own.
        if _RUNTIME is None or _RUNTIME.pid != os.getpid():
            _RUNTIME = _Runtime()
        return _RUNTIME


def caller(recipe: Recipe) -> Caller:
    """This process's caller for ``recipe``, built on first use."""
    return _runtime().caller(recipe)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on this process's event loop and wait for it."""
    return _runtime().run(work)


# -- rows ------------------------------------------------------------------------------------


class Rows:
    """Results and errors of one batch of rows, in input order, and its usage."""

    def __init__(self, size: int, fail_fast: bool) -> None:
        self.results: list[Any] = [None] * size
        self.errors: list[dict[str, str] | None] = [None] * size
        self.fail_fast = fail_fast
        self.usage = UsageTotals()

    def done(self, index: int, result: Any) -> None:
        self.results[index] = result

    def fail(self, indexes: Sequence[int], error: Exception) -> None:
        """Record ``error`` for ``indexes``; raise it instead when failing fast."""
        if self.fail_fast:
            raise error
        entry = {"type": type(error).__name__, "message": str(error)}
        for index in indexes:
            self.errors[index] = entry
        self.count(failed_rows=len(indexes))

    def count(self, usage: Usage | None = None, **counts: int) -> None:
        tokens = usage.completed() if usage is not None else Usage()
        self.usage = self.usage + UsageTotals(
            prompt_tokens=tokens.prompt_tokens,
            completion_tokens=tokens.completion_tokens,
            total_tokens=tokens.total_tokens,
            **counts,
        )


async def _all(work: Sequence[Awaitable[None]]) -> None:
    """Await every item; on the first error cancel the rest and raise it (fail fast)."""
    tasks = [asyncio.ensure_future(w) for w in work]
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()


async def embed_rows(
    who: Caller,
    texts: Sequence[str | None],
    *,
    fail_fast: bool,
    max_concurrency: int,
    batch_size: int | None = None,
    input_kind: Literal["query", "document"] = "document",
    model: str | None = None,
    extra_params: Mapping[str, Any] | None = None,
) -> Rows:
    """Embed the non-null ``texts`` in batches of the target's size, ``max_concurrency``
    calls at a time. A batch the provider rejects as a bad request is split in halves until
    the offending rows are alone, so one bad text fails only its own row."""
    rows = Rows(len(texts), fail_fast)
    gate = asyncio.Semaphore(max_concurrency)

    async def batch(indexes: list[int]) -> None:
        try:
            async with gate, who.slot():
                response = await who.client.aembed(
                    [texts[i] or "" for i in indexes],
                    input_kind=input_kind,
                    model=model,
                    extra_params=extra_params,
                )
        except BadRequestError as error:
            rows.count(calls=1)
            if len(indexes) == 1 or rows.fail_fast:
                rows.fail(indexes, error)
                return
            half = len(indexes) // 2
            await _all([batch(indexes[:half]), batch(indexes[half:])])
            return
        except ExternalModelError as error:
            rows.count(calls=1)
            rows.fail(indexes, error)
            return
        rows.count(response.usage, calls=1)
        for index, vector in zip(indexes, response.embeddings, strict=True):
            rows.done(index, vector)

    present = [i for i, text in enumerate(texts) if text is not None]
    rows.count(rows=len(present))
    size = who.client.embedding_batch_size(batch_size)
    await _all([batch(present[i : i + size]) for i in range(0, len(present), size)])
    return rows


async def _each_row(
    who: Caller,
    values: Sequence[Any],
    call: Callable[[Any], Awaitable[R]],
    read: Callable[[R], str | None],
    *,
    fail_fast: bool,
    max_concurrency: int,
) -> Rows:
    """One call per non-null row, ``max_concurrency`` at a time; ``call`` may raise
    ``ValueError`` for a row it cannot send, which fails that row only."""
    rows = Rows(len(values), fail_fast)
    gate = asyncio.Semaphore(max_concurrency)

    async def one(index: int) -> None:
        try:
            async with gate, who.slot():
                response = await call(values[index])
        except ValueError as error:  # the row itself is malformed: nothing was sent
            rows.fail([index], error)
            return
        except ExternalModelError as error:
            rows.count(calls=1)
            rows.fail([index], error)
            return
        rows.count(response.usage, calls=1)
        rows.done(index, read(response))

    present = [i for i, value in enumerate(values) if value is not None]
    rows.count(rows=len(present))
    await _all([one(i) for i in present])
    return rows


def _content(response: ChatResponse) -> str | None:
    return response.choices[0].content if response.choices else None


def _text(response: CompletionResponse) -> str | None:
    return response.choices[0].text if response.choices else None


def messages_of(value: Any) -> list[Message]:
    """A row's conversation as messages: an ``array<struct<role, content, ...>>`` value (a
    sequence of mappings; null struct fields are dropped) or a JSON string of such a list."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"messages: not valid JSON ({error.msg})") from None
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ValueError("messages: expected a list of {role, content} messages")
    messages: list[Message] = []
    for position, item in enumerate(value):
        if not isinstance(item, Mapping) or not item.get("role"):
            raise ValueError(f"messages[{position}]: expected a mapping with a 'role'")
        messages.append(cast(Message, {k: v for k, v in item.items() if v is not None}))
    if not messages:
        raise ValueError("messages: the conversation is empty")
    return messages


async def complete_rows(
    who: Caller,
    prompts: Sequence[str | None],
    *,
    fail_fast: bool,
    max_concurrency: int,
    request: Mapping[str, Any],
    extra_params: Mapping[str, Any] | None = None,
) -> Rows:
    """Complete each non-null prompt; the result is the first choice's text."""

    async def call(prompt: str) -> CompletionResponse:
        return await who.client.acomplete(
            prompt=prompt, extra_params=dict(extra_params or {}), **request
        )

    return await _each_row(
        who, prompts, call, _text, fail_fast=fail_fast, max_concurrency=max_concurrency
    )


async def chat_rows(
    who: Caller,
    conversations: Sequence[Any],
    *,
    fail_fast: bool,
    max_concurrency: int,
    request: Mapping[str, Any],
    extra_params: Mapping[str, Any] | None = None,
) -> Rows:
    """Answer each non-null conversation; the result is the first choice's content."""

    async def call(conversation: Any) -> ChatResponse:
        return await who.client.achat(
            messages=messages_of(conversation), extra_params=dict(extra_params or {}), **request
        )

    return await _each_row(
        who, conversations, call, _content, fail_fast=fail_fast, max_concurrency=max_concurrency
    )
