"""``GET /metrics``: the gateway's counters in the Prometheus text exposition format (0.0.4).

Written here rather than with ``prometheus_client``: that package is not a dependency (not in
``uv.lock``), and five metric families with fixed labels need a few dozen lines, not an extra.
The counters are kept per process; with ``--workers N`` the CLI gives the workers one shared
directory (``_metrics_shared``) where each publishes its counters, so any worker's scrape answers
for the whole gateway.

Labels are the endpoint and served entity (bounded: the operator's configs), the status and the
error type; never the requester (unbounded, and a user list is not for an unauthenticated
scrape). A request for a name the gateway does not serve (404), or with no name at all (a body
that is not JSON), is counted with ``endpoint=""``, so a scan of made-up names cannot grow the
label set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PREFIX = "extmodels_gateway"
# Seconds: from a cached loopback answer (a few ms) to a long generation (a minute).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        self.total += seconds
        self.count += 1


class Metrics:
    """Request, token, latency and error counters. Only the event loop's thread touches them
    (routes are coroutines), so there is no lock."""

    def __init__(self) -> None:
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._errors: Counter[tuple[str, str, str]] = Counter()
        self._tokens_in: Counter[tuple[str, str]] = Counter()
        self._tokens_out: Counter[tuple[str, str]] = Counter()
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self.changes = 0
        """Requests observed so far: a publisher compares it to skip unchanged snapshots."""

    def observe(
        self,
        endpoint: str,
        entity: str | None,
        status: int,
        error_type: str | None,
        seconds: float,
        tokens: tuple[int | None, int | None] = (None, None),
    ) -> None:
        """Count one answered request."""
        self.changes += 1
        key = (endpoint, entity or "")
        self._requests[(*key, str(status))] += 1
        if error_type is not None:
            self._errors[(*key, error_type)] += 1
        self._tokens_in[key] += tokens[0] or 0
        self._tokens_out[key] += tokens[1] or 0
        self._latency.setdefault(key, _Histogram()).observe(seconds)

    def state(self) -> dict[str, list[list[Any]]]:
        """The counters as JSON-ready lists (label values, then the numbers)."""
        counters: dict[str, Mapping[Any, int]] = {
            "requests": self._requests,
            "errors": self._errors,
            "tokens_in": self._tokens_in,
            "tokens_out": self._tokens_out,
        }
        out = {name: [[*k, v] for k, v in c.items()] for name, c in counters.items()}
        out["latency"] = [[*k, h.buckets, h.total, h.count] for k, h in self._latency.items()]
        return out

    def add(self, state: Mapping[str, list[list[Any]]]) -> None:
        """Add another process's :meth:`state` to these counters."""
        for name, width in (("requests", 3), ("errors", 3), ("tokens_in", 2), ("tokens_out", 2)):
            counter: Counter[Any] = getattr(self, f"_{name}")
            for row in state.get(name, []):
                counter[tuple(row[:width])] += int(row[width])
        for *key, buckets, total, count in state.get("latency", []):
            hist = self._latency.setdefault((key[0], key[1]), _Histogram())
            hist.buckets = [a + int(b) for a, b in zip(hist.buckets, buckets, strict=True)]
            hist.total += float(total)
            hist.count += int(count)

    def render(self) -> str:
        """Every metric family in the text exposition format."""
        lines: list[str] = []
        pair = ("endpoint", "served_entity")
        _counter(lines, "requests_total", "Requests answered.", (*pair, "status"), self._requests)
        _counter(lines, "errors_total", "Failed requests.", (*pair, "error_type"), self._errors)
        _counter(lines, "input_tokens_total", "Prompt tokens.", pair, self._tokens_in)
        _counter(lines, "output_tokens_total", "Completion tokens.", pair, self._tokens_out)
        name = f"{_PREFIX}_request_duration_seconds"
        lines += [
            f"# HELP {name} Time from request to the answer's last byte.",
            f"# TYPE {name} histogram",
        ]
        for key in sorted(self._latency):
            hist, labels = self._latency[key], _labels(pair, key)
            for bound, count in zip(BUCKETS, hist.buckets, strict=True):
                lines.append(f'{name}_bucket{{{labels},le="{_number(bound)}"}} {count}')
            lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {hist.count}')
            lines.append(f"{name}_sum{{{labels}}} {_number(hist.total)}")
            lines.append(f"{name}_count{{{labels}}} {hist.count}")
        return "\n".join(lines) + "\n"


def _counter(
    lines: list[str],
    suffix: str,
    help_text: str,
    names: tuple[str, ...],
    values: Mapping[Any, int],
) -> None:
    name = f"{_PREFIX}_{suffix}"
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    for key in sorted(values):
        lines.append(f"{name}{{{_labels(names, key)}}} {values[key]}")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
