"""v2 chat request bodies from the unified types: messages, tools and ``tool_choice``,
``response_format``, sampling and extra params; completions as a chat with one user turn."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import UnsupportedParameterError
from extmodels_integrations._types import ChatRequest, CompletionRequest, Message
from extmodels_integrations.providers._base import provider_params
from extmodels_integrations.providers._reasoning import TOKEN_BUDGETS, split_effort
from extmodels_integrations.providers.cohere._errors import PROVIDER

_CHAT_RENAMED = {"top_k": "k", "top_p": "p"}
_CHAT_REJECTED = {
    "logit_bias": "the v2 chat API has no logit_bias; remove it",
    "n": "the v2 chat API returns one generation per call; call it n times",
    "top_logprobs": "the v2 chat API only takes logprobs=true; remove top_logprobs",
}

# Reasoning part types of an assistant turn, with the field that holds their text.
_REASONING_PARTS: dict[str, str | None] = {
    "reasoning": "reasoning",
    "thinking": "thinking",
    "redacted_thinking": None,
}


def _text(content: Any) -> str:
    """The text of an OpenAI-style ``content``: a string or a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(part.get("text") or "")
        else:
            raise UnsupportedParameterError(
                PROVIDER,
                f"content part '{part.get('type')}'",
                "only text parts can go in this message",
            )
    return "".join(parts)


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
        },
    }


def _message(message: Message) -> dict[str, Any]:
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(content)}
    if role == "user":
        return {"role": "user", "content": _user_content(content)}
    if role == "assistant":
        text, reasoning = _assistant_text(content)
        calls = message.get("tool_calls")
        if calls:
            # v2 puts the text an assistant wrote before calling tools in ``tool_plan``; a
            # reply of ours carries Cohere's own plan as reasoning, so that is sent back there.
            out: dict[str, Any] = {
                "role": "assistant",
                "tool_calls": [_tool_call(c) for c in calls],
            }
            if text or reasoning:
                out["tool_plan"] = text or reasoning
            return out
        return {"role": "assistant", "content": text}
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.get("tool_call_id"),
            "content": _text(content),
        }
    raise UnsupportedParameterError(PROVIDER, f"message role '{role}'")


def _assistant_text(content: Any) -> tuple[str, str]:
    """``(text, reasoning)`` of an assistant ``content``. Earlier reasoning (LangChain v1
    ``reasoning`` blocks, unified ``thinking`` ones) is kept apart from the text: the caller
    sends it as the turn's ``tool_plan`` or leaves it out, as the other adapters leave out
    reasoning the provider cannot check; redacted reasoning has no text to send."""
    if not isinstance(content, list):
        return _text(content), ""
    text: list[Any] = []
    reasoning: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else "text"
        if kind not in _REASONING_PARTS:
            text.append(part)
        elif field := _REASONING_PARTS[kind]:
            reasoning.append(part.get(field) or "")
    return _text(text), "".join(reasoning)


def _user_content(content: Any) -> Any:
    """User parts in v2's shape: text and ``image_url`` parts as OpenAI writes them (v2 takes
    both as they are), without Anthropic's ``cache_control`` hint, which v2 has no field for;
    any other part (files, audio) is refused rather than sent for a 400."""
    if not isinstance(content, list):
        return content or ""
    out = []
    for part in content:
        kind = "text" if isinstance(part, str) else part.get("type")
        if kind not in ("text", "image_url"):
            raise UnsupportedParameterError(
                PROVIDER,
                f"content part '{kind}'",
                "v2 chat takes text and image_url parts: send a PDF's text instead",
            )
        if isinstance(part, dict) and "cache_control" in part:
            part = {k: v for k, v in part.items() if k != "cache_control"}
        out.append(part)
    return out


def to_cohere_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI-style messages in the v2 chat shape."""
    return [_message(m) for m in messages]


def to_cohere_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> str | None:
    """The v2 ``tool_choice`` (``REQUIRED`` / ``NONE``) for an OpenAI-style one; ``None`` when
    the default (auto) says the same. A named tool can be forced only when it is the sole tool
    bound, since v2 cannot name one."""
    if choice is None or choice == "auto":
        return None
    if choice == "none":
        return "NONE"
    if choice in ("required", "any"):
        return "REQUIRED"
    name = ((choice.get("function") or choice).get("name")) if isinstance(choice, dict) else None
    names = [(t.get("function") or t).get("name") for t in tools]
    if name is not None and names == [name]:
        return "REQUIRED"
    raise UnsupportedParameterError(
        PROVIDER,
        "tool_choice",
        f"v2 chat cannot force one named tool among several ({choice!r}); bind only that "
        "tool, or use tool_choice='required'",
    )


def _tools(tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """The tools without OpenAI's per-function ``strict``, and whether any tool asked for it.

    v2 chat has no per-tool flag: its ``strict_tools`` holds every tool to its schema. One
    strict tool turns it on for all, which only constrains the others further (their calls
    still match their schemas), where dropping it would lose what the user asked for."""
    strict = False
    out = []
    for tool in tools:
        function = tool.get("function")
        if isinstance(function, dict) and "strict" in function:
            strict = strict or bool(function["strict"])
            tool = {**tool, "function": {k: v for k, v in function.items() if k != "strict"}}
        out.append(tool)
    return out, strict


def _response_format(value: dict[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "json_schema": schema} if schema else {"type": "json_object"}
    if kind in ("json_object", "text"):
        return {"type": kind}
    raise UnsupportedParameterError(PROVIDER, "response_format", f"type {kind!r} is not known")


def chat_body(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The v2 chat body for a unified chat request."""
    if request.n is not None and request.n > 1:
        raise UnsupportedParameterError(PROVIDER, "n", _CHAT_REJECTED["n"])
    body: dict[str, Any] = {"model": model, "messages": to_cohere_messages(request.messages)}
    if request.tools:
        body["tools"], strict = _tools(request.tools)
        if strict:
            body["strict_tools"] = True
        choice = to_cohere_tool_choice(request.tool_choice, request.tools)
        if choice is not None:
            body["tool_choice"] = choice
        if request.parallel_tool_calls_switch() is False:
            raise UnsupportedParameterError(
                PROVIDER,
                "parallel_tool_calls",
                "v2 chat may always return several tool calls; remove parallel_tool_calls",
            )
    if request.response_format:
        body["response_format"] = _response_format(request.response_format)
    _sampling(body, request.temperature, request.max_tokens, request.stop)
    effort, extra = split_effort(PROVIDER, request.extra_params, "thinking")
    if effort is not None:
        # Command A Reasoning's switch; other Command models answer that they do not reason.
        extra["thinking"] = (
            {"type": "disabled"}
            if effort == "none"
            else {"type": "enabled", "token_budget": TOKEN_BUDGETS[effort]}
        )
    body.update(provider_params(PROVIDER, extra, renamed=_CHAT_RENAMED, rejected=_CHAT_REJECTED))
    if stream:
        body["stream"] = True
    return body


def _sampling(
    body: dict[str, Any],
    temperature: float | None,
    max_tokens: int | None,
    stop: list[str] | None,
) -> None:
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stop:
        body["stop_sequences"] = list(stop)


def _prompt(request: CompletionRequest) -> str:
    prompt = request.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise UnsupportedParameterError(
                PROVIDER,
                "prompt",
                f"a list of {len(prompt)} prompts; send one prompt per call "
                "(CompletionExternal: batch_size=1)",
            )
        prompt = prompt[0]
    return prompt


def _legacy_logprobs(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Completions ``extra_params`` with OpenAI's legacy ``logprobs=k`` (an alternatives
    count) as the v2 switch: 0 asks for the chosen tokens' logprobs, all v2 chat returns."""
    count = extra.get("logprobs")
    if count is None or isinstance(count, bool):
        return dict(extra)
    if count != 0:
        raise UnsupportedParameterError(
            PROVIDER,
            "logprobs",
            f"the v2 chat API returns no alternative tokens, so not {count!r} of them; use "
            "logprobs=0 (or true) for the chosen tokens' log probabilities",
        )
    return {**extra, "logprobs": True}


def completion_body(request: CompletionRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The v2 chat body for a unified completions request: the prompt as one user turn."""
    chat = ChatRequest(
        messages=[{"role": "user", "content": _prompt(request)}],
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=request.stop,
        n=request.n,
        extra_params=_legacy_logprobs(request.extra_params),
    )
    return chat_body(chat, model, stream=stream)
