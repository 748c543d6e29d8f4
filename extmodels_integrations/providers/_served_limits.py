"""The context window an OpenAI-compatible server states for the model it serves.

No standard field exists, so each server's own is read: vLLM's ``max_model_len``, the
``context_length`` of OpenRouter / Together / LM Studio and ``context_window`` of Groq in
``GET /v1/models``; llama.cpp's ``llama-server`` states the window it was started with in
``GET /props`` (``default_generation_settings.n_ctx``) and the model's trained one in the
``meta`` of ``/v1/models``. llama-cpp-python's server states none.
"""

from __future__ import annotations

from typing import Any

from extmodels_integrations._wire import HttpRequest

__all__ = ["context_window_requests", "read_context_window"]

_MODEL_KEYS = ("max_model_len", "context_length", "context_window", "max_context_length")


def context_window_requests(api_base: str) -> tuple[HttpRequest, ...]:
    """``/props`` first (llama.cpp's served window beats the trained one in ``/models``)."""
    base = api_base.rstrip("/")
    root = base.removesuffix("/v1")
    return (
        HttpRequest(url=f"{root}/props", method="GET"),
        HttpRequest(url=f"{base}/models", method="GET"),
    )


def read_context_window(data: Any, model: str) -> int | None:
    """The window ``data`` (an answer to one of the requests) states for ``model``, if any."""
    if not isinstance(data, dict):
        return None
    entries = data.get("data")
    if isinstance(entries, list):
        return _from_entry(_entry(entries, model))
    settings = data.get("default_generation_settings")
    if isinstance(settings, dict) and (window := _positive(settings.get("n_ctx"))):
        return window
    return _positive(data.get("n_ctx"))


def _entry(entries: list[Any], model: str) -> dict[str, Any] | None:
    listed = [e for e in entries if isinstance(e, dict)]
    for entry in listed:
        if entry.get("id") == model:
            return entry
    # A one-model server often lists it under its file name or alias, not the name asked for.
    return listed[0] if len(listed) == 1 else None


def _from_entry(entry: dict[str, Any] | None) -> int | None:
    if entry is None:
        return None
    for key in _MODEL_KEYS:
        if window := _positive(entry.get(key)):
            return window
    meta = entry.get("meta")
    if isinstance(meta, dict):
        return _positive(meta.get("n_ctx")) or _positive(meta.get("n_ctx_train"))
    return None


def _positive(value: Any) -> int | None:
    # bool is an int: a flag is not a window.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
