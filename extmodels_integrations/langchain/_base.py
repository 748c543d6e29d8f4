"""Fields and behavior the three LangChain classes share: how they are pointed at a model,
how the core client is built, and how they serialize without secrets."""

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
    ValidationError,
    model_validator,
)

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._config import CONFIG_KEYS, ExternalModel, parse_external_model
from extmodels_integrations._endpoint_config import EndpointConfig, load_endpoint_config
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._types import Task

__all__ = ["ExternalTarget", "GenerativeTarget"]


def _env(name: str) -> Callable[[], str | None]:
    return lambda: os.environ.get(name) or None


def _env_secret(name: str) -> Callable[[], SecretStr | None]:
    def read() -> SecretStr | None:
        value = os.environ.get(name)
        return SecretStr(value) if value else None

    return read


# Plaintext secrets of an endpoint config's served entities are lifted to top-level kwargs
# named ``served_entities__<index>__<field>`` (LangChain only protects top-level secrets).
_LIFTED_PREFIX = "served_entities__"


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
    model: str | None = Field(default=None, alias="model_name")
    """The endpoint or external model name; given alone, it names a serving endpoint."""
    timeout: float | None = 60.0
    """Seconds to wait for a response (per read)."""
    connect_timeout: float = 10.0
    """Seconds to wait for a connection."""
    stall_timeout: float | None = 60.0
    """Seconds a stream may go without data before it is abandoned."""
    max_retries: int = 2
    """Retries on 408/409/429/5xx and connection errors (never after a stream yielded)."""
    extra_params: dict[str, Any] = Field(default_factory=dict)
    """Extra fields sent with every request (e.g. ``top_k``, ``logit_bias``)."""
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
        return self

    def _client_options(self) -> dict[str, Any]:
        return {}

    @property
    def client(self) -> ExternalClient:
        """The framework-free client this model calls."""
        return self._client

    # -- serialization without secrets -------------------------------------------------------

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable: secrets are replaced by environment-variable placeholders."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["extmodels_integrations", "langchain"]``."""
        return ["extmodels_integrations", "langchain"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Secret fields and the environment variables they load from.

        LangChain only protects top-level secrets, so each plaintext secret of
        ``external_model`` is lifted out to a top-level kwarg of the same name and loads from
        the variable named after it (``openai_api_key_plaintext`` -> ``OPENAI_API_KEY``). An
        endpoint config's are lifted to ``served_entities__<index>__<field>`` and load from
        ``<ENTITY>_<FIELD>`` (entity ``primary``: ``PRIMARY_OPENAI_API_KEY``).
        ``{{secrets/...}}`` references stay in the block: they are not secret.
        """
        secrets = {"token": "DATABRICKS_TOKEN"}
        for name in self._plaintext_secrets():
            secrets[name] = name.removesuffix("_plaintext").upper()
        for name, (entity, field) in self._entity_secret_names().items():
            secrets[name] = _env_name(f"{entity}_{field.removesuffix('_plaintext')}")
        return secrets

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """``external_model`` / ``endpoint_config`` without their plaintext secrets, which are
        lifted to the top."""
        if self.endpoint_config is not None:
            return self._endpoint_config_attributes()
        if self.external_model is None:
            return {}
        lifted = self._plaintext_secrets()
        block = self.external_model.model_dump(exclude_none=True)
        key = CONFIG_KEYS[self.external_model.provider]
        block[key] = {k: v for k, v in block[key].items() if k not in lifted}
        return {"external_model": block, **lifted}

    def _plaintext_secrets(self) -> dict[str, SecretStr]:
        if self.external_model is None:
            return {}
        return _plaintexts(self.external_model)

    def _entity_secret_names(self) -> dict[str, tuple[str, str]]:
        """``lifted kwarg -> (served entity name, plaintext field)``."""
        if self.endpoint_config is None:
            return {}
        return {
            f"{_LIFTED_PREFIX}{entity.index}__{field}": (entity.name, field)
            for entity in self.endpoint_config.served_entities
            for field in _plaintexts(entity.external_model)
        }

    def _endpoint_config_attributes(self) -> dict[str, Any]:
        assert self.endpoint_config is not None
        body = self.endpoint_config.to_dict()
        lifted: dict[str, Any] = {}
        for entity in self.endpoint_config.served_entities:
            secrets = _plaintexts(entity.external_model)
            block = body["config"]["served_entities"][entity.index]["external_model"]
            key = CONFIG_KEYS[entity.external_model.provider]
            block[key] = {k: v for k, v in block[key].items() if k not in secrets}
            lifted.update({f"{_LIFTED_PREFIX}{entity.index}__{k}": v for k, v in secrets.items()})
        return {"endpoint_config": body, **lifted}


class GenerativeTarget(ExternalTarget):
    """Generation defaults shared by the chat and completion classes, and the one rule for
    combining them with call-time arguments: call-time values win."""

    temperature: float | None = None
    """Sampling temperature (0-2)."""
    max_tokens: int | None = None
    """Most tokens to generate."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences (alias ``stop_sequences``)."""
    n: int | None = None
    """Number of generations (invoke/generate only; a stream carries one)."""
    streaming: bool = False
    """Stream under the hood even for ``invoke`` (callbacks get tokens as they come)."""
    stream_usage: bool = True
    """Ask for token usage in streams (``stream_options.include_usage``)."""

    def _client_options(self) -> dict[str, Any]:
        return {"stream_usage": self.stream_usage}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.client.provider,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "n": self.n,
            **self.extra_params,
        }

    def _call_params(
        self, stop: list[str] | None, kwargs: Mapping[str, Any], *, stream: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(request fields, remaining call-time extras)`` with call-time values winning."""
        extra = dict(kwargs)
        fields = {
            name: extra.pop(name, getattr(self, name))
            for name in ("temperature", "max_tokens", "n")
        }
        call_stop = extra.pop("stop", None)
        fields["stop"] = (
            stop if stop is not None else (call_stop if call_stop is not None else self.stop)
        )
        fields["model"] = extra.pop("model", None)
        if stream and (fields["n"] or 1) > 1:
            raise ConfigurationError(
                f"n={fields['n']}: a stream carries one generation; use invoke/generate for n > 1"
            )
        return fields, extra


def _plaintexts(model: ExternalModel) -> dict[str, SecretStr]:
    config = model.provider_config
    return {
        name: value
        for name in type(config).model_fields
        if name.endswith("_plaintext") and (value := getattr(config, name)) is not None
    }


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def _config_with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``endpoint_config`` with ``served_entities__<i>__<field>`` kwargs merged back into its
    served entities (the shape :attr:`ExternalTarget.lc_attributes` serializes to). ``data``
    loses those keys; the caller's objects are never mutated."""
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
        block = dict(entities[int(index)].get("external_model") or {})
        provider = block.get("provider")
        if provider not in CONFIG_KEYS:
            continue  # load_endpoint_config reports the bad provider
        key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
        block[key] = {**(block.get(key) or {}), field: value}
        entities[int(index)]["external_model"] = block
    return body


def _with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``external_model`` with top-level ``*_plaintext`` kwargs merged back into its config
    (the shape :attr:`ExternalTarget.lc_attributes` serializes to). ``data`` loses those keys;
    the caller's objects are never mutated."""
    block = data.get("external_model")
    lifted = {k: data.pop(k) for k in list(data) if k.endswith("_plaintext")}
    if not lifted:
        return block
    if block is None:
        raise ConfigurationError(f"{sorted(lifted)} given without external_model")
    block = block.model_dump() if isinstance(block, ExternalModel) else dict(block)
    provider = block.get("provider")
    if provider not in CONFIG_KEYS:
        return block  # parse_external_model reports the bad provider
    key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
    block[key] = {**(block.get(key) or {}), **lifted}
    return block
