"""Azure OpenAI with an API key, as an ``external_model`` (the deployment picks the model).
For Microsoft Entra ID client credentials instead of a key, see examples/azure_openai_chat.json.

    export AZURE_OPENAI_API_KEY=... AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com
    export AZURE_OPENAI_DEPLOYMENT=<chat deployment>
    python examples/targets/azure_openai.py   # AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT, _API_VERSION
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {
        "AZURE_OPENAI_API_KEY": "your Azure OpenAI resource key",
        "AZURE_OPENAI_ENDPOINT": "https://<resource>.openai.azure.com",
        "AZURE_OPENAI_DEPLOYMENT": "the name of a chat model deployment",
    },
    {"AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT": "", "AZURE_OPENAI_API_VERSION": "2024-10-21"},
)
secrets = resolver({"azure": env["AZURE_OPENAI_API_KEY"]})


def block(deployment: str, task: str) -> dict[str, object]:
    return {
        "name": deployment,
        "provider": "openai",
        "task": task,
        "openai_config": {
            "openai_api_type": "azure",
            "openai_api_key": "{{secrets/demo/azure}}",
            "openai_api_base": args.api_base or env["AZURE_OPENAI_ENDPOINT"],
            "openai_api_version": env["AZURE_OPENAI_API_VERSION"],
            "openai_deployment_name": deployment,
        },
    }


chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model=block(env["AZURE_OPENAI_DEPLOYMENT"], "llm/v1/chat"),
)
embeddings_deployment = env["AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT"]
embeddings = (
    ExternalEmbeddings(
        secret_resolver=secrets, external_model=block(embeddings_deployment, "llm/v1/embeddings")
    )
    if embeddings_deployment
    else None
)
run(chat, embeddings)
