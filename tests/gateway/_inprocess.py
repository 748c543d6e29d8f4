"""A gateway app served by uvicorn in a thread on 127.0.0.1, for tests that need a real HTTP
gateway but not a separate process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from extmodels_integrations.gateway._app import Settings, create_app


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[tuple[str, Any]]:
    """Yield the gateway's base URL and its ``Gateway`` state; stop it on exit."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app.state.gateway
    finally:
        server.should_exit = True
        thread.join(10)


def stub_body(name: str, base: str, task: str = "llm/v1/chat") -> dict[str, Any]:
    """A create body: one ``openai`` external model on the loopback stub at ``base``, its key
    the ``{{secrets/gw/openai}}`` reference, usage tracked."""
    model = {
        "name": "stub-model",
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_key": "{{secrets/gw/openai}}",
            "openai_api_base": f"{base}/v1",
        },
    }
    return {
        "name": name,
        "config": {"served_entities": [{"name": "stub", "external_model": model}]},
        "ai_gateway": {"usage_tracking_config": {"enabled": True}},
    }
