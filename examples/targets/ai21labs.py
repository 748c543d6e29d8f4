"""AI21 Labs (Jamba chat) as an ``external_model``. AI21 has no embeddings API.

export AI21_API_KEY=...
python examples/targets/ai21labs.py      # AI21_MODEL
"""

from __future__ import annotations

from _common import options, resolver, run, settings

from extmodels_integrations.langchain import ChatExternal

args = options(__doc__)
env = settings({"AI21_API_KEY": "your AI21 Studio API key"}, {"AI21_MODEL": "jamba-mini"})
config = {"ai21labs_api_key": "{{secrets/demo/ai21}}"}
if args.api_base:
    config["ai21labs_api_base"] = args.api_base

chat = ChatExternal(
    max_tokens=100,
    secret_resolver=resolver({"ai21": env["AI21_API_KEY"]}),
    external_model={
        "name": env["AI21_MODEL"],
        "provider": "ai21labs",
        "task": "llm/v1/chat",
        "ai21labs_config": config,
    },
)
run(chat)
