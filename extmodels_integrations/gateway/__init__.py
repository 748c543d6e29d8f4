"""The self-hosted gateway: endpoint configs served over the workspace HTTP API."""
