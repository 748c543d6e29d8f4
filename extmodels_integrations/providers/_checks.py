"""The last line between a provider's JSON and the caller: a parsed result whose fields do not
have the unified types becomes a :class:`MalformedResponseError`, and so does any Python error a
parser raises on a shape it did not expect.

Parsers read provider JSON with ``.get`` chains; an answer of the wrong shape (a proxy's error
page, a truncated rewrite, a new API version) would otherwise surface as ``AttributeError`` or
``OverflowError`` deep inside a parser, or worse, pass a list where a string belongs on to
LangChain or a vector store. The property-based tests in ``tests/reliability`` hold every
adapter to this: any JSON in, a well-typed result or one of our errors out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from extmodels_integrations._exceptions import ExternalModelError, MalformedResponseError
from extmodels_integrations._types import (
    ChatChunk,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionResponse,
    EmbeddingsResponse,
    Usage,
)

__all__ = ["SHAPE_ERRORS", "check_chunk", "check_response", "shape_error"]

R = TypeVar("R")

#: What a parser raises when provider JSON does not have the shape it reads.
SHAPE_ERRORS = (
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    RecursionError,
)


def shape_error(exc: BaseException, provider: str | None) -> MalformedResponseError:
    """The :class:`MalformedResponseError` for a parser that tripped over an unexpected shape."""
    return MalformedResponseError(
        f"provider sent a response of an unexpected shape ({type(exc).__name__}: {exc})"[:500],
        provider=provider,
    )


class _Bad(Exception):
    def __init__(self, field: str, value: Any, want: str) -> None:
        super().__init__(f"'{field}' is {type(value).__name__} where {want} was expected")


def _str(value: Any, field: str) -> None:
    if value is not None and type(value) is not str:
        raise _Bad(field, value, "a string")


def _int(value: Any, field: str) -> None:
    if type(value) is not int:
        raise _Bad(field, value, "an integer")


def _usage(usage: Usage | None) -> None:
    if usage is None:
        return
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        _int(getattr(usage, name), f"usage.{name}")
    for name in ("cache_read_tokens", "cache_creation_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        if value is not None:
            _int(value, f"usage.{name}")


def _head(result: Any) -> None:
    _str(result.id, "id")
    _str(result.model, "model")
    _usage(result.usage)


def _completion_choices(choices: list[CompletionChoice]) -> None:
    for choice in choices:
        _int(choice.index, "choices.index")
        if type(choice.text) is not str:
            raise _Bad("choices.text", choice.text, "a string")
        _str(choice.finish_reason, "choices.finish_reason")
        if choice.logprobs is not None and not isinstance(choice.logprobs, dict):
            raise _Bad("choices.logprobs", choice.logprobs, "an object")


def _chat_response(result: ChatResponse) -> None:
    _head(result)
    for choice in result.choices:
        _int(choice.index, "choices.index")
        _str(choice.content, "choices.content")
        _str(choice.reasoning, "choices.reasoning")
        _str(choice.finish_reason, "choices.finish_reason")
        for call in choice.tool_calls:
            for name in ("id", "name", "arguments"):
                value = getattr(call, name)
                if type(value) is not str:
                    raise _Bad(f"tool_calls.{name}", value, "a string")


def _embeddings(result: EmbeddingsResponse) -> None:
    _str(result.model, "model")
    _usage(result.usage)
    for vector in result.embeddings:
        if type(vector) is not list:
            raise _Bad("embedding", vector, "a list of numbers")
        for x in vector:
            if type(x) is not float and type(x) is not int:
                raise _Bad("embedding", x, "a number")


def _plain_text_chunk(chunk: ChatChunk) -> bool:
    """Whether ``chunk`` is a well-typed text delta without usage or tool calls: nearly every
    chunk of a stream, checked in a few expressions (the full walk below cost ~1.5 µs per chunk,
    and an ``all()`` over a generator here another ~0.2 µs)."""
    if chunk.usage is not None or not (
        (chunk.id is None or type(chunk.id) is str)
        and (chunk.model is None or type(chunk.model) is str)
    ):
        return False
    for c in chunk.choices:
        if not (
            type(c.index) is int
            and c.tool_calls is None
            and (c.content is None or type(c.content) is str)
            and (c.reasoning is None or type(c.reasoning) is str)
            and (c.finish_reason is None or type(c.finish_reason) is str)
            and (c.role is None or type(c.role) is str)
        ):
            return False
    return True


def _chat_chunk(chunk: ChatChunk) -> None:
    _head(chunk)
    for choice in chunk.choices:
        _int(choice.index, "choices.index")
        _str(choice.content, "choices.delta.content")
        _str(choice.reasoning, "choices.delta.reasoning")
        _str(choice.finish_reason, "choices.finish_reason")
        _str(choice.role, "choices.delta.role")
        for delta in choice.tool_calls or ():
            _int(delta.index, "tool_calls.index")
            _str(delta.id, "tool_calls.id")
            _str(delta.name, "tool_calls.name")
            _str(delta.arguments, "tool_calls.arguments")


def _completion(result: CompletionResponse | CompletionChunk) -> None:
    _head(result)
    _completion_choices(result.choices)


_CHECKS: dict[type, Callable[[Any], None]] = {
    ChatResponse: _chat_response,
    CompletionResponse: _completion,
    EmbeddingsResponse: _embeddings,
    ChatChunk: _chat_chunk,
    CompletionChunk: _completion,
}


def _check(result: R, provider: str | None) -> R:
    try:
        _CHECKS[type(result)](result)
    except _Bad as bad:
        raise MalformedResponseError(
            f"provider sent a malformed response: {bad}", provider=provider
        ) from None
    return result


def check_response(parse: Callable[[], R], provider: str | None) -> R:
    """``parse()`` with shape errors turned into :class:`MalformedResponseError` and the
    result's field types checked."""
    try:
        result = parse()
    except ExternalModelError:
        raise
    except SHAPE_ERRORS as exc:
        raise shape_error(exc, provider) from None
    return _check(result, provider)


def check_chunk(chunk: R) -> R:
    """A stream chunk whose field types are checked (see :func:`check_response`)."""
    if isinstance(chunk, ChatChunk) and _plain_text_chunk(chunk):
        return chunk
    return _check(chunk, getattr(chunk, "provider", None))
