"""The stub server's Cohere wire: v2 chat (``POST /v2/chat``, plain or SSE) and v2 embed
(``POST /v2/embed``); any bearer key is accepted.

Requests are checked as the v2 API checks them (roles, ``text`` / ``thinking`` assistant
content items, ``text`` / ``image_url`` user content items with a data: or web image URL,
``text`` / ``document`` tool content items, no ``n`` / ``logit_bias``, ``tool_choice`` only
``REQUIRED`` / ``NONE``, at most 5 stop sequences, ``input_type`` required and at most 96 texts
per embed call) and turned into OpenAI-format ones for the stub's scripted answers, which are
rendered back in v2's shape: text parts, ``tool_plan`` and ``tool_calls``, usage with
``billed_units`` and ``tokens`` (``tokens`` counts a prompt template the bill leaves out), named
SSE events from ``message-start`` to ``message-end``, and ``{"message": ...}`` errors.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.openai_server import StubHTTPError, digest, fragments, pieces

ROUTES = {"/v2/chat": "chat", "/v2/embed": "embeddings"}
MAX_TEXTS = 96
#: Tokens of the chat template Cohere's model reads but does not bill.
TEMPLATE_TOKENS = 7
#: The ``tool_plan`` of a scripted tool call that came with no text.
PLAN = "I will use a tool."
_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL"}
_CHOICES = {"REQUIRED": "required", "NONE": "none"}
_INPUT_TYPES = frozenset(
    {"search_document", "search_query", "classification", "clustering", "image"}
)
_ASSISTANT_PARTS = frozenset({"text", "thinking"})
# v2 user content items (Cohere's chat docs: image_url takes a base64 data URL or a web URL);
# tool content items (cohere-python ToolContent): no image in a tool result.
_USER_PARTS = frozenset({"text", "image_url"})
_TOOL_PARTS = frozenset({"text", "document"})
_TEXT = frozenset({"text"})
_IMAGE_URLS = ("data:image/", "https://", "http://")
_UNKNOWN_FIELDS = ("n", "logit_bias", "parallel_tool_calls", "stream_options")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _assistant_parts(content: Any) -> None:
    """v2 assistant content items are ``text`` or ``thinking`` (cohere-python's
    ``AssistantMessageV2ContentOneItem``); anything else is refused."""
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _ASSISTANT_PARTS:
            raise StubHTTPError(
                400, f"invalid request: assistant content type {kind!r} is not text or thinking"
            )


def _parts(role: str, content: Any, taken: frozenset[str]) -> None:
    """Refuse ``role`` content items v2 does not take (and image URLs it cannot read)."""
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in taken:
            names = " or ".join(sorted(taken))
            raise StubHTTPError(
                400, f"invalid request: {role} content type {kind!r} is not {names}"
            )
        url = (part.get("image_url") or {}).get("url") if kind == "image_url" else None
        if kind == "image_url" and not str(url or "").startswith(_IMAGE_URLS):
            raise StubHTTPError(400, f"invalid request: image_url.url {url!r} is not an image URL")


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise StubHTTPError(400, "invalid request: messages must not be empty")
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "user"):
            _parts(role, message.get("content"), _USER_PARTS if role == "user" else _TEXT)
            out.append({"role": role, "content": _text(message.get("content"))})
        elif role == "assistant":
            _assistant_parts(message.get("content"))
            converted: dict[str, Any] = {
                "role": "assistant",
                "content": _text(message.get("content")) or message.get("tool_plan") or None,
            }
            if message.get("tool_calls"):
                converted["tool_calls"] = message["tool_calls"]
            out.append(converted)
        elif role == "tool":
            if not message.get("tool_call_id"):
                raise StubHTTPError(400, "invalid request: tool message needs tool_call_id")
            _parts("tool", message.get("content"), _TOOL_PARTS)
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message["tool_call_id"],
                    "content": _text(message.get("content")),
                }
            )
        else:
            raise StubHTTPError(400, f"invalid request: unknown role {role!r}")
    return out


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    for name in _UNKNOWN_FIELDS:
        if name in body:
            raise StubHTTPError(
                400, f"invalid request: unknown field: parameter {name} is not valid"
            )
    stop = body.get("stop_sequences") or []
    if len(stop) > 5:
        raise StubHTTPError(400, "invalid request: stop_sequences can have at most 5 items")
    choice = body.get("tool_choice")
    if choice is not None and choice not in _CHOICES:
        raise StubHTTPError(400, "invalid request: tool_choice must be REQUIRED or NONE")
    out: dict[str, Any] = {"model": body["model"], "messages": _messages(body.get("messages"))}
    if body.get("tools"):
        out["tools"] = body["tools"]
        if choice:
            out["tool_choice"] = _CHOICES[choice]
    for ours, theirs in (("max_tokens", "max_tokens"), ("temperature", "temperature")):
        if body.get(theirs) is not None:
            out[ours] = body[theirs]
    if stop:
        out["stop"] = stop
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        schema = response_format.get("json_schema")
        out["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
            if schema
            else {"type": "json_object"}
        )
    return out


def _usage(usage: dict[str, int]) -> dict[str, Any]:
    billed = {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]}
    tokens = {**billed, "input_tokens": billed["input_tokens"] + TEMPLATE_TOKENS}
    return {"billed_units": billed, "tokens": tokens}


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    if message.get("tool_calls"):
        out["tool_plan"] = message.get("content") or PLAN
        out["tool_calls"] = message["tool_calls"]
    else:
        out["content"] = [{"type": "text", "text": message.get("content") or ""}]
    return out


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _stream(response_id: str, choice: dict[str, Any], usage: dict[str, int]) -> list[bytes]:
    message = choice["message"]
    events: list[dict[str, Any]] = [
        {
            "type": "message-start",
            "id": response_id,
            "delta": {
                "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
            },
        }
    ]
    if message.get("tool_calls"):
        plan = _message(message)["tool_plan"]
        events += [
            {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}
            for piece in pieces(plan)
        ]
        for index, call in enumerate(message["tool_calls"]):
            head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(
                {
                    "type": "tool-call-start",
                    "index": index,
                    "delta": {"message": {"tool_calls": head}},
                }
            )
            events += [
                {
                    "type": "tool-call-delta",
                    "index": index,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": part}}}},
                }
                for part in fragments(call["function"]["arguments"])
            ]
            events.append({"type": "tool-call-end", "index": index})
    else:
        events.append(
            {
                "type": "content-start",
                "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}},
            }
        )
        events += [
            {
                "type": "content-delta",
                "index": 0,
                "delta": {"message": {"content": {"text": piece}}},
            }
            for piece in pieces(message.get("content") or "")
        ]
        events.append({"type": "content-end", "index": 0})
    finish = _FINISH.get(choice["finish_reason"], "COMPLETE")
    events.append(
        {"type": "message-end", "delta": {"finish_reason": finish, "usage": _usage(usage)}}
    )
    return [_event(e) for e in events]


class CohereWire:
    """Speaks Cohere v2 on ``/v2/chat`` and ``/v2/embed`` (see the module docstring)."""

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        return ROUTES.get(path.rstrip("/")) if method == "POST" else None

    def authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer[:7].lower() == "bearer " and bool(bearer[7:].strip())

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(body, dict) or not body.get("model"):
            raise StubHTTPError(400, "invalid request: model must be set")
        if kind == "embeddings":
            return self._embed(body), False
        return _chat(body), bool(body.get("stream"))

    def _embed(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body.get("texts") or []
        if body.get("input_type") not in _INPUT_TYPES:
            raise StubHTTPError(400, "invalid request: valid input_type must be provided")
        if len(texts) > MAX_TEXTS:
            raise StubHTTPError(
                400, f"invalid request: texts must have at most {MAX_TEXTS} items, got {len(texts)}"
            )
        if body.get("embedding_types", ["float"]) != ["float"]:
            raise StubHTTPError(400, "invalid request: this stub embeds as float only")
        # Queries and documents embed differently, as they do on Cohere.
        return {"model": body["model"], "input": [f"{body['input_type']}: {t}" for t in texts]}

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        headers = {"x-debug-trace-id": digest(stable(request))[:32]}
        if kind == "embeddings":
            body = {
                "id": digest("embed", request)[:24],
                "response_type": "embeddings_by_type",
                "embeddings": {"float": [item["embedding"] for item in response["data"]]},
                "texts": request["texts"],
                "meta": {
                    "api_version": {"version": "2"},
                    "billed_units": {"input_tokens": response["usage"]["prompt_tokens"]},
                },
            }
            return _dumps(body), headers
        choice = response["choices"][0]
        response_id = digest("chat", stable(request))[:24]
        if stream:
            return _stream(response_id, choice, response["usage"]), {
                **headers,
                "content-type": "text/event-stream",
            }
        body = {
            "id": response_id,
            "finish_reason": _FINISH.get(choice["finish_reason"], "COMPLETE"),
            "message": _message(choice["message"]),
            "usage": _usage(response["usage"]),
        }
        return _dumps(body), headers

    def error(self, error: StubHTTPError) -> bytes:
        return _dumps({"id": "err-" + digest(error.message)[:12], "message": error.message})


def stable(body: Any) -> Any:
    """``body`` without call ids: LangChain mints new ones each run, and ids hashed from the
    request must not change between recordings."""
    if isinstance(body, list):
        return [stable(item) for item in body]
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in ("id", "tool_call_id")}
    return body


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


WIRE = CohereWire()
