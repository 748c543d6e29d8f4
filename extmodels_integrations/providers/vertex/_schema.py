"""JSON schema -> Vertex ``Schema`` (an OpenAPI 3.0 subset): what converts exactly is converted,
what has no counterpart is refused with the keyword's path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from extmodels_integrations._exceptions import UnsupportedParameterError
from extmodels_integrations.providers.vertex._errors import PROVIDER

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
        """``anyOf`` / ``oneOf`` and ``type`` of ``node`` in Gemini's terms, into ``out``."""
        if node.get("anyOf", node.get("oneOf")) is not None:
            self._alternatives(node, out, where, refs)
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

    def _alternatives(
        self, node: Mapping[str, Any], out: dict[str, Any], where: str, refs: tuple[str, ...]
    ) -> None:
        # oneOf ("exactly one") becomes anyOf: for generation the two ask the same.
        key = "anyOf" if "anyOf" in node else "oneOf"
        options = node[key]
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
