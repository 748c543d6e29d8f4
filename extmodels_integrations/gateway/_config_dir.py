"""The gateway's config directory: where endpoint lifecycle changes made through the API
persist, and how every worker and replica sharing it sees them.

``<name>.json`` holds an endpoint's create body, ``<name>.meta`` who created it, when, its id
and config version, and ``<name>.deleted`` marks an endpoint from the command line as deleted
(the operator's own file is never touched). Files are replaced atomically, so a reader never
sees half a file. A reader notices changes by the directory's modification time, one ``stat``
per request: cheaper than a watcher thread, and it works on a directory several replicas mount.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ConfigDir", "Meta"]


@dataclass
class Meta:
    """What the workspace reports about an endpoint beside its body."""

    creator: str
    created: int
    id: str
    version: int = 1


def _replace(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


class ConfigDir:
    """One config directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None

    def changed(self) -> bool:
        """Whether anything was written or removed since the last call that said so."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def bodies(self) -> dict[str, tuple[Path, int]]:
        """Each endpoint file by name, with its modification time."""
        if not self.path.is_dir():
            return {}
        return {p.stem: (p, p.stat().st_mtime_ns) for p in self.path.glob("*.json")}

    def deleted(self) -> set[str]:
        """The command-line endpoints deleted through the API."""
        if not self.path.is_dir():
            return set()
        return {p.stem for p in self.path.glob("*.deleted")}

    def meta(self, name: str) -> Meta | None:
        """The endpoint's metadata, if a gateway wrote it."""
        try:
            return Meta(**json.loads((self.path / f"{name}.meta").read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def write(self, name: str, body: dict[str, Any], meta: Meta) -> int:
        """Persist an endpoint; returns the body file's modification time."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / f"{name}.deleted").unlink(missing_ok=True)
        _replace(self.path / f"{name}.meta", json.dumps(meta.__dict__))
        target = self.path / f"{name}.json"
        _replace(target, json.dumps(body, indent=2))
        return target.stat().st_mtime_ns

    def remove(self, name: str, *, from_command_line: bool) -> None:
        """Forget an endpoint; one from the command line is marked deleted instead."""
        (self.path / f"{name}.json").unlink(missing_ok=True)
        (self.path / f"{name}.meta").unlink(missing_ok=True)
        if from_command_line:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / f"{name}.deleted").touch()
