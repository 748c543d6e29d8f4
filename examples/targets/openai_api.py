"""OpenAI (or any OpenAI-compatible server) as an ``external_model``: chat and embeddings.

export OPENAI_API_KEY=sk-...
python examples/targets/openai_api.py      # OPENAI_CHAT_MODEL, OPENAI_EMBEDDINGS_MODEL
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

args = options(__doc__)
env = settings(
    {"OPENAI_API_KEY": "your OpenAI API key"},
    {"OPENAI_CHAT_MODEL": "gpt-4o-mini", "OPENAI_EMBEDDINGS_MODEL": "text-embedding-3-small"},
)
secrets = resolver({"openai": env["OPENAI_API_KEY"]})
config = {"openai_api_key": "{{secrets/demo/openai}}"}
if args.api_base:
    config["openai_api_base"] = args.api_base

chat = ChatExternal(
    max_tokens=100,
    secret_resolver=secrets,
    external_model={
        "name": env["OPENAI_CHAT_MODEL"],
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": config,
    },
)
embeddings = ExternalEmbeddings(
    secret_resolver=secrets,
    external_model={
        "name": env["OPENAI_EMBEDDINGS_MODEL"],
        "provider": "openai",
        "task": "llm/v1/embeddings",
        "openai_config": config,
    },
)
run(chat, embeddings)
