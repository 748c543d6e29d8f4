"""What importing the core loads: the import-time benchmark's gains rest on these staying lazy.

A fresh interpreter per case, since this process has long loaded everything.
"""

import json
import subprocess
import sys

import pytest

_LAZY = [
    "asyncio",  # ~20 ms; httpx itself does not need it
    "difflib",
    "extmodels_integrations._config",
    "extmodels_integrations._endpoint_config",
    "extmodels_integrations._routing",
]


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout))


def test_importing_the_core_leaves_async_and_config_models_unloaded() -> None:
    loaded = _loaded_after("import extmodels_integrations")
    assert loaded.isdisjoint(_LAZY), sorted(loaded.intersection(_LAZY))


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("ExternalModel", "extmodels_integrations._config"),
        ("parse_external_model", "extmodels_integrations._config"),
        ("EndpointConfig", "extmodels_integrations._endpoint_config"),
        ("load_endpoint_config", "extmodels_integrations._endpoint_config"),
        ("RateLimit", "extmodels_integrations._endpoint_config"),
        ("ServedEntity", "extmodels_integrations._endpoint_config"),
        ("routing_metadata", "extmodels_integrations._routing"),
    ],
)
def test_lazy_public_names_load_their_module_on_first_use(name: str, module: str) -> None:
    loaded = _loaded_after(f"from extmodels_integrations import {name}")
    assert module in loaded


def test_a_serving_endpoint_client_never_loads_the_config_models() -> None:
    code = (
        "from extmodels_integrations import ExternalClient\n"
        "ExternalClient(endpoint='e', host='https://h.example', token='t')._adapter()"
    )
    loaded = _loaded_after(code)
    assert "extmodels_integrations._config" not in loaded
    assert "extmodels_integrations._endpoint_config" not in loaded


def test_every_public_name_resolves_and_unknown_names_fail() -> None:
    import extmodels_integrations as pkg

    missing = [n for n in pkg.__all__ if getattr(pkg, n, None) is None]
    assert missing == []
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pkg.Nope  # noqa: B018
