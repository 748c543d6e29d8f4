"""Request bodies from the unified types: OpenAI-style messages as Gemini ``contents`` and
``systemInstruction``, tools and ``toolConfig``, sampling and extra params as
``generationConfig`` or top-level ``GenerateContentRequest`` fields."""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import ConfigurationError, UnsupportedParameterError
from extmodels_integrations._types import ChatRequest, CompletionRequest, Message, call_signature
from extmodels_integrations._warn import warn_user
from extmodels_integrations.providers._base import provider_params
from extmodels_integrations.providers._reasoning import GEMINI_BUDGETS, split_effort
from extmodels_integrations.providers.vertex._errors import PROVIDER
from extmodels_integrations.providers.vertex._logprobs import split_logprobs
from extmodels_integrations.providers.vertex._schema import gemini_schema

# -- messages and tools ------------------------------------------------------------------------

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,(.*)", re.DOTALL)


def gemini_contents(messages: list[Message]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``(contents, systemInstruction)`` for OpenAI-style messages.

    System (and developer) messages form ``systemInstruction``; ``assistant`` becomes ``model``;
    tool results become ``functionResponse`` parts of a ``user`` turn, named after the call they
    answer (Gemini matches results by function name, so the name is looked up from the earlier
    assistant ``tool_calls``); consecutive turns of one role merge, since Gemini expects turns to
    alternate.
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        role = message.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            system += _parts(message.get("content"), where)
            continue
        if role == "user":
            parts = _parts(message.get("content"), where)
        elif role == "assistant":
            parts = _parts(message.get("content"), where) + _call_parts(message, names, where)
        elif role == "tool":
            parts = [_result_part(message, names, where)]
        else:
            raise ConfigurationError(
                f"{where}: role {role!r} is not one of system, developer, user, assistant, tool"
            )
        turn = "model" if role == "assistant" else "user"
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    return contents, ({"parts": system} if system else None)


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    # Vertex rejects empty text parts ("empty text parameter"), so none are sent.
    if content is None or isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise ConfigurationError(f"{where}.content must be a string or a list of parts")
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if isinstance(part, str):
            parts += [{"text": part}] if part else []
        elif isinstance(part, Mapping) and part.get("type") == "text":
            parts += [{"text": part["text"]}] if part.get("text") else []
        elif isinstance(part, Mapping) and part.get("type") == "image_url":
            parts.append(_media_part(part.get("image_url"), f"{where}.content[{j}]"))
        elif isinstance(part, Mapping) and part.get("type") == "file":
            parts.append(_file_part(part.get("file"), f"{where}.content[{j}]"))
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise UnsupportedParameterError(
                PROVIDER,
                f"{where}.content[{j}]",
                f"content parts of type {kind!r} are not sent to Gemini",
            )
    return parts


def _media_part(image: Any, where: str) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise ConfigurationError(f"{where}.image_url needs a url")
    data_url = _DATA_URL.fullmatch(url)
    if data_url:
        return {"inlineData": {"mimeType": data_url.group(1), "data": data_url.group(2)}}
    mime, _ = mimetypes.guess_type(url)
    if mime is None or not url.startswith(("gs://", "https://")):
        raise UnsupportedParameterError(
            PROVIDER,
            where,
            "Gemini takes images as base64 data: URLs, or gs:// / https:// URLs whose file "
            "extension names the type",
        )
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _file_part(file: Any, where: str) -> dict[str, Any]:
    """A document (PDF...) from an OpenAI ``file`` part: ``file_data`` a base64 data URL, or
    (as the Anthropic adapter also takes it) a gs:// or https:// URL, which Vertex reads
    itself (``fileData``; an https URL must be publicly readable)."""
    if not isinstance(file, Mapping):
        raise ConfigurationError(f"{where}.file must be an object with file_data")
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise UnsupportedParameterError(
            PROVIDER,
            f"{where}.file.file_id",
            "Vertex AI cannot read OpenAI Files API ids: send the document as file_data (a "
            "base64 data: URL, or a gs:// / https:// URL)",
        )
    data = file.get("file_data")
    if not isinstance(data, str):
        raise ConfigurationError(f"{where}.file needs file_data (a data: URL or a URL)")
    inline = _DATA_URL.fullmatch(data)
    if inline:
        return {"inlineData": {"mimeType": inline.group(1), "data": inline.group(2)}}
    mime = mimetypes.guess_type(data)[0] or mimetypes.guess_type(str(file.get("filename")))[0]
    if mime is None or not data.startswith(("gs://", "https://")):
        raise UnsupportedParameterError(
            PROVIDER,
            f"{where}.file.file_data",
            "Gemini takes documents as base64 data: URLs, or gs:// / https:// URLs whose file "
            "extension (or filename) names the type",
        )
    return {"fileData": {"mimeType": mime, "fileUri": data}}


def _call_parts(message: Message, names: dict[str, str], where: str) -> list[dict[str, Any]]:
    parts = []
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        name = function.get("name")
        raw = function.get("arguments") or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            args = None
        if not isinstance(name, str) or not isinstance(args, dict):
            raise ConfigurationError(
                f"{where}.tool_calls[{j}] needs a function name and JSON-object arguments"
            )
        if call.get("id"):
            names[call["id"]] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        # Gemini 3 refuses a signed call sent back without its signature, in its own part.
        signature = call_signature(call)
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _result_part(message: Message, names: dict[str, str], where: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    name = names.get(call_id or "") or message.get("name")
    if not name:
        raise ConfigurationError(
            f"{where}: a tool result must answer a tool call made by an earlier assistant "
            f"message (tool_call_id {call_id!r} matches none), or carry the function name"
        )
    content = message.get("content")
    text = content if isinstance(content, str) else _text_of_parts(content or [], where)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    # functionResponse.response must be a JSON object: wrap anything else.
    response = value if isinstance(value, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _text_of_parts(parts: list[Any], where: str) -> str:
    """The text of a tool result's content parts (strings or ``{"type": "text"}`` dicts).

    ``functionResponse.response`` is a JSON object, so an image or a file in a tool result has
    nowhere to go: refused, where dropping it would leave the model answering without it.
    """
    texts = []
    for j, part in enumerate(parts):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type", "text") == "text":
            texts.append(str(part.get("text") or ""))
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise UnsupportedParameterError(
                PROVIDER,
                f"{where}.content[{j}]",
                f"a tool result's {kind!r} part has no place in Gemini's functionResponse (a "
                "JSON object): return text from the tool, and send images or files in a user "
                "message",
            )
    return "".join(texts)


def gemini_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-format function tools as one Gemini ``functionDeclarations`` tool; a dict
    without ``type`` is taken as a native Gemini tool (``{"googleSearch": {}}``) and kept."""
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if "type" not in tool:
            native.append(tool)
            continue
        if tool.get("type") != "function":
            raise UnsupportedParameterError(
                PROVIDER,
                f"tools[{i}]",
                "only function tools (or native Gemini tool objects) are sent",
            )
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {"name": function.get("name")}
        if function.get("strict"):
            # Strict is a guarantee the caller cannot get here; the call itself still works.
            warn_user(
                f"tools[{i}] {function.get('name')!r}: strict dropped: Gemini function "
                "declarations have no strict mode (check the arguments yourself)"
            )
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = function.get("parameters")
        # An OBJECT with no properties is rejected; a tool without arguments has none.
        if isinstance(parameters, Mapping) and parameters.get("properties"):
            declaration["parameters"] = gemini_schema(parameters, f"tools[{i}].function.parameters")
        declarations.append(declaration)
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _tool_config(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}
    if isinstance(choice, str) and choice in modes:
        return {"functionCallingConfig": {"mode": modes[choice]}}
    name = choice if isinstance(choice, str) else (choice.get("function") or choice).get("name")
    if not isinstance(name, str):
        raise ConfigurationError(f"tool_choice {choice!r} names no function")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


# -- generation config and extra params -------------------------------------------------------

_RENAMED = {
    "top_p": "topP",
    "top_k": "topK",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "max_completion_tokens": "maxOutputTokens",
}
_REJECTED = {
    "logit_bias": "Gemini has no logit bias; remove it",
    "user": "Vertex AI has no end-user field; use extra_params labels={...} to tag requests",
}
# generationConfig fields (python-genai GenerationConfig); other extra params are top-level
# GenerateContentRequest fields (safetySettings, labels, cachedContent...).
_GENERATION_KEYS = frozenset(
    {"temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences"}
    | {"presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseSchema"}
    | {"responseJsonSchema", "responseLogprobs", "logprobs", "thinkingConfig", "mediaResolution"}
    | {"responseModalities", "audioTimestamp", "routingConfig", "speechConfig"}
)


def _body(
    contents: list[dict[str, Any]],
    generation: dict[str, Any],
    extra: Mapping[str, Any],
    *,
    completions: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": contents}
    config = {k: v for k, v in generation.items() if v is not None}
    logprobs, extra = split_logprobs(extra, completions=completions)
    config.update(logprobs)
    effort, extra = split_effort(PROVIDER, extra, "thinkingConfig")
    if effort is not None:
        # Thoughts included: asking for reasoning means wanting to see it (reasoning blocks).
        budget = GEMINI_BUDGETS[effort]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    for key, value in provider_params(
        PROVIDER, extra, renamed=_RENAMED, rejected=_REJECTED
    ).items():
        if key == "generationConfig" and isinstance(value, Mapping):
            config.update(value)
        elif key in _GENERATION_KEYS:
            config[key] = value
        else:
            body[key] = value
    if config:
        body["generationConfig"] = config
    return body


def _response_format(response_format: dict[str, Any] | None) -> dict[str, Any]:
    kind = (response_format or {}).get("type")
    if kind in (None, "text"):
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        schema = ((response_format or {}).get("json_schema") or {}).get("schema") or {}
        return {
            "responseMimeType": "application/json",
            "responseSchema": gemini_schema(schema, "response_format.json_schema.schema"),
        }
    raise UnsupportedParameterError(
        PROVIDER, "response_format", f"type {kind!r} is not text, json_object or json_schema"
    )


def _chat_body(request: ChatRequest) -> dict[str, Any]:
    contents, system = gemini_contents(request.messages)
    generation = {
        "temperature": request.temperature,
        "maxOutputTokens": request.max_tokens,
        "stopSequences": request.stop or None,
        "candidateCount": request.n,
        **_response_format(request.response_format),
    }
    body = _body(contents, generation, request.extra_params)
    if system is not None:
        body["systemInstruction"] = system
    if request.tools:
        if request.parallel_tool_calls_switch() is False:
            raise UnsupportedParameterError(
                PROVIDER,
                "parallel_tool_calls",
                "Gemini cannot be limited to one tool call per turn; leave it unset",
            )
        body["tools"] = gemini_tools(request.tools)
        tool_config = _tool_config(request.tool_choice)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    return body


def _completion_body(request: CompletionRequest) -> dict[str, Any]:
    prompts = [request.prompt] if isinstance(request.prompt, str) else list(request.prompt)
    if len(prompts) != 1:
        raise UnsupportedParameterError(
            PROVIDER,
            "prompt",
            f"Gemini answers one prompt per request, not {len(prompts)}: send them one at a "
            "time (CompletionExternal(batch_size=1))",
        )
    generation = {
        "temperature": request.temperature,
        "maxOutputTokens": request.max_tokens,
        "stopSequences": request.stop or None,
        "candidateCount": request.n,
    }
    contents = [{"role": "user", "parts": [{"text": prompts[0]}]}]
    return _body(contents, generation, request.extra_params, completions=True)
