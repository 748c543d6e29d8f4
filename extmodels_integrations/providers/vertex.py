"""The ``google-cloud-vertex-ai`` provider: Gemini chat and completions through
``generateContent`` / ``streamGenerateContent?alt=sse``, text embeddings through ``predict``.

URLs are ``{base}/v1/projects/{project_id}/locations/{region}/publishers/google/models/
{model}:{method}``, ``base`` being ``https://{region}-aiplatform.googleapis.com`` (or
``https://aiplatform.googleapis.com`` for ``region="global"``, as MLflow's vertex_ai.py does),
unless ``vertex_api_base`` overrides it. Auth is a service-account token (``_google_auth``).

Wire facts were checked against python-genai (``types.py``: FinishReason, usage fields,
FunctionCallingConfigMode), MLflow's gateway (``gemini.py`` / ``vertex_ai.py`` and their tests),
the Vertex v1 REST reference (``GoogleCloudAiplatformV1Schema`` fields) and the Vertex
"Get text embeddings" page (batch limits).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from extmodels_integrations._auth import Auth
from extmodels_integrations._config import ExternalModel, GoogleCloudVertexAiConfig
from extmodels_integrations._exceptions import (
    APIError,
    ConfigurationError,
    ContentFilterError,
    ContextWindowExceededError,
    StreamError,
    UnsupportedParameterError,
)
from extmodels_integrations._secrets import SecretResolver
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
    Task,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from extmodels_integrations._wire import HttpRequest, SSEEvent
from extmodels_integrations.providers._base import (
    Adapter,
    ParsedStream,
    error_for_status,
    loads,
    provider_params,
    sse_stream,
)
from extmodels_integrations.providers._google_auth import (
    ServiceAccountTokenAuth,
    parse_service_account_key,
)

__all__ = [
    "ChatStreamParser",
    "CompletionStreamParser",
    "VertexAdapter",
    "build",
    "embedding_batch_limit",
    "gemini_contents",
    "gemini_schema",
    "gemini_tools",
    "map_error",
    "parse_chat",
    "parse_completion",
    "parse_usage",
    "tool_call_id",
    "vertex_base_url",
]

PROVIDER = "google-cloud-vertex-ai"

# -- targets -----------------------------------------------------------------------------------


def vertex_base_url(region: str, api_base: str | None = None) -> str:
    """Scheme and host calls go to: the override, else the regional (or global) host."""
    if api_base:
        return api_base.rstrip("/")
    if region == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{region}-aiplatform.googleapis.com"


def embedding_batch_limit(model: str) -> int:
    """Most texts one ``predict`` call takes for ``model`` (Vertex "Get text embeddings":
    250 per request, but one for gemini-embedding-001; the retired gecko models took 5).
    The 20,000-input-token cap per request cannot be checked here (no tokenizer)."""
    name = model.lower()
    if name.startswith("gemini-embedding"):
        return 1
    if name.startswith("textembedding-gecko"):
        return 5
    return 250


# -- JSON schema -> Vertex Schema ----------------------------------------------------------------

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
# Keywords of the Vertex v1 Schema (an OpenAPI 3.0 subset) copied as they are.
_COPIED = frozenset(
    {
        "title",
        "description",
        "default",
        "example",
        "nullable",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "propertyOrdering",
    }
)
# Annotations with no effect on which values are valid: dropped without changing the meaning.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "examples", "deprecated", "readOnly"}
    | {"writeOnly", "contentMediaType"}
)
# The formats Vertex documents per type; JSON Schema treats format as an annotation, so
# others are dropped rather than sent to be rejected.
_FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
_HANDLED = frozenset(
    {"type", "$ref", "allOf", "anyOf", "oneOf", "const", "enum", "format", "properties"}
    | {"items", "additionalProperties", "exclusiveMinimum", "exclusiveMaximum"}
)


def gemini_schema(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A JSON schema as a Vertex ``Schema``: converts what has an exact counterpart (local
    ``$ref``s inlined, ``anyOf``/type lists with ``null`` -> ``nullable``, ``const`` -> one-value
    ``enum``, integer exclusive bounds -> inclusive ones, ``additionalProperties: false``
    dropped since Gemini only produces declared properties) and raises
    :class:`UnsupportedParameterError` naming the keyword's path for what has none
    (``multipleOf``, ``not``, tuple ``items``, recursive ``$ref``...).
    """
    return _SchemaConverter(schema).convert(schema, where, ())


class _SchemaConverter:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def refuse(self, where: str, why: str) -> UnsupportedParameterError:
        return UnsupportedParameterError(
            PROVIDER, where, f"{why}; Vertex AI schemas are an OpenAPI 3.0 subset"
        )

    def resolve(self, ref: Any, where: str) -> Mapping[str, Any]:
        match = (
            re.fullmatch(r"#/(\$defs|definitions)/([^/]+)", ref) if isinstance(ref, str) else None
        )
        target = (self.root.get(match.group(1)) or {}).get(match.group(2)) if match else None
        if not isinstance(target, Mapping):
            raise self.refuse(where, f"only local #/$defs/<name> references resolve, not {ref!r}")
        return target

    def convert(self, node: Any, where: str, refs: tuple[str, ...]) -> dict[str, Any]:
        if node is True or node == {}:
            return {}
        if not isinstance(node, Mapping):
            raise self.refuse(where, "a schema must be an object")
        if "$ref" in node:
            ref = node["$ref"]
            if ref in refs:
                raise self.refuse(f"{where}.$ref", f"{ref} refers to itself (a recursive schema)")
            merged = {**self.resolve(ref, f"{where}.$ref"), **node}
            del merged["$ref"]
            return self.convert(merged, where, (*refs, ref))
        if "allOf" in node:
            parts = node["allOf"]
            if not isinstance(parts, list) or len(parts) != 1:
                raise self.refuse(f"{where}.allOf", "only a one-element allOf can be merged")
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.convert(
                {**self.sub(parts[0], f"{where}.allOf[0]", refs), **rest}, where, refs
            )
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _COPIED:
                out[key] = value
            elif key not in _HANDLED and key not in _ANNOTATIONS:
                raise self.refuse(f"{where}.{key}", f"'{key}' has no Vertex AI equivalent")
        self.types(node, out, where, refs)
        self.values(node, out, where)
        self.children(node, out, where, refs)
        return out

    def sub(self, node: Any, where: str, refs: tuple[str, ...]) -> Mapping[str, Any]:
        """A subschema with its ``$ref`` resolved (for merging), not yet converted."""
        if isinstance(node, Mapping) and "$ref" in node:
            return {
                **self.resolve(node["$ref"], where),
                **{k: v for k, v in node.items() if k != "$ref"},
            }
        if not isinstance(node, Mapping):
            raise self.refuse(where, "a schema must be an object")
        return node

    def types(
        self, node: Mapping[str, Any], out: dict[str, Any], where: str, refs: tuple[str, ...]
    ) -> None:
        options = node.get("anyOf", node.get("oneOf"))
        if options is not None:
            # oneOf ("exactly one") becomes anyOf: for generation the two ask the same.
            key = "anyOf" if "anyOf" in node else "oneOf"
            if "anyOf" in node and "oneOf" in node:
                raise self.refuse(f"{where}.oneOf", "anyOf and oneOf together cannot be merged")
            if not isinstance(options, list):
                raise self.refuse(f"{where}.{key}", f"{key} must be a list")
            kept = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if not kept:
                raise self.refuse(f"{where}.{key}", f"{key} needs a non-null alternative")
            if len(kept) < len(options):
                out["nullable"] = True
            converted = [self.convert(o, f"{where}.{key}[{i}]", refs) for i, o in enumerate(kept)]
            if len(converted) == 1:
                out.update({k: v for k, v in converted[0].items() if k not in out})
            else:
                out["anyOf"] = converted
        kind = node.get("type")
        if kind is None:
            return
        kinds = kind if isinstance(kind, list) else [kind]
        if "null" in kinds:
            out["nullable"] = True
        named = [k for k in kinds if k != "null"]
        unknown = [k for k in named if k not in _TYPES]
        if unknown or not named:
            raise self.refuse(f"{where}.type", f"type {kind!r} cannot be expressed")
        if len(named) == 1:
            out["type"] = _TYPES[named[0]]
        else:
            out["anyOf"] = [{"type": _TYPES[k]} for k in named]

    def values(self, node: Mapping[str, Any], out: dict[str, Any], where: str) -> None:
        values = [node["const"]] if "const" in node else node.get("enum")
        if values is not None:
            if None in values:
                out["nullable"] = True
            strings = [v for v in values if v is not None]
            if (
                not all(isinstance(v, str) for v in strings)
                or out.get("type", "STRING") != "STRING"
            ):
                key = "const" if "const" in node else "enum"
                raise self.refuse(f"{where}.{key}", "Vertex AI enums hold strings only")
            out["type"], out["enum"] = "STRING", strings
        fmt = node.get("format")
        if fmt in _FORMATS.get(out.get("type", ""), ()):
            out["format"] = fmt
        for key, bound, step in (
            ("exclusiveMinimum", "minimum", 1),
            ("exclusiveMaximum", "maximum", -1),
        ):
            if key in node:
                limit = node[key]
                if (
                    out.get("type") != "INTEGER"
                    or not isinstance(limit, int)
                    or isinstance(limit, bool)
                ):
                    raise self.refuse(
                        f"{where}.{key}",
                        f"an exclusive bound is exact only for integers: use {bound} instead",
                    )
                out[bound] = limit + step

    def children(
        self, node: Mapping[str, Any], out: dict[str, Any], where: str, refs: tuple[str, ...]
    ) -> None:
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            out["properties"] = {
                name: self.convert(sub, f"{where}.properties.{name}", refs)
                for name, sub in properties.items()
            }
        if "items" in node:
            if isinstance(node["items"], list):
                raise self.refuse(
                    f"{where}.items", "tuple-style items (a list) cannot be expressed"
                )
            out["items"] = self.convert(node["items"], f"{where}.items", refs)
        extra = node.get("additionalProperties")
        if extra is not None and extra is not False:
            out["additionalProperties"] = (
                True
                if extra is True
                else self.convert(extra, f"{where}.additionalProperties", refs)
            )


# -- messages and tools ------------------------------------------------------------------------


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
    data_url = re.fullmatch(r"data:([\w.+-]+/[\w.+-]+);base64,(.*)", url, re.DOTALL)
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
        parts.append({"functionCall": {"name": name, "args": args}})
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
    text = content if isinstance(content, str) else _text_of_parts(content or [])
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    # functionResponse.response must be a JSON object: wrap anything else.
    response = value if isinstance(value, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _text_of_parts(parts: list[Any]) -> str:
    """The text of a list of content parts (strings or ``{"type": "text"}`` dicts)."""
    return "".join(p if isinstance(p, str) else str(p.get("text") or "") for p in parts)


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
) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": contents}
    config = {k: v for k, v in generation.items() if v is not None}
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
        if request.parallel_tool_calls is False:
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
    return _body(contents, generation, request.extra_params)


# -- responses ---------------------------------------------------------------------------------

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
    | {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
)
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def _finish_reason(value: Any, called: bool) -> str | None:
    """Gemini reports STOP after function calls too; a candidate with calls ended for them."""
    if value is None:
        return None
    if called and value == "STOP":
        return "tool_calls"
    return "content_filter" if value in _FILTERED else _FINISH.get(value, value)


def parse_usage(metadata: Any) -> Usage | None:
    """Unified usage from ``usageMetadata``; completion tokens include thinking tokens, as
    OpenAI counts reasoning tokens, so prompt + completion matches ``totalTokenCount``."""
    if not isinstance(metadata, Mapping):
        return None
    thoughts = metadata.get("thoughtsTokenCount")
    cached = metadata.get("cachedContentTokenCount")
    return Usage(
        prompt_tokens=int(metadata.get("promptTokenCount") or 0),
        completion_tokens=int(metadata.get("candidatesTokenCount") or 0) + int(thoughts or 0),
        total_tokens=int(metadata.get("totalTokenCount") or 0),
        cache_read_tokens=None if cached is None else int(cached),
        reasoning_tokens=None if thoughts is None else int(thoughts),
    ).completed()


def tool_call_id(
    response_id: str | None, candidate: int, ordinal: int, call: Mapping[str, Any]
) -> str:
    """A made-up call id (Gemini gives none): a hash of the response id, the call's place and
    its content, so the same response always yields the same ids, streamed or not."""
    key = json.dumps(
        [response_id, candidate, ordinal, call.get("name"), call.get("args")], sort_keys=True
    )
    return "call_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _check_blocked(data: Mapping[str, Any]) -> None:
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if reason and not data.get("candidates"):
        detail = feedback.get("blockReasonMessage") or "the prompt was blocked"
        raise ContentFilterError(f"{detail} ({reason})", provider=PROVIDER, code=str(reason))


class _Candidate:
    """What one candidate part list holds: visible text, thought text and function calls."""

    __slots__ = ("calls", "reasoning", "text")

    def __init__(self, candidate: Mapping[str, Any]) -> None:
        text: list[str] = []
        reasoning: list[str] = []
        self.calls: list[Mapping[str, Any]] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                self.calls.append(part["functionCall"])
            elif isinstance(part.get("text"), str):
                (reasoning if part.get("thought") else text).append(part["text"])
        self.text = "".join(text) or None
        self.reasoning = "".join(reasoning) or None


def _candidates(data: Any) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(data, Mapping):
        raise StreamError(f"unexpected Vertex AI response: {str(data)[:200]!r}", provider=PROVIDER)
    _check_blocked(data)
    return [(c.get("index", i), c) for i, c in enumerate(data.get("candidates") or [])]


def parse_chat(data: Any) -> ChatResponse:
    """A unified chat response from a ``GenerateContentResponse``."""
    response_id = data.get("responseId") if isinstance(data, Mapping) else None
    choices = []
    for index, candidate in _candidates(data):
        parsed = _Candidate(candidate)
        calls = [
            ToolCall(
                tool_call_id(response_id, index, k, c),
                str(c.get("name")),
                json.dumps(c.get("args") or {}),
            )
            for k, c in enumerate(parsed.calls)
        ]
        finish = _finish_reason(candidate.get("finishReason"), bool(calls))
        choices.append(ChatChoice(index, parsed.text, calls, finish, parsed.reasoning))
    return ChatResponse(
        response_id,
        data.get("modelVersion"),
        choices,
        parse_usage(data.get("usageMetadata")),
        PROVIDER,
    )


def parse_completion(data: Any) -> CompletionResponse:
    """A unified completions response from a ``GenerateContentResponse``."""
    choices = [
        CompletionChoice(
            index, _Candidate(c).text or "", _finish_reason(c.get("finishReason"), False)
        )
        for index, c in _candidates(data)
    ]
    return CompletionResponse(
        data.get("responseId"),
        data.get("modelVersion"),
        choices,
        parse_usage(data.get("usageMetadata")),
        PROVIDER,
    )


class _StreamParser:
    """Shared state of a ``streamGenerateContent`` stream.

    Usage is cumulative on every chunk that has it; the merged latest view is attached, and the
    client keeps the newest, so it is counted once. Call ordinals run over the whole stream per
    candidate so ids match the non-streamed ones.
    """

    __slots__ = ("_called", "_finished", "_id", "_model", "_ordinals", "_usage", "_with_usage")

    def __init__(self, with_usage: bool) -> None:
        self._with_usage = with_usage
        self._usage: dict[str, Any] = {}
        self._ordinals: dict[int, int] = {}
        self._called: set[int] = set()
        self._id: str | None = None
        self._model: str | None = None
        self._finished = False

    def _data(self, event: SSEEvent) -> Mapping[str, Any]:
        data = loads(event.data, PROVIDER)
        if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
            raise _error_from(
                data["error"], int(data["error"].get("code") or 500), event.data.encode()
            )
        if not isinstance(data, Mapping):
            raise StreamError(f"unexpected stream event: {event.data[:200]!r}", provider=PROVIDER)
        self._id = data.get("responseId") or self._id
        self._model = data.get("modelVersion") or self._model
        return data

    def _usage_of(self, data: Mapping[str, Any]) -> Usage | None:
        metadata = data.get("usageMetadata")
        if not self._with_usage or not isinstance(metadata, Mapping):
            return None
        self._usage.update(metadata)
        return parse_usage(self._usage)

    def _deltas(self, index: int, calls: list[Mapping[str, Any]]) -> list[ToolCallDelta] | None:
        if not calls:
            return None
        self._called.add(index)
        deltas = []
        for call in calls:
            ordinal = self._ordinals.get(index, 0)
            self._ordinals[index] = ordinal + 1
            call_id = tool_call_id(self._id, index, ordinal, call)
            deltas.append(
                ToolCallDelta(
                    ordinal, call_id, str(call.get("name")), json.dumps(call.get("args") or {})
                )
            )
        return deltas

    def _finish(self, index: int, candidate: Mapping[str, Any]) -> str | None:
        finish = _finish_reason(candidate.get("finishReason"), index in self._called)
        self._finished = self._finished or finish is not None
        return finish

    def finish(self) -> None:
        if not self._finished:
            raise StreamError(
                "stream ended before the model finished (no finishReason); the connection was "
                "probably cut",
                provider=PROVIDER,
            )


class ChatStreamParser(_StreamParser):
    """Parses ``streamGenerateContent`` events into chat chunks."""

    __slots__ = ()

    def parse(self, event: SSEEvent) -> ChatChunk | None:
        data = self._data(event)
        choices = []
        for index, candidate in _candidates(data):
            parsed = _Candidate(candidate)
            calls = self._deltas(index, parsed.calls)
            finish = self._finish(index, candidate)
            choices.append(
                ChatChunkChoice(index, parsed.text, calls, finish, parsed.reasoning, "assistant")
            )
        usage = self._usage_of(data)
        if not choices and usage is None:
            return None
        return ChatChunk(self._id, self._model, choices, usage, PROVIDER)


class CompletionStreamParser(_StreamParser):
    """Parses ``streamGenerateContent`` events into completion chunks."""

    __slots__ = ()

    def parse(self, event: SSEEvent) -> CompletionChunk | None:
        data = self._data(event)
        choices = [
            CompletionChoice(index, _Candidate(c).text or "", self._finish(index, c))
            for index, c in _candidates(data)
        ]
        usage = self._usage_of(data)
        if not choices and usage is None:
            return None
        return CompletionChunk(self._id, self._model, choices, usage, PROVIDER)


# -- errors ------------------------------------------------------------------------------------

_CONTEXT = re.compile(r"exceeds the maximum number of tokens|input token count", re.IGNORECASE)


def _retry_delay(details: Any) -> float | None:
    # google.rpc.RetryInfo carries the advised wait as a Duration string ("30s").
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
            return float(delay[:-1])
    return None


def _error_from(error: Mapping[str, Any], status: int, body: bytes) -> APIError:
    message = str(error.get("message") or f"HTTP {status}")
    code = error.get("status")
    result = error_for_status(
        status, message, provider=PROVIDER, code=str(code) if code else None, body=body
    )
    if status == 400 and _CONTEXT.search(message):
        result = ContextWindowExceededError(
            message, provider=PROVIDER, status_code=status, code=result.code, body=result.body
        )
    result.retry_after = _retry_delay(error.get("details"))
    return result


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for Google's ``{"error": {"code", "message", "status", "details"}}``
    (also when wrapped in a list, as non-SSE streams send it)."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        text = body[:500].decode("utf-8", "replace") or f"HTTP {status}"
        return error_for_status(status, text, provider=PROVIDER, body=body)
    return _error_from(error, status, body)


# -- adapter -----------------------------------------------------------------------------------

_TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
_INSTANCE_KEYS = ("task_type", "title")
_EMBEDDING_RENAMED = {
    "dimensions": "outputDimensionality",
    "output_dimensionality": "outputDimensionality",
    "auto_truncate": "autoTruncate",
}


class VertexAdapter(Adapter):
    """Gemini on Vertex AI (chat, completions) and Vertex text embeddings."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        task: Task | None,
        auth: Auth,
        project_id: str,
        region: str,
        api_base: str | None = None,
        stream_usage: bool = True,
    ) -> None:
        super().__init__(model=model, task=task, auth=auth)
        self.project_id = project_id
        self.region = region
        self.base_url = vertex_base_url(region, api_base)
        self.stream_usage = stream_usage
        self.embedding_batch_size = embedding_batch_limit(model)

    def url(self, model: str | None, method: str) -> str:
        """``.../publishers/google/models/{model}:{method}`` for this project and region."""
        project, region = quote(self.project_id, safe=""), quote(self.region, safe="")
        name = quote(model or self.model, safe="@")
        return (
            f"{self.base_url}/v1/projects/{project}/locations/{region}"
            f"/publishers/google/models/{name}:{method}"
        )

    def _generate(self, body: dict[str, Any], model: str | None, stream: bool) -> HttpRequest:
        if stream:
            return HttpRequest(
                url=self.url(model, "streamGenerateContent"), json=body, params={"alt": "sse"}
            )
        return HttpRequest(url=self.url(model, "generateContent"), json=body)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return self._generate(_chat_body(request), request.model, stream)

    def parse_chat(self, data: Any, headers: Mapping[str, str]) -> ChatResponse:
        return parse_chat(data)

    def chat_stream(self) -> ParsedStream[SSEEvent, ChatChunk]:
        return sse_stream(ChatStreamParser(self.stream_usage))

    def completion_request(self, request: CompletionRequest, *, stream: bool) -> HttpRequest:
        return self._generate(_completion_body(request), request.model, stream)

    def parse_completion(self, data: Any, headers: Mapping[str, str]) -> CompletionResponse:
        return parse_completion(data)

    def completion_stream(self) -> ParsedStream[SSEEvent, CompletionChunk]:
        return sse_stream(CompletionStreamParser(self.stream_usage))

    def embeddings_request(self, request: EmbeddingsRequest) -> HttpRequest:
        extra = dict(request.extra_params)
        instance = {"task_type": _TASK_TYPES[request.input_kind]}
        instance.update({k: extra.pop(k) for k in _INSTANCE_KEYS if k in extra})
        body: dict[str, Any] = {
            "instances": [{"content": text, **instance} for text in request.input]
        }
        parameters = provider_params(PROVIDER, extra, renamed=_EMBEDDING_RENAMED)
        if parameters:
            body["parameters"] = parameters
        return HttpRequest(url=self.url(request.model, "predict"), json=body)

    def parse_embeddings(self, data: Any, headers: Mapping[str, str]) -> EmbeddingsResponse:
        try:
            found = [p["embeddings"] for p in data["predictions"]]
            vectors = [[float(x) for x in e["values"]] for e in found]
            tokens = sum(int((e.get("statistics") or {}).get("token_count") or 0) for e in found)
        except (KeyError, TypeError, ValueError):
            raise StreamError(
                "Vertex AI predict response has no predictions[].embeddings.values",
                provider=PROVIDER,
            ) from None
        return EmbeddingsResponse(vectors, None, Usage(tokens, 0, tokens), PROVIDER)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> APIError:
        return map_error(status, headers, body)


def build(model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool) -> VertexAdapter:
    """The adapter for a ``google-cloud-vertex-ai`` external model, its key read and checked."""
    config = model.provider_config
    assert isinstance(config, GoogleCloudVertexAiConfig)
    secret = config.secret("private_key", resolver)
    assert secret is not None  # validation requires private_key or private_key_plaintext
    auth = ServiceAccountTokenAuth(parse_service_account_key(secret), secret=secret)
    return VertexAdapter(
        model=model.name,
        task=model.task,
        auth=auth,
        project_id=config.project_id,
        region=config.region,
        api_base=config.vertex_api_base,
        stream_usage=stream_usage,
    )
