"""Fields and behavior the three LangChain classes share: how they are pointed at a model,
how the core client is built, and how they serialize without secrets."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

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


class ExternalTarget(BaseModel):
    """Exactly one target: ``endpoint`` (+ ``host``, ``token``) or ``external_model``."""

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
        block = _with_lifted_secrets(data)
        if block is not None:
            data["external_model"] = parse_external_model(block)
        model = data.get("model", data.get("model_name"))
        if data.get("endpoint") is None and block is None and model:
            data["endpoint"] = model
        return data

    @model_validator(mode="after")
    def _build_client(self) -> ExternalTarget:
        self._client = ExternalClient(
            endpoint=self.endpoint,
            host=self.host,
            token=self.token,
            external_model=self.external_model,
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
        the variable named after it (``openai_api_key_plaintext`` -> ``OPENAI_API_KEY``).
        ``{{secrets/...}}`` references stay in the block: they are not secret.
        """
        secrets = {"token": "DATABRICKS_TOKEN"}
        for name in self._plaintext_secrets():
            secrets[name] = name.removesuffix("_plaintext").upper()
        return secrets

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """``external_model`` without its plaintext secrets, which are lifted to the top."""
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
        config = self.external_model.provider_config
        return {
            name: value
            for name in type(config).model_fields
            if name.endswith("_plaintext") and (value := getattr(config, name)) is not None
        }


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
