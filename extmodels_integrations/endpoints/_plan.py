"""What a call to the serving-endpoints API sends, and what ``apply`` must change: the requests
(``HttpRequest``, secrets still wrapped) and the readable diff between a file and the live
endpoint. Pure: the sync and async clients send what this module builds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._wire import HttpRequest
from extmodels_integrations.endpoints._body import (
    SECTIONS,
    compared,
    core_fields,
    has_plaintext,
    redacted,
    reveal,
    shown,
)

__all__ = ["Plan", "Step", "diff", "plan_apply", "request"]

API = "/api/2.0/serving-endpoints"
#: Sections ``apply`` cannot change on an existing endpoint: no update call takes them.
_FIXED = ("route_optimized", "description", "budget_policy_id", "email_notifications")


def request(
    host: str, method: str, name: str | None = None, suffix: str = "", body: Any = None
) -> HttpRequest:
    """The request of one serving-endpoints call; ``body`` may hold ``SecretStr`` values,
    unwrapped here, the last moment before sending."""
    path = API if name is None else f"{API}/{quote(name, safe='')}{suffix}"
    json = reveal(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return HttpRequest(url=f"{host}{path}", method=method, json=json, headers=headers)


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a plan: what it sends, and whether the endpoint then has to be waited for
    (a config update makes the workspace redeploy)."""

    method: str
    suffix: str | None
    """After ``/serving-endpoints/{name}``; ``None``: the collection itself (create)."""
    body: Any
    waits: bool = False

    def shown(self, name: str) -> dict[str, Any]:
        """The call as ``--dry-run`` prints it: secrets as ``***``."""
        path = API if self.suffix is None else f"{API}/{name}{self.suffix}"
        return {"method": self.method, "path": path, "body": redacted(self.body)}


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``apply`` does: ``create``, ``update`` (``steps`` in order) or ``none``."""

    name: str
    action: Literal["create", "update", "none"]
    steps: tuple[Step, ...] = ()
    changes: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """The plan as a user reads it: the action, each change on its own line, notes."""
        if self.action == "create":
            head = f"endpoint '{self.name}': create"
        elif self.action == "update":
            head = f"endpoint '{self.name}': update ({len(self.changes)} changes)"
        else:
            head = f"endpoint '{self.name}': up to date, nothing to change"
        lines = [head, *(f"  {c}" for c in self.changes), *(f"  note: {n}" for n in self.notes)]
        return "\n".join(lines)


def plan_apply(body: Mapping[str, Any], live: Mapping[str, Any] | None, force: bool) -> Plan:
    """The plan that makes the endpoint ``live`` (``None``: there is none) match ``body``;
    ``force`` sends the core config even when nothing compares different (plaintext values
    cannot be compared: the workspace never returns them)."""
    name = str(body["name"])
    if live is None:
        return Plan(name, "create", (Step("POST", None, body, waits=True),))
    sections = tuple(s for s in SECTIONS if s in body)
    want, have = compared(body, sections), compared(live, sections)
    changes = diff(have, want)
    fixed = [s for s in _FIXED if s in sections and want[s] != have[s]]
    if fixed:
        raise ConfigurationError(
            f"endpoint '{name}': {', '.join(fixed)} cannot be changed on an existing endpoint "
            "(no update call takes them): delete the endpoint and apply again, or change them "
            "in the workspace"
        )
    steps = list(_steps(body, want, have, force))
    notes = []
    if has_plaintext(body.get("config")) and not any(s.suffix == "/config" for s in steps):
        notes.append(
            "*_plaintext values cannot be compared (the workspace never returns them); "
            "use force to send the config again"
        )
    if not steps:
        return Plan(name, "none", notes=tuple(notes))
    if not changes:
        changes = ["~ config: sent again (force)"]
    return Plan(name, "update", tuple(steps), tuple(changes), tuple(notes))


def _steps(
    body: Mapping[str, Any], want: dict[str, Any], have: dict[str, Any], force: bool
) -> list[Step]:
    steps = []
    if force or want["config"] != have["config"]:
        config = body["config"]
        core = {k: config[k] for k in core_fields() if k in config}
        steps.append(Step("PUT", "/config", core, waits=True))
    if "ai_gateway" in want and want["ai_gateway"] != have["ai_gateway"]:
        steps.append(Step("PUT", "/ai-gateway", body["ai_gateway"]))
    if "rate_limits" in want and want["rate_limits"] != have["rate_limits"]:
        steps.append(Step("PUT", "/rate-limits", {"rate_limits": body["rate_limits"]}))
    if "tags" in want and want["tags"] != have["tags"]:
        add = [
            {"key": k, **({"value": v} if v is not None else {})}
            for k, v in want["tags"].items()
            if have["tags"].get(k, ...) != v
        ]
        gone = [k for k in have["tags"] if k not in want["tags"]]
        patch: dict[str, Any] = {"add_tags": add} if add else {}
        steps.append(Step("PATCH", "/tags", {**patch, **({"delete_tags": gone} if gone else {})}))
    return steps


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """One line per difference: ``+ path: value`` added, ``- path: value`` removed,
    ``~ path: old -> new`` changed; mappings are walked, other values compared whole."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        lines: list[str] = []
        for key in [*old, *(k for k in new if k not in old)]:
            at = f"{path}.{key}" if path else str(key)
            if key not in new:
                lines.append(f"- {at}: {shown(old[key])}")
            elif key not in old:
                lines.append(f"+ {at}: {shown(new[key])}")
            else:
                lines += diff(old[key], new[key], at)
        return lines
    if old == new:
        return []
    return [f"~ {path}: {shown(old)} -> {shown(new)}"]
