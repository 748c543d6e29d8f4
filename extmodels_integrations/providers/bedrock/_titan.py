"""``bedrock_provider: amazon``: Titan text (``inputText`` + ``textGenerationConfig``, a chat as a
"User: ... Bot:" transcript) and Titan embeddings (one text per call)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import (
    ConfigurationError,
    MalformedResponseError,
    UnsupportedParameterError,
)
from extmodels_integrations._types import (
    ChatChoice,
    ChatChunk,
    ChatChunkChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Message,
    Usage,
)
from extmodels_integrations.providers._base import ParsedStream, provider_params
from extmodels_integrations.providers.bedrock._common import (
    NO_REASONING,
    PROVIDER,
    _Dialect,
    _finish,
    _one_prompt,
    _reject_n,
    _text,
)
from extmodels_integrations.providers.bedrock._stream import _event_stream

# Titan completionReason values (AWS "Amazon Titan Text models" page; MLflow's fixture uses
# FINISH, the AWS page FINISHED).
_TITAN_FINISH = {
    "FINISH": "stop",
    "FINISHED": "stop",
    "STOP_CRITERIA_MET": "stop",
    "LENGTH": "length",
    "CONTENT_FILTERED": "content_filter",
}
# AWS: "you can only specify one of the following options: |, User:" (LiteLLM's filter regex
# ^(\|+|User:)$ also admits runs of '|').
_TITAN_STOPS = ("|", "User:")
# textGenerationConfig takes temperature, topP, maxTokenCount and stopSequences only (AWS "Amazon
# Titan Text models"); Bedrock refuses any other key ("extraneous key"), so the OpenAI names it
# lacks are refused here, with the fix, before anything is sent.
_TITAN_LACKS = {
    **NO_REASONING,
    "top_k": "Titan text has no top-k sampling; use top_p",
    **dict.fromkeys(
        ("logprobs", "top_logprobs"), "Titan text returns no log probabilities; remove it"
    ),
    **dict.fromkeys(
        ("presence_penalty", "frequency_penalty", "logit_bias", "seed", "user"),
        "Titan text's textGenerationConfig has only temperature, top_p, max_tokens and stop; "
        "remove it",
    ),
}


def _titan_stop_ok(stop: str) -> bool:
    return stop == "User:" or (bool(stop) and set(stop) == {"|"})


class _Titan(_Dialect):
    name = "amazon"
    embedding_batch_size = 1  # inputText is one string: one text per call

    def _body(
        self, text: str, max_tokens: int | None, temperature: float | None, stop: Any, extra: Any
    ) -> dict[str, Any]:
        bad = [s for s in stop or () if not _titan_stop_ok(s)]
        if bad:
            raise UnsupportedParameterError(
                PROVIDER,
                "stop",
                f"Titan text models accept only {' or '.join(map(repr, _TITAN_STOPS))} (or runs "
                f"of '|') as stop sequences, not {bad[0]!r}",
            )
        config: dict[str, Any] = {}
        if max_tokens is not None:
            config["maxTokenCount"] = max_tokens
        if temperature is not None:
            config["temperature"] = temperature
        if stop:
            config["stopSequences"] = list(stop)
        config.update(
            provider_params(PROVIDER, extra, renamed={"top_p": "topP"}, rejected=_TITAN_LACKS)
        )
        body: dict[str, Any] = {"inputText": text}
        if config:
            body["textGenerationConfig"] = config
        return body

    def chat_body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        _reject_n(request.n, "Titan")
        for name in ("tools", "response_format"):
            if getattr(request, name):
                raise UnsupportedParameterError(PROVIDER, name, "Titan text models lack it")
        prompt = _titan_transcript(request.messages)
        return self._body(
            prompt, request.max_tokens, request.temperature, request.stop, request.extra_params
        )

    def completion_body(
        self, request: CompletionRequest, model: str, stream: bool
    ) -> dict[str, Any]:
        _reject_n(request.n, "Titan")
        prompt = _one_prompt(request.prompt)
        return self._body(
            prompt, request.max_tokens, request.temperature, request.stop, request.extra_params
        )

    def _results(self, data: Any) -> tuple[list[tuple[str, str | None]], Usage]:
        try:
            results = [
                (r.get("outputText") or "", _finish(_TITAN_FINISH, r.get("completionReason")))
                for r in data["results"]
            ]
            usage = Usage(
                prompt_tokens=int(data.get("inputTextTokenCount") or 0),
                completion_tokens=sum(int(r.get("tokenCount") or 0) for r in data["results"]),
            ).completed()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"unexpected Titan response: {exc!r}", provider=PROVIDER
            ) from None
        return results, usage

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        results, usage = self._results(data)
        choices = [ChatChoice(i, text, finish_reason=f) for i, (text, f) in enumerate(results)]
        return ChatResponse(None, None, choices, usage, PROVIDER)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        results, usage = self._results(data)
        choices = [CompletionChoice(i, text, f) for i, (text, f) in enumerate(results)]
        return CompletionResponse(None, None, choices, usage, PROVIDER)

    def chat_stream(self, model: str) -> ParsedStream[Any, ChatChunk]:
        state = _Finished()

        def parse(event: dict[str, Any]) -> ChatChunk | None:
            text, finish = state.titan(event)
            return ChatChunk(None, None, [ChatChunkChoice(0, text, None, finish)], None, PROVIDER)

        return _event_stream(parse, state.check, ChatChunk)

    def completion_stream(self, model: str) -> ParsedStream[Any, CompletionChunk]:
        state = _Finished()

        def parse(event: dict[str, Any]) -> CompletionChunk | None:
            text, finish = state.titan(event)
            return CompletionChunk(None, None, [CompletionChoice(0, text, finish)], None, PROVIDER)

        return _event_stream(parse, state.check, CompletionChunk)

    def embeddings_body(self, request: EmbeddingsRequest) -> dict[str, Any]:
        if len(request.input) != 1:
            raise ConfigurationError("Titan embeddings take one text per call")
        # dimensions / normalize / embeddingTypes (v2) pass through as given.
        return {"inputText": request.input[0], **provider_params(PROVIDER, request.extra_params)}

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        try:
            vector = data["embedding"]
            tokens = int(data.get("inputTextTokenCount") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"unexpected Titan embeddings response: {exc!r}", provider=PROVIDER
            ) from None
        return EmbeddingsResponse([vector], None, Usage(tokens, 0, tokens), PROVIDER)


def _titan_transcript(messages: list[Message]) -> str:
    """A chat flattened into Titan's ``inputText`` in the "User: ...\\nBot:" form AWS
    recommends; system text leads."""
    lines: list[str] = []
    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role == "system":
            lines.append(text)
        elif role == "user":
            lines.append(f"User: {text}")
        elif role == "assistant" and not message.get("tool_calls"):
            lines.append(f"Bot: {text}")
        else:
            raise UnsupportedParameterError(
                PROVIDER, "tools", "Titan text models cannot take tool calls or tool results"
            )
    lines.append("Bot:")
    return "\n".join(lines)


class _Finished:
    """Remembers whether a stream reached its finishing event, to tell a cut stream apart."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    def titan(self, event: Mapping[str, Any]) -> tuple[str, str | None]:
        finish = _finish(_TITAN_FINISH, event.get("completionReason"))
        self.done = self.done or finish is not None
        return event.get("outputText") or "", finish

    def check(self) -> None:
        if not self.done:
            raise MalformedResponseError(
                "stream ended before the model finished; the connection was probably cut",
                provider=PROVIDER,
            )
