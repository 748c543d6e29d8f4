"""``ai_gateway`` on the request path: guardrails on request and answer texts, and the payloads
an inference-table row keeps.

A guardrail hit is answered as a workspace answers one: 400 ``BAD_REQUEST`` with a message that
names the side (input / output) and the rule that matched (the keyword, or the PII kinds, never
the PII itself). ``MASK`` rewrites the texts in a copy of the body, so the provider receives the
masked request and the client the masked answer; everything else in the body is left as sent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import MutableMapping, MutableSequence, Sequence
from typing import Any

from extmodels_integrations._types import CHAT, COMPLETIONS
from extmodels_integrations.gateway._errors import GatewayError
from extmodels_integrations.gateway._guardrails import GuardrailResult, Guardrails
from extmodels_integrations.gateway._pii import mask_pii
from extmodels_integrations.gateway._usage import REDACTED, redact_payload

__all__ = [
    "assemble",
    "guard_answer",
    "guard_chunks",
    "guard_request",
    "refused_request",
    "stored_payload",
]

GUARDRAIL = "guardrail"
# A place a text lives in a JSON body: (the dict or list holding it, its key or index).
_Slot = tuple[Any, Any]


def _refusal(side: str, result: GuardrailResult) -> GatewayError:
    what = "Request" if side == "input" else "Response"
    return GatewayError(
        400,
        "BAD_REQUEST",
        f"{what} blocked by the {side} guardrail: {result.reason}",
        error_type=GUARDRAIL,
    )


def _apply(slots: Sequence[_Slot], result: GuardrailResult, side: str) -> None:
    if result.blocked:
        raise _refusal(side, result)
    for (holder, key), text in zip(slots, result.texts, strict=True):
        holder[key] = text


def _strings(holder: MutableMapping[str, Any], key: str) -> list[_Slot]:
    """The string at ``holder[key]``, or each string of the list there."""
    value = holder.get(key)
    if isinstance(value, str):
        return [(holder, key)]
    if isinstance(value, MutableSequence):
        return [(value, i) for i, v in enumerate(value) if isinstance(v, str)]
    return []


def _request_slots(task: str, body: dict[str, Any]) -> list[_Slot]:
    if task == CHAT:
        slots: list[_Slot] = []
        for message in body.get("messages") or []:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                slots.append((message, "content"))
            elif isinstance(content, list):  # content parts: only the text ones carry text
                slots += [
                    (part, "text")
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                ]
        return slots
    return _strings(body, "prompt" if task == COMPLETIONS else "input")


def guard_request(guardrails: Guardrails, task: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body the provider receives (masked where ``MASK``), or the 400 of a block."""
    masked = copy.deepcopy(body)
    slots = _request_slots(task, masked)
    _apply(slots, guardrails.check_input([h[k] for h, k in slots]), "input")
    return masked


def refused_request(guardrails: Guardrails, task: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the inference table keeps of a request the input guardrail blocked: with PII masked
    when the endpoint guards PII, so the table does not become the copy the guardrail refused."""
    if not guardrails.input_pii:
        return body
    masked = copy.deepcopy(body)
    for holder, key in _request_slots(task, masked):
        holder[key] = mask_pii(holder[key])[0]
    return masked


def guard_answer(guardrails: Guardrails, answer: dict[str, Any]) -> dict[str, Any]:
    """A chat or completions answer as the client receives it, or the 400 of a block."""
    masked = copy.deepcopy(answer)
    slots: list[_Slot] = []
    for choice in masked.get("choices") or []:
        message = choice.get("message")
        slots += _strings(message, "content") if isinstance(message, dict) else []
        slots += _strings(choice, "text")
    _apply(slots, guardrails.check_output([h[k] for h, k in slots]), "output")
    return masked


def _pieces(chunks: list[dict[str, Any]]) -> dict[int, list[_Slot]]:
    """Per choice index, the slots of its streamed text, in stream order."""
    pieces: dict[int, list[_Slot]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta")
            holder, key = (delta, "content") if isinstance(delta, dict) else (choice, "text")
            if isinstance(holder.get(key), str):
                pieces.setdefault(int(choice.get("index", 0)), []).append((holder, key))
    return pieces


def guard_chunks(guardrails: Guardrails, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A buffered stream's chunks checked as whole answers (one text per choice), or the 400 of
    a block. A masked answer goes out in the choice's first text chunk; its later text chunks
    are emptied (their role, tool calls, finish reason and usage stay)."""
    pieces = _pieces(chunks)
    indexes = sorted(pieces)
    texts = ["".join(h[k] for h, k in pieces[i]) for i in indexes]
    result = guardrails.check_output(texts)
    if result.blocked:
        raise _refusal("output", result)
    for index, before, after in zip(indexes, texts, result.texts, strict=True):
        if after == before:
            continue
        (first, key), *rest = pieces[index]
        first[key] = after
        for holder, later in rest:
            holder[later] = ""
    return chunks


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One answer from a stream's chunks, as the plain response would have been (for the
    inference table): text and tool calls joined per choice, the last finish reason and usage."""
    if not chunks:
        return None
    choices: dict[int, dict[str, Any]] = {}
    calls: dict[tuple[int, int], dict[str, Any]] = {}
    usage = None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            index = int(choice.get("index", 0))
            _merge(choices.setdefault(index, {}), choice, calls, index)
    for (index, _), call in sorted(calls.items()):
        choices[index]["message"].setdefault("tool_calls", []).append(call)
    head = chunks[0]
    chat = head.get("object") == "chat.completion.chunk"
    return {
        "id": head.get("id", ""),
        "object": "chat.completion" if chat else "text_completion",
        "model": head.get("model"),
        "choices": [{"index": i, **choices[i]} for i in sorted(choices)],
        "usage": usage,
    }


def _merge(
    into: dict[str, Any],
    choice: dict[str, Any],
    calls: dict[tuple[int, int], dict[str, Any]],
    index: int,
) -> None:
    if choice.get("finish_reason") is not None:
        into["finish_reason"] = choice["finish_reason"]
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        into["text"] = into.get("text", "") + (choice.get("text") or "")
        return
    message = into.setdefault("message", {"role": "assistant", "content": ""})
    message["role"] = delta.get("role") or message["role"]
    message["content"] += delta.get("content") or ""
    for call in delta.get("tool_calls") or []:
        slot = calls.setdefault(
            (index, int(call.get("index", 0))), {"type": "function", "function": {}}
        )
        if call.get("id"):
            slot["id"] = call["id"]
        for field, value in (call.get("function") or {}).items():
            slot["function"][field] = slot["function"].get(field, "") + (value or "")


def stored_payload(value: dict[str, Any] | None, token: str) -> dict[str, Any] | None:
    """``value`` as an inference row stores it: credentials redacted by key and shape, and the
    caller's own gateway token removed wherever it was pasted (it has no shape to match)."""
    if value is None:
        return None
    redacted = redact_payload(value)
    if not token:
        return dict(redacted)
    text = json.dumps(redacted, ensure_ascii=False)
    if token not in text:
        return dict(redacted)
    return dict(json.loads(text.replace(json.dumps(token)[1:-1], REDACTED)))
