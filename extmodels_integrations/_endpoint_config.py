"""The body that creates a serving endpoint, validated the way the service validates it.

Field names follow the serving-endpoints create API as databricks-sdk-py models it
(``databricks/sdk/service/serving.py``: ``ServingEndpointsAPI.create(name, ai_gateway, config,
rate_limits, tags, ...)``, ``EndpointCoreConfigInput``, ``ServedEntityInput``, ``TrafficConfig`` /
``Route``, ``RateLimit``, ``AiGatewayConfig`` / ``AiGatewayRateLimit`` / ``FallbackConfig``,
``EndpointTag``). Rules taken from the SDK's field docs: a served entity name defaults to
``external_model.name`` with ``.`` and ``:`` replaced by ``-`` and may hold only letters, digits,
``-`` and ``_``; ``external_model`` excludes the registered-model fields (``entity_name``,
``entity_version``, ``workload_size``, ``workload_type``, ``scale_to_zero_enabled``); all external
models of an endpoint share one task; an endpoint serves at most ten entities; a rate limit's
``key`` defaults to ``endpoint`` and ``renewal_period`` is only ``minute``; route percentages are
integers from 0 to 100.

Fields that only matter on the service (inference tables, guardrails, usage tracking, email
notifications, budget policy, route optimization, tags) are validated for shape and kept, so the
same file deploys unchanged, but have no local effect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

from . import _validation
from ._config import CONFIG_KEYS, ExternalModel, validate_external_model
from ._exceptions import ConfigurationError
from ._files import read_config_file
from ._provider_configs import check_deployable
from ._types import Task

__all__ = [
    "EndpointConfig",
    "EndpointConfigSource",
    "RateLimit",
    "ServedEntity",
    "load_endpoint_config",
]

WHERE = "endpoint_config"
MAX_SERVED_ENTITIES = 10
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Registered-model fields that the SDK says cannot be combined with external_model.
_OTHER_KIND_FIELDS = (
    "entity_name",
    "entity_version",
    "workload_size",
    "workload_type",
    "scale_to_zero_enabled",
    "min_provisioned_throughput",
    "max_provisioned_throughput",
    "min_provisioned_concurrency",
    "max_provisioned_concurrency",
    "provisioned_model_units",
)

_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)


class _Route(BaseModel):
    model_config = _MODEL
    served_model_name: str | None = None
    served_entity_name: str | None = None
    traffic_percentage: StrictInt


class _TrafficConfig(BaseModel):
    model_config = _MODEL
    routes: list[_Route] | None = None


class _ServedEntity(BaseModel):
    model_config = _MODEL
    name: str | None = None
    # Kept raw here and parsed with validate_external_model, whose messages name every field.
    external_model: dict[str, Any] | None = None
    environment_vars: dict[str, str] | None = None
    instance_profile_arn: str | None = None
    entity_name: str | None = None
    entity_version: str | None = None
    workload_size: str | None = None
    workload_type: str | None = None
    scale_to_zero_enabled: bool | None = None
    min_provisioned_throughput: int | None = None
    max_provisioned_throughput: int | None = None
    min_provisioned_concurrency: int | None = None
    max_provisioned_concurrency: int | None = None
    provisioned_model_units: int | None = None


class _CoreConfig(BaseModel):
    model_config = _MODEL
    name: str | None = None
    served_entities: list[_ServedEntity] | None = None
    served_models: list[dict[str, Any]] | None = None
    traffic_config: _TrafficConfig | None = None
    auto_capture_config: dict[str, Any] | None = None


class _RateLimit(BaseModel):
    model_config = _MODEL
    calls: StrictInt
    key: Literal["user", "endpoint"] = "endpoint"
    renewal_period: Literal["minute"]


class _GatewayRateLimit(BaseModel):
    model_config = _MODEL
    calls: StrictInt | None = None
    tokens: StrictInt | None = None
    key: Literal["endpoint", "user", "user_group", "service_principal"] = "endpoint"
    principal: str | None = None
    renewal_period: Literal["minute"]


class _FallbackConfig(BaseModel):
    model_config = _MODEL
    enabled: StrictBool


class _AiGateway(BaseModel):
    model_config = _MODEL
    fallback_config: _FallbackConfig | None = None
    rate_limits: list[_GatewayRateLimit] | None = None
    guardrails: dict[str, Any] | None = None
    inference_table_config: dict[str, Any] | None = None
    usage_tracking_config: dict[str, Any] | None = None


class _Tag(BaseModel):
    model_config = _MODEL
    key: str
    value: str | None = None


class _Body(BaseModel):
    model_config = _MODEL
    name: str
    config: _CoreConfig
    rate_limits: list[_RateLimit] | None = None
    ai_gateway: _AiGateway | None = None
    tags: list[_Tag] | None = None
    route_optimized: bool | None = None
    description: str | None = None
    budget_policy_id: str | None = None
    email_notifications: dict[str, Any] | None = None


_HINTS = {
    "name": "set it to the endpoint name, e.g. 'my-chat-endpoint'",
    "config": "add config with served_entities, each holding an external_model block",
    "calls": "set it to how many calls are allowed per renewal_period, e.g. 100",
    "renewal_period": "set it to 'minute' (the only period the service offers)",
    "traffic_percentage": "set it to this route's share of traffic, 0 to 100",
    "key": "set it to the tag's key",
    "enabled": "set it to true or false",
}


@dataclass(frozen=True, slots=True)
class ServedEntity:
    """One served entity: its (possibly defaulted) name, external model and traffic share."""

    name: str
    external_model: ExternalModel
    traffic_percentage: int
    index: int

    @property
    def path(self) -> str:
        """Where this entity sits in the body, for messages."""
        return f"{WHERE}.config.served_entities[{self.index}]"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A ``calls`` per ``renewal_period`` limit from ``rate_limits`` or ``ai_gateway.rate_limits``.

    ``tokens`` limits and ``user_group`` keys are kept but not applied locally: token counts are
    only known after a call, and group membership is not known on a laptop.
    """

    calls: int | None
    key: str
    renewal_period: str
    path: str
    principal: str | None = None
    tokens: int | None = None

    @property
    def seconds(self) -> float:
        """The renewal period in seconds."""
        return 60.0


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """A validated endpoint body: use :func:`load_endpoint_config` to get one."""

    name: str
    served_entities: tuple[ServedEntity, ...]
    rate_limits: tuple[RateLimit, ...] = ()
    fallbacks: bool = False
    """``ai_gateway.fallback_config.enabled``."""
    _body: _Body | None = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> Task:
        """The one task all served entities share."""
        return self.served_entities[0].external_model.task

    def to_dict(self) -> dict[str, Any]:
        """The body as given (defaults left out); ``*_plaintext`` values stay ``SecretStr``."""
        if self._body is None:
            raise ConfigurationError("this EndpointConfig was not built by load_endpoint_config")
        body = self._body.model_dump(exclude_none=True)
        for entity in self.served_entities:
            block = entity.external_model.model_dump(exclude_none=True)
            body["config"]["served_entities"][entity.index]["external_model"] = block
        return body


EndpointConfigSource = Mapping[str, Any] | str | os.PathLike[str] | EndpointConfig
"""A body as a mapping, a path to a ``.json`` / ``.yaml`` / ``.yml`` file, or a parsed config."""


def load_endpoint_config(source: EndpointConfigSource, *, strict: bool = False) -> EndpointConfig:
    """Read and validate an endpoint body; raise :class:`ConfigurationError` naming each problem.

    ``source`` is a mapping, a path to a JSON file, or a path to a YAML file (needs the ``yaml``
    extra). Messages quote paths and fixes, never values: bodies may hold plaintext keys.
    Fields of ours that a real endpoint would refuse (``anthropic_api_base``...) get one
    :class:`~extmodels_integrations.NotDeployableWarning` per body; ``strict=True`` refuses them
    (check a body before deploying it).
    """
    if isinstance(source, EndpointConfig):
        if strict:
            _check_deployable(source, strict=True)
        return source
    if isinstance(source, (str, os.PathLike)):
        source = read_config_file(Path(source), WHERE)
    if not isinstance(source, Mapping):
        raise ConfigurationError(
            f"{WHERE} must be a mapping (the serving-endpoint create body) or a path to a "
            f"JSON or YAML file, not {type(source).__name__}"
        )
    try:
        body = _Body.model_validate(dict(source))
    except ValidationError as exc:
        raise ConfigurationError(_format(exc)) from None
    config = _checked(body)
    _check_deployable(config, strict=strict)
    return config


def _check_deployable(config: EndpointConfig, *, strict: bool) -> None:
    located = [
        (f"{e.path}.external_model.{CONFIG_KEYS[e.external_model.provider]}", provider)
        for e in config.served_entities
        for provider in [e.external_model.provider_config]
    ]
    check_deployable(located, WHERE, strict=strict)


# -- messages ----------------------------------------------------------------------------------


def _format(error: ValidationError) -> str:
    lines = _validation.problems(error, where=WHERE, root=_Body, hints=_HINTS)
    return _validation.message(WHERE, lines)


def _problems_of(error: ConfigurationError, where: str) -> list[str]:
    """The problem lines of a ``validate_external_model`` message, without its header."""
    text = str(error)
    head = f"Invalid {where}: "
    if text.startswith(head):
        return [text[len(head) :]]
    return [line[4:] for line in text.splitlines() if line.startswith("  - ")] or [text]


# -- rules -------------------------------------------------------------------------------------


def _checked(body: _Body) -> EndpointConfig:
    problems: list[str] = []
    if not _NAME_RE.match(body.name):
        problems.append(
            f"{WHERE}.name: may hold only letters, digits, '-' and '_': rename the endpoint"
        )
    entities = _entities(body.config, problems)
    shares = _traffic(body.config.traffic_config, entities, problems)
    limits = _rate_limits(body, problems)
    _tags(body.tags or [], problems)
    if problems:
        raise ConfigurationError(_validation.message(WHERE, problems))
    served = tuple(
        ServedEntity(name, model, shares.get(name, 0), index)
        for index, (name, model) in entities.items()
    )
    gateway = body.ai_gateway
    fallbacks = bool(gateway and gateway.fallback_config and gateway.fallback_config.enabled)
    return EndpointConfig(body.name, served, limits, fallbacks, _without_models(body))


def _without_models(body: _Body) -> _Body:
    """The body with external_model blocks dropped: they hold plaintext keys, and the parsed
    ``ExternalModel`` (whose keys are ``SecretStr``) is kept instead."""
    entities = [
        e.model_copy(update={"external_model": {}}) for e in body.config.served_entities or []
    ]
    return body.model_copy(
        update={"config": body.config.model_copy(update={"served_entities": entities})}
    )


def _entities(config: _CoreConfig, problems: list[str]) -> dict[int, tuple[str, ExternalModel]]:
    base = f"{WHERE}.config"
    if config.served_models:
        problems.append(
            f"{base}.served_models: only served_entities with an external_model run here "
            "(served_models is the deprecated form for registered models): move each model "
            "to config.served_entities as an external_model block"
        )
    listed = config.served_entities or []
    if not listed:
        problems.append(
            f"{base}.served_entities: at least one served entity is required: add one with "
            "an external_model block"
        )
        return {}
    if len(listed) > MAX_SERVED_ENTITIES:
        problems.append(
            f"{base}.served_entities: {len(listed)} entities, but an endpoint serves at most "
            f"{MAX_SERVED_ENTITIES}: split them across endpoints"
        )
    external = [i for i, e in enumerate(listed) if e.external_model is not None]
    if not external:
        problems.append(
            f"{base}.served_entities: no served entity has an external_model: only external "
            "models run locally (registered and foundation models need a real serving endpoint)"
        )
        return {}
    for i, entity in enumerate(listed):
        if entity.external_model is None:
            problems.append(
                f"{base}.served_entities[{i}]: has no external_model, but "
                f"served_entities[{external[0]}] has one: an endpoint that serves external "
                "models cannot serve other kinds of entities; move this one to another endpoint"
            )
        else:
            problems += [
                f"{base}.served_entities[{i}].{name}: cannot be combined with external_model "
                "(it is for registered models): remove it"
                for name in _OTHER_KIND_FIELDS
                if getattr(entity, name) is not None
            ]
    return _named_models(listed, external, problems)


def _named_models(
    listed: list[_ServedEntity], external: list[int], problems: list[str]
) -> dict[int, tuple[str, ExternalModel]]:
    found: dict[int, tuple[str, ExternalModel]] = {}
    owners: dict[str, int] = {}
    for i in external:
        entity = listed[i]
        where = f"{WHERE}.config.served_entities[{i}]"
        assert entity.external_model is not None
        try:
            model = validate_external_model(entity.external_model, where=f"{where}.external_model")
        except ConfigurationError as exc:
            problems += _problems_of(exc, f"{where}.external_model")
            continue
        name = entity.name if entity.name is not None else re.sub(r"[.:]", "-", model.name)
        given = "name" if entity.name is not None else "name (defaulted from external_model.name)"
        if not _NAME_RE.match(name):
            problems.append(
                f"{where}.{given}: may hold only letters, digits, '-' and '_': set name"
            )
        if name in owners:
            problems.append(
                f"{where}.{given}: '{name}' is already the name of served_entities"
                f"[{owners[name]}]: served entity names must be unique; set a different name"
            )
        owners.setdefault(name, i)
        found[i] = (name, model)
    _same_task(found, problems)
    return found


def _same_task(found: dict[int, tuple[str, ExternalModel]], problems: list[str]) -> None:
    if not found:
        return
    first, (_, model) = next(iter(found.items()))
    problems += [
        f"{WHERE}.config.served_entities[{i}].external_model.task: is '{other.task}' but "
        f"served_entities[{first}] is '{model.task}': all external models of an endpoint "
        "must share one task; serve this one from another endpoint"
        for i, (_, other) in found.items()
        if other.task != model.task
    ]


def _traffic(
    traffic: _TrafficConfig | None,
    entities: dict[int, tuple[str, ExternalModel]],
    problems: list[str],
) -> dict[str, int]:
    names = [name for name, _ in entities.values()]
    routes = (traffic.routes if traffic else None) or []
    where = f"{WHERE}.config.traffic_config"
    if not routes:
        if len(names) > 1:
            problems.append(
                f"{where}: required when an endpoint serves several external models: add "
                "routes giving each served entity a traffic_percentage (they must add up to 100)"
            )
        return dict.fromkeys(names, 100)
    shares: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, route in enumerate(routes):
        at = f"{where}.routes[{i}]"
        name = _route_name(route, at, problems)
        if not 0 <= route.traffic_percentage <= 100:
            problems.append(f"{at}.traffic_percentage: must be between 0 and 100")
        if name is None:
            continue
        if names and name not in names:
            problems.append(
                f"{at}.served_model_name: '{name}' names no served entity; served entities: "
                f"{', '.join(names)}"
            )
        elif name in seen:
            problems.append(
                f"{at}: served entity '{name}' already has a route (routes[{seen[name]}]): "
                "give each served entity one route"
            )
        seen.setdefault(name, i)
        shares[name] = route.traffic_percentage
    total = sum(r.traffic_percentage for r in routes)
    if total != 100:
        problems.append(
            f"{where}.routes: traffic percentages add up to {total}, not 100: adjust them"
        )
    return shares


def _route_name(route: _Route, at: str, problems: list[str]) -> str | None:
    model, entity = route.served_model_name, route.served_entity_name
    if model is not None and entity is not None and model != entity:
        problems.append(
            f"{at}: served_model_name and served_entity_name name different entities: keep one"
        )
        return None
    name = model if model is not None else entity
    if name is None:
        problems.append(f"{at}.served_model_name: required: set it to a served entity's name")
    return name


def _rate_limits(body: _Body, problems: list[str]) -> tuple[RateLimit, ...]:
    limits: list[RateLimit] = []
    for i, limit in enumerate(body.rate_limits or []):
        at = f"{WHERE}.rate_limits[{i}]"
        if limit.calls < 1:
            problems.append(f"{at}.calls: must be at least 1 call per {limit.renewal_period}")
        limits.append(RateLimit(limit.calls, limit.key, limit.renewal_period, at))
    gateway = body.ai_gateway.rate_limits if body.ai_gateway else None
    for i, g in enumerate(gateway or []):
        at = f"{WHERE}.ai_gateway.rate_limits[{i}]"
        if g.calls is None and g.tokens is None:
            problems.append(f"{at}: set calls (or tokens) per {g.renewal_period}")
        for name, value in (("calls", g.calls), ("tokens", g.tokens)):
            if value is not None and value < 1:
                problems.append(f"{at}.{name}: must be at least 1 per {g.renewal_period}")
        limits.append(RateLimit(g.calls, g.key, g.renewal_period, at, g.principal, g.tokens))
    return tuple(limits)


def _tags(tags: list[_Tag], problems: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, tag in enumerate(tags):
        at = f"{WHERE}.tags[{i}].key"
        if not tag.key:
            problems.append(f"{at}: must not be empty: set the tag's key")
        elif tag.key in seen:
            problems.append(
                f"{at}: '{tag.key}' is already used by tags[{seen[tag.key]}]: tag keys must "
                "be unique"
            )
        seen.setdefault(tag.key, i)
