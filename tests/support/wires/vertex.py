"""The stub server's Vertex AI wire: Gemini ``generateContent`` / ``streamGenerateContent``
(SSE only, as with ``alt=sse``) and text-embedding ``predict`` on any path containing
``/publishers/google/models/``; any bearer token is accepted. Parts are checked as Vertex checks
them (known fields, one data field each, media with a MIME type, base64 inline data), and
function results as Gemini pairs them with the calls of the turn before.

Requests are turned into OpenAI-format ones for the stub's scripted answers and the answers
rendered back as Gemini responses: made-up-free (Gemini gives no call ids), cumulative
``usageMetadata`` on every stream chunk, ``\\r\\n`` SSE line endings as Google sends them, the
per-model embedding batch limits Vertex enforces, and Google's error body.

:class:`TokenServer` answers the OAuth2 token endpoint for recording cassettes (the stub's wire
protocol only serves model routes).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.openai_server import StubHTTPError, pieces

MARKER = "/publishers/google/models/"
TOKEN = "stub-vertex-access-token"
_METHODS = {"generateContent": "chat", "streamGenerateContent": "chat", "predict": "embeddings"}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
_TASK_TYPES = frozenset(
    {"RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION"}
    | {"CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"}
)


def _split(path: str) -> tuple[str, str]:
    """``(model, method)`` from ``.../publishers/google/models/{model}:{method}``."""
    model, _, method = path.split(MARKER, 1)[1].partition(":")
    return model, method


def batch_limit(model: str) -> int:
    """Instances per ``predict`` call, as Vertex enforces them."""
    return 1 if model.startswith("gemini-embedding") else 250


def json_schema(schema: Any) -> Any:
    """A Vertex ``Schema`` back as JSON schema (lower-case types) for the stub's filler."""
    if not isinstance(schema, dict):
        return schema
    out = {k: json_schema(v) for k, v in schema.items() if k not in ("nullable", "type")}
    if "type" in schema:
        out["type"] = str(schema["type"]).lower()
    if "properties" in schema:
        out["properties"] = {k: json_schema(v) for k, v in schema["properties"].items()}
    if "anyOf" in schema:
        out["anyOf"] = [json_schema(s) for s in schema["anyOf"]]
    return out


# Part.data is a oneof (aiplatform v1 Part); the other fields may sit beside it.
_PART_DATA = frozenset(
    {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
    | {"executableCode", "codeExecutionResult"}
)
_PART_EXTRAS = frozenset({"thought", "thoughtSignature", "videoMetadata"})


def _check_parts(parts: list[Any], where: str) -> None:
    """Refuse parts as Vertex does: unknown fields, two data fields in one part, media without
    a MIME type, inline data that is not base64."""
    for j, part in enumerate(parts):
        at = f"{where}.parts[{j}]"
        unknown = [k for k in part if k not in _PART_DATA | _PART_EXTRAS]
        if unknown:
            raise StubHTTPError(
                400,
                f"Invalid JSON payload received. Unknown name \"{unknown[0]}\" at '{at}': "
                "Cannot find field.",
            )
        data = [k for k in part if k in _PART_DATA]
        if len(data) > 1:
            raise StubHTTPError(
                400,
                f"Invalid JSON payload received. Oneof field 'data' is already set. "
                f"Cannot set '{data[1]}'",
            )
        media = part.get("inlineData") or part.get("fileData")
        if media is not None and not media.get("mimeType"):
            raise StubHTTPError(400, f"{at}: mimeType is required for inline or file data.")
        inline = part.get("inlineData")
        if inline is not None:
            try:
                base64.b64decode(inline.get("data") or "", validate=True)
            except ValueError:
                raise StubHTTPError(
                    400,
                    f"Invalid value at '{at}.inline_data.data' (TYPE_BYTES), Base64 "
                    "decoding failed",
                ) from None
        if "fileData" in part and not part["fileData"].get("fileUri"):
            raise StubHTTPError(400, f"{at}: fileUri is required for file data.")


def _count(content: dict[str, Any], kind: str) -> int:
    return sum(1 for p in content.get("parts") or [] if kind in p)


def _check_turns(contents: list[dict[str, Any]]) -> None:
    """Function results as Gemini pairs them: in the user turn right after the call turn, one
    functionResponse part per functionCall part (Gemini's own error messages)."""
    for n, content in enumerate(contents):
        results = _count(content, "functionResponse")
        calls = _count(contents[n - 1], "functionCall") if n else 0
        if results and not calls:
            raise StubHTTPError(
                400,
                "Please ensure that function response turn comes immediately after a function "
                "call turn.",
            )
        if calls and results != calls:
            raise StubHTTPError(
                400,
                "Please ensure that the number of function response parts is equal to the "
                "number of function call parts of the function call turn.",
            )


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        _check_parts(system.get("parts") or [], "system_instruction")
        messages.append({"role": "system", "content": _text(system.get("parts"))})
    _check_turns(body.get("contents") or [])
    for n, content in enumerate(body.get("contents") or []):
        role = content.get("role")
        if role not in ("user", "model"):
            raise StubHTTPError(400, "Please use a valid role: user, model.")
        parts = content.get("parts") or []
        _check_parts(parts, f"contents[{n}]")
        if any(p.get("text") == "" for p in parts):
            raise StubHTTPError(
                400, "Unable to submit request because it has an empty text parameter."
            )
        calls = [p["functionCall"] for p in parts if "functionCall" in p]
        results = [p["functionResponse"] for p in parts if "functionResponse" in p]
        for k, result in enumerate(results):
            call_id = f"call_{n}_{k}_{result['name']}"
            messages.append(
                {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result["response"])}
            )
        text = _text(parts)
        if role == "model":
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = [
                    {
                        "id": f"call_{n}_{k}",
                        "type": "function",
                        "function": {
                            "name": c["name"],
                            "arguments": json.dumps(c.get("args") or {}),
                        },
                    }
                    for k, c in enumerate(calls)
                ]
            messages.append(message)
        elif text or not results:
            messages.append({"role": "user", "content": text})
    return messages


def _text(parts: Any) -> str:
    return "".join(p.get("text", "") for p in parts or [] if isinstance(p, dict))


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    tools = [
        {
            "type": "function",
            "function": {
                "name": d["name"],
                "description": d.get("description", ""),
                "parameters": json_schema(
                    d.get("parameters") or {"type": "object", "properties": {}}
                ),
            },
        }
        for tool in body.get("tools") or []
        for d in tool.get("functionDeclarations") or []
    ]
    if not tools:
        return {}
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode, allowed = config.get("mode", "AUTO"), config.get("allowedFunctionNames") or []
    choice: Any = {"AUTO": "auto", "NONE": "none", "ANY": "required"}.get(mode, "auto")
    if mode == "ANY" and len(allowed) == 1:
        choice = {"type": "function", "function": {"name": allowed[0]}}
    return {"tools": tools, "tool_choice": choice}


def _generation(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    out: dict[str, Any] = {}
    for theirs, ours in (
        ("temperature", "temperature"),
        ("maxOutputTokens", "max_tokens"),
        ("stopSequences", "stop"),
        ("candidateCount", "n"),
    ):
        if theirs in config:
            out[ours] = config[theirs]
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseSchema")
        out["response_format"] = (
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": json_schema(schema)},
            }
            if schema
            else {"type": "json_object"}
        )
    return out


class VertexWire:
    """Speaks Vertex AI on ``/publishers/google/models/`` paths (see the module docstring)."""

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        if method != "POST" or MARKER not in path:
            return None
        return _METHODS.get(_split(path)[1])

    def authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer[:7].lower() == "bearer " and bool(bearer[7:].strip())

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(body, dict):
            raise StubHTTPError(400, "Invalid JSON payload received.")
        model, method = _split(path)
        if kind == "embeddings":
            return self._embeddings(model, body), False
        stream = method == "streamGenerateContent"
        if stream and query.get("alt") != "sse":
            raise StubHTTPError(400, "This stub streams server-sent events only: add ?alt=sse.")
        if not body.get("contents"):
            raise StubHTTPError(400, "Unable to submit request because it has no contents.")
        return {
            "model": model,
            "messages": _messages(body),
            **_tools(body),
            **_generation(body),
        }, stream

    def _embeddings(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        instances = body.get("instances") or []
        if len(instances) > batch_limit(model):
            raise StubHTTPError(
                400,
                f"{len(instances)} instances: {model} takes at most {batch_limit(model)}.",
            )
        for instance in instances:
            if instance.get("task_type", "RETRIEVAL_QUERY") not in _TASK_TYPES:
                raise StubHTTPError(400, f"Unknown task_type {instance.get('task_type')!r}.")
        dims = (body.get("parameters") or {}).get("outputDimensionality")
        return {
            "model": model,
            # Real task types embed one text differently; so does the stub.
            "input": [
                f"{i.get('task_type', 'RETRIEVAL_QUERY')}: {i.get('content')}" for i in instances
            ],
            **({"dimensions": dims} if dims else {}),
        }

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        if kind == "embeddings":
            predictions = [
                {
                    "embeddings": {
                        "values": item["embedding"],
                        "statistics": {
                            "token_count": max(1, len(text.split())),
                            "truncated": False,
                        },
                    }
                }
                for item, text in zip(
                    response["data"], [i["content"] for i in request["instances"]], strict=True
                )
            ]
            return _dumps(
                {"predictions": predictions, "metadata": {"billableCharacterCount": 0}}
            ), {}
        usage = response["usage"]
        head = {"modelVersion": response["model"], "responseId": response["id"]}
        if not stream:
            candidates = [_candidate(c) for c in response["choices"]]
            return _dumps(
                {
                    "candidates": candidates,
                    "usageMetadata": _usage(usage, usage["completion_tokens"]),
                    **head,
                }
            ), {}
        events = _stream_events(response["choices"], usage, head)
        return [b"data: " + _dumps(e) + b"\r\n\r\n" for e in events], {
            "content-type": "text/event-stream"
        }

    def error(self, error: StubHTTPError) -> bytes:
        status = _STATUS_NAMES.get(error.status, "UNKNOWN")
        return _dumps({"error": {"code": error.status, "message": error.message, "status": status}})


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _usage(usage: dict[str, int], completion: int) -> dict[str, int]:
    prompt = usage["prompt_tokens"]
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": message["content"]}] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        fn = call["function"]
        parts.append({"functionCall": {"name": fn["name"], "args": json.loads(fn["arguments"])}})
    return parts


def _candidate(choice: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": {"role": "model", "parts": _parts(choice["message"])},
        "finishReason": _FINISH.get(choice["finish_reason"], "OTHER"),
        "index": choice["index"],
    }


def _stream_events(
    choices: list[dict[str, Any]], usage: dict[str, int], head: dict[str, Any]
) -> list[dict[str, Any]]:
    """Text in word-sized chunks, function calls whole, finishReason on each candidate's last
    chunk; usage on every chunk, cumulative (as Gemini sends it)."""
    steps: list[tuple[int, list[dict[str, Any]], str | None]] = []
    for choice in choices:
        message, index = choice["message"], choice["index"]
        text_steps = [[{"text": p}] for p in pieces(message.get("content") or "")]
        calls = [p for p in _parts(message) if "functionCall" in p]
        body = text_steps + ([calls] if calls else []) or [[{"text": ""}]]
        for n, parts in enumerate(body):
            last = n == len(body) - 1
            steps.append(
                (index, parts, _FINISH.get(choice["finish_reason"], "OTHER") if last else None)
            )
    total = usage["completion_tokens"]
    events = []
    for n, (index, parts, finish) in enumerate(steps):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
        if finish:
            candidate["finishReason"] = finish
        done = total if n == len(steps) - 1 else min(total, n + 1)
        events.append({"candidates": [candidate], "usageMetadata": _usage(usage, done), **head})
    return events


WIRE = VertexWire()


class TokenServer:
    """A loopback OAuth2 token endpoint: any POST gets a fixed bearer token. Started by the
    Vertex cassette tests when recording; never used on replay."""

    def __init__(self, port: int = 0) -> None:
        handler = type("_TokenHandler", (_TokenHandler,), {})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def __enter__(self) -> TokenServer:
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


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = _dumps({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
