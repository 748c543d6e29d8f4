"""The request bodies of the serving-endpoints API, built from the config file the model classes
take, and the comparison of such a body with the live endpoint. Pure: no I/O.

A body is validated by :func:`~extmodels_integrations._endpoint_config.load_endpoint_config`
(the validator the classes use, strict: fields of ours the service would refuse, such as
``anthropic_api_base``, are refused before a request is sent) and then sent as the user wrote
it, not as the parsed models dump it: those add our local defaults. Every ``*_plaintext`` value
is wrapped in ``SecretStr`` as soon as it is read, unwrapped only by :func:`reveal` when a
request is built, and shown as ``***`` everywhere else.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from extmodels_integrations import _validation
from extmodels_integrations._endpoint_config import (
    WHERE,
    EndpointConfig,
    _AiGateway,
    _CoreConfig,
    _RateLimit,
    _Route,
    _ServedEntity,
    load_endpoint_config,
)
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._files import read_config_file

__all__ = [
    "MASK",
    "BodySource",
    "compared",
    "desired_body",
    "mlflow_create_body",
    "redacted",
    "reveal",
    "validated_section",
]

MASK = "***"
BodySource = Mapping[str, Any] | str | os.PathLike[str] | EndpointConfig
"""A create body as a mapping, a path to a JSON / YAML file, or a parsed config."""

#: Top-level fields of a create body other than ``name`` and ``config``: compared with the live
#: endpoint only when the file has them (a field left out stays as it is on the endpoint).
SECTIONS = (
    "ai_gateway",
    "rate_limits",
    "tags",
    "route_optimized",
    "description",
    "budget_policy_id",
    "email_notifications",
)


def desired_body(source: BodySource, name: str | None = None) -> dict[str, Any]:
    """The create body of ``source``, validated, with ``name`` (when given) as the endpoint
    name and every ``*_plaintext`` value as ``SecretStr``."""
    if isinstance(source, EndpointConfig):
        raw: Any = _from_parsed(source)
    elif isinstance(source, (str, os.PathLike)):
        raw = read_config_file(Path(source), WHERE)
    else:
        raw = source
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{WHERE} must be a mapping (the serving-endpoint create body) or a path to a "
            f"JSON or YAML file, not {type(raw).__name__}"
        )
    body = reveal(dict(raw))  # a deep copy, plain values only, for the validator
    if name is not None:
        body["name"] = name
    # strict: a field of ours (anthropic_api_base...) would make the service refuse the body;
    # it is named here, before anything is sent.
    load_endpoint_config(body, strict=True)
    wrapped: dict[str, Any] = _wrap_plaintext(body)
    return wrapped


def mlflow_create_body(
    name: str | None, config: Mapping[str, Any] | None, route_optimized: bool | None
) -> dict[str, Any]:
    """The create body of MLflow's ``create_endpoint(name=, config=, route_optimized=)``: the
    full payload in ``config`` (the current form), or ``config`` as the core config with
    ``tags`` / ``rate_limits`` lifted to the top (the older form), as MLflow builds it."""
    given = dict(config or {})
    if "config" in given:
        if name is not None and given.get("name", name) != name:
            raise ConfigurationError(
                f"create_endpoint: name={name!r} but config['name'] is {given['name']!r}: "
                "give the name once, inside config"
            )
        body = {"name": name, **given} if name is not None else given
    else:
        extras: dict[str, Any] = {k: given.pop(k) for k in ("tags", "rate_limits") if k in given}
        body = {"name": name, "config": given, **extras}
    if route_optimized is not None:
        if body.get("route_optimized", route_optimized) != route_optimized:
            raise ConfigurationError(
                "create_endpoint: route_optimized given twice with different values: keep "
                "the one inside config"
            )
        body["route_optimized"] = route_optimized
    return body


def validated_section(section: str, value: Any) -> Any:
    """``ai_gateway`` or ``rate_limits`` on their own (the PUT calls), checked with the models
    of the create-body validator; returned with ``*_plaintext`` values wrapped."""
    model: type[BaseModel] = _AiGateway if section == "ai_gateway" else _RateLimit
    items = value if section == "rate_limits" else [value]
    if section == "rate_limits" and not isinstance(value, list):
        raise ConfigurationError(f"{WHERE}.rate_limits: must be a list of rate limits")
    for i, item in enumerate(items):
        where = f"{WHERE}.{section}" + (f"[{i}]" if section == "rate_limits" else "")
        try:
            model.model_validate(item)
        except ValidationError as exc:
            lines = _validation.problems(exc, where=where, root=model, hints={})
            raise ConfigurationError(_validation.message(where, lines)) from None
    return _wrap_plaintext(copy.deepcopy(value))


def _from_parsed(config: EndpointConfig) -> dict[str, Any]:
    # The parsed models hold our defaults; only what the user set goes back on the wire.
    body = config.to_dict()
    for entity in config.served_entities:
        block = entity.external_model.model_dump(exclude_unset=True, exclude_none=True)
        body["config"]["served_entities"][entity.index]["external_model"] = block
    return body


def _wrap_plaintext(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _wrap_plaintext(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_wrap_plaintext(v) for v in node]
    if key.endswith("_plaintext") and isinstance(node, str):
        return SecretStr(node)
    return node


def reveal(node: Any) -> Any:
    """A deep copy of ``node`` with ``SecretStr`` values unwrapped: the JSON a request sends."""
    if isinstance(node, Mapping):
        return {k: reveal(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [reveal(v) for v in node]
    if isinstance(node, SecretStr):
        return node.get_secret_value()
    return node


def redacted(node: Any, key: str = "") -> Any:
    """A deep copy of ``node`` fit to print: every secret value (``SecretStr``, a
    ``*_plaintext`` field) is ``***``."""
    if isinstance(node, Mapping):
        return {k: redacted(v, k) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [redacted(v) for v in node]
    if isinstance(node, SecretStr) or (key.endswith("_plaintext") and node is not None):
        return MASK
    return node


# -- what is compared ----------------------------------------------------------------------------


def compared(body: Mapping[str, Any], sections: tuple[str, ...]) -> dict[str, Any]:
    """``body`` (a create body or a GET answer) reduced to what a create body can say, with the
    service's defaults filled in, so a file and the live endpoint compare equal when they mean
    the same. Only ``config`` and the named ``sections`` are kept; ``*_plaintext`` values are
    left out: the workspace never returns them."""
    config = body.get("config") or {}
    out: dict[str, Any] = {"config": _core(config)}
    for section in sections:
        value = body.get(section)
        if section == "tags":
            out[section] = {t.get("key"): t.get("value") for t in value or []}
        elif section == "rate_limits":
            out[section] = [_limit(limit) for limit in value or []]
        elif section == "ai_gateway":
            gateway = _without_plaintext(value or {})
            limits = gateway.get("rate_limits")
            if limits is not None:
                gateway["rate_limits"] = [_limit(limit) for limit in limits]
            out[section] = gateway
        else:
            out[section] = _without_plaintext(value)
    return out


def _core(config: Mapping[str, Any]) -> dict[str, Any]:
    entities = [_entity(e) for e in config.get("served_entities") or []]
    out: dict[str, Any] = {"served_entities": {e["name"]: e for e in entities}}
    routes = (config.get("traffic_config") or {}).get("routes")
    if routes:
        out["traffic_config"] = {_route_name(r): r.get("traffic_percentage") for r in routes}
    elif len(entities) == 1:  # the service routes all traffic to a lone entity
        out["traffic_config"] = {entities[0]["name"]: 100}
    if config.get("auto_capture_config") is not None:
        out["auto_capture_config"] = _without_plaintext(config["auto_capture_config"])
    return out


def _entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    # The live entity adds state, creator, timestamps...: keep the fields a body can set.
    kept = {k: v for k, v in entity.items() if k in _ServedEntity.model_fields and v is not None}
    model = kept.get("external_model") or {}
    if "name" not in kept:
        kept["name"] = re.sub(r"[.:]", "-", str(model.get("name", "")))
    if model:
        kept["external_model"] = _without_plaintext(model)
    return kept


def _route_name(route: Mapping[str, Any]) -> str:
    known = {k: v for k, v in route.items() if k in _Route.model_fields}
    return str(known.get("served_model_name") or known.get("served_entity_name"))


def _limit(limit: Mapping[str, Any]) -> dict[str, Any]:
    return {"key": "endpoint", **{k: v for k, v in limit.items() if v is not None}}


def _without_plaintext(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            k: _without_plaintext(v)
            for k, v in node.items()
            if not k.endswith("_plaintext") and v is not None
        }
    if isinstance(node, list):
        return [_without_plaintext(v) for v in node]
    return node


def has_plaintext(node: Any) -> bool:
    """Whether ``node`` holds a ``SecretStr`` (a ``*_plaintext`` value the user wrote)."""
    if isinstance(node, Mapping):
        return any(has_plaintext(v) for v in node.values())
    if isinstance(node, list):
        return any(has_plaintext(v) for v in node)
    return isinstance(node, SecretStr)


def shown(value: Any) -> str:
    """A compact rendering of a (redacted) value for a diff line."""
    return json.dumps(redacted(value), sort_keys=True, default=str)


def core_fields() -> tuple[str, ...]:
    """The fields of the core config ``PUT .../config`` replaces."""
    return tuple(k for k in _CoreConfig.model_fields if k != "name")
