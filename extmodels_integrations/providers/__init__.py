"""Provider adapters: one module per provider, pure translation, no I/O.

Each provider module offers ``build(model, resolver, *, stream_usage) -> Adapter``. Modules are
imported on first use, so a target pays only for its own provider (and its optional extras).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

from extmodels_integrations._secrets import SecretResolver
from extmodels_integrations.providers._base import Adapter

if TYPE_CHECKING:
    from extmodels_integrations._config import ExternalModel
    from extmodels_integrations._workspace import WorkspaceSignIn

__all__ = ["MODULES", "Adapter", "build_adapter"]

#: The module that serves each ``external_model.provider``.
MODULES: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "amazon-bedrock": "bedrock",
    "ai21labs": "ai21labs",
    "google-cloud-vertex-ai": "vertex",
    "databricks-model-serving": "databricks",
}


class _Builder(Protocol):
    def __call__(
        self, model: ExternalModel, resolver: SecretResolver, *, stream_usage: bool
    ) -> Adapter: ...


def build_adapter(
    model: ExternalModel,
    resolver: SecretResolver,
    *,
    stream_usage: bool = True,
    workspace: Callable[[str], WorkspaceSignIn] | None = None,
) -> Adapter:
    """The adapter for a validated ``external_model`` block, with its secrets resolved.
    ``workspace(url)`` signs in to a workspace, for a serving block that names no token."""
    if model.provider == "databricks-model-serving":
        from extmodels_integrations.providers import databricks

        return databricks.build(model, resolver, stream_usage=stream_usage, workspace=workspace)
    module = importlib.import_module(f"{__name__}.{MODULES[model.provider]}")
    build = cast(_Builder, module.build)
    return build(model, resolver, stream_usage=stream_usage)
