"""A loopback fake Databricks workspace: the serving-endpoints REST API (create, get, list,
PUT config / ai-gateway / rate-limits, PATCH tags, delete) with its states and error codes,
and a bearer-token check. A real HTTP server on 127.0.0.1 in a thread.

An endpoint is ``NOT_READY`` / ``IN_PROGRESS`` after a create or config update for
``polls_until_ready`` GETs, then ``READY`` / ``NOT_UPDATING``; ``fail_next_update`` makes the
next one end ``UPDATE_FAILED`` with ``failure_message``; ``inject`` answers the next requests
with given error statuses, bodies and headers (429 + Retry-After). Plaintext secrets are never
echoed.

Sign-in, for the auth tests: ``service_principals`` (client id -> secret) may ask
``/oidc/v1/token`` (HTTP Basic) for OAuth tokens living ``token_lifetime`` seconds
(``token_requests`` counts the asks, :meth:`FakeWorkspace.expire_tokens` invalidates every
token issued, :meth:`FakeWorkspace.revoke` refuses tokens with 401 or 403 and
``refuse_oauth`` every OAuth token, new ones too); the OIDC discovery document and
``/.well-known/databricks-config`` are served as ``databricks-sdk`` reads them;
``basic_users`` may use HTTP Basic on the API. ``secrets`` ((scope, key) -> value) is
served by ``/api/2.0/secrets/get``, and
``/serving-endpoints/<name>/invocations`` answers a chat completion (a stream when asked).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API = "/api/2.0/serving-endpoints"
_PATH = re.compile(rf"^{API}(?:/([^/]+))?(/config|/ai-gateway|/rate-limits|/tags)?$")


def _basic(auth: str) -> tuple[str | None, str, str]:
    if not auth.startswith("Basic "):
        return None, "", ""
    try:
        user, sep, password = base64.b64decode(auth[6:]).decode().partition(":")
    except ValueError:
        return None, "", ""
    return user, sep, password


_INVOCATIONS = re.compile(r"^/serving-endpoints/([^/]+)/invocations$")


def _completion(name: str, body: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": name,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunks(name: str, count: int) -> bytes:
    events = []
    for i in range(count):
        last = i == count - 1
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "model": name,
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": f"w{i} "},
                    "finish_reason": "stop" if last else None,
                }
            ],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


def _no_plaintext(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _no_plaintext(v) for k, v in node.items() if not k.endswith("_plaintext")}
    if isinstance(node, list):
        return [_no_plaintext(v) for v in node]
    return node


class FakeWorkspace:
    """Start with ``with FakeWorkspace(token="t") as ws:``; ``ws.url`` is the host."""

    def __init__(
        self,
        token: str = "fake-token",
        polls_until_ready: int = 1,
        *,
        service_principals: dict[str, str] | None = None,
        token_lifetime: int = 3600,
        basic_users: dict[str, str] | None = None,
        secrets: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.token = token
        self.service_principals = dict(service_principals or {})
        self.token_lifetime = token_lifetime
        self.basic_users = dict(basic_users or {})
        self.secrets = dict(secrets or {})
        self.token_requests = 0
        #: The OAuth tokens issued and still accepted.
        self.issued: set[str] = set()
        #: (path, Authorization header) of every request the auth check let through.
        self.authorized: list[tuple[str, str]] = []
        #: Revoked tokens -> the status they are refused with (see :meth:`revoke`).
        self.revoked: dict[str, int] = {}
        #: When set, the status every OAuth token is refused with, new ones included.
        self.refuse_oauth: int | None = None
        #: (path, Authorization header) of every request refused for its token.
        self.refused: list[tuple[str, str]] = []
        self._serial = itertools.count(1)
        self.polls_until_ready = polls_until_ready
        self.fail_next_update = False
        self.failure_message = "served entity failed to deploy"
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        #: (status, body, headers) answered, in order, before the API handles a request.
        self.inject: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._pending: dict[str, int] = {}
        self._failing: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeWorkspace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def expire_tokens(self) -> None:
        """Reject every OAuth token issued so far, as the workspace does once they expire."""
        with self._lock:
            self.issued.clear()

    def revoke(self, token: str | None = None, status: int = 401) -> None:
        """Refuse ``token`` (default: every OAuth token issued so far) with ``status``, as a
        workspace does once a token is revoked or its secret rotated, expiry or not: serving
        endpoints answer 401, the REST API 403 ``Invalid access token.``."""
        with self._lock:
            for revoked in [token] if token is not None else sorted(self.issued):
                self.revoked[revoked] = status
                self.issued.discard(revoked)

    def _refusal(self, auth: str) -> tuple[int, dict[str, Any]] | None:
        token = auth.removeprefix("Bearer ")
        status = self.revoked.get(token)
        if status is None and token in self.issued:
            status = self.refuse_oauth
        if status is None:
            return None
        if status == 401:
            return 401, {"error_code": "401", "message": "Invalid Token: the token was revoked"}
        return status, {"error_code": status, "message": "Invalid access token."}

    def _accepts(self, auth: str) -> bool:
        if auth == f"Bearer {self.token}" or auth.removeprefix("Bearer ") in self.issued:
            return True
        user, _, password = _basic(auth)
        return user is not None and self.basic_users.get(user) == password

    def _token_answer(self, auth: str, form: dict[str, list[str]]) -> tuple[int, Any]:
        client_id, _, secret = _basic(auth)
        if client_id is None or self.service_principals.get(client_id) != secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        if form.get("grant_type") != ["client_credentials"] or form.get("scope") != ["all-apis"]:
            return 400, {"error": "invalid_request", "error_description": f"form {sorted(form)}"}
        with self._lock:
            self.token_requests += 1
            token = f"oauth-{client_id}-{next(self._serial)}"
            self.issued.add(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        return 200, {**answer, "scope": "all-apis"}

    def _public(self, path: str) -> dict[str, Any] | None:
        """The documents anyone may read: OIDC discovery and the host metadata."""
        if path == "/oidc/.well-known/oauth-authorization-server":
            return {
                "issuer": f"{self.url}/oidc",
                "token_endpoint": f"{self.url}/oidc/v1/token",
                "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
            }
        if path == "/.well-known/databricks-config":
            return {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234"}
        return None

    def _secret(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        scope, key = (query.get(n, [""])[0] for n in ("scope", "key"))
        value = self.secrets.get((scope, key))
        if value is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"no {scope}/{key}"}
        return 200, {"key": key, "value": base64.b64encode(value.encode()).decode()}

    def mutations(self) -> list[tuple[str, str]]:
        """(method, path) of every call that is not a GET."""
        return [(m, p) for m, p, _ in self.calls if m != "GET"]

    # -- the API ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        match = _PATH.match(path)
        if match is None:
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no API at {path}"}
        name, part = match.group(1), match.group(2)
        with self._lock:
            self.calls.append((method, path, body))
            if name is None:
                return self._collection(method, body)
            if name not in self.endpoints and method != "POST":
                return 404, {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": f"Endpoint with name '{name}' does not exist.",
                }
            return self._one(method, name, part, body)

    def _collection(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, {"endpoints": [self._view(n) for n in self.endpoints]}
        name = body.get("name") if isinstance(body, dict) else None
        if not name or "config" not in body:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "name and config"}
        if name in self.endpoints:
            return 400, {
                "error_code": "RESOURCE_ALREADY_EXISTS",
                "message": f"Endpoint with name '{name}' already exists.",
            }
        stored = _no_plaintext(body)
        stored["config"]["config_version"] = 1
        self.endpoints[name] = stored
        self._start_update(name)
        return 200, self._view(name)

    def _one(self, method: str, name: str, part: str | None, body: Any) -> tuple[int, Any]:
        stored = self.endpoints[name]
        if method == "DELETE":
            del self.endpoints[name]
            return 200, {}
        if method == "GET":
            view = self._view(name)
            self._advance(name)
            return 200, view
        if part == "/config":
            if name in self._pending:
                return 409, {"error_code": "RESOURCE_CONFLICT", "message": "update in progress"}
            version = stored["config"].get("config_version", 1) + 1
            stored["config"] = {**_no_plaintext(body), "config_version": version}
            self._start_update(name)
            return 200, self._view(name)
        key = {"/ai-gateway": "ai_gateway", "/rate-limits": "rate_limits"}.get(part or "")
        if key == "rate_limits":
            stored["rate_limits"] = body.get("rate_limits", [])
            return 200, {"rate_limits": stored["rate_limits"]}
        if key == "ai_gateway":
            stored["ai_gateway"] = _no_plaintext(body)
            return 200, stored["ai_gateway"]
        if part == "/tags" and method == "PATCH":
            tags = {t["key"]: t for t in stored.get("tags", [])}
            tags.update({t["key"]: t for t in body.get("add_tags", [])})
            for key_ in body.get("delete_tags", []):
                tags.pop(key_, None)
            stored["tags"] = list(tags.values())
            return 200, {"tags": stored["tags"]}
        return 400, {"error_code": "BAD_REQUEST", "message": f"{method} {part}"}

    def _start_update(self, name: str) -> None:
        self._pending[name] = self.polls_until_ready
        if self.fail_next_update:
            self._failing.add(name)
            self.fail_next_update = False

    def _advance(self, name: str) -> None:
        if name in self._pending:
            self._pending[name] -= 1
            if self._pending[name] < 0:
                del self._pending[name]

    def _view(self, name: str) -> dict[str, Any]:
        stored = json.loads(json.dumps(self.endpoints[name]))
        entities = stored["config"].get("served_entities", [])
        for entity in entities:
            entity.setdefault("name", re.sub(r"[.:]", "-", entity["external_model"]["name"]))
        if "traffic_config" not in stored["config"] and len(entities) == 1:
            stored["config"]["traffic_config"] = {
                "routes": [{"served_model_name": entities[0]["name"], "traffic_percentage": 100}]
            }
        updating = name in self._pending
        if name in self._failing and not updating:
            state = {"ready": "NOT_READY", "config_update": "UPDATE_FAILED"}
            for entity in entities:
                entity["state"] = {
                    "deployment": "DEPLOYMENT_FAILED",
                    "deployment_state_message": self.failure_message,
                }
        elif updating:
            state = {"ready": "NOT_READY", "config_update": "IN_PROGRESS"}
            stored["pending_config"] = {
                "config_version": stored["config"]["config_version"],
                "served_entities": entities,
            }
        else:
            state = {"ready": "READY", "config_update": "NOT_UPDATING"}
        return {**stored, "id": f"id-{name}", "creator": "fake@example.com", "state": state}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        workspace = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                auth = self.headers.get("authorization")
                headers: dict[str, str] = {}
                path, _, query = self.path.partition("?")
                public = workspace._public(path)
                invocation = _INVOCATIONS.match(path)
                if path == "/oidc/v1/token" and self.command == "POST":
                    status, answer = workspace._token_answer(
                        auth or "", parse_qs(raw.decode(), keep_blank_values=True)
                    )
                elif public is not None and self.command == "GET":
                    status, answer = 200, public
                elif auth is None:
                    status, answer = 401, {"error_code": "UNAUTHENTICATED", "message": "no token"}
                elif (refusal := workspace._refusal(auth)) is not None:
                    workspace.refused.append((path, auth))
                    status, answer = refusal
                elif not workspace._accepts(auth):
                    status, answer = (
                        403,
                        {
                            "error_code": "PERMISSION_DENIED",
                            "message": "Invalid access token.",
                        },
                    )
                elif workspace.inject:
                    status, answer, extra = workspace.inject.pop(0)
                    headers.update(extra)
                elif path == "/api/2.0/secrets/get":
                    workspace.authorized.append((path, auth))
                    status, answer = workspace._secret(parse_qs(query))
                elif invocation is not None:
                    workspace.authorized.append((path, auth))
                    request = json.loads(raw) if raw else {}
                    if request.get("stream"):
                        self._send(200, _chunks(invocation.group(1), 5), "text/event-stream")
                        return
                    status, answer = 200, _completion(invocation.group(1), request)
                else:
                    workspace.authorized.append((path, auth))
                    status, answer = workspace.handle(
                        self.command, path, json.loads(raw) if raw else None
                    )
                self._send(status, json.dumps(answer).encode(), "application/json", headers)

            def _send(
                self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler
