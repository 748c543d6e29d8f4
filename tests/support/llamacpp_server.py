"""The loopback stub with the four behaviours of llama.cpp's OpenAI-compatible server
(llama-cpp-python 0.3, the demo's) that a new user hit, on top of the plain OpenAI wire:

* a streamed tool call repeats its ``id`` and ``function.name`` in every delta;
* tools without a ``tool_choice`` are ignored (it reads a missing one as "none", where OpenAI
  reads "auto");
* a stream with tools and ``tool_choice`` "auto" is answered HTTP 200 with no event;
* a completions request with a list of prompts is answered with an empty HTTP 500;
* with ``pooling="none"``, each input's ``embedding`` is a list of per-token vectors.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.openai_server import OpenAIStubServer, StubHTTPError


class LlamaCppStubServer(OpenAIStubServer):
    """:class:`OpenAIStubServer` answering as llama.cpp's server does (see the module)."""

    def __init__(self, *, pooling: str = "mean") -> None:
        super().__init__()
        self.pooling = pooling

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: Any, extra: dict[str, str]
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        body = body if isinstance(body, dict) else {}
        if path.endswith("/completions") and not path.endswith("chat/completions"):
            prompt = body.get("prompt")
            if isinstance(prompt, list) and len(prompt) > 1:
                raise _EmptyServerError()
        if body.get("tools") and "tool_choice" not in body:
            body = {k: v for k, v in body.items() if k != "tools"}
        auto_tools = body.get("tools") and body.get("tool_choice") == "auto"
        if path.endswith("chat/completions") and body.get("stream") and auto_tools:
            return [], {**extra, "content-type": "text/event-stream"}
        payload, out = super()._dispatch(method, path, headers, body, extra)
        if isinstance(payload, list):
            return [_repeat_tool_heads(event) for event in _with_heads(payload)], out
        if path.endswith("/embeddings") and self.pooling == "none":
            return _per_token(payload), out
        return payload, out


class _EmptyServerError(StubHTTPError):
    def __init__(self) -> None:
        super().__init__(500, "")

    def body(self) -> dict[str, Any]:
        return {}


def _with_heads(events: list[bytes]) -> list[tuple[bytes, dict[int, dict[str, Any]]]]:
    """Each event with the id and name of every tool call started so far."""
    heads: dict[int, dict[str, Any]] = {}
    out = []
    for raw in events:
        for call in _calls(raw):
            if call.get("id"):
                heads[call["index"]] = {"id": call["id"], "name": call["function"]["name"]}
        out.append((raw, dict(heads)))
    return out


def _calls(raw: bytes) -> list[dict[str, Any]]:
    data = raw.removeprefix(b"data: ").strip()
    if data == b"[DONE]":
        return []
    choices = json.loads(data).get("choices") or [{}]
    return list((choices[0].get("delta") or {}).get("tool_calls") or [])


def _repeat_tool_heads(item: tuple[bytes, dict[int, dict[str, Any]]]) -> bytes:
    raw, heads = item
    data = raw.removeprefix(b"data: ").strip()
    if data == b"[DONE]" or not _calls(raw):
        return raw
    event = json.loads(data)
    for call in event["choices"][0]["delta"]["tool_calls"]:
        head = heads[call["index"]]
        call["id"] = head["id"]
        call.setdefault("type", "function")
        call["function"]["name"] = head["name"]
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _per_token(payload: bytes | list[bytes]) -> bytes:
    assert isinstance(payload, bytes)
    data = json.loads(payload)
    for item in data["data"]:
        item["embedding"] = [item["embedding"], item["embedding"]]
    return json.dumps(data).encode()
