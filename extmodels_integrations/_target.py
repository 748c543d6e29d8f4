"""What the LangChain and LlamaIndex classes share, framework-free: the fields that point a
model at its target, building the core client, and putting serialized secrets back.

Both frameworks serialize the same way: ``token``, ``client_secret`` and every
``*_plaintext`` secret leave the nested blocks and become top-level keys (an endpoint config's as
``served_entities__<index>__<field>``), which each framework fills back from the environment
variable :func:`secret_env_var` names. So one configuration, and one serialized form, works in
both. Pickles follow the same rule (:meth:`TargetBase.__getstate__`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, NoReturn, Self

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
from extmodels_integrations._dropin import peer_keywords
from extmodels_integrations._endpoint_config import EndpointConfig, load_endpoint_config
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._parameters import field_names, sort_keywords
from extmodels_integrations._types import Task

__all__ = [
    "LIFTED_PREFIX",
    "TargetBase",
    "block_without_secrets",
    "body_without_secrets",
    "plaintexts",
    "secret_env_var",
    "without_plaintext",
]

#: Top-level key prefix of an endpoint config's lifted secrets:
#: ``served_entities__<index>__<field>``.
LIFTED_PREFIX = "served_entities__"


def _env(name: str) -> Callable[[], str | None]:
    return lambda: os.environ.get(name) or None


def _env_secret(name: str) -> Callable[[], SecretStr | None]:
    def read() -> SecretStr | None:
        value = os.environ.get(name)
        return SecretStr(value) if value else None

    return read


def secret_env_var(field: str, entity: str | None = None) -> str:
    """The environment variable a serialized ``*_plaintext`` secret is read back from:
    ``openai_api_key_plaintext`` -> ``OPENAI_API_KEY``; for served entity ``primary`` of an
    endpoint config, ``PRIMARY_OPENAI_API_KEY``."""
    name = field.removesuffix("_plaintext")
    return re.sub(r"[^A-Z0-9]", "_", (f"{entity}_{name}" if entity else name).upper())


class TargetBase(BaseModel):
    """Exactly one target: ``endpoint`` (+ ``host``, ``token``), ``external_model`` or
    ``endpoint_config``; subclasses add ``model`` and ``extra_params`` with their framework's
    aliases."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    endpoint: str | None = None
    """Serving endpoint name: ``POST {host}/serving-endpoints/{endpoint}/invocations``."""
    host: str | None = Field(default_factory=_env("DATABRICKS_HOST"))
    """Workspace URL; defaults to ``DATABRICKS_HOST``."""
    token: SecretStr | None = Field(
        default_factory=_env_secret("DATABRICKS_TOKEN"), alias="api_key"
    )
    """Workspace token (alias ``api_key``); defaults to ``DATABRICKS_TOKEN``."""
    workspace_profile: str | None = None
    """A profile of ``~/.databrickscfg`` (``DATABRICKS_CONFIG_FILE``) to sign in with;
    defaults to ``DATABRICKS_CONFIG_PROFILE``, else the file's ``DEFAULT`` section. (Not
    ``profile``: LangChain chat models already have a ``profile`` field.)"""
    client_id: str | None = None
    """A service principal's OAuth client id; defaults to ``DATABRICKS_CLIENT_ID``."""
    client_secret: SecretStr | None = None
    """Its OAuth secret; defaults to ``DATABRICKS_CLIENT_SECRET``. Never serialized."""
    auth_type: str | None = None
    """Force one sign-in method (``pat``, ``oauth-m2m``, or a ``databricks-sdk`` one such as
    ``databricks-cli``); defaults to ``DATABRICKS_AUTH_TYPE``."""
    external_model: ExternalModel | None = None
    """An ``external_model`` block (dict or :class:`~extmodels_integrations.ExternalModel`)."""
    endpoint_config: EndpointConfig | None = None
    """A serving-endpoint create body (dict, or path to a JSON/YAML file): routed by its traffic
    split, rate-limited, with fallbacks, as :class:`~extmodels_integrations.ExternalClient`."""
    strict_config: bool = False
    """Refuse, with a ``ConfigurationError``, the fields of ours a real endpoint would refuse
    (``anthropic_api_base``, ``aws_session_token``...) in ``external_model`` or
    ``endpoint_config``, instead of one ``NotDeployableWarning``: the config then deploys
    unchanged."""
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

    @classmethod
    def _serialized_input(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Hook: undo a framework's serialized shape before the target is read."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = peer_keywords(cls._serialized_input(dict(data)), cls.__name__)
        strict = _strict_config(data)
        config = _config_with_lifted_secrets(data)
        if config is not None:
            data["endpoint_config"] = load_endpoint_config(config, strict=strict)
        block = _with_lifted_secrets(data)
        if block is not None:
            data["external_model"] = parse_external_model(block, strict=strict)
        model = data.get("model", data.get("model_name"))
        if data.get("endpoint") is None and block is None and config is None and model:
            data["endpoint"] = model
        return sort_keywords(data, field_names(cls.model_fields), cls._task, cls.__name__)

    @model_validator(mode="after")
    def _build_client(self) -> TargetBase:
        self._client = ExternalClient(
            endpoint=self.endpoint,
            # Left to the client when they are the environment's defaults, so its errors name
            # the variable they came from.
            host=self.host if "host" in self.model_fields_set else None,
            token=self.token if "token" in self.model_fields_set else None,
            profile=self.workspace_profile,
            client_id=self.client_id,
            client_secret=self.client_secret,
            auth_type=self.auth_type,
            strict_config=self.strict_config,
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

    def _client_options(self) -> dict[str, Any]:
        """Hook: extra :class:`ExternalClient` options (e.g. ``stream_usage``)."""
        return {}

    def _client_built(self) -> None:
        """Hook for subclasses, run once the client exists."""

    @property
    def client(self) -> ExternalClient:
        """The framework-free client this model calls."""
        return self._client

    def _plaintext_secrets(self) -> dict[str, SecretStr]:
        """``external_model``'s plaintext secrets, by field name."""
        return {} if self.external_model is None else plaintexts(self.external_model)

    def _entity_secrets(self) -> dict[str, tuple[str, SecretStr]]:
        """An endpoint config's plaintext secrets: ``lifted key -> (env var, value)``."""
        if self.endpoint_config is None:
            return {}
        return {
            f"{LIFTED_PREFIX}{entity.index}__{field}": (secret_env_var(field, entity.name), value)
            for entity in self.endpoint_config.served_entities
            for field, value in plaintexts(entity.external_model).items()
        }

    # -- pickling and deep copies -----------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The pickled state: the serialized form's rule. ``token``, ``client_secret`` and
        every plaintext secret
        are left out (as top-level ``None`` keys) and come back on unpickling from the
        environment variables :func:`secret_env_var` names; the fields serialization excludes
        (``secret_resolver``, the httpx clients) stay behind."""
        fields = type(self).model_fields
        data = {k: v for k, v in self.__dict__.items() if k in fields and not fields[k].exclude}
        if data.get("token") is not None:
            del data["token"]  # its default reads DATABRICKS_TOKEN
        # The client reads DATABRICKS_CLIENT_SECRET when it is unset.
        data.pop("client_secret", None)
        if self.external_model is not None:
            data["external_model"] = block_without_secrets(self.external_model)
            data.update(dict.fromkeys(self._plaintext_secrets()))
        if self.endpoint_config is not None:
            data["endpoint_config"] = body_without_secrets(self.endpoint_config)
            data.update(dict.fromkeys(self._entity_secrets()))
        return {"fields": data, "fields_set": set(self.model_fields_set)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from :meth:`__getstate__`'s state, secrets read from the environment."""
        type(self).__init__(self, **state["fields"])
        object.__setattr__(self, "__pydantic_fields_set__", set(state["fields_set"]))

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A copy with its own client. Secrets are copied too: a deep copy stays in this
        process, unlike a pickle. The excluded fields (``secret_resolver``, the httpx
        clients) are shared: they are resources, and httpx clients cannot be copied."""
        fields = type(self).model_fields
        data = {
            k: v if fields[k].exclude else copy.deepcopy(v, memo)
            for k, v in self.__dict__.items()
            if k in fields
        }
        clone = type(self).__new__(type(self))
        type(self).__init__(clone, **data)
        object.__setattr__(clone, "__pydantic_fields_set__", set(self.model_fields_set))
        return clone


def block_without_secrets(block: ExternalModel) -> dict[str, Any]:
    """``block`` dumped (``None`` fields left out) without its ``*_plaintext`` secrets."""
    return without_plaintext(block.model_dump(exclude_none=True), block.provider)


def body_without_secrets(config: EndpointConfig) -> dict[str, Any]:
    """``config``'s body without its served entities' ``*_plaintext`` secrets; each served
    entity is named, since the environment variables of its lifted secrets use the name."""
    body = config.to_dict()
    for entity in config.served_entities:
        served = body["config"]["served_entities"][entity.index]
        served.setdefault("name", entity.name)
        served["external_model"] = without_plaintext(
            served["external_model"], entity.external_model.provider
        )
    return body


def plaintexts(model: ExternalModel) -> dict[str, SecretStr]:
    """The ``*_plaintext`` secrets set in ``model``'s provider config."""
    config = model.provider_config
    return {
        name: value
        for name in type(config).model_fields
        if name.endswith("_plaintext") and (value := getattr(config, name)) is not None
    }


def without_plaintext(block: dict[str, Any], provider: str) -> dict[str, Any]:
    """A dumped ``external_model`` block without its ``*_plaintext`` fields."""
    key = CONFIG_KEYS[provider]  # type: ignore[index]  # a validated block's provider
    return {**block, key: {k: v for k, v in block[key].items() if not k.endswith("_plaintext")}}


def _strict_config(data: Mapping[str, Any]) -> bool:
    # Read before the blocks are parsed (they are checked as they are parsed), so checked
    # here rather than left to the field's own validation.
    strict = data.get("strict_config", False)
    if not isinstance(strict, bool):
        raise ConfigurationError(
            f"strict_config must be True or False, not {type(strict).__name__}"
        )
    return strict


def _config_with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``endpoint_config`` with ``served_entities__<i>__<field>`` keys merged back into its
    served entities; a ``None`` value is read from its environment variable. ``data`` loses
    those keys; the caller's objects are never mutated."""
    config = data.get("endpoint_config")
    lifted = {k: data.pop(k) for k in list(data) if k.startswith(LIFTED_PREFIX)}
    if not lifted:
        return config
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"{sorted(lifted)} given without an endpoint_config mapping")
    body = {**config, "config": dict(config.get("config") or {})}
    entities = [dict(e) for e in body["config"].get("served_entities") or []]
    body["config"]["served_entities"] = entities
    for name, value in lifted.items():
        index, field = name.removeprefix(LIFTED_PREFIX).split("__", 1)
        if not index.isdigit() or int(index) >= len(entities):
            raise ConfigurationError(f"{name}: names no served entity of endpoint_config")
        entity = entities[int(index)]
        if value is None:
            env = secret_env_var(field, str(entity.get("name") or index))
            value = _from_env(name, env)
        block = dict(entity.get("external_model") or {})
        provider = block.get("provider")
        if provider not in CONFIG_KEYS:
            continue  # load_endpoint_config reports the bad provider
        key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
        block[key] = {**(block.get(key) or {}), field: value}
        entity["external_model"] = block
    return body


def _with_lifted_secrets(data: dict[str, Any]) -> Any:
    """``external_model`` with top-level ``*_plaintext`` keys merged into its config; a
    ``None`` value is read from its environment variable. ``data`` loses those keys; the
    caller's objects are never mutated."""
    block = data.get("external_model")
    lifted = {k: data.pop(k) for k in list(data) if k.endswith("_plaintext")}
    if not lifted:
        return block
    if block is None:
        raise ConfigurationError(f"{sorted(lifted)} given without external_model")
    for name, value in lifted.items():
        if value is None:
            env = secret_env_var(name)
            lifted[name] = _from_env(name, env)
    block = block.model_dump() if isinstance(block, ExternalModel) else dict(block)
    provider = block.get("provider")
    if provider not in CONFIG_KEYS:
        return block  # parse_external_model reports the bad provider
    key = CONFIG_KEYS[provider]  # type: ignore[index]  # membership checked above
    block[key] = {**(block.get(key) or {}), **lifted}
    return block


def _from_env(name: str, env: str) -> SecretStr:
    # Wrapped at once: when a later secret is missing, the frames reading them, whose locals
    # tracebacks may print, hold the ones already read.
    value = os.environ.get(env)
    return SecretStr(value) if value else _missing(name, env)


def _missing(name: str, env: str) -> NoReturn:
    raise ConfigurationError(
        f"{name}: this model was serialized without its secret; set {env} or pass "
        f"{name}=... when loading it"
    )
