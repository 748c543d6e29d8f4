"""The Anthropic Messages wire for the loopback stub: ``POST /v1/messages``.

Requests are checked the way the API checks them where our adapter could get it wrong (required
``model`` / ``max_tokens``, unknown top-level fields, roles that do not alternate, empty text
blocks, ``tool_use`` blocks not answered by ``tool_result`` blocks first in the next user turn,
image and document blocks whose source the API does not take: :func:`check_media`), then
translated to an OpenAI body for the stub's scripted answer. With ``thinking`` enabled the
answer starts with a signed ``thinking`` block (``signature_delta`` when streamed), and an
assistant turn with tool calls sent back must start with that block, signature intact, as the
API requires. ``cache_control`` anywhere in the request reports cache reads and writes in
usage. Answers are rendered as a ``message`` or as the named-event stream
(``message_start``, ``ping``, ``content_block_*``, ``message_delta``, ``message_stop``) with
the shapes of anthropic-sdk-python ``types/``; errors as
``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.openai_server import StubHTTPError, digest, fragments, pieces, text_of

PATH = "/v1/messages"
_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "output_config",
        "service_tier",
    }
)
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
# Sources each media block takes, with the media types a base64 source may declare
# (anthropic-sdk-python types: Base64ImageSourceParam, Base64PDFSourceParam, PlainTextSourceParam,
# ContentBlockSourceParam, URL*SourceParam); None: no media_type to check.
_SOURCES: dict[str, dict[str, frozenset[str] | None]] = {
    "image": {
        "base64": frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        "url": None,
    },
    "document": {
        "base64": frozenset({"application/pdf"}),
        "text": frozenset({"text/plain"}),
        "content": None,
        "url": None,
    },
}
# What a tool_result's content list may hold (ToolResultBlockParam.Content).
_TOOL_RESULT_BLOCKS = frozenset({"text", "image", "document", "search_result", "tool_reference"})


def _bad(message: str) -> StubHTTPError:
    return StubHTTPError(400, message)


class AnthropicWire:
    """See the module docstring."""

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        return "chat" if method == "POST" and path.rstrip("/") == PATH else None

    def authorized(self, headers: dict[str, str]) -> bool:
        return bool(headers.get("x-api-key", "").strip())

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object.")
        extra = sorted(set(body) - _FIELDS)
        if extra:
            raise _bad(f"{extra[0]}: Extra inputs are not permitted")
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                raise _bad(f"{name}: Field required")
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            raise _bad("max_tokens: Input should be a positive integer")
        if _thinking(body):
            _check_thinking(body)
        out: dict[str, Any] = {
            "model": body["model"],
            "max_tokens": body["max_tokens"],
            "messages": _system(body.get("system")) + _messages(body["messages"]),
        }
        if body.get("stop_sequences"):
            out["stop"] = body["stop_sequences"]
        if body.get("temperature") is not None:
            out["temperature"] = body["temperature"]
        if body.get("tools"):
            out["tools"] = [_tool(t) for t in body["tools"]]
            if body.get("tool_choice"):
                out["tool_choice"] = _tool_choice(body["tool_choice"])
        output_format = (body.get("output_config") or {}).get("format")
        if output_format:
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": output_format["schema"]},
            }
        return out, body.get("stream") is True

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        message = _message(response)
        if _thinking(request):
            message["content"].insert(0, _thought(request))
        if "cache_control" in json.dumps(request):
            usage = message["usage"]
            total = usage["input_tokens"]
            usage["cache_read_input_tokens"] = total // 2
            usage["cache_creation_input_tokens"] = total - total // 2 - 1
            usage["input_tokens"] = 1
        headers = {"request-id": "req_" + digest("anthropic", response["id"])[:24]}
        if not stream:
            return _dumps(message), {**headers, "content-type": "application/json"}
        events = [_event(e) for e in _stream(message)]
        return events, {**headers, "content-type": "text/event-stream"}

    def error(self, error: StubHTTPError) -> bytes:
        kind = _ERROR_TYPES.get(error.status)
        if kind is None:
            kind = "api_error" if error.status >= 500 else "invalid_request_error"
        return _dumps({"type": "error", "error": {"type": kind, "message": error.message}})


# -- request -------------------------------------------------------------------------------------


THOUGHT = "The user asked something; answer plainly."


def _thinking(body: Any) -> bool:
    return isinstance(body, dict) and (body.get("thinking") or {}).get("type") == "enabled"


def signature(text: str) -> str:
    """The stub's signature of a thinking block: the API checks it on the way back."""
    return "sig_" + digest("anthropic-thinking", text)[:32]


def _thought(request: dict[str, Any]) -> dict[str, Any]:
    text = f"{THOUGHT} ({len(request['messages'])} turns so far)"
    return {"type": "thinking", "thinking": text, "signature": signature(text)}


def _check_thinking(body: dict[str, Any]) -> None:
    budget = body["thinking"].get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise _bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if budget >= body["max_tokens"]:
        raise _bad("`max_tokens` must be greater than `thinking.budget_tokens`")
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if block.get("type") == "thinking":
                extra = sorted(set(block) - {"type", "thinking", "signature"})
                if extra:
                    raise _bad(
                        f"messages.{i}.content.{j}.{extra[0]}: Extra inputs are not permitted"
                    )
                if block.get("signature") != signature(block.get("thinking") or ""):
                    raise _bad(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
        uses_tools = any(b.get("type") == "tool_use" for b in content)
        if uses_tools and content[0].get("type") not in ("thinking", "redacted_thinking"):
            raise _bad(
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
                f"found `{content[0].get('type')}`. When `thinking` is enabled, a final "
                "`assistant` message must start with a thinking block"
            )


def _system(system: Any) -> list[dict[str, Any]]:
    if system is None:
        return []
    text = system if isinstance(system, str) else text_of(system)
    return [{"role": "system", "content": text}]


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise _bad("messages: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise _bad("messages: content must be a non-empty string or list of blocks")
    for block in content:
        if block.get("type") == "text" and not block.get("text", "").strip():
            raise _bad("messages: text content blocks must be non-empty")
    return content


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: at least one message is required")
    out: list[dict[str, Any]] = []
    pending: list[str] = []  # tool_use ids the next user turn must answer first
    previous = None
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if role == previous:
            raise _bad(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
        previous = role
        blocks = _blocks(message.get("content"))
        check_media(f"messages.{i}", blocks)
        if role == "user":
            out += _user(i, blocks, pending)
            pending = []
        else:
            converted, pending = _assistant(blocks)
            out.append(converted)
    return out


def check_media(
    where: str, blocks: list[dict[str, Any]], sources: frozenset[str] | None = None
) -> None:
    """Refuse image and document blocks (in a turn, or in its tool results) whose source the
    Messages API does not take; ``sources`` narrows the source types taken (Bedrock: base64)."""
    for j, block in enumerate(blocks):
        kind = block.get("type")
        at = f"{where}.content.{j}"
        if kind == "tool_result" and isinstance(block.get("content"), list):
            inner = block["content"]
            if odd := [b.get("type") for b in inner if b.get("type") not in _TOOL_RESULT_BLOCKS]:
                raise _bad(f"{at}.tool_result.content: unexpected block type {odd[0]!r}")
            check_media(f"{at}.tool_result", inner, sources)
        elif kind in _SOURCES:
            _check_source(f"{at}.{kind}.source", _SOURCES[kind], block.get("source"), sources)


def _check_source(
    at: str,
    taken: dict[str, frozenset[str] | None],
    source: Any,
    narrowed: frozenset[str] | None,
) -> None:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in taken or (narrowed is not None and kind not in narrowed):
        raise _bad(f"{at}: source type {kind!r} is not supported here")
    media_types = taken[kind]
    if media_types is not None and source.get("media_type") not in media_types:
        expected = ", ".join(sorted(media_types))
        raise _bad(f"{at}.{kind}.media_type: Input should be one of {expected}")
    needed = {"base64": "data", "text": "data", "url": "url", "content": "content"}[kind]
    if not source.get(needed):
        raise _bad(f"{at}.{kind}.{needed}: Field required")


def _user(i: int, blocks: list[dict[str, Any]], pending: list[str]) -> list[dict[str, Any]]:
    leading = 0
    while leading < len(blocks) and blocks[leading].get("type") == "tool_result":
        leading += 1
    results, rest = blocks[:leading], blocks[leading:]
    answered = [b.get("tool_use_id") for b in results]
    if missing := [p for p in pending if p not in answered]:
        raise _bad(
            f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(missing)}"
        )
    if unknown := [a for a in answered if a not in pending]:
        raise _bad(
            f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: {unknown}"
        )
    if any(b.get("type") == "tool_result" for b in rest):
        raise _bad(f"messages.{i}: `tool_result` blocks must come before any other content")
    out = [
        {"role": "tool", "tool_call_id": b["tool_use_id"], "content": text_of(b.get("content"))}
        for b in results
    ]
    if rest:
        out.append({"role": "user", "content": text_of(rest)})
    return out


def _assistant(blocks: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    text = text_of([b for b in blocks if b.get("type") == "text"])
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message, [c["id"] for c in calls]


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if "input_schema" not in tool:
        raise _bad("tools.0.input_schema: Field required")
    function = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: dict[str, Any]) -> Any:
    if choice.get("type") == "tool":
        return {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("type") not in _TOOL_CHOICES:
        raise _bad(f"tool_choice.type: unknown value {choice.get('type')!r}")
    return _TOOL_CHOICES[choice["type"]]


# -- response ------------------------------------------------------------------------------------


def _message(response: dict[str, Any]) -> dict[str, Any]:
    choice = response["choices"][0]
    text = choice["message"].get("content")
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in choice["message"].get("tool_calls") or []:
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_" + call["id"].removeprefix("call_"),
                "name": call["function"]["name"],
                "input": json.loads(call["function"]["arguments"]),
            }
        )
    usage = response["usage"]
    return {
        "id": "msg_" + response["id"].rsplit("-", 1)[-1],
        "type": "message",
        "role": "assistant",
        "model": response["model"],
        "content": content,
        "stop_reason": _STOP_REASONS[choice["finish_reason"]],
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": usage["completion_tokens"],
        },
    }


def _stream(message: dict[str, Any]) -> list[dict[str, Any]]:
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "ping"},
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in pieces(block["text"])]
        elif block["type"] == "thinking":
            opened = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": piece} for piece in pieces(block["thinking"])
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            opened = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [
                {"type": "input_json_delta", "partial_json": f} for f in fragments(arguments)
            ]
        events.append({"type": "content_block_start", "index": index, "content_block": opened})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return events


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _event(data: dict[str, Any]) -> bytes:
    return b"event: " + data["type"].encode() + b"\ndata: " + _dumps(data) + b"\n\n"


WIRE = AnthropicWire()
