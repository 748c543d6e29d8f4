"""What a target's model can do: LangChain's ``model.profile`` (a ``ModelProfile`` dict).

Capabilities come from the provider the config names (what its adapter sends or refuses, kept
equal to the adapters by ``tests/test_profile.py``), less what the model family lacks (a
text-only model reads no images, whatever its provider takes); reasoning from the model family,
limits from the table of published limits (:mod:`extmodels_integrations._models`). An endpoint
config's profile holds what every served entity offers, since any of them may answer. A
serving endpoint by name says nothing about its capabilities: only its limits, when its name
belongs to a known family.
"""

from __future__ import annotations

import re
from typing import Any

from extmodels_integrations._config import ExternalModel
from extmodels_integrations._endpoint_config import EndpointConfig
from extmodels_integrations._models import UNKNOWN, ModelInfo, lookup

__all__ = [
    "capability_kind",
    "endpoint_profile",
    "external_model_profile",
    "name_profile",
    "target_profile",
]

_ALL = frozenset(
    {"tool_calling", "tool_choice", "structured_output", "image_inputs"}
    | {"image_url_inputs", "pdf_inputs"}
)
# What each kind of target takes (the README's provider x feature matrix, by adapter).
_CAPABILITIES: dict[str, frozenset[str]] = {
    "openai": _ALL,
    "azure": _ALL,
    "databricks-model-serving": _ALL,  # passed as written to an OpenAI-format endpoint
    "anthropic": _ALL,
    "bedrock-anthropic": _ALL - {"image_url_inputs"},
    "bedrock-cohere": frozenset({"tool_calling"}),
    "bedrock-ai21labs": frozenset(),
    "bedrock-amazon": frozenset(),
    "cohere": _ALL - {"pdf_inputs"},
    "google-cloud-vertex-ai": _ALL,
    "ai21labs": frozenset({"tool_calling", "structured_output"}),
}
# Model families that reason before answering, by provider kind.
_REASONING = {
    "openai": r"^(o1|o3|o4|gpt-5)",
    "anthropic": r"claude-(3-7|[a-z]+-4|4)",
    "google-cloud-vertex-ai": r"gemini-(2-5|3)",
    "cohere": r"command-a-reasoning",
}
_REASONING["azure"] = _REASONING["openai"]
_REASONING["bedrock-anthropic"] = _REASONING["anthropic"]
# A serving endpoint's name is free: databricks-claude-sonnet-4, my-gpt-5...
_REASONING["databricks-model-serving"] = (
    "|".join(p.lstrip("^") for k, p in _REASONING.items() if k in ("openai", "anthropic", "cohere"))
    + "|"
    + _REASONING["google-cloud-vertex-ai"]
)


def capability_kind(model: ExternalModel) -> str:
    """The kind of target ``model`` is, as :data:`_CAPABILITIES` keys it."""
    if model.provider == "openai" and model.openai_config is not None:
        return "openai" if model.openai_config.openai_api_type == "openai" else "azure"
    if model.provider == "amazon-bedrock" and model.amazon_bedrock_config is not None:
        return f"bedrock-{model.amazon_bedrock_config.bedrock_provider}"
    return str(model.provider)


def name_profile(name: str | None) -> dict[str, Any]:
    """The published limits of the model family ``name`` belongs to (empty when unknown)."""
    info = lookup(name)
    if info is UNKNOWN:
        return {}
    return {"max_input_tokens": info.context_window, "max_output_tokens": info.max_output}


def external_model_profile(model: ExternalModel) -> dict[str, Any]:
    """What the chat model of an ``external_model`` block can do."""
    kind = capability_kind(model)
    offered = _CAPABILITIES.get(kind, frozenset()) - _beyond_model(lookup(model.name))
    profile: dict[str, Any] = {"text_inputs": True, "text_outputs": True}
    profile.update({name: name in offered for name in sorted(_ALL)})
    pattern = _REASONING.get(kind)
    normal = re.sub(r"[._]", "-", model.name.lower())
    profile["reasoning_output"] = bool(pattern and re.search(pattern, normal))
    profile.update(name_profile(model.name))
    return profile


def _beyond_model(info: ModelInfo) -> frozenset[str]:
    """What the model family cannot do whatever its adapter sends (text-only models, models
    without tools); nothing for a family not in the table."""
    lacking: set[str] = set()
    if not info.images:
        lacking |= {"image_inputs", "image_url_inputs", "pdf_inputs"}
    if not info.function_calling:
        lacking |= {"tool_calling", "tool_choice"}
    return frozenset(lacking)


def endpoint_profile(config: EndpointConfig) -> dict[str, Any]:
    """What every served entity of ``config`` offers (the smallest limit of them)."""
    profiles = [external_model_profile(e.external_model) for e in config.served_entities]
    shared = set.intersection(*(set(p) for p in profiles))
    merged: dict[str, Any] = {}
    for key in sorted(shared):
        values = [p[key] for p in profiles]
        merged[key] = all(values) if isinstance(values[0], bool) else min(values)
    return merged


def target_profile(
    external_model: ExternalModel | None,
    endpoint_config: EndpointConfig | None,
    endpoint: str | None,
) -> dict[str, Any] | None:
    """The profile of whichever target is set; ``None`` when nothing is known of it."""
    if external_model is not None:
        return external_model_profile(external_model)
    if endpoint_config is not None:
        return endpoint_profile(endpoint_config)
    return name_profile(endpoint) or None
