"""The public clients, :class:`EndpointsClient` and :class:`AsyncEndpointsClient`: the same
methods, each running one flow of :class:`~extmodels_integrations.endpoints._client._Base`;
only the driver (sending, sleeping) differs. The MLflow Deployments names
(``create_endpoint(name=, config=)``, ``update_endpoint(endpoint=, config=)``...) are accepted
too, so code written for ``mlflow.deployments.get_deploy_client("databricks")`` runs here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from extmodels_integrations.endpoints._body import BodySource
from extmodels_integrations.endpoints._client import _Base, _options, arun, run
from extmodels_integrations.endpoints._flows import ApplyResult, Flow, R, wait_flow

__all__ = ["AsyncEndpointsClient", "EndpointsClient"]

#: What ``list`` returns (named here: inside the classes, ``list`` is the method).
Endpoints = list[Mapping[str, Any]]
WAIT_TIMEOUT = 1200.0
POLL = 2.0


class EndpointsClient(_Base):
    """Create, read, update and delete serving endpoints from the endpoint config the model
    classes take; :meth:`apply` makes the live endpoint match a file.

    ``host`` / ``token`` default to ``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN``. Calls that
    change the served entities wait (``wait=True``) until the endpoint is ready, at most
    ``timeout`` seconds, with a status line on stderr when it is a terminal.
    """

    def _run(self, flow: Flow[R]) -> R:
        return run(self, flow)

    def close(self) -> None:
        """Close the HTTP client this object created."""
        self.transport.close()

    def __enter__(self) -> EndpointsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(
        self,
        source: BodySource,
        *,
        name: str | None = None,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
    ) -> Mapping[str, Any]:
        """Create the endpoint ``source`` describes (a create body, or a JSON / YAML file path),
        validated first; ``name`` overrides the body's. Returns the endpoint, once ready when
        ``wait``."""
        return self._run(self._create(source, name, _options(wait, timeout, poll_interval)))

    def get(self, name: str) -> Mapping[str, Any]:
        """The endpoint as the workspace describes it (``state``, ``config``, ``pending_config``
        ...); :class:`EndpointNotFoundError` when there is none."""
        return self._run(self._send("GET", name))

    def list(self) -> Endpoints:
        """Every serving endpoint of the workspace."""
        answer = self._run(self._send("GET"))
        return list(answer.get("endpoints") or [])

    def update_config(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
    ) -> Mapping[str, Any]:
        """Replace the served entities and traffic config (``PUT .../config``); returns the
        endpoint, once ready when ``wait``."""
        return self._run(self._update_config(name, config, _options(wait, timeout, poll_interval)))

    def put_ai_gateway(self, name: str, ai_gateway: Mapping[str, Any]) -> Mapping[str, Any]:
        """Set the AI Gateway (usage tracking, inference tables, guardrails, rate limits,
        fallbacks: ``PUT .../ai-gateway``); returns the settings as stored."""
        return self._run(self._ai_gateway(name, ai_gateway))

    def put_rate_limits(
        self, name: str, rate_limits: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """Set the endpoint's rate limits (``PUT .../rate-limits``)."""
        return self._run(self._rate_limits(name, rate_limits))

    def delete(self, name: str) -> None:
        """Delete the endpoint."""
        self._run(self._send("DELETE", name))

    def wait(
        self, name: str, *, timeout: float = WAIT_TIMEOUT, poll_interval: float = POLL
    ) -> Mapping[str, Any]:
        """Wait until the endpoint is ready: :class:`EndpointStateError` with its own state when
        its update fails, :class:`EndpointWaitTimeoutError` after ``timeout`` seconds."""
        return self._run(wait_flow(self.host, name, _options(True, timeout, poll_interval)))

    def apply(
        self,
        source: BodySource,
        *,
        name: str | None = None,
        dry_run: bool = False,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
        force: bool = False,
    ) -> ApplyResult:
        """Create or update the endpoint so it matches ``source``; nothing is sent when nothing
        differs, or with ``dry_run``. ``str(result)`` is the readable diff, secrets as ``***``;
        ``force`` sends the config even when it compares equal (``*_plaintext`` values cannot
        be compared: the workspace never returns them)."""
        return self._run(
            self._apply(source, name, _options(wait, timeout, poll_interval), dry_run, force)
        )

    def create_endpoint(
        self,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        route_optimized: bool | None = None,
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``create_endpoint``: ``config`` is the full create body, or (the older form)
        the core config with ``name`` apart."""
        return self._run(
            self._mlflow_create(name, config, route_optimized, _options(wait, timeout, POLL))
        )

    def update_endpoint(
        self,
        endpoint: str,
        config: Mapping[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint``: ``{"rate_limits": [...]}`` alone sets the rate limits,
        anything else is the core config."""
        return self._run(self._mlflow_update(endpoint, config or {}, _options(wait, timeout, POLL)))

    def update_endpoint_config(
        self,
        endpoint: str,
        config: Mapping[str, Any],
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_config``: replace the core config."""
        return self._run(self._update_config(endpoint, config, _options(wait, timeout, POLL)))

    def update_endpoint_rate_limits(
        self, endpoint: str, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_rate_limits``: ``config`` is ``{"rate_limits": [...]}``."""
        return self._run(self._rate_limits(endpoint, list(config.get("rate_limits") or [])))

    def update_endpoint_ai_gateway(
        self, endpoint: str, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_ai_gateway``."""
        return self._run(self._ai_gateway(endpoint, config))

    def update_endpoint_tags(self, endpoint: str, config: Mapping[str, Any]) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_tags``: ``{"add_tags": [...], "delete_tags": [...]}``."""
        return self._run(self._send("PATCH", endpoint, "/tags", dict(config)))

    def delete_endpoint(self, endpoint: str) -> None:
        """MLflow's ``delete_endpoint``."""
        self.delete(endpoint)

    def list_endpoints(self) -> Endpoints:
        """MLflow's ``list_endpoints``."""
        return self.list()

    def get_endpoint(self, endpoint: str) -> Mapping[str, Any]:
        """MLflow's ``get_endpoint``."""
        return self._run(self._send("GET", endpoint))


class AsyncEndpointsClient(_Base):
    """The async twin of :class:`EndpointsClient`: the same methods, awaited."""

    async def _arun(self, flow: Flow[R]) -> R:
        return await arun(self, flow)

    async def aclose(self) -> None:
        """Close the HTTP clients this object created."""
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncEndpointsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def create(
        self,
        source: BodySource,
        *,
        name: str | None = None,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
    ) -> Mapping[str, Any]:
        """Create the endpoint ``source`` describes (a create body, or a JSON / YAML file path),
        validated first; ``name`` overrides the body's. Returns the endpoint, once ready when
        ``wait``."""
        return await self._arun(self._create(source, name, _options(wait, timeout, poll_interval)))

    async def get(self, name: str) -> Mapping[str, Any]:
        """The endpoint as the workspace describes it (``state``, ``config``, ``pending_config``
        ...); :class:`EndpointNotFoundError` when there is none."""
        return await self._arun(self._send("GET", name))

    async def list(self) -> Endpoints:
        """Every serving endpoint of the workspace."""
        answer = await self._arun(self._send("GET"))
        return list(answer.get("endpoints") or [])

    async def update_config(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
    ) -> Mapping[str, Any]:
        """Replace the served entities and traffic config (``PUT .../config``); returns the
        endpoint, once ready when ``wait``."""
        return await self._arun(
            self._update_config(name, config, _options(wait, timeout, poll_interval))
        )

    async def put_ai_gateway(self, name: str, ai_gateway: Mapping[str, Any]) -> Mapping[str, Any]:
        """Set the AI Gateway (usage tracking, inference tables, guardrails, rate limits,
        fallbacks: ``PUT .../ai-gateway``); returns the settings as stored."""
        return await self._arun(self._ai_gateway(name, ai_gateway))

    async def put_rate_limits(
        self, name: str, rate_limits: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """Set the endpoint's rate limits (``PUT .../rate-limits``)."""
        return await self._arun(self._rate_limits(name, rate_limits))

    async def delete(self, name: str) -> None:
        """Delete the endpoint."""
        await self._arun(self._send("DELETE", name))

    async def wait(
        self, name: str, *, timeout: float = WAIT_TIMEOUT, poll_interval: float = POLL
    ) -> Mapping[str, Any]:
        """Wait until the endpoint is ready: :class:`EndpointStateError` with its own state when
        its update fails, :class:`EndpointWaitTimeoutError` after ``timeout`` seconds."""
        return await self._arun(wait_flow(self.host, name, _options(True, timeout, poll_interval)))

    async def apply(
        self,
        source: BodySource,
        *,
        name: str | None = None,
        dry_run: bool = False,
        wait: bool = True,
        timeout: float = WAIT_TIMEOUT,
        poll_interval: float = POLL,
        force: bool = False,
    ) -> ApplyResult:
        """Create or update the endpoint so it matches ``source``; nothing is sent when nothing
        differs, or with ``dry_run``. ``str(result)`` is the readable diff, secrets as ``***``;
        ``force`` sends the config even when it compares equal (``*_plaintext`` values cannot
        be compared: the workspace never returns them)."""
        return await self._arun(
            self._apply(source, name, _options(wait, timeout, poll_interval), dry_run, force)
        )

    async def create_endpoint(
        self,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        route_optimized: bool | None = None,
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``create_endpoint``: ``config`` is the full create body, or (the older form)
        the core config with ``name`` apart."""
        return await self._arun(
            self._mlflow_create(name, config, route_optimized, _options(wait, timeout, POLL))
        )

    async def update_endpoint(
        self,
        endpoint: str,
        config: Mapping[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint``: ``{"rate_limits": [...]}`` alone sets the rate limits,
        anything else is the core config."""
        return await self._arun(
            self._mlflow_update(endpoint, config or {}, _options(wait, timeout, POLL))
        )

    async def update_endpoint_config(
        self,
        endpoint: str,
        config: Mapping[str, Any],
        *,
        wait: bool = False,
        timeout: float = WAIT_TIMEOUT,
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_config``: replace the core config."""
        return await self._arun(
            self._update_config(endpoint, config, _options(wait, timeout, POLL))
        )

    async def update_endpoint_rate_limits(
        self, endpoint: str, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_rate_limits``: ``config`` is ``{"rate_limits": [...]}``."""
        return await self._arun(self._rate_limits(endpoint, list(config.get("rate_limits") or [])))

    async def update_endpoint_ai_gateway(
        self, endpoint: str, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_ai_gateway``."""
        return await self._arun(self._ai_gateway(endpoint, config))

    async def update_endpoint_tags(
        self, endpoint: str, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """MLflow's ``update_endpoint_tags``: ``{"add_tags": [...], "delete_tags": [...]}``."""
        return await self._arun(self._send("PATCH", endpoint, "/tags", dict(config)))

    async def delete_endpoint(self, endpoint: str) -> None:
        """MLflow's ``delete_endpoint``."""
        await self.delete(endpoint)

    async def list_endpoints(self) -> Endpoints:
        """MLflow's ``list_endpoints``."""
        return await self.list()

    async def get_endpoint(self, endpoint: str) -> Mapping[str, Any]:
        """MLflow's ``get_endpoint``."""
        return await self._arun(self._send("GET", endpoint))
