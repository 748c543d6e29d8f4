"""Messages API request bodies from the unified chat and completions requests: ``max_tokens``
defaults, refused and renamed parameters, tools, ``tool_choice`` and structured outputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError, UnsupportedParameterError
from extmodels_integrations._types import ChatRequest, CompletionRequest
from extmodels_integrations.providers._base import provider_params
from extmodels_integrations.providers._reasoning import TOKEN_BUDGETS, split_effort
from extmodels_integrations.providers.anthropic._messages import convert_messages

# Output caps from Anthropic's model comparison table (docs "Models overview"), the same numbers
# langchain-anthropic and vercel/ai default to. Matched by longest prefix, so a dated id
# (claude-3-5-haiku-20241022), a Bedrock id (us.anthropic.claude-sonnet-4-...) or a newer point
# release of a family (claude-opus-4-6) gets its family's cap: caps have only grown within a
# family, so the value is always accepted.
_MAX_OUTPUT_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-3-haiku", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-5-haiku", 8192),
    ("claude-3-5-sonnet", 8192),
    ("claude-3-7-sonnet", 64000),
    ("claude-sonnet-4", 64000),
    ("claude-haiku-4", 64000),
    ("claude-opus-4", 32000),
    ("claude-opus-4-5", 64000),
)
#: For ids the table does not know: every Claude 3+ model accepts it.
FALLBACK_MAX_TOKENS = 4096


# OpenAI-schema parameters the Messages API has no equivalent for, with the fix.
_REJECTED = {
    "logprobs": "Anthropic does not return log probabilities; remove it",
    "top_logprobs": "Anthropic does not return log probabilities; remove it",
    "logit_bias": "Anthropic has no token biasing; remove it",
    "frequency_penalty": "Anthropic has no repetition penalties; remove it",
    "presence_penalty": "Anthropic has no repetition penalties; remove it",
    "seed": "Anthropic sampling cannot be seeded; remove it",
    "user": "pass metadata={'user_id': ...} instead",
}
# The Messages API spells OpenAI's newer name for max_tokens the old way.
_RENAMED = {"max_completion_tokens": "max_tokens"}


def default_max_tokens(model: str) -> int:
    """The ``max_tokens`` sent when a request has none: the model family's output cap.

    The cap, not a small number, because the unified schema (like OpenAI's) treats a missing
    ``max_tokens`` as "as long as the answer needs": a small default silently truncates long
    answers and large tool calls, which is why langchain-anthropic and vercel/ai moved to the
    caps. Pass ``max_tokens`` to reserve less (Anthropic meters output-token rate limits
    against it at the start of a request).
    """
    start = model.find("claude-")
    family = model[start:] if start >= 0 else model
    best = ("", FALLBACK_MAX_TOKENS)
    for prefix, cap in _MAX_OUTPUT_TOKENS:
        if family.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, cap)
    return best[1]


def messages_body(request: ChatRequest, *, provider: str, model: str) -> dict[str, Any]:
    """The Messages API body for a chat request, without ``model`` and ``stream``.

    ``model`` only picks the default ``max_tokens``. Raises
    :class:`UnsupportedParameterError` for OpenAI-only parameters instead of dropping them.
    """
    if (request.n or 1) > 1:
        raise UnsupportedParameterError(
            provider, "n", "Anthropic returns one message per request; make n calls instead"
        )
    system, messages = convert_messages(request.messages, provider)
    body: dict[str, Any] = {
        "max_tokens": request.max_tokens
        if request.max_tokens is not None
        else default_max_tokens(model),
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    output_format = _output_format(request.response_format, provider)
    if output_format is not None:
        body["output_config"] = {"format": output_format}
    return _with_extra(body, request.extra_params, provider)


def completion_messages_body(
    request: CompletionRequest, *, provider: str, model: str
) -> dict[str, Any]:
    """The Messages API body for a completions request: the prompt as one user message."""
    prompts = [request.prompt] if isinstance(request.prompt, str) else list(request.prompt)
    if len(prompts) != 1:
        raise UnsupportedParameterError(
            provider,
            "prompt",
            f"Anthropic answers one prompt per request and {len(prompts)} were given; "
            "send one prompt per call",
        )
    chat = ChatRequest(
        messages=[{"role": "user", "content": prompts[0]}],
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        stop=request.stop,
        n=request.n,
        extra_params=request.extra_params,
    )
    return messages_body(chat, provider=provider, model=model)


def _with_extra(body: dict[str, Any], extra: Mapping[str, Any], provider: str) -> dict[str, Any]:
    # Provider-native fields (top_k, top_p, metadata, thinking...) pass through and win.
    effort, rest = split_effort(provider, extra, "thinking")
    if effort is not None:
        rest["thinking"] = _thinking(effort, body, provider)
    body.update(provider_params(provider, rest, renamed=_RENAMED, rejected=_REJECTED))
    return body


def _thinking(effort: str, body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    if effort == "none":
        return {"type": "disabled"}
    budget, max_tokens = TOKEN_BUDGETS[effort], body["max_tokens"]
    if body.get("temperature") not in (None, 1):
        # Extended thinking runs at temperature 1 only; the API 400s on anything else.
        raise UnsupportedParameterError(
            provider,
            "temperature",
            f"Claude thinks only at temperature 1, not {body['temperature']}: remove "
            "temperature or reasoning_effort",
        )
    if max_tokens <= budget:
        # The API refuses a budget that is not below max_tokens: say so before sending.
        raise UnsupportedParameterError(
            provider,
            "reasoning_effort",
            f"{effort!r} thinks up to {budget} tokens, which must stay below max_tokens "
            f"({max_tokens}): raise max_tokens or lower the effort",
        )
    return {"type": "enabled", "budget_tokens": budget}


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic tool from an OpenAI function tool; Anthropic-native tools pass through."""
    if tool.get("type") != "function" or "function" not in tool:
        return dict(tool)
    function = tool["function"]
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if function.get("strict") is not None:
        out["strict"] = function["strict"]
    return out


def _tool_choice(choice: Any, parallel: bool | None) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` -> Anthropic's; ``parallel_tool_calls=False`` rides on it."""
    mapped: dict[str, Any] | None
    if choice is None:
        mapped = None
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice in ("required", "any"):
        mapped = {"type": "any"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif isinstance(choice, str):
        mapped = {"type": "tool", "name": choice}
    elif choice.get("type") == "function":
        mapped = {"type": "tool", "name": choice["function"]["name"]}
    else:
        mapped = dict(choice)  # already Anthropic's shape
    if parallel is False and (mapped is None or mapped["type"] != "none"):
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    return mapped


def _output_format(response_format: Mapping[str, Any] | None, provider: str) -> Any:
    """``json_schema`` -> structured outputs (``output_config.format``); ``json_object`` has no
    equivalent and is refused."""
    kind = (response_format or {}).get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_schema":
        assert response_format is not None
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, Mapping):
            raise ConfigurationError("response_format json_schema needs json_schema.schema")
        return {"type": "json_schema", "schema": _closed(schema)}
    raise UnsupportedParameterError(
        provider,
        "response_format",
        f"Anthropic has no '{kind}' mode; use a json_schema response_format or a forced tool "
        "call (with_structured_output(schema) does that)",
    )


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that does not say:
    Anthropic's structured outputs require it (the SDK's ``transform_schema`` does the same)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: _closed(value) for key, value in schema.items()}
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out
