"""Fields and behavior the three LlamaIndex classes share: how they are pointed at a model, how
the core client is built, how call-time arguments combine with the constructor's, and how they
serialize without secrets.

The parameter names are those of the LangChain classes (``endpoint``/``host``/``token``,
``external_model``, ``timeout``, ``max_retries``, ``extra_params``...), so one configuration
works in both frameworks. Nothing here imports LlamaIndex: it is a plain pydantic mixin.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    model_serializer,
    model_validator,
)

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._config import CONFIG_KEYS, ExternalModel, parse_external_model
from extmodels_integrations._endpoint_config import EndpointConfig, load_endpoint_config
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import Task

__all__ = ["ExternalTarget", "GenerativeTarget", "secret_env_var"]

# An endpoint config's plaintext secrets are written as top-level ``served_entities__<index>__
# <field>`` keys, as the LangChain classes write them.
_LIFTED_PREFIX = "served_entities__"


def _env(name: str) -> Callable[[], str | None]:
    return lambda: os.environ.get(name) or None


def _env_secret(name: str) -> Callable[[], SecretStr | None]:
    def read() -> SecretStr | None:
        value = os.environ.get(name)
        return SecretStr(value) if value else None

    return read


def secret_env_var(field: str, entity: str | None = None) -> str:
    """The environment variable a serialized ``*_plaintext`` secret is read back from, as in
    the LangChain classes: ``openai_api_key_plaintext`` -> ``OPENAI_API_KEY``; for served
    entity ``primary`` of an endpoint config, ``PRIMARY_OPENAI_API_KEY``."""
    name = field.removesuffix("_plaintext")
    return re.sub(r"[^A-Z0-9]", "_", (f"{entity}_{name}" if entity else name).upper())


class ExternalTarget(BaseModel):
    """Exactly one target: ``endpoint`` (+ ``host``, ``token``), ``external_model`` or
    ``endpoint_config``."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    endpoint: str | None = None
    """Serving endpoint name: ``POST {host}/serving-endpoints/{endpoint}/invocations``."""
    host: str | None = Field(default_factory=_env("DATABRICKS_HOST"))
    """Workspace URL; defaults to ``DATABRICKS_HOST``."""
    token: SecretStr | None = Field(
        default_factory=_env_secret("DATABRICKS_TOKEN"), alias="api_key"
    )
    """Workspace token (alias ``api_key``); defaults to ``DATABRICKS_TOKEN``."""
    external_model: ExternalModel | None = None
    """An ``external_model`` block (dict or :class:`~extmodels_integrations.ExternalModel`)."""
    endpoint_config: EndpointConfig | None = None
    """A serving-endpoint create body (dict, or path to a JSON/YAML file): routed by its traffic
    split, rate-limited, with fallbacks, as :class:`~extmodels_integrations.ExternalClient`."""
    routing_seed: int | None = None
    """Seed for the traffic split of ``endpoint_config`` (repeatable runs)."""
    fallbacks: bool | None = None
    """Override ``ai_gateway.fallback_config.enabled`` of ``endpoint_config``."""
    rate_limit_behavior: Literal["wait", "raise"] = "wait"
    """When a local rate limit is used up: wait for the next slot, or raise ``RateLimitError``."""
    rate_limit_user: str | None = None
    """Who ``key: user`` rate limits count for (default: the OS login name)."""
    model: str | None = None
    """The endpoint or external model name; given alone, it names a serving endpoint."""
    timeout: float | None = 60.0
    """Seconds to wait for a response (per read)."""
    connect_timeout: float = 10.0
    """Seconds to wait for a connection."""
    stall_timeout: float | None = 60.0
    """Seconds a stream may go without data before it is abandoned."""
    max_retries: int = 2
    """Retries on 408/409/429/5xx and connection errors (never after a stream yielded)."""
    extra_params: dict[str, Any] = Field(default_factory=dict, alias="additional_kwargs")
    """Extra fields sent with every request (alias ``additional_kwargs``, LlamaIndex's name)."""
    secret_resolver: Callable[[str, str], str | None] | None = Field(default=None, exclude=True)
    """``(scope, key) -> value`` for ``{{secrets/scope/key}}`` references."""
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx.Client`` to use (proxies, shared pools)."""
    http_async_client: Any = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to use."""

    _client: ExternalClient = PrivateAttr()
    _task: ClassVar[Task]

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # Surface our own configuration errors as they are: pydantic's wrapper would add
            # "input_value=..." and could print a secret from the external_model block.
            for error in exc.errors():
                original = (error.get("ctx") or {}).get("error")
                if isinstance(original, ConfigurationError):
                    raise original from None
            raise

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for name in ("token", "api_key"):
            if name in data and data[name] is None:
                del data[name]  # a serialized model: the token comes back from the environment
        if "model_name" in data and "model_name" not in cls.model_fields:
            data.setdefault("model", data.pop("model_name"))
        config = _config_with_lifted_secrets(data)
        if config is not None:
            data["endpoint_config"] = load_endpoint_config(config)
        block = _with_lifted_secrets(data)
        if block is not None:
            data["external_model"] = parse_external_model(block)
        model = data.get("model", data.get("model_name"))
        if data.get("endpoint") is None and block is None and config is None and model:
            data["endpoint"] = model
        return data

    @model_validator(mode="after")
    def _build_client(self) -> ExternalTarget:
        self._client = ExternalClient(
            endpoint=self.endpoint,
            host=self.host,
            token=self.token,
            external_model=self.external_model,
            endpoint_config=self.endpoint_config,
            routing_seed=self.routing_seed,
            fallbacks=self.fallbacks,
            rate_limit_behavior=self.rate_limit_behavior,
            rate_limit_user=self.rate_limit_user,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            stall_timeout=self.stall_timeout,
            max_retries=self.max_retries,
            secret_resolver=self.secret_resolver,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
            **self._client_options(),
        )
        self._client.check_task(self._task)
        if self.model is None:
            self.model = self._client.model_name
        self._client_built()
        return self

    def _client_built(self) -> None:
        """Hook for subclasses, run once the client exists."""

    def _client_options(self) -> dict[str, Any]:
        return {}

    @property
    def client(self) -> ExternalClient:
        """The framework-free client this model calls."""
        return self._client

    # -- serialization without secrets -------------------------------------------------------

    @field_serializer("token")
    def _no_token(self, token: SecretStr | None) -> None:
        return None

    @field_serializer("external_model")
    def _block_without_secrets(self, block: ExternalModel | None) -> dict[str, Any] | None:
        if block is None:
            return None
        return _without_plaintext(block.model_dump(exclude_none=True), block.provider)

    @field_serializer("endpoint_config")
    def _body_without_secrets(self, config: EndpointConfig | None) -> dict[str, Any] | None:
        if config is None:
            return None
        body = config.to_dict()
        for entity in config.served_entities:
            served = body["config"]["served_entities"][entity.index]
            served.setdefault("name", entity.name)  # the env var names use it
            served["external_model"] = _without_plaintext(
                served["external_model"], entity.external_model.provider
            )
        return body

    @model_serializer(mode="wrap")
    def custom_model_dump(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """Every field but the secrets: ``token`` is ``None``; each plaintext secret of
        ``external_model`` becomes a top-level ``<name>_plaintext: None`` (of an endpoint
        config's served entity: ``served_entities__<index>__<name>_plaintext: None``), read
        back from the environment variable :func:`secret_env_var` names, or passed again to
        ``from_dict``."""
        data: dict[str, Any] = handler(self)
        data.update(dict.fromkeys(self._plaintext_secrets()))
        if self.endpoint_config is not None:
            data.update(
                dict.fromkeys(
                    f"{_LIFTED_PREFIX}{entity.index}__{name}"
                    for entity in self.endpoint_config.served_entities
                    for name in _plaintexts(entity.external_model)
                )
            )
        class_name = getattr(self, "class_name", None)
        if callable(class_name):
            data["class_name"] = class_name()
        return data

    def _plaintext_secrets(self) -> list[str]:
        return [] if self.external_model is None else _plaintexts(self.external_model)


class GenerativeTarget(ExternalTarget):
    """Generation defaults shared by the chat and completion classes, and the one rule for
    combining them with call-time arguments: call-time values win."""

    temperature: float | None = None
    """Sampling temperature (0-2)."""
    max_tokens: int | None = None
    """Most tokens to generate."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences (alias ``stop_sequences``)."""
    stream_usage: bool = True
    """Ask for token usage in streams (``stream_options.include_usage``)."""

    def _client_options(self) -> dict[str, Any]:
        return {"stream_usage": self.stream_usage}

    def _call_params(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(request fields, extra fields for the provider)``: call-time values win, and
        call-time extras are merged over the constructor's ``extra_params``."""
        extra = dict(kwargs)
        fields = {
            name: extra.pop(name, getattr(self, name))
            for name in ("temperature", "max_tokens", "stop")
        }
        fields["model"] = extra.pop("model", None)
        return fields, {**self.extra_params, **extra}


def _plaintexts(model: ExternalModel) -> list[str]:
    config = model.provider_config
    return [
        name
        for name in type(config).model_fields
        if name.endswith("_plaintext") and getattr(config, name) is not None
    ]


def _without_plaintext(block: dict[str, Any], provider: str) -> dict[str, Any]:
    key = CONFIG_KEYS[provider]  # type: ignore[index]  # a validated block's provider
    return {**block, key: {k: v for k, v in block[key].items() if not k.endswith("_plaintext")}}


def _config_with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``endpoint_config`` with ``served_entities__<i>__<field>`` kwargs merged back into its
    served entities; a ``None`` value is read from its environment variable. ``data`` loses
    those keys; the caller's objects are never mutated."""
    config = data.get("endpoint_config")
    lifted = {k: data.pop(k) for k in list(data) if k.startswith(_LIFTED_PREFIX)}
    if not lifted:
        return config
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"{sorted(lifted)} given without an endpoint_config mapping")
    body = {**config, "config": dict(config.get("config") or {})}
    entities = [dict(e) for e in body["config"].get("served_entities") or []]
    body["config"]["served_entities"] = entities
    for name, value in lifted.items():
        index, field = name.removeprefix(_LIFTED_PREFIX).split("__", 1)
        if not index.isdigit() or int(index) >= len(entities):
            raise ConfigurationError(f"{name}: names no served entity of endpoint_config")
        entity = entities[int(index)]
        if value is None:
            env = secret_env_var(field, str(entity.get("name") or index))
            value = os.environ.get(env) or _missing(name, env)
        block = dict(entity.get("external_model") or {})
        provider = block.get("provider")
        if provider not in CONFIG_KEYS:
            continue  # load_endpoint_config reports the bad provider
        key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
        block[key] = {**(block.get(key) or {}), field: value}
        entity["external_model"] = block
    return body


def _with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``external_model`` with top-level ``*_plaintext`` kwargs merged into its config (the
    shape :meth:`ExternalTarget.custom_model_dump` writes). A ``None`` value is read from its
    environment variable. ``data`` loses those keys; the caller's objects are never mutated."""
    block = data.get("external_model")
    lifted = {k: data.pop(k) for k in list(data) if k.endswith("_plaintext")}
    if not lifted:
        return block
    if block is None:
        raise ConfigurationError(f"{sorted(lifted)} given without external_model")
    for name, value in lifted.items():
        if value is None:
            lifted[name] = os.environ.get(secret_env_var(name)) or _missing(
                name, secret_env_var(name)
            )
    block = block.model_dump() if isinstance(block, ExternalModel) else dict(block)
    provider = block.get("provider")
    if provider not in CONFIG_KEYS:
        return block  # parse_external_model reports the bad provider
    key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
    block[key] = {**(block.get(key) or {}), **lifted}
    return block


def _missing(name: str, env: str) -> str:
    raise ConfigurationError(
        f"{name}: this model was serialized without its secret; set {env} or pass "
        f"{name}=... when loading it"
    )
