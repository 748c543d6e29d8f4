"""``extmodels serve``: a self-hosted gateway that serves endpoint configs over the workspace's
HTTP API (invocations, the OpenAI-compatible routes, the serving-endpoints API), with provider
keys held only here, gateway tokens for clients, and the AI Gateway settings honoured.

Needs the ``gateway`` extra (Starlette, uvicorn). Start it with ``extmodels serve CONFIG...`` or
``python -m extmodels_integrations.gateway CONFIG...``; build the ASGI app in code with
:func:`extmodels_integrations.gateway._app.create_app`.
"""
