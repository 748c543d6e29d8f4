"""A serving endpoint by name (``endpoint=``): ``POST {host}/serving-endpoints/{name}/invocations``
with the unified chat / embeddings schema; host and token come from ``DATABRICKS_HOST`` and
``DATABRICKS_TOKEN``, as the classes read them.

    export DATABRICKS_HOST=https://<workspace> DATABRICKS_TOKEN=dapi...
    export EXTMODELS_ENDPOINT=<chat endpoint>
    python examples/targets/serving_endpoint.py   # EXTMODELS_EMBEDDINGS_ENDPOINT
"""

from __future__ import annotations

from _common import options, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {
        "DATABRICKS_HOST": "the workspace URL",
        "DATABRICKS_TOKEN": "a token of that workspace",
        "EXTMODELS_ENDPOINT": "the name of a chat endpoint",
    },
    {"EXTMODELS_EMBEDDINGS_ENDPOINT": ""},
)
host = args.api_base or env["DATABRICKS_HOST"]

chat = ChatExternal(endpoint=env["EXTMODELS_ENDPOINT"], host=host, max_tokens=100)
embeddings_endpoint = env["EXTMODELS_EMBEDDINGS_ENDPOINT"]
embeddings = (
    ExternalEmbeddings(endpoint=embeddings_endpoint, host=host) if embeddings_endpoint else None
)
run(chat, embeddings)
