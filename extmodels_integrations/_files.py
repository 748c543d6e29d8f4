"""Config files: a JSON or YAML document read for the endpoint config (YAML needs the ``yaml``
extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._exceptions import ConfigurationError

__all__ = ["read_config_file"]


def read_config_file(path: Path, where: str) -> Any:
    """The JSON or YAML document at ``path``; errors name ``where`` and the position, never
    the content (config files hold plaintext keys)."""
    if not path.is_file():
        raise ConfigurationError(f"{where}: no file at '{path}': give a JSON or YAML file path")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise ConfigurationError(
                f"{where}: reading '{path.name}' needs PyYAML: "
                'pip install "extmodels-integrations[yaml]" (or give a JSON file)'
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigurationError(f"{where}: '{path.name}' is not valid YAML{where}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the position: the message of a JSON error quotes the document.
        raise ConfigurationError(
            f"{where}: '{path.name}' is not valid JSON at line {exc.lineno}, column {exc.colno}"
        ) from None
