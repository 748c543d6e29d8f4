"""A loopback Vertex AI endpoint that checks Gemini 3's thought-signature rule (issue 19).

Asked a question, it answers with two parallel ``get_weather`` calls of which only the first
part carries a ``thoughtSignature`` (as Gemini 3 does); sent the function responses back, it
answers in text. Like Gemini 3 it answers 400 when the first call of a signed turn comes back
without its signature (or with another one), and when any call part carries a signature it
never issued for that part. Streamed (``streamGenerateContent?alt=sse``) it sends each part as
its own event, so clients must merge the calls and their signatures across chunks.

``POST /token`` hands out a bearer token, so a service-account key pointing there signs in.
Every generate request body is kept in :attr:`GeminiLoop.bodies`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.providers.cases.vertex import PROJECT, REGION, service_account

SIGNATURE = "c2lnbmVkLWZpcnN0LWNhbGw="  # base64, as the REST API sends the bytes field
CALLS = [{"name": "get_weather", "args": {"city": city}} for city in ("Paris", "Rome")]
ANSWER = "Sunny in both."


def _calls_answer() -> list[dict[str, Any]]:
    first, second = CALLS
    return [{"functionCall": first, "thoughtSignature": SIGNATURE}, {"functionCall": second}]


def _problem(body: dict[str, Any]) -> str | None:
    """What Gemini 3 would refuse in ``body``, or ``None``."""
    for content in body.get("contents") or []:
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        for position, part in enumerate(calls):
            issued = SIGNATURE if position == 0 and part["functionCall"] == CALLS[0] else None
            sent = part.get("thoughtSignature")
            if issued is not None and sent is None:
                return "Function call is missing a thought_signature in functionCall parts."
            if sent != issued:
                return f"Corrupted thought signature in functionCall part {position}."
    return None


def _answered(body: dict[str, Any]) -> bool:
    last = (body.get("contents") or [{}])[-1]
    return any("functionResponse" in p for p in last.get("parts") or [])


class GeminiLoop:
    """The endpoint, on a free loopback port while in its ``with`` block."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        handler = type("_Handler", (_Handler,), {"loop": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> GeminiLoop:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def call_parts(self, request: int) -> list[dict[str, Any]]:
        """The model turn's function-call parts in request ``request``, as sent."""
        return [
            part
            for content in self.bodies[request]["contents"]
            if content["role"] == "model"
            for part in content["parts"]
            if "functionCall" in part
        ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    loop: GeminiLoop

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/token"):
            self._send(200, {"access_token": "loop-token", "expires_in": 3599})
            return
        body = json.loads(raw)
        self.loop.bodies.append(body)
        problem = _problem(body)
        if problem is not None:
            error = {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}
            self._send(400, {"error": error})
            return
        parts = [{"text": ANSWER}] if _answered(body) else _calls_answer()
        if ":streamGenerateContent" not in self.path:
            self._send(200, _response([_candidate(parts, True)]))
            return
        events = [
            _response([_candidate([part], n == len(parts) - 1)]) for n, part in enumerate(parts)
        ]
        payload = "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events).encode()
        self._write(200, "text/event-stream", payload)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._write(status, "application/json", json.dumps(body).encode())

    def _write(self, status: int, kind: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _candidate(parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    return candidate


def _response(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    usage = {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    return {
        "candidates": candidates,
        "usageMetadata": usage,
        "modelVersion": "gemini-3-pro-preview",
        "responseId": "loop-1",
    }


def external_model(loop: GeminiLoop, task: str = "llm/v1/chat") -> dict[str, Any]:
    """A ``google-cloud-vertex-ai`` external model served by ``loop``."""
    key = service_account(token_uri=f"{loop.base_url}/token")
    return {
        "name": "gemini-3-pro-preview",
        "provider": "google-cloud-vertex-ai",
        "task": task,
        "google_cloud_vertex_ai_config": {
            "project_id": PROJECT,
            "region": REGION,
            "private_key_plaintext": json.dumps(key),
            "vertex_api_base": loop.base_url,
        },
    }
