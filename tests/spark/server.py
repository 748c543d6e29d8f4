"""The loopback stub server with failures chosen by content and a log of when each request came.

A text, prompt or message containing ``poison`` gets a 400 (a bad request: never retried),
``down`` a 503 every time (retried, then failed), and ``flaky`` a 503 on its first request
only (the retry succeeds).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.support.openai_server import OpenAIStubServer, StubHTTPError


class FaultyServer(OpenAIStubServer):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.peers: set[tuple[str, int]] = set()
        self._flaky_seen: set[str] = set()
        self._log_lock = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._log_lock:
            self.arrivals.clear()
            self.peers.clear()
            self._flaky_seen.clear()

    def _handle(self, h: Any) -> None:
        with self._log_lock:
            self.arrivals.append(time.monotonic())
            self.peers.add(h.client_address)
        super()._handle(h)

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: Any, extra: dict[str, str]
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        text = json.dumps(body) if isinstance(body, dict) else ""
        if "poison" in text:
            raise StubHTTPError(400, "Injected bad request: the input is poisoned.")
        if "down" in text:
            raise StubHTTPError(503, "Injected outage.", None, "server_error")
        if "flaky" in text:
            with self._log_lock:
                first = text not in self._flaky_seen
                self._flaky_seen.add(text)
            if first:
                raise StubHTTPError(503, "Injected hiccup.", None, "server_error")
        return super()._dispatch(method, path, headers, body, extra)

    def requests_in_window(self, seconds: float) -> int:
        """The most requests that arrived within any ``seconds``-long window."""
        times = sorted(self.arrivals)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] > seconds:
                start += 1
            most = max(most, end - start + 1)
        return most
