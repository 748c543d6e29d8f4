"""A serving endpoint in another workspace as an ``external_model``
(``databricks-model-serving`` provider): the block you would put in this workspace's endpoint.

    export OTHER_WORKSPACE_URL=https://<other-workspace> OTHER_WORKSPACE_TOKEN=dapi...
    export OTHER_CHAT_ENDPOINT=<chat endpoint there>
    python examples/targets/databricks_model_serving.py   # OTHER_EMBEDDINGS_ENDPOINT
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {
        "OTHER_WORKSPACE_URL": "the workspace URL that serves the endpoint",
        "OTHER_WORKSPACE_TOKEN": "a token of that workspace",
        "OTHER_CHAT_ENDPOINT": "the name of a chat endpoint there",
    },
    {"OTHER_EMBEDDINGS_ENDPOINT": ""},
)
secrets = resolver({"other_ws": env["OTHER_WORKSPACE_TOKEN"]})


def block(endpoint: str, task: str) -> dict[str, object]:
    return {
        "name": endpoint,
        "provider": "databricks-model-serving",
        "task": task,
        "databricks_model_serving_config": {
            "databricks_workspace_url": args.api_base or env["OTHER_WORKSPACE_URL"],
            "databricks_api_token": "{{secrets/demo/other_ws}}",
        },
    }


chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model=block(env["OTHER_CHAT_ENDPOINT"], "llm/v1/chat"),
)
embeddings_endpoint = env["OTHER_EMBEDDINGS_ENDPOINT"]
embeddings = (
    ExternalEmbeddings(
        secret_resolver=secrets, external_model=block(embeddings_endpoint, "llm/v1/embeddings")
    )
    if embeddings_endpoint
    else None
)
run(chat, embeddings)
