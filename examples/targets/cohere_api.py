"""Cohere (v2 chat and embed) as an ``external_model``.

export COHERE_API_KEY=...
python examples/targets/cohere_api.py      # COHERE_CHAT_MODEL, COHERE_EMBEDDINGS_MODEL
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {"COHERE_API_KEY": "your Cohere API key"},
    {"COHERE_CHAT_MODEL": "command-r-08-2024", "COHERE_EMBEDDINGS_MODEL": "embed-english-v3.0"},
)
secrets = resolver({"cohere": env["COHERE_API_KEY"]})
config = {"cohere_api_key": "{{secrets/demo/cohere}}"}
if args.api_base:
    config["cohere_api_base"] = args.api_base

chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model={
        "name": env["COHERE_CHAT_MODEL"],
        "provider": "cohere",
        "task": "llm/v1/chat",
        "cohere_config": config,
    },
)
embeddings = ExternalEmbeddings(
    secret_resolver=secrets,
    external_model={
        "name": env["COHERE_EMBEDDINGS_MODEL"],
        "provider": "cohere",
        "task": "llm/v1/embeddings",
        "cohere_config": config,
    },
)
run(chat, embeddings)
