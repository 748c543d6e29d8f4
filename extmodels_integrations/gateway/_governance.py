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
    # Worded as a workspace words a blocked request ("Request blocked by input guardrail
    # '<name>'", databricks/ucode#66); the ai_gateway block's guardrails have no names, so the
    # reason that fired stands in for one.
    what = "Request" if side == "input" else "Response"
    return GatewayError(
        400,
        "BAD_REQUEST",
        f"{what} blocked by {side} guardrail: {result.reason}",
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


def _unscored(choice: dict[str, Any]) -> None:
    """Drop the log probabilities of a choice whose text was masked: their tokens spell out the
    text the mask took out, and they do not describe the masked one."""
    if choice.get("logprobs") is not None:
        choice["logprobs"] = None


def guard_answer(guardrails: Guardrails, answer: dict[str, Any]) -> dict[str, Any]:
    """A chat or completions answer as the client receives it, or the 400 of a block; a masked
    choice loses its ``logprobs`` (see :func:`_unscored`)."""
    masked = copy.deepcopy(answer)
    slots: list[_Slot] = []
    owners: list[dict[str, Any]] = []
    for choice in masked.get("choices") or []:
        message = choice.get("message")
        found = _strings(message, "content") if isinstance(message, dict) else []
        found += _strings(choice, "text")
        slots += found
        owners += [choice] * len(found)
    result = guardrails.check_output([h[k] for h, k in slots])
    if result.blocked:
        raise _refusal("output", result)
    for (holder, key), owner, text in zip(slots, owners, result.texts, strict=True):
        if holder[key] != text:
            holder[key] = text
            _unscored(owner)
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
    are emptied (their role, tool calls, finish reason and usage stay) and its chunks lose their
    ``logprobs``, as :func:`guard_answer` does."""
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
        for chunk in chunks:
            for choice in chunk.get("choices") or []:
                if int(choice.get("index", 0)) == index:
                    _unscored(choice)
    return chunks


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One answer from a stream's chunks, as the plain response would have been (for the
    inference table): text, tool calls and ``logprobs`` entries joined per choice, the last
    finish reason and usage."""
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
    if "logprobs" in choice:
        into["logprobs"] = _joined_logprobs(into.get("logprobs"), choice["logprobs"])
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
        if call.get("extra_content"):
            slot["extra_content"] = call["extra_content"]  # a call's signature comes whole
        for field, value in (call.get("function") or {}).items():
            slot["function"][field] = slot["function"].get(field, "") + (value or "")


def _joined_logprobs(into: dict[str, Any] | None, delta: Any) -> dict[str, Any] | None:
    """A choice's chat ``logprobs`` so far with a chunk's: each list (``content``,
    ``refusal``) continued, in stream order."""
    if not isinstance(delta, dict):
        return into
    joined: dict[str, Any] = {} if into is None else into  # ours: built here from copies
    for key, value in delta.items():
        kept = joined.get(key)
        if isinstance(value, list):
            # Extended in place: a long answer's stream has one entry per token.
            if isinstance(kept, list):
                kept.extend(value)
            else:
                joined[key] = list(value)
        elif kept is None:
            joined[key] = value
    return joined


def stored_payload(value: dict[str, Any] | None, token: str) -> dict[str, Any] | None:
    """``value`` as an inference row stores it: credentials redacted by key and shape, and the
    caller's own gateway token removed wherever it was pasted (it has no shape to match). An
    answer's choice whose text lost something loses its ``logprobs`` too: split into tokens
    (and their ``bytes``), the credential would still be there."""
    if value is None:
        return None
    redacted: dict[str, Any] = dict(redact_payload(value))
    text = json.dumps(redacted, ensure_ascii=False) if token else ""
    if token and token in text:
        redacted = json.loads(text.replace(json.dumps(token)[1:-1], REDACTED))
    kept = zip(value.get("choices") or [], redacted.get("choices") or [], strict=False)
    for before, after in kept:
        if isinstance(after, dict) and _choice_text(after) != _choice_text(before):
            _unscored(after)
    return redacted


def _choice_text(choice: Any) -> Any:
    message = choice.get("message") if isinstance(choice, dict) else None
    if isinstance(message, dict):
        return message.get("content")
    return choice.get("text") if isinstance(choice, dict) else None
