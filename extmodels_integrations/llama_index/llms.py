"""``ChatExternal`` and ``CompletionExternal``: LlamaIndex LLMs over any external-model target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import (
    LLM,
    CompletionToPromptType,
    MessagesToPromptType,
    ToolSelection,
)

from extmodels_integrations._events import observing
from extmodels_integrations._models import UNKNOWN, ModelInfo, lookup
from extmodels_integrations._types import (
    CHAT,
    COMPLETIONS,
    ChatRequest,
    CompletionRequest,
    Task,
)
from extmodels_integrations.llama_index._base import GenerativeTarget
from extmodels_integrations.llama_index._convert import (
    ChatStream,
    CompletionStream,
    to_chat_response,
    to_completion_response,
    to_unified_messages,
    tool_selections,
)
from extmodels_integrations.llama_index._events import aobserve_stream, observe_stream, observer
from extmodels_integrations.llama_index._tools import (
    first_call_only,
    first_calls_only,
    wire_tool_choice,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["ChatExternal", "CompletionExternal"]

# Only ever given at call time (_prepare_chat_with_tools, structured outputs, chat kwargs).
_CALL_ONLY = ("tools", "tool_choice", "parallel_tool_calls", "response_format")
# Set by _prepare_chat_with_tools: LlamaIndex keeps only the first tool call itself when
# parallel calls are not allowed (_validate_chat_with_tools_response, as LlamaIndex's own
# integrations do with force_single_tool_call), so a provider with no such switch need not
# refuse the request.
_TRIMMED = "caller_applies_parallel_tool_calls"


class _Limits(GenerativeTarget):
    """The metadata fields LlamaIndex sizes prompts with; ``None`` reads the known-models table."""

    context_window: int | None = None
    """Input plus output tokens; ``None``: from the table of known models, else what the
    server states (vLLM, llama.cpp's ``llama-server``, ...), else 8192."""
    num_output: int | None = None
    """Tokens reserved for the answer; ``None``: ``max_tokens``, else from the table."""

    def _info(self) -> ModelInfo:
        return lookup(self.model)

    def _limits(self) -> tuple[int, int]:
        info = self._info()
        if info is UNKNOWN and self.context_window is None:
            # Asked once per client (it caches the answer); most servers state nothing.
            window = self.client.reported_context_window()
            if window is not None:
                info = ModelInfo(window, UNKNOWN.max_output)
        context = self.context_window or info.context_window
        return context, self.num_output or info.num_output(self.max_tokens)


class ChatExternal(_Limits, FunctionCallingLLM):
    """LlamaIndex chat model for an external-model endpoint (``llm/v1/chat``).

    Point it at a model in one of these ways:

    .. code-block:: python

        ChatExternal(endpoint="my-chat-endpoint")  # uses DATABRICKS_HOST / DATABRICKS_TOKEN
        ChatExternal(external_model={
            "name": "gpt-4o-mini", "provider": "openai", "task": "llm/v1/chat",
            "openai_config": {"openai_api_key": "{{secrets/llm/openai}}"},
        })

    Call-time keyword arguments (``llm.chat(messages, temperature=0)``) win over the
    constructor's; any other keyword goes to the provider as an extra field. Every response
    has the unified response in ``raw`` and token counts in ``additional_kwargs``; a stream's
    last response carries them once.
    """

    _task: ClassVar[Task] = CHAT

    is_function_calling_model: bool | None = None
    """Whether the model takes tools; ``None``: from the table of known models (True if
    unknown: set False for a model without tool support)."""

    @classmethod
    def class_name(cls) -> str:
        """Serialization key."""
        return "ExternalChatLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Chat model metadata with the model's real limits."""
        context, num_output = self._limits()
        tools = self.is_function_calling_model
        return LLMMetadata(
            context_window=context,
            num_output=num_output,
            is_chat_model=True,
            is_function_calling_model=self._info().function_calling if tools is None else tools,
            model_name=self.model or "",
        )

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatRequest:
        fields, extra = self._call_params(kwargs)
        fields.update({name: extra.pop(name, None) for name in _CALL_ONLY})
        fields["caller_applies_parallel_tool_calls"] = extra.pop(_TRIMMED, False) is True
        return ChatRequest(messages=to_unified_messages(messages), extra_params=extra, **fields)

    # -- chat --------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat completion."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer; the last response carries usage and finish reason."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async twin of :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        with observing(observer()):
            response = self.client.chat(request)
        return to_chat_response(response, request.model or self.model)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        with observing(observer()):
            response = await self.client.achat(request)
        return to_chat_response(response, request.model or self.model)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        # Built before the first next(): a bad argument fails at the call, not mid-iteration.
        request = self._request(messages, kwargs)
        state = ChatStream(request.model or self.model)

        def gen() -> ChatResponseGen:
            for chunk in observe_stream(self.client.stream_chat(request)):
                response = state.add(chunk)
                if response is not None:
                    yield response
            yield state.last()

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        request = self._request(messages, kwargs)
        state = ChatStream(request.model or self.model)

        async def gen() -> ChatResponseAsyncGen:
            async for chunk in aobserve_stream(self.client.astream_chat(request)):
                response = state.add(chunk)
                if response is not None:
                    yield response
            yield state.last()

        return gen()

    # -- completion, derived from chat ------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """The prompt as one user message."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async twin of :meth:`complete` (never blocks the event loop)."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the answer to the prompt as one user message."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async twin of :meth:`stream_complete`."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # -- tools -------------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat arguments offering ``tools`` in OpenAI format (every adapter translates it).

        ``tool_choice`` (``"auto"``, ``"none"``, ``"required"`` or a tool name) wins over
        ``tool_required``. No ``strict`` flag is added: non-OpenAI models reject it.
        """
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = wire_tool_choice(tool_choice, tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
            prepared[_TRIMMED] = True
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed (providers that
        ignore ``parallel_tool_calls`` may still send several)."""
        return response if allow_parallel_tool_calls else first_call_only(response)

    def stream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseGen:
        """As LlamaIndex's, and each streamed response keeps only its first tool call when
        parallel calls were not allowed (LlamaIndex itself trims only whole answers)."""
        stream = super().stream_chat_with_tools(
            tools,
            user_msg,
            chat_history,
            verbose,
            allow_parallel_tool_calls,
            tool_required,
            **kwargs,
        )
        if allow_parallel_tool_calls:
            return stream
        return (first_call_only(r) for r in stream)

    async def astream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseAsyncGen:
        """Async twin of :meth:`stream_chat_with_tools`."""
        stream = await super().astream_chat_with_tools(
            tools,
            user_msg,
            chat_history,
            verbose,
            allow_parallel_tool_calls,
            tool_required,
            **kwargs,
        )
        return stream if allow_parallel_tool_calls else first_calls_only(stream)

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls in ``response`` (partial ones too, while a stream is in progress)."""
        selections = tool_selections(response)
        if not selections and error_on_no_tool_call:
            raise ValueError(
                "Expected at least one tool call, but the model answered with text: "
                f"{(response.message.content or '')[:200]!r}"
            )
        return selections


class CompletionExternal(_Limits, LLM):
    """LlamaIndex text-completion model for an external-model endpoint (``llm/v1/completions``).

    ``complete`` and friends call the completions task natively; chat is derived by turning
    the messages into one prompt with ``messages_to_prompt``.
    """

    _task: ClassVar[Task] = COMPLETIONS

    @classmethod
    def class_name(cls) -> str:
        """Serialization key."""
        return "ExternalCompletionLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Completion model metadata with the model's real limits."""
        context, num_output = self._limits()
        return LLMMetadata(
            context_window=context,
            num_output=num_output,
            is_chat_model=False,
            is_function_calling_model=False,
            model_name=self.model or "",
        )

    def _request(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> CompletionRequest:
        fields, extra = self._call_params(kwargs)
        # LLM's validators always set both prompt formatters; the field types still say Optional.
        text = (
            prompt if formatted else cast(CompletionToPromptType, self.completion_to_prompt)(prompt)
        )
        return CompletionRequest(prompt=text, extra_params=extra, **fields)

    def _prompt(self, messages: Sequence[ChatMessage]) -> str:
        return cast(MessagesToPromptType, self.messages_to_prompt)(messages)

    # -- completion --------------------------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """One completion of ``prompt``."""
        return self._complete(prompt, formatted, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async twin of :meth:`complete`."""
        return await self._acomplete(prompt, formatted, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the completion; the last response carries usage and finish reason."""
        return self._stream_complete(prompt, formatted, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async twin of :meth:`stream_complete`."""
        return await self._astream_complete(prompt, formatted, **kwargs)

    def _complete(self, prompt: str, formatted: bool, **kwargs: Any) -> CompletionResponse:
        request = self._request(prompt, formatted, kwargs)
        with observing(observer()):
            response = self.client.complete(request)
        return to_completion_response(response, request.model or self.model)

    async def _acomplete(self, prompt: str, formatted: bool, **kwargs: Any) -> CompletionResponse:
        request = self._request(prompt, formatted, kwargs)
        with observing(observer()):
            response = await self.client.acomplete(request)
        return to_completion_response(response, request.model or self.model)

    def _stream_complete(
        self, prompt: str, formatted: bool, **kwargs: Any
    ) -> CompletionResponseGen:
        request = self._request(prompt, formatted, kwargs)
        state = CompletionStream(request.model or self.model)

        def gen() -> CompletionResponseGen:
            for chunk in observe_stream(self.client.stream_complete(request)):
                response = state.add(chunk)
                if response is not None:
                    yield response
            yield state.last()

        return gen()

    async def _astream_complete(
        self, prompt: str, formatted: bool, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        request = self._request(prompt, formatted, kwargs)
        state = CompletionStream(request.model or self.model)

        async def gen() -> CompletionResponseAsyncGen:
            async for chunk in aobserve_stream(self.client.astream_complete(request)):
                response = state.add(chunk)
                if response is not None:
                    yield response
            yield state.last()

        return gen()

    # -- chat, derived from completion -------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The messages as one prompt (``messages_to_prompt``), completed."""
        return _as_chat(self._complete(self._prompt(messages), True, **kwargs))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        prompt = self._prompt(messages)
        return _as_chat(await self._acomplete(prompt, True, **kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the completion of the messages as one prompt."""
        completions = self._stream_complete(self._prompt(messages), True, **kwargs)
        return (_as_chat(c) for c in completions)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async twin of :meth:`stream_chat`."""
        prompt = self._prompt(messages)
        completions = await self._astream_complete(prompt, True, **kwargs)

        async def gen() -> ChatResponseAsyncGen:
            async for completion in completions:
                yield _as_chat(completion)

        return gen()


def _as_chat(completion: CompletionResponse) -> ChatResponse:
    # Not LlamaIndex's completion_response_to_chat_response: it puts the token counts on the
    # message, where they would be replayed to the model as message fields.
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content=completion.text),
        delta=completion.delta,
        raw=completion.raw,
        additional_kwargs=dict(completion.additional_kwargs),
    )
