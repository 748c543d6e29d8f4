"""Serving endpoints from the same config the model classes take: create, read, update,
delete, and ``apply`` (create or update so the live endpoint matches the file, printing what
changes). Framework-free; httpx only. Sits above the core: it uses the config validator and
the transport, never a provider's internals.

    from extmodels_integrations.endpoints import EndpointsClient

    client = EndpointsClient()  # DATABRICKS_HOST / DATABRICKS_TOKEN
    print(client.apply("endpoint.yaml"))
"""

from __future__ import annotations

from extmodels_integrations._exceptions import (
    ConflictError,
    EndpointAlreadyExistsError,
    EndpointNotFoundError,
    EndpointStateError,
    EndpointWaitTimeoutError,
)
from extmodels_integrations.endpoints._api import AsyncEndpointsClient, EndpointsClient
from extmodels_integrations.endpoints._body import redacted
from extmodels_integrations.endpoints._flows import ApplyResult
from extmodels_integrations.endpoints._plan import Plan

__all__ = [
    "ApplyResult",
    "AsyncEndpointsClient",
    "ConflictError",
    "EndpointAlreadyExistsError",
    "EndpointNotFoundError",
    "EndpointStateError",
    "EndpointWaitTimeoutError",
    "EndpointsClient",
    "Plan",
    "redacted",
]
