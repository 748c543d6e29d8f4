"""``CompletionExternal``: a LangChain text-completion LLM over any external-model target."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM, LangSmithParams
from langchain_core.outputs import Generation, GenerationChunk, LLMResult

from extmodels_integrations._events import aobserved, observed, observing
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._routing import routing_metadata
from extmodels_integrations._types import (
    COMPLETIONS,
    CompletionRequest,
    CompletionResponse,
    Task,
    Usage,
)
from extmodels_integrations.langchain._base import GenerativeTarget
from extmodels_integrations.langchain._callbacks import async_reporting, sync_observer
from extmodels_integrations.langchain._convert import answer_fields, usage_metadata
from extmodels_integrations.langchain._errors import translated

__all__ = ["CompletionExternal"]


class CompletionExternal(GenerativeTarget, BaseLLM):
    """Text-completion model for an external-model endpoint (``llm/v1/completions``).

    Several prompts go out in one request (up to ``batch_size``), as the unified schema allows
    a list of prompts. Token usage is in ``llm_output["token_usage"]`` and, for streams, in the
    last chunk's ``generation_info["usage"]``.
    """

    _task: ClassVar[Task] = COMPLETIONS

    batch_size: int = 20
    """Most prompts per request; set 1 for targets that take a single prompt."""

    @property
    def _llm_type(self) -> str:
        return "extmodels-completion"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop if stop is not None else self.stop, **kwargs)
        params["ls_provider"] = self.client.provider
        return params

    def _request(
        self,
        prompt: str | list[str],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool = False,
    ) -> CompletionRequest:
        fields, extra = self._call_params(stop, kwargs, stream=stream)
        return CompletionRequest(
            prompt=prompt, extra_params={**self.extra_params, **extra}, **fields
        )

    def _batches(self, prompts: list[str]) -> list[list[str]]:
        if self.batch_size < 1:
            raise ConfigurationError("batch_size must be at least 1")
        size = self.batch_size
        return [prompts[i : i + size] for i in range(0, len(prompts), size)]

    # -- invoke / generate -------------------------------------------------------------------

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming and len(prompts) == 1:
            chunks = list(self._stream(prompts[0], stop, run_manager, **kwargs))
            return _streamed_result(chunks, self.model)
        with translated(), observing(sync_observer(run_manager)):
            responses = [
                self.client.complete(self._request(_one_or_many(batch), stop, kwargs))
                for batch in self._batches(prompts)
            ]
        return self._result(prompts, responses, kwargs)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming and len(prompts) == 1:
            chunks = [c async for c in self._astream(prompts[0], stop, run_manager, **kwargs)]
            return _streamed_result(chunks, self.model)
        async with async_reporting(run_manager) as observer:
            with translated(), observing(observer):
                responses = await asyncio.gather(
                    *(
                        self.client.acomplete(self._request(_one_or_many(batch), stop, kwargs))
                        for batch in self._batches(prompts)
                    )
                )
        return self._result(prompts, list(responses), kwargs)

    def _result(
        self, prompts: list[str], responses: list[CompletionResponse], kwargs: dict[str, Any]
    ) -> LLMResult:
        n = kwargs.get("n", self.n) or 1
        generations: list[list[Generation]] = []
        usage = Usage()
        for response in responses:
            choices = sorted(response.choices, key=lambda c: c.index)
            # Each batch may have been answered by another served entity of an endpoint config.
            routing = routing_metadata(response)
            for start in range(0, len(choices), n):
                generations.append(
                    [
                        Generation(
                            text=c.text,
                            generation_info={
                                "finish_reason": c.finish_reason,
                                **({"logprobs": c.logprobs} if c.logprobs else {}),
                                **answer_fields(response),
                                **routing,
                            },
                        )
                        for c in choices[start : start + n]
                    ]
                )
            if response.usage is not None:
                usage.prompt_tokens += response.usage.prompt_tokens
                usage.completion_tokens += response.usage.completion_tokens
                usage.total_tokens += response.usage.total_tokens
        if len(generations) != len(prompts):
            raise ConfigurationError(
                f"sent {len(prompts)} prompts but got answers for {len(generations)}: this "
                "target may not accept a list of prompts; set batch_size=1"
            )
        model = responses[0].model if responses else None
        return LLMResult(
            generations=generations,
            llm_output={"token_usage": usage_metadata(usage), "model_name": model or self.model},
        )

    # -- stream ------------------------------------------------------------------------------

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        request = self._request(prompt, stop, kwargs, stream=True)
        state = _CompletionStreamState(request.model or self.model)
        with translated():
            chunks = observed(self.client.stream_complete(request), sync_observer(run_manager))
            for chunk in chunks:
                state.routing = routing_metadata(chunk) or state.routing
                state.answer = answer_fields(chunk) or state.answer
                out = state.chunk(chunk.choices, chunk.model, chunk.usage)
                if out is not None:
                    if run_manager:
                        run_manager.on_llm_new_token(out.text, chunk=out)
                    yield out
        yield state.last()

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        request = self._request(prompt, stop, kwargs, stream=True)
        state = _CompletionStreamState(request.model or self.model)
        async with async_reporting(run_manager) as observer:
            with translated():
                async for chunk in aobserved(self.client.astream_complete(request), observer):
                    state.routing = routing_metadata(chunk) or state.routing
                    state.answer = answer_fields(chunk) or state.answer
                    out = state.chunk(chunk.choices, chunk.model, chunk.usage)
                    if out is not None:
                        if run_manager:
                            await run_manager.on_llm_new_token(out.text, chunk=out)
                        yield out
        yield state.last()


def _one_or_many(batch: list[str]) -> str | list[str]:
    # A single prompt goes out as a string: some completion servers reject a list.
    return batch[0] if len(batch) == 1 else batch


class _CompletionStreamState:
    __slots__ = ("answer", "finish_reason", "model", "routing", "usage")

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.routing: dict[str, Any] = {}
        self.answer: dict[str, Any] = {}

    def chunk(
        self, choices: list[Any], model: str | None, usage: Usage | None
    ) -> GenerationChunk | None:
        self.usage = usage or self.usage
        self.model = model or self.model
        if not choices:
            return None
        choice = choices[0]
        self.finish_reason = choice.finish_reason or self.finish_reason
        return GenerationChunk(text=choice.text) if choice.text else None

    def last(self) -> GenerationChunk:
        info: dict[str, Any] = {
            "finish_reason": self.finish_reason,
            "model_name": self.model,
            **self.answer,
            **self.routing,
        }
        if self.usage is not None:
            info["usage"] = usage_metadata(self.usage)
        return GenerationChunk(text="", generation_info=info)


def _streamed_result(chunks: list[GenerationChunk], model: str | None) -> LLMResult:
    total = GenerationChunk(text="")
    for chunk in chunks:
        total += chunk
    info = total.generation_info or {}
    llm_output: dict[str, Any] = {"model_name": info.get("model_name") or model}
    if "usage" in info:
        llm_output["token_usage"] = info["usage"]
    return LLMResult(generations=[[total]], llm_output=llm_output)
