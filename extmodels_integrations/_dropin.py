"""The peers' constructor keywords (``databricks_langchain.ChatDatabricks``,
``langchain_community.llms.Databricks``, LlamaIndex's ``Databricks``), read with the same
meaning, so moving to these classes changes the import only. A peer keyword with no meaning
here raises naming the fix, never passes silently."""

from __future__ import annotations

from typing import Any

from extmodels_integrations._exceptions import ConfigurationError

__all__ = ["peer_keywords"]

_RENAMED = {"endpoint_name": "endpoint", "api_token": "token"}
_WORKSPACE_URIS = ("target_uri", "databricks_uri", "profile")
_REFUSED = {
    "transform_input_fn": "the request is the unified schema; shape the prompt before the call",
    "transform_output_fn": "the response is parsed for you; post-process the returned text",
    "cluster_id": "cluster driver-proxy apps are not serving endpoints; pass endpoint=...",
    "cluster_driver_port": "cluster driver-proxy apps are not serving endpoints",
}
_SERVING_PATH = "/serving-endpoints"


def peer_keywords(data: dict[str, Any], owner: str) -> dict[str, Any]:
    """``data`` with the peers' names turned into this package's fields."""
    for peer, ours in _RENAMED.items():
        if peer in data:
            _set(data, ours, data.pop(peer), peer, owner)
    _workspace_uris(data, owner)
    for name, fix in _REFUSED.items():
        if data.get(name) is not None:
            raise ConfigurationError(f"{owner}: {name} is not supported: {fix}")
    if data.pop("use_responses_api", False):
        raise ConfigurationError(
            f"{owner}: use_responses_api=True: external-model endpoints speak chat "
            "completions; leave it out"
        )
    _model_kwargs(data, owner)
    if "://" in str(data.get("endpoint") or ""):
        # LlamaIndex's DatabricksEmbedding: endpoint is the base URL, model the endpoint name.
        data["api_base"] = data.pop("endpoint")
    if data.get("api_base") is not None:
        _set(data, "host", _host_of(str(data.pop("api_base")), owner), "api_base", owner)
    return data


def _workspace_uris(data: dict[str, Any], owner: str) -> None:
    for name in _WORKSPACE_URIS:
        if name == "profile" and isinstance(data.get(name), dict):
            continue  # LangChain's ModelProfile (chat models' own ``profile`` field)
        value = data.pop(name, None)
        if value not in (None, "databricks"):
            raise ConfigurationError(
                f"{owner}: {name}={value!r}: only the default workspace ('databricks') is "
                "read; pass host=... and token=... (or set DATABRICKS_HOST / DATABRICKS_TOKEN)"
            )


def _set(data: dict[str, Any], field: str, value: Any, peer: str, owner: str) -> None:
    if data.get(field) is not None and data[field] != value:
        raise ConfigurationError(f"{owner}: {peer} and {field} are the same field: give one")
    data[field] = value


def _model_kwargs(data: dict[str, Any], owner: str) -> None:
    kwargs = data.pop("model_kwargs", None)
    if not kwargs:
        return
    field = "additional_kwargs" if "additional_kwargs" in data else "extra_params"
    extra = dict(data.get(field) or {})
    for key, value in dict(kwargs).items():
        if key in extra and extra[key] != value:
            raise ConfigurationError(
                f"{owner}: {key} is in model_kwargs and {field} with different values: keep one"
            )
        extra[key] = value
    data[field] = extra


def _host_of(api_base: str, owner: str) -> str:
    # LlamaIndex's api_base is the OpenAI-client base URL: {host}/serving-endpoints.
    base = api_base.rstrip("/")
    if not base.endswith(_SERVING_PATH):
        raise ConfigurationError(
            f"{owner}: api_base={api_base!r}: expected 'https://<workspace>/serving-endpoints'"
            "; or pass host='https://<workspace>'"
        )
    return base.removesuffix(_SERVING_PATH)
