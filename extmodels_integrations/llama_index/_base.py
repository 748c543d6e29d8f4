"""Fields and behavior the three LlamaIndex classes share: the framework-free target
(:mod:`extmodels_integrations._target`, the same parameter names as the LangChain classes, so
one configuration works in both frameworks), how call-time arguments combine with the
constructor's, and how they serialize without secrets. Nothing here imports LlamaIndex."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
)

from extmodels_integrations._config import ExternalModel
from extmodels_integrations._endpoint_config import EndpointConfig
from extmodels_integrations._target import (
    TargetBase,
    block_without_secrets,
    body_without_secrets,
    secret_env_var,
)

__all__ = ["ExternalTarget", "GenerativeTarget", "secret_env_var"]


class ExternalTarget(TargetBase):
    """Exactly one target: ``endpoint`` (+ ``host``, ``token``), ``external_model`` or
    ``endpoint_config``."""

    extra_params: dict[str, Any] = Field(default_factory=dict, alias="additional_kwargs")
    """Extra fields sent with every request (alias ``additional_kwargs``, LlamaIndex's name)."""

    @classmethod
    def _serialized_input(cls, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("token", "api_key", "client_secret"):
            if name in data and data[name] is None:
                del data[name]  # a serialized model: the token comes back from the environment
        if "model_name" in data and "model_name" not in cls.model_fields:
            data.setdefault("model", data.pop("model_name"))
        return data

    # -- serialization without secrets -------------------------------------------------------

    @field_serializer("token", "client_secret")
    def _no_token(self, token: SecretStr | None) -> None:
        return None

    @field_serializer("external_model")
    def _block_without_secrets(self, block: ExternalModel | None) -> dict[str, Any] | None:
        return None if block is None else block_without_secrets(block)

    @field_serializer("endpoint_config")
    def _body_without_secrets(self, config: EndpointConfig | None) -> dict[str, Any] | None:
        return None if config is None else body_without_secrets(config)

    @model_serializer(mode="wrap")
    def custom_model_dump(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """Every field but the secrets: ``token`` and ``client_secret`` are ``None``; each
        plaintext secret of ``external_model`` becomes a top-level ``<name>_plaintext: None``
        (of an endpoint config's served entity:
        ``served_entities__<index>__<name>_plaintext: None``), read back from the environment
        variable :func:`secret_env_var` names, or passed again to ``from_dict``."""
        data: dict[str, Any] = handler(self)
        data.update(dict.fromkeys(self._plaintext_secrets()))
        data.update(dict.fromkeys(self._entity_secrets()))
        class_name = getattr(self, "class_name", None)
        if callable(class_name):
            data["class_name"] = class_name()
        return data


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
