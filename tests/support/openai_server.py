"""Deterministic loopback stub speaking the OpenAI and Databricks serving-endpoint wire formats.

Standard library only. Every response is a pure function of (route, request body, quirks flag):
ids, ``created``, vectors and tool-call ids are derived from hashes, never from counters, clocks
or randomness, so cassettes recorded against it are reproducible and test-order independent.

Routes (POST, JSON): any path ending in ``chat/completions``, ``completions`` or ``embeddings``
(``/v1/...``, Azure ``/openai/deployments/<dep>/...``, ``/serving-endpoints/...``) and the
Databricks ``/serving-endpoints/<name>/invocations``, whose task is inferred from the body.

Chat replies are scripted (see ``_script_reply``) so a LangChain chat model wired to this stub can
pass the request/response plumbing of ``langchain_tests`` ``ChatModelIntegrationTests``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import math
import pkgutil
import re
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

CREATED = 1_700_000_000
DEFAULT_MODEL = "stub-model"
EMBEDDING_DIM = 16
MAX_EMBEDDING_INPUTS = 2048
REASONING_SUMMARY = "thinking..."

# Canned values for string fields whose content cannot be read off the conversation.
STRING_SAMPLES: dict[str, str] = {
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse.",
    "answer_style": "pirate",
    "location": "San Francisco, CA",
}
# (field-name pattern, prompt pattern): group 1 of the prompt match fills the string field.
STRING_EXTRACTORS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"(^|_)(name|title)$"), re.compile(r"(?<!\w)['\"]([^'\"]+)['\"](?!\w)")),
    (re.compile(r"^(location|city|place|address)$"), re.compile(r"\bin ([A-Z][^?!.]*)")),
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED_KEY = re.compile(r"(?<!\w)['\"]([A-Za-z_]\w*)['\"](?!\w)")
_USE_TOOL = re.compile(r"\b(use|using) (the|a) tool\b", re.IGNORECASE)
_GENERIC_NAME_PARTS = frozenset({"tool", "tools", "function", "args", "with", "from"})
_FORCED_CHOICES = frozenset({"required", "any"})
_INVOCATIONS = re.compile(r"^/serving-endpoints/([^/]+)/invocations/?$")
_AZURE_DEPLOYMENT = re.compile(r"/deployments/([^/]+)/")
_ROUTE_SUFFIXES = (
    ("chat/completions", "chat"),
    ("completions", "completions"),
    ("embeddings", "embeddings"),
)
_INFERRED_TASKS = (("messages", "chat"), ("prompt", "completions"), ("input", "embeddings"))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any  # parsed body, None when absent or not JSON


class StubHTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.type = status, message, code, type_

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.type, "param": None, "code": self.code}
        }


@dataclass
class _Choice:
    text: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"


# ----------------------------------------------------------------------------- small helpers
def digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def _without_ids(body: Any) -> Any:
    """``body`` with ``id``/``tool_call_id`` strings renumbered in order of appearance.

    Clients mint random ids for replayed tool calls (LangChain few-shot examples); response ids
    are hashed from this form so re-recorded cassettes do not churn.
    """
    seen: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            k: seen.setdefault(v, f"id{len(seen)}")
            if k in ("id", "tool_call_id") and isinstance(v, str)
            else walk(v)
            for k, v in node.items()
        }

    return walk(body)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def text_of(content: Any) -> str:
    """Text of a message ``content``: a string or a list of parts (``{"text": ...}`` or str)."""
    if isinstance(content, str):
        return content
    parts = [p.get("text") if isinstance(p, dict) else p for p in _as_list(content)]
    return " ".join(p for p in parts if isinstance(p, str))


def pieces(text: str) -> list[str]:
    """Word-sized pieces that keep their leading whitespace; ``"".join`` gives back ``text``."""
    return re.findall(r"\s*\S+|\s+$", text)


def fragments(s: str) -> list[str]:
    """Split tool-call arguments into 2+ fragments (for any string of length >= 2)."""
    size = max(1, min(16, len(s) // 2))
    return [s[i : i + size] for i in range(0, len(s), size)]


def _words(text: str) -> int:
    return len(text.split())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _positive_int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    value = default if value is None else value
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StubHTTPError(400, f"'{key}' must be a positive integer.", "invalid_value")
    return value


def _default_reply(prompt: str) -> str:
    snippet = " ".join(prompt.split()[:8]) or "your message"
    return f"Stub reply to: {snippet}. Let me know how I can help you further."


def _apply_limits(text: str, body: dict[str, Any]) -> tuple[str, str]:
    """Apply ``stop`` (truncate before the earliest stop string) then ``max_tokens`` (words)."""
    cuts = [text.find(s) for s in _as_list(body.get("stop")) if isinstance(s, str) and s]
    if cuts := [c for c in cuts if c >= 0]:
        text = text[: min(cuts)]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    parts = pieces(text)
    if isinstance(limit, int) and len([p for p in parts if p.strip()]) > limit:
        return "".join(parts[:limit]), "length"
    return text, "stop"


# ----------------------------------------------------------------------------- scripting
class _SchemaFiller:
    """Builds a value satisfying a JSON schema, preferring facts read off the last user turn."""

    def __init__(self, root: dict[str, Any], prompt: str) -> None:
        self.root, self.prompt = root, prompt
        self.numbers = _NUMBER.findall(prompt)

    def _resolve(self, schema: Any) -> dict[str, Any]:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            node: Any = self.root
            for key in schema["$ref"].lstrip("#/").split("/"):
                node = node.get(key, {}) if isinstance(node, dict) else {}
            schema = node
        return schema if isinstance(schema, dict) else {}

    def fill(self, schema: Any, name: str = "") -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if enum := schema.get("enum"):
            mentioned = [v for v in enum if str(v).lower() in self.prompt.lower()]
            return (mentioned or enum)[0]
        for key in ("anyOf", "oneOf", "allOf"):
            if options := schema.get(key):
                usable = [o for o in options if self._resolve(o).get("type") != "null"]
                return self.fill((usable or options)[0], name)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            props = schema.get("properties") or {}
            return {key: self.fill(sub, key) for key, sub in props.items()}
        if kind == "array":
            return [
                self.fill(schema.get("items", {}), name)
                for _ in range(max(1, schema.get("minItems", 1)))
            ]
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(name)

    def _number(self, schema: dict[str, Any], *, integer: bool) -> float | int:
        value: float = 3
        while self.numbers:
            candidate = float(self.numbers.pop(0))
            if not integer or candidate.is_integer():
                value = candidate
                break
        step = 1 if integer else 1e-6
        low = schema.get("minimum", schema.get("exclusiveMinimum", -math.inf - step) + step)
        high = schema.get("maximum", schema.get("exclusiveMaximum", math.inf + step) - step)
        value = min(max(value, low), high)
        return int(value) if integer else value

    def string(self, name: str) -> str:
        for name_pattern, prompt_pattern in STRING_EXTRACTORS:
            if name_pattern.search(name) and (found := prompt_pattern.search(self.prompt)):
                return found.group(1).strip()
        return STRING_SAMPLES.get(name, f"sample {name.replace('_', ' ')}".strip())


def _tool_spec(tool: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    fn = tool.get("function", tool)
    params = fn.get("parameters") or fn.get("input_schema") or {"type": "object"}
    return str(fn.get("name", "")), params


def _relevance(tool: dict[str, Any], prompt: str) -> tuple[int, int]:
    """3: name mentioned, 2: a distinctive name part mentioned, 1: 'use the tool', 0: none."""
    name = _tool_spec(tool)[0]
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    parts = {p.lower() for p in re.split(r"[^A-Za-z]+|(?<=[a-z])(?=[A-Z])", name)}
    if name and name.lower() in prompt.lower():
        level = 3
    elif {p for p in parts if len(p) >= 4 and p not in _GENERIC_NAME_PARTS} & words:
        level = 2
    else:
        level = 1 if _USE_TOOL.search(prompt) else 0
    return level, len(name)


def _pick_tool(body: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    tools = [t for t in _as_list(body.get("tools")) if isinstance(t, dict)]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    wanted = None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or choice).get("name")
    elif isinstance(choice, str) and choice not in _FORCED_CHOICES | {"auto"}:
        wanted = choice
    if wanted is not None:
        named = [t for t in tools if _tool_spec(t)[0] == wanted]
        if not named:
            raise StubHTTPError(400, f"Tool choice '{wanted}' is not among the tools.")
        return named[0]
    best = max(tools, key=lambda t: _relevance(t, prompt))
    if choice in _FORCED_CHOICES:
        return best
    last_role = (body["messages"][-1] or {}).get("role")
    return best if last_role == "user" and _relevance(best, prompt)[0] > 0 else None


def _script_reply(body: dict[str, Any]) -> _Choice:
    """The scripted assistant turn, before ``n``/``stop``/``max_tokens`` are applied.

    1. tools bound and a call is forced (``required``/``any``/named) or, in ``auto`` mode, the
       last turn is a user turn mentioning a tool -> one tool call, arguments from its schema;
    2. last turn is a tool result -> ``"The result is <content>."`` (agent loops terminate);
    3. ``response_format`` json_schema -> JSON filling the schema; json_object -> JSON whose keys
       are the quoted identifiers in the prompt (``'setup'``, ``'punchline'``);
    4. otherwise a short text derived from the last user turn (contains "you" late on).
    """
    messages: list[dict[str, Any]] = body["messages"]
    users = [m for m in messages if m.get("role") == "user"]
    prompt = text_of(users[-1].get("content")) if users else ""
    if (tool := _pick_tool(body, prompt)) is not None:
        name, params = _tool_spec(tool)
        arguments = json.dumps(_SchemaFiller(params, prompt).fill(params), ensure_ascii=False)
        call_id = "call_" + digest(name, arguments, len(messages))[:24]
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return _Choice(None, [call], "tool_calls")
    if messages[-1].get("role") == "tool":
        result = text_of(messages[-1].get("content"))[:200] or "empty"
        return _Choice(f"The result is {result}.")
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return _Choice(json.dumps(_SchemaFiller(schema, prompt).fill(schema), ensure_ascii=False))
    if response_format.get("type") == "json_object":
        filler = _SchemaFiller({}, prompt)
        keys = list(dict.fromkeys(_QUOTED_KEY.findall(prompt)))
        obj = {k: filler.string(k) for k in keys} or {"reply": _default_reply(prompt)}
        return _Choice(json.dumps(obj, ensure_ascii=False))
    return _Choice(_default_reply(prompt))


# ----------------------------------------------------------------------------- generation
def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _variant(text: str, i: int, body: dict[str, Any]) -> _Choice:
    """Choice ``i`` of ``n``: the text gets a per-index suffix, then stop/max_tokens apply."""
    text, finish_reason = _apply_limits(text + (f" (choice {i})" if i else ""), body)
    return _Choice(text, finish_reason=finish_reason)


def _tokens(text: Any, tool_calls: Any = None) -> int:
    """Deterministic token count: whitespace words of the text and of tool-call arguments."""
    calls = [c.get("function") or {} for c in _as_list(tool_calls) if isinstance(c, dict)]
    return _words(text_of(text)) + sum(_words(str(f.get("arguments", ""))) for f in calls)


def _choice_tokens(choice: _Choice) -> int:
    names = sum(_words(call["function"]["name"]) for call in choice.tool_calls)
    return max(1, _tokens(choice.text, choice.tool_calls) + names)


def _chat(body: dict[str, Any]) -> tuple[list[_Choice], dict[str, int]]:
    messages = body.get("messages")
    if not (isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages)):
        raise StubHTTPError(400, "'messages' must be a non-empty list of objects.")
    base, n = _script_reply(body), _positive_int(body, "n", 1)
    choices = [base if base.text is None else _variant(base.text, i, body) for i in range(n)]
    prompt_tokens = sum(1 + _tokens(m.get("content"), m.get("tool_calls")) for m in messages)
    # Completion tokens add up over all n choices; the prompt is counted once.
    completion_tokens = sum(_choice_tokens(c) for c in choices)
    return choices, _usage(prompt_tokens, completion_tokens)


def _completions(body: dict[str, Any]) -> tuple[list[_Choice], dict[str, int]]:
    prompts, n = _as_list(body.get("prompt")), _positive_int(body, "n", 1)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise StubHTTPError(400, "'prompt' must be a string or a list of strings.")
    choices = [_variant(_default_reply(p), j, body) for p in prompts for j in range(n)]
    prompt_tokens = sum(max(1, _tokens(p)) for p in prompts)
    return choices, _usage(prompt_tokens, sum(max(1, _tokens(c.text)) for c in choices))


def _message(choice: _Choice, quirks: bool) -> dict[str, Any]:
    content: Any = choice.text
    if quirks:  # provider-fronting endpoints: list of parts with a reasoning summary first
        content = [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}]}
        ]
        content += [{"type": "text", "text": choice.text}] if choice.text is not None else []
    message: dict[str, Any] = {"role": "assistant", "content": content}
    return {**message, "tool_calls": choice.tool_calls} if choice.tool_calls else message


def _completion_logprobs(text: str, top: int) -> dict[str, Any]:
    """The legacy completions ``logprobs`` object for ``text``, deterministic: each piece is a
    token, its log-probability falls with its position, ``top`` alternatives follow it."""
    tokens = pieces(text)
    chosen = [round(-0.05 * (i + 1), 4) for i in range(len(tokens))]
    return {
        "tokens": tokens,
        "token_logprobs": chosen,
        "top_logprobs": [
            {t: lp, **{f"<alt{k}>": round(lp - k - 1, 4) for k in range(top - 1)}}
            for t, lp in zip(tokens, chosen, strict=True)
        ],
        "text_offset": [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))],
    }


def _chat_logprob(piece: str, position: int, top: int) -> dict[str, Any]:
    """One entry of OpenAI's chat ``logprobs.content`` for a piece of the answer, deterministic
    as :func:`_completion_logprobs`: the piece is its own first alternative."""
    chosen = round(-0.05 * (position + 1), 4)
    alternatives = [(piece, chosen)] + [
        (f"<alt{k}>", round(chosen - k - 1, 4)) for k in range(1, top)
    ]
    return {
        "token": piece,
        "logprob": chosen,
        "bytes": list(piece.encode()),
        "top_logprobs": [
            {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives[:top]
        ],
    }


def _chat_logprobs(text: str, top: int) -> dict[str, Any]:
    content = [_chat_logprob(p, i, top) for i, p in enumerate(pieces(text))]
    return {"content": content, "refusal": None}


def _choice_logprobs(chat: bool, text: str, logprobs: int | None) -> dict[str, Any] | None:
    if logprobs is None:
        return None
    return _chat_logprobs(text, logprobs) if chat else _completion_logprobs(text, logprobs)


def _render(
    chat: bool,
    head: dict[str, Any],
    choices: list[_Choice],
    usage: dict[str, int],
    quirks: bool,
    logprobs: int | None = None,
) -> dict[str, Any]:
    items = [
        {"index": i, "message": _message(c, quirks)} if chat else {"text": c.text, "index": i}
        for i, c in enumerate(choices)
    ]
    return {
        **head,
        "object": "chat.completion" if chat else "text_completion",
        "choices": [
            {
                **item,
                "logprobs": _choice_logprobs(chat, c.text or "", logprobs),
                "finish_reason": c.finish_reason,
            }
            for item, c in zip(items, choices, strict=True)
        ],
        "usage": usage,
    }


_Step = tuple[int, dict[str, Any], str | None]  # (choice index, choice fields, finish_reason)


def _stream_steps(chat: bool, choices: list[_Choice], top: int | None = None) -> list[_Step]:
    """One step per SSE chunk, choice after choice; role first, then text, tool calls, finish.
    With ``top`` (chat ``logprobs``), each text piece carries its own logprobs entry."""
    steps: list[_Step] = []
    for i, c in enumerate(choices):
        if not chat:
            steps += [(i, {"text": piece}, None) for piece in pieces(c.text or "")]
            steps.append((i, {"text": ""}, c.finish_reason))
            continue
        steps.append((i, {"delta": {"role": "assistant", "content": ""}}, None))
        steps += [
            (i, {"delta": {"content": p}, **_piece_logprobs(p, n, top)}, None)
            for n, p in enumerate(pieces(c.text or ""))
        ]
        for k, call in enumerate(c.tool_calls):
            fn = call["function"]
            head = {
                "index": k,
                "id": call["id"],
                "type": "function",
                "function": {"name": fn["name"], "arguments": ""},
            }
            steps.append((i, {"delta": {"tool_calls": [head]}}, None))
            steps += [
                (i, {"delta": {"tool_calls": [{"index": k, "function": {"arguments": a}}]}}, None)
                for a in fragments(fn["arguments"])
            ]
        steps.append((i, {"delta": {}}, c.finish_reason))
    return steps


def _piece_logprobs(piece: str, position: int, top: int | None) -> dict[str, Any]:
    if top is None:
        return {}
    return {"logprobs": {"content": [_chat_logprob(piece, position, top)], "refusal": None}}


def _stream(
    chat: bool,
    head: dict[str, Any],
    choices: list[_Choice],
    usage: dict[str, int],
    include_usage: bool,
    quirks: bool,
    top: int | None = None,
) -> list[dict[str, Any]]:
    head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}
    quirky = quirks and chat
    events: list[dict[str, Any]] = []
    if quirky:  # Azure-style prompt_filter_results prelude: no choices and no usage key
        events.append(
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            }
        )
    steps, total = _stream_steps(chat, choices, top), usage["completion_tokens"]
    for n, (i, fields, finish) in enumerate(steps):
        done = total if n == len(steps) - 1 else min(total, n)  # quirks: cumulative usage
        events.append(
            {
                **head,
                "choices": [{"index": i, "logprobs": None, **fields, "finish_reason": finish}],
                "usage": _usage(usage["prompt_tokens"], done) if quirky else None,
            }
        )
    return events + ([{**head, "choices": [], "usage": usage}] if include_usage else [])


def _embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    inputs = _as_list(body.get("input"))
    if not inputs or not all(isinstance(x, str) for x in inputs):
        raise StubHTTPError(
            400,
            "'input' must be a string or a non-empty list of strings "
            "(token arrays are not supported).",
        )
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise StubHTTPError(
            400,
            f"'input' has {len(inputs)} items; the maximum batch size is {MAX_EMBEDDING_INPUTS}.",
        )
    dims = _positive_int(body, "dimensions", EMBEDDING_DIM)
    vectors: list[Any] = [_embed(text, dims) for text in inputs]
    if body.get("encoding_format") == "base64":  # little-endian float32, as OpenAI sends
        vectors = [base64.b64encode(struct.pack(f"<{dims}f", *v)).decode() for v in vectors]
    tokens = sum(max(1, _tokens(x)) for x in inputs)
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _embed(text: str, dims: int) -> list[float]:
    """Unit vector from a SHA-256 stream: a prefix of it renormalised is the smaller vector."""
    raw, counter = b"", 0
    while len(raw) < 4 * dims:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [int.from_bytes(raw[4 * i : 4 * i + 4], "big") / 2**31 - 1.0 for i in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


# ----------------------------------------------------------------------------- server
def _openai_route(path: str) -> str | None:
    """OpenAI-style routes under any prefix (``/v1``, Azure deployments, serving-endpoints)."""
    path = path.rstrip("/")
    return next((kind for suffix, kind in _ROUTE_SUFFIXES if path.endswith("/" + suffix)), None)


class OpenAIStubServer:
    """Threaded loopback server; see the module docstring. Use as a context manager."""

    def __init__(self, port: int = 0, *, quirks: bool = False) -> None:
        self._port, self.quirks = port, quirks
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._faults: deque[tuple[int, dict[str, Any] | None, dict[str, str]]] = deque()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OpenAIStubServer:
        if self._httpd is None:
            handler = type("_BoundHandler", (_Handler,), {"stub": self})
            self._httpd = _Server(("127.0.0.1", self._port), handler)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="openai-stub-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
        if httpd is None:
            return
        httpd.shutdown()  # no more accepts; then unblock and join keep-alive handler threads
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> OpenAIStubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def external_model(
        self, name: str = "gpt-4o-mini", task: str = "llm/v1/chat"
    ) -> dict[str, Any]:
        """An ``openai`` external-model block served by this stub."""
        return {
            "name": name,
            "provider": "openai",
            "task": task,
            "openai_config": {
                "openai_api_key_plaintext": "sk-t",
                "openai_api_base": f"{self.base_url}/v1",
            },
        }

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests (any route, before auth) fail with ``status``."""
        with self._lock:
            self._faults.extend((status, body, dict(headers or {})) for _ in range(times))

    def reset(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    def last_json(self) -> Any:
        """The JSON body of the last request received."""
        assert self.requests, "the server received no request"
        return self.requests[-1].json

    def _handle(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(
                RecordedRequest(h.command, url.path, dict(parse_qsl(url.query)), headers, body)
            )
            fault = self._faults.popleft() if self._faults else None
        stable = raw.hex() if body is None else _without_ids(body)
        extra = {"x-request-id": "req_" + digest(h.command, url.path, stable)[:24]}
        query = dict(parse_qsl(url.query))
        wire = next((w for w in wires() if w.route(h.command, url.path, query)), None)
        render_error = wire.error if wire is not None else (lambda e: _dumps(e.body()))
        if fault is not None:
            status, fault_body, fault_headers = fault
            error = StubHTTPError(
                status,
                f"Injected failure ({status}).",
                None,
                "server_error" if status >= 500 else "invalid_request_error",
            )
            payload = _dumps(fault_body) if fault_body else render_error(error)
            h.reply(status, payload, {**extra, **fault_headers})
            return
        try:
            if wire is not None:
                h.reply(200, *self._dispatch_wire(wire, url.path, query, headers, body, extra))
            else:
                h.reply(200, *self._dispatch(h.command, url.path, headers, body, extra))
        except StubHTTPError as err:
            h.reply(err.status, render_error(err), extra)
        except Exception as exc:  # a stub bug: surface it instead of dropping the connection
            error = StubHTTPError(500, f"Stub failure: {exc!r}", None, "server_error")
            h.reply(500, render_error(error), extra)

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: Any, extra: dict[str, str]
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        bearer = headers.get("authorization", "")
        if not (
            (bearer[:7].lower() == "bearer " and bearer[7:].strip())
            or headers.get("api-key", "").strip()
        ):
            raise StubHTTPError(401, "Incorrect API key provided.", "invalid_api_key")
        endpoint = _INVOCATIONS.match(path)
        kind = "invocations" if endpoint else _openai_route(path)
        if kind is None:
            raise StubHTTPError(404, f"Unknown route {path}.", "not_found")
        if method != "POST":
            raise StubHTTPError(405, f"Method {method} not allowed on {path}.")
        if not isinstance(body, dict):
            raise StubHTTPError(400, "Request body must be a JSON object.")
        deployment = endpoint or _AZURE_DEPLOYMENT.search(path)
        model = str(body.get("model") or (deployment.group(1) if deployment else DEFAULT_MODEL))
        if kind == "invocations":  # Databricks: the task is inferred from the body
            kind = next((k for key, k in _INFERRED_TASKS if key in body), "")
            if not kind:
                raise StubHTTPError(400, "Body needs one of 'messages', 'prompt' or 'input'.")
        if kind == "embeddings":
            return _dumps(_embeddings(body, model)), extra
        chat = kind == "chat"
        choices, usage = _chat(body) if chat else _completions(body)
        head = _head(chat, path, body, model)
        logprobs = _asked_logprobs(chat, body)
        if not body.get("stream"):
            return _dumps(_render(chat, head, choices, usage, self.quirks, logprobs)), extra
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        top = logprobs if chat else None
        events = _stream(chat, head, choices, usage, include_usage, self.quirks, top)
        sse = [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
        return sse, {**extra, "content-type": "text/event-stream"}

    def _dispatch_wire(
        self,
        wire: Wire,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        extra: dict[str, str],
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        if not wire.authorized(headers):
            raise StubHTTPError(401, "Invalid credentials.", "authentication_error")
        kind = wire.route("POST", path, query)
        assert kind is not None
        openai_body, stream = wire.to_openai(kind, path, query, body)
        return wire.render(kind, answer(kind, path, openai_body), body, stream)


def _asked_logprobs(chat: bool, body: dict[str, Any]) -> int | None:
    """How many alternatives per token the body asks for, if any: chat takes ``logprobs:
    true`` and ``top_logprobs: k`` (0-20), completions ``logprobs: k``."""
    value = body.get("logprobs")
    if chat:
        if value is not True:
            return None
        top = body.get("top_logprobs") or 0
        if not isinstance(top, int) or not 0 <= top <= 20:
            raise StubHTTPError(400, "'top_logprobs' must be an integer between 0 and 20.")
        return top
    return value if isinstance(value, int) and not isinstance(value, bool) and value else None


def _head(chat: bool, path: str, body: dict[str, Any], model: str) -> dict[str, Any]:
    return {
        "id": ("chatcmpl-" if chat else "cmpl-") + digest(path, _without_ids(body))[:24],
        "object": "",  # placeholder keeps OpenAI's key order; set by _render/_stream
        "created": CREATED,
        "model": model,
    }


def answer(kind: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The complete (non-streamed) OpenAI-format answer to an OpenAI-format ``body``: what a
    :class:`Wire` re-renders in its provider's format. ``kind``: chat, completions, embeddings."""
    model = str(body.get("model") or DEFAULT_MODEL)
    if kind == "embeddings":
        return _embeddings(body, model)
    chat = kind == "chat"
    choices, usage = _chat(body) if chat else _completions(body)
    return _render(chat, _head(chat, path, body, model), choices, usage, quirks=False)


class Wire(Protocol):
    """A provider wire format the stub speaks on top of its OpenAI-format replies.

    Wire modules live in ``tests/support/wires``; each exposes ``WIRE``. The server asks every
    wire whether it owns a request path before falling back to the OpenAI routes.
    """

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        """``"chat"``, ``"completions"`` or ``"embeddings"`` when this wire owns the path."""
        ...

    def authorized(self, headers: dict[str, str]) -> bool:
        """Whether the request carries this provider's kind of credential (any value)."""
        ...

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        """The OpenAI-format body (with ``model``) for a provider request, and whether to
        stream; raises :class:`StubHTTPError` for a request the provider would reject."""
        ...

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        """The provider-format reply (one body, or stream parts) and its headers."""
        ...

    def error(self, error: StubHTTPError) -> bytes:
        """An error body in the provider's format."""
        ...


def wires() -> list[Wire]:
    """Every wire under ``tests/support/wires`` (imported once)."""
    global _WIRES
    if _WIRES is None:
        from tests.support import wires as package

        _WIRES = [
            importlib.import_module(f"{package.__name__}.{info.name}").WIRE
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        ]
    return _WIRES


_WIRES: list[Wire] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; SSE uses chunked transfer encoding
    # Nagle + the client's delayed ACK otherwise add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    timeout = 30  # safety net for idle keep-alive connections
    stub: OpenAIStubServer

    def do_POST(self) -> None:
        self.stub._handle(self)

    do_GET = do_POST

    def version_string(self) -> str:
        return "openai-stub/1.0"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(CREATED, usegmt=True)  # fixed Date header: byte-identical replays

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, payload: bytes | list[bytes], headers: dict[str, str]) -> None:
        headers = {"content-type": "application/json", **headers}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if isinstance(payload, bytes):
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for event in payload:
                self.wfile.write(b"%X\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    """Daemon handler threads, tracked so ``stop()`` can unblock and join every one of them."""

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self._conns: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._track_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._track_lock:
            self._conns.add(request)
            self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def shutdown_request(self, request: Any) -> None:
        with self._track_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Unblock handlers waiting on idle keep-alive sockets, then join them."""
        with self._track_lock:
            conns, workers = list(self._conns), list(self._workers)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(timeout)
