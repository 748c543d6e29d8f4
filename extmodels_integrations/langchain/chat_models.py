"""``ChatExternal``: a LangChain chat model over any external-model target."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from extmodels_integrations._events import aobserved, observed, observing
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._profile import target_profile
from extmodels_integrations._routing import routing_metadata
from extmodels_integrations._types import (
    CHAT,
    ChatChoice,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Task,
    Usage,
)
from extmodels_integrations.langchain._base import GenerativeTarget
from extmodels_integrations.langchain._callbacks import async_reporting, sync_observer
from extmodels_integrations.langchain._convert import (
    V1ToolIndexes,
    answer_fields,
    model_provider,
    to_ai_message,
    to_chunk_message,
    to_unified_messages,
    usage_metadata,
)
from extmodels_integrations.langchain._errors import translated

__all__ = ["ChatExternal"]

# Only ever given at call time (bind_tools, with_structured_output, invoke kwargs).
_CALL_ONLY = ("tools", "tool_choice", "parallel_tool_calls", "response_format")


class ChatExternal(GenerativeTarget, BaseChatModel):
    """Chat model for an external-model endpoint (``llm/v1/chat``).

    Point it at a model in one of these ways:

    .. code-block:: python

        ChatExternal(endpoint="my-chat-endpoint")  # uses DATABRICKS_HOST / DATABRICKS_TOKEN
        ChatExternal(external_model={
            "name": "gpt-4o-mini", "provider": "openai", "task": "llm/v1/chat",
            "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
        })

    Call-time arguments (``invoke(..., temperature=0)``, ``.bind(...)``) win over the
    constructor's; anything else passed at call time goes to the provider as an extra field.
    """

    _task: ClassVar[Task] = CHAT

    @property
    def _llm_type(self) -> str:
        return "extmodels-chat"

    def _resolve_model_profile(self) -> ModelProfile | None:
        """``profile``: what the target's provider and model take (see ``_profile``)."""
        found = target_profile(
            self.external_model, self.endpoint_config, self.endpoint or self.model
        )
        return None if found is None else ModelProfile(**found)  # type: ignore[typeddict-item]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=self.client.provider,
            ls_model_name=kwargs.get("model") or self.model or "",
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = float(temperature)
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = int(max_tokens)
        stop = stop if stop is not None else self.stop
        if stop:
            params["ls_stop"] = list(stop)
        return params

    # -- request -----------------------------------------------------------------------------

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool = False,
    ) -> ChatRequest:
        fields, extra = self._call_params(stop, kwargs, stream=stream)
        fields.update({name: extra.pop(name, None) for name in _CALL_ONLY})
        return ChatRequest(
            messages=to_unified_messages(messages),
            extra_params={**self.extra_params, **extra},
            **fields,
        )

    # -- invoke ------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        with translated(), observing(sync_observer(run_manager)):
            return self._result(self.client.chat(request))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        async with async_reporting(run_manager) as observer:
            with translated(), observing(observer):
                return self._result(await self.client.achat(request))

    def _result(self, response: ChatResponse) -> ChatResult:
        signed = any(c.reasoning_blocks for c in response.choices)
        metadata = {
            "model_name": response.model or self.model,
            "model_provider": model_provider(
                response.provider,
                signed_reasoning=signed,
                reasoning=any(c.reasoning for c in response.choices),
            ),
            "id": response.id,
            **answer_fields(response),
            **routing_metadata(response),
        }
        generations = []
        for i, choice in enumerate(response.choices):
            # Usage covers the whole response: put it on the first generation only, so
            # summing over generations does not count it n times.
            message = to_ai_message(
                choice,
                usage=response.usage if i == 0 else None,
                metadata=metadata,
                message_id=response.id if i == 0 else None,
            )
            generations.append(
                ChatGeneration(message=message, generation_info=_generation_info(choice))
            )
        llm_output: dict[str, Any] = {
            "model_name": metadata["model_name"],
            "id": response.id,
            **routing_metadata(response),
        }
        if response.usage is not None:
            llm_output["token_usage"] = usage_metadata(response.usage)
        return ChatResult(generations=generations, llm_output=llm_output)

    # -- stream ------------------------------------------------------------------------------

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs, stream=True)
        state = _StreamState(request.model or self.model, v1=self.output_version == "v1")
        with translated():
            chunks = observed(self.client.stream_chat(request), sync_observer(run_manager))
            for chunk in chunks:
                out = state.chunk(chunk)
                if out is not None:
                    yield out
        yield state.last()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs, stream=True)
        state = _StreamState(request.model or self.model, v1=self.output_version == "v1")
        async with async_reporting(run_manager) as observer:
            with translated():
                async for chunk in aobserved(self.client.astream_chat(request), observer):
                    out = state.chunk(chunk)
                    if out is not None:
                        yield out
        yield state.last()

    # -- tools and structured output ---------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in OpenAI format.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (must call a
        tool), or a tool name (must call that one).
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Model output parsed into ``schema`` (pydantic class, TypedDict or JSON schema).

        ``function_calling`` (default) forces a tool call, which every tool-capable target
        supports; ``json_schema`` uses ``response_format`` structured outputs; ``json_mode``
        asks for any JSON object (describe the keys in the prompt).
        """
        if kwargs:
            raise ConfigurationError(f"unexpected arguments: {sorted(kwargs)}")
        if method != "json_mode" and schema is None:
            raise ConfigurationError(f"schema is required for method='{method}'")
        trace = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        llm: Runnable[LanguageModelInput, Any]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            llm, parser = self._forced_tool(schema, strict, trace)
        elif method == "json_schema":
            llm = self.bind(
                response_format=_json_schema_format(schema, strict),
                ls_structured_output_format=trace,
            )
            parser = _json_parser(schema)
        elif method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"}, ls_structured_output_format=trace
            )
            parser = _json_parser(schema)
        else:
            raise ConfigurationError(
                f"method='{method}' is not one of 'function_calling', 'json_schema', 'json_mode'"
            )
        return _with_raw(llm, parser) if include_raw else llm | parser

    def _forced_tool(
        self, schema: dict[str, Any] | type | None, strict: bool | None, trace: dict[str, Any]
    ) -> tuple[Runnable[LanguageModelInput, Any], Runnable[Any, Any]]:
        tool = convert_to_openai_tool(schema, strict=strict)  # type: ignore[arg-type]
        name = tool["function"]["name"]
        llm = self.bind_tools(
            [tool], tool_choice=name, strict=strict, ls_structured_output_format=trace
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if isinstance(schema, type) and is_basemodel_subclass(schema)
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
        return llm, parser


def _generation_info(choice: ChatChoice) -> dict[str, Any]:
    """``finish_reason`` and, when asked for, ``logprobs`` in OpenAI's shape, as
    langchain-openai's ``_create_chat_result`` puts them (so they reach
    ``AIMessage.response_metadata``)."""
    info: dict[str, Any] = {"finish_reason": choice.finish_reason}
    if choice.logprobs is not None:
        info["logprobs"] = choice.logprobs
    return info


def _json_schema_format(
    schema: dict[str, Any] | type | None, strict: bool | None
) -> dict[str, Any]:
    function = convert_to_openai_function(schema, strict=strict)  # type: ignore[arg-type]
    json_schema: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        json_schema["description"] = function["description"]
    if strict is not None:
        json_schema["strict"] = strict
    return {"type": "json_schema", "json_schema": json_schema}


def _with_raw(
    llm: Runnable[LanguageModelInput, Any], parser: Runnable[Any, Any]
) -> Runnable[LanguageModelInput, Any]:
    """``{"raw", "parsed", "parsing_error"}``: a parsing error is returned, not raised."""
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")


def _json_parser(schema: dict[str, Any] | type | None) -> Runnable[Any, Any]:
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def _tool_choice(choice: dict[str, Any] | str | bool, tools: list[dict[str, Any]]) -> Any:
    names = [t["function"]["name"] for t in tools if "function" in t]
    if choice is True or choice in ("any", "required"):
        return "required"
    if choice in ("auto", "none"):
        return choice
    if isinstance(choice, str):
        if choice not in names:
            raise ConfigurationError(
                f"tool_choice='{choice}' names no bound tool; bound tools: {names}"
            )
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, dict):
        return choice
    raise ConfigurationError(f"tool_choice={choice!r} is not a tool name, 'auto', 'none' or 'any'")


class _StreamState:
    """Turns unified chunks into LangChain chunks and reports usage and metadata once."""

    __slots__ = (
        "answer",
        "finish_reason",
        "model",
        "provider",
        "reasoning",
        "reasoning_blocks",
        "routing",
        "usage",
        "v1_indexes",
    )

    def __init__(self, model: str | None, *, v1: bool = False) -> None:
        self.model = model
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.routing: dict[str, Any] = {}
        self.answer: dict[str, Any] = {}
        self.provider: str | None = None
        self.reasoning = False
        # Reasoning blocks seen, once the stream sends block-wise (signed) reasoning.
        self.reasoning_blocks: int | None = None
        self.v1_indexes = V1ToolIndexes() if v1 else None

    def chunk(self, chunk: ChatChunk) -> ChatGenerationChunk | None:
        self.routing = routing_metadata(chunk) or self.routing
        self.answer = answer_fields(chunk) or self.answer
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.model:
            self.model = chunk.model
        self.provider = chunk.provider or self.provider
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        self.reasoning = self.reasoning or bool(choice.reasoning)
        if choice.reasoning_index is not None:
            self.reasoning_blocks = max(self.reasoning_blocks or 0, choice.reasoning_index + 1)
        elif not (choice.content or choice.tool_calls or choice.reasoning or choice.logprobs):
            return None
        if self.v1_indexes is not None and self.reasoning_blocks is None:
            # Signed reasoning comes as content blocks with indexes of their own.
            choice = self.v1_indexes.shift(choice)
        message = to_chunk_message(choice, None, reasoning_blocks=self.reasoning_blocks)
        if choice.logprobs is None:
            return ChatGenerationChunk(message=message)
        # As langchain-openai's _convert_chunk_to_generation_chunk: the delta's own entries,
        # which langchain-core copies into the chunk's response_metadata; the chunk merge
        # (merge_dicts / merge_lists) appends the "content" lists in stream order.
        return ChatGenerationChunk(message=message, generation_info={"logprobs": choice.logprobs})

    def last(self) -> ChatGenerationChunk:
        message = AIMessageChunk(
            content="",
            usage_metadata=usage_metadata(self.usage) if self.usage is not None else None,
            response_metadata={
                "model_name": self.model,
                "model_provider": model_provider(
                    self.provider,
                    signed_reasoning=self.reasoning_blocks is not None,
                    reasoning=self.reasoning,
                ),
                "finish_reason": self.finish_reason,
                **self.answer,
                **self.routing,
            },
            chunk_position="last",
        )
        return ChatGenerationChunk(
            message=message, generation_info={"finish_reason": self.finish_reason}
        )
