"""The endpoints a gateway serves: each create body parsed and validated once, its routing
client built once (sharing the gateway's one httpx pool), and its AI Gateway settings read.

The store keeps endpoints in memory; with ``config_dir`` set, every create / update / delete
through the API is also written to (or removed from) ``<config_dir>/<name>.json``, and those
files are loaded at start, so lifecycle changes survive a restart. Every worker and replica
given the same directory sees each other's changes at its next request (``refresh``). Config
files given on the command line are loaded first; an API update of one of them is persisted to
``config_dir`` only, and deleting one leaves a marker there (the operator's file is never
rewritten). Without ``config_dir`` changes live in one process only.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from extmodels_integrations._client import ExternalClient
from extmodels_integrations._endpoint_config import EndpointConfig, load_endpoint_config
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.gateway._config_dir import ConfigDir, Meta
from extmodels_integrations.gateway._errors import GatewayError, not_found
from extmodels_integrations.gateway._guardrails import Guardrails
from extmodels_integrations.gateway._ratelimit import Limit

__all__ = ["EndpointStore", "Served"]

_log = logging.getLogger("extmodels_integrations.gateway")


def _enabled(block: Any) -> bool:
    return isinstance(block, Mapping) and bool(block.get("enabled"))


def _limits(config: EndpointConfig, gateway: Mapping[str, Any]) -> tuple[Limit, ...]:
    limits = [
        Limit.from_config(e, where=f"endpoint_config.ai_gateway.rate_limits[{i}]")
        for i, e in enumerate(gateway.get("rate_limits") or [])
    ]
    # The legacy top-level rate_limits: calls per minute per endpoint or user.
    limits += [
        Limit(r.key, r.renewal_period, r.calls)
        for r in config.rate_limits
        if not r.path.startswith("endpoint_config.ai_gateway")
    ]
    return tuple(limits)


@dataclass
class Served:
    """One served endpoint: its config, routing client and AI Gateway settings."""

    config: EndpointConfig
    client: ExternalClient
    body: dict[str, Any]
    limits: tuple[Limit, ...]
    usage_tracking: bool
    inference_table: bool
    guardrails: Guardrails
    creator: str
    created: int
    id: str
    version: int = 1
    """The config version: 1 at creation, one more per update, as a workspace counts."""

    @property
    def name(self) -> str:
        """The endpoint name."""
        return self.config.name

    def describe(self) -> dict[str, Any]:
        """The endpoint as ``GET /api/2.0/serving-endpoints/{name}`` answers (no secrets)."""
        entities = [
            {
                "name": e.name,
                "external_model": _public_model(
                    e.external_model.model_dump(exclude_none=True, exclude_unset=True)
                ),
                "state": {"deployment": "DEPLOYMENT_READY"},
                "creator": self.creator,
                "creation_timestamp": self.created,
            }
            for e in self.config.served_entities
        ]
        routes = [
            {
                "served_model_name": e.name,
                "served_entity_name": e.name,
                "traffic_percentage": e.traffic_percentage,
            }
            for e in self.config.served_entities
        ]
        answer: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "creator": self.creator,
            "creation_timestamp": self.created,
            "last_updated_timestamp": self.created,
            "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
            "config": {
                "served_entities": entities,
                "traffic_config": {"routes": routes},
                "config_version": self.version,
            },
            "task": self.config.task,
            "endpoint_type": "EXTERNAL_MODEL",
        }
        for key in ("ai_gateway", "tags", "description"):
            if key in self.body:
                answer[key] = self.body[key]
        return answer


def _public_model(block: dict[str, Any]) -> dict[str, Any]:
    """An external_model block with every plaintext credential left out (references stay:
    they name a secret, they are not one)."""
    out: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, dict):
            out[key] = _public_model(value)
        elif key.endswith("_plaintext") or not isinstance(value, (str, int, float, bool, list)):
            continue
        else:
            out[key] = value
    return out


class EndpointStore:
    """The served endpoints by name (see the module docs for what persists)."""

    def __init__(self, http: httpx.AsyncClient, config_dir: Path | None = None) -> None:
        self._http = http
        self._dir = ConfigDir(config_dir) if config_dir is not None else None
        self._served: dict[str, Served] = {}
        self._operator: dict[str, Served] = {}
        self._seen: dict[str, int] = {}
        """Config-directory files this store has read, with their modification times."""

    def build(self, source: Mapping[str, Any] | str | Path, creator: str) -> Served:
        """Validate a create body and build its client (raises ``ConfigurationError``)."""
        config = load_endpoint_config(source)
        body = _plain(config.to_dict())
        gateway = body.get("ai_gateway") or {}
        # The gateway's shared limiter replaces the routing core's in-process one.
        client = ExternalClient(
            endpoint_config=dataclasses.replace(config, rate_limits=()),
            http_async_client=self._http,
        )
        return Served(
            config,
            client,
            body,
            _limits(config, gateway),
            _enabled(gateway.get("usage_tracking_config")),
            _enabled(gateway.get("inference_table_config")),
            Guardrails.from_config(gateway.get("guardrails")),
            creator,
            int(time.time() * 1000),
            uuid.uuid4().hex,
        )

    def load(self, paths: list[Path]) -> None:
        """Serve the command line's config files, then the config directory's."""
        for path in paths:
            served = self.build(path, "gateway-operator")
            self._operator[served.name] = served
        self._served = dict(self._operator)
        self.refresh()

    def refresh(self) -> None:
        """Take in what other workers or replicas changed in the config directory."""
        if self._dir is None or not self._dir.changed():
            return
        files, deleted = self._dir.bodies(), self._dir.deleted()
        served = {k: v for k, v in self._operator.items() if k not in deleted}
        for name, (path, mtime) in files.items():
            current = self._served.get(name)
            if self._seen.get(name) == mtime and current is not None:
                served[name] = current
                continue
            try:
                served[name] = self._from_dir(name, path)
            except ConfigurationError as error:
                # A file a person broke must not take the served version down with it.
                _log.error("config directory: %s not loaded: %s", path.name, error)
                if current is not None:
                    served[name] = current
                continue
            self._seen[name] = mtime
        self._seen = {k: v for k, v in self._seen.items() if k in files}
        self._served = served

    def _from_dir(self, name: str, path: Path) -> Served:
        assert self._dir is not None
        served = self.build(path, "gateway-operator")
        meta = self._dir.meta(name)
        if meta is not None:
            served.creator, served.created, served.id = meta.creator, meta.created, meta.id
            served.version = meta.version
        return served

    def get(self, name: str) -> Served:
        """The endpoint ``name`` or a 404."""
        self.refresh()
        found = self._served.get(name)
        if found is None:
            raise not_found(name)
        return found

    def has(self, name: str) -> bool:
        """Whether ``name`` is served."""
        return name in self._served

    def all(self) -> list[Served]:
        """Every served endpoint, by name."""
        self.refresh()
        return [self._served[k] for k in sorted(self._served)]

    async def put(self, served: Served, *, create: bool) -> None:
        """Add (``create``) or replace an endpoint, persisting it when configured."""
        self.refresh()
        old = self._served.get(served.name)
        if create and old is not None:
            raise GatewayError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Endpoint with name '{served.name}' already exists.",
                error_type="already_exists",
            )
        if not create and old is None:
            raise not_found(served.name)
        if old is not None:
            served.creator, served.created, served.id = old.creator, old.created, old.id
            served.version = old.version + 1
        if self._dir is not None:
            meta = Meta(served.creator, served.created, served.id, served.version)
            self._seen[served.name] = self._dir.write(served.name, served.body, meta)
        self._served[served.name] = served
        if old is not None:
            await old.client.aclose()

    async def delete(self, name: str) -> None:
        """Stop serving ``name``."""
        self.refresh()
        served = self.get(name)
        del self._served[name]
        if self._dir is not None:
            self._dir.remove(name, from_command_line=name in self._operator)
            self._seen.pop(name, None)
        await served.client.aclose()

    async def aclose(self) -> None:
        """Close every endpoint's client."""
        every = (*self._served.values(), *self._operator.values())
        for served in {id(s): s for s in every}.values():
            await served.client.aclose()


def _plain(value: Any) -> Any:
    """``to_dict`` with ``SecretStr`` values unwrapped, for the config directory only (the
    operator's own storage, as the files given on the command line are)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else value
