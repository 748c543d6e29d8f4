"""The error names of the 0.1 release keep working for one release, with a warning that names
the new class; the new names no longer shadow Python's built-ins."""

from __future__ import annotations

import builtins
import importlib

import pytest

import extmodels_integrations
from extmodels_integrations import (
    APIConnectionError,
    APITimeoutError,
    ExternalModelError,
    MalformedResponseError,
)

OLD = {
    "ConnectionError": APIConnectionError,
    "TimeoutError": APITimeoutError,
    "StreamError": MalformedResponseError,
}


@pytest.mark.parametrize("module", ["extmodels_integrations", "extmodels_integrations._exceptions"])
@pytest.mark.parametrize(("old", "new"), OLD.items())
def test_an_old_name_is_the_new_class_and_warns(module: str, old: str, new: type) -> None:
    namespace = importlib.import_module(module)
    vars(namespace).pop(old, None)  # a cached lookup from an earlier test would not warn
    with pytest.warns(DeprecationWarning, match=f"{old} is renamed {new.__name__}"):
        assert getattr(namespace, old) is new


def test_the_new_names_do_not_shadow_the_builtins() -> None:
    for name in ("ConnectionError", "TimeoutError"):
        assert name not in extmodels_integrations.__all__
        assert getattr(builtins, name) not in OLD.values()
    assert all(issubclass(cls, ExternalModelError) for cls in OLD.values())


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = extmodels_integrations.Nope  # type: ignore[attr-defined]
