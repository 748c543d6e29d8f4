"""Models of the ``external_model`` block of a Databricks Model Serving endpoint.

Field names, required fields and provider names follow the Databricks serving API (the
``ExternalModel`` / ``*Config`` types of databricks-sdk-py), so the same block runs here and
deploys unchanged. Additions of ours, for proxies, tests and local use, are marked as such:
the ``*_api_base`` overrides other than ``openai_api_base``/``cohere_api_base``, and the Bedrock
``aws_session_token``.

Every secret is given exactly one way: a ``{{secrets/<scope>/<key>}}`` reference in the plain
field, or the value in its ``*_plaintext`` twin, which is a ``SecretStr`` from the moment it is
read. Models are frozen, reject unknown fields, and never put input values into errors.
Use :func:`parse_external_model` to get a ``ConfigurationError`` that names every offending
field and its fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import _validation
from ._exceptions import ConfigurationError
from ._provider_configs import (
    DEFAULT_AI21LABS_API_BASE,
    DEFAULT_ANTHROPIC_API_BASE,
    DEFAULT_COHERE_API_BASE,
    DEFAULT_OPENAI_API_BASE,
    MODEL_CONFIG,
    Ai21LabsConfig,
    AmazonBedrockConfig,
    AnthropicConfig,
    CohereConfig,
    DatabricksModelServingConfig,
    GoogleCloudVertexAiConfig,
    Issues,
    OpenAiConfig,
    ProviderConfig,
    check_deployable,
    fail,
    raise_issues,
)
from ._retired import retired_issues
from ._types import Task

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_AI21LABS_API_BASE",
    "DEFAULT_ANTHROPIC_API_BASE",
    "DEFAULT_COHERE_API_BASE",
    "DEFAULT_OPENAI_API_BASE",
    "PROVIDERS",
    "PROVIDER_TASKS",
    "TASKS",
    "Ai21LabsConfig",
    "AmazonBedrockConfig",
    "AnthropicConfig",
    "CohereConfig",
    "DatabricksModelServingConfig",
    "ExternalModel",
    "GoogleCloudVertexAiConfig",
    "OpenAiConfig",
    "Provider",
    "ProviderConfig",
    "Task",
    "format_validation_error",
    "parse_external_model",
    "validate_external_model",
]

Provider = Literal[
    "openai",
    "anthropic",
    "cohere",
    "amazon-bedrock",
    "ai21labs",
    "google-cloud-vertex-ai",
    "databricks-model-serving",
]

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
"""Every provider this package supports, as spelled in ``external_model.provider``."""

TASKS: tuple[Task, ...] = get_args(Task)
"""The three unified tasks."""

_ALL: tuple[Task, ...] = TASKS
_TEXT: tuple[Task, ...] = ("llm/v1/chat", "llm/v1/completions")

PROVIDER_TASKS: Mapping[Provider, tuple[Task, ...]] = MappingProxyType(
    {
        "openai": _ALL,
        "anthropic": _TEXT,
        "cohere": _ALL,
        "amazon-bedrock": _ALL,
        "ai21labs": _TEXT,
        "google-cloud-vertex-ai": _ALL,
        "databricks-model-serving": _ALL,
    }
)
"""The tasks each provider offers."""

BEDROCK_PROVIDER_TASKS: Mapping[str, tuple[Task, ...]] = MappingProxyType(
    {"anthropic": _TEXT, "cohere": _ALL, "ai21labs": _TEXT, "amazon": _ALL}
)
"""The tasks each ``amazon-bedrock`` ``bedrock_provider`` offers (Titan and Cohere embed)."""


def _bedrock_task_issues(provider: str, task: Any, block: Any) -> list[tuple[str, str]]:
    if provider != "amazon-bedrock" or task not in TASKS:
        return []
    sub = block.get("bedrock_provider") if isinstance(block, Mapping) else None
    offered = BEDROCK_PROVIDER_TASKS.get(sub) if isinstance(sub, str) else None
    if offered is None or task in offered:
        return []
    return [
        (
            "task",
            f"bedrock_provider {sub!r} does not offer {task!r} on amazon-bedrock; it offers "
            f"{', '.join(offered)}: use bedrock_provider cohere or amazon for embeddings",
        )
    ]


CONFIG_KEYS: Mapping[Provider, str] = MappingProxyType(
    {
        "openai": "openai_config",
        "anthropic": "anthropic_config",
        "cohere": "cohere_config",
        "amazon-bedrock": "amazon_bedrock_config",
        "ai21labs": "ai21labs_config",
        "google-cloud-vertex-ai": "google_cloud_vertex_ai_config",
        "databricks-model-serving": "databricks_model_serving_config",
    }
)
"""The ``<provider>_config`` key each provider reads."""


def _choices(value: Any, valid: tuple[str, ...], what: str) -> str:
    # Provider and task names are not secret; echo a short one back with a suggestion.
    shown = f" {value!r}" if isinstance(value, str) and len(value) <= 64 else ""
    close = difflib.get_close_matches(value, valid, n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what}{shown}{hint}; valid {what}s: {', '.join(valid)}"


class ExternalModel(BaseModel):
    """An ``external_model`` block: ``name``, ``provider``, ``task`` and one provider config."""

    model_config = MODEL_CONFIG

    name: str = Field(min_length=1)
    provider: Provider
    task: Task
    openai_config: OpenAiConfig | None = None
    anthropic_config: AnthropicConfig | None = None
    cohere_config: CohereConfig | None = None
    amazon_bedrock_config: AmazonBedrockConfig | None = None
    ai21labs_config: Ai21LabsConfig | None = None
    google_cloud_vertex_ai_config: GoogleCloudVertexAiConfig | None = None
    databricks_model_serving_config: DatabricksModelServingConfig | None = None

    @field_validator("provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> Any:
        if value not in PROVIDERS:
            raise fail("unknown_provider", _choices(value, PROVIDERS, "provider"))
        return value

    @field_validator("task", mode="before")
    @classmethod
    def _known_task(cls, value: Any) -> Any:
        if value not in TASKS:
            raise fail("unknown_task", _choices(value, TASKS, "task"))
        return value

    @model_validator(mode="before")
    @classmethod
    def _match_provider(cls, data: Any) -> Any:
        # Checked on the raw input, before the config blocks are validated: a block for the
        # wrong provider should be reported as such, not as that block's missing fields.
        if not isinstance(data, Mapping):
            return data
        provider, task = data.get("provider"), data.get("task")
        if provider not in PROVIDERS:
            return data
        issues: Issues = []
        offered = PROVIDER_TASKS[provider]
        if task in TASKS and task not in offered:
            issues.append(
                (
                    "task",
                    f"provider {provider!r} does not offer {task!r}; it offers "
                    f"{', '.join(offered)}: use one of those or another provider",
                )
            )
        key = CONFIG_KEYS[provider]
        issues += _bedrock_task_issues(provider, task, data.get(key))
        issues += retired_issues(provider, data.get("name"), data.get(key))
        if data.get(key) is None:
            issues.append((key, f"required for provider {provider!r}: add a {key} block"))
        issues += [
            (other, f"does not match provider {provider!r}, which reads only {key}: remove it")
            for other in CONFIG_KEYS.values()
            if other != key and data.get(other) is not None
        ]
        raise_issues(issues)
        return data

    @property
    def provider_config(self) -> ProviderConfig:
        """The one ``<provider>_config`` block of this model."""
        config: ProviderConfig | None = getattr(self, CONFIG_KEYS[self.provider])
        if config is None:  # only reachable through model_construct(), which skips validation
            raise ConfigurationError(f"{CONFIG_KEYS[self.provider]} is missing")
        return config


_REQUIRED_HINTS = {
    "name": "set it to the provider's model name, e.g. 'gpt-4o-mini'",
    "provider": f"set it to one of {', '.join(PROVIDERS)}",
    "task": f"set it to one of {', '.join(TASKS)}",
    "aws_region": "set it to the AWS region where Bedrock is enabled, e.g. 'us-east-1'",
    "bedrock_provider": "set it to anthropic, cohere, ai21labs or amazon",
    "project_id": "set it to the Google Cloud project id of the service account",
    "region": "set it to the Vertex AI region, e.g. 'us-central1'",
    "databricks_workspace_url": "set it to the workspace URL, "
    "e.g. 'https://<workspace>.cloud.databricks.com'",
}


def format_validation_error(
    error: ValidationError, *, where: str, root: type[BaseModel] = ExternalModel
) -> str:
    """One message for all problems in ``error``: each path, what is wrong and the fix; no
    input value (secrets included) appears in it."""
    lines = _validation.problems(error, where=where, root=root, hints=_REQUIRED_HINTS)
    return _validation.message(where, lines)


def parse_external_model(
    data: Mapping[str, Any] | ExternalModel,
    *,
    where: str = "external_model",
    strict: bool = False,
) -> ExternalModel:
    """Validate an ``external_model`` block; raise ``ConfigurationError`` naming each problem.

    ``where`` prefixes every path in the message (e.g. ``endpoint_config.config.
    served_entities[0].external_model``). ``data`` is not modified. Fields of ours that a real
    endpoint would refuse (``anthropic_api_base``, ``aws_session_token``...) get one
    :class:`~extmodels_integrations.NotDeployableWarning` when a mapping is parsed;
    ``strict=True`` refuses them, in an already parsed block too.
    """
    if isinstance(data, ExternalModel):
        if strict:
            _check_deployable(data, where, strict=True)
        return data
    model = validate_external_model(data, where=where)
    _check_deployable(model, where, strict=strict)
    return model


def validate_external_model(
    data: Mapping[str, Any], *, where: str = "external_model"
) -> ExternalModel:
    """:func:`parse_external_model` without the deployability check, for a block inside an
    endpoint body, which is checked once as a whole."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"{where} must be a mapping with name, provider, task and a <provider>_config "
            f"block, not {type(data).__name__}"
        )
    try:
        return ExternalModel.model_validate(dict(data))
    except ValidationError as exc:
        # `from None`: the ValidationError keeps every input value (plaintext keys included)
        # in .errors(), and a chained cause would carry it into tracebacks and reporters.
        raise ConfigurationError(format_validation_error(exc, where=where)) from None


def _check_deployable(model: ExternalModel, where: str, *, strict: bool) -> None:
    path = f"{where}.{CONFIG_KEYS[model.provider]}"
    check_deployable([(path, model.provider_config)], where, strict=strict)
