"""The stub server's AI21 Labs wire, on paths under ``/studio/v1/`` (claimed here before the
OpenAI fallback, which would otherwise take any path ending in ``chat/completions``):

* ``POST /studio/v1/chat/completions``: Jamba chat, OpenAI-shaped but without ``model`` /
  ``object`` / ``created`` in replies; string content only; no ``tool_choice``,
  ``parallel_tool_calls``, ``logit_bias`` or ``stream_options``; streams end with usage on the
  last chunk and ``data: [DONE]``.
* ``POST /studio/v1/{model}/complete``: Jurassic-2, camelCase fields, no streaming; replies carry
  token lists for the prompt and each completion and ``finishReason`` objects.

Any bearer key is accepted; errors are FastAPI-style ``{"detail": ...}`` bodies.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.openai_server import StubHTTPError, digest, pieces

PREFIX = "/studio/v1/"
_CHAT_REJECTED = ("tool_choice", "parallel_tool_calls", "logit_bias", "stream_options", "top_k")
_J2_FIELDS = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "stopSequences": "stop",
    "numResults": "n",
}
_J2_KNOWN = frozenset(
    {"prompt", "topP", "minTokens", "frequencyPenalty", "presencePenalty", "countPenalty"}
    | set(_J2_FIELDS)
)


def _invalid(field: str, message: str) -> StubHTTPError:
    return StubHTTPError(422, json.dumps([{"loc": ["body", field], "msg": message}]))


def _chat(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    for name in _CHAT_REJECTED:
        if name in body:
            raise _invalid(name, "extra fields not permitted")
    for message in body.get("messages") or []:
        if not isinstance(message.get("content"), str | None):
            raise _invalid("messages", "content: str type expected")
    stream = bool(body.get("stream"))
    if stream and (body.get("n") or 1) > 1:
        raise _invalid("n", "n must be 1 when stream is true")
    return {k: v for k, v in body.items() if k != "stream"}, stream


def _j2(model: str, body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - _J2_KNOWN)
    if unknown:
        raise _invalid(unknown[0], "extra fields not permitted")
    if not isinstance(body.get("prompt"), str):
        raise _invalid("prompt", "str type expected")
    out = {"model": model, "prompt": body["prompt"]}
    out.update({ours: body[theirs] for theirs, ours in _J2_FIELDS.items() if theirs in body})
    return out


def _tokens(text: str) -> list[dict[str, Any]]:
    return [{"generatedToken": {"token": "▁" + w.strip(), "logprob": -0.5}} for w in pieces(text)]


def _chat_chunks(response: dict[str, Any]) -> list[bytes]:
    head = {"id": response["id"]}
    events: list[dict[str, Any]] = []
    choices = response["choices"]
    for n, choice in enumerate(choices):
        message, index = choice["message"], choice["index"]
        steps: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        steps += [{"content": piece} for piece in pieces(message.get("content") or "")]
        steps += [
            {"tool_calls": [{"index": k, **c}]}
            for k, c in enumerate(message.get("tool_calls") or [])
        ]
        for delta in steps:
            events.append(
                {
                    **head,
                    "choices": [
                        {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
                    ],
                    "usage": None,
                }
            )
        last = n == len(choices) - 1
        events.append(
            {
                **head,
                "choices": [
                    {
                        "index": index,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": choice["finish_reason"],
                    }
                ],
                "usage": response["usage"] if last else None,
            }
        )
    return [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


class Ai21LabsWire:
    """Speaks AI21 Studio on ``/studio/v1/`` paths (see the module docstring)."""

    def route(self, method: str, path: str, query: dict[str, str]) -> str | None:
        if method != "POST" or not path.startswith(PREFIX):
            return None
        rest = path[len(PREFIX) :].rstrip("/")
        if rest == "chat/completions":
            return "chat"
        model, _, action = rest.partition("/")
        return "completions" if model and action == "complete" else None

    def authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer[:7].lower() == "bearer " and bool(bearer[7:].strip())

    def to_openai(
        self, kind: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(body, dict):
            raise _invalid("body", "value is not a valid dict")
        if kind == "chat":
            return _chat(body)
        return _j2(path[len(PREFIX) :].split("/")[0], body), False

    def render(
        self, kind: str, response: dict[str, Any], request: Any, stream: bool
    ) -> tuple[bytes | list[bytes], dict[str, str]]:
        if kind == "chat":
            response = {k: response[k] for k in ("id", "choices", "usage")}
            if stream:
                return _chat_chunks(response), {"content-type": "text/event-stream"}
            return _dumps(response), {}
        completions = [
            {
                "data": {"text": c["text"], "tokens": _tokens(c["text"])},
                "finishReason": (
                    {"reason": "length", "length": request.get("maxTokens")}
                    if c["finish_reason"] == "length"
                    else {"reason": "endoftext"}
                ),
            }
            for c in response["choices"]
        ]
        body = {
            "id": digest("j2", request),
            "prompt": {"text": request["prompt"], "tokens": _tokens(request["prompt"])},
            "completions": completions,
        }
        return _dumps(body), {}

    def error(self, error: StubHTTPError) -> bytes:
        try:
            detail: Any = json.loads(error.message)
        except ValueError:
            detail = error.message
        return _dumps({"detail": detail})


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


WIRE = Ai21LabsWire()
