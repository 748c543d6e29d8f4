"""The pure steps around a call that the direct pipeline shares between sync and async:
usage reported once per stream, completions split into requests the target takes and merged
back, embeddings batched, checked and joined."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from extmodels_integrations._exceptions import (
    ConfigurationError,
    MalformedResponseError,
    ServerError,
)
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsResponse,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations.providers._base import Adapter

__all__ = [
    "UsageOnce",
    "as_chunks",
    "batches",
    "by_prompts",
    "checked",
    "joined",
    "merged",
    "named",
    "one_stream",
    "refuses_prompt_lists",
    "text_list",
]

_C = TypeVar("_C", ChatChunk, CompletionChunk)


class UsageOnce:
    """Holds back usage from every chunk and reports it once, on a final usage-only chunk.

    Targets differ: OpenAI sends one usage chunk when asked, serving endpoints fronting other
    providers repeat partial usage on every chunk, some send none. Callers always see it once.
    """

    __slots__ = ("created", "id", "model", "object", "provider", "usage")

    def __init__(self, model: str) -> None:
        self.usage: Usage | None = None
        self.id: str | None = None
        self.model = model
        self.provider: str | None = None
        self.object: str | None = None
        self.created: int | None = None

    def take(self, chunk: ChatChunk | CompletionChunk) -> bool:
        """Strip usage from ``chunk``; whether the chunk still carries anything."""
        if chunk.usage is not None:
            self.usage = chunk.usage if self.usage is None else self.usage.merged_with(chunk.usage)
            chunk.usage = None
        self.id = chunk.id or self.id
        self.model = chunk.model or self.model
        self.provider = chunk.provider
        self.object = chunk.object or self.object
        self.created = chunk.created or self.created
        return bool(chunk.choices)

    def final(self, cls: type[_C]) -> _C | None:
        if self.usage is None:
            return None
        return cls(
            self.id,
            self.model,
            [],
            self.usage.completed(),
            self.provider,
            object=self.object,
            created=self.created,
        )


_N = TypeVar("_N", ChatResponse, CompletionResponse)


def as_chunks(response: ChatResponse) -> list[ChatChunk]:
    """A chat response as the chunks a stream of it sends: one per choice, then usage."""
    chunks = [
        ChatChunk(
            response.id,
            response.model,
            [
                ChatChunkChoice(
                    c.index,
                    c.content,
                    [
                        ToolCallDelta(j, t.id, t.name, t.arguments, t.signature)
                        for j, t in enumerate(c.tool_calls)
                    ]
                    or None,
                    c.finish_reason,
                    c.reasoning,
                    c.role,
                )
            ],
            None,
            response.provider,
        )
        for c in response.choices
    ]
    if response.usage is not None:
        chunks.append(ChatChunk(response.id, response.model, [], response.usage, response.provider))
    return chunks


def _delta(choice: ChatChoice) -> ChatChunkChoice:
    calls = [
        ToolCallDelta(j, t.id, t.name, t.arguments, t.signature)
        for j, t in enumerate(choice.tool_calls)
    ]
    return ChatChunkChoice(
        choice.index,
        choice.content,
        calls or None,
        choice.finish_reason,
        choice.reasoning,
        choice.role,
    )


def named(response: _N, model: str) -> _N:
    """Name the model that was called when the response does not (serving endpoints often
    leave ``model`` out)."""
    if not response.model:
        response.model = model
    return response


def by_prompts(request: CompletionRequest, limit: int | None) -> list[CompletionRequest]:
    """``request`` split into requests of at most ``limit`` prompts (``None``: any number)."""
    prompts = request.prompt
    if isinstance(prompts, str) or limit is None or len(prompts) <= limit:
        return [request]
    return [
        dataclasses.replace(request, prompt=prompts[i : i + limit] if limit > 1 else prompts[i])
        for i in range(0, len(prompts), limit)
    ]


def refuses_prompt_lists(request: CompletionRequest, limit: int | None, error: Exception) -> bool:
    """Whether ``error`` looks like a server that takes one prompt per request although the
    format allows lists: llama.cpp's OpenAI-compatible server answers a list with an empty 500."""
    listed = not isinstance(request.prompt, str) and len(request.prompt) > 1
    return (
        limit is None
        and listed
        and isinstance(error, ServerError)
        and error.status_code is not None
        and error.status_code >= 500
    )


def one_stream(request: CompletionRequest, adapter: Adapter) -> None:
    limit = adapter.prompts_per_request
    if limit is not None and not isinstance(request.prompt, str) and len(request.prompt) > limit:
        raise ConfigurationError(
            f"provider '{adapter.provider}' streams {limit} prompt(s) per request, got "
            f"{len(request.prompt)}; stream the prompts one at a time"
        )


def merged(parts: list[CompletionResponse], n: int) -> CompletionResponse:
    """One response from the responses to consecutive prompt groups: choice indexes follow
    OpenAI's ``prompt_index * n + j`` over all prompts, usage is summed."""
    if len(parts) == 1:
        return parts[0]
    choices: list[CompletionChoice] = []
    usage = Usage()
    for part in parts:
        offset = len(choices)
        choices += [dataclasses.replace(c, index=offset + c.index) for c in part.choices]
        if part.usage is not None:
            usage.prompt_tokens += part.usage.prompt_tokens
            usage.completion_tokens += part.usage.completion_tokens
            usage.total_tokens += part.usage.completed().total_tokens
    first = parts[0]
    return CompletionResponse(
        first.id,
        first.model,
        choices,
        usage,
        first.provider,
        object=first.object,
        created=first.created,
    )


def text_list(texts: str | list[str]) -> list[str]:
    """``texts`` as a list; a single string is one text, as the unified schema's ``input``
    takes either."""
    if isinstance(texts, str):
        return [texts]
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{i}] is {type(text).__name__}: only strings are embedded "
                "(token-id inputs are not supported)"
            )
    return texts


def batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def checked(response: EmbeddingsResponse, expected: int) -> EmbeddingsResponse:
    if len(response.embeddings) != expected:
        raise MalformedResponseError(
            f"asked for {expected} embeddings, got {len(response.embeddings)}",
            provider=response.provider,
        )
    return response


def joined(parts: list[EmbeddingsResponse], model: str, provider: str) -> EmbeddingsResponse:
    if len(parts) == 1:
        parts[0].model = parts[0].model or model
        return parts[0]
    usage = Usage()
    for part in parts:
        if part.usage is not None:
            usage.prompt_tokens += part.usage.prompt_tokens
            usage.total_tokens += part.usage.total_tokens
    return EmbeddingsResponse(
        embeddings=[vector for part in parts for vector in part.embeddings],
        model=parts[0].model or model,
        usage=usage,
        provider=provider,
        object=parts[0].object,
    )
