"""The gateway as an operator runs it, for the load and fault tests: ``python -m
extmodels_integrations.gateway ... --workers 2`` in its own process group, in front of the
loopback provider of ``_stream_provider`` (its own process too).

Its stderr (one JSON object a line, each with the worker's ``pid``) goes to a file the tests
read: which worker answered which request, and what it logged about Redis.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_KEY = "sk-loadCANARY1234567890abcdef"
SECRET_ENV = "EXTMODELS_SECRET__LOAD__OPENAI"


@contextlib.contextmanager
def provider() -> Iterator[str]:
    """The loopback provider in its own process; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway._stream_provider", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


def endpoint_body(name: str, model: str, base: str, limits: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat endpoint on ``model`` of the provider, usage tracked, with ``limits``."""
    gateway: dict[str, Any] = {"usage_tracking_config": {"enabled": True}}
    if limits:
        gateway["rate_limits"] = limits
    external = {
        "name": model,
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {
            "openai_api_key": "{{secrets/load/openai}}",
            "openai_api_base": f"{base}/v1",
        },
    }
    return {
        "name": name,
        "config": {"served_entities": [{"name": model, "external_model": external}]},
        "ai_gateway": gateway,
    }


@dataclass
class Gateway:
    """A running ``extmodels serve`` master and its workers."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line logged so far."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def workers(self) -> set[int]:
        """The live uvicorn workers: the master's children that said startup is complete (its
        other child is multiprocessing's resource tracker)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        children = {int(p) for p in path.read_text().split()}
        ready = {
            line["pid"]
            for line in self.lines()
            if line.get("message") == "Application startup complete."
        }
        return {p for p in children & ready if _alive(p)}

    def wait_workers(
        self, count: int, *, exclude: frozenset[int] = frozenset(), seconds: float = 30.0
    ) -> set[int]:
        """Wait until ``count`` workers (none of ``exclude``) are up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            live = self.workers() - exclude
            if len(live) >= count:
                return live
            time.sleep(0.1)
        raise AssertionError(f"{count} workers not up after {seconds} s:\n{self.log.read_text()}")

    def serving(self) -> set[int]:
        """The workers holding an established client connection right now."""
        port = self.url.rsplit(":", 1)[1]
        out = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {int(p) for p in re.findall(r"pid=(\d+)", out)} & self.workers()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@contextlib.contextmanager
def serve(
    directory: Path, bodies: list[dict[str, Any]], *, store: str, limiter: str, extra: list[str]
) -> Iterator[Gateway]:
    """Start ``python -m extmodels_integrations.gateway`` with 2 workers on ``bodies``."""
    directory.mkdir(parents=True, exist_ok=True)
    configs = []
    for body in bodies:
        path = directory / f"{body['name']}.json"
        path.write_text(json.dumps(body))
        configs.append(str(path))
    tokens = directory / "tokens.json"
    tokens.write_text(
        json.dumps(
            {"tokens": [{"token": token(user), "user": user, "groups": ["load"]} for user in USERS]}
        )
    )
    port = free_port()
    log = directory / "gateway.log"
    command = [
        sys.executable,
        "-m",
        "extmodels_integrations.gateway",
        *configs,
        "--tokens",
        str(tokens),
        "--store",
        store,
        "--limiter",
        limiter,
        "--workers",
        "2",
        "--port",
        str(port),
        *extra,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=directory,
            stderr=sink,
            stdout=sink,
            env={**os.environ, SECRET_ENV: PROVIDER_KEY},
            start_new_session=True,
        )
    running = Gateway(f"http://127.0.0.1:{port}", process, log)
    try:
        running.wait_workers(2)
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        assert PROVIDER_KEY not in log.read_text(errors="replace")


USERS = ("ana", "ben", "cai", "dee", "eli")


def token(user: str) -> str:
    """The gateway token of ``user`` in the tokens file ``serve`` writes."""
    return f"gw-load-token-{user}"
