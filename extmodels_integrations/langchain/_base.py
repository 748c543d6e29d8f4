"""Fields and behavior the three LangChain classes share: the framework-free target
(:mod:`extmodels_integrations._target`) plus LangChain's serialization without secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._target import TargetBase, secret_env_var, without_plaintext

__all__ = ["ExternalTarget", "GenerativeTarget"]


class ExternalTarget(TargetBase):
    """Exactly one target: ``endpoint`` (+ ``host``, ``token``), ``external_model`` or
    ``endpoint_config``."""

    model: str | None = Field(default=None, alias="model_name")
    """The endpoint or external model name (alias ``model_name``); given alone, it names a
    serving endpoint."""

    # -- serialization without secrets -------------------------------------------------------

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable: secrets are replaced by environment-variable placeholders."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["extmodels_integrations", "langchain"]``, the module ``load`` imports from.

        langchain-core trusts only the root packages it lists, and no package can add itself,
        so ``load`` needs ``valid_namespaces=["extmodels_integrations"]``.
        """
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
        secrets = {"token": "DATABRICKS_TOKEN", "client_secret": "DATABRICKS_CLIENT_SECRET"}
        secrets.update({name: secret_env_var(name) for name in self._plaintext_secrets()})
        secrets.update({k: env for k, (env, _) in self._entity_secrets().items()})
        return secrets

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """``external_model`` / ``endpoint_config`` without their plaintext secrets, which are
        lifted to the top."""
        if self.endpoint_config is not None:
            body = self.endpoint_config.to_dict()
            for entity in self.endpoint_config.served_entities:
                served = body["config"]["served_entities"][entity.index]
                served["external_model"] = without_plaintext(
                    served["external_model"], entity.external_model.provider
                )
            lifted = {k: value for k, (_, value) in self._entity_secrets().items()}
            return {"endpoint_config": body, **lifted}
        if self.external_model is None:
            return {}
        block = self.external_model.model_dump(exclude_none=True)
        return {
            "external_model": without_plaintext(block, self.external_model.provider),
            **self._plaintext_secrets(),
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
