"""Amazon Bedrock runtime for the loopback stub: ``POST /model/{modelId}/invoke`` and
``/invoke-with-response-stream``, answering in the body format of the model family that the
model id's prefix names (``anthropic.``, ``cohere.command-r``, ``cohere.command-text``,
``cohere.embed``, ``ai21.jamba``, ``ai21.j2``, ``amazon.titan-text``, ``amazon.titan-embed``;
a geo prefix such as ``us.`` is skipped).

Streams are ``application/vnd.amazon.eventstream`` frames encoded here by hand (prelude,
string headers, CRC32s from ``zlib``), each carrying ``{"bytes": <base64 model event>, "p":
<padding>}``, the last one with ``amazon-bedrock-invocationMetrics``. Requests must be
SigV4-signed for the service ``bedrock`` (the signature itself is not checked: the stub has no
secret key to check it with). Errors are rest-json ``{"message": ...}``.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from typing import Any
from urllib.parse import unquote

from tests.support.openai_server import StubHTTPError, fragments, pieces, text_of
from tests.support.wires.anthropic import check_media

EVENT_STREAM = "application/vnd.amazon.eventstream"
_PATH = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream)$")
_GEO = re.compile(r"^(us|eu|apac|global|us-gov)\.")
_SIGNED = re.compile(r"^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/[a-z0-9-]+/bedrock/aws4_request, ")
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFG"


# ----------------------------------------------------------------------------- framing


def _header(name: str, value: str) -> bytes:
    raw = value.encode()
    return bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: total/headers length, prelude CRC, headers, payload, CRC."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def chunk_frame(event: dict[str, Any]) -> bytes:
    """A ``chunk`` event carrying one model event, base64-wrapped as Bedrock sends it."""
    data = base64.b64encode(json.dumps(event).encode()).decode()
    payload = json.dumps({"bytes": data, "p": _PADDING[: 1 + len(data) % 30]}).encode()
    headers = {":event-type": "chunk", ":content-type": "application/json"}
    return frame({**headers, ":message-type": "event"}, payload)


def exception_frame(kind: str, message: str, **fields: Any) -> bytes:
    """An exception message (``throttlingException``, ``modelStreamErrorException``...)."""
    headers = {":exception-type": kind, ":content-type": "application/json"}
    payload = json.dumps({"message": message, **fields}).encode()
    return frame({**headers, ":message-type": "exception"}, payload)


def event_stream(events: list[dict[str, Any]], prompt_tokens: int, output_tokens: int) -> bytes:
    """Chunk frames for ``events``, invocation metrics on the last one."""
    return b"".join(_frames(events, prompt_tokens, output_tokens))


def _frames(events: list[dict[str, Any]], prompt_tokens: int, output_tokens: int) -> list[bytes]:
    metrics = {
        "inputTokenCount": prompt_tokens,
        "outputTokenCount": output_tokens,
        "invocationLatency": 100,
        "firstByteLatency": 10,
    }
    *head, last = events
    return [chunk_frame(e) for e in head] + [
        chunk_frame({**last, "amazon-bedrock-invocationMetrics": metrics})
    ]


# ----------------------------------------------------------------------------- families


def family(model: str) -> str:
    """The body family of a model id."""
    model = _GEO.sub("", model)
    for prefix, name in (
        ("anthropic.", "anthropic"),
        ("cohere.command-r", "cohere-chat"),
        ("cohere.command-text", "cohere-generate"),
        ("cohere.command-light-text", "cohere-generate"),
        ("cohere.embed", "cohere-embed"),
        ("ai21.jamba", "jamba"),
        ("ai21.j2", "j2"),
        ("amazon.titan-embed", "titan-embed"),
        ("amazon.titan-text", "titan-text"),
    ):
        if model.startswith(prefix):
            return name
    raise StubHTTPError(404, f"The model {model} is not available through this stub.")


_KINDS = {
    "anthropic": "chat",
    "cohere-chat": "chat",
    "jamba": "chat",
    "cohere-generate": "completions",
    "j2": "completions",
    "titan-text": "completions",
    "cohere-embed": "embeddings",
    "titan-embed": "embeddings",
}


def _require(body: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise StubHTTPError(400, "Malformed input request, please reformat your input.")
    for key in keys:
        if key not in body:
            raise StubHTTPError(400, f"Malformed input request: required key [{key}] not found")
    return body


def _reject(body: dict[str, Any], *keys: str) -> None:
    extra = [k for k in keys if k in body]
    if extra:
        raise StubHTTPError(400, f"Malformed input request: extraneous key [{extra[0]}]")


# -- anthropic Messages <-> OpenAI ----------------------------------------------------------

# Claude on Bedrock reads images and documents inline only: no url source (Bedrock fetches
# nothing on the model's behalf).
_BEDROCK_SOURCES = frozenset({"base64"})


def _anthropic_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        raise StubHTTPError(400, "invalid anthropic_version")
    _reject(body, "model", "stream")
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": text_of(system)})
    for i, message in enumerate(body["messages"]):
        if isinstance(message.get("content"), list):
            check_media(f"messages.{i}", message["content"], _BEDROCK_SOURCES)
        messages += _anthropic_message(message)
    out: dict[str, Any] = {"messages": messages, "max_tokens": body["max_tokens"]}
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if body.get("tools"):
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema") or {"type": "object"},
                },
            }
            for t in body["tools"]
        ]
        choice = body.get("tool_choice") or {"type": "auto"}
        out["tool_choice"] = {
            "any": "required",
            "auto": "auto",
            "none": "none",
            "tool": {"type": "function", "function": {"name": choice.get("name")}},
        }[choice["type"]]
    fmt = (body.get("output_config") or {}).get("format")
    if fmt:
        out["response_format"] = {"type": "json_schema", "json_schema": {"schema": fmt["schema"]}}
    return out


def _anthropic_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    if isinstance(content, str):
        return [{"role": message["role"], "content": content}]
    text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})},
        }
        for b in content
        if b.get("type") == "tool_use"
    ]
    results = [
        {"role": "tool", "tool_call_id": b["tool_use_id"], "content": text_of(b.get("content"))}
        for b in content
        if b.get("type") == "tool_result"
    ]
    out: list[dict[str, Any]] = results
    if text or calls or not results:
        turn: dict[str, Any] = {"role": message["role"], "content": text}
        if calls:
            turn["tool_calls"] = calls
        out = [*results, turn]
    return out


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _anthropic_reply(
    response: dict[str, Any], stream: bool
) -> tuple[list[bytes] | bytes, dict[str, str]]:
    message = response["choices"][0]["message"]
    usage = response["usage"]
    blocks: list[dict[str, Any]] = []
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        fn = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_" + call["id"].removeprefix("call_"),
                "name": fn["name"],
                "input": json.loads(fn["arguments"]),
            }
        )
    stop = _ANTHROPIC_STOP[response["choices"][0]["finish_reason"]]
    ident = "msg_bdrk_" + response["id"].split("-")[-1]
    model = "claude-stub"
    if not stream:
        body = {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
            },
        }
        return json.dumps(body).encode(), {}
    start = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            events.append(
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {"type": "text", "text": ""},
                }
            )
            events += [
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "text_delta", "text": p},
                }
                for p in pieces(block["text"])
            ]
        else:
            head = {**block, "input": {}}
            events.append({"type": "content_block_start", "index": i, "content_block": head})
            events += [
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": f},
                }
                for f in fragments(json.dumps(block["input"]))
            ]
        events.append({"type": "content_block_stop", "index": i})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": usage["completion_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return _frames(events, usage["prompt_tokens"], usage["completion_tokens"]), _stream_headers()


def _stream_headers() -> dict[str, str]:
    return {"content-type": EVENT_STREAM, "x-amzn-bedrock-content-type": "application/json"}


def _token_headers(usage: dict[str, int]) -> dict[str, str]:
    return {
        "x-amzn-bedrock-input-token-count": str(usage["prompt_tokens"]),
        "x-amzn-bedrock-output-token-count": str(usage.get("completion_tokens", 0)),
    }


# -- cohere ----------------------------------------------------------------------------------

_COHERE_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_COHERE_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "COMPLETE"}


def _cohere_chat_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    _reject(body, "model", "stream")
    messages: list[dict[str, Any]] = []
    if body.get("preamble"):
        messages.append({"role": "system", "content": body["preamble"]})
    calls: dict[str, str] = {}
    turns = [*body.get("chat_history", [])]
    if body.get("tool_results"):
        turns.append({"role": "TOOL", "tool_results": body["tool_results"]})
    if body["message"]:
        turns.append({"role": "USER", "message": body["message"]})
    for turn in turns:
        role = turn["role"]
        if role == "TOOL":
            for result in turn["tool_results"]:
                key = json.dumps(result["call"], sort_keys=True)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": calls.get(key, "call_unknown"),
                        "content": json.dumps(result["outputs"]),
                    }
                )
        elif role == "CHATBOT":
            turn_calls = []
            for call in turn.get("tool_calls") or []:
                ident = f"call_{len(calls)}"
                calls[json.dumps(call, sort_keys=True)] = ident
                arguments = json.dumps(call["parameters"])
                turn_calls.append(
                    {
                        "id": ident,
                        "type": "function",
                        "function": {"name": call["name"], "arguments": arguments},
                    }
                )
            item: dict[str, Any] = {"role": "assistant", "content": turn.get("message") or ""}
            messages.append({**item, "tool_calls": turn_calls} if turn_calls else item)
        else:
            messages.append(
                {"role": "system" if role == "SYSTEM" else "user", "content": turn["message"]}
            )
    out: dict[str, Any] = {"messages": messages}
    if "max_tokens" in body:
        out["max_tokens"] = body["max_tokens"]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if body.get("tools"):
        out["tools"] = [_cohere_tool(t) for t in body["tools"]]
    return out


def _cohere_tool(tool: dict[str, Any]) -> dict[str, Any]:
    definitions = tool.get("parameter_definitions") or {}
    schema = {
        "type": "object",
        "properties": {
            name: {
                "type": _COHERE_TYPES.get(d["type"], "string"),
                "description": d.get("description", ""),
            }
            for name, d in definitions.items()
        },
        "required": [name for name, d in definitions.items() if d.get("required")],
    }
    return {"type": "function", "function": {"name": tool["name"], "parameters": schema}}


def _cohere_chat_reply(
    response: dict[str, Any], stream: bool
) -> tuple[list[bytes] | bytes, dict[str, str]]:
    choice = response["choices"][0]
    message, usage = choice["message"], response["usage"]
    generation = response["id"].split("-")[-1]
    calls = [
        {"name": c["function"]["name"], "parameters": json.loads(c["function"]["arguments"])}
        for c in message.get("tool_calls") or []
    ]
    finish = _COHERE_FINISH[choice["finish_reason"]]
    text = message.get("content") or ""
    final = {"response_id": "resp-" + generation, "text": text, "generation_id": generation}
    final["finish_reason"] = finish
    if calls:
        final["tool_calls"] = calls
    if not stream:
        return json.dumps(final).encode(), _token_headers(usage)
    events: list[dict[str, Any]] = [
        {"is_finished": False, "event_type": "stream-start", "generation_id": generation}
    ]
    events += [
        {"is_finished": False, "event_type": "text-generation", "text": p} for p in pieces(text)
    ]
    if calls:
        events.append(
            {"is_finished": False, "event_type": "tool-calls-generation", "tool_calls": calls}
        )
    events.append(
        {
            "is_finished": True,
            "event_type": "stream-end",
            "response": final,
            "finish_reason": finish,
        }
    )
    return _frames(events, usage["prompt_tokens"], usage["completion_tokens"]), _stream_headers()


def _cohere_generate_reply(
    response: dict[str, Any], stream: bool
) -> tuple[list[bytes] | bytes, dict[str, str]]:
    usage = response["usage"]
    choices = response["choices"]
    generation = response["id"].split("-")[-1]
    if not stream:
        body = {
            "id": generation,
            "generations": [
                {
                    "id": f"{generation}-{c['index']}",
                    "text": c["text"],
                    "finish_reason": _COHERE_FINISH[c["finish_reason"]],
                }
                for c in choices
            ],
            "prompt": "",
        }
        return json.dumps(body).encode(), _token_headers(usage)
    many = len(choices) > 1
    events: list[dict[str, Any]] = []
    for c in choices:
        for p in pieces(c["text"]):
            events.append(
                {"text": p, "is_finished": False, **({"index": c["index"]} if many else {})}
            )
    events.append(
        {"is_finished": True, "finish_reason": _COHERE_FINISH[choices[-1]["finish_reason"]]}
    )
    return _frames(events, usage["prompt_tokens"], usage["completion_tokens"]), _stream_headers()


# -- titan -----------------------------------------------------------------------------------

_TITAN_FINISH = {"stop": "FINISH", "length": "LENGTH"}


def _titan_text_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("textGenerationConfig") or {}
    for stop in config.get("stopSequences") or []:
        if stop != "User:" and set(stop) != {"|"}:
            raise StubHTTPError(
                400, "Malformed input request: stopSequences accept only '|' or 'User:'"
            )
    out: dict[str, Any] = {"prompt": body["inputText"]}
    if "maxTokenCount" in config:
        out["max_tokens"] = config["maxTokenCount"]
    if config.get("stopSequences"):
        out["stop"] = config["stopSequences"]
    return out


def _titan_reply(
    response: dict[str, Any], stream: bool
) -> tuple[list[bytes] | bytes, dict[str, str]]:
    usage = response["usage"]
    choice = response["choices"][0]
    reason = _TITAN_FINISH[choice["finish_reason"]]
    if not stream:
        body = {
            "inputTextTokenCount": usage["prompt_tokens"],
            "results": [
                {
                    "tokenCount": usage["completion_tokens"],
                    "outputText": choice["text"],
                    "completionReason": reason,
                }
            ],
        }
        return json.dumps(body).encode(), {}
    parts = pieces(choice["text"]) or [""]
    events = [
        {
            "outputText": p,
            "index": 0,
            "totalOutputTextTokenCount": i + 1,
            "completionReason": reason if i == len(parts) - 1 else None,
            "inputTextTokenCount": usage["prompt_tokens"] if i == 0 else None,
        }
        for i, p in enumerate(parts)
    ]
    return _frames(events, usage["prompt_tokens"], usage["completion_tokens"]), _stream_headers()


# -- ai21 ------------------------------------------------------------------------------------


def _jamba_reply(
    response: dict[str, Any], stream: bool
) -> tuple[list[bytes] | bytes, dict[str, str]]:
    body = {**response, "model": "jamba-stub"}
    body.pop("object", None)
    body.pop("created", None)
    if not stream:
        return json.dumps(body).encode(), {}
    usage = response["usage"]
    events: list[dict[str, Any]] = []
    for choice in response["choices"]:
        i = choice["index"]
        content = choice["message"].get("content") or ""
        events.append({"id": body["id"], "choices": [{"index": i, "delta": {"role": "assistant"}}]})
        events += [
            {
                "id": body["id"],
                "choices": [{"index": i, "delta": {"content": p}, "finish_reason": None}],
            }
            for p in pieces(content)
        ]
        events.append(
            {
                "id": body["id"],
                "choices": [{"index": i, "delta": {}, "finish_reason": choice["finish_reason"]}],
            }
        )
    events[-1]["usage"] = usage
    return _frames(events, usage["prompt_tokens"], usage["completion_tokens"]), _stream_headers()


def _j2_reply(response: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = {
        "id": 1234,
        "prompt": {"text": ""},
        "completions": [
            {
                "data": {"text": c["text"]},
                "finishReason": {
                    "reason": "endoftext" if c["finish_reason"] == "stop" else "length"
                },
            }
            for c in response["choices"]
        ],
    }
    return json.dumps(body).encode(), _token_headers(response["usage"])


# ----------------------------------------------------------------------------- the wire


class BedrockWire:
    """The :class:`tests.support.openai_server.Wire` for the Bedrock runtime."""

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        match = _PATH.match(path)
        if match is None:
            return None
        return _KINDS[family(unquote(match.group(1)))]

    def authorized(self, headers: dict[str, str]) -> bool:
        return bool(_SIGNED.match(headers.get("authorization", ""))) and bool(
            headers.get("x-amz-date")
        )

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        match = _PATH.match(path)
        assert match is not None
        model = unquote(match.group(1))
        stream = match.group(2) == "invoke-with-response-stream"
        name = family(model)
        if name == "j2" and stream:
            raise StubHTTPError(400, "The model does not support streaming.")
        if name == "anthropic":
            out = _anthropic_to_openai(_require(body, "messages", "max_tokens"))
        elif name == "cohere-chat":
            out = _cohere_chat_to_openai(_require(body, "message"))
        elif name == "jamba":
            _reject(_require(body, "messages"), "model", "stream", "tools")
            out = {k: v for k, v in body.items() if k in ("messages", "max_tokens", "stop", "n")}
        elif name == "titan-text":
            out = _titan_text_to_openai(_require(body, "inputText"))
        elif name in ("cohere-generate", "j2"):
            body = _require(body, "prompt")
            out = {"prompt": body["prompt"]}
            for ours, theirs in (
                ("max_tokens", "max_tokens"),
                ("maxTokens", "max_tokens"),
                ("num_generations", "n"),
                ("numResults", "n"),
                ("stop_sequences", "stop"),
                ("stopSequences", "stop"),
            ):
                if ours in body:
                    out[theirs] = body[ours]
            if name == "cohere-generate" and stream != bool(body.get("stream")):
                raise StubHTTPError(400, "stream must be true exactly when streaming")
        elif name == "titan-embed":
            text = _require(body, "inputText")["inputText"]
            if not isinstance(text, str):
                raise StubHTTPError(400, "Malformed input request: inputText must be a string")
            out = {"input": [text]}
        else:
            body = _require(body, "texts", "input_type")
            if len(body["texts"]) > 96:
                raise StubHTTPError(400, "Malformed input request: texts has more than 96 items")
            out = {"input": body["texts"]}
        return {**out, "model": model}, stream

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        name = family(response["model"])
        if name == "anthropic":
            return _anthropic_reply(response, stream)
        if name == "cohere-chat":
            return _cohere_chat_reply(response, stream)
        if name == "cohere-generate":
            return _cohere_generate_reply(response, stream)
        if name == "titan-text":
            return _titan_reply(response, stream)
        if name == "jamba":
            return _jamba_reply(response, stream)
        if name == "j2":
            return _j2_reply(response)
        usage = response["usage"]
        vectors = [item["embedding"] for item in response["data"]]
        if name == "titan-embed":
            body: dict[str, Any] = {
                "embedding": vectors[0],
                "inputTextTokenCount": usage["prompt_tokens"],
            }
            return json.dumps(body).encode(), {}
        body = {
            "id": "emb-" + str(len(vectors)),
            "embeddings": vectors,
            "response_type": "embeddings_floats",
            "texts": request["texts"],
        }
        return json.dumps(body).encode(), _token_headers(usage)

    def error(self, error: StubHTTPError) -> bytes:
        return json.dumps({"message": error.message}).encode()


WIRE = BedrockWire()
