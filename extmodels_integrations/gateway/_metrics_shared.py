"""``/metrics`` for the whole gateway when it runs several uvicorn workers.

Each worker keeps its counters in memory (no I/O on the request path) and publishes a snapshot,
``<pid>.json`` in a directory all workers share, at most once a second and when it stops; a
scrape answers its own live counters plus every other worker's last snapshot. So the totals lag
another worker's by up to :data:`PUBLISH_SECONDS`, and a worker killed with SIGKILL loses at most
its last second of counts (the usage table, written per request, stays exact). Files of workers
that exited stay: counters never go down, as Prometheus expects of a counter. The CLI creates
the directory and removes it when the gateway stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from extmodels_integrations.gateway._metrics import Metrics

__all__ = ["PUBLISH_SECONDS", "SharedMetrics"]

PUBLISH_SECONDS = 1.0
_log = logging.getLogger("extmodels_integrations.gateway")


class SharedMetrics:
    """One worker's :class:`Metrics`, published to and summed from ``directory``."""

    def __init__(self, directory: Path, local: Metrics) -> None:
        self.directory = directory
        self.local = local
        self._pid = os.getpid()
        self._published = -1

    def publish(self) -> None:
        """Write this worker's snapshot if it changed (atomically: a reader never sees half)."""
        if self.local.changes == self._published:
            return
        changes = self.local.changes
        path = self.directory / f"{self._pid}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.local.state()))
        os.replace(partial, path)
        self._published = changes

    async def run(self) -> None:
        """Publish every :data:`PUBLISH_SECONDS` until cancelled."""
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            try:
                self.publish()
            except OSError as exc:  # a full disk must not stop the worker; the scrape lags
                _log.error("could not publish this worker's metrics: %s", exc)

    def render(self) -> str:
        """The gateway's counters: this worker's live ones plus the others' snapshots."""
        total = Metrics()
        total.add(self.local.state())
        for path in sorted(self.directory.glob("*.json")):
            if path.stem == str(self._pid):
                continue
            try:
                total.add(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                _log.error("skipped the metrics snapshot %s: %s", path.name, exc)
        return total.render()
